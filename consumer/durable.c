/*-------------------------------------------------------------------------
 *
 * durable.c
 *		The durable channel's sessions, credit, acknowledgements and
 *		deliveries.
 *
 * Frames on the ROUTER socket: [routing id][SubscriberMessage] in, and
 * [routing id][RelayMessage] or, for a Delivery, [routing id][RelayMessage]
 * [envelope] out.  ZMQ_ROUTER_MANDATORY makes a send to a vanished peer
 * fail (EHOSTUNREACH) instead of vanishing silently: the session then ends.
 *
 *-------------------------------------------------------------------------
 */
#include "durable.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "walcast/v1/relay.pb-c.h"

#define HEARTBEAT_INTERVAL_USEC 1000000

Durable *
durable_new(void *zctx, const char *endpoint, WcError *err)
{
	Durable    *durable = wc_malloc0(sizeof(Durable));
	int			one = 1;
	int			linger = 1000;

	durable->socket = zmq_socket(zctx, ZMQ_ROUTER);
	if (durable->socket == NULL ||
		zmq_setsockopt(durable->socket, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
		zmq_setsockopt(durable->socket, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
	{
		wc_error_set(err, "could not create durable socket: %s",
					 zmq_strerror(errno));
		durable_destroy(&durable);
		return NULL;
	}
	if (zmq_bind(durable->socket, endpoint) != 0)
	{
		wc_error_set(err, "could not bind durable socket to \"%s\": %s",
					 endpoint, zmq_strerror(errno));
		durable_destroy(&durable);
		return NULL;
	}
	return durable;
}

void
durable_destroy(Durable **durablep)
{
	Durable    *durable = *durablep;

	if (durable == NULL)
		return;
	if (durable->socket)
		zmq_close(durable->socket);
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		free(durable->subscribers[i].token);
		relgen_destroy(&durable->subscribers[i].sent_rels);
	}
	free(durable->subscribers);
	free(durable);
	*durablep = NULL;
}

Subscriber *
durable_add(Durable *durable, const char *name, const char *token)
{
	Subscriber *sub;

	durable->subscribers = wc_realloc(durable->subscribers,
									  (durable->nsubscribers + 1) * sizeof(Subscriber));
	sub = &durable->subscribers[durable->nsubscribers++];
	memset(sub, 0, sizeof(*sub));
	snprintf(sub->name, sizeof(sub->name), "%s", name);
	sub->token = token ? wc_strdup(token) : NULL;
	sub->sent_rels = relgen_new();
	return sub;
}

Subscriber *
durable_find(Durable *durable, const char *name)
{
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		if (strcmp(durable->subscribers[i].name, name) == 0)
			return &durable->subscribers[i];
	}
	return NULL;
}

static Subscriber *
find_session(Durable *durable, const uint8_t *routing_id, size_t len)
{
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		Subscriber *sub = &durable->subscribers[i];

		if (sub->online && sub->routing_len == len &&
			memcmp(sub->routing_id, routing_id, len) == 0)
			return sub;
	}
	return NULL;
}

/*
 * Send a RelayMessage (and, when envelope is not NULL, the envelope frame)
 * to a peer.  0 when sent, -1 with errno EAGAIN when the peer's queue is
 * full, -1 with another errno when the peer is gone.
 */
