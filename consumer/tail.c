/*-------------------------------------------------------------------------
 *
 * tail.c
 *		walcast tail: print a relay's stream as JSON lines.
 *
 * Each envelope becomes one line: the routing fields of the relay
 * (topic, sequence, tx_end_lsn) and the envelope itself, decoded with the
 * protobuf-c code generated from walcast.proto (json.c).  On the publish
 * socket lines are printed as they come and gaps are reported on stderr.
 * As a durable subscriber (--durable NAME) a transaction is printed when
 * its Commit arrives and then acknowledged, so what tail prints is every
 * transaction once, in commit order, even across restarts of the relay;
 * give --applied the last end_lsn printed to resume a stopped tail.
 *
 *-------------------------------------------------------------------------
 */
#include "commands.h"
#include "common.h"
#include "envelope.h"
#include "json.h"
#include "rels.h"
#include "sub.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "walcast/v1/relay.pb-c.h"
#include "walcast/v1/walcast.pb-c.h"

#define DEFAULT_PUBLISH "tcp://127.0.0.1:5555"
#define DEFAULT_DURABLE "tcp://127.0.0.1:5556"

typedef struct TailOptions
{
	char	   *endpoint;
	char	  **topics;			/* publish: subscription prefixes */
	int			ntopics;
	char	  **tables;			/* table topics without the final "." */
	int			ntables;
	char	   *durable;		/* subscriber name */
	char	   *token;
	WcLsn		applied;
	int64_t		count;			/* stop after this many; 0: never */
	int64_t		idle_exit;		/* seconds; 0: never */
	bool		base64;			/* --envelope=base64 */
	bool		stats;			/* --stats: count, print no lines */
} TailOptions;

/* what --stats counts */
typedef struct TailStats
{
	int64_t		started;		/* monotonic µs of the first message */
	int64_t		last;			/* ... and of the last */
	uint64_t	messages;
	uint64_t	transactions;
	uint64_t	bytes;			/* envelope bytes */
	uint64_t	gaps;			/* messages lost (publish socket) */
	int64_t    *latencies;		/* commit to delivery, µs, per transaction */
	size_t		nlatencies;
	size_t		cap;
} TailStats;

/* a durable transaction waiting for its Commit */
typedef struct Pending
{
	uint8_t   **envelopes;
	size_t	   *lens;
	uint64_t   *sequences;
	size_t		n;
	size_t		cap;
} Pending;

static volatile sig_atomic_t tail_stop = 0;

static void
tail_signal(int signo)
{
	tail_stop = 1;
}

static void
usage(void)
{
	printf("walcast tail prints the stream of a walcast relay as JSON lines.\n\n");
	printf("Usage:\n  walcast tail [OPTION]...\n");
	printf("\nFrom the publish socket (the default):\n");
	printf("  -p, --publish=ENDPOINT   relay's publish socket (default \"%s\")\n", DEFAULT_PUBLISH);
	printf("  -t, --topic=PREFIX       topics starting with PREFIX (repeatable; default: all)\n");
	printf("      --table=DB.SCHEMA.TABLE\n"
		   "                           one table, with its database's transaction events\n"
		   "                           (repeatable; quote identifiers as in topics)\n");
	printf("\nAs a durable subscriber:\n");
	printf("      --durable=NAME       subscriber NAME, as declared to the relay\n");
	printf("      --token=TOKEN        its token\n");
	printf("  -e, --endpoint=ENDPOINT  relay's durable socket (default \"%s\")\n", DEFAULT_DURABLE);
	printf("      --applied=LSN        transactions up to LSN were printed before\n");
	printf("\nOutput:\n");
	printf("      --envelope=FORMAT    \"json\" (default), or \"base64\": the envelope's bytes\n"
		   "                           for a decoder of your own\n");
	printf("      --stats              print no messages; at the end one JSON line with\n"
		   "                           counts, rates and commit-to-delivery latency\n");
	printf("\nStopping:\n");
	printf("  -n, --count=N            exit after N messages (durable: transactions)\n");
	printf("      --idle-exit=SECS     exit after SECS without a message\n");
	printf("  -?, --help               show this help, then exit\n");
	printf("\nExit status: 0 done or stopped, 1 failure, 2 wrong usage, 3 evicted by the\n"
		   "relay: resynchronize.\n");
}

