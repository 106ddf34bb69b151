/*-------------------------------------------------------------------------
 *
 * check.c
 *		"walcast check": tell a user, before anything streams, what is wrong
 *		with their server and the exact fix.
 *
 * Runs the checks of check_items.c in order against one database (and, for
 * the privilege check with --all-databases, every database that accepts
 * connections), then prints one line per result: pass, warn, fail or skip,
 * the observed value, and the fix worded for the platform (self-hosted,
 * RDS, Aurora).  --json prints the same as one JSON object.
 *
 * The server is left as it was, except for a temporary replication slot
 * that proves the output plugin loads and is dropped again.  With --fix,
 * the statements that the checks marked as plain SQL the connected role
 * may run are run, each in its own transaction; then every check runs
 * again and the report shows the state after the fixes, preceded by what
 * was done.
 *
 * Exit status: 0 when every check passes (skipped ones aside),
 * CHECK_EXIT_WARNINGS when some warn and none fails, CHECK_EXIT_FAILURES
 * when any fails, 2 on a usage error.
 *
 *-------------------------------------------------------------------------
 */
#include "check.h"
#include "commands.h"
#include "common.h"
#include "json.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a statement --fix ran, and how it went */
typedef struct AppliedFix
{
	const char *check;			/* the check that proposed it */
	char	   *database;		/* where it ran */
	char	   *sql;			/* the statement */
	char	   *error;			/* the server's message; NULL when it worked */
	bool		restart;		/* takes effect only after a restart */
	struct AppliedFix *next;
} AppliedFix;

static const char *const status_names[] = {
	[CHECK_PASS] = "pass",
	[CHECK_WARN] = "warn",
	[CHECK_FAIL] = "fail",
	[CHECK_SKIP] = "skip",
};

static void
usage(FILE *out)
{
	fprintf(out,
			"walcast check tells, before anything streams, what is wrong with a\n"
			"PostgreSQL server for walcast, and the exact fix.\n\n"
			"Usage:\n"
			"  walcast check [OPTION]...\n\n"
			"Connection options:\n"
			"  -d, --dbname=CONNSTR    connection string or URI (default: PG* variables)\n\n"
			"What to check:\n"
			"  -S, --slot=NAME         the replication slot the relay will use\n"
			"  -P, --publication=NAME  the publication (pgoutput mode); it limits the\n"
			"                          tables in scope\n"
			"      --plugin=NAME       output plugin the relay will use: walcast or\n"
			"                          pgoutput (default: walcast)\n"
			"      --all-databases     check SELECT privileges in every database\n\n"
			"Output and changes:\n"
			"      --json              print the report as one JSON object\n"
			"      --fix               apply the fixes that are plain SQL the connected\n"
			"                          role may run, say what was done, check again\n"
			"  -v, --verbose           show progress on stderr\n"
			"  -?, --help              show this help, then exit\n\n"
			"The server is not changed, except for a temporary replication slot that\n"
			"is dropped again, unless --fix is given.\n\n"
			"Exit status:\n"
			"  0  every check passed\n"
			"  %d  usage error\n"
			"  %d  some checks warn, none fails\n"
			"  %d  at least one check fails (or the server could not be reached)\n",
			WC_EXIT_USAGE, CHECK_EXIT_WARNINGS, CHECK_EXIT_FAILURES);
}

/*
 * Add a result; the caller adds fix lines to it.
 */
CheckResult *
check_add(CheckContext *ctx, const char *name, CheckStatus status,
		  const char *fmt,...)
{
	CheckResult *r = wc_malloc0(sizeof(CheckResult));
	va_list		args;

	va_start(args, fmt);
	r->observed = wc_vpsprintf(fmt, args);
	va_end(args);

	r->name = name;
	r->status = status;
	r->fix = wc_malloc0(sizeof(char *));
	if (ctx->tail)
		ctx->tail->next = r;
	else
		ctx->head = r;
	ctx->tail = r;
	wc_info("%s: %s", name, status_names[status]);
	return r;
}