static int
send_to(Durable *durable, const uint8_t *routing_id, size_t routing_len,
		const Walcast__V1__RelayMessage *msg, const uint8_t *envelope,
		size_t envelope_len)
{
	uint8_t		stack[256];
	size_t		len = walcast__v1__relay_message__get_packed_size(msg);
	uint8_t    *buf = len <= sizeof(stack) ? stack : wc_malloc(len);
	int			rc = 0;

	walcast__v1__relay_message__pack(msg, buf);
	if (zmq_send(durable->socket, routing_id, routing_len,
				 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
		zmq_send(durable->socket, buf, len,
				 (envelope ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ||
		(envelope &&
		 zmq_send(durable->socket, envelope, envelope_len, ZMQ_DONTWAIT) < 0))
		rc = -1;
	if (buf != stack)
		free(buf);
	return rc;
}

static void
send_refusal(Durable *durable, const uint8_t *routing_id, size_t routing_len,
			 Walcast__V1__Refusal__Reason reason, const char *message)
{
	Walcast__V1__RelayMessage msg = WALCAST__V1__RELAY_MESSAGE__INIT;
	Walcast__V1__Refusal refusal = WALCAST__V1__REFUSAL__INIT;

	refusal.reason = reason;
	refusal.message = (char *) message;
	msg.body_case = WALCAST__V1__RELAY_MESSAGE__BODY_REFUSAL;
	msg.refusal = &refusal;
	(void) send_to(durable, routing_id, routing_len, &msg, NULL, 0);
}

static void
end_session(Subscriber *sub, const char *why)
{
	if (!sub->online)
		return;
	sub->online = false;
	sub->credit = 0;
	sub->blocked_since = 0;
	relgen_clear(sub->sent_rels);
	wc_notice("durable subscriber \"%s\" went offline (%s) at %X/%X",
			  sub->name, why, WC_LSN_ARGS(sub->acked_lsn));
}

/* send a session a Heartbeat; as send_to() */
static int
send_heartbeat(Durable *durable, Subscriber *sub)
{
	Walcast__V1__RelayMessage msg = WALCAST__V1__RELAY_MESSAGE__INIT;
	Walcast__V1__Heartbeat hb = WALCAST__V1__HEARTBEAT__INIT;

	hb.wal_end = durable->wal_end;
	hb.server_time = wc_now_unix();
	msg.body_case = WALCAST__V1__RELAY_MESSAGE__BODY_HEARTBEAT;
	msg.heartbeat = &hb;
	return send_to(durable, sub->routing_id, sub->routing_len, &msg, NULL, 0);
}

/* whether a session's peer is still connected: a heartbeat reaches it */
static bool
session_reachable(Durable *durable, Subscriber *sub)
{
	if (send_heartbeat(durable, sub) == 0)
		return true;
	return errno == EAGAIN;		/* there, but its queue is full */
}

static void
handle_hello(Durable *durable, const uint8_t *routing_id, size_t routing_len,
			 const Walcast__V1__Hello *hello, WcLsn passed_lsn)
{
	Walcast__V1__RelayMessage msg = WALCAST__V1__RELAY_MESSAGE__INIT;
	Walcast__V1__Welcome welcome = WALCAST__V1__WELCOME__INIT;
	Subscriber *sub;
	WcLsn		applied = hello->applied_lsn;
	char	   *text;

	if (hello->protocol_version != 1)
	{
		text = wc_psprintf("unsupported protocol version %u", hello->protocol_version);
		wc_warning("refused a durable subscriber: %s", text);
		send_refusal(durable, routing_id, routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_PROTOCOL, text);
		free(text);
		return;
	}
	sub = durable_find(durable, hello->name);
	if (sub == NULL)
	{
		text = wc_psprintf("durable subscriber \"%s\" is not configured", hello->name);
		wc_warning("refused a durable subscriber: %s", text);
		wc_log_hint("Start the relay with --subscriber %s to declare it.", hello->name);
		send_refusal(durable, routing_id, routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_UNKNOWN_SUBSCRIBER, text);
		free(text);
		return;
	}
	if (sub->token &&
		(hello->token == NULL || strlen(hello->token) != strlen(sub->token) ||
		 memcmp(hello->token, sub->token, strlen(sub->token)) != 0))
	{
		text = wc_psprintf("token authentication failed for durable subscriber \"%s\"",
						   sub->name);
		wc_warning("%s", text);
		send_refusal(durable, routing_id, routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_BAD_TOKEN, text);
		free(text);
		return;
	}
	if (sub->evicted)
	{
		text = wc_psprintf("durable subscriber \"%s\" was evicted and must resynchronize",
						   sub->name);
		wc_warning("refused a durable subscriber: %s", text);
		wc_log_hint("After resynchronizing it, restart the relay with --reset-subscriber %s.",
					sub->name);
		send_refusal(durable, routing_id, routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_EVICTED, text);
		free(text);
		return;
	}
	if (find_session(durable, routing_id, routing_len) == sub)
	{
		/*
		 * The session's own connection says Hello again: the subscriber
		 * starts over (it thought the relay had restarted, or its first
		 * Hello unheard), from what it says it applied and with the credit
		 * it gives now.
		 */
		end_session(sub, "started its session again");
	}
	else if (sub->online)
	{
		/*
		 * Another connection holds the name.  If its peer is still there
		 * (a heartbeat can be sent to it) this is a second process under
		 * the same name, which would split the stream: refuse it.  If the
		 * peer is gone (a restarted subscriber) the new session replaces it.
		 */
		if (session_reachable(durable, sub))
		{
			text = wc_psprintf("durable subscriber \"%s\" is already connected", sub->name);
			wc_warning("refused a durable subscriber: %s", text);
			wc_log_hint("Run one process per subscriber name.");
			send_refusal(durable, routing_id, routing_len,
						 WALCAST__V1__REFUSAL__REASON__REASON_BUSY, text);
			free(text);
			return;
		}
		end_session(sub, "replaced by a new session");
	}

	/* a subscriber cannot have applied what the server has not written */
	if (applied > durable->wal_end && durable->wal_end != 0)
	{
		wc_warning("durable subscriber \"%s\" claims to have applied %X/%X, beyond the server's WAL end %X/%X",
				   sub->name, WC_LSN_ARGS(applied), WC_LSN_ARGS(durable->wal_end));
		applied = 0;
	}
	if (applied > sub->acked_lsn)
	{
		sub->acked_lsn = applied;
		durable->acks_changed = true;
	}

	sub->online = true;
	memcpy(sub->routing_id, routing_id, routing_len);
	sub->routing_len = routing_len;
	sub->last_seen = sub->last_sent = wc_now_monotonic();
	sub->credit = hello->credit;
	sub->resume_after = sub->acked_lsn;
	sub->delivered_lsn = sub->acked_lsn;
	sub->sequence = 0;
	sub->done = true;			/* a message already held is not for it */
	relgen_clear(sub->sent_rels);

	welcome.resume_after_lsn = sub->resume_after;
	welcome.system_identifier = durable->identity.system_identifier;
	welcome.slot = durable->identity.slot;
	welcome.database = durable->identity.database;
	welcome.epoch = durable->identity.epoch;
	welcome.session_timeout = durable->identity.session_timeout;
	msg.body_case = WALCAST__V1__RELAY_MESSAGE__BODY_WELCOME;
	msg.welcome = &welcome;
	if (send_to(durable, routing_id, routing_len, &msg, NULL, 0) < 0)
	{
		end_session(sub, "could not send welcome");
		return;
	}
	wc_notice("durable subscriber \"%s\" connected, resuming after %X/%X",
			  sub->name, WC_LSN_ARGS(sub->resume_after));
	if (sub->resume_after < passed_lsn)
		durable->rewind_needed = true;
}

static void
handle_ack(Durable *durable, Subscriber *sub, WcLsn end_lsn)
{
	WcLsn		limit = sub->delivered_lsn > sub->resume_after ?
		sub->delivered_lsn : sub->resume_after;

	if (end_lsn > limit)
	{
		wc_warning("durable subscriber \"%s\" acknowledged %X/%X, beyond what it was sent (%X/%X)",
				   sub->name, WC_LSN_ARGS(end_lsn), WC_LSN_ARGS(limit));
		end_lsn = limit;
	}
	if (end_lsn > sub->acked_lsn)
	{
		sub->acked_lsn = end_lsn;
		durable->acks_changed = true;
	}
}

static void
complain(Durable *durable, const uint8_t *routing_id, size_t routing_len,
		 const char *what)
{
	int64_t		now = wc_now_monotonic();

	if (now - durable->last_garbage_log > 10 * 1000000)
	{
		wc_warning("ignored %s on the durable socket", what);
		durable->last_garbage_log = now;
	}
	if (routing_id)
		send_refusal(durable, routing_id, routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_PROTOCOL, what);
}

/* read one multipart message into up to 3 frames; returns frame count */
static int
recv_frames(void *socket, zmq_msg_t *frames, int max, int *total)
{
	int			n = 0;

	*total = 0;
	for (;;)
	{
		zmq_msg_t	msg;
		int			more;

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, socket, ZMQ_DONTWAIT) < 0)
		{
			zmq_msg_close(&msg);
			return n;
		}
		more = zmq_msg_more(&msg);
		if (n < max)
			frames[n++] = msg;
		else
			zmq_msg_close(&msg);
		(*total)++;
		if (!more)
			return n;
	}
}

void
durable_handle_input(Durable *durable, RelTable *rels, WcLsn passed_lsn)
{
	for (;;)
	{
		zmq_msg_t	frames[3];
		int			total;
		int			n = recv_frames(durable->socket, frames, 3, &total);
		const uint8_t *routing_id;
		size_t		routing_len;
		Walcast__V1__SubscriberMessage *msg = NULL;
		Subscriber *sub;

		if (n == 0)
			return;
		routing_id = zmq_msg_data(&frames[0]);
		routing_len = zmq_msg_size(&frames[0]);
		if (total != 2)
			complain(durable, routing_id, routing_len,
					 "a message with the wrong number of frames");
		else if ((msg = walcast__v1__subscriber_message__unpack(NULL,
																zmq_msg_size(&frames[1]),
																zmq_msg_data(&frames[1]))) == NULL ||
				 msg->body_case == WALCAST__V1__SUBSCRIBER_MESSAGE__BODY__NOT_SET)
			complain(durable, routing_id, routing_len,
					 "a message that is not a SubscriberMessage");
		else if (msg->body_case == WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_HELLO)
			handle_hello(durable, routing_id, routing_len, msg->hello, passed_lsn);
		else if ((sub = find_session(durable, routing_id, routing_len)) == NULL)
		{
			/* e.g. the relay restarted under a connected subscriber */
			send_refusal(durable, routing_id, routing_len,
						 WALCAST__V1__REFUSAL__REASON__REASON_NO_SESSION,
						 "no session: send Hello first");
		}
		else
		{
			sub->last_seen = wc_now_monotonic();
			switch (msg->body_case)
			{
				case WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_ACK:
					handle_ack(durable, sub, msg->ack->end_lsn);
					break;
				case WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_CREDIT:
					sub->credit += msg->credit->messages;
					break;
				case WALCAST__V1__SUBSCRIBER_MESSAGE__BODY_BYE:
					end_session(sub, "said goodbye");
					break;
				default:
					break;		/* Ping */
			}
		}
		if (msg)
			walcast__v1__subscriber_message__free_unpacked(msg, NULL);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&frames[i]);
	}
}