static bool
parse_options(int argc, char **argv, TailOptions *opt, bool *help)
{
	static const struct option long_options[] = {
		{"publish", required_argument, NULL, 'p'},
		{"topic", required_argument, NULL, 't'},
		{"table", required_argument, NULL, 1},
		{"durable", required_argument, NULL, 2},
		{"token", required_argument, NULL, 3},
		{"endpoint", required_argument, NULL, 'e'},
		{"applied", required_argument, NULL, 4},
		{"count", required_argument, NULL, 'n'},
		{"idle-exit", required_argument, NULL, 5},
		{"envelope", required_argument, NULL, 6},
		{"stats", no_argument, NULL, 7},
		{NULL, 0, NULL, 0}
	};
	char	   *publish = NULL;
	char	   *endpoint = NULL;
	int			c;

	*help = false;
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		*help = true;
		return true;
	}
	argv[0] = "walcast tail";
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:t:e:n:", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'p':
				publish = optarg;
				break;
			case 't':
				opt->topics = wc_realloc(opt->topics, (opt->ntopics + 1) * sizeof(char *));
				opt->topics[opt->ntopics++] = optarg;
				break;
			case 1:
				opt->tables = wc_realloc(opt->tables, (opt->ntables + 1) * sizeof(char *));
				opt->tables[opt->ntables++] = optarg;
				break;
			case 2:
				opt->durable = optarg;
				break;
			case 3:
				opt->token = optarg;
				break;
			case 'e':
				endpoint = optarg;
				break;
			case 4:
				if (!wc_parse_lsn(optarg, &opt->applied))
				{
					wc_error("invalid value \"%s\" for option --applied", optarg);
					wc_log_hint("Give an LSN as PostgreSQL writes it, such as \"0/16B3748\".");
					return false;
				}
				break;
			case 'n':
				if (!wc_parse_int_option("--count", optarg, 1, INT64_MAX, &opt->count))
					return false;
				break;
			case 5:
				if (!wc_parse_int_option("--idle-exit", optarg, 1, 86400, &opt->idle_exit))
					return false;
				break;
			case 6:
				if (strcmp(optarg, "json") != 0 && strcmp(optarg, "base64") != 0)
				{
					wc_error("invalid value \"%s\" for option --envelope", optarg);
					wc_log_hint("Valid values are \"json\" and \"base64\".");
					return false;
				}
				opt->base64 = strcmp(optarg, "base64") == 0;
				break;
			case 7:
				opt->stats = true;
				break;
			default:
				wc_log_hint("Try \"walcast tail --help\" for more information.");
				return false;
		}
	}
	if (optind < argc)
	{
		wc_error("too many command-line arguments (first is \"%s\")", argv[optind]);
		wc_log_hint("Try \"walcast tail --help\" for more information.");
		return false;
	}
	if (opt->durable && (publish || opt->ntopics > 0))
	{
		wc_error("--durable cannot be combined with --publish or --topic");
		return false;
	}
	if (!opt->durable && (endpoint || opt->token || opt->applied))
	{
		wc_error("--endpoint, --token and --applied need --durable");
		return false;
	}
	for (int i = 0; i < opt->ntables; i++)
	{
		size_t		len = strlen(opt->tables[i]);

		if (len == 0 || opt->tables[i][len - 1] == '.')
		{
			wc_error("invalid table \"%s\"", opt->tables[i]);
			wc_log_hint("Name a table as DATABASE.SCHEMA.TABLE, such as \"shop.public.users\".");
			return false;
		}
	}
	opt->endpoint = opt->durable ? (endpoint ? endpoint : DEFAULT_DURABLE) :
		(publish ? publish : DEFAULT_PUBLISH);
	return true;
}

