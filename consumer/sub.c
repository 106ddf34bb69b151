/*-------------------------------------------------------------------------
 *
 * sub.c
 *		The C subscriber library.
 *
 *-------------------------------------------------------------------------
 */
#include "sub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "walcast/v1/relay.pb-c.h"

#define DEFAULT_CREDIT		1000
#define HELLO_RETRY_USEC	2000000 /* no answer to Hello: say it again */
#define SILENCE_USEC		5000000 /* relay silent: is our session gone? */
/*
 * A subscriber started before its relay (or while it restarts) tries to
 * connect again after 10 ms, doubling up to a quarter of a second, instead
 * of ZeroMQ's fixed 100 ms: it joins a relay within a quarter of a second
 * of its start, inside the second the relay gives its durable subscribers
 * before it streams (a later Hello makes it read the slot again).
 */
#define RECONNECT_IVL_MSEC		10
#define RECONNECT_IVL_MAX_MSEC	250
#define BUSY_GIVE_UP_USEC	10000000	/* name taken this long: give up */

/* a topic's last sequence, publish mode */
typedef struct TopicState
{
	struct TopicState *next;
	uint64_t	epoch;
	uint64_t	sequence;
	size_t		len;
	char		topic[];
} TopicState;

struct WcSub
{
	WcSubMode	mode;
	void	   *socket;
	zmq_msg_t	frames[3];		/* the message handed out last */
	int			nframes;

	/* publish mode */
	TopicState *topics;

	/* durable mode */
	void	   *monitor;		/* the socket's connection events */
	bool		monitor_ready;	/* the last poll saw an event waiting */
	bool		hello_out;		/* a Hello went out on this connection */
	bool		connected;		/* its handshake with the relay is done */
	char	   *name;
	char	   *token;
	uint32_t	credit;			/* the window */
	uint32_t	consumed;		/* deliveries since the last Credit */
	WcLsn		acked_lsn;		/* last acknowledged (or applied at start) */
	bool		welcomed;
	int64_t		hello_sent;
	int64_t		last_heard;		/* monotonic µs of the relay's last word */
	int64_t		last_said;		/* ... and of ours */
	int			session_timeout;	/* seconds, from Welcome */
	char	   *database;
	WcLsn		resume_after;
	int64_t		busy_since;		/* first REASON_BUSY in a row, or 0 */
	int			refused;		/* Refusal.Reason that ended us */
};

static void
release_frames(WcSub *sub)
{
	for (int i = 0; i < sub->nframes; i++)
		zmq_msg_close(&sub->frames[i]);
	sub->nframes = 0;
}

/* 1 when the message went out, 0 when it cannot now, -1 on failure */
static int
send_message(WcSub *sub, const Walcast__V1__SubscriberMessage *msg,
			 WcError *err)
{
	uint8_t		buf[512];
	size_t		len = walcast__v1__subscriber_message__get_packed_size(msg);
	uint8_t    *p = len <= sizeof(buf) ? buf : wc_malloc(len);
	int			rc = 0;

	walcast__v1__subscriber_message__pack(msg, p);
	if (zmq_send(sub->socket, p, len, ZMQ_DONTWAIT) < 0)
	{
		/* no connection or a full queue: it will hear from us later */
		if (errno != EAGAIN)
		{
			wc_error_set(err, "could not send to relay: %s", zmq_strerror(errno));
			rc = -1;
		}
	}
	else
	{
		sub->last_said = wc_now_monotonic();
		rc = 1;
	}
	if (p != buf)
		free(p);
	return rc;
}

static int
send_hello(WcSub *sub, WcError *err)
{
	Walcast__V1__SubscriberMessage msg = WALCAST__V1__SUBSCRIBER_MESSAGE__INIT;
	Walcast__V1__Hello hello = WALCAST__V1__HELLO__INIT;

	hello.protocol_version = 1;
	hello.name = sub->name;
	hello.token = sub->token ? sub->token : "";
	hello.applied_lsn = sub->acked_lsn;
	hello.credit = sub->credit;
	msg.body_case = WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_HELLO;
	msg.hello = &hello;
	sub->welcomed = false;		/* deliveries are not counted until Welcome */
	sub->hello_sent = wc_now_monotonic();
	switch (send_message(sub, &msg, err))
	{
		case -1:
			return -1;
		case 1:
			sub->hello_out = true;
			break;
	}
	return 0;
}

