/*-------------------------------------------------------------------------
 *
 * relay.c
 *		walcast relay: from a replication slot to ZeroMQ subscribers.
 *
 * One thread, one loop.  zmq_poll waits on the replication connection, the
 * publish socket (subscriptions), the durable socket (subscribers'
 * messages), the side connection and a self-pipe that signals write to;
 * it never waits longer than a tenth of a second, so timers (status
 * updates, heartbeats, session timeouts) run on time whatever the traffic.
 *
 * Each message of the plugin is routed by a few fields (envelope.c),
 * published once on the publish socket (pub.c) and delivered to every
 * durable subscriber that is online (durable.c).  When one of those has no
 * credit the message is held and the relay stops reading the slot; status
 * updates still go out on their timer, so the server does not time the
 * connection out while subscribers push back.
 *
 * What is confirmed to the server (the flush position of status updates):
 * with durable subscribers, the lowest position that every one of them
 * (not evicted) has acknowledged; without, the end of the last transaction
 * published.  A keepalive that arrives between transactions says that
 * every transaction committed before its position has been sent; a
 * subscriber that has acknowledged all of those is caught up to that
 * position, so an idle database does not pin WAL.  Before a new position
 * is confirmed it is written to the state file (state.c), which is how a
 * slot that was dropped and created again is recognized.
 *
 *-------------------------------------------------------------------------
 */
#include "commands.h"
#include "common.h"
#include "durable.h"
#include "envelope.h"
#include "metrics.h"
#include "pub.h"
#include "rels.h"
#include "state.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define DEFAULT_SLOT			"walcast"
#define DEFAULT_PUBLISH			"tcp://127.0.0.1:5555"
#define DEFAULT_DURABLE			"tcp://127.0.0.1:5556"
#define DEFAULT_PUBLISH_HWM		10000
#define DEFAULT_STATUS_INTERVAL 10
#define DEFAULT_SESSION_TIMEOUT 30
#define DEFAULT_RECONNECT_MAX	30
#define POLL_MAX_MSEC			100
#define READ_BATCH				1000	/* messages read between polls */
#define RUN_REWIND				(-2)	/* run_stream: reconnect at once */
#define SUBSCRIBER_WAIT_SECS	1.0		/* at start, for durable subscribers */

typedef enum LagPolicy
{
	LAG_EVICT,					/* drop the subscriber, free the WAL */
	LAG_HOLD					/* keep the WAL, warn */
} LagPolicy;

typedef struct RelayOptions
{
	char	   *conninfo;		/* -d */
	char	   *slot;			/* -S */
	bool		create_slot;
	bool		two_phase;
	char	  **plugin_names;	/* -o NAME[=VALUE] */
	char	  **plugin_values;
	int			nplugin_options;
	char	   *publish;		/* XPUB endpoint */
	int			publish_hwm;
	char	   *durable;		/* ROUTER endpoint */
	char	  **subscribers;	/* NAME or NAME:TOKEN */
	int			nsubscribers;
	char	  **resets;			/* --reset-subscriber */
	int			nresets;
	int64_t		max_lag;		/* bytes; 0: no limit */
	LagPolicy	lag_policy;
	int			session_timeout;
	char	   *state_file;
	int			status_interval;	/* seconds */
	int			heartbeat;		/* seconds; 0: off */
	int			reconnect_max;	/* seconds */
	char	   *metrics;		/* [HOST:]PORT for Prometheus, or NULL */
} RelayOptions;

/* the relay's whole state */
typedef struct Relay
{
	RelayOptions opt;
	void	   *zctx;
	Publisher  *pub;
	Durable    *durable;		/* NULL without durable subscribers */
	RelTable   *rels;
	RelayState	state;			/* as in the state file */
	bool		state_exists;	/* the file was there when we started */
	char		database[256];
	char	   *tx_topic;		/* "db..": transaction-level events */
	size_t		tx_topic_len;

	/* the replication connection and where its stream is */
	Stream	   *stream;
	bool		in_txn;			/* between Begin and Commit (or Prepare) */
	bool		in_stream;		/* between StreamStart and StreamStop */
	int			open_streams;	/* streamed transactions not yet ended */
	WcLsn		tx_end;			/* end of the transaction being read */
	WcLsn		last_tx_end;	/* end of the last transaction read */
	WcLsn		caught_up_lsn;	/* everything committed before was sent */
	WcLsn		received_lsn;	/* highest WAL position received */
	WcLsn		wal_end;		/* the server's WAL end, last seen */
	WcLsn		published_lsn;	/* end of the last transaction published,
								 * for the life of the process */
	WcLsn		flushed_lsn;	/* flush position last sent */

	/* a message waiting for subscribers' credit */
	bool		holding;
	Routed		held;

	/* the side connection: server WAL position, heartbeats */
	PGconn	   *side;
	bool		side_busy;
	int64_t		next_side;
	WcLsn		server_lsn;		/* pg_current_wal_lsn(), last asked */
	WcLsn		restart_lsn;	/* the slot's, last asked */

	int64_t		next_status;
	uint64_t	messages;		/* read from the slot */
	uint64_t	bytes;			/* ... their envelope bytes */
	uint64_t	transactions;	/* ... transaction ends among them */
	uint64_t	reconnects;		/* streams started after the first */
	Metrics    *metrics;		/* NULL without --metrics */
	int64_t		next_metrics;
} Relay;

static volatile sig_atomic_t stop_requested = 0;
static int	signal_pipe[2] = {-1, -1};

static void
handle_signal(int signo)
{
	int			save_errno = errno;

	if (signo == SIGINT || signo == SIGTERM)
		stop_requested = 1;
	if (signal_pipe[1] >= 0)
		(void) !write(signal_pipe[1], "x", 1);
	errno = save_errno;
}