void
check_fix(CheckResult *r, const char *fmt,...)
{
	va_list		args;
	char	   *line;

	va_start(args, fmt);
	line = wc_vpsprintf(fmt, args);
	va_end(args);

	r->fix = wc_realloc(r->fix, sizeof(char *) * (r->nfix + 2));
	r->fix[r->nfix++] = line;
	r->fix[r->nfix] = NULL;
}

/*
 * Add a statement to a result's fix; it is also printed as a fix line,
 * indented under the line before it.
 */
void
check_fix_sql(CheckResult *r, const char *database, const char *run_as,
			  bool auto_apply, const char *fmt,...)
{
	CheckFixSql *s = wc_malloc0(sizeof(CheckFixSql));
	CheckFixSql **tail;
	va_list		args;

	va_start(args, fmt);
	s->sql = wc_vpsprintf(fmt, args);
	va_end(args);
	s->database = wc_strdup(database);
	s->run_as = wc_strdup(run_as);
	s->auto_apply = auto_apply;

	for (tail = &r->sql; *tail; tail = &(*tail)->next)
		;
	*tail = s;
	check_fix(r, "  %s", s->sql);
}

static void
free_results(CheckContext *ctx)
{
	CheckResult *r = ctx->head;

	while (r)
	{
		CheckResult *next = r->next;
		CheckFixSql *s = r->sql;
		int			i;

		while (s)
		{
			CheckFixSql *snext = s->next;

			free(s->database);
			free(s->run_as);
			free(s->sql);
			free(s);
			s = snext;
		}
		for (i = 0; i < r->nfix; i++)
			free(r->fix[i]);
		free(r->fix);
		free(r->observed);
		free(r->database);
		free(r);
		r = next;
	}
	ctx->head = ctx->tail = NULL;
}

const char *
check_platform_name(CheckPlatform platform)
{
	switch (platform)
	{
		case PLATFORM_SELF_HOSTED:
			return "self-hosted";
		case PLATFORM_RDS:
			return "RDS";
		case PLATFORM_AURORA:
			return "Aurora";
	}
	return "self-hosted";
}

/*
 * Run one statement; NULL on error, with a copy of the server's message
 * (without its trailing newline) in *error, which the caller frees.
 */
PGresult *
check_query(PGconn *conn, char **error, const char *sql,
			int nparams, const char *const *params)
{
	PGresult   *res;
	ExecStatusType st;
	size_t		len;

	*error = NULL;
	/* the simple protocol for statements without parameters (ALTER SYSTEM) */
	if (nparams == 0)
		res = PQexec(conn, sql);
	else
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	*error = wc_strdup(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?
					   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) :
					   PQerrorMessage(conn));
	len = strlen(*error);
	while (len > 0 && (*error)[len - 1] == '\n')
		(*error)[--len] = '\0';
	PQclear(res);
	return NULL;
}

/*
 * Connect as -d says, to another database when dbname is not NULL, and
 * as a replication connection (replication=database) when asked.
 */
PGconn *
check_connect(CheckContext *ctx, const char *dbname, bool replication)
{
	const char *keywords[5];
	const char *values[5];
	int			n = 0;

	keywords[n] = "dbname";
	values[n++] = ctx->conninfo ? ctx->conninfo : "";
	if (dbname)
	{
		/* only the first dbname is expanded as a connection string */
		keywords[n] = "dbname";
		values[n++] = dbname;
	}
	if (replication)
	{
		keywords[n] = "replication";
		values[n++] = "database";
	}
	keywords[n] = "fallback_application_name";
	values[n++] = "walcast check";
	keywords[n] = NULL;
	values[n] = NULL;
	return PQconnectdbParams(keywords, values, 1);
}

/*
 * Run the statements marked auto_apply, each in the database it names, and
 * record what happened.
 */
