/*-------------------------------------------------------------------------
 *
 * envelope.h
 *		Reading the few fields of an Envelope that the relay routes by.
 *
 * The relay republishes the plugin's bytes unchanged; it only needs to
 * know what kind of event each one is, which table a row belongs to and
 * where transactions end.  envelope_scan() reads those fields straight
 * from the protobuf wire format (field numbers in walcast.proto) without
 * unpacking rows, so the relay's cost per message does not grow with the
 * width of the row.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_ENVELOPE_H
#define WALCAST_ENVELOPE_H

#include "common.h"

/* Envelope.body field numbers (walcast.proto) */
typedef enum EnvelopeKind
{
	ENV_NONE = 0,
	ENV_STARTUP = 10,
	ENV_BEGIN = 11,
	ENV_COMMIT = 12,
	ENV_RELATION = 13,
	ENV_INSERT = 14,
	ENV_UPDATE = 15,
	ENV_DELETE = 16,
	ENV_TRUNCATE = 17,
	ENV_MESSAGE = 18,
	ENV_SCHEMA_CHANGE = 19,
	ENV_STREAM_START = 20,
	ENV_STREAM_STOP = 21,
	ENV_STREAM_COMMIT = 22,
	ENV_STREAM_ABORT = 23,
	ENV_BEGIN_PREPARE = 24,
	ENV_PREPARE = 25,
	ENV_COMMIT_PREPARED = 26,
	ENV_ROLLBACK_PREPARED = 27,
	ENV_STREAM_PREPARE = 28
} EnvelopeKind;

typedef struct EnvelopeInfo
{
	WcLsn		lsn;			/* Envelope.lsn */
	uint32_t	xid;			/* Envelope.xid */
	uint64_t	change_index;	/* Envelope.change_index */
	EnvelopeKind kind;			/* which body; ENV_NONE when none known */
	const uint8_t *body;		/* the body message's bytes */
	size_t		body_len;
	uint32_t	rel_id;			/* Relation, Insert, Update, Delete */
	WcLsn		end_lsn;		/* field 2 of Begin, Commit and the other
								 * transaction boundaries */
	int64_t		time;			/* field 3 of the same: commit or prepare
								 * time, microseconds since the Unix epoch */
	bool		transactional;	/* Message.transactional */
	const char *schema;			/* Relation.schema, not terminated */
	size_t		schema_len;
	const char *name;			/* Relation.name, not terminated */
	size_t		name_len;
	const char *database;		/* Startup.database, not terminated */
	size_t		database_len;
} EnvelopeInfo;

/* read buf; 0 on success, -1 when it is not a well-formed Envelope */
extern int	envelope_scan(const uint8_t *buf, size_t len, EnvelopeInfo *info);

/*
 * The rel_ids of a Truncate body, in a new array the caller frees; returns
 * their number, or -1 when malformed.
 */
extern int	envelope_truncated(const EnvelopeInfo *info, uint32_t **rel_ids);

/* the kind's name as in walcast.proto ("insert"), for logs and tools */
extern const char *envelope_kind_name(EnvelopeKind kind);

/* whether an event of this kind ends a transaction that can be acknowledged */
static inline bool
envelope_ends_transaction(EnvelopeKind kind)
{
	return kind == ENV_COMMIT || kind == ENV_PREPARE ||
		kind == ENV_COMMIT_PREPARED || kind == ENV_ROLLBACK_PREPARED ||
		kind == ENV_STREAM_COMMIT || kind == ENV_STREAM_PREPARE;
}

/*
 * Where an event stands in the stream, for skipping what a subscriber has:
 * the end of its transaction, or a non-transactional message's own LSN;
 * 0 when not known (streamed transactions before their end).
 */
static inline WcLsn
envelope_position(const EnvelopeInfo *info, WcLsn tx_end_lsn)
{
	if (tx_end_lsn != 0)
		return tx_end_lsn;
	if (info->kind == ENV_MESSAGE && !info->transactional)
		return info->lsn;
	return 0;
}

/*
 * Whether the event is the last of something whole (a transaction, or a
 * non-transactional message): once it is out, everything up to its
 * position is.
 */
static inline bool
envelope_completes(const EnvelopeInfo *info)
{
	return envelope_ends_transaction(info->kind) ||
		(info->kind == ENV_MESSAGE && !info->transactional);
}

/* whether the event belongs to one table's topic */
static inline bool
envelope_is_table_event(EnvelopeKind kind)
{
	return kind == ENV_RELATION || kind == ENV_INSERT ||
		kind == ENV_UPDATE || kind == ENV_DELETE;
}

#endif							/* WALCAST_ENVELOPE_H */