static void
usage(void)
{
	printf("walcast relay reads a replication slot of the walcast plugin and republishes\n"
		   "every message over ZeroMQ.\n\n");
	printf("Usage:\n  walcast relay [OPTION]...\n");
	printf("\nConnection:\n");
	printf("  -d, --dbname=CONNSTR        database to connect to: a conninfo string or URI;\n"
		   "                              PG* environment variables and .pgpass apply\n");
	printf("  -S, --slot=SLOTNAME         replication slot to read (default \"%s\")\n", DEFAULT_SLOT);
	printf("      --create-slot           create the slot when it does not exist\n");
	printf("      --two-phase             create the slot with two-phase decoding\n");
	printf("  -o, --option=NAME[=VALUE]   pass option NAME to the plugin\n");
	printf("\nPublishing (anyone may subscribe; slow subscribers lose messages):\n");
	printf("  -p, --publish=ENDPOINT      publish socket (default \"%s\")\n", DEFAULT_PUBLISH);
	printf("      --publish-hwm=N         messages queued per subscriber (default %d)\n",
		   DEFAULT_PUBLISH_HWM);
	printf("\nDurable delivery (named subscribers, credit and acknowledgements):\n");
	printf("      --subscriber=NAME[:TOKEN]\n"
		   "                              declare a durable subscriber (repeatable)\n");
	printf("      --durable=ENDPOINT      durable socket (default \"%s\")\n", DEFAULT_DURABLE);
	printf("      --max-lag=SIZE          how far (bytes of WAL, or with kB, MB, GB) a durable\n"
		   "                              subscriber may fall behind (default: no limit)\n");
	printf("      --lag-policy=POLICY     past --max-lag: \"evict\" it or \"hold\" the WAL\n"
		   "                              (default \"evict\")\n");
	printf("      --reset-subscriber=NAME readmit an evicted subscriber at the slot's position\n");
	printf("      --session-timeout=SECS  end a silent subscriber's session (default %d)\n",
		   DEFAULT_SESSION_TIMEOUT);
	printf("      --state-file=FILE       the relay's state (default \"walcast-SLOTNAME.state\")\n");
	printf("\nTiming:\n");
	printf("  -s, --status-interval=SECS  time between status updates to the server (default %d)\n",
		   DEFAULT_STATUS_INTERVAL);
	printf("      --heartbeat=SECS        write a heartbeat message into the WAL every SECS\n"
		   "                              (default 0: none)\n");
	printf("      --reconnect-max=SECS    longest wait between reconnection attempts (default %d)\n",
		   DEFAULT_RECONNECT_MAX);
	printf("      --metrics=[HOST:]PORT   serve Prometheus metrics at http://HOST:PORT/metrics\n");
	printf("\nOther options:\n");
	printf("  -v, --verbose               output verbose messages\n");
	printf("  -?, --help                  show this help, then exit\n");
	printf("\nExit status: 0 stopped by SIGTERM or SIGINT, 1 failure (restart it), 2 wrong\n"
		   "usage or configuration, 3 the slot was lost: subscribers must resynchronize.\n");
}

/* "1024", "64kB", "512MB", "2GB" */
static bool
parse_size(const char *value, int64_t *result)
{
	char	   *end;
	long long	v;
	int64_t		mult = 1;

	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno != 0 || end == value || v < 0)
		return false;
	if (strcmp(end, "kB") == 0)
		mult = 1024;
	else if (strcmp(end, "MB") == 0)
		mult = 1024 * 1024;
	else if (strcmp(end, "GB") == 0)
		mult = INT64_C(1024) * 1024 * 1024;
	else if (*end != '\0')
		return false;
	*result = v * mult;
	return true;
}

static void
add_plugin_option(RelayOptions *opt, const char *arg)
{
	char	   *copy = wc_strdup(arg);
	char	   *eq = strchr(copy, '=');

	opt->plugin_names = wc_realloc(opt->plugin_names,
								   (opt->nplugin_options + 1) * sizeof(char *));
	opt->plugin_values = wc_realloc(opt->plugin_values,
									(opt->nplugin_options + 1) * sizeof(char *));
	if (eq)
		*eq = '\0';
	opt->plugin_names[opt->nplugin_options] = copy;
	opt->plugin_values[opt->nplugin_options] = eq ? eq + 1 : NULL;
	opt->nplugin_options++;
}

static char **
append_arg(char **list, int *n, const char *arg)
{
	list = wc_realloc(list, (*n + 1) * sizeof(char *));
	list[(*n)++] = wc_strdup(arg);
	return list;
}

/* parse the command line; false after printing why not */
static bool
parse_options(int argc, char **argv, RelayOptions *opt, bool *help)
{
	static const struct option long_options[] = {
		{"dbname", required_argument, NULL, 'd'},
		{"slot", required_argument, NULL, 'S'},
		{"create-slot", no_argument, NULL, 1},
		{"two-phase", no_argument, NULL, 2},
		{"option", required_argument, NULL, 'o'},
		{"publish", required_argument, NULL, 'p'},
		{"publish-hwm", required_argument, NULL, 3},
		{"subscriber", required_argument, NULL, 4},
		{"durable", required_argument, NULL, 5},
		{"max-lag", required_argument, NULL, 6},
		{"lag-policy", required_argument, NULL, 7},
		{"reset-subscriber", required_argument, NULL, 8},
		{"session-timeout", required_argument, NULL, 9},
		{"state-file", required_argument, NULL, 10},
		{"status-interval", required_argument, NULL, 's'},
		{"heartbeat", required_argument, NULL, 11},
		{"reconnect-max", required_argument, NULL, 12},
		{"metrics", required_argument, NULL, 13},
		{"verbose", no_argument, NULL, 'v'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	int64_t		n;

	opt->slot = DEFAULT_SLOT;
	opt->publish = DEFAULT_PUBLISH;
	opt->publish_hwm = DEFAULT_PUBLISH_HWM;
	opt->status_interval = DEFAULT_STATUS_INTERVAL;
	opt->session_timeout = DEFAULT_SESSION_TIMEOUT;
	opt->reconnect_max = DEFAULT_RECONNECT_MAX;
	opt->lag_policy = LAG_EVICT;
	*help = false;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-?") == 0))
	{
		*help = true;
		return true;
	}
	argv[0] = "walcast relay";	/* how getopt names us in its messages */
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:S:o:p:s:v", long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				opt->conninfo = optarg;
				break;
			case 'S':
				opt->slot = optarg;
				break;
			case 1:
				opt->create_slot = true;
				break;
			case 2:
				opt->two_phase = true;
				break;
			case 'o':
				add_plugin_option(opt, optarg);
				break;
			case 'p':
				opt->publish = optarg;
				break;
			case 3:
				if (!wc_parse_int_option("--publish-hwm", optarg, 1, 100000000, &n))
					return false;
				opt->publish_hwm = (int) n;
				break;
			case 4:
				opt->subscribers = append_arg(opt->subscribers, &opt->nsubscribers, optarg);
				break;
			case 5:
				opt->durable = optarg;
				break;
			case 6:
				if (!parse_size(optarg, &opt->max_lag))
				{
					wc_error("invalid value \"%s\" for option --max-lag", optarg);
					wc_log_hint("Give a number of bytes, optionally followed by kB, MB or GB.");
					return false;
				}
				break;
			case 7:
				if (strcmp(optarg, "evict") == 0)
					opt->lag_policy = LAG_EVICT;
				else if (strcmp(optarg, "hold") == 0)
					opt->lag_policy = LAG_HOLD;
				else
				{
					wc_error("invalid value \"%s\" for option --lag-policy", optarg);
					wc_log_hint("Valid values are \"evict\" and \"hold\".");
					return false;
				}
				break;
			case 8:
				opt->resets = append_arg(opt->resets, &opt->nresets, optarg);
				break;
			case 9:
				if (!wc_parse_int_option("--session-timeout", optarg, 1, 86400, &n))
					return false;
				opt->session_timeout = (int) n;
				break;
			case 10:
				opt->state_file = optarg;
				break;
			case 's':
				if (!wc_parse_int_option("--status-interval", optarg, 1, 3600, &n))
					return false;
				opt->status_interval = (int) n;
				break;
			case 11:
				if (!wc_parse_int_option("--heartbeat", optarg, 0, 86400, &n))
					return false;
				opt->heartbeat = (int) n;
				break;
			case 12:
				if (!wc_parse_int_option("--reconnect-max", optarg, 1, 3600, &n))
					return false;
				opt->reconnect_max = (int) n;
				break;
			case 13:
				opt->metrics = optarg;
				break;
			case 'v':
				wc_log_min_level = wc_log_min_level == WC_LOG_NOTICE ?
					WC_LOG_INFO : WC_LOG_DEBUG;
				break;
			default:
				wc_log_hint("Try \"walcast relay --help\" for more information.");
				return false;
		}
	}
	if (optind < argc)
	{
		wc_error("too many command-line arguments (first is \"%s\")", argv[optind]);
		wc_log_hint("Try \"walcast relay --help\" for more information.");
		return false;
	}
	if (!stream_valid_slot_name(opt->slot))
	{
		wc_error("replication slot name \"%s\" is invalid", opt->slot);
		wc_log_hint("Replication slot names may only contain lower case letters, numbers, and the underscore character, at most 63 of them.");
		return false;
	}
	for (int i = 0; i < opt->nsubscribers; i++)
	{
		char	   *colon = strchr(opt->subscribers[i], ':');
		char		name[STATE_MAX_NAME + 2];

		snprintf(name, sizeof(name), "%.*s",
				 colon ? (int) (colon - opt->subscribers[i]) : STATE_MAX_NAME + 1,
				 opt->subscribers[i]);
		if (!state_valid_name(name))
		{
			wc_error("durable subscriber name \"%s\" is invalid", name);
			wc_log_hint("Names are 1 to %d letters, digits, \"_\", \".\" or \"-\".",
						STATE_MAX_NAME);
			return false;
		}
		for (int j = 0; j < i; j++)
		{
			if (strncmp(opt->subscribers[j], name, strlen(name)) == 0 &&
				(opt->subscribers[j][strlen(name)] == '\0' ||
				 opt->subscribers[j][strlen(name)] == ':'))
			{
				wc_error("durable subscriber \"%s\" is declared twice", name);
				return false;
			}
		}
	}
	if (opt->durable && opt->nsubscribers == 0)
	{
		wc_error("--durable needs at least one --subscriber");
		return false;
	}
	if (opt->max_lag > 0 && opt->nsubscribers == 0)
	{
		wc_error("--max-lag needs at least one --subscriber");
		return false;
	}
	if (opt->nsubscribers > 0 && opt->durable == NULL)
		opt->durable = DEFAULT_DURABLE;
	if (opt->state_file == NULL)
		opt->state_file = wc_psprintf("walcast-%s.state", opt->slot);
	return true;
}