/*
 * Durable mode: learn from the socket itself when its connection to the
 * relay drops and comes back.  A relay that restarted knows nothing of us
 * and sends nothing until we say Hello; without these events we would
 * notice only after SILENCE_USEC.  ZMQ_IMMEDIATE keeps what we send while
 * disconnected (Credit, Ack, Hello) from being queued for the next
 * connection: the Hello said when it is back carries all of it.
 */
static int
watch_connection(void *zctx, WcSub *sub, WcError *err)
{
	char		endpoint[64];
	int			immediate = 1;

	snprintf(endpoint, sizeof(endpoint), "inproc://walcast-sub-%p", (void *) sub);
	if (zmq_setsockopt(sub->socket, ZMQ_IMMEDIATE, &immediate,
					   sizeof(immediate)) != 0 ||
		zmq_socket_monitor(sub->socket, endpoint,
						   ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) != 0 ||
		(sub->monitor = zmq_socket(zctx, ZMQ_PAIR)) == NULL ||
		zmq_connect(sub->monitor, endpoint) != 0)
	{
		wc_error_set(err, "could not watch the socket's connection: %s",
					 zmq_strerror(errno));
		return -1;
	}
	return 0;
}

/* durable mode: take in the connection events that came */
static void
take_events(WcSub *sub)
{
	for (;;)
	{
		zmq_msg_t	frame;
		uint16_t	event = 0;
		int			more;

		zmq_msg_init(&frame);
		if (zmq_msg_recv(&frame, sub->monitor, ZMQ_DONTWAIT) < 0)
		{
			zmq_msg_close(&frame);
			return;
		}
		/* an event is two frames: event number and value, then the address */
		if (zmq_msg_size(&frame) >= sizeof(event))
			memcpy(&event, zmq_msg_data(&frame), sizeof(event));
		more = zmq_msg_more(&frame);
		zmq_msg_close(&frame);
		while (more)
		{
			zmq_msg_init(&frame);
			if (zmq_msg_recv(&frame, sub->monitor, 0) < 0)
				more = 0;
			else
				more = zmq_msg_more(&frame);
			zmq_msg_close(&frame);
		}

		if (event == ZMQ_EVENT_DISCONNECTED)
		{
			/* whatever comes back may not know our session */
			sub->welcomed = false;
			sub->hello_out = false;
			sub->connected = false;
			sub->busy_since = 0;
			sub->hello_sent = wc_now_monotonic();
		}
		else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
		{
			/*
			 * Connected (again): keep_session, which runs next, says Hello
			 * on it.  Not at ZMQ_EVENT_CONNECTED: with ZMQ_IMMEDIATE nothing
			 * can be sent before the handshake, and that Hello would be lost.
			 */
			sub->connected = true;
		}
	}
}

