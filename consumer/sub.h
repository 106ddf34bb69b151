/*-------------------------------------------------------------------------
 *
 * sub.h
 *		The C subscriber library: receive walcast envelopes from a relay.
 *
 * Two modes, as the relay has two sockets (proto/walcast/v1/README.md):
 *
 *   WCSUB_PUBLISH  a SUB socket on the publish socket; topics are prefixes
 *                  ("" for everything).  wcsub_next() reports gaps in each
 *                  topic's sequence in msg->gap.
 *   WCSUB_DURABLE  a DEALER socket on the durable channel as a named
 *                  subscriber: the library says Hello, keeps the credit
 *                  window open, pings, says Hello again when the relay
 *                  restarted, skips transactions at or below the last
 *                  acknowledged position, and acknowledges with wcsub_ack().
 *
 * Typical durable use: call wcsub_next() in a loop, apply each transaction
 * when its Commit arrives (drop an open one when a new Begin comes: it was
 * cut off and comes again whole), then wcsub_ack(Commit.end_lsn).
 *
 * The library never logs: functions return -1 and fill *err.  Envelope
 * bytes handed out stay valid until the next wcsub_next() call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_SUB_H
#define WALCAST_SUB_H

#include "common.h"

typedef enum WcSubMode
{
	WCSUB_PUBLISH,
	WCSUB_DURABLE
} WcSubMode;

typedef struct WcSubOptions
{
	const char *endpoint;		/* the relay's socket */
	/* WCSUB_PUBLISH */
	const char *const *topics;	/* prefixes; none: everything */
	int			ntopics;
	/* WCSUB_DURABLE */
	const char *name;			/* as declared with --subscriber */
	const char *token;			/* NULL when none */
	WcLsn		applied_lsn;	/* last transaction applied, 0: relay's */
	uint32_t	credit;			/* window, 0: 1000 */
} WcSubOptions;

typedef struct WcSubMessage
{
	const char *topic;			/* publish: not terminated; else NULL */
	size_t		topic_len;
	uint64_t	sequence;		/* Header.sequence or Delivery.sequence */
	uint64_t	gap;			/* publish: messages lost before this one */
	WcLsn		tx_end_lsn;		/* 0 when not known */
	bool		repeated_relation;
	const uint8_t *envelope;	/* the Envelope bytes */
	size_t		envelope_len;
} WcSubMessage;

/* the Refusal reasons of relay.proto, for wcsub_refused() */
#define WCSUB_REFUSED_NONE 0

typedef struct WcSub WcSub;

extern WcSub *wcsub_new(void *zctx, WcSubMode mode, const WcSubOptions *opt,
						WcError *err);
extern void wcsub_destroy(WcSub **sub);

/*
 * Wait up to timeout_ms (-1: forever) for the next envelope.  1 with *msg
 * filled in, 0 on timeout, -1 on error: wcsub_refused() then says whether
 * the relay refused us and why (a Refusal.Reason).
 */
extern int	wcsub_next(WcSub *sub, WcSubMessage *msg, int timeout_ms,
					   WcError *err);

/* durable: every transaction ending at or before end_lsn is applied */
extern int	wcsub_ack(WcSub *sub, WcLsn end_lsn, WcError *err);

extern int	wcsub_refused(WcSub *sub);

/* durable: the Welcome's database and position, once welcomed */
extern const char *wcsub_database(WcSub *sub);
extern WcLsn wcsub_resume_after(WcSub *sub);

#endif							/* WALCAST_SUB_H */