/*
 * The flush position a subscriber allows: its acknowledged position, or,
 * when it has acknowledged every transaction read, the position up to
 * which the server has sent everything.
 */
static WcLsn
subscriber_position(Relay *relay, Subscriber *sub)
{
	if (sub->acked_lsn >= relay->last_tx_end &&
		relay->caught_up_lsn > sub->acked_lsn)
		return relay->caught_up_lsn;
	return sub->acked_lsn;
}

/* what may be confirmed to the server now */
static WcLsn
safe_flush_lsn(Relay *relay)
{
	WcLsn		lowest = UINT64_MAX;
	bool		any = false;

	if (relay->durable)
	{
		for (int i = 0; i < relay->durable->nsubscribers; i++)
		{
			Subscriber *sub = &relay->durable->subscribers[i];
			WcLsn		pos;

			if (sub->evicted)
				continue;
			pos = subscriber_position(relay, sub);
			if (pos < lowest)
				lowest = pos;
			any = true;
		}
	}
	if (!any)
	{
		/* nobody to wait for: what was published is done */
		lowest = relay->last_tx_end > relay->caught_up_lsn ?
			relay->last_tx_end : relay->caught_up_lsn;
	}
	/* never backwards */
	return lowest > relay->flushed_lsn ? lowest : relay->flushed_lsn;
}

static void
copy_state_subscribers(Relay *relay)
{
	RelayState *st = &relay->state;

	free(st->subscribers);
	st->subscribers = NULL;
	st->nsubscribers = 0;
	if (relay->durable == NULL)
		return;
	st->nsubscribers = relay->durable->nsubscribers;
	st->subscribers = wc_malloc0(st->nsubscribers * sizeof(StateSubscriber));
	for (int i = 0; i < st->nsubscribers; i++)
	{
		Subscriber *sub = &relay->durable->subscribers[i];

		snprintf(st->subscribers[i].name, sizeof(st->subscribers[i].name),
				 "%s", sub->name);
		st->subscribers[i].acked_lsn = sub->acked_lsn;
		st->subscribers[i].evicted = sub->evicted;
	}
}

/* write the state file with confirmed_lsn; 0 or -1 (logged) */
static int
save_state(Relay *relay, WcLsn confirmed_lsn)
{
	WcError		err;
	WcLsn		old = relay->state.confirmed_lsn;

	relay->state.confirmed_lsn = confirmed_lsn;
	copy_state_subscribers(relay);
	if (state_save(relay->opt.state_file, &relay->state, &err) < 0)
	{
		relay->state.confirmed_lsn = old;
		wc_log_wcerror(WC_LOG_ERROR, &err);
		wc_log_detail("The relay does not confirm positions it could not record; the server keeps the WAL.");
		return -1;
	}
	if (relay->durable)
		relay->durable->acks_changed = false;
	return 0;
}

/* send a status update; the flush position is recorded first */
static int
send_status(Relay *relay, bool reply_requested)
{
	WcLsn		flush = safe_flush_lsn(relay);
	WcError		err;

	if (flush > relay->state.confirmed_lsn ||
		(relay->durable && relay->durable->acks_changed))
	{
		if (save_state(relay, flush > relay->state.confirmed_lsn ?
					   flush : relay->state.confirmed_lsn) < 0)
			flush = relay->state.confirmed_lsn;
	}
	if (flush > relay->state.confirmed_lsn)
		flush = relay->state.confirmed_lsn;
	if (flush < relay->flushed_lsn)
		flush = relay->flushed_lsn;
	if (stream_feedback(relay->stream,
						relay->received_lsn > flush ? relay->received_lsn : flush,
						flush, reply_requested, &err) < 0)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		return -1;
	}
	if (flush != relay->flushed_lsn)
		wc_info("confirmed write %X/%X flush %X/%X",
				WC_LSN_ARGS(relay->received_lsn), WC_LSN_ARGS(flush));
	relay->flushed_lsn = flush;
	relay->next_status = wc_now_monotonic() +
		(int64_t) relay->opt.status_interval * 1000000;
	return 0;
}

/* fatal conditions of the slot: exit codes for the caller */
static int
slot_lost(Relay *relay, const char *message, const char *detail)
{
	wc_error("%s", message);
	if (detail)
		wc_log_detail("%s", detail);
	wc_log_hint("The changes since the relay's last confirmed position %X/%X cannot be read. Resynchronize the subscribers, then remove the state file \"%s\" and start the relay again (with --create-slot if the slot is gone).",
				WC_LSN_ARGS(relay->state.confirmed_lsn), relay->opt.state_file);
	return WC_EXIT_RESYNC;
}

