/*-------------------------------------------------------------------------
 *
 * check_items.c
 *		The catalogue of "walcast check": one function per check, in the
 *		order they run and print.
 *
 * Each function reads the server through ctx->conn (and ctx->repl, the
 * replication connection) and adds its result with check_add(), then the
 * fix with check_fix() (a line for people) and check_fix_sql() (a
 * statement, marked auto_apply when it is plain SQL the connected role may
 * run, so that --fix runs it).  Fixes are worded for the platform: SQL on
 * a self-hosted server, the parameter group and a reboot on RDS/Aurora.
 * Identifiers and literals in statements are quoted by the server
 * (quote_ident, format('%I')) or by libpq.
 *
 * The first checks record what later ones need in the context (version,
 * role attributes, wal_level, whether the replication connection works);
 * a check whose precondition failed says "skip" and why.
 *
 *-------------------------------------------------------------------------
 */
#include "check.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

/* how long the plugin probe may wait for running transactions */
#define PROBE_TIMEOUT_USEC	(30 * INT64_C(1000000))

/* transactions open longer than this are reported */
#define LONG_XACT_SQL_INTERVAL "5 minutes"

/* how many names an observed value lists (unchanged_toast: LIMIT 10) */
#define MAX_LISTED 10

static bool
is_rds(const CheckContext *ctx)
{
	return ctx->platform != PLATFORM_SELF_HOSTED;
}

/* who runs a fix that needs full privileges */
static const char *
admin(const CheckContext *ctx)
{
	return is_rds(ctx) ? "the master user" : "a superuser";
}

/* ALTER SYSTEM works on a self-hosted server, for a superuser */
static bool
can_alter_system(const CheckContext *ctx)
{
	return !is_rds(ctx) && ctx->superuser;
}

static const char *
restart_words(const CheckContext *ctx)
{
	if (ctx->platform == PLATFORM_AURORA)
		return "reboot the writer instance";
	if (ctx->platform == PLATFORM_RDS)
		return "reboot the instance";
	return "restart the server (pg_ctl restart, or systemctl restart postgresql)";
}

static const char *
parameter_group(const CheckContext *ctx)
{
	return ctx->platform == PLATFORM_AURORA ?
		"the DB cluster parameter group" : "the DB parameter group";
}

/* a string quoted as an SQL literal or identifier; the caller frees it */
static char *
quoted(CheckContext *ctx, const char *s, bool as_identifier)
{
	char	   *q = as_identifier ?
		PQescapeIdentifier(ctx->conn, s, strlen(s)) :
		PQescapeLiteral(ctx->conn, s, strlen(s));
	char	   *copy;

	if (q == NULL)
		return wc_strdup(as_identifier ? "\"\"" : "''");
	copy = wc_strdup(q);
	PQfreemem(q);
	return copy;
}

#define literal(ctx, s) quoted((ctx), (s), false)
#define identifier(ctx, s) quoted((ctx), (s), true)

/* a libpq message on one line, without its trailing newline */
static char *
one_line(const char *message)
{
	char	   *s = wc_strdup(message);
	size_t		len = strlen(s);
	char	   *p;

	while (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	for (p = s; *p; p++)
		if (*p == '\n')
			*p = ' ';
	return s;
}

/*
 * Run a query for a check; on error, add a failed result that says so and
 * return NULL.
 */
static PGresult *
query(CheckContext *ctx, const char *name, const char *sql,
	  int nparams, const char *const *params)
{
	char	   *error;
	PGresult   *res = check_query(ctx->conn, &error, sql, nparams, params);

	if (res == NULL)
	{
		check_add(ctx, name, CHECK_FAIL, "could not check: %s", error);
		free(error);
	}
	return res;
}

static bool
bool_value(const PGresult *res, int row, int col)
{
	return strcmp(PQgetvalue(res, row, col), "t") == 0;
}

static long long
int_value(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* a value, or NULL for SQL NULL */
static const char *
value_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/*
 * The values of one column, joined by ", ", at most max of them and then
 * "..."; the caller frees the string.
 */
static char *
join_values(const PGresult *res, int col, int max)
{
	char	   *list = wc_strdup("");
	int			i;

	for (i = 0; i < PQntuples(res); i++)
	{
		char	   *next = i < max ?
			wc_psprintf("%s%s%s", list, i ? ", " : "", PQgetvalue(res, i, col)) :
			wc_psprintf("%s, ...", list);

		free(list);
		list = next;
		if (i >= max)
			break;
	}
	return list;
}

/*
 * connection: connect to the named database and learn who and where we
 * are.  Without it, nothing else runs.
 */
static void
check_connection(CheckContext *ctx)
{
	PGconn	   *conn = check_connect(ctx, NULL, false);
	PGresult   *res;
	CheckResult *r;
	char	   *error;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = one_line(PQerrorMessage(conn));

		r = check_add(ctx, "connection", CHECK_FAIL, "%s", msg);
		if (strstr(msg, "no pg_hba.conf entry"))
			check_fix(r, "allow this client, user and database in pg_hba.conf (e.g. \"hostssl DATABASE USER CLIENT-ADDRESS/32 scram-sha-256\"), then SELECT pg_reload_conf(); on RDS/Aurora, allow the client in the instance's security group");
		else if (strstr(msg, "password authentication failed") ||
				 strstr(msg, "no password supplied"))
			check_fix(r, "give the right user and password: a ~/.pgpass line (or PGPASSFILE), or password= in the connection string");
		else if (strstr(msg, "does not exist"))
			check_fix(r, "name an existing database and role in the connection string (dbname=, user=)");
		else if (strstr(msg, "too many clients") ||
				 strstr(msg, "remaining connection slots"))
			check_fix(r, "close idle sessions, or raise max_connections (a restart)");
		else
			check_fix(r, "check host and port, that the server listens there (listen_addresses), and that no firewall or security group blocks the client");
		free(msg);
		PQfinish(conn);
		return;
	}
	ctx->conn = conn;

	res = check_query(conn, &error,
					  "SELECT current_setting('server_version'),"
					  " current_setting('server_version_num')::int,"
					  " current_user, quote_ident(current_user),"
					  " current_database(), quote_ident(current_database()),"
					  " pg_is_in_recovery(),"
					  " current_setting('rds.logical_replication', true),"
					  " to_regproc('aurora_version') IS NOT NULL,"
					  " r.rolsuper, r.rolreplication,"
					  " EXISTS (SELECT 1 FROM pg_roles x"
					  "  WHERE x.rolname = 'rds_replication'"
					  "  AND pg_has_role(current_user, x.oid, 'MEMBER')),"
					  " EXISTS (SELECT 1 FROM pg_roles x"
					  "  WHERE x.rolname = 'rds_superuser'"
					  "  AND pg_has_role(current_user, x.oid, 'MEMBER'))"
					  " FROM pg_roles r WHERE r.rolname = current_user",
					  0, NULL);
	if (res == NULL || PQntuples(res) != 1)
	{
		check_add(ctx, "connection", CHECK_FAIL,
				  "connected, but could not read the server's settings: %s",
				  error ? error : "no row for the current role");
		free(error);
		PQclear(res);
		PQfinish(conn);
		ctx->conn = NULL;
		return;
	}
	ctx->version = wc_strdup(PQgetvalue(res, 0, 0));
	ctx->version_num = (int) int_value(res, 0, 1);
	ctx->user = wc_strdup(PQgetvalue(res, 0, 2));
	ctx->user_ident = wc_strdup(PQgetvalue(res, 0, 3));
	ctx->dbname = wc_strdup(PQgetvalue(res, 0, 4));
	ctx->db_ident = wc_strdup(PQgetvalue(res, 0, 5));
	ctx->standby = bool_value(res, 0, 6);
	if (bool_value(res, 0, 8))
		ctx->platform = PLATFORM_AURORA;
	else if (!PQgetisnull(res, 0, 7))
		ctx->platform = PLATFORM_RDS;
	else
		ctx->platform = PLATFORM_SELF_HOSTED;
	ctx->superuser = bool_value(res, 0, 9);
	ctx->replication = ctx->superuser || bool_value(res, 0, 10) ||
		bool_value(res, 0, 11);
	ctx->rds_superuser = bool_value(res, 0, 12);
	PQclear(res);

	/* no check may hang on a lock or a slow query */
	PQclear(check_query(conn, &error, "SET statement_timeout = '60s'", 0, NULL));
	free(error);

	check_add(ctx, "connection", CHECK_PASS,
			  "connected to %s port %s as \"%s\", database \"%s\"",
			  PQhost(conn), PQport(conn), ctx->user, ctx->dbname);
}

/* platform: self-hosted, RDS or Aurora, primary or standby */
static void
check_platform(CheckContext *ctx)
{
	CheckResult *r;
	char	   *error;
	PGresult   *res;

	if (!ctx->standby)
	{
		check_add(ctx, "platform", CHECK_PASS, "%s, primary",
				  check_platform_name(ctx->platform));
		return;
	}
	if (ctx->platform == PLATFORM_AURORA)
	{
		r = check_add(ctx, "platform", CHECK_FAIL,
					  "Aurora reader instance: logical replication needs the writer");
		check_fix(r, "connect to the cluster (writer) endpoint, not a reader or instance endpoint");
		return;
	}
	if (ctx->version_num < 160000)
	{
		r = check_add(ctx, "platform", CHECK_FAIL,
					  "%s standby: logical decoding on a standby needs PostgreSQL 16",
					  check_platform_name(ctx->platform));
		check_fix(r, "connect to the primary");
		return;
	}
	res = check_query(ctx->conn, &error,
					  "SELECT current_setting('hot_standby_feedback')::bool", 0, NULL);
	if (res == NULL)
	{
		check_add(ctx, "platform", CHECK_FAIL, "could not check: %s", error);
		free(error);
		return;
	}
	if (bool_value(res, 0, 0))
		check_add(ctx, "platform", CHECK_PASS,
				  "%s standby with hot_standby_feedback on",
				  check_platform_name(ctx->platform));
	else
	{
		r = check_add(ctx, "platform", CHECK_FAIL,
					  "%s standby with hot_standby_feedback off: its slots are invalidated when the primary removes catalog rows they need",
					  check_platform_name(ctx->platform));
		if (is_rds(ctx))
			check_fix(r, "set hot_standby_feedback = 1 in %s", parameter_group(ctx));
		else
		{
			check_fix(r, "as a superuser on the standby:");
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "ALTER SYSTEM SET hot_standby_feedback = on;");
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "SELECT pg_reload_conf();");
		}
	}
	PQclear(res);
}

