/*-------------------------------------------------------------------------
 *
 * pbwire.h
 *	  Writing protobuf wire format straight into a StringInfo.
 *
 * The plugin does not build protobuf-c message structs on its hot path: it
 * writes tags, varints and length-delimited fields directly into ctx->out,
 * behind the header the walsender has already put there.  The field numbers
 * used with these helpers are those of proto/walcast/v1/walcast.proto, named
 * in encode.c and relcache.c beside the code that writes each message; the
 * regression tests decode every byte with the protobuf-c code generated from
 * that file, so a mismatch shows up as a decoding failure.
 *
 * Proto3 scalars outside a oneof are skipped when zero (the canonical
 * encoding); the *_always variants write a field even when zero, as a set
 * oneof member must be.
 *
 * A nested message is written with pb_begin(), which reserves one byte for
 * its length, and pb_end(), which fills the length in, moving the message
 * body along in the rare case that its length needs more than one byte.
 * Rows, which are mostly longer than 127 bytes, use pb_begin_wide() and
 * pb_end_wide(), which reserve two.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_PBWIRE_H
#define WALCAST_PBWIRE_H

#include "lib/stringinfo.h"
#include "port/pg_bswap.h"

#define PB_VARINT	0
#define PB_FIXED64	1
#define PB_LEN		2
#define PB_FIXED32	5

/* Make room for n more bytes. */
static inline void
pb_reserve(StringInfo s, int n)
{
	if (unlikely(s->len + n >= s->maxlen))
		enlargeStringInfo(s, n);
}

/* Number of bytes a varint takes. */
static inline int
pb_varint_size(uint64 v)
{
	int			n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/* Store a varint at p, with room already made; returns the end. */
static inline char *
pb_put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static inline void
pb_varint(StringInfo s, uint64 v)
{
	pb_reserve(s, 10);
	s->len = pb_put_varint(s->data + s->len, v) - s->data;
}

static inline void
pb_tag(StringInfo s, uint32 field, int wiretype)
{
	pb_varint(s, ((uint64) field << 3) | wiretype);
}

static inline uint64
pb_zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

static inline void
pb_uint_always(StringInfo s, uint32 field, uint64 v)
{
	pb_tag(s, field, PB_VARINT);
	pb_varint(s, v);
}

static inline void
pb_uint(StringInfo s, uint32 field, uint64 v)
{
	if (v != 0)
		pb_uint_always(s, field, v);
}

/* int32 and int64 fields: negative values are sign-extended to 64 bits. */
static inline void
pb_int(StringInfo s, uint32 field, int64 v)
{
	if (v != 0)
		pb_uint_always(s, field, (uint64) v);
}

static inline void
pb_sint_always(StringInfo s, uint32 field, int64 v)
{
	pb_uint_always(s, field, pb_zigzag(v));
}

static inline void
pb_sint(StringInfo s, uint32 field, int64 v)
{
	if (v != 0)
		pb_sint_always(s, field, v);
}

static inline void
pb_bool(StringInfo s, uint32 field, bool v)
{
	if (v)
		pb_uint_always(s, field, 1);
}

/* The wire form of a double and of a float: IEEE 754, little-endian. */
static inline uint64
pb_double_bits(double v)
{
	uint64		bits;

	memcpy(&bits, &v, sizeof(bits));
#ifdef WORDS_BIGENDIAN
	bits = pg_bswap64(bits);
#endif
	return bits;
}

static inline uint32
pb_float_bits(float v)
{
	uint32		bits;

	memcpy(&bits, &v, sizeof(bits));
#ifdef WORDS_BIGENDIAN
	bits = pg_bswap32(bits);
#endif
	return bits;
}

static inline void
pb_bytes_always(StringInfo s, uint32 field, const char *data, Size len)
{
	pb_tag(s, field, PB_LEN);
	pb_varint(s, len);
	pb_reserve(s, len);
	memcpy(s->data + s->len, data, len);
	s->len += len;
}

static inline void
pb_bytes(StringInfo s, uint32 field, const char *data, Size len)
{
	if (len > 0)
		pb_bytes_always(s, field, data, len);
}

static inline void
pb_string(StringInfo s, uint32 field, const char *str)
{
	if (str != NULL)
		pb_bytes(s, field, str, strlen(str));
}

/* Open a nested message; returns the offset of its length byte. */
static inline int
pb_begin(StringInfo s, uint32 field)
{
	int			at;

	pb_tag(s, field, PB_LEN);
	pb_reserve(s, 1);
	at = s->len++;
	return at;
}

/*
 * Open a nested message that is likely 128 bytes to 16 KiB long (a row):
 * two bytes are reserved for its length, so that pb_end_wide() usually
 * fills them in without moving the body.  Returns the offset of the first.
 */
static inline int
pb_begin_wide(StringInfo s, uint32 field)
{
	int			at;

	pb_tag(s, field, PB_LEN);
	pb_reserve(s, 2);
	at = s->len;
	s->len += 2;
	return at;
}

/*
 * Write the length of the nested message whose body follows the reserved
 * bytes at offset at, moving the body when its varint needs another number
 * of bytes than were reserved.
 */
static inline void
pb_end_moving(StringInfo s, int at, int reserved)
{
	Size		len = s->len - at - reserved;
	int			need = pb_varint_size(len);
	unsigned char *p;

	if (need > reserved)
		pb_reserve(s, need - reserved);
	p = (unsigned char *) s->data + at;
	memmove(p + need, p + reserved, len);
	s->len += need - reserved;
	s->data[s->len] = '\0';
	while (len >= 0x80)
	{
		*p++ = (unsigned char) (len | 0x80);
		len >>= 7;
	}
	*p = (unsigned char) len;
}

/* Close the nested message opened at offset at by pb_begin_wide(). */
static inline void
pb_end_wide(StringInfo s, int at)
{
	Size		len = s->len - at - 2;

	if (likely(len >= 0x80 && len < 0x4000))
	{
		/* the two-byte varint it needs, canonical */
		s->data[at] = (char) (len | 0x80);
		s->data[at + 1] = (char) (len >> 7);
	}
	else
		pb_end_moving(s, at, 2);
}

/* Close the nested message opened at offset at. */
static inline void
pb_end(StringInfo s, int at)
{
	Size		len = s->len - at - 1;

	if (likely(len < 0x80))
		s->data[at] = (char) len;
	else
		pb_end_moving(s, at, 1);
}

#endif							/* WALCAST_PBWIRE_H */