/*
 * Connect, check the server and slot against the state file, and start
 * streaming.  0 when streaming, -1 for a transient failure (retry), or an
 * exit code (> 0) when retrying cannot help.
 */
static int
open_stream(Relay *relay)
{
	StreamSystem sys;
	SlotInfo	slot;
	WcError		err;
	char	   *text;
	int			rc;

	relay->stream = stream_connect(relay->opt.conninfo, &err);
	if (relay->stream == NULL)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		return -1;
	}
	if (stream_identify(relay->stream, &sys, &err) < 0 ||
		stream_slot_info(relay->stream, relay->opt.slot, &slot, &err) < 0)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		goto transient;
	}
	if (sys.database[0] == '\0')
	{
		wc_error("the connection has no database");
		wc_log_hint("Logical replication needs a database: name one with -d \"dbname=...\".");
		rc = WC_EXIT_USAGE;
		goto fail;
	}

	if (relay->state_exists && relay->state.system_identifier != sys.system_identifier)
	{
		text = wc_psprintf("The state file \"%s\" was written for the server with system identifier %lu; this server's is %lu.",
						   relay->opt.state_file, relay->state.system_identifier,
						   sys.system_identifier);
		wc_error("replication slot \"%s\" is on another server", relay->opt.slot);
		wc_log_detail("%s", text);
		wc_log_hint("Point --dbname at the server the state file belongs to, or give another --state-file and resynchronize the subscribers.");
		free(text);
		rc = WC_EXIT_RESYNC;
		goto fail;
	}

	if (!slot.exists)
	{
		WcLsn		consistent;

		if (relay->state_exists)
		{
			text = wc_psprintf("replication slot \"%s\" does not exist", relay->opt.slot);
			rc = slot_lost(relay, text, "It was dropped after this relay last read it.");
			free(text);
			goto fail;
		}
		if (!relay->opt.create_slot)
		{
			wc_error("replication slot \"%s\" does not exist", relay->opt.slot);
			wc_log_hint("Start the relay with --create-slot to create it.");
			rc = WC_EXIT_USAGE;
			goto fail;
		}
		if (stream_create_slot(relay->stream, relay->opt.slot,
							   relay->opt.two_phase, &consistent, &err) < 0)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			rc = WC_EXIT_USAGE;
			goto fail;
		}
		wc_notice("created replication slot \"%s\" at %X/%X",
				  relay->opt.slot, WC_LSN_ARGS(consistent));
		if (stream_slot_info(relay->stream, relay->opt.slot, &slot, &err) < 0)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			goto transient;
		}
	}
	if (strcmp(slot.plugin, "walcast") != 0)
	{
		wc_error("replication slot \"%s\" uses output plugin \"%s\", not \"walcast\"",
				 relay->opt.slot, slot.plugin[0] ? slot.plugin : "(physical slot)");
		rc = WC_EXIT_USAGE;
		goto fail;
	}
	if (strcmp(slot.database, sys.database) != 0)
	{
		wc_error("replication slot \"%s\" belongs to database \"%s\", not \"%s\"",
				 relay->opt.slot, slot.database, sys.database);
		wc_log_hint("Connect to database \"%s\".", slot.database);
		rc = WC_EXIT_USAGE;
		goto fail;
	}
	if (strcmp(slot.wal_status, "lost") == 0)
	{
		text = wc_psprintf("replication slot \"%s\" has been invalidated", relay->opt.slot);
		rc = slot_lost(relay, text, "The server removed WAL the slot still needed (see max_slot_wal_keep_size).");
		free(text);
		goto fail;
	}
	if (relay->state_exists && slot.confirmed_flush > relay->state.confirmed_lsn)
	{
		text = wc_psprintf("replication slot \"%s\" is at %X/%X, past the relay's last confirmed position %X/%X",
						   relay->opt.slot, WC_LSN_ARGS(slot.confirmed_flush),
						   WC_LSN_ARGS(relay->state.confirmed_lsn));
		rc = slot_lost(relay, text, "The slot was dropped and created again, or another client consumed it.");
		free(text);
		goto fail;
	}
	if (slot.active)
	{
		wc_error("replication slot \"%s\" is active for PID %d",
				 relay->opt.slot, slot.active_pid);
		wc_log_hint("Another client is reading the slot; the relay retries.");
		goto transient;
	}

	if (!relay->state_exists)
	{
		/* the first run: remember the server and the slot */
		relay->state.system_identifier = sys.system_identifier;
		snprintf(relay->state.slot, sizeof(relay->state.slot), "%s", relay->opt.slot);
		snprintf(relay->state.database, sizeof(relay->state.database), "%s", sys.database);
		if (relay->durable)
		{
			for (int i = 0; i < relay->durable->nsubscribers; i++)
				relay->durable->subscribers[i].acked_lsn = slot.confirmed_flush;
		}
		if (save_state(relay, slot.confirmed_flush) < 0)
		{
			rc = WC_EXIT_FAILURE;
			goto fail;
		}
		relay->state_exists = true;
		wc_notice("recorded server %lu and replication slot \"%s\" in \"%s\"",
				  sys.system_identifier, relay->opt.slot, relay->opt.state_file);
	}
	snprintf(relay->database, sizeof(relay->database), "%s", sys.database);
	if (relay->tx_topic == NULL)
		relay->tx_topic = topic_transaction(relay->database, &relay->tx_topic_len);
	if (relay->durable)
	{
		relay->durable->identity.system_identifier = sys.system_identifier;
		snprintf(relay->durable->identity.slot, sizeof(relay->durable->identity.slot),
				 "%s", relay->opt.slot);
		snprintf(relay->durable->identity.database,
				 sizeof(relay->durable->identity.database), "%s", sys.database);
		relay->durable->wal_end = sys.xlogpos;
	}

	if (stream_start(relay->stream, relay->opt.slot, 0,
					 relay->opt.plugin_names, relay->opt.plugin_values,
					 relay->opt.nplugin_options, &err) < 0)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		/* a wrong plugin option is the user's to fix */
		rc = strcmp(stream_sqlstate(relay->stream), "22023") == 0 ||
			strcmp(stream_sqlstate(relay->stream), "42704") == 0 ?
			WC_EXIT_USAGE : -1;
		if (rc < 0)
			goto transient;
		goto fail;
	}
	wc_notice("streaming from replication slot \"%s\" at %X/%X",
			  relay->opt.slot, WC_LSN_ARGS(slot.confirmed_flush));

	relay->in_txn = relay->in_stream = false;
	relay->open_streams = 0;
	relay->tx_end = 0;
	relay->last_tx_end = 0;
	relay->caught_up_lsn = 0;
	relay->received_lsn = slot.confirmed_flush;
	relay->flushed_lsn = slot.confirmed_flush;
	relay->holding = false;
	relay->next_status = wc_now_monotonic() +
		(int64_t) relay->opt.status_interval * 1000000;
	return 0;