WcSub *
wcsub_new(void *zctx, WcSubMode mode, const WcSubOptions *opt, WcError *err)
{
	WcSub	   *sub = wc_malloc0(sizeof(WcSub));
	int			linger = 0;
	int			reconnect_ivl = RECONNECT_IVL_MSEC;
	int			reconnect_max = RECONNECT_IVL_MAX_MSEC;

	sub->mode = mode;
	sub->socket = zmq_socket(zctx, mode == WCSUB_PUBLISH ? ZMQ_SUB : ZMQ_DEALER);
	if (sub->socket == NULL ||
		zmq_setsockopt(sub->socket, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
		zmq_setsockopt(sub->socket, ZMQ_RECONNECT_IVL, &reconnect_ivl,
					   sizeof(reconnect_ivl)) != 0 ||
		zmq_setsockopt(sub->socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
					   sizeof(reconnect_max)) != 0)
	{
		wc_error_set(err, "could not create socket: %s", zmq_strerror(errno));
		goto fail;
	}
	if (mode == WCSUB_PUBLISH)
	{
		if (opt->ntopics == 0)
			zmq_setsockopt(sub->socket, ZMQ_SUBSCRIBE, "", 0);
		for (int i = 0; i < opt->ntopics; i++)
			zmq_setsockopt(sub->socket, ZMQ_SUBSCRIBE, opt->topics[i],
						   strlen(opt->topics[i]));
	}
	if (mode == WCSUB_DURABLE && watch_connection(zctx, sub, err) < 0)
		goto fail;
	if (zmq_connect(sub->socket, opt->endpoint) != 0)
	{
		wc_error_set(err, "could not connect to \"%s\": %s",
					 opt->endpoint, zmq_strerror(errno));
		goto fail;
	}
	if (mode == WCSUB_DURABLE)
	{
		sub->name = wc_strdup(opt->name);
		sub->token = opt->token ? wc_strdup(opt->token) : NULL;
		sub->credit = opt->credit ? opt->credit : DEFAULT_CREDIT;
		sub->acked_lsn = opt->applied_lsn;
		sub->session_timeout = 30;
		sub->last_heard = wc_now_monotonic();
		if (send_hello(sub, err) < 0)
			goto fail;
	}
	return sub;

fail:
	wcsub_destroy(&sub);
	return NULL;
}

void
wcsub_destroy(WcSub **subp)
{
	WcSub	   *sub = *subp;

	if (sub == NULL)
		return;
	release_frames(sub);
	if (sub->mode == WCSUB_DURABLE && sub->welcomed)
	{
		Walcast__V1__SubscriberMessage msg = WALCAST__V1__SUBSCRIBER_MESSAGE__INIT;
		Walcast__V1__Bye bye = WALCAST__V1__BYE__INIT;
		WcError		ignored;

		msg.body_case = WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_BYE;
		msg.bye = &bye;
		(void) send_message(sub, &msg, &ignored);
	}
	if (sub->monitor)
	{
		zmq_socket_monitor(sub->socket, NULL, 0);
		zmq_close(sub->monitor);
	}
	if (sub->socket)
		zmq_close(sub->socket);
	while (sub->topics)
	{
		TopicState *next = sub->topics->next;

		free(sub->topics);
		sub->topics = next;
	}
	free(sub->name);
	free(sub->token);
	free(sub->database);
	free(sub);
	*subp = NULL;
}

/* receive one multipart message into sub->frames; frame count or -1 */
static int
receive(WcSub *sub, int *total)
{
	release_frames(sub);
	*total = 0;
	for (;;)
	{
		zmq_msg_t	msg;
		int			more;

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, sub->socket, ZMQ_DONTWAIT) < 0)
		{
			zmq_msg_close(&msg);
			return *total == 0 ? -1 : sub->nframes;
		}
		more = zmq_msg_more(&msg);
		if (sub->nframes < 3)
			sub->frames[sub->nframes++] = msg;
		else
			zmq_msg_close(&msg);
		(*total)++;
		if (!more)
			return sub->nframes;
	}
}

/* publish mode: one message, 1 when handed out, 0 when it was not ours */
static int
take_published(WcSub *sub, int total, WcSubMessage *msg, WcError *err)
{
	Walcast__V1__Header *header;
	TopicState *t;
	const char *topic = zmq_msg_data(&sub->frames[0]);
	size_t		topic_len = zmq_msg_size(&sub->frames[0]);

	if (total != 3 ||
		(header = walcast__v1__header__unpack(NULL, zmq_msg_size(&sub->frames[1]),
											  zmq_msg_data(&sub->frames[1]))) == NULL)
		return 0;				/* not a relay message: ignore it */
	memset(msg, 0, sizeof(*msg));
	msg->topic = topic;
	msg->topic_len = topic_len;
	msg->sequence = header->sequence;
	msg->tx_end_lsn = header->tx_end_lsn;
	msg->repeated_relation = header->repeated_relation;
	msg->envelope = zmq_msg_data(&sub->frames[2]);
	msg->envelope_len = zmq_msg_size(&sub->frames[2]);

	for (t = sub->topics; t; t = t->next)
	{
		if (t->len == topic_len && memcmp(t->topic, topic, topic_len) == 0)
			break;
	}
	if (t == NULL)
	{
		t = wc_malloc0(sizeof(TopicState) + topic_len);
		t->len = topic_len;
		memcpy(t->topic, topic, topic_len);
		t->next = sub->topics;
		sub->topics = t;
	}
	else if (t->epoch == header->epoch && header->sequence > t->sequence + 1)
		msg->gap = header->sequence - t->sequence - 1;
	t->epoch = header->epoch;
	t->sequence = header->sequence;
	walcast__v1__header__free_unpacked(header, NULL);
	return 1;
}