/* whether a table topic is one --table asked for (all when none) */
static bool
table_wanted(const TailOptions *opt, const char *topic, size_t len)
{
	if (opt->ntables == 0)
		return true;
	for (int i = 0; i < opt->ntables; i++)
	{
		size_t		n = strlen(opt->tables[i]);

		if (len == n + 1 && memcmp(topic, opt->tables[i], n) == 0)
			return true;
	}
	return false;
}

/* print one envelope line; false when it cannot be decoded */
static bool
print_line(const WcSubMessage *msg, const uint8_t *envelope, size_t len,
		   uint64_t sequence, bool base64)
{
	Walcast__V1__Envelope *env = walcast__v1__envelope__unpack(NULL, len, envelope);

	if (env == NULL)
	{
		wc_warning("could not decode a message of %zu bytes (sequence %llu)",
				   len, (unsigned long long) sequence);
		return false;
	}
	putchar('{');
	if (msg && msg->topic)
	{
		fputs("\"topic\":", stdout);
		json_write_string(stdout, msg->topic, msg->topic_len);
		putchar(',');
	}
	printf("\"sequence\":\"%llu\"", (unsigned long long) sequence);
	if (msg && msg->gap)
		printf(",\"gap\":\"%llu\"", (unsigned long long) msg->gap);
	if (msg && msg->tx_end_lsn)
		printf(",\"tx_end_lsn\":\"" WC_LSN_FMT "\"", WC_LSN_ARGS(msg->tx_end_lsn));
	if (msg && msg->repeated_relation)
		fputs(",\"repeated_relation\":true", stdout);
	fputs(",\"envelope\":", stdout);
	if (base64)
		json_write_base64(stdout, envelope, len);
	else
		json_write_message(stdout, &env->base);
	fputs("}\n", stdout);
	walcast__v1__envelope__free_unpacked(env, NULL);
	return true;
}

static void
pending_add(Pending *p, const WcSubMessage *msg)
{
	if (p->n == p->cap)
	{
		p->cap = p->cap ? p->cap * 2 : 64;
		p->envelopes = wc_realloc(p->envelopes, p->cap * sizeof(uint8_t *));
		p->lens = wc_realloc(p->lens, p->cap * sizeof(size_t));
		p->sequences = wc_realloc(p->sequences, p->cap * sizeof(uint64_t));
	}
	p->envelopes[p->n] = wc_malloc(msg->envelope_len);
	memcpy(p->envelopes[p->n], msg->envelope, msg->envelope_len);
	p->lens[p->n] = msg->envelope_len;
	p->sequences[p->n] = msg->sequence;
	p->n++;
}

static void
pending_clear(Pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->envelopes[i]);
	p->n = 0;
}

/*
 * Durable mode: one delivery.  Returns the number of whole transactions
 * it completed (printed and acknowledged): 0 or 1.
 */
