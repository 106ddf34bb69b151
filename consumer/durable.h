/*-------------------------------------------------------------------------
 *
 * durable.h
 *		The durable channel: named subscribers that get every transaction,
 *		in order, while they have credit, and acknowledge what they applied.
 *
 * A ROUTER socket; subscribers connect DEALER sockets and speak the
 * messages of relay.proto.  A session starts with Hello (name, token,
 * applied position, credit) and the relay answers Welcome or Refusal.
 * Each Delivery costs one credit (a Relation sent again so that the
 * subscriber can decode a row is free); Credit adds more, Ack records the
 * end of the last transaction applied, Ping keeps a quiet session alive,
 * Bye ends it.
 *
 * The relay keeps no copy of the data: the replication slot is the log.
 * The relay holds one message at a time; while an online subscriber has no
 * credit for it, the relay stops reading the slot (and the server keeps
 * the WAL).  An offline subscriber holds nothing but its acknowledged
 * position; when it returns behind the stream, the relay reads the slot
 * again from its confirmed position (a rewind), and the subscribers that
 * are ahead skip what they have.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_DURABLE_H
#define WALCAST_DURABLE_H

#include "common.h"
#include "envelope.h"
#include "rels.h"
#include "state.h"

#define DURABLE_MAX_ROUTING_ID 256

typedef struct Subscriber
{
	/* configuration */
	char		name[STATE_MAX_NAME + 1];
	char	   *token;			/* NULL: no token required */

	/* kept in the state file */
	WcLsn		acked_lsn;		/* every transaction ending here or before
								 * was applied */
	bool		evicted;		/* fell too far behind: must resynchronize */

	/* the session, while online */
	bool		online;
	uint8_t		routing_id[DURABLE_MAX_ROUTING_ID];
	size_t		routing_len;
	int64_t		last_seen;		/* monotonic µs of its last message */
	int64_t		last_sent;		/* monotonic µs of our last message */
	int64_t		credit;			/* deliveries it will take now */
	WcLsn		resume_after;	/* skip transactions ending here or before */
	WcLsn		delivered_lsn;	/* end of the last whole transaction sent */
	uint64_t	sequence;		/* of the last Delivery */
	RelGenMap  *sent_rels;		/* relation generations it holds */
	bool		done;			/* has (or skips) the held message */
	int64_t		blocked_since;	/* monotonic µs since it holds the stream
								 * for want of credit, or 0 */

	/* for the relay's warnings */
	int64_t		lag_warned_at;
} Subscriber;

/* what a Welcome tells */
typedef struct DurableIdentity
{
	uint64_t	system_identifier;
	char		slot[STATE_MAX_NAME + 1];
	char		database[256];
	uint64_t	epoch;
	int			session_timeout;	/* seconds */
} DurableIdentity;

typedef struct Durable
{
	void	   *socket;			/* ROUTER */
	Subscriber *subscribers;
	int			nsubscribers;
	DurableIdentity identity;
	WcLsn		wal_end;		/* server WAL end last seen, bounds claims */
	bool		rewind_needed;	/* a subscriber came back behind the stream */
	bool		acks_changed;	/* an acknowledged position moved */
	int64_t		last_garbage_log;
} Durable;

extern Durable *durable_new(void *zctx, const char *endpoint, WcError *err);
extern void durable_destroy(Durable **durable);

/* a configured subscriber; its position comes from the state file */
extern Subscriber *durable_add(Durable *durable, const char *name,
							   const char *token);
extern Subscriber *durable_find(Durable *durable, const char *name);

/*
 * Take in what subscribers sent.  passed_lsn is how far the stream has
 * gone: a subscriber that returns with a position before it sets
 * rewind_needed.
 */
extern void durable_handle_input(Durable *durable, RelTable *rels,
								 WcLsn passed_lsn);

/* start delivering a new message: every online session still needs it */
extern void durable_begin_message(Durable *durable);

/*
 * One message of the stream as the relay routes it, worked out once for
 * publishing and for every session, and kept while it is held.
 */
typedef struct Routed
{
	EnvelopeInfo info;
	const uint8_t *envelope;
	size_t		len;
	WcLsn		tx_end;			/* end of its transaction (follow_transaction) */
	WcLsn		position;		/* envelope_position() */
	RelInfo    *rel;			/* a row's or Relation's table, or NULL */
} Routed;

/*
 * Deliver the current message to every online session that still needs
 * it.  true when all have it (or skip it), false when one has no credit
 * yet: call again after durable_handle_input().
 */
extern bool durable_deliver(Durable *durable, const Routed *m, RelTable *rels);

/* after the stream was restarted: sessions resume after what they have */
extern void durable_rewound(Durable *durable);

/* time out silent sessions, send heartbeats */
extern void durable_tick(Durable *durable, int64_t now);

/* evict a subscriber: it must resynchronize */
extern void durable_evict(Durable *durable, Subscriber *sub,
						  const char *reason);

/* tell every online session that the relay stops */
extern void durable_shutdown(Durable *durable);

#endif							/* WALCAST_DURABLE_H */