static bool
is_loopback(const char *host)
{
	return host == NULL || host[0] == '/' || host[0] == '\0' ||
		strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
		strcmp(host, "::1") == 0;
}

/* tls: in use, and the server's certificate verified */
static void
check_tls(CheckContext *ctx)
{
	const char *host = PQhost(ctx->conn);
	const char *sslmode = NULL;
	PQconninfoOption *opts = PQconninfo(ctx->conn);
	PQconninfoOption *o;
	CheckResult *r;

	for (o = opts; o && o->keyword; o++)
		if (strcmp(o->keyword, "sslmode") == 0 && o->val)
			sslmode = o->val;

	if (PQsslInUse(ctx->conn))
	{
		const char *protocol = PQsslAttribute(ctx->conn, "protocol");
		const char *cipher = PQsslAttribute(ctx->conn, "cipher");

		if (sslmode && strcmp(sslmode, "verify-full") == 0)
			check_add(ctx, "tls", CHECK_PASS, "%s, %s, server certificate verified",
					  protocol ? protocol : "?", cipher ? cipher : "?");
		else
		{
			r = check_add(ctx, "tls", CHECK_WARN,
						  "%s, but sslmode=%s does not verify the server's certificate",
						  protocol ? protocol : "?", sslmode ? sslmode : "prefer");
			if (is_rds(ctx))
				check_fix(r, "add sslmode=verify-full sslrootcert=global-bundle.pem (the AWS RDS CA bundle) to the connection string");
			else
				check_fix(r, "add sslmode=verify-full sslrootcert=CA-FILE (the CA that signed the server's certificate) to the connection string");
		}
	}
	else if (host && host[0] == '/')
		check_add(ctx, "tls", CHECK_PASS, "not in use: Unix-domain socket");
	else if (is_loopback(host))
		check_add(ctx, "tls", CHECK_PASS, "not in use: loopback connection to %s", host);
	else
	{
		r = check_add(ctx, "tls", CHECK_WARN,
					  "not in use: the password and every change cross the network in clear");
		if (is_rds(ctx))
			check_fix(r, "connect with sslmode=verify-full sslrootcert=global-bundle.pem (the AWS RDS CA bundle); to refuse plain connections, set rds.force_ssl = 1 in %s", parameter_group(ctx));
		else
			check_fix(r, "on the server: ssl = on with a certificate, and hostssl lines in pg_hba.conf; in the connection string: sslmode=verify-full sslrootcert=CA-FILE");
	}
	PQconninfoFree(opts);
}

/* server_version: what this version can do */
static void
check_server_version(CheckContext *ctx)
{
	int			v = ctx->version_num;
	CheckResult *r;

	if (strcmp(ctx->plugin, "walcast") == 0 && v < 150000)
	{
		r = check_add(ctx, "server_version", CHECK_FAIL,
					  "%s: the walcast plugin needs PostgreSQL 15 or later", ctx->version);
		check_fix(r, "upgrade the server to PostgreSQL 15 or later, or run the relay in pgoutput mode (walcast check --plugin pgoutput)");
		return;
	}
	if (v < 100000)
	{
		r = check_add(ctx, "server_version", CHECK_FAIL,
					  "%s: pgoutput and publications need PostgreSQL 10 or later", ctx->version);
		check_fix(r, "upgrade the server");
		return;
	}
	check_add(ctx, "server_version", CHECK_PASS, "%s:%s%s%s%s", ctx->version,
			  v >= 140000 ? " large transactions stream while in progress;" : " large transactions are sent only at commit (14 streams them);",
			  v >= 150000 ? " two-phase decoding, row filters and column lists;" : "",
			  v >= 160000 ? " decoding on a standby;" : " decoding on a standby needs 16;",
			  v >= 170000 ? " failover slots" : " failover slots need 17");
}

/* wal_level: logical, now */
static void
check_wal_level(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *level;
	bool		pending;
	char	   *rds_param = NULL;

	res = query(ctx, "wal_level",
				"SELECT setting, pending_restart,"
				" current_setting('rds.logical_replication', true)"
				" FROM pg_settings WHERE name = 'wal_level'", 0, NULL);
	if (res == NULL)
		return;
	level = PQgetvalue(res, 0, 0);
	pending = bool_value(res, 0, 1);
	if (!PQgetisnull(res, 0, 2))
		rds_param = PQgetvalue(res, 0, 2);
	ctx->wal_logical = strcmp(level, "logical") == 0;

	if (ctx->wal_logical)
		check_add(ctx, "wal_level", CHECK_PASS, "logical");
	else if (pending ||
			 (is_rds(ctx) && rds_param &&
			  (strcmp(rds_param, "on") == 0 || strcmp(rds_param, "1") == 0)))
	{
		r = check_add(ctx, "wal_level", CHECK_FAIL,
					  "%s: a new value waits for a restart%s%s", level,
					  rds_param ? ", rds.logical_replication = " : "",
					  rds_param ? rds_param : "");
		r->restart = true;
		check_fix(r, "%s", restart_words(ctx));
	}
	else if (is_rds(ctx))
	{
		r = check_add(ctx, "wal_level", CHECK_FAIL,
					  "%s (rds.logical_replication = %s): logical decoding needs logical",
					  level, rds_param ? rds_param : "off");
		r->restart = true;
		check_fix(r, "in %s set rds.logical_replication = 1, then %s (SQL cannot change it)",
				  parameter_group(ctx), restart_words(ctx));
	}
	else
	{
		r = check_add(ctx, "wal_level", CHECK_FAIL,
					  "%s: logical decoding needs logical", level);
		r->restart = true;
		check_fix(r, "as a superuser, then %s:", restart_words(ctx));
		check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
					  "ALTER SYSTEM SET wal_level = logical;");
		check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
					  "SELECT pg_reload_conf();");
	}
	PQclear(res);
}

/* pending_restart: settings changed in the files that wait for a restart */
static void
check_pending_restart(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;

	res = query(ctx, "pending_restart",
				"SELECT string_agg(name, ', ' ORDER BY name)"
				" FROM pg_settings WHERE pending_restart", 0, NULL);
	if (res == NULL)
		return;
	if (PQgetisnull(res, 0, 0))
		check_add(ctx, "pending_restart", CHECK_PASS, "none");
	else
	{
		r = check_add(ctx, "pending_restart", CHECK_WARN,
					  "changed settings wait for a restart: %s",
					  PQgetvalue(res, 0, 0));
		r->restart = true;
		check_fix(r, "%s", restart_words(ctx));
	}
	PQclear(res);
}

/* replication_role: REPLICATION, superuser, or rds_replication */
static void
check_replication_role(CheckContext *ctx)
{
	CheckResult *r;

	if (ctx->superuser)
		check_add(ctx, "replication_role", CHECK_PASS,
				  "role \"%s\" is a superuser", ctx->user);
	else if (ctx->replication)
		check_add(ctx, "replication_role", CHECK_PASS, "role \"%s\" has %s",
				  ctx->user, is_rds(ctx) ? "rds_replication (or REPLICATION)" : "REPLICATION");
	else if (is_rds(ctx))
	{
		r = check_add(ctx, "replication_role", CHECK_FAIL,
					  "role \"%s\" is not a member of rds_replication", ctx->user);
		check_fix(r, "as the master user:");
		check_fix_sql(r, ctx->dbname, "the master user", false,
					  "GRANT rds_replication TO %s;", ctx->user_ident);
	}
	else
	{
		r = check_add(ctx, "replication_role", CHECK_FAIL,
					  "role \"%s\" has neither REPLICATION nor superuser", ctx->user);
		check_fix(r, "as a superuser:");
		check_fix_sql(r, ctx->dbname, "a superuser", false,
					  "ALTER ROLE %s REPLICATION;", ctx->user_ident);
	}
}

/* replication_connection: replication=database and IDENTIFY_SYSTEM */
static void
check_replication_connection(CheckContext *ctx)
{
	PGconn	   *repl = check_connect(ctx, NULL, true);
	PGresult   *res;
	CheckResult *r;

	if (PQstatus(repl) != CONNECTION_OK)
	{
		char	   *msg = one_line(PQerrorMessage(repl));

		r = check_add(ctx, "replication_connection", CHECK_FAIL, "%s", msg);
		if (strstr(msg, "superuser or replication role"))
			check_fix(r, "give the role replication rights (see replication_role)");
		else if (strstr(msg, "max_wal_senders") || strstr(msg, "too many"))
			check_fix(r, "free a WAL sender or raise max_wal_senders (see slot_capacity)");
		else if (is_rds(ctx))
			check_fix(r, "allow the client in the instance's security group, and grant rds_replication to the role");
		else
			check_fix(r, "add a pg_hba.conf line for this client, user and database (for replication=database the database field is the database name; the keyword replication matches physical replication only), then SELECT pg_reload_conf();");
		free(msg);
		PQfinish(repl);
		return;
	}
	ctx->repl = repl;
	res = PQexec(repl, "IDENTIFY_SYSTEM");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
		PQnfields(res) < 4)
	{
		char	   *msg = one_line(PQerrorMessage(repl));

		check_add(ctx, "replication_connection", CHECK_FAIL,
				  "IDENTIFY_SYSTEM failed: %s", msg);
		free(msg);
	}
	else if (PQgetisnull(res, 0, 3))
	{
		r = check_add(ctx, "replication_connection", CHECK_FAIL,
					  "connected for physical replication only: no database");
		check_fix(r, "connect with replication=database (walcast does so; a connection service or PGOPTIONS may override it)");
	}
	else
	{
		check_add(ctx, "replication_connection", CHECK_PASS,
				  "IDENTIFY_SYSTEM: system %s, timeline %s, database \"%s\", WAL at %s",
				  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
				  PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 2));
		ctx->repl_ok = true;
	}
	PQclear(res);
}