transient:
	stream_destroy(&relay->stream);
	return -1;
fail:
	stream_destroy(&relay->stream);
	return rc;
}

/* track transactions; returns the end LSN of the one the message is in */
static WcLsn
follow_transaction(Relay *relay, const EnvelopeInfo *info)
{
	switch (info->kind)
	{
		case ENV_BEGIN:
		case ENV_BEGIN_PREPARE:
			relay->in_txn = true;
			relay->tx_end = info->end_lsn;
			return info->end_lsn;
		case ENV_COMMIT:
		case ENV_PREPARE:
			relay->in_txn = false;
			relay->tx_end = 0;
			return info->end_lsn;
		case ENV_COMMIT_PREPARED:
		case ENV_ROLLBACK_PREPARED:
			return info->end_lsn;
		case ENV_STREAM_START:
			relay->in_stream = true;
			return 0;
		case ENV_STREAM_STOP:
			relay->in_stream = false;
			return 0;
		case ENV_STREAM_COMMIT:
		case ENV_STREAM_PREPARE:
			return info->end_lsn;
		default:
			return relay->in_txn ? relay->tx_end : 0;
	}
}

/* publish one envelope (and the Relation it needs) */
static int
publish(Relay *relay, const Routed *m)
{
	WcError		err;
	RelInfo    *rel = m->rel;
	const char *topic = rel ? rel->topic : relay->tx_topic;
	size_t		topic_len = rel ? rel->topic_len : relay->tx_topic_len;

	/* read again after a rewind: it went out already */
	if (m->position != 0 && m->position <= relay->published_lsn)
		return 0;
	if (rel != NULL)
	{
		if (m->info.kind == ENV_RELATION)
			rel->published = true;
		else if (!rel->published)
		{
			if (pub_send(relay->pub, topic, topic_len, rel->relation,
						 rel->relation_len, 0, true, &err) < 0)
				goto fail;
			rel->published = true;
		}
	}
	if (pub_send(relay->pub, topic, topic_len, m->envelope, m->len, m->tx_end,
				 false, &err) < 0)
		goto fail;
	return 0;

fail:
	wc_log_wcerror(WC_LOG_ERROR, &err);
	return -1;
}

/*
 * Route one message of the plugin.  Returns 0, or -1 when it cannot be
 * read (the slot does not use the walcast plugin's format).
 */
static int
process_envelope(Relay *relay, const StreamMessage *msg)
{
	Routed		m = {.envelope = msg->data, .len = msg->len};
	EnvelopeInfo *info = &m.info;

	if (envelope_scan(msg->data, msg->len, info) < 0)
	{
		wc_error("could not parse a message of %zu bytes at %X/%X from the plugin",
				 msg->len, WC_LSN_ARGS(msg->data_start));
		wc_log_detail("The message is not a walcast Envelope.");
		return -1;
	}
	if (info->kind == ENV_NONE)
		wc_warning("message at %X/%X has no body the relay recognizes; publishing it as a transaction event",
				   WC_LSN_ARGS(msg->data_start));
	m.tx_end = follow_transaction(relay, info);
	if (info->kind == ENV_STREAM_START)
	{
		/* first_segment is field 1 of StreamStart; count open ones */
		if (info->body_len >= 2 && info->body[0] == 0x08 && info->body[1] == 1)
			relay->open_streams++;
	}
	else if ((info->kind == ENV_STREAM_COMMIT || info->kind == ENV_STREAM_PREPARE ||
			  (info->kind == ENV_STREAM_ABORT && info->body_len == 0)) &&
			 relay->open_streams > 0)
		relay->open_streams--;
	if (info->kind == ENV_RELATION)
		rels_update(relay->rels, relay->database, info->rel_id, info->schema,
					info->schema_len, info->name, info->name_len, msg->data,
					msg->len);
	if (envelope_is_table_event(info->kind))
		m.rel = rels_find(relay->rels, info->rel_id);
	m.position = envelope_position(info, m.tx_end);

	if (publish(relay, &m) < 0)
		return -1;
	if (envelope_ends_transaction(info->kind))
	{
		relay->last_tx_end = info->end_lsn;
		relay->transactions++;
	}
	if (envelope_completes(info) && m.position > relay->published_lsn)
		relay->published_lsn = m.position;
	if (relay->durable)
	{
		durable_begin_message(relay->durable);
		if (!durable_deliver(relay->durable, &m, relay->rels))
		{
			relay->holding = true;
			relay->held = m;
		}
	}
	relay->messages++;
	relay->bytes += msg->len;
	return 0;
}

/*
 * Read what the server sent, until nothing is left, a message must wait
 * for credit, or a batch is done.  0 when nothing is left, 1 when more may
 * be waiting (libpq may hold it already read, where polling the socket
 * does not see it), -1 when the stream failed.
 */
static int
read_stream(Relay *relay)
{
	for (int i = 0; i < READ_BATCH; i++)
	{
		StreamMessage msg;
		WcError		err;
		int			rc = stream_read(relay->stream, &msg, &err);

		if (rc == 0)
			return 0;
		if (rc < 0)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			return -1;
		}
		if (msg.wal_end > relay->wal_end)
			relay->wal_end = msg.wal_end;
		if (relay->durable && relay->wal_end > relay->durable->wal_end)
			relay->durable->wal_end = relay->wal_end;
		if (msg.kind == STREAM_KEEPALIVE)
		{
			if (msg.wal_end > relay->received_lsn)
				relay->received_lsn = msg.wal_end;
			if (!relay->in_txn && !relay->in_stream &&
				msg.wal_end > relay->caught_up_lsn)
				relay->caught_up_lsn = msg.wal_end;
			if (msg.reply_requested && send_status(relay, false) < 0)
				return -1;
			continue;
		}
		if (msg.data_start > relay->received_lsn)
			relay->received_lsn = msg.data_start;
		if (process_envelope(relay, &msg) < 0)
			return -2;
		if (relay->holding)
			return 0;
	}
	return 1;
}

/* how far a subscriber is behind the server, in bytes */
static int64_t
subscriber_lag(Relay *relay, Subscriber *sub)
{
	WcLsn		server = relay->server_lsn > relay->wal_end ?
		relay->server_lsn : relay->wal_end;
	WcLsn		pos = subscriber_position(relay, sub);

	return server > pos ? (int64_t) (server - pos) : 0;
}

