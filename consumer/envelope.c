/*-------------------------------------------------------------------------
 *
 * envelope.c
 *		A minimal protobuf reader for the routing fields of an Envelope.
 *
 * Wire format: each field is a varint key (field number << 3 | wire type)
 * followed by a varint (type 0), 8 bytes (type 1), a varint length and
 * that many bytes (type 2) or 4 bytes (type 5).  Unknown fields are
 * skipped, as protobuf requires, so newer plugins stay readable.
 *
 *-------------------------------------------------------------------------
 */
#include "envelope.h"

#include <stdlib.h>
#include <string.h>

#define WT_VARINT	0
#define WT_FIXED64	1
#define WT_LEN		2
#define WT_FIXED32	5

typedef struct Reader
{
	const uint8_t *p;			/* next byte */
	const uint8_t *end;			/* one past the last byte */
} Reader;

static int
read_varint(Reader *r, uint64_t *value)
{
	uint64_t	v = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8_t		b;

		if (r->p >= r->end)
			return -1;
		b = *r->p++;
		v |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*value = v;
			return 0;
		}
	}
	return -1;
}

/*
 * Read one field's key and value.  For length-delimited fields *bytes and
 * *len describe the contents and *value is the length.
 */
static int
read_field(Reader *r, uint32_t *field, uint64_t *value,
		   const uint8_t **bytes)
{
	uint64_t	key;

	if (read_varint(r, &key) < 0)
		return -1;
	*field = (uint32_t) (key >> 3);
	*bytes = NULL;
	switch (key & 7)
	{
		case WT_VARINT:
			return read_varint(r, value);
		case WT_FIXED64:
			if (r->end - r->p < 8)
				return -1;
			memcpy(value, r->p, 8);
			r->p += 8;
			return 0;
		case WT_FIXED32:
			if (r->end - r->p < 4)
				return -1;
			*value = 0;
			memcpy(value, r->p, 4);
			r->p += 4;
			return 0;
		case WT_LEN:
			if (read_varint(r, value) < 0 ||
				*value > (uint64_t) (r->end - r->p))
				return -1;
			*bytes = r->p;
			r->p += *value;
			return 0;
		default:
			return -1;
	}
}

/* read the fields of a body that the relay needs */
static int
scan_body(EnvelopeInfo *info)
{
	Reader		r = {info->body, info->body + info->body_len};

	while (r.p < r.end)
	{
		uint32_t	field;
		uint64_t	value;
		const uint8_t *bytes;

		if (read_field(&r, &field, &value, &bytes) < 0)
			return -1;
		switch (info->kind)
		{
			case ENV_RELATION:
				if (field == 1 && !bytes)
					info->rel_id = (uint32_t) value;
				else if (field == 2 && bytes)
				{
					info->schema = (const char *) bytes;
					info->schema_len = value;
				}
				else if (field == 3 && bytes)
				{
					info->name = (const char *) bytes;
					info->name_len = value;
				}
				break;
			case ENV_INSERT:
			case ENV_UPDATE:
			case ENV_DELETE:
				if (field == 1 && !bytes)
					info->rel_id = (uint32_t) value;
				break;
			case ENV_MESSAGE:
				if (field == 1 && !bytes)
					info->transactional = value != 0;
				break;
			case ENV_STARTUP:
				if (field == 4 && bytes)
				{
					info->database = (const char *) bytes;
					info->database_len = value;
				}
				break;
			case ENV_BEGIN:
			case ENV_COMMIT:
			case ENV_BEGIN_PREPARE:
			case ENV_PREPARE:
			case ENV_COMMIT_PREPARED:
			case ENV_ROLLBACK_PREPARED:
			case ENV_STREAM_COMMIT:
			case ENV_STREAM_PREPARE:
				if (field == 2 && !bytes)
					info->end_lsn = value;
				else if (field == 3 && !bytes)	/* sint64: zigzag */
					info->time = (int64_t) (value >> 1) ^ -(int64_t) (value & 1);
				break;
			default:
				break;
		}
	}
	return 0;
}

int
envelope_scan(const uint8_t *buf, size_t len, EnvelopeInfo *info)
{
	Reader		r = {buf, buf + len};

	memset(info, 0, sizeof(*info));
	while (r.p < r.end)
	{
		uint32_t	field;
		uint64_t	value;
		const uint8_t *bytes;

		if (read_field(&r, &field, &value, &bytes) < 0)
			return -1;
		if (field == 1 && !bytes)
			info->lsn = value;
		else if (field == 2 && !bytes)
			info->xid = (uint32_t) value;
		else if (field == 3 && !bytes)
			info->change_index = value;
		else if (field >= ENV_STARTUP && field <= ENV_STREAM_PREPARE && bytes)
		{
			info->kind = (EnvelopeKind) field;
			info->body = bytes;
			info->body_len = value;
		}
	}
	if (info->kind != ENV_NONE && scan_body(info) < 0)
		return -1;
	return 0;
}

int
envelope_truncated(const EnvelopeInfo *info, uint32_t **rel_ids)
{
	Reader		r = {info->body, info->body + info->body_len};
	size_t		n = 0;
	size_t		cap = 8;
	uint32_t   *ids = wc_malloc(cap * sizeof(uint32_t));

	while (r.p < r.end)
	{
		uint32_t	field;
		uint64_t	value;
		const uint8_t *bytes;
		Reader		list;

		if (read_field(&r, &field, &value, &bytes) < 0)
			goto malformed;
		if (field != 1)
			continue;
		/* packed (the plugin's way) or one element per field */
		if (bytes)
			list = (Reader) {bytes, bytes + value};
		else
			list = (Reader) {NULL, NULL};
		do
		{
			if (bytes && read_varint(&list, &value) < 0)
				goto malformed;
			if (n == cap)
			{
				cap *= 2;
				ids = wc_realloc(ids, cap * sizeof(uint32_t));
			}
			ids[n++] = (uint32_t) value;
		} while (list.p < list.end);
	}
	*rel_ids = ids;
	return (int) n;

malformed:
	free(ids);
	*rel_ids = NULL;
	return -1;
}

const char *
envelope_kind_name(EnvelopeKind kind)
{
	switch (kind)
	{
		case ENV_NONE:
			return "none";
		case ENV_STARTUP:
			return "startup";
		case ENV_BEGIN:
			return "begin";
		case ENV_COMMIT:
			return "commit";
		case ENV_RELATION:
			return "relation";
		case ENV_INSERT:
			return "insert";
		case ENV_UPDATE:
			return "update";
		case ENV_DELETE:
			return "delete";
		case ENV_TRUNCATE:
			return "truncate";
		case ENV_MESSAGE:
			return "message";
		case ENV_SCHEMA_CHANGE:
			return "schema_change";
		case ENV_STREAM_START:
			return "stream_start";
		case ENV_STREAM_STOP:
			return "stream_stop";
		case ENV_STREAM_COMMIT:
			return "stream_commit";
		case ENV_STREAM_ABORT:
			return "stream_abort";
		case ENV_BEGIN_PREPARE:
			return "begin_prepare";
		case ENV_PREPARE:
			return "prepare";
		case ENV_COMMIT_PREPARED:
			return "commit_prepared";
		case ENV_ROLLBACK_PREPARED:
			return "rollback_prepared";
		case ENV_STREAM_PREPARE:
			return "stream_prepare";
	}
	return "unrecognized";
}