/*
 * Split a list setting as the server does (SplitDirectoriesString): names
 * separated by commas, each perhaps in double quotes.  Returns the number
 * of names; each is a new string in names[].
 */
static int
split_list(const char *list, char ***names)
{
	const char *p = list;
	int			n = 0;

	*names = NULL;
	for (;;)
	{
		char	   *name = wc_malloc(strlen(list) + 1);
		size_t		len = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0')
		{
			free(name);
			break;
		}
		if (*p == '"')
		{
			for (p++; *p; p++)
			{
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
				{
					p++;
					break;
				}
				name[len++] = *p;
			}
		}
		else
		{
			while (*p && *p != ',')
				name[len++] = *p++;
			while (len > 0 && (name[len - 1] == ' ' || name[len - 1] == '\t'))
				len--;
		}
		name[len] = '\0';
		*names = wc_realloc(*names, sizeof(char *) * (n + 1));
		(*names)[n++] = name;
		while (*p && *p != ',')
			p++;
		if (*p == ',')
			p++;
	}
	return n;
}

/* output_plugin_libraries (15.19 and later): lists the plugin */
static void
check_output_plugin_libraries(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *list;
	char	   *newlist;
	char	   *error;
	char	  **names;
	int			nnames;
	int			i;
	bool		found = false;

	/* NULL when the server has no such setting, an error when hidden */
	res = check_query(ctx->conn, &error,
					  "SELECT current_setting('output_plugin_libraries', true)",
					  0, NULL);
	if (res == NULL)
	{
		/* the plugin check, before this one, tried the list */
		if (ctx->probe == PROBE_OK)
			check_add(ctx, "output_plugin_libraries", CHECK_PASS,
					  "hidden from role \"%s\", but it allows %s: the temporary slot was created",
					  ctx->user, ctx->plugin);
		else if (ctx->probe == PROBE_NOT_LISTED)
			check_add(ctx, "output_plugin_libraries", CHECK_FAIL,
					  "hidden from role \"%s\", and it does not list %s (see plugin)",
					  ctx->user, ctx->plugin);
		else
			check_add(ctx, "output_plugin_libraries", CHECK_SKIP,
					  "role \"%s\" may not read it: %s", ctx->user, error);
		free(error);
		return;
	}
	if (PQgetisnull(res, 0, 0))
	{
		check_add(ctx, "output_plugin_libraries", CHECK_PASS,
				  "not a setting of this server: any installed plugin may be used");
		PQclear(res);
		return;
	}
	list = PQgetvalue(res, 0, 0);
	nnames = split_list(list, &names);
	for (i = 0; i < nnames; i++)
		if (strcmp(names[i], ctx->plugin) == 0)
			found = true;
	if (found)
		check_add(ctx, "output_plugin_libraries", CHECK_PASS, "%s", list);
	else
	{
		/* the check applies to superusers too */
		r = check_add(ctx, "output_plugin_libraries", CHECK_FAIL,
					  "'%s' does not list %s: no slot may use it", list,
					  ctx->plugin);
		if (is_rds(ctx))
			check_fix(r, "custom output plugins cannot be installed on RDS or Aurora: run the relay in pgoutput mode (walcast check --plugin pgoutput)");
		else
		{
			/* the new list: ours, then the old names, each quoted */
			newlist = literal(ctx, ctx->plugin);
			for (i = 0; i < nnames; i++)
			{
				char	   *lit = literal(ctx, names[i]);
				char	   *next = wc_psprintf("%s, %s", newlist, lit);

				free(lit);
				free(newlist);
				newlist = next;
			}
			check_fix(r, "as a superuser (keep the plugins already listed: their slots stop working otherwise):");
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "ALTER SYSTEM SET output_plugin_libraries = %s;", newlist);
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "SELECT pg_reload_conf();");
			free(newlist);
		}
	}
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	PQclear(res);
}

/*
 * Run a replication command with a deadline; cancel it when the deadline
 * passes.  Returns the last result (the caller clears it) and sets
 * *timed_out.
 */
static PGresult *
exec_with_deadline(PGconn *conn, const char *command, int64_t timeout_usec,
				   bool *timed_out)
{
	int64_t		deadline = wc_now_monotonic() + timeout_usec;
	PGresult   *res;
	PGresult   *last = NULL;

	*timed_out = false;
	if (!PQsendQuery(conn, command))
		return NULL;
	while (PQisBusy(conn))
	{
		int64_t		left = deadline - wc_now_monotonic();
		fd_set		fds;
		struct timeval tv;
		int			sock = PQsocket(conn);

		if (left <= 0)
		{
			PGcancel   *cancel = PQgetCancel(conn);
			char		errbuf[256];

			*timed_out = true;
			if (cancel)
			{
				PQcancel(cancel, errbuf, sizeof(errbuf));
				PQfreeCancel(cancel);
			}
			break;
		}
		FD_ZERO(&fds);
		FD_SET(sock, &fds);
		tv.tv_sec = left / 1000000;
		tv.tv_usec = left % 1000000;
		if (select(sock + 1, &fds, NULL, NULL, &tv) < 0 ||
			!PQconsumeInput(conn))
			break;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		PQclear(last);
		last = res;
	}
	return last;
}

/* plugin: a temporary logical slot with the plugin can be created */
static void
check_plugin(CheckContext *ctx)
{
	char		slot[64];
	char	   *command;
	PGresult   *res;
	CheckResult *r;
	bool		timed_out;
	int64_t		start;

	if (!ctx->repl_ok)
	{
		check_add(ctx, "plugin", CHECK_SKIP,
				  "needs a working replication connection");
		return;
	}
	if (!ctx->wal_logical)
	{
		check_add(ctx, "plugin", CHECK_SKIP, "needs wal_level = logical");
		return;
	}
	/* unique enough among checks run at once from several machines */
	snprintf(slot, sizeof(slot), "walcast_check_%d_%d", (int) getpid(),
			 (int) (wc_now_unix() % 1000000));
	if (ctx->version_num >= 150000)
		command = wc_psprintf("CREATE_REPLICATION_SLOT \"%s\" TEMPORARY LOGICAL \"%s\" (SNAPSHOT 'nothing')",
							  slot, ctx->plugin);
	else
		command = wc_psprintf("CREATE_REPLICATION_SLOT \"%s\" TEMPORARY LOGICAL \"%s\" NOEXPORT_SNAPSHOT",
							  slot, ctx->plugin);
	start = wc_now_monotonic();
	res = exec_with_deadline(ctx->repl, command, PROBE_TIMEOUT_USEC, &timed_out);
	free(command);

	if (timed_out)
	{
		char	   *error;
		PGresult   *waiting;

		/* the transactions with an xid are what slot creation waits for */
		waiting = check_query(ctx->conn, &error,
							  "SELECT string_agg(format('process %s (user \"%s\", %s, since %s)',"
							  "  pid, usename, state, date_trunc('second', xact_start)), ', '),"
							  " (SELECT count(*) FROM pg_prepared_xacts)"
							  " FROM pg_stat_activity"
							  " WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
							  0, NULL);
		r = check_add(ctx, "plugin", CHECK_FAIL,
					  "creating a temporary slot with plugin %s waited more than %d s for running transactions to end: %s; %s prepared",
					  ctx->plugin, (int) (PROBE_TIMEOUT_USEC / 1000000),
					  waiting && !PQgetisnull(waiting, 0, 0) ? PQgetvalue(waiting, 0, 0) : "none seen now",
					  waiting ? PQgetvalue(waiting, 0, 1) : "?");
		check_fix(r, "let those transactions finish, or end them (SELECT pg_terminate_backend(pid); prepared ones: see prepared_transactions), then check again");
		PQclear(waiting);
		free(error);
	}
	else if (res && PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		PGresult   *drop;
		char	   *dropcmd = wc_psprintf("DROP_REPLICATION_SLOT \"%s\"", slot);

		drop = PQexec(ctx->repl, dropcmd);
		free(dropcmd);
		check_add(ctx, "plugin", CHECK_PASS,
				  "a temporary slot with plugin %s was created in %.0f ms and dropped%s",
				  ctx->plugin, (wc_now_monotonic() - start) / 1000.0,
				  PQresultStatus(drop) == PGRES_COMMAND_OK ||
				  PQresultStatus(drop) == PGRES_TUPLES_OK ? "" :
				  " (at disconnection)");
		PQclear(drop);
		ctx->probe = PROBE_OK;
	}
	else
	{
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		char	   *msg = one_line(primary ? primary : PQerrorMessage(ctx->repl));

		r = check_add(ctx, "plugin", CHECK_FAIL,
					  "could not create a temporary slot with plugin %s: %s",
					  ctx->plugin, msg);
		ctx->probe = PROBE_FAILED;
		if (state && strcmp(state, "58P01") == 0)
		{
			if (is_rds(ctx))
				check_fix(r, "custom output plugins cannot be installed on RDS or Aurora: run the relay in pgoutput mode (walcast check --plugin pgoutput)");
			else
				check_fix(r, "install walcast on the server: \"make install\" in the walcast source tree, as root, with PG_CONFIG naming this server's pg_config");
		}
		else if (strstr(msg, "may not be used as an output plugin"))
		{
			ctx->probe = PROBE_NOT_LISTED;
			check_fix(r, "as a superuser, add %s to output_plugin_libraries, keeping the plugins already listed (SHOW output_plugin_libraries), for example:",
					  ctx->plugin);
			check_fix_sql(r, ctx->dbname, admin(ctx), false,
						  "ALTER SYSTEM SET output_plugin_libraries = '%s', 'pgoutput';",
						  ctx->plugin);
			check_fix_sql(r, ctx->dbname, admin(ctx), false,
						  "SELECT pg_reload_conf();");
		}
		else if (strstr(msg, "replication slots"))
			check_fix(r, "free a slot or raise max_replication_slots (see slot_capacity)");
		else if (ctx->standby)
			check_fix(r, "see platform: this server is a standby");
		free(msg);
	}
	PQclear(res);
}