static void
check_lag(Relay *relay)
{
	int64_t		now = wc_now_monotonic();

	if (relay->durable == NULL || relay->opt.max_lag == 0)
		return;
	for (int i = 0; i < relay->durable->nsubscribers; i++)
	{
		Subscriber *sub = &relay->durable->subscribers[i];
		int64_t		lag;
		char	   *reason;

		/*
		 * One that is online and takes what the relay reads is as far behind
		 * as the relay itself, and cannot acknowledge a transaction before its
		 * Commit: only one that is away, or has held the stream for want of
		 * credit for a whole session timeout, can be too far behind.
		 */
		if (sub->evicted)
			continue;
		if (sub->online &&
			(!relay->holding || sub->done || sub->blocked_since == 0 ||
			 now - sub->blocked_since < (int64_t) relay->opt.session_timeout * 1000000))
			continue;
		if ((lag = subscriber_lag(relay, sub)) <= relay->opt.max_lag)
			continue;
		reason = wc_psprintf("it is %lld bytes behind the server, over --max-lag %lld",
							 (long long) lag, (long long) relay->opt.max_lag);
		if (relay->opt.lag_policy == LAG_EVICT)
		{
			wc_warning("evicting durable subscriber \"%s\": %s", sub->name, reason);
			wc_log_detail("It no longer holds WAL on the server and must resynchronize (--lag-policy evict).");
			durable_evict(relay->durable, sub, reason);
			if (relay->holding && durable_deliver(relay->durable, &relay->held,
												  relay->rels))
				relay->holding = false;
		}
		else if (now - sub->lag_warned_at > 60 * 1000000)
		{
			wc_warning("durable subscriber \"%s\" holds WAL on the server: %s",
					   sub->name, reason);
			wc_log_detail("The server keeps the WAL until it catches up (--lag-policy hold).");
			sub->lag_warned_at = now;
		}
		free(reason);
	}
}

/* the side connection: WAL position for lag, heartbeats */
static void
side_poll(Relay *relay, int64_t now)
{
	PGresult   *res;

	if (relay->opt.heartbeat == 0 && relay->opt.max_lag == 0 &&
		relay->metrics == NULL)
		return;
	if (relay->side == NULL)
	{
		const char *keys[] = {"dbname", "fallback_application_name", "connect_timeout", NULL};
		const char *values[] = {relay->opt.conninfo, "walcast relay", "5", NULL};

		if (now < relay->next_side)
			return;
		relay->side = PQconnectdbParams(keys, values, 1);
		if (PQstatus(relay->side) != CONNECTION_OK)
		{
			relay->next_side = now + 5 * 1000000;	/* try again then */
			wc_warning("could not open a second connection for the server's WAL position: %s",
					   PQerrorMessage(relay->side));
			PQfinish(relay->side);
			relay->side = NULL;
			return;
		}
		PQsetnonblocking(relay->side, 1);
		relay->side_busy = false;
	}
	if (relay->side_busy)
	{
		if (!PQconsumeInput(relay->side))
			goto broken;
		while (!PQisBusy(relay->side) && (res = PQgetResult(relay->side)) != NULL)
		{
			if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
			{
				wc_parse_lsn(PQgetvalue(res, 0, 0), &relay->server_lsn);
				wc_parse_lsn(PQgetvalue(res, 0, 1), &relay->restart_lsn);
			}
			else
				wc_warning("heartbeat query failed: %s", PQresultErrorMessage(res));
			PQclear(res);
		}
		if (PQisBusy(relay->side))
			return;
		relay->side_busy = false;
	}
	if (now >= relay->next_side)
	{
		/* the slot name is checked by stream_valid_slot_name */
		char	   *sql = wc_psprintf("SELECT pg_catalog.pg_current_wal_lsn(), "
									  "(SELECT restart_lsn FROM pg_catalog.pg_replication_slots"
									  " WHERE slot_name = '%s')%s",
									  relay->opt.slot, relay->opt.heartbeat > 0 ?
									  ", pg_catalog.pg_logical_emit_message(true, 'walcast.heartbeat', "
									  "pg_catalog.now()::pg_catalog.text)" : "");
		int			secs = relay->opt.heartbeat > 0 ?
			relay->opt.heartbeat : relay->opt.status_interval;
		int			sent = PQsendQuery(relay->side, sql);

		free(sql);
		if (!sent)
			goto broken;
		relay->side_busy = true;
		relay->next_side = now + (int64_t) secs * 1000000;
	}
	return;

broken:
	wc_warning("side connection lost: %s", PQerrorMessage(relay->side));
	PQfinish(relay->side);
	relay->side = NULL;
}

static void
close_stream(Relay *relay, bool graceful)
{
	WcError		err;

	if (relay->stream == NULL)
		return;
	if (graceful)
	{
		if (send_status(relay, false) == 0 &&
			stream_stop(relay->stream, &err) < 0)
			wc_log_wcerror(WC_LOG_WARNING, &err);
	}
	stream_destroy(&relay->stream);
	relay->holding = false;
}

/*
 * Render the Prometheus page, at most once a second.  LSNs are exposed as
 * byte positions so that differences are sizes.
 */