static int
durable_message(WcSub *sub, const TailOptions *opt, RelTable *rels,
				Pending *pending, bool *open, const WcSubMessage *msg,
				WcError *err, int *rc)
{
	EnvelopeInfo info;
	WcSubMessage line = *msg;

	if (envelope_scan(msg->envelope, msg->envelope_len, &info) < 0)
	{
		wc_warning("could not decode a message of %zu bytes (sequence %llu)",
				   msg->envelope_len, (unsigned long long) msg->sequence);
		return 0;
	}
	if (info.kind == ENV_RELATION && wcsub_database(sub))
		rels_update(rels, wcsub_database(sub), info.rel_id, info.schema,
					info.schema_len, info.name, info.name_len,
					msg->envelope, msg->envelope_len);
	if (envelope_is_table_event(info.kind))
	{
		RelInfo    *rel = rels_find(rels, info.rel_id);

		if (rel && !table_wanted(opt, rel->topic, rel->topic_len))
			return 0;
	}
	if (info.kind == ENV_BEGIN || info.kind == ENV_BEGIN_PREPARE)
	{
		/* a transaction left open was cut off; it comes again whole */
		pending_clear(pending);
		*open = true;
	}
	if (*open)
	{
		pending_add(pending, msg);
		if (info.kind != ENV_COMMIT && info.kind != ENV_PREPARE)
			return 0;
		for (size_t i = 0; i < pending->n; i++)
		{
			line.tx_end_lsn = msg->tx_end_lsn;
			line.repeated_relation = false;
			print_line(&line, pending->envelopes[i], pending->lens[i],
					   pending->sequences[i], opt->base64);
		}
		pending_clear(pending);
		*open = false;
	}
	else
		print_line(msg, msg->envelope, msg->envelope_len, msg->sequence,
				   opt->base64);
	if (!envelope_ends_transaction(info.kind))
		return 0;
	if (fflush(stdout) != 0)
	{
		wc_error("could not write to standard output: %s", strerror(errno));
		*rc = WC_EXIT_FAILURE;
		return 0;
	}
	if (wcsub_ack(sub, info.end_lsn, err) < 0)
	{
		wc_log_wcerror(WC_LOG_ERROR, err);
		*rc = WC_EXIT_FAILURE;
	}
	return 1;
}

/*
 * --stats: count one message; a transaction's end gives a latency.
 * Returns that end's LSN, or 0 when the message ends no transaction.
 */
static WcLsn
stats_count(TailStats *st, const WcSubMessage *msg)
{
	EnvelopeInfo info;
	int64_t		now = wc_now_monotonic();

	if (st->messages == 0)
		st->started = now;
	st->last = now;
	st->messages++;
	st->bytes += msg->envelope_len;
	st->gaps += msg->gap;
	if (envelope_scan(msg->envelope, msg->envelope_len, &info) < 0 ||
		!envelope_ends_transaction(info.kind))
		return 0;
	st->transactions++;
	if (info.time == 0)
		return info.end_lsn;
	if (st->nlatencies == st->cap)
	{
		st->cap = st->cap ? st->cap * 2 : 1024;
		st->latencies = wc_realloc(st->latencies, st->cap * sizeof(int64_t));
	}
	st->latencies[st->nlatencies++] = wc_now_unix() - info.time;
	return info.end_lsn;
}

static int
compare_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* the value below which a fraction q of the sorted latencies fall */
static int64_t
percentile(const TailStats *st, double q)
{
	size_t		i;

	if (st->nlatencies == 0)
		return 0;
	i = (size_t) (q * (double) (st->nlatencies - 1) + 0.5);
	return st->latencies[i];
}

static void
stats_print(TailStats *st)
{
	double		secs = (double) (st->last - st->started) / 1e6;

	qsort(st->latencies, st->nlatencies, sizeof(int64_t), compare_int64);
	printf("{\"messages\":%llu,\"transactions\":%llu,\"bytes\":%llu,\"lost\":%llu,"
		   "\"seconds\":%.6f,\"messages_per_second\":%.1f,\"megabytes_per_second\":%.3f,"
		   "\"latency_us\":{\"count\":%zu,\"p50\":%lld,\"p99\":%lld,\"max\":%lld}}\n",
		   (unsigned long long) st->messages, (unsigned long long) st->transactions,
		   (unsigned long long) st->bytes, (unsigned long long) st->gaps, secs,
		   secs > 0 ? st->messages / secs : 0.0,
		   secs > 0 ? st->bytes / secs / 1e6 : 0.0, st->nlatencies,
		   (long long) percentile(st, 0.5), (long long) percentile(st, 0.99),
		   (long long) percentile(st, 1.0));
	free(st->latencies);
}