/* ddl_privilege: who may create the schema log's event triggers */
static void
check_ddl_privilege(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;

	if (strcmp(ctx->plugin, "walcast") != 0)
	{
		check_add(ctx, "ddl_privilege", CHECK_SKIP,
				  "pgoutput mode carries no DDL events");
		return;
	}
	res = query(ctx, "ddl_privilege",
				"SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'walcast')",
				0, NULL);
	if (res == NULL)
		return;
	if (bool_value(res, 0, 0))
		check_add(ctx, "ddl_privilege", CHECK_PASS,
				  "not needed: the walcast extension is installed");
	else if (ctx->superuser)
		check_add(ctx, "ddl_privilege", CHECK_PASS,
				  "role \"%s\" is a superuser: it may create event triggers", ctx->user);
	else if (is_rds(ctx) && ctx->rds_superuser)
		check_add(ctx, "ddl_privilege", CHECK_PASS,
				  "role \"%s\" is a member of rds_superuser", ctx->user);
	else
	{
		r = check_add(ctx, "ddl_privilege", CHECK_WARN,
					  "role \"%s\" cannot create event triggers (must be superuser), so it cannot install the schema log",
					  ctx->user);
		if (is_rds(ctx))
		{
			check_fix(r, "as the master user:");
			check_fix_sql(r, ctx->dbname, "the master user", false,
						  "GRANT rds_superuser TO %s;", ctx->user_ident);
		}
		else
		{
			check_fix(r, "have a superuser install the schema log:");
			check_fix_sql(r, ctx->dbname, "a superuser", false,
						  "CREATE EXTENSION walcast;");
		}
	}
	PQclear(res);
}

/* slot_capacity: a free slot and a free WAL sender for the relay */
static void
check_slot_capacity(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	char		pid[16];
	const char *params[2];
	long long	max_slots,
				used_slots,
				max_senders,
				used_senders;
	bool		slot_exists;
	bool		short_slots,
				short_senders;

	snprintf(pid, sizeof(pid), "%d", ctx->repl ? PQbackendPID(ctx->repl) : 0);
	params[0] = pid;
	params[1] = ctx->slot ? ctx->slot : "";
	res = query(ctx, "slot_capacity",
				"SELECT current_setting('max_replication_slots')::int,"
				" (SELECT count(*) FROM pg_replication_slots),"
				" current_setting('max_wal_senders')::int,"
				" (SELECT count(*) FROM pg_stat_replication WHERE pid <> $1::int),"
				" EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $2)",
				2, params);
	if (res == NULL)
		return;
	max_slots = int_value(res, 0, 0);
	used_slots = int_value(res, 0, 1);
	max_senders = int_value(res, 0, 2);
	used_senders = int_value(res, 0, 3);
	slot_exists = bool_value(res, 0, 4);
	PQclear(res);

	short_slots = max_slots - used_slots < (slot_exists ? 0 : 1) || max_slots == 0;
	short_senders = max_senders - used_senders < 1;
	if (!short_slots && !short_senders)
	{
		check_add(ctx, "slot_capacity", CHECK_PASS,
				  "%lld of %lld slots used, %lld of %lld WAL senders used",
				  used_slots, max_slots, used_senders, max_senders);
		return;
	}
	r = check_add(ctx, "slot_capacity", CHECK_FAIL,
				  "%lld of %lld slots used, %lld of %lld WAL senders used: no %s left for the relay",
				  used_slots, max_slots, used_senders, max_senders,
				  short_slots ? "replication slot" : "WAL sender");
	r->restart = true;
	if (is_rds(ctx))
	{
		check_fix(r, "drop unused slots (see other_slots), or raise max_replication_slots and max_wal_senders in %s, then %s",
				  parameter_group(ctx), restart_words(ctx));
		return;
	}
	check_fix(r, "drop unused slots (see other_slots), or as a superuser, then %s:",
			  restart_words(ctx));
	if (short_slots)
		check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
					  "ALTER SYSTEM SET max_replication_slots = %lld;", used_slots + 5);
	if (short_senders)
		check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
					  "ALTER SYSTEM SET max_wal_senders = %lld;", used_senders + 5);
	check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
				  "SELECT pg_reload_conf();");
}

/* the statements that recreate --slot; the subscribers must resynchronize */
static void
fix_recreate_slot(CheckContext *ctx, CheckResult *r, const char *why)
{
	char	   *lit = literal(ctx, ctx->slot);
	char	   *plugin = literal(ctx, ctx->plugin);

	check_fix(r, "%s, drop the slot and create it again, then resynchronize the subscribers (the changes in between are lost):", why);
	check_fix_sql(r, ctx->dbname, "the replication role", false,
				  "SELECT pg_drop_replication_slot(%s);", lit);
	check_fix_sql(r, ctx->dbname, "the replication role", false,
				  "SELECT pg_create_logical_replication_slot(%s, %s);", lit, plugin);
	free(lit);
	free(plugin);
}

#define CURRENT_LSN_SQL \
	"CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()" \
	" ELSE pg_current_wal_lsn() END"

/* slot: --slot exists, logical, with our plugin, in this database, valid */
static void
check_slot(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[1];
	const char *plugin,
			   *type,
			   *database,
			   *wal_status;
	const char *invalidation;
	char	   *sql;

	if (ctx->slot == NULL)
	{
		check_add(ctx, "slot", CHECK_SKIP, "no --slot given");
		return;
	}
	/*
	 * Why a slot was invalidated: a column of 17 and later; 16 says only
	 * "conflicting" (rows a standby's slot needed were removed); before,
	 * only the lost WAL, which wal_status shows.
	 */
	if (ctx->version_num >= 170000)
		invalidation = "s.invalidation_reason";
	else if (ctx->version_num >= 160000)
		invalidation = "CASE WHEN s.conflicting THEN 'rows_removed' END";
	else
		invalidation = "NULL::text";
	sql = wc_psprintf("SELECT s.plugin, s.slot_type, s.database, s.temporary,"
					  " s.active_pid, s.wal_status, s.restart_lsn,"
					  " a.application_name, a.client_addr, a.backend_start,"
					  " current_setting('max_slot_wal_keep_size'), %s"
					  " FROM pg_replication_slots s"
					  " LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid"
					  " WHERE s.slot_name = $1", invalidation);
	params[0] = ctx->slot;
	res = query(ctx, "slot", sql, 1, params);
	free(sql);
	if (res == NULL)
		return;
	if (PQntuples(res) == 0)
	{
		char	   *lit = literal(ctx, ctx->slot);
		char	   *plugin_lit = literal(ctx, ctx->plugin);

		r = check_add(ctx, "slot", CHECK_WARN, "slot \"%s\" does not exist",
					  ctx->slot);
		check_fix(r, "create it (after the publication, if any), or let the relay create it:");
		check_fix_sql(r, ctx->dbname, "the replication role", false,
					  "SELECT pg_create_logical_replication_slot(%s, %s);",
					  lit, plugin_lit);
		free(lit);
		free(plugin_lit);
		PQclear(res);
		return;
	}
	plugin = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
	type = PQgetvalue(res, 0, 1);
	database = PQgetisnull(res, 0, 2) ? "" : PQgetvalue(res, 0, 2);
	wal_status = PQgetisnull(res, 0, 5) ? "" : PQgetvalue(res, 0, 5);
	ctx->slot_plugin = wc_strdup(plugin);

	if (strcmp(type, "logical") != 0)
	{
		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" is a %s slot, not a logical one", ctx->slot, type);
		check_fix(r, "give the relay another slot name (--slot); this one belongs to a physical standby or backup");
	}
	else if (strcmp(database, ctx->dbname) != 0)
	{
		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" is in database \"%s\", not \"%s\"",
					  ctx->slot, database, ctx->dbname);
		check_fix(r, "connect to database \"%s\" (-d \"dbname=%s ...\"), or use another slot name here",
				  database, database);
	}
	else if (strcmp(plugin, ctx->plugin) != 0)
	{
		char	   *why = wc_psprintf("to use plugin %s", ctx->plugin);

		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" uses plugin %s, not %s", ctx->slot, plugin,
					  ctx->plugin);
		fix_recreate_slot(ctx, r, why);
		free(why);
	}
	else if (!PQgetisnull(res, 0, 11))
	{
		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" is invalidated (%s)", ctx->slot,
					  PQgetvalue(res, 0, 11));
		fix_recreate_slot(ctx, r, "it cannot be repaired");
	}
	else if (strcmp(wal_status, "lost") == 0 || PQgetisnull(res, 0, 6))
	{
		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" is invalidated (wal_status %s): the WAL it needed was removed (max_slot_wal_keep_size = %s)",
					  ctx->slot, wal_status[0] ? wal_status : "null",
					  PQgetvalue(res, 0, 10));
		fix_recreate_slot(ctx, r, "it cannot be repaired");
	}
	else if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
	{
		r = check_add(ctx, "slot", CHECK_FAIL,
					  "slot \"%s\" is temporary: it disappears with its session",
					  ctx->slot);
		check_fix(r, "use a permanent slot: another --slot name");
	}
	else if (!PQgetisnull(res, 0, 4))
	{
		char	   *pid = wc_strdup(PQgetvalue(res, 0, 4));

		r = check_add(ctx, "slot", CHECK_WARN,
					  "slot \"%s\" is in use by process %s (application \"%s\", from %s, since %s): the relay cannot stream it at the same time",
					  ctx->slot, pid, PQgetvalue(res, 0, 7),
					  PQgetisnull(res, 0, 8) ? "a local socket, or an address hidden from this role" : PQgetvalue(res, 0, 8),
					  PQgetvalue(res, 0, 9));
		check_fix(r, "stop that reader; if it is a leftover, end it:");
		check_fix_sql(r, ctx->dbname, admin(ctx), false,
					  "SELECT pg_terminate_backend(%s);", pid);
		free(pid);
	}
	else
		check_add(ctx, "slot", CHECK_PASS,
				  "slot \"%s\": logical, plugin %s, database \"%s\", inactive, restart_lsn %s",
				  ctx->slot, plugin, database, PQgetvalue(res, 0, 6));
	PQclear(res);
}