static AppliedFix *
apply_fixes(CheckContext *ctx)
{
	AppliedFix *head = NULL;
	AppliedFix **tail = &head;
	CheckResult *r;

	for (r = ctx->head; r; r = r->next)
	{
		CheckFixSql *s;

		if (r->status == CHECK_PASS || r->status == CHECK_SKIP)
			continue;
		for (s = r->sql; s; s = s->next)
		{
			AppliedFix *a;
			PGconn	   *conn = ctx->conn;
			PGresult   *res;

			if (!s->auto_apply)
				continue;
			a = wc_malloc0(sizeof(AppliedFix));
			a->check = r->name;
			a->database = wc_strdup(s->database);
			a->sql = wc_strdup(s->sql);
			a->restart = r->restart;
			*tail = a;
			tail = &a->next;

			if (strcmp(s->database, ctx->dbname) != 0)
			{
				conn = check_connect(ctx, s->database, false);
				if (PQstatus(conn) != CONNECTION_OK)
				{
					a->error = wc_psprintf("could not connect to database \"%s\": %s",
										   s->database, PQerrorMessage(conn));
					a->error[strcspn(a->error, "\n")] = '\0';
					PQfinish(conn);
					continue;
				}
			}
			wc_info("applying in database \"%s\": %s", s->database, s->sql);
			res = check_query(conn, &a->error, s->sql, 0, NULL);
			PQclear(res);
			/* the postmaster reloads asynchronously; let it before we check again */
			if (a->error == NULL && strstr(s->sql, "pg_reload_conf()"))
				usleep(500000);
			if (conn != ctx->conn)
				PQfinish(conn);
		}
	}
	return head;
}

static void
free_applied(AppliedFix *a)
{
	while (a)
	{
		AppliedFix *next = a->next;

		free(a->database);
		free(a->sql);
		free(a->error);
		free(a);
		a = next;
	}
}

/*
 * Run the catalogue.  The first check connects; without a connection
 * nothing else can be checked.
 */
static void
run_checks(CheckContext *ctx)
{
	const CheckFunc *f;

	for (f = check_catalogue; *f; f++)
	{
		(*f) (ctx);
		if (ctx->conn == NULL)
			break;
	}
}

static void
close_connections(CheckContext *ctx)
{
	if (ctx->repl)
		PQfinish(ctx->repl);
	if (ctx->conn)
		PQfinish(ctx->conn);
	ctx->repl = ctx->conn = NULL;
	ctx->repl_ok = ctx->wal_logical = false;
	ctx->probe = PROBE_NOT_RUN;
	free(ctx->version);
	free(ctx->user);
	free(ctx->user_ident);
	free(ctx->dbname);
	free(ctx->db_ident);
	free(ctx->slot_plugin);
	ctx->version = ctx->user = ctx->user_ident = NULL;
	ctx->dbname = ctx->db_ident = ctx->slot_plugin = NULL;
}

static void
count_results(const CheckContext *ctx, int counts[4])
{
	const CheckResult *r;

	counts[CHECK_PASS] = counts[CHECK_WARN] = 0;
	counts[CHECK_FAIL] = counts[CHECK_SKIP] = 0;
	for (r = ctx->head; r; r = r->next)
		counts[r->status]++;
}

/* text output */