static int
send_credit(WcSub *sub, WcError *err)
{
	Walcast__V1__SubscriberMessage msg = WALCAST__V1__SUBSCRIBER_MESSAGE__INIT;
	Walcast__V1__Credit credit = WALCAST__V1__CREDIT__INIT;

	credit.messages = sub->consumed;
	msg.body_case = WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_CREDIT;
	msg.credit = &credit;
	sub->consumed = 0;
	return send_message(sub, &msg, err);
}

/* durable mode: one message; 1 handed out, 0 handled, -1 refused */
static int
take_durable(WcSub *sub, int total, WcSubMessage *msg, WcError *err)
{
	Walcast__V1__RelayMessage *rm;
	int			rc = 0;

	rm = walcast__v1__relay_message__unpack(NULL, zmq_msg_size(&sub->frames[0]),
											zmq_msg_data(&sub->frames[0]));
	if (rm == NULL)
		return 0;				/* not a relay message: ignore it */
	sub->last_heard = wc_now_monotonic();
	switch (rm->body_case)
	{
		case WALCAST__V1__RELAY_MESSAGE__BODY_WELCOME:
			/* the session starts with the credit our last Hello gave */
			sub->welcomed = true;
			sub->consumed = 0;
			sub->busy_since = 0;
			sub->session_timeout = rm->welcome->session_timeout > 0 ?
				(int) rm->welcome->session_timeout : 30;
			sub->resume_after = rm->welcome->resume_after_lsn;
			free(sub->database);
			sub->database = wc_strdup(rm->welcome->database);
			break;
		case WALCAST__V1__RELAY_MESSAGE__BODY_DELIVERY:
			if (!sub->welcomed || total != 2)
				break;
			if (++sub->consumed >= sub->credit / 2 && send_credit(sub, err) < 0)
			{
				rc = -1;
				break;
			}
			/* a transaction we have acknowledged already */
			if (rm->delivery->tx_end_lsn != 0 &&
				rm->delivery->tx_end_lsn <= sub->acked_lsn)
				break;
			memset(msg, 0, sizeof(*msg));
			msg->sequence = rm->delivery->sequence;
			msg->tx_end_lsn = rm->delivery->tx_end_lsn;
			msg->repeated_relation = rm->delivery->repeated_relation;
			msg->envelope = zmq_msg_data(&sub->frames[1]);
			msg->envelope_len = zmq_msg_size(&sub->frames[1]);
			rc = 1;
			break;
		case WALCAST__V1__RELAY_MESSAGE__BODY_REFUSAL:
			switch (rm->refusal->reason)
			{
				case WALCAST__V1__REFUSAL__REASON__REASON_NO_SESSION:
				case WALCAST__V1__REFUSAL__REASON__REASON_SHUTDOWN:
					/* the relay restarted or stops: Hello again */
					sub->welcomed = false;
					sub->hello_sent = 0;
					sub->busy_since = 0;
					break;
				case WALCAST__V1__REFUSAL__REASON__REASON_BUSY:
					/*
					 * Our own earlier connection may still look alive to
					 * the relay for a moment (we restarted): Hello again in
					 * a while, and give up only if it lasts.
					 */
					sub->welcomed = false;
					if (sub->busy_since == 0)
						sub->busy_since = wc_now_monotonic();
					if (wc_now_monotonic() - sub->busy_since < BUSY_GIVE_UP_USEC)
						break;
					/* FALLTHROUGH */
				default:
					sub->refused = rm->refusal->reason;
					wc_error_set(err, "relay refused subscriber \"%s\": %s",
								 sub->name, rm->refusal->message);
					rc = -1;
					break;
			}
			break;
		default:
			break;				/* Heartbeat */
	}
	walcast__v1__relay_message__free_unpacked(rm, NULL);
	return rc;
}