static void
publish_metrics(Relay *relay, int64_t now)
{
	char	   *page = NULL;
	size_t		len = 0;
	FILE	   *f;
	const char *slot = relay->opt.slot;
	WcLsn		server = relay->server_lsn > relay->wal_end ?
		relay->server_lsn : relay->wal_end;

	if (relay->metrics == NULL || now < relay->next_metrics)
		return;
	relay->next_metrics = now + 1000000;
	f = open_memstream(&page, &len);
	if (f == NULL)
		return;
#define METRIC(name, type, help) \
	fprintf(f, "# HELP walcast_" name " " help "\n# TYPE walcast_" name " " type "\n")
	METRIC("relay_up", "gauge", "1 while the relay streams from the server");
	fprintf(f, "walcast_relay_up{slot=\"%s\"} %d\n", slot, relay->stream != NULL);
	METRIC("relay_messages_total", "counter", "messages read from the slot");
	fprintf(f, "walcast_relay_messages_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->messages);
	METRIC("relay_bytes_total", "counter", "bytes of the messages read from the slot");
	fprintf(f, "walcast_relay_bytes_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->bytes);
	METRIC("relay_transactions_total", "counter", "transactions read from the slot");
	fprintf(f, "walcast_relay_transactions_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->transactions);
	METRIC("relay_published_total", "counter", "messages sent on the publish socket");
	fprintf(f, "walcast_relay_published_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) pub_messages(relay->pub));
	METRIC("relay_subscriptions_total", "counter", "subscriptions seen on the publish socket");
	fprintf(f, "walcast_relay_subscriptions_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) pub_subscriptions(relay->pub));
	METRIC("relay_reconnects_total", "counter", "times the relay connected again");
	fprintf(f, "walcast_relay_reconnects_total{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->reconnects);
	METRIC("relay_waiting_for_credit", "gauge", "1 while a durable subscriber's credit holds the stream");
	fprintf(f, "walcast_relay_waiting_for_credit{slot=\"%s\"} %d\n", slot, relay->holding);
	METRIC("relay_received_lsn_bytes", "gauge", "WAL position received from the server");
	fprintf(f, "walcast_relay_received_lsn_bytes{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->received_lsn);
	METRIC("relay_confirmed_lsn_bytes", "gauge", "WAL position confirmed to the server");
	fprintf(f, "walcast_relay_confirmed_lsn_bytes{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) relay->flushed_lsn);
	METRIC("relay_server_lsn_bytes", "gauge", "the server's WAL position, last seen");
	fprintf(f, "walcast_relay_server_lsn_bytes{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) server);
	METRIC("relay_retained_wal_bytes", "gauge", "WAL the server keeps for the slot (from its restart_lsn)");
	fprintf(f, "walcast_relay_retained_wal_bytes{slot=\"%s\"} %llu\n", slot,
			(unsigned long long) (relay->restart_lsn && server > relay->restart_lsn ?
								  server - relay->restart_lsn : 0));
	if (relay->durable)
	{
		Durable    *d = relay->durable;

		METRIC("subscriber_online", "gauge", "1 while a durable subscriber has a session");
		for (int i = 0; i < d->nsubscribers; i++)
			fprintf(f, "walcast_subscriber_online{slot=\"%s\",name=\"%s\"} %d\n", slot,
					d->subscribers[i].name, d->subscribers[i].online);
		METRIC("subscriber_evicted", "gauge", "1 when a durable subscriber must resynchronize");
		for (int i = 0; i < d->nsubscribers; i++)
			fprintf(f, "walcast_subscriber_evicted{slot=\"%s\",name=\"%s\"} %d\n", slot,
					d->subscribers[i].name, d->subscribers[i].evicted);
		METRIC("subscriber_acked_lsn_bytes", "gauge", "WAL position a durable subscriber acknowledged");
		for (int i = 0; i < d->nsubscribers; i++)
			fprintf(f, "walcast_subscriber_acked_lsn_bytes{slot=\"%s\",name=\"%s\"} %llu\n", slot,
					d->subscribers[i].name, (unsigned long long) d->subscribers[i].acked_lsn);
		METRIC("subscriber_lag_bytes", "gauge", "how far a durable subscriber is behind the server");
		for (int i = 0; i < d->nsubscribers; i++)
			fprintf(f, "walcast_subscriber_lag_bytes{slot=\"%s\",name=\"%s\"} %lld\n", slot,
					d->subscribers[i].name,
					(long long) subscriber_lag(relay, &d->subscribers[i]));
		METRIC("subscriber_credit", "gauge", "messages a durable subscriber will take now");
		for (int i = 0; i < d->nsubscribers; i++)
			fprintf(f, "walcast_subscriber_credit{slot=\"%s\",name=\"%s\"} %lld\n", slot,
					d->subscribers[i].name, (long long) d->subscribers[i].credit);
	}
#undef METRIC
	if (fclose(f) == 0)
		metrics_publish(relay->metrics, page);
	free(page);
}

/* wait for sockets, signals or the next timer; at most POLL_MAX_MSEC */
static void
wait_for_work(Relay *relay, long timeout_ms)
{
	zmq_pollitem_t items[5];
	int			n = 0;
	char		drain[64];

	items[n++] = (zmq_pollitem_t) {pub_socket(relay->pub), 0, ZMQ_POLLIN, 0};
	if (relay->durable)
		items[n++] = (zmq_pollitem_t) {relay->durable->socket, 0, ZMQ_POLLIN, 0};
	items[n++] = (zmq_pollitem_t) {NULL, signal_pipe[0], ZMQ_POLLIN, 0};
	if (relay->stream && !relay->holding)
		items[n++] = (zmq_pollitem_t) {NULL, stream_socket(relay->stream), ZMQ_POLLIN, 0};
	if (relay->side && relay->side_busy)
		items[n++] = (zmq_pollitem_t) {NULL, PQsocket(relay->side), ZMQ_POLLIN, 0};
	if (zmq_poll(items, n, timeout_ms) < 0 && errno != EINTR)
		wc_warning("could not poll sockets: %s", zmq_strerror(errno));
	while (read(signal_pipe[0], drain, sizeof(drain)) > 0)
		;
}

/* the passed position for durable_handle_input: see durable.h */
static WcLsn
passed_lsn(Relay *relay)
{
	if (relay->stream == NULL)
		return 0;
	if (relay->open_streams > 0)
		return UINT64_MAX;
	return relay->in_txn ? relay->tx_end : relay->last_tx_end;
}

/* serve the sockets once: subscriptions, subscribers, credit */
static void
serve_sockets(Relay *relay)
{
	pub_handle_input(relay->pub, relay->rels);
	if (relay->durable == NULL)
		return;
	durable_handle_input(relay->durable, relay->rels, passed_lsn(relay));
	durable_tick(relay->durable, wc_now_monotonic());
	if (relay->holding &&
		durable_deliver(relay->durable, &relay->held, relay->rels))
		relay->holding = false;
}

/*
 * Stream until stopped or the connection fails.  Returns -1 to reconnect,
 * or an exit code.
 */
static int
run_stream(Relay *relay)
{
	bool		more = false;	/* the last read stopped at its batch size */

	while (!stop_requested)
	{
		int64_t		now = wc_now_monotonic();
		long		timeout = more ? 0 : POLL_MAX_MSEC;
		int			rc;

		if (relay->next_status - now < timeout * 1000)
			timeout = relay->next_status > now ?
				(long) ((relay->next_status - now) / 1000) : 0;
		wait_for_work(relay, timeout);
		if (stop_requested)
			break;
		serve_sockets(relay);
		if (relay->durable && relay->durable->rewind_needed)
		{
			wc_notice("reading replication slot \"%s\" again from its confirmed position for a returning subscriber",
					  relay->opt.slot);
			close_stream(relay, true);
			durable_rewound(relay->durable);
			return RUN_REWIND;
		}
		more = false;
		if (!relay->holding)
		{
			rc = read_stream(relay);
			more = rc == 1;
			if (rc == -2)
				return WC_EXIT_FAILURE;
			if (rc < 0)
			{
				const char *state = stream_sqlstate(relay->stream);

				if (strcmp(state, "42704") == 0)
					return slot_lost(relay, "replication slot was dropped while the relay was reading it", NULL);
				if (strcmp(state, "55000") == 0)
					return slot_lost(relay, "replication slot can no longer be read", NULL);
				close_stream(relay, false);
				return -1;
			}
		}
		now = wc_now_monotonic();
		side_poll(relay, now);
		check_lag(relay);
		publish_metrics(relay, now);
		if (now >= relay->next_status && send_status(relay, false) < 0)
		{
			close_stream(relay, false);
			return -1;
		}
	}
	if (relay->durable)
		durable_shutdown(relay->durable);
	close_stream(relay, true);
	return WC_EXIT_OK;
}

/* set up subscribers from the options and the state file */
static int
setup_subscribers(Relay *relay)
{
	RelayOptions *opt = &relay->opt;

	for (int i = 0; i < opt->nsubscribers; i++)
	{
		char	   *spec = wc_strdup(opt->subscribers[i]);
		char	   *colon = strchr(spec, ':');
		Subscriber *sub;

		if (colon)
			*colon = '\0';
		sub = durable_add(relay->durable, spec, colon ? colon + 1 : NULL);
		sub->acked_lsn = relay->state.confirmed_lsn;
		for (int j = 0; j < relay->state.nsubscribers; j++)
		{
			if (strcmp(relay->state.subscribers[j].name, sub->name) == 0)
			{
				sub->acked_lsn = relay->state.subscribers[j].acked_lsn;
				sub->evicted = relay->state.subscribers[j].evicted;
			}
		}
		free(spec);
	}
	for (int j = 0; j < relay->state.nsubscribers; j++)
	{
		if (durable_find(relay->durable, relay->state.subscribers[j].name) == NULL)
			wc_notice("forgetting durable subscriber \"%s\", which is no longer declared",
					  relay->state.subscribers[j].name);
	}
	for (int i = 0; i < opt->nresets; i++)
	{
		Subscriber *sub = durable_find(relay->durable, opt->resets[i]);

		if (sub == NULL)
		{
			wc_error("--reset-subscriber names \"%s\", which is not declared with --subscriber",
					 opt->resets[i]);
			return -1;
		}
		sub->evicted = false;
		sub->acked_lsn = relay->state.confirmed_lsn;
		wc_notice("durable subscriber \"%s\" readmitted at %X/%X",
				  sub->name, WC_LSN_ARGS(sub->acked_lsn));
	}
	if (opt->max_lag > 0)
		wc_notice("durable subscribers more than %lld bytes behind will be %s",
				  (long long) opt->max_lag,
				  opt->lag_policy == LAG_EVICT ? "evicted" : "warned about, and hold WAL");
	else
		wc_info("durable subscribers may fall behind without limit and hold WAL");
	return 0;
}

static int
setup(Relay *relay)
{
	WcError		err;
	int			rc;
	struct sigaction sa;

	if (pipe(signal_pipe) != 0 ||
		fcntl(signal_pipe[0], F_SETFL, O_NONBLOCK) != 0 ||
		fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK) != 0)
	{
		wc_error("could not create signal pipe: %s", strerror(errno));
		return WC_EXIT_FAILURE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handle_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = state_load(relay->opt.state_file, &relay->state, &err);
	if (rc < 0)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		return WC_EXIT_USAGE;
	}
	relay->state_exists = rc == 1;
	if (relay->state_exists && strcmp(relay->state.slot, relay->opt.slot) != 0)
	{
		wc_error("state file \"%s\" belongs to replication slot \"%s\", not \"%s\"",
				 relay->opt.state_file, relay->state.slot, relay->opt.slot);
		wc_log_hint("Give each slot its own --state-file.");
		return WC_EXIT_USAGE;
	}

	relay->zctx = zmq_ctx_new();
	relay->rels = rels_new();
	relay->pub = pub_new(relay->zctx, relay->opt.publish, relay->opt.publish_hwm,
						 (uint64_t) wc_now_unix(), &err);
	if (relay->pub == NULL)
	{
		wc_log_wcerror(WC_LOG_ERROR, &err);
		return WC_EXIT_USAGE;
	}
	if (relay->opt.nsubscribers > 0)
	{
		relay->durable = durable_new(relay->zctx, relay->opt.durable, &err);
		if (relay->durable == NULL)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			return WC_EXIT_USAGE;
		}
		relay->durable->identity.epoch = (uint64_t) wc_now_unix();
		relay->durable->identity.session_timeout = relay->opt.session_timeout;
		if (setup_subscribers(relay) < 0)
			return WC_EXIT_USAGE;
	}
	if (relay->opt.metrics)
	{
		relay->metrics = metrics_start(relay->opt.metrics, &err);
		if (relay->metrics == NULL)
		{
			wc_log_wcerror(WC_LOG_ERROR, &err);
			return WC_EXIT_USAGE;
		}
		wc_notice("serving metrics on \"%s\"", relay->opt.metrics);
	}
	wc_notice("publishing on \"%s\"%s%s", relay->opt.publish,
			  relay->durable ? ", durable subscribers on " : "",
			  relay->durable ? relay->opt.durable : "");
	return 0;
}

static void
teardown(Relay *relay)
{
	metrics_stop(&relay->metrics);
	if (relay->side)
		PQfinish(relay->side);
	stream_destroy(&relay->stream);
	pub_destroy(&relay->pub);
	durable_destroy(&relay->durable);
	rels_destroy(&relay->rels);
	if (relay->zctx)
		zmq_ctx_term(relay->zctx);
	state_free(&relay->state);
	free(relay->tx_topic);
}

/* sleep up to secs, serving the sockets; false when stopped */
static bool
backoff_sleep(Relay *relay, double secs)
{
	int64_t		until = wc_now_monotonic() + (int64_t) (secs * 1000000);

	while (!stop_requested && wc_now_monotonic() < until)
	{
		wait_for_work(relay, POLL_MAX_MSEC);
		serve_sockets(relay);
		publish_metrics(relay, wc_now_monotonic());
	}
	return !stop_requested;
}

/*
 * Before the first stream: give declared durable subscribers that are
 * already trying to connect a moment to say Hello.  One that arrives after
 * the stream has passed its position makes the relay read the slot again
 * (a rewind); waiting a second at start spares the usual case, a relay
 * and its subscribers started together.
 */
static void
wait_for_subscribers(Relay *relay, double secs)
{
	int64_t		until = wc_now_monotonic() + (int64_t) (secs * 1000000);

	while (relay->durable && !stop_requested && wc_now_monotonic() < until)
	{
		bool		all = true;

		for (int i = 0; i < relay->durable->nsubscribers; i++)
		{
			Subscriber *sub = &relay->durable->subscribers[i];

			if (!sub->evicted && !sub->online)
				all = false;
		}
		if (all)
			break;
		wait_for_work(relay, 20);
		serve_sockets(relay);
	}
	if (relay->durable)
		relay->durable->rewind_needed = false;
}

int
relay_main(int argc, char **argv)
{
	Relay		relay;
	bool		help;
	int			rc;
	double		backoff = 0.5;
	int			streams_started = 0;

	memset(&relay, 0, sizeof(relay));
	if (!parse_options(argc, argv, &relay.opt, &help))
		return WC_EXIT_USAGE;
	if (help)
	{
		usage();
		return WC_EXIT_OK;
	}
	rc = setup(&relay);
	while (rc == 0 && !stop_requested)
	{
		int64_t		started = wc_now_monotonic();

		if (streams_started == 0)
			wait_for_subscribers(&relay, SUBSCRIBER_WAIT_SECS);
		rc = open_stream(&relay);
		if (rc == 0)
		{
			if (streams_started++ > 0)
				relay.reconnects++;
			rc = run_stream(&relay);
		}
		if (rc > 0 || stop_requested)
			break;
		if (rc == RUN_REWIND)
		{
			rc = 0;
			continue;
		}
		/* a connection that streamed for a while starts the backoff over */
		if (wc_now_monotonic() - started > 10 * 1000000)
			backoff = 0.5;
		wc_notice("reconnecting in %.1f s", backoff);
		if (!backoff_sleep(&relay, backoff))
			break;
		backoff = backoff * 2 > relay.opt.reconnect_max ?
			relay.opt.reconnect_max : backoff * 2;
		rc = 0;
	}
	if (rc < 0)
		rc = 0;
	if (rc == 0)
		wc_notice("stopped at %X/%X after %lu messages",
				  WC_LSN_ARGS(relay.flushed_lsn), (unsigned long) relay.messages);
	teardown(&relay);
	return rc;
}