static void
print_text(const CheckContext *ctx, const AppliedFix *applied, bool fixing)
{
	const CheckResult *r;
	const AppliedFix *a;
	int			counts[4];
	int			nchecks = 0;

	if (fixing)
	{
		if (applied == NULL)
			printf("fix: nothing to apply: no failing check has a fix that is plain SQL the connected role may run\n");
		for (a = applied; a; a = a->next)
		{
			if (a->error)
				printf("fix: could not apply in database \"%s\": %s\n     error: %s\n",
					   a->database, a->sql, a->error);
			else
				printf("fix: applied in database \"%s\": %s%s\n", a->database,
					   a->sql,
					   a->restart ? " (takes effect after a restart)" : "");
		}
		printf("fix: checking again\n\n");
	}

	if (ctx->version)
		printf("server: PostgreSQL %s, %s%s, database \"%s\", user \"%s\"\n\n",
			   ctx->version, check_platform_name(ctx->platform),
			   ctx->standby ? " standby" : "", ctx->dbname, ctx->user);

	for (r = ctx->head; r; r = r->next)
	{
		int			i;

		nchecks++;
		if (r->database)
			printf("%-4s  %-24s database \"%s\": %s\n", status_names[r->status],
				   r->name, r->database, r->observed);
		else
			printf("%-4s  %-24s %s\n", status_names[r->status], r->name,
				   r->observed);
		for (i = 0; i < r->nfix; i++)
			printf("      %s %s\n", i == 0 ? "fix:" : "    ", r->fix[i]);
	}
	count_results(ctx, counts);
	printf("\nsummary: %d checks: %d passed, %d warnings, %d failed, %d skipped\n",
		   nchecks, counts[CHECK_PASS], counts[CHECK_WARN], counts[CHECK_FAIL],
		   counts[CHECK_SKIP]);
}

/* JSON output */

static void
json_string(FILE *out, const char *s)
{
	if (s == NULL)
		fputs("null", out);
	else
		json_write_string(out, s, strlen(s));
}

static void
json_key(FILE *out, const char *key, const char *value, bool comma)
{
	json_string(out, key);
	fputc(':', out);
	json_string(out, value);
	if (comma)
		fputc(',', out);
}

/*
 * The report as one JSON object on one line:
 *
 *	{"version": "1.0.0",
 *	 "server": {"version", "platform", "standby", "database", "user"},
 *	 "applied": [{"check", "database", "sql", "ok", "restart", "error"}],
 *	 "checks": [{"name", "status": "pass"|"warn"|"fail"|"skip", "database",
 *				 "observed", "fix": [line, ...],
 *				 "fix_sql": [{"database", "run_as", "sql", "auto"}],
 *				 "restart"}],
 *	 "summary": {"pass", "warn", "fail", "skip"},
 *	 "exit_code"}
 *
 * "applied" is there only with --fix; "database" of a check is null except
 * for per-database results (select_privilege with --all-databases); "auto"
 * marks the statements --fix runs.
 */
static void
print_json(const CheckContext *ctx, const AppliedFix *applied, bool fixing,
		   int exit_code)
{
	FILE	   *out = stdout;
	const CheckResult *r;
	const AppliedFix *a;
	int			counts[4];

	fputs("{", out);
	json_key(out, "version", WALCAST_VERSION, true);
	fputs("\"server\":{", out);
	json_key(out, "version", ctx->version, true);
	json_key(out, "platform", ctx->version ? check_platform_name(ctx->platform) : NULL, true);
	fprintf(out, "\"standby\":%s,", ctx->standby ? "true" : "false");
	json_key(out, "database", ctx->dbname, true);
	json_key(out, "user", ctx->user, false);
	fputs("},", out);

	if (fixing)
	{
		fputs("\"applied\":[", out);
		for (a = applied; a; a = a->next)
		{
			fputs("{", out);
			json_key(out, "check", a->check, true);
			json_key(out, "database", a->database, true);
			json_key(out, "sql", a->sql, true);
			fprintf(out, "\"ok\":%s,\"restart\":%s,",
					a->error ? "false" : "true", a->restart ? "true" : "false");
			json_key(out, "error", a->error, false);
			fputs(a->next ? "}," : "}", out);
		}
		fputs("],", out);
	}

	fputs("\"checks\":[", out);
	for (r = ctx->head; r; r = r->next)
	{
		const CheckFixSql *s;
		int			i;

		fputs("{", out);
		json_key(out, "name", r->name, true);
		json_key(out, "status", status_names[r->status], true);
		json_key(out, "database", r->database, true);
		json_key(out, "observed", r->observed, true);
		fputs("\"fix\":[", out);
		for (i = 0; i < r->nfix; i++)
		{
			json_string(out, r->fix[i]);
			if (i + 1 < r->nfix)
				fputc(',', out);
		}
		fputs("],\"fix_sql\":[", out);
		for (s = r->sql; s; s = s->next)
		{
			fputs("{", out);
			json_key(out, "database", s->database, true);
			json_key(out, "run_as", s->run_as, true);
			json_key(out, "sql", s->sql, true);
			fprintf(out, "\"auto\":%s}%s", s->auto_apply ? "true" : "false",
					s->next ? "," : "");
		}
		fprintf(out, "],\"restart\":%s}%s", r->restart ? "true" : "false",
				r->next ? "," : "");
	}
	count_results(ctx, counts);
	fprintf(out, "],\"summary\":{\"pass\":%d,\"warn\":%d,\"fail\":%d,\"skip\":%d},"
			"\"exit_code\":%d}\n",
			counts[CHECK_PASS], counts[CHECK_WARN], counts[CHECK_FAIL],
			counts[CHECK_SKIP], exit_code);
}