/* slot_retention: how much WAL --slot keeps, and whether it may lose it */
static void
check_slot_retention(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[1];
	const char *wal_status;

	if (ctx->slot == NULL || ctx->slot_plugin == NULL)
	{
		check_add(ctx, "slot_retention", CHECK_SKIP,
				  ctx->slot ? "the slot does not exist" : "no --slot given");
		return;
	}
	params[0] = ctx->slot;
	res = query(ctx, "slot_retention",
				"SELECT s.wal_status,"
				" pg_size_pretty(pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.restart_lsn)),"
				" pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.restart_lsn) > 1024^3,"
				" pg_size_pretty(pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.confirmed_flush_lsn)),"
				" pg_size_pretty(s.safe_wal_size)"
				" FROM pg_replication_slots s WHERE s.slot_name = $1", 1, params);
	if (res == NULL)
		return;
	if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
	{
		check_add(ctx, "slot_retention", CHECK_SKIP,
				  "the slot keeps no WAL (see slot)");
		PQclear(res);
		return;
	}
	wal_status = PQgetvalue(res, 0, 0);
	if (strcmp(wal_status, "lost") == 0)
		check_add(ctx, "slot_retention", CHECK_SKIP, "the slot is invalidated (see slot)");
	else if (strcmp(wal_status, "unreserved") == 0)
	{
		r = check_add(ctx, "slot_retention", CHECK_FAIL,
					  "wal_status unreserved: the slot retains %s, beyond max_slot_wal_keep_size, and loses it at the next checkpoint",
					  PQgetvalue(res, 0, 1));
		check_fix(r, "start the relay now so that it catches up, or raise max_slot_wal_keep_size%s",
				  is_rds(ctx) ? " in the parameter group" : " (ALTER SYSTEM SET max_slot_wal_keep_size = ...; SELECT pg_reload_conf();)");
	}
	else if (strcmp(wal_status, "extended") == 0 || bool_value(res, 0, 2))
	{
		r = check_add(ctx, "slot_retention", CHECK_WARN,
					  "wal_status %s: the slot retains %s of WAL, %s not yet confirmed",
					  wal_status, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3));
		check_fix(r, "start the relay so that it confirms; drop the slot if nothing will read it again");
	}
	else
		check_add(ctx, "slot_retention", CHECK_PASS,
				  "wal_status %s: retains %s, %s not yet confirmed%s%s",
				  wal_status, PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3),
				  PQgetisnull(res, 0, 4) ? "" : ", safe_wal_size ",
				  PQgetisnull(res, 0, 4) ? "" : PQgetvalue(res, 0, 4));
	PQclear(res);
}

/* other_slots: inactive slots elsewhere that pin WAL */
static void
check_other_slots(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[1];
	char	   *list;
	int			i;
	int			n;

	params[0] = ctx->slot ? ctx->slot : "";
	res = query(ctx, "other_slots",
				"SELECT s.slot_name, quote_literal(s.slot_name),"
				" format('\"%s\" (%s%s, %s)', s.slot_name,"
				"  coalesce(s.plugin, 'physical'),"
				"  ', database \"' || s.database || '\"',"
				"  pg_size_pretty(pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.restart_lsn)))"
				" FROM pg_replication_slots s"
				" WHERE NOT s.active AND NOT s.temporary AND s.slot_name <> $1"
				" AND pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.restart_lsn) >="
				"  (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size')"
				" ORDER BY pg_wal_lsn_diff(" CURRENT_LSN_SQL ", s.restart_lsn) DESC",
				1, params);
	if (res == NULL)
		return;
	n = PQntuples(res);
	if (n == 0)
	{
		check_add(ctx, "other_slots", CHECK_PASS,
				  "no inactive slot retains a WAL segment or more");
		PQclear(res);
		return;
	}
	list = join_values(res, 2, MAX_LISTED);
	r = check_add(ctx, "other_slots", CHECK_WARN,
				  "%d inactive slot%s retain%s WAL: %s", n, n > 1 ? "s" : "",
				  n > 1 ? "" : "s", list);
	free(list);
	check_fix(r, "once you are sure nothing will read them again, as a superuser or a replication role:");
	for (i = 0; i < n; i++)
		check_fix_sql(r, ctx->dbname, "the replication role", false,
					  "SELECT pg_drop_replication_slot(%s);", PQgetvalue(res, i, 1));
	PQclear(res);
}

/* max_slot_wal_keep_size: bounded, and not so small that slots die */
static void
check_max_slot_wal_keep_size(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	long long	mb;

	res = query(ctx, "max_slot_wal_keep_size",
				"SELECT setting::bigint, current_setting('max_slot_wal_keep_size'),"
				" current_setting('idle_replication_slot_timeout', true)"
				" FROM pg_settings WHERE name = 'max_slot_wal_keep_size'", 0, NULL);
	if (res == NULL)
		return;
	if (PQntuples(res) == 0)
	{
		check_add(ctx, "max_slot_wal_keep_size", CHECK_SKIP,
				  "not a setting of this server (before PostgreSQL 13)");
		PQclear(res);
		return;
	}
	mb = int_value(res, 0, 0);
	if (mb >= 0 && mb < 1024)
	{
		r = check_add(ctx, "max_slot_wal_keep_size", CHECK_WARN,
					  "%s: a reader that stops for a short while loses its slot",
					  PQgetvalue(res, 0, 1));
	}
	else if (mb < 0)
	{
		r = check_add(ctx, "max_slot_wal_keep_size", CHECK_WARN,
					  "-1 (unbounded): a stopped reader keeps WAL until the disk is full");
	}
	else
	{
		const char *idle = value_or_null(res, 0, 2);

		if (idle && strcmp(idle, "0") != 0)
			check_add(ctx, "max_slot_wal_keep_size", CHECK_WARN,
					  "%s; idle_replication_slot_timeout = %s invalidates a slot idle that long",
					  PQgetvalue(res, 0, 1), idle);
		else
			check_add(ctx, "max_slot_wal_keep_size", CHECK_PASS, "%s",
					  PQgetvalue(res, 0, 1));
		PQclear(res);
		return;
	}
	if (is_rds(ctx))
		check_fix(r, "set max_slot_wal_keep_size in %s to what the storage can hold beside the data (in MB)",
				  parameter_group(ctx));
	else
	{
		check_fix(r, "as a superuser, with a size the disk can hold beside the data and a reader's longest outage:");
		check_fix_sql(r, ctx->dbname, admin(ctx), false,
					  "ALTER SYSTEM SET max_slot_wal_keep_size = '50GB';");
		check_fix_sql(r, ctx->dbname, admin(ctx), false,
					  "SELECT pg_reload_conf();");
	}
	PQclear(res);
}

/* wal_sender_timeout: long enough for a relay under load */
static void
check_wal_sender_timeout(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	long long	ms;

	res = query(ctx, "wal_sender_timeout",
				"SELECT setting::bigint, current_setting('wal_sender_timeout')"
				" FROM pg_settings WHERE name = 'wal_sender_timeout'", 0, NULL);
	if (res == NULL)
		return;
	ms = int_value(res, 0, 0);
	if (ms == 0)
		check_add(ctx, "wal_sender_timeout", CHECK_PASS,
				  "0: disabled, a dead connection is noticed by TCP only");
	else if (ms >= 60000)
		check_add(ctx, "wal_sender_timeout", CHECK_PASS, "%s",
				  PQgetvalue(res, 0, 1));
	else
	{
		r = check_add(ctx, "wal_sender_timeout", CHECK_WARN,
					  "%s: a relay busy for longer is disconnected",
					  PQgetvalue(res, 0, 1));
		if (is_rds(ctx))
			check_fix(r, "set wal_sender_timeout to 300000 (5 minutes) or more in %s",
					  parameter_group(ctx));
		else
		{
			check_fix(r, "as a superuser:");
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "ALTER SYSTEM SET wal_sender_timeout = '5min';");
			check_fix_sql(r, ctx->dbname, admin(ctx), can_alter_system(ctx),
						  "SELECT pg_reload_conf();");
		}
	}
	PQclear(res);
}

/* long_transactions: they delay slot creation and pin catalog rows */
static void
check_long_transactions(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	char	   *list;
	int			i;
	int			n;

	res = query(ctx, "long_transactions",
				"SELECT pid, format('process %s (user \"%s\", database \"%s\", %s, %s)',"
				"  pid, usename, datname, state, date_trunc('second', now() - xact_start))"
				" FROM pg_stat_activity"
				" WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()"
				" AND backend_type = 'client backend'"
				" AND now() - xact_start > interval '" LONG_XACT_SQL_INTERVAL "'"
				" ORDER BY xact_start", 0, NULL);
	if (res == NULL)
		return;
	n = PQntuples(res);
	if (n == 0)
	{
		check_add(ctx, "long_transactions", CHECK_PASS,
				  "no transaction open longer than " LONG_XACT_SQL_INTERVAL);
		PQclear(res);
		return;
	}
	list = join_values(res, 1, MAX_LISTED);
	r = check_add(ctx, "long_transactions", CHECK_WARN,
				  "%d transaction%s open longer than " LONG_XACT_SQL_INTERVAL " (creating a slot waits for them): %s",
				  n, n > 1 ? "s" : "", list);
	free(list);
	check_fix(r, "finish them, or end them as a superuser or their owner:");
	for (i = 0; i < n; i++)
		check_fix_sql(r, ctx->dbname, admin(ctx), false,
					  "SELECT pg_terminate_backend(%s);", PQgetvalue(res, i, 0));
	PQclear(res);
}