/* durable mode: what the session needs from us now */
static int
keep_session(WcSub *sub, WcError *err)
{
	int64_t		now = wc_now_monotonic();

	if (!sub->welcomed)
	{
		if ((sub->connected && !sub->hello_out) ||
			now - sub->hello_sent >= HELLO_RETRY_USEC)
			return send_hello(sub, err);
		return 0;
	}
	if (now - sub->last_heard > SILENCE_USEC)
	{
		/* the relay sends heartbeats every second: it is gone or restarted */
		sub->last_heard = now;
		return send_hello(sub, err);
	}
	if (now - sub->last_said > (int64_t) sub->session_timeout * 1000000 / 3)
	{
		Walcast__V1__SubscriberMessage msg = WALCAST__V1__SUBSCRIBER_MESSAGE__INIT;
		Walcast__V1__Ping ping = WALCAST__V1__PING__INIT;

		msg.body_case = WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_PING;
		msg.ping = &ping;
		return send_message(sub, &msg, err);
	}
	return 0;
}

int
wcsub_next(WcSub *sub, WcSubMessage *msg, int timeout_ms, WcError *err)
{
	int64_t		deadline = timeout_ms < 0 ? INT64_MAX :
		wc_now_monotonic() + (int64_t) timeout_ms * 1000;

	for (;;)
	{
		zmq_pollitem_t items[2] = {
			{sub->socket, 0, ZMQ_POLLIN, 0},
			{sub->monitor, 0, ZMQ_POLLIN, 0},
		};
		int64_t		now;
		long		wait_ms;
		int			total;
		int			rc;

		/*
		 * Events come only after a poll: while messages arrive the
		 * connection is up, and after a disconnection none arrive.
		 */
		if (sub->mode == WCSUB_DURABLE)
		{
			if (sub->monitor_ready)
				take_events(sub);
			sub->monitor_ready = false;
			if (keep_session(sub, err) < 0)
				return -1;
		}
		while (receive(sub, &total) > 0)
		{
			rc = sub->mode == WCSUB_PUBLISH ?
				take_published(sub, total, msg, err) :
				take_durable(sub, total, msg, err);
			if (rc != 0)
				return rc;
		}
		now = wc_now_monotonic();
		if (now >= deadline)
			return 0;
		wait_ms = (deadline - now) / 1000;
		if (wait_ms > 500)
			wait_ms = 500;		/* the session's timers */
		if (zmq_poll(items, sub->monitor ? 2 : 1, wait_ms) >= 0)
			sub->monitor_ready = (items[1].revents & ZMQ_POLLIN) != 0;
		else
		{
			/* a signal: let the caller look at its flags */
			if (zmq_errno() == EINTR)
				return 0;
			wc_error_set(err, "could not poll: %s", zmq_strerror(zmq_errno()));
			return -1;
		}
	}
}

int
wcsub_ack(WcSub *sub, WcLsn end_lsn, WcError *err)
{
	Walcast__V1__SubscriberMessage msg = WALCAST__V1__SUBSCRIBER_MESSAGE__INIT;
	Walcast__V1__Ack ack = WALCAST__V1__ACK__INIT;

	if (sub->mode != WCSUB_DURABLE || end_lsn <= sub->acked_lsn)
		return 0;
	sub->acked_lsn = end_lsn;
	ack.end_lsn = end_lsn;
	msg.body_case = WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_ACK;
	msg.ack = &ack;
	return send_message(sub, &msg, err) < 0 ? -1 : 0;
}

int
wcsub_refused(WcSub *sub)
{
	return sub->refused;
}

const char *
wcsub_database(WcSub *sub)
{
	return sub->database;
}

WcLsn
wcsub_resume_after(WcSub *sub)
{
	return sub->resume_after;
}
