/*-------------------------------------------------------------------------
 *
 * check.h
 *		"walcast check": what check.c (the command: options, connections,
 *		output, --fix) and check_items.c (the catalogue of checks) share.
 *
 * A check is a function that looks at the server through the context's
 * connections and adds one or more results: a status, what it observed,
 * and the fix worded for the platform, as lines for people and as SQL
 * statements.  A statement marked auto_apply is plain SQL that the
 * connected role may run; only those are run, and only with --fix.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_CHECK_H
#define WALCAST_CHECK_H

#include <stdbool.h>

#include <libpq-fe.h>

/* exit codes of "walcast check"; 1 and 2 keep their meaning (common.h) */
#define CHECK_EXIT_WARNINGS	4		/* some checks warn, none fails */
#define CHECK_EXIT_FAILURES	5		/* at least one check fails */

typedef enum CheckStatus
{
	CHECK_PASS,
	CHECK_WARN,
	CHECK_FAIL,
	CHECK_SKIP					/* could not be checked: says why */
} CheckStatus;

/* the outcome of the plugin check's temporary slot */
typedef enum CheckProbe
{
	PROBE_NOT_RUN,
	PROBE_OK,					/* created and dropped */
	PROBE_NOT_LISTED,			/* not in output_plugin_libraries */
	PROBE_FAILED				/* any other error */
} CheckProbe;

typedef enum CheckPlatform
{
	PLATFORM_SELF_HOSTED,
	PLATFORM_RDS,
	PLATFORM_AURORA
} CheckPlatform;

/* one SQL statement of a fix */
typedef struct CheckFixSql
{
	char	   *database;		/* where it runs */
	char	   *run_as;			/* who may run it, for people */
	char	   *sql;			/* the statement, ending in ";" */
	bool		auto_apply;		/* --fix may run it as the connected role */
	struct CheckFixSql *next;
} CheckFixSql;

/* one line of the report */
typedef struct CheckResult
{
	const char *name;			/* the check's name, e.g. "wal_level" */
	char	   *database;		/* the database it is about, or NULL */
	CheckStatus status;
	char	   *observed;		/* what the server said */
	char	  **fix;			/* lines for people, NULL-terminated */
	int			nfix;
	CheckFixSql *sql;			/* the statements, in order */
	bool		restart;		/* the fix needs a server restart */
	struct CheckResult *next;
} CheckResult;

typedef struct CheckContext
{
	/* options */
	const char *conninfo;		/* -d, or NULL for PG* variables */
	const char *slot;			/* --slot, or NULL */
	const char *publication;	/* --publication, or NULL */
	const char *plugin;			/* --plugin: walcast or pgoutput */
	bool		all_databases;	/* --all-databases */

	/* connections */
	PGconn	   *conn;			/* to the named database */
	PGconn	   *repl;			/* replication=database, or NULL */

	/* what the first checks learned, for the later ones */
	int			version_num;	/* server_version_num */
	char	   *version;		/* server_version */
	char	   *user;			/* current_user */
	char	   *user_ident;		/* current_user, quoted for SQL */
	char	   *dbname;			/* current_database() */
	char	   *db_ident;		/* current_database(), quoted for SQL */
	CheckPlatform platform;
	bool		standby;		/* pg_is_in_recovery() */
	bool		superuser;		/* rolsuper */
	bool		replication;	/* rolreplication, rolsuper or rds_replication */
	bool		rds_superuser;	/* member of rds_superuser */
	bool		wal_logical;	/* wal_level = logical now */
	bool		repl_ok;		/* IDENTIFY_SYSTEM worked */
	CheckProbe	probe;			/* what the temporary slot showed */
	char	   *slot_plugin;	/* --slot's plugin, NULL when absent */

	/* the report */
	CheckResult *head;
	CheckResult *tail;
} CheckContext;

typedef void (*CheckFunc) (CheckContext *ctx);

/* check_items.c: the checks, in the order they run */
extern const CheckFunc check_catalogue[];

/* check.c: adding results */
extern CheckResult *check_add(CheckContext *ctx, const char *name,
							  CheckStatus status, const char *fmt,...)
			__attribute__((format(printf, 4, 5)));
extern void check_fix(CheckResult *r, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void check_fix_sql(CheckResult *r, const char *database,
						  const char *run_as, bool auto_apply,
						  const char *fmt,...)
			__attribute__((format(printf, 5, 6)));

/* check.c: queries; NULL on error, with the message in *error */
extern PGresult *check_query(PGconn *conn, char **error, const char *sql,
							 int nparams, const char *const *params);
extern PGconn *check_connect(CheckContext *ctx, const char *dbname,
							 bool replication);
extern const char *check_platform_name(CheckPlatform platform);

#endif							/* WALCAST_CHECK_H */