/* prepared_transactions: they pin catalog rows and delay slot creation */
static void
check_prepared_transactions(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	int			i;
	int			n;

	res = query(ctx, "prepared_transactions",
				"SELECT gid, quote_literal(gid), owner, database,"
				" date_trunc('second', now() - prepared)"
				" FROM pg_prepared_xacts ORDER BY prepared", 0, NULL);
	if (res == NULL)
		return;
	n = PQntuples(res);
	if (n == 0)
	{
		check_add(ctx, "prepared_transactions", CHECK_PASS, "none");
		PQclear(res);
		return;
	}
	r = check_add(ctx, "prepared_transactions", CHECK_WARN,
				  "%d prepared transaction%s, the oldest \"%s\" (database \"%s\", %s old): creating a slot waits for them",
				  n, n > 1 ? "s" : "", PQgetvalue(res, 0, 0),
				  PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4));
	check_fix(r, "have the transaction manager finish them; by hand, in their database as their owner or a superuser, one of:");
	for (i = 0; i < n; i++)
	{
		check_fix_sql(r, PQgetvalue(res, i, 3), PQgetvalue(res, i, 2), false,
					  "COMMIT PREPARED %s;", PQgetvalue(res, i, 1));
		check_fix_sql(r, PQgetvalue(res, i, 3), PQgetvalue(res, i, 2), false,
					  "ROLLBACK PREPARED %s;", PQgetvalue(res, i, 1));
	}
	PQclear(res);
}

/* publication: exists and publishes every kind of change */
static void
check_publication(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[1];
	char	   *ident;
	bool		ins,
				upd,
				del,
				trunc;

	if (ctx->publication == NULL)
	{
		if (strcmp(ctx->plugin, "pgoutput") == 0)
		{
			r = check_add(ctx, "publication", CHECK_FAIL,
						  "no --publication given: pgoutput streams the tables of a publication");
			check_fix(r, "name the publication the relay will use: --publication NAME");
		}
		else
			check_add(ctx, "publication", CHECK_SKIP, "no --publication given");
		return;
	}
	params[0] = ctx->publication;
	res = query(ctx, "publication",
				"SELECT p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete,"
				" p.pubtruncate,"
				" (SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = p.pubname),"
				" pg_has_role(p.pubowner, 'USAGE')"
				" FROM pg_publication p WHERE p.pubname = $1", 1, params);
	if (res == NULL)
		return;
	ident = identifier(ctx, ctx->publication);
	if (PQntuples(res) == 0)
	{
		r = check_add(ctx, "publication", CHECK_FAIL,
					  "publication \"%s\" does not exist", ctx->publication);
		check_fix(r, "create it before the slot, as %s (or FOR TABLE a, b as the tables' owner):",
				  is_rds(ctx) ? "the master user" : "a superuser");
		check_fix_sql(r, ctx->dbname, admin(ctx), ctx->superuser,
					  "CREATE PUBLICATION %s FOR ALL TABLES;", ident);
	}
	else
	{
		ins = bool_value(res, 0, 1);
		upd = bool_value(res, 0, 2);
		del = bool_value(res, 0, 3);
		trunc = bool_value(res, 0, 4);
		if (ins && upd && del && trunc)
			check_add(ctx, "publication", CHECK_PASS,
					  "publication \"%s\": %s, %s tables, publishes insert, update, delete, truncate",
					  ctx->publication,
					  bool_value(res, 0, 0) ? "FOR ALL TABLES" : "FOR TABLE",
					  PQgetvalue(res, 0, 5));
		else
		{
			r = check_add(ctx, "publication", CHECK_WARN,
						  "publication \"%s\" does not publish%s%s%s%s",
						  ctx->publication, ins ? "" : " insert", upd ? "" : " update",
						  del ? "" : " delete", trunc ? "" : " truncate");
			check_fix(r, "as its owner:");
			check_fix_sql(r, ctx->dbname, "the publication's owner",
						  bool_value(res, 0, 6),
						  "ALTER PUBLICATION %s SET (publish = 'insert, update, delete, truncate');",
						  ident);
		}
	}
	free(ident);
	PQclear(res);
}

/*
 * publication_before_slot: pgoutput looks the publication up in the
 * catalog as it was at each change it decodes; a change from before the
 * publication existed fails with 'publication "p" does not exist', and the
 * slot is stuck there.  Neither the slot nor the publication records when
 * it was made (catalog_xmin is held back by every other slot), so this
 * decodes the slot's first pending transaction without consuming it
 * (peek), which is exactly what the relay would do first.
 */
static void
check_publication_before_slot(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[2];
	char	   *error;

	if (ctx->publication == NULL || ctx->slot == NULL || ctx->slot_plugin == NULL)
	{
		check_add(ctx, "publication_before_slot", CHECK_SKIP,
				  "needs --publication and an existing --slot");
		return;
	}
	if (strcmp(ctx->slot_plugin, "pgoutput") != 0)
	{
		check_add(ctx, "publication_before_slot", CHECK_PASS,
				  "slot \"%s\" uses plugin %s, which does not read publications",
				  ctx->slot, ctx->slot_plugin);
		return;
	}
	if (!ctx->replication || !ctx->wal_logical)
	{
		check_add(ctx, "publication_before_slot", CHECK_SKIP,
				  "needs replication rights and wal_level = logical to read the slot");
		return;
	}
	params[0] = ctx->slot;
	params[1] = ctx->publication;
	res = check_query(ctx->conn, &error,
					  "SELECT count(*) FROM pg_logical_slot_peek_binary_changes("
					  "$1, NULL, 1, 'proto_version', '1',"
					  " 'publication_names', quote_ident($2))"
					  " WHERE EXISTS (SELECT 1 FROM pg_replication_slots"
					  "  WHERE slot_name = $1 AND NOT active)"
					  " AND EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)",
					  2, params);
	if (res)
		check_add(ctx, "publication_before_slot", CHECK_PASS,
				  "slot \"%s\" decodes its next transaction with publication \"%s\"",
				  ctx->slot, ctx->publication);
	else if (strstr(error, "publication") && strstr(error, "does not exist"))
	{
		r = check_add(ctx, "publication_before_slot", CHECK_FAIL,
					  "slot \"%s\" has changes from before publication \"%s\" was created: decoding them fails with %s",
					  ctx->slot, ctx->publication, error);
		fix_recreate_slot(ctx, r, "now that the publication exists");
	}
	else if (strstr(error, "is active for PID"))
		check_add(ctx, "publication_before_slot", CHECK_SKIP,
				  "slot \"%s\" is in use: %s", ctx->slot, error);
	else
		check_add(ctx, "publication_before_slot", CHECK_FAIL,
				  "could not decode slot \"%s\": %s", ctx->slot, error);
	free(error);
	PQclear(res);
}

/*
 * The tables in scope: ordinary tables (and partitions) that are logged,
 * outside the system schemas, not walcast's own (the schema log, which the
 * plugin never sends as rows), and in the publication when one is named
 * (matched by name: a cast to regclass would need USAGE on every schema).
 */
#define TABLES_IN_SCOPE_SQL \
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace" \
	" WHERE c.relkind = 'r' AND c.relpersistence = 'p'" \
	" AND n.nspname NOT IN ('pg_catalog', 'information_schema')" \
	" AND n.nspname !~ '^pg_toast'" \
	" AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid" \
	"  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid" \
	"  AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'" \
	"  AND e.extname = 'walcast')" \
	" AND ($1::text IS NULL OR EXISTS (SELECT 1 FROM pg_publication_tables t" \
	"  WHERE t.pubname = $1 AND t.schemaname = n.nspname AND t.tablename = c.relname))"

/* replica_identity: UPDATE and DELETE carry a key for every table */
static void
check_replica_identity(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *params[1];
	char	   *list;
	const char *owner = "";
	int			i;
	int			n;

	params[0] = ctx->publication;
	res = query(ctx, "replica_identity",
				"SELECT format('%I.%I', n.nspname, c.relname),"
				" pg_get_userbyid(c.relowner),"
				" pg_has_role(c.relowner, 'USAGE'),"
				" (SELECT quote_ident(ic.relname) FROM pg_index i"
				"  JOIN pg_class ic ON ic.oid = i.indexrelid"
				"  WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid"
				"  AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL"
				"  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
				"   AND a.attnum = ANY (i.indkey) AND NOT a.attnotnull)"
				"  ORDER BY ic.relname LIMIT 1),"
				" count(*) OVER ()"
				TABLES_IN_SCOPE_SQL
				" AND (c.relreplident = 'n'"
				"  OR (c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i"
				"   WHERE i.indrelid = c.oid AND i.indisprimary))"
				"  OR (c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i"
				"   WHERE i.indrelid = c.oid AND i.indisreplident AND i.indisvalid)))"
				" ORDER BY 2, 1", 1, params);
	if (res == NULL)
		return;
	n = PQntuples(res);
	if (n == 0)
	{
		check_add(ctx, "replica_identity", CHECK_PASS,
				  "every table in scope has a primary key or a replica identity");
		PQclear(res);
		return;
	}
	list = join_values(res, 0, MAX_LISTED);
	r = check_add(ctx, "replica_identity", CHECK_FAIL,
				  "%d table%s without a primary key or replica identity: %s (%s)",
				  n, n > 1 ? "s" : "", list,
				  strcmp(ctx->plugin, "pgoutput") == 0 ?
				  "UPDATE and DELETE on them fail while a publication publishes them" :
				  "their UPDATE and DELETE carry no old key");
	free(list);
	check_fix(r, "add a primary key, or set a replica identity: a unique index on NOT NULL columns, else FULL (every old row is logged whole)");
	for (i = 0; i < n; i++)
	{
		if (strcmp(owner, PQgetvalue(res, i, 1)) != 0)
		{
			owner = PQgetvalue(res, i, 1);
			check_fix(r, "as role \"%s\" (the owner) in database \"%s\":", owner, ctx->dbname);
		}
		if (!PQgetisnull(res, i, 3))
			check_fix_sql(r, ctx->dbname, owner, bool_value(res, i, 2),
						  "ALTER TABLE %s REPLICA IDENTITY USING INDEX %s;",
						  PQgetvalue(res, i, 0), PQgetvalue(res, i, 3));
		else
			check_fix_sql(r, ctx->dbname, owner, bool_value(res, i, 2),
						  "ALTER TABLE %s REPLICA IDENTITY FULL;",
						  PQgetvalue(res, i, 0));
	}
	PQclear(res);
}