void
durable_begin_message(Durable *durable)
{
	for (int i = 0; i < durable->nsubscribers; i++)
		durable->subscribers[i].done = false;
}

/*
 * Send one envelope to a session.  0 when sent, 1 when it must wait
 * (queue full), -1 when the session ended.
 */
static int
deliver_one(Durable *durable, Subscriber *sub, const uint8_t *envelope,
			size_t len, WcLsn tx_end_lsn, bool repeated_relation)
{
	Walcast__V1__RelayMessage msg = WALCAST__V1__RELAY_MESSAGE__INIT;
	Walcast__V1__Delivery delivery = WALCAST__V1__DELIVERY__INIT;

	delivery.sequence = sub->sequence + 1;
	delivery.tx_end_lsn = tx_end_lsn;
	delivery.repeated_relation = repeated_relation;
	msg.body_case = WALCAST__V1__RELAY_MESSAGE__BODY_DELIVERY;
	msg.delivery = &delivery;
	if (send_to(durable, sub->routing_id, sub->routing_len, &msg,
				envelope, len) < 0)
	{
		if (errno == EAGAIN)
			return 1;
		end_session(sub, "connection lost");
		return -1;
	}
	sub->sequence++;
	sub->last_sent = wc_now_monotonic();
	return 0;
}

