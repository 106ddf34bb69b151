/*-------------------------------------------------------------------------
 *
 * pub.c
 *		The publish socket.
 *
 *-------------------------------------------------------------------------
 */
#include "pub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "walcast/v1/relay.pb-c.h"

/* a topic's sequence counter, in a chained hash table */
typedef struct TopicSeq
{
	struct TopicSeq *next;
	uint64_t	sequence;		/* last sequence sent on the topic */
	size_t		len;
	char		topic[];		/* not terminated */
} TopicSeq;

#define TOPIC_BUCKETS 1024

struct Publisher
{
	void	   *socket;			/* XPUB, manual subscriptions */
	uint64_t	epoch;
	TopicSeq   *buckets[TOPIC_BUCKETS];
	uint64_t	messages;		/* published */
	uint64_t	subscriptions;	/* subscribe messages seen */
	int64_t		last_garbage_log;	/* when we last complained */
};

Publisher *
pub_new(void *zctx, const char *endpoint, int sndhwm, uint64_t epoch,
		WcError *err)
{
	Publisher  *pub = wc_malloc0(sizeof(Publisher));
	int			one = 1;
	int			linger = 1000;

	pub->epoch = epoch;
	pub->socket = zmq_socket(zctx, ZMQ_XPUB);
	if (pub->socket == NULL ||
		zmq_setsockopt(pub->socket, ZMQ_XPUB_MANUAL, &one, sizeof(one)) != 0 ||
		zmq_setsockopt(pub->socket, ZMQ_SNDHWM, &sndhwm, sizeof(sndhwm)) != 0 ||
		zmq_setsockopt(pub->socket, ZMQ_LINGER, &linger, sizeof(linger)) != 0)
	{
		wc_error_set(err, "could not create publish socket: %s",
					 zmq_strerror(errno));
		pub_destroy(&pub);
		return NULL;
	}
	if (zmq_bind(pub->socket, endpoint) != 0)
	{
		wc_error_set(err, "could not bind publish socket to \"%s\": %s",
					 endpoint, zmq_strerror(errno));
		pub_destroy(&pub);
		return NULL;
	}
	return pub;
}

void
pub_destroy(Publisher **pubp)
{
	Publisher  *pub = *pubp;

	if (pub == NULL)
		return;
	if (pub->socket)
		zmq_close(pub->socket);
	for (int i = 0; i < TOPIC_BUCKETS; i++)
	{
		while (pub->buckets[i])
		{
			TopicSeq   *next = pub->buckets[i]->next;

			free(pub->buckets[i]);
			pub->buckets[i] = next;
		}
	}
	free(pub);
	*pubp = NULL;
}

void *
pub_socket(Publisher *pub)
{
	return pub->socket;
}

static void
mark_unpublished(RelInfo *rel, void *arg)
{
	rel->published = false;
}

int
pub_handle_input(Publisher *pub, RelTable *rels)
{
	int			count = 0;

	for (;;)
	{
		zmq_msg_t	msg;
		const uint8_t *data;
		size_t		len;
		int			more;

		zmq_msg_init(&msg);
		if (zmq_msg_recv(&msg, pub->socket, ZMQ_DONTWAIT) < 0)
		{
			zmq_msg_close(&msg);
			break;
		}
		data = zmq_msg_data(&msg);
		len = zmq_msg_size(&msg);
		more = zmq_msg_more(&msg);
		if (!more && len >= 1 && (data[0] == 1 || data[0] == 0))
		{
			int			opt = data[0] == 1 ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE;

			/* manual mode: the subscription counts once we apply it */
			zmq_setsockopt(pub->socket, opt, data + 1, len - 1);
			if (data[0] == 1)
			{
				pub->subscriptions++;
				count++;
				wc_debug("new subscription to topic \"%.*s\"",
						 (int) len - 1, (const char *) data + 1);
			}
		}
		else
		{
			int64_t		now = wc_now_monotonic();

			/* subscribers send nothing else; say so once a minute at most */
			if (now - pub->last_garbage_log > 60 * 1000000)
			{
				wc_warning("ignored a message of %zu bytes on the publish socket that is not a subscription",
						   len);
				wc_log_detail("Subscribers on the publish socket only subscribe and unsubscribe.");
				pub->last_garbage_log = now;
			}
			while (more)
			{
				zmq_msg_close(&msg);
				zmq_msg_init(&msg);
				if (zmq_msg_recv(&msg, pub->socket, ZMQ_DONTWAIT) < 0)
					break;
				more = zmq_msg_more(&msg);
			}
		}
		zmq_msg_close(&msg);
	}
	if (count > 0)
		rels_foreach(rels, mark_unpublished, NULL);
	return count;
}

static uint64_t
next_sequence(Publisher *pub, const char *topic, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;
	TopicSeq  **bucket;
	TopicSeq   *t;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char) topic[i]) * 1099511628211ULL;
	bucket = &pub->buckets[h % TOPIC_BUCKETS];
	for (t = *bucket; t; t = t->next)
	{
		if (t->len == len && memcmp(t->topic, topic, len) == 0)
			return ++t->sequence;
	}
	t = wc_malloc(sizeof(TopicSeq) + len);
	t->len = len;
	memcpy(t->topic, topic, len);
	t->sequence = 1;
	t->next = *bucket;
	*bucket = t;
	return 1;
}

int
pub_send(Publisher *pub, const char *topic, size_t topic_len,
		 const uint8_t *envelope, size_t len, WcLsn tx_end_lsn,
		 bool repeated_relation, WcError *err)
{
	Walcast__V1__Header header = WALCAST__V1__HEADER__INIT;
	uint8_t		buf[64];
	size_t		header_len;

	header.sequence = next_sequence(pub, topic, topic_len);
	header.epoch = pub->epoch;
	header.tx_end_lsn = tx_end_lsn;
	header.repeated_relation = repeated_relation;
	header_len = walcast__v1__header__pack(&header, buf);

	/* XPUB never blocks: a subscriber over its high-water mark misses it */
	if (zmq_send(pub->socket, topic, topic_len, ZMQ_SNDMORE) < 0 ||
		zmq_send(pub->socket, buf, header_len, ZMQ_SNDMORE) < 0 ||
		zmq_send(pub->socket, envelope, len, 0) < 0)
	{
		wc_error_set(err, "could not publish a message: %s",
					 zmq_strerror(errno));
		return -1;
	}
	pub->messages++;
	return 0;
}

uint64_t
pub_messages(Publisher *pub)
{
	return pub->messages;
}

uint64_t
pub_subscriptions(Publisher *pub)
{
	return pub->subscriptions;
}