/* unchanged_toast: tables whose large values an UPDATE may leave out */
static void
check_unchanged_toast(CheckContext *ctx)
{
	PGresult   *res;
	const char *params[1];
	char	   *list;
	int			n;

	params[0] = ctx->publication;
	res = query(ctx, "unchanged_toast",
				"SELECT format('%I.%I', n.nspname, c.relname), count(*) OVER ()"
				TABLES_IN_SCOPE_SQL
				" AND c.relreplident <> 'f'"
				" AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
				"  AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage <> 'p')"
				" ORDER BY 1 LIMIT 10", 1, params);
	if (res == NULL)
		return;
	n = PQntuples(res);
	if (n == 0)
	{
		check_add(ctx, "unchanged_toast", CHECK_PASS,
				  "no table in scope can store values out of line without REPLICA IDENTITY FULL");
		PQclear(res);
		return;
	}
	list = join_values(res, 0, MAX_LISTED);
	/* the stream marks these values explicitly: information, not a fault */
	check_add(ctx, "unchanged_toast", CHECK_PASS,
			  "%s table%s can store large values out of line (%s%s): an UPDATE that leaves such a value alone carries it as MARKER_UNCHANGED_TOAST, not its value; subscribers keep the value they have",
			  PQgetvalue(res, 0, 1), strcmp(PQgetvalue(res, 0, 1), "1") ? "s" : "",
			  list, int_value(res, 0, 1) > n ? ", ..." : "");
	free(list);
	PQclear(res);
}

/*
 * select_privilege in one database: SELECT on every table in scope, USAGE
 * on its schema; the GRANTs grouped by owner, and the default privileges
 * for tables created later.
 */
static void
select_privilege_in(CheckContext *ctx, PGconn *conn, const char *dbname)
{
	PGresult   *schemas = NULL;
	PGresult   *tables = NULL;
	CheckResult *r;
	const char *params[1];
	char	   *error = NULL;
	char	   *list;
	char	   *schema_list;
	int			i,
				nschemas,
				ntables;
	long long	missing = 0;

	/* the publication is in the connected database; elsewhere: every table */
	params[0] = conn == ctx->conn ? ctx->publication : NULL;
	schemas = check_query(conn, &error,
						  "SELECT quote_ident(n.nspname), pg_get_userbyid(n.nspowner),"
						  " pg_has_role(n.nspowner, 'MEMBER')"
						  " FROM pg_namespace n WHERE NOT has_schema_privilege(n.oid, 'USAGE')"
						  " AND n.oid IN (SELECT c.relnamespace"
						  TABLES_IN_SCOPE_SQL ")"
						  " ORDER BY 2, 1", 1, params);
	if (schemas)
		tables = check_query(conn, &error,
							 "SELECT pg_get_userbyid(c.relowner), quote_ident(n.nspname),"
							 " string_agg(format('%I.%I', n.nspname, c.relname), ', '"
							 "  ORDER BY c.relname),"
							 " count(*), pg_has_role(c.relowner, 'MEMBER'),"
							 " quote_ident(pg_get_userbyid(c.relowner))"
							 TABLES_IN_SCOPE_SQL
							 " AND NOT has_table_privilege(c.oid, 'SELECT')"
							 " GROUP BY c.relowner, n.nspname ORDER BY 1, 2", 1, params);
	if (tables == NULL)
	{
		r = check_add(ctx, "select_privilege", CHECK_FAIL, "could not check: %s", error);
		r->database = ctx->all_databases ? wc_strdup(dbname) : NULL;
		free(error);
		PQclear(schemas);
		return;
	}
	nschemas = PQntuples(schemas);
	ntables = PQntuples(tables);
	for (i = 0; i < ntables; i++)
		missing += int_value(tables, i, 3);

	if (nschemas == 0 && ntables == 0)
	{
		r = check_add(ctx, "select_privilege", CHECK_PASS,
					  "role \"%s\" may read every table in scope", ctx->user);
		r->database = ctx->all_databases ? wc_strdup(dbname) : NULL;
		PQclear(schemas);
		PQclear(tables);
		return;
	}

	list = join_values(tables, 2, MAX_LISTED);
	schema_list = join_values(schemas, 0, MAX_LISTED);
	if (ntables > 0)
		r = check_add(ctx, "select_privilege", CHECK_FAIL,
					  "role \"%s\" may not read %lld table%s: %s%s%s", ctx->user,
					  missing, missing > 1 ? "s" : "", list,
					  nschemas ? "; nor use schema " : "", schema_list);
	else
		r = check_add(ctx, "select_privilege", CHECK_FAIL,
					  "role \"%s\" may not use schema %s, which holds tables in scope",
					  ctx->user, schema_list);
	free(list);
	free(schema_list);
	r->database = ctx->all_databases ? wc_strdup(dbname) : NULL;

	for (i = 0; i < nschemas; i++)
	{
		check_fix(r, "as role \"%s\" (the schema's owner) in database \"%s\":",
				  PQgetvalue(schemas, i, 1), dbname);
		check_fix_sql(r, dbname, PQgetvalue(schemas, i, 1),
					  bool_value(schemas, i, 2), "GRANT USAGE ON SCHEMA %s TO %s;",
					  PQgetvalue(schemas, i, 0), ctx->user_ident);
	}
	for (i = 0; i < ntables; i++)
	{
		const char *owner = PQgetvalue(tables, i, 0);
		bool		member = bool_value(tables, i, 4);

		if (i == 0 || strcmp(owner, PQgetvalue(tables, i - 1, 0)) != 0)
			check_fix(r, "as role \"%s\" (the owner) in database \"%s\":", owner, dbname);
		check_fix_sql(r, dbname, owner, member, "GRANT SELECT ON %s TO %s;",
					  PQgetvalue(tables, i, 2), ctx->user_ident);
		check_fix_sql(r, dbname, owner, member,
					  "ALTER DEFAULT PRIVILEGES FOR ROLE %s IN SCHEMA %s GRANT SELECT ON TABLES TO %s;",
					  PQgetvalue(tables, i, 5), PQgetvalue(tables, i, 1),
					  ctx->user_ident);
	}
	if (ctx->all_databases && ntables > 0)
		check_fix(r, "for databases created later, run the ALTER DEFAULT PRIVILEGES statements in database template1 too");
	PQclear(schemas);
	PQclear(tables);
}

/* select_privilege: in this database, or in every one with --all-databases */
static void
check_select_privilege(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	int			i;

	if (!ctx->all_databases)
	{
		select_privilege_in(ctx, ctx->conn, ctx->dbname);
		return;
	}
	res = query(ctx, "select_privilege",
				"SELECT datname, has_database_privilege(oid, 'CONNECT'),"
				" quote_ident(datname), pg_get_userbyid(datdba)"
				" FROM pg_database WHERE datallowconn AND NOT datistemplate"
				" ORDER BY datname", 0, NULL);
	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++)
	{
		const char *dbname = PQgetvalue(res, i, 0);
		PGconn	   *conn;

		if (strcmp(dbname, ctx->dbname) == 0)
		{
			select_privilege_in(ctx, ctx->conn, dbname);
			continue;
		}
		if (!bool_value(res, i, 1))
		{
			r = check_add(ctx, "select_privilege", CHECK_FAIL,
						  "role \"%s\" may not connect", ctx->user);
			r->database = wc_strdup(dbname);
			check_fix(r, "as role \"%s\" (the database's owner):", PQgetvalue(res, i, 3));
			check_fix_sql(r, ctx->dbname, PQgetvalue(res, i, 3), false,
						  "GRANT CONNECT ON DATABASE %s TO %s;",
						  PQgetvalue(res, i, 2), ctx->user_ident);
			continue;
		}
		conn = check_connect(ctx, dbname, false);
		if (PQstatus(conn) != CONNECTION_OK)
		{
			char	   *msg = one_line(PQerrorMessage(conn));

			r = check_add(ctx, "select_privilege", CHECK_FAIL,
						  "could not connect: %s", msg);
			r->database = wc_strdup(dbname);
			free(msg);
		}
		else
			select_privilege_in(ctx, conn, dbname);
		PQfinish(conn);
	}
	PQclear(res);
}