/* make sure sub holds rel's current definition; 0, 1 or -1 as above */
static int
ensure_relation(Durable *durable, Subscriber *sub, RelInfo *rel)
{
	int			rc;

	if (rel == NULL || relgen_get(sub->sent_rels, rel->rel_id) == rel->generation)
		return 0;
	rc = deliver_one(durable, sub, rel->relation, rel->relation_len, 0, true);
	if (rc == 0)
		relgen_set(sub->sent_rels, rel->rel_id, rel->generation);
	return rc;
}

bool
durable_deliver(Durable *durable, const Routed *m, RelTable *rels)
{
	const EnvelopeInfo *info = &m->info;
	RelInfo    *rel = m->rel;
	bool		all_done = true;
	uint32_t   *truncated = NULL;	/* a Truncate's tables */
	int			ntruncated = 0;

	/* what the sessions need looked up, once for all of them */
	if (info->kind == ENV_TRUNCATE)
		ntruncated = envelope_truncated(info, &truncated);

	for (int i = 0; i < durable->nsubscribers; i++)
	{
		Subscriber *sub = &durable->subscribers[i];
		int			rc = 0;

		if (!sub->online || sub->done)
			continue;
		if (m->position != 0 && m->position <= sub->resume_after)
		{
			sub->done = true;	/* it has this already */
			continue;
		}
		if (info->kind == ENV_RELATION &&
			relgen_get(sub->sent_rels, info->rel_id) == rel->generation)
		{
			sub->done = true;	/* the same definition, sent before */
			continue;
		}
		if (sub->credit <= 0)
			rc = 1;
		else if (rel != NULL && info->kind != ENV_RELATION)
			rc = ensure_relation(durable, sub, rel);
		for (int j = 0; rc == 0 && j < ntruncated; j++)
			rc = ensure_relation(durable, sub, rels_find(rels, truncated[j]));
		if (rc == 0)
			rc = deliver_one(durable, sub, m->envelope, m->len, m->tx_end, false);
		if (rc == 1)
		{
			/* no credit, or its queue is full: the message waits */
			if (sub->blocked_since == 0)
				sub->blocked_since = wc_now_monotonic();
			all_done = false;
			continue;
		}
		sub->done = true;
		sub->blocked_since = 0;
		if (rc < 0)
			continue;
		sub->credit--;
		if (info->kind == ENV_RELATION)
			relgen_set(sub->sent_rels, info->rel_id, rel->generation);
		if (envelope_completes(info))
			sub->delivered_lsn = m->position;
	}
	free(truncated);
	return all_done;
}