int
tail_main(int argc, char **argv)
{
	TailOptions opt;
	WcSubOptions sopt;
	WcError		err;
	WcSub	   *sub;
	void	   *zctx;
	RelTable   *rels = rels_new();
	Pending		pending = {0};
	TailStats	stats = {0};
	bool		open = false;
	bool		help;
	int64_t		done = 0;
	int64_t		last_message = wc_now_monotonic();
	int			rc = WC_EXIT_OK;
	char	  **topics;
	int			ntopics = 0;
	struct sigaction sa;

	memset(&opt, 0, sizeof(opt));
	if (!parse_options(argc, argv, &opt, &help))
		return WC_EXIT_USAGE;
	if (help)
	{
		usage();
		return WC_EXIT_OK;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tail_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* --table DB.SCHEMA.TABLE: the table's topic and its database's */
	topics = wc_malloc0((opt.ntopics + 2 * opt.ntables + 1) * sizeof(char *));
	for (int i = 0; i < opt.ntopics; i++)
		topics[ntopics++] = wc_strdup(opt.topics[i]);
	for (int i = 0; i < opt.ntables; i++)
	{
		const char *dot = strchr(opt.tables[i], '.');

		topics[ntopics++] = wc_psprintf("%s.", opt.tables[i]);
		if (dot)
			topics[ntopics++] = wc_psprintf("%.*s..", (int) (dot - opt.tables[i]),
											opt.tables[i]);
	}

	memset(&sopt, 0, sizeof(sopt));
	sopt.endpoint = opt.endpoint;
	sopt.topics = (const char *const *) topics;
	sopt.ntopics = ntopics;
	sopt.name = opt.durable;
	sopt.token = opt.token;
	sopt.applied_lsn = opt.applied;
	zctx = zmq_ctx_new();
	sub = wcsub_new(zctx, opt.durable ? WCSUB_DURABLE : WCSUB_PUBLISH, &sopt, &err);
	if (sub == NULL)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		rc = WC_EXIT_USAGE;
		goto done;
	}

	while (!tail_stop && rc == WC_EXIT_OK)
	{
		WcSubMessage msg;
		int			got = wcsub_next(sub, &msg, 200, &err);

		if (got < 0)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			rc = wcsub_refused(sub) == WALCAST__V1__REFUSAL__REASON__REASON_EVICTED ? WC_EXIT_RESYNC : WC_EXIT_FAILURE;
			break;
		}
		if (got == 0)
		{
			if (opt.idle_exit &&
				wc_now_monotonic() - last_message > opt.idle_exit * 1000000)
				break;
			continue;
		}
		last_message = wc_now_monotonic();
		if (opt.stats)
		{
			WcLsn		end = stats_count(&stats, &msg);

			/* durable: acknowledge each transaction as it ends */
			if (opt.durable && end != 0 && wcsub_ack(sub, end, &err) < 0)
			{
				wc_log_wcerror(WC_LOG_ERROR, &err);
				rc = WC_EXIT_FAILURE;
			}
			done += opt.durable ? (end != 0) : 1;
		}
		else if (opt.durable)
			done += durable_message(sub, &opt, rels, &pending, &open, &msg,
									&err, &rc);
		else
		{
			if (msg.gap)
				wc_warning("lost %llu messages on topic \"%.*s\" before sequence %llu",
						   (unsigned long long) msg.gap, (int) msg.topic_len,
						   msg.topic, (unsigned long long) msg.sequence);
			print_line(&msg, msg.envelope, msg.envelope_len, msg.sequence,
					   opt.base64);
			if (fflush(stdout) != 0)
			{
				wc_error("could not write to standard output: %s", strerror(errno));
				rc = WC_EXIT_FAILURE;
			}
			done++;
		}
		if (opt.count && done >= opt.count)
			break;
	}

	if (opt.stats)
		stats_print(&stats);

done:
	wcsub_destroy(&sub);
	zmq_ctx_term(zctx);
	pending_clear(&pending);
	free(pending.envelopes);
	free(pending.lens);
	free(pending.sequences);
	rels_destroy(&rels);
	for (int i = 0; i < ntopics; i++)
		free(topics[i]);
	free(topics);
	free(opt.topics);
	free(opt.tables);
	return rc;
}