/* schema_log: the walcast extension, its table and its event triggers */
static void
check_schema_log(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *installed,
			   *available;

	if (strcmp(ctx->plugin, "walcast") != 0)
	{
		check_add(ctx, "schema_log", CHECK_SKIP,
				  "pgoutput mode carries no DDL events");
		return;
	}
	res = query(ctx, "schema_log",
				"SELECT (SELECT extversion FROM pg_extension WHERE extname = 'walcast'),"
				" (SELECT default_version FROM pg_available_extensions WHERE name = 'walcast'),"
				" EXISTS (SELECT 1 FROM pg_class c"
				"  JOIN pg_namespace n ON n.oid = c.relnamespace"
				"  WHERE n.nspname = 'walcast' AND c.relname = 'schema_log'),"
				" (SELECT count(*) FROM pg_event_trigger e"
				"  JOIN pg_depend d ON d.classid = 'pg_event_trigger'::regclass"
				"  AND d.objid = e.oid AND d.deptype = 'e'"
				"  JOIN pg_extension x ON x.oid = d.refobjid"
				"  AND d.refclassid = 'pg_extension'::regclass AND x.extname = 'walcast'),"
				" (SELECT string_agg(quote_ident(e.evtname), ' ' ORDER BY e.evtname)"
				"  FROM pg_event_trigger e"
				"  JOIN pg_depend d ON d.classid = 'pg_event_trigger'::regclass"
				"  AND d.objid = e.oid AND d.deptype = 'e'"
				"  JOIN pg_extension x ON x.oid = d.refobjid"
				"  AND d.refclassid = 'pg_extension'::regclass AND x.extname = 'walcast'"
				"  WHERE e.evtenabled = 'D')", 0, NULL);
	if (res == NULL)
		return;
	installed = value_or_null(res, 0, 0);
	available = value_or_null(res, 0, 1);

	if (installed == NULL && available == NULL)
	{
		r = check_add(ctx, "schema_log", CHECK_WARN,
					  "the walcast extension is not installed on the server: DDL is not recorded");
		if (is_rds(ctx))
			check_fix(r, "custom extensions cannot be installed on RDS or Aurora: DDL events are not available there");
		else
			check_fix(r, "install walcast on the server (\"make install\"), then as a superuser in database \"%s\": CREATE EXTENSION walcast;",
					  ctx->dbname);
	}
	else if (installed == NULL)
	{
		r = check_add(ctx, "schema_log", CHECK_WARN,
					  "extension walcast is not created in database \"%s\": DDL is not recorded",
					  ctx->dbname);
		check_fix(r, "as %s in database \"%s\" (event triggers need one):",
				  admin(ctx), ctx->dbname);
		check_fix_sql(r, ctx->dbname, admin(ctx), ctx->superuser,
					  "CREATE EXTENSION walcast;");
	}
	else if (available && strcmp(installed, available) != 0)
	{
		r = check_add(ctx, "schema_log", CHECK_WARN,
					  "extension walcast %s is created, the server has %s",
					  installed, available);
		check_fix(r, "as a superuser in database \"%s\":", ctx->dbname);
		check_fix_sql(r, ctx->dbname, admin(ctx), ctx->superuser,
					  "ALTER EXTENSION walcast UPDATE;");
	}
	else if (!bool_value(res, 0, 2))
		check_add(ctx, "schema_log", CHECK_PASS,
				  "extension walcast %s is created; this version has no schema log",
				  installed);
	else if (int_value(res, 0, 3) == 0)
	{
		r = check_add(ctx, "schema_log", CHECK_WARN,
					  "walcast.schema_log exists, but no event trigger of the extension records DDL");
		check_fix(r, "as a superuser in database \"%s\", recreate the extension (this empties the schema log):",
				  ctx->dbname);
		check_fix_sql(r, ctx->dbname, admin(ctx), false, "DROP EXTENSION walcast;");
		check_fix_sql(r, ctx->dbname, admin(ctx), false, "CREATE EXTENSION walcast;");
	}
	else if (!PQgetisnull(res, 0, 4))
	{
		char	   *names = wc_strdup(PQgetvalue(res, 0, 4));
		char	   *name;
		char	   *save = NULL;

		r = check_add(ctx, "schema_log", CHECK_WARN,
					  "event triggers of the schema log are disabled: %s", names);
		check_fix(r, "as a superuser in database \"%s\":", ctx->dbname);
		for (name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save))
			check_fix_sql(r, ctx->dbname, admin(ctx), ctx->superuser,
						  "ALTER EVENT TRIGGER %s ENABLE;", name);
		free(names);
	}
	else
		check_add(ctx, "schema_log", CHECK_PASS,
				  "extension walcast %s, walcast.schema_log, %s event trigger%s enabled",
				  installed, PQgetvalue(res, 0, 3),
				  strcmp(PQgetvalue(res, 0, 3), "1") ? "s" : "");
	PQclear(res);
}

/* encoding: UTF-8 is sent as is; others are converted; SQL_ASCII is not */
static void
check_encoding(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	const char *enc;

	res = query(ctx, "encoding",
				"SELECT pg_encoding_to_char(encoding) FROM pg_database"
				" WHERE datname = current_database()", 0, NULL);
	if (res == NULL)
		return;
	enc = PQgetvalue(res, 0, 0);
	if (strcmp(enc, "UTF8") == 0)
		check_add(ctx, "encoding", CHECK_PASS, "UTF8");
	else if (strcmp(enc, "SQL_ASCII") == 0)
	{
		r = check_add(ctx, "encoding", CHECK_WARN,
					  "SQL_ASCII: text has no known encoding; text that is not valid UTF-8 reaches subscribers as bytes");
		check_fix(r, "move the data to a database created with ENCODING 'UTF8' (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0; pg_dump, pg_restore)");
	}
	else
		check_add(ctx, "encoding", CHECK_PASS,
				  "%s: text is converted to UTF-8 for subscribers", enc);
	PQclear(res);
}

/* connection_headroom: the relay needs a connection or two */
static void
check_connection_headroom(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	long long	max,
				reserved,
				used,
				free_slots;

	res = query(ctx, "connection_headroom",
				"SELECT current_setting('max_connections')::int,"
				" current_setting('superuser_reserved_connections')::int,"
				" (SELECT count(*) FROM pg_stat_activity"
				"  WHERE backend_type = 'client backend'),"
				" r.rolconnlimit,"
				" (SELECT count(*) FROM pg_stat_activity a"
				"  WHERE a.usename = current_user AND a.backend_type = 'client backend')"
				" FROM pg_roles r WHERE r.rolname = current_user", 0, NULL);
	if (res == NULL)
		return;
	max = int_value(res, 0, 0);
	reserved = ctx->superuser ? 0 : int_value(res, 0, 1);
	/* our own connection is counted, and ends with this check */
	used = int_value(res, 0, 2) - 1;
	free_slots = max - reserved - used;
	if (int_value(res, 0, 3) >= 0 &&
		int_value(res, 0, 3) - (int_value(res, 0, 4) - 1) < free_slots)
		free_slots = int_value(res, 0, 3) - (int_value(res, 0, 4) - 1);

	if (free_slots >= 3)
		check_add(ctx, "connection_headroom", CHECK_PASS,
				  "%lld connections free for role \"%s\" (max_connections %lld, %lld in use)",
				  free_slots, ctx->user, max, used);
	else
	{
		r = check_add(ctx, "connection_headroom",
					  free_slots >= 1 ? CHECK_WARN : CHECK_FAIL,
					  "%lld connection%s free for role \"%s\" (max_connections %lld, %lld in use%s)",
					  free_slots, free_slots == 1 ? "" : "s", ctx->user, max, used,
					  int_value(res, 0, 3) >= 0 ? ", the role's CONNECTION LIMIT counted" : "");
		if (is_rds(ctx))
			check_fix(r, "close idle sessions (a pooler helps), or raise max_connections in %s and %s",
					  parameter_group(ctx), restart_words(ctx));
		else
			check_fix(r, "close idle sessions (a pooler helps), or raise max_connections (ALTER SYSTEM SET max_connections = ...; then %s) or the role's CONNECTION LIMIT",
					  restart_words(ctx));
	}
	PQclear(res);
}

static int
compare_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* round_trip: the median time of a trivial query */
static void
check_round_trip(CheckContext *ctx)
{
	int64_t		times[20];
	CheckResult *r;
	int			i;

	for (i = 0; i < 20; i++)
	{
		int64_t		start = wc_now_monotonic();
		PGresult   *res = PQexec(ctx->conn, "SELECT 1");

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			char	   *msg = one_line(PQerrorMessage(ctx->conn));

			check_add(ctx, "round_trip", CHECK_FAIL, "could not check: %s", msg);
			free(msg);
			PQclear(res);
			return;
		}
		PQclear(res);
		times[i] = wc_now_monotonic() - start;
	}
	qsort(times, 20, sizeof(int64_t), compare_int64);
	if (times[10] <= 100000)
		check_add(ctx, "round_trip", CHECK_PASS,
				  "median %.2f ms over 20 queries (fastest %.2f ms, slowest %.2f ms)",
				  times[10] / 1000.0, times[0] / 1000.0, times[19] / 1000.0);
	else
	{
		r = check_add(ctx, "round_trip", CHECK_WARN,
					  "median %.1f ms over 20 queries: acknowledgements reach the server late",
					  times[10] / 1000.0);
		check_fix(r, "run the relay close to the server (the same region and zone)");
	}
}

/* read_speed: how fast the server's rows reach us */
static void
check_read_speed(CheckContext *ctx)
{
	PGresult   *res;
	CheckResult *r;
	int64_t		start = wc_now_monotonic();
	int64_t		bytes = 0;
	double		secs;
	double		mb_per_s;
	char	   *buf;
	int			len;

	res = PQexec(ctx->conn,
				 "COPY (SELECT repeat('x', 1024) FROM generate_series(1, 32768)) TO STDOUT");
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		char	   *msg = one_line(PQerrorMessage(ctx->conn));

		check_add(ctx, "read_speed", CHECK_FAIL, "could not check: %s", msg);
		free(msg);
		PQclear(res);
		return;
	}
	PQclear(res);
	while ((len = PQgetCopyData(ctx->conn, &buf, 0)) > 0)
	{
		bytes += len;
		PQfreemem(buf);
	}
	while ((res = PQgetResult(ctx->conn)) != NULL)
		PQclear(res);
	secs = (wc_now_monotonic() - start) / 1e6;
	mb_per_s = bytes / 1048576.0 / (secs > 0 ? secs : 1e-6);
	if (mb_per_s >= 5)
		check_add(ctx, "read_speed", CHECK_PASS, "%.1f MB in %.2f s: %.0f MB/s",
				  bytes / 1048576.0, secs, mb_per_s);
	else
	{
		r = check_add(ctx, "read_speed", CHECK_WARN,
					  "%.1f MB in %.2f s: %.1f MB/s, slower than a busy server writes WAL",
					  bytes / 1048576.0, secs, mb_per_s);
		check_fix(r, "run the relay close to the server, on a faster network");
	}
}

const CheckFunc check_catalogue[] = {
	check_connection,
	check_platform,
	check_tls,
	check_server_version,
	check_wal_level,
	check_pending_restart,
	check_replication_role,
	check_replication_connection,
	check_plugin,
	check_output_plugin_libraries,
	check_ddl_privilege,
	check_slot_capacity,
	check_slot,
	check_slot_retention,
	check_other_slots,
	check_max_slot_wal_keep_size,
	check_wal_sender_timeout,
	check_long_transactions,
	check_prepared_transactions,
	check_publication,
	check_publication_before_slot,
	check_replica_identity,
	check_unchanged_toast,
	check_select_privilege,
	check_schema_log,
	check_encoding,
	check_connection_headroom,
	check_round_trip,
	check_read_speed,
	NULL
};