static int
exit_code_of(const CheckContext *ctx)
{
	int			counts[4];

	count_results(ctx, counts);
	if (counts[CHECK_FAIL] > 0)
		return CHECK_EXIT_FAILURES;
	if (counts[CHECK_WARN] > 0)
		return CHECK_EXIT_WARNINGS;
	return WC_EXIT_OK;
}

int
check_main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"slot", required_argument, NULL, 'S'},
		{"publication", required_argument, NULL, 'P'},
		{"plugin", required_argument, NULL, 1},
		{"all-databases", no_argument, NULL, 2},
		{"json", no_argument, NULL, 3},
		{"fix", no_argument, NULL, 4},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0}
	};
	CheckContext ctx = {0};
	AppliedFix *applied = NULL;
	bool		json = false;
	bool		fix = false;
	int			c;
	int			exit_code;

	ctx.plugin = "walcast";
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		usage(stdout);
		return WC_EXIT_OK;
	}
	optind = 1;
	opterr = 0;					/* our messages, in our style */
	while ((c = getopt_long(argc, argv, ":d:S:P:v", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				ctx.conninfo = optarg;
				break;
			case 'S':
				ctx.slot = optarg;
				break;
			case 'P':
				ctx.publication = optarg;
				break;
			case 1:
				if (strcmp(optarg, "walcast") != 0 && strcmp(optarg, "pgoutput") != 0)
				{
					wc_error("invalid value \"%s\" for option --plugin", optarg);
					wc_log_hint("Valid values are \"walcast\" and \"pgoutput\".");
					return WC_EXIT_USAGE;
				}
				ctx.plugin = optarg;
				break;
			case 2:
				ctx.all_databases = true;
				break;
			case 3:
				json = true;
				break;
			case 4:
				fix = true;
				break;
			case 'v':
				wc_log_min_level = WC_LOG_INFO;
				break;
			case ':':
				wc_error("option \"%s\" requires an argument", argv[optind - 1]);
				wc_log_hint("Try \"walcast check --help\" for more information.");
				return WC_EXIT_USAGE;
			default:
				wc_error("unrecognized option \"%s\"", argv[optind - 1]);
				wc_log_hint("Try \"walcast check --help\" for more information.");
				return WC_EXIT_USAGE;
		}
	}
	if (optind < argc)
	{
		wc_error("too many command-line arguments (first is \"%s\")",
				 argv[optind]);
		wc_log_hint("Try \"walcast check --help\" for more information.");
		return WC_EXIT_USAGE;
	}

	run_checks(&ctx);
	if (fix && ctx.conn)
	{
		applied = apply_fixes(&ctx);
		free_results(&ctx);
		close_connections(&ctx);
		run_checks(&ctx);
	}

	exit_code = exit_code_of(&ctx);
	if (json)
		print_json(&ctx, applied, fix, exit_code);
	else
		print_text(&ctx, applied, fix);
	fflush(stdout);

	free_applied(applied);
	free_results(&ctx);
	close_connections(&ctx);
	return exit_code;
}
