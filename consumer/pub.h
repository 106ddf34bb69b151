/*-------------------------------------------------------------------------
 *
 * pub.h
 *		The publish socket: every envelope to anyone who subscribes.
 *
 * An XPUB socket in manual mode: the relay sees each subscription, applies
 * it itself, and then knows that the new subscriber has seen no Relation
 * yet, so the next row of each table is preceded by that table's Relation
 * again (RelInfo.published).  Each message is three frames, topic, Header
 * and envelope (relay.proto); the Header's sequence counts per topic.  A
 * subscriber that does not keep up loses messages at its high-water mark;
 * it never holds up the relay or anyone else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_PUB_H
#define WALCAST_PUB_H

#include "common.h"
#include "rels.h"

typedef struct Publisher Publisher;

extern Publisher *pub_new(void *zctx, const char *endpoint, int sndhwm,
						  uint64_t epoch, WcError *err);
extern void pub_destroy(Publisher **pub);

/* the socket to poll for subscriptions */
extern void *pub_socket(Publisher *pub);

/*
 * Take in the subscriptions that have arrived; after a new one, every
 * relation is sent again before its next row.  Returns how many arrived.
 */
extern int	pub_handle_input(Publisher *pub, RelTable *rels);

/* publish one envelope on topic */
extern int	pub_send(Publisher *pub, const char *topic, size_t topic_len,
					 const uint8_t *envelope, size_t len, WcLsn tx_end_lsn,
					 bool repeated_relation, WcError *err);

/* messages published, and subscriptions seen, since start */
extern uint64_t pub_messages(Publisher *pub);
extern uint64_t pub_subscriptions(Publisher *pub);

#endif							/* WALCAST_PUB_H */