void
durable_rewound(Durable *durable)
{
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		Subscriber *sub = &durable->subscribers[i];

		/* what it has whole it must not get twice */
		if (sub->online && sub->delivered_lsn > sub->resume_after)
			sub->resume_after = sub->delivered_lsn;
	}
	durable->rewind_needed = false;
}

void
durable_tick(Durable *durable, int64_t now)
{
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		Subscriber *sub = &durable->subscribers[i];

		if (!sub->online)
			continue;
		if (now - sub->last_seen > (int64_t) durable->identity.session_timeout * 1000000)
		{
			end_session(sub, "timed out");
			continue;
		}
		if (now - sub->last_sent >= HEARTBEAT_INTERVAL_USEC)
		{
			if (send_heartbeat(durable, sub) == 0)
				sub->last_sent = now;
			else if (errno != EAGAIN)
				end_session(sub, "connection lost");
		}
	}
}

void
durable_evict(Durable *durable, Subscriber *sub, const char *reason)
{
	if (sub->online)
	{
		char	   *text = wc_psprintf("durable subscriber \"%s\" was evicted: %s",
									   sub->name, reason);

		send_refusal(durable, sub->routing_id, sub->routing_len,
					 WALCAST__V1__REFUSAL__REASON__REASON_EVICTED, text);
		free(text);
		end_session(sub, "evicted");
	}
	sub->evicted = true;
	durable->acks_changed = true;
}

void
durable_shutdown(Durable *durable)
{
	for (int i = 0; i < durable->nsubscribers; i++)
	{
		Subscriber *sub = &durable->subscribers[i];

		if (sub->online)
		{
			send_refusal(durable, sub->routing_id, sub->routing_len,
						 WALCAST__V1__REFUSAL__REASON__REASON_SHUTDOWN,
						 "the relay is shutting down");
			end_session(sub, "relay shutting down");
		}
	}
}
