/*-------------------------------------------------------------------------
 *
 * encode.c
 *	  Encoding of rows and values as walcast.v1.Tuple and walcast.v1.Value.
 *
 * This is the plugin's hot path.  Each column's encoding is decided once per
 * relation version (codec_init, called from relcache.c): a ValueKind, the
 * Value field it writes, and for the types sent through their output
 * function a ready FmgrInfo.  Per row the tuple is deformed once and every
 * value is written straight into ctx->out (pbwire.h), with no intermediate
 * protobuf structs and no catalog lookups.
 *
 * Rules that keep the slot moving: nothing here raises an ERROR or WARNING
 * on a data value.  Special values (NaN, infinities) have a representation;
 * a type without a native mapping is sent as its text output; an unchanged
 * out-of-line TOAST value is never fetched, it is marked as such.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/array.h"
#include "utils/bytea.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "pbwire.h"
#include "walcast.h"

/* Field numbers of the nested messages written here. */
#define F_TUPLE_VALUES		1
#define F_TIMETZ_TIME		1
#define F_TIMETZ_OFFSET		2
#define F_INTERVAL_MONTHS	1
#define F_INTERVAL_DAYS		2
#define F_INTERVAL_US		3
#define F_ARRAY_ELEMTYPE	1
#define F_ARRAY_DIMS		2
#define F_ARRAY_LBOUNDS		3
#define F_ARRAY_ELEMENTS	4

/* Microseconds between the PostgreSQL epoch (2000-01-01) and the Unix one. */
#define EPOCH_SHIFT_US \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)
#define EPOCH_SHIFT_DAYS	(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)

/* How text reaches the wire, set per session by encode_init. */
static bool need_conversion = false;	/* server encoding is not UTF-8 */
static bool sql_ascii = false;	/* SQL_ASCII: bytes of unknown encoding */
static pg_tz *utc = NULL;		/* the time zone text output is made in */

static inline void encode_value(StringInfo out, uint32 field, TypeCodec *codec,
								Datum value);

void
encode_init(void)
{
	int			encoding = GetDatabaseEncoding();

	sql_ascii = (encoding == PG_SQL_ASCII);
	need_conversion = (encoding != PG_UTF8 && !sql_ascii);
	if (utc == NULL)
		utc = pg_tzset("UTC");
}

/*
 * The text output of a type walcast does not map natively, made under fixed
 * settings: a range of timestamps, a point or a composite holding a bytea
 * must not read differently because the session that decodes has another
 * DateStyle, TimeZone, IntervalStyle, extra_float_digits or bytea_output.
 * The settings are swapped for the call only; an ERROR restores them too.
 * XXX: money still follows lc_monetary.
 */
static char *
output_fixed(FmgrInfo *output, Datum value)
{
	int			datestyle = DateStyle;
	int			dateorder = DateOrder;
	int			intervalstyle = IntervalStyle;
	int			float_digits = extra_float_digits;
	int			bytea_style = bytea_output;
	pg_tz	   *timezone = session_timezone;
	char	   *result;

	DateStyle = USE_ISO_DATES;
	DateOrder = DATEORDER_YMD;
	IntervalStyle = INTSTYLE_POSTGRES;
	extra_float_digits = 1;
	bytea_output = BYTEA_OUTPUT_HEX;
	if (utc != NULL)
		session_timezone = utc;
	PG_TRY();
	{
		result = OutputFunctionCall(output, value);
	}
	PG_FINALLY();
	{
		DateStyle = datestyle;
		DateOrder = dateorder;
		IntervalStyle = intervalstyle;
		extra_float_digits = float_digits;
		bytea_output = bytea_style;
		session_timezone = timezone;
	}
	PG_END_TRY();
	return result;
}

/*
 * Free a detoasted or decompressed copy as soon as its bytes are in the
 * output: a 100 MB value must not be held twice until the write.
 */
static inline void
free_copy(struct varlena *copy, Datum original)
{
	if ((Pointer) copy != DatumGetPointer(original))
		pfree(copy);
}

/*
 * Write text in the server encoding as a UTF-8 string field.
 *
 * In a SQL_ASCII database text has no known encoding; text that is not
 * valid UTF-8 goes to bytes_value instead, so that subscribers whose
 * protobuf library checks string fields still parse the message.
 */
static void
encode_text(StringInfo out, uint32 field, const char *str, int len)
{
	if (likely(!need_conversion && !sql_ascii))
		pb_bytes_always(out, field, str, len);
	else if (sql_ascii)
	{
		if (pg_verify_mbstr(PG_UTF8, str, len, true))
			pb_bytes_always(out, field, str, len);
		else
			pb_bytes_always(out, F_VAL_BYTES, str, len);
	}
	else
	{
		/* XXX: a character without a Unicode mapping would ERROR here */
		char	   *utf8 = pg_server_to_any(str, len, PG_UTF8);

		pb_bytes_always(out, field, utf8, strlen(utf8));
		if (utf8 != str)
			pfree(utf8);
	}
}

/* Write a NUL-terminated string from the catalog or an output function. */
void
encode_cstring(StringInfo out, uint32 field, const char *str)
{
	encode_text(out, field, str, strlen(str));
}

/*
 * Decide how values of type typid are encoded.  Domains are sent as their
 * base type.  Catalog lookups happen here, once per relation version.
 */
void
codec_init(TypeCodec *codec, Oid typid, MemoryContext cxt)
{
	Oid			base = getBaseType(typid);
	Oid			elemtype;
	bool		use_output = false;

	memset(codec, 0, sizeof(TypeCodec));
	codec->typid = base;
	get_typlenbyvalalign(base, &codec->typlen, &codec->typbyval,
						 &codec->typalign);

	switch (base)
	{
		case BOOLOID:
			codec->kind = VK_BOOL;
			codec->field = F_VAL_BOOL;
			break;
		case INT2OID:
			codec->kind = VK_INT2;
			codec->field = F_VAL_INT;
			break;
		case INT4OID:
			codec->kind = VK_INT4;
			codec->field = F_VAL_INT;
			break;
		case INT8OID:
			codec->kind = VK_INT8;
			codec->field = F_VAL_INT;
			break;
		case OIDOID:
			codec->kind = VK_OID;
			codec->field = F_VAL_UINT;
			break;
		case FLOAT4OID:
			codec->kind = VK_FLOAT4;
			codec->field = F_VAL_FLOAT4;
			break;
		case FLOAT8OID:
			codec->kind = VK_FLOAT8;
			codec->field = F_VAL_FLOAT8;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			codec->kind = VK_TEXT;
			codec->field = F_VAL_TEXT;
			break;
		case JSONOID:
			/* json is stored as its text */
			codec->kind = VK_TEXT;
			codec->field = F_VAL_JSON;
			break;
		case NAMEOID:
			codec->kind = VK_NAME;
			codec->field = F_VAL_TEXT;
			break;
		case BYTEAOID:
			codec->kind = VK_BYTEA;
			codec->field = F_VAL_BYTES;
			break;
		case NUMERICOID:
			codec->kind = VK_NUMERIC;
			codec->field = F_VAL_NUMERIC;
			break;
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			codec->kind = VK_TIMESTAMP;
			codec->field = F_VAL_TIMESTAMP;
			break;
		case DATEOID:
			codec->kind = VK_DATE;
			codec->field = F_VAL_DATE;
			break;
		case TIMEOID:
			codec->kind = VK_TIME;
			codec->field = F_VAL_TIME;
			break;
		case TIMETZOID:
			codec->kind = VK_TIMETZ;
			codec->field = F_VAL_TIMETZ;
			break;
		case INTERVALOID:
			codec->kind = VK_INTERVAL;
			codec->field = F_VAL_INTERVAL;
			break;
		case UUIDOID:
			codec->kind = VK_UUID;
			codec->field = F_VAL_UUID;
			break;
		case JSONBOID:
			codec->kind = VK_JSONB;
			codec->field = F_VAL_JSON;
			use_output = true;
			break;
		default:
			elemtype = get_element_type(base);
			if (OidIsValid(elemtype) && codec->typlen == -1)
			{
				codec->kind = VK_ARRAY;
				codec->field = F_VAL_ARRAY;
				codec->element = MemoryContextAlloc(cxt, sizeof(TypeCodec));
				codec_init(codec->element, elemtype, cxt);
			}
			else if (type_is_enum(base))
			{
				codec->kind = VK_ENUM;
				codec->field = F_VAL_ENUM;
				use_output = true;
			}
			else
			{
				/* composites, ranges, geometric, network, ...: text output */
				codec->kind = VK_OUTPUT;
				codec->field = F_VAL_PG_TEXT;
				use_output = true;
			}
			break;
	}

	if (use_output)
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(base, &outfunc, &isvarlena);
		fmgr_info_cxt(outfunc, &codec->output, cxt);
	}
}

/*
 * Microseconds since the Unix epoch of a timestamp[tz], infinities as
 * INT64_MIN and INT64_MAX.  Values in the last 30 years of PostgreSQL's
 * range (past 294246 AD) have no such representation; *fits says so.
 */
static int64
timestamp_unix(Timestamp ts, bool *fits)
{
	*fits = true;
	if (TIMESTAMP_IS_NOBEGIN(ts))
		return PG_INT64_MIN;
	if (TIMESTAMP_IS_NOEND(ts))
		return PG_INT64_MAX;
	if (ts >= PG_INT64_MAX - EPOCH_SHIFT_US)
	{
		*fits = false;
		return 0;
	}
	return ts + EPOCH_SHIFT_US;
}

/* Commit and prepare times: always in range, 0 when unknown. */
int64
timestamp_to_unix(TimestampTz ts)
{
	bool		fits;
	int64		us;

	if (ts == 0)
		return 0;
	us = timestamp_unix(ts, &fits);
	return fits ? us : 0;
}

/*
 * A timestamp too late for the Unix-epoch field goes as ISO 8601 text,
 * "294270-01-01T12:00:00.000000" (with a "Z" for timestamptz, which is in
 * UTC), built without DateStyle or TimeZone.
 */
static void
encode_late_timestamp(StringInfo out, Timestamp ts, bool with_zone)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[64];

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		/* cannot happen for a stored value; send the raw number as text */
		snprintf(buf, sizeof(buf), INT64_FORMAT, ts);
	}
	else
		snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06d%s",
				 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
				 tm.tm_sec, (int) fsec, with_zone ? "Z" : "");
	pb_bytes_always(out, F_VAL_PG_TEXT, buf, strlen(buf));
}

/*
 * Values whose size is known before they are written (every fixed-size
 * kind, text, bytes and numeric) are written whole: the Value's tag and
 * exact length, then its one field, with a single check for room.  Only the
 * rest go through pb_begin() and pb_end().
 *
 * value_head writes the Value's tag (field of the enclosing message), its
 * length, and the tag of its field kind with wire type wiretype, whose
 * contents take payload bytes; room is made for those too.  It returns
 * where they go.
 */
static inline char *
value_head(StringInfo out, uint32 field, uint32 kind, int wiretype,
		   Size payload)
{
	uint32		tag = (kind << 3) | wiretype;
	char	   *p;

	pb_reserve(out, 5 + 10 + 5 + payload);
	p = out->data + out->len;
	p = pb_put_varint(p, (field << 3) | PB_LEN);
	p = pb_put_varint(p, pb_varint_size(tag) + payload);
	return pb_put_varint(p, tag);
}

static inline void
value_varint(StringInfo out, uint32 field, uint32 kind, uint64 v)
{
	char	   *p = value_head(out, field, kind, PB_VARINT, pb_varint_size(v));

	out->len = pb_put_varint(p, v) - out->data;
}

static inline void
value_fixed(StringInfo out, uint32 field, uint32 kind, const void *bytes,
			int len)
{
	char	   *p = value_head(out, field, kind,
							   len == 8 ? PB_FIXED64 : PB_FIXED32, len);

	memcpy(p, bytes, len);
	out->len = p + len - out->data;
}

/* Open a Value holding len bytes in field kind; returns where they go. */
static inline char *
value_bytes_head(StringInfo out, uint32 field, uint32 kind, Size len)
{
	char	   *p = value_head(out, field, kind, PB_LEN,
							   pb_varint_size(len) + len);

	p = pb_put_varint(p, len);
	out->len = p + len - out->data;
	return p;
}

static inline void
value_bytes(StringInfo out, uint32 field, uint32 kind, const char *data,
			Size len)
{
	memcpy(value_bytes_head(out, field, kind, len), data, len);
}

static void
encode_array(StringInfo out, TypeCodec *codec, Datum value)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	TypeCodec  *elem = codec->element;
	int			ndim = ARR_NDIM(arr);
	int		   *dims = ARR_DIMS(arr);
	int		   *lbs = ARR_LBOUND(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			at;
	int			i;

	at = pb_begin(out, F_VAL_ARRAY);
	pb_uint(out, F_ARRAY_ELEMTYPE, ARR_ELEMTYPE(arr));
	if (ndim > 0)
	{
		int			packed = pb_begin(out, F_ARRAY_DIMS);

		for (i = 0; i < ndim; i++)
			pb_varint(out, (uint64) (int64) dims[i]);
		pb_end(out, packed);
		packed = pb_begin(out, F_ARRAY_LBOUNDS);
		for (i = 0; i < ndim; i++)
			pb_varint(out, (uint64) (int64) lbs[i]);
		pb_end(out, packed);
	}

	deconstruct_array(arr, ARR_ELEMTYPE(arr), elem->typlen, elem->typbyval,
					  elem->typalign, &elems, &nulls, &nelems);
	for (i = 0; i < nelems; i++)
	{
		if (nulls[i])
			value_varint(out, F_ARRAY_ELEMENTS, F_VAL_MARKER, MARKER_NULL);
		else
			encode_value(out, F_ARRAY_ELEMENTS, elem, elems[i]);
	}
	pb_end(out, at);
	pfree(elems);
	pfree(nulls);
	free_copy((struct varlena *) arr, value);
}

/*
 * numeric's stored form, as numeric.c lays it out on disk (pg_upgrade keeps
 * it stable): a uint16 header word, then for the long form an int16 weight,
 * then base-10000 digits, the first of which is at position weight before
 * the decimal point.  The short form packs sign, display scale and weight
 * into the header word.  Reading it directly spares numeric_out's
 * allocations and copy; the text is the same, digit for digit.
 */
#define NUM_SIGN_MASK			0xC000
#define NUM_NEG					0x4000
#define NUM_SHORT				0x8000
#define NUM_SPECIAL				0xC000
#define NUM_EXT_SIGN_MASK		0xF000
#define NUM_NAN					0xC000
#define NUM_PINF				0xD000
#define NUM_SHORT_SIGN_MASK		0x2000
#define NUM_SHORT_DSCALE_MASK	0x1F80
#define NUM_SHORT_DSCALE_SHIFT	7
#define NUM_SHORT_WEIGHT_SIGN	0x0040
#define NUM_SHORT_WEIGHT_MASK	0x003F
#define NUM_DSCALE_MASK			0x3FFF
#define NUM_DEC_DIGITS			4

/* base-10000 digit i of a numeric's stored digits, read unaligned */
static inline int
numeric_digit(const char *digits, int i)
{
	int16		d;

	memcpy(&d, digits + i * sizeof(int16), sizeof(int16));
	return d;
}

/* What the text of a stored numeric needs, read from its header. */
typedef struct NumericText
{
	const char *special;		/* "NaN", "Infinity", "-Infinity", or NULL */
	bool		negative;
	int			weight;			/* of the first base-10000 digit */
	int			dscale;			/* digits after the point */
	const char *digits;			/* base-10000 digits, unaligned int16 */
	int			ndigits;
	int			len;			/* length of the text */
} NumericText;

/*
 * Room numeric_text_write needs beyond the text: it writes whole groups of
 * four digits and steps back over what dscale does not show.
 */
#define NUMERIC_TEXT_SLACK		(NUM_DEC_DIGITS - 1)

static inline void
numeric_text_prepare(const char *p, int len, NumericText *nt)
{
	uint16		header;
	int			first;

	memcpy(&header, p, sizeof(uint16));
	if (unlikely((header & NUM_SIGN_MASK) == NUM_SPECIAL))
	{
		nt->special = (header & NUM_EXT_SIGN_MASK) == NUM_NAN ? "NaN" :
			(header & NUM_EXT_SIGN_MASK) == NUM_PINF ? "Infinity" : "-Infinity";
		nt->len = strlen(nt->special);
		return;
	}
	nt->special = NULL;
	if (header & NUM_SHORT)
	{
		nt->negative = (header & NUM_SHORT_SIGN_MASK) != 0;
		nt->dscale = (header & NUM_SHORT_DSCALE_MASK) >> NUM_SHORT_DSCALE_SHIFT;
		nt->weight = (header & NUM_SHORT_WEIGHT_SIGN ? ~NUM_SHORT_WEIGHT_MASK : 0) |
			(header & NUM_SHORT_WEIGHT_MASK);
		nt->digits = p + sizeof(uint16);
	}
	else
	{
		int16		w;

		nt->negative = (header & NUM_SIGN_MASK) == NUM_NEG;
		nt->dscale = header & NUM_DSCALE_MASK;
		memcpy(&w, p + sizeof(uint16), sizeof(int16));
		nt->weight = w;
		nt->digits = p + 2 * sizeof(uint16);
	}
	nt->ndigits = (p + len - nt->digits) / sizeof(int16);

	/* exact length: sign, integer part, point and dscale fraction digits */
	if (nt->weight < 0)
		nt->len = 1;
	else
	{
		first = nt->ndigits > 0 ? numeric_digit(nt->digits, 0) : 0;
		nt->len = (first >= 1000 ? 4 : first >= 100 ? 3 : first >= 10 ? 2 : 1) +
			nt->weight * NUM_DEC_DIGITS;
	}
	nt->len += nt->negative + (nt->dscale > 0 ? 1 + nt->dscale : 0);
}

/* "00" to "99", for writing two decimal digits at a time */
static const char digit_pairs[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* the four decimal digits of one base-10000 digit, leading zeros kept */
static inline char *
numeric_digit4(char *c, int d)
{
	memcpy(c, digit_pairs + 2 * (d / 100), 2);
	memcpy(c + 2, digit_pairs + 2 * (d % 100), 2);
	return c + NUM_DEC_DIGITS;
}

/*
 * Write the text numeric_out would give: exactly nt->len bytes at c, which
 * must have NUMERIC_TEXT_SLACK more bytes of room.  The stored digits run
 * from position weight (the first) down; those before and after them are
 * zeros, written without looking at the digits.
 */
static void
numeric_text_write(const NumericText *nt, char *c)
{
	const char *digits = nt->digits;
	int			nd = nt->ndigits;
	int			i;

	if (unlikely(nt->special != NULL))
	{
		memcpy(c, nt->special, nt->len);
		return;
	}
	if (nt->negative)
		*c++ = '-';
	if (nt->weight < 0)
		*c++ = '0';
	else
	{
		int			d = nd > 0 ? numeric_digit(digits, 0) : 0;
		int			stored = Min(nt->weight, nd - 1);

		/* the first group without its leading zeros */
		if (d >= 1000)
			c = numeric_digit4(c, d);
		else if (d >= 100)
		{
			*c = '0' + d / 100;
			memcpy(c + 1, digit_pairs + 2 * (d % 100), 2);
			c += 3;
		}
		else if (d >= 10)
		{
			memcpy(c, digit_pairs + 2 * d, 2);
			c += 2;
		}
		else
			*c++ = '0' + d;
		for (i = 1; i <= stored; i++)
			c = numeric_digit4(c, numeric_digit(digits, i));
		for (; i <= nt->weight; i++)
			c = numeric_digit4(c, 0);
	}
	if (nt->dscale > 0)
	{
		int			groups = (nt->dscale + NUM_DEC_DIGITS - 1) / NUM_DEC_DIGITS;
		int			last = nt->weight + 1 + groups; /* past the last group */

		/* whole groups, then back over the digits dscale does not show */
		*c++ = '.';
		for (i = nt->weight + 1; i < 0 && i < last; i++)
			c = numeric_digit4(c, 0);
		for (; i < nd && i < last; i++)
			c = numeric_digit4(c, numeric_digit(digits, i));
		for (; i < last; i++)
			c = numeric_digit4(c, 0);
		c -= groups * NUM_DEC_DIGITS - nt->dscale;
	}
}

/*
 * jsonb as JSON text, written straight into the message: the same text as
 * jsonb_out (", " between members and elements, ": " after keys, strings
 * escaped as escape_json does, numbers as numeric_out writes them), without
 * building it in a string of its own first.  jsonb_out's text was a
 * quarter of the decoding time of a table with one jsonb column.
 */
static inline bool
json_needs_escape(unsigned char c)
{
	return c < ' ' || c == '"' || c == '\\';
}

/* the escaped characters of a string, from the first that needs it */
static void
json_append_escaped(StringInfo out, const char *s, int len)
{
	int			run = 0;		/* start of the characters not yet copied */

	for (int i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];
		const char *esc;

		if (likely(!json_needs_escape(c)))
			continue;
		appendBinaryStringInfo(out, s + run, i - run);
		run = i + 1;
		switch (c)
		{
			case '"':
				esc = "\\\"";
				break;
			case '\\':
				esc = "\\\\";
				break;
			case '\b':
				esc = "\\b";
				break;
			case '\f':
				esc = "\\f";
				break;
			case '\n':
				esc = "\\n";
				break;
			case '\r':
				esc = "\\r";
				break;
			case '\t':
				esc = "\\t";
				break;
			default:
				appendStringInfo(out, "\\u%04x", c);
				continue;
		}
		appendBinaryStringInfo(out, esc, 2);
	}
	appendBinaryStringInfo(out, s + run, len - run);
}

/*
 * A JSON string.  Mostly there is nothing to escape: the characters are
 * copied as they are checked, which for the short strings of keys and
 * values beats a scan and then a call to memcpy.
 */
static void
json_append_string(StringInfo out, const char *s, int len)
{
	char	   *p;
	int			plain = 0;

	pb_reserve(out, len + 2);
	p = out->data + out->len;
	*p++ = '"';
	while (plain < len && !json_needs_escape((unsigned char) s[plain]))
	{
		p[plain] = s[plain];
		plain++;
	}
	out->len += 1 + plain;
	if (unlikely(plain < len))
		json_append_escaped(out, s + plain, len - plain);
	appendStringInfoCharMacro(out, '"');
}

/* two characters of JSON punctuation */
static inline void
json_append2(StringInfo out, const char *two)
{
	pb_reserve(out, 2);
	memcpy(out->data + out->len, two, 2);
	out->len += 2;
}

/*
 * A JSON number: numeric's text.  num is a numeric varlena, which inside a
 * jsonb read in place may be unaligned: its header is read bytewise.
 */
static void
json_append_numeric(StringInfo out, const char *num)
{
	NumericText nt;

	if (VARATT_IS_1B(num))
		numeric_text_prepare(num + VARHDRSZ_SHORT,
							 VARSIZE_1B(num) - VARHDRSZ_SHORT, &nt);
	else
	{
		varattrib_4b header;

		memcpy(&header, num, sizeof(uint32));
		numeric_text_prepare(num + VARHDRSZ, VARSIZE_4B(&header) - VARHDRSZ,
							 &nt);
	}
	pb_reserve(out, nt.len + NUMERIC_TEXT_SLACK);
	numeric_text_write(&nt, out->data + out->len);
	out->len += nt.len;
}

static void
json_append_scalar(StringInfo out, const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			appendBinaryStringInfo(out, "null", 4);
			break;
		case jbvBool:
			if (v->val.boolean)
				appendBinaryStringInfo(out, "true", 4);
			else
				appendBinaryStringInfo(out, "false", 5);
			break;
		case jbvString:
			json_append_string(out, v->val.string.val, v->val.string.len);
			break;
		case jbvNumeric:
			json_append_numeric(out, (const char *) v->val.numeric);
			break;
		default:
			/* binary containers are not returned by an unnested walk */
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

/*
 * A container through JsonbIterator, which keeps its stack on the heap: for
 * documents nested deeper than json_write_container goes itself.
 */
static void
json_write_iterated(StringInfo out, JsonbContainer *jc)
{
	JsonbIterator *it = JsonbIteratorInit(jc);
	JsonbIteratorToken token;
	JsonbValue	v;
	bool		separate = false;	/* a member or element came before */
	bool		raw_scalar = false; /* a scalar stored as a one-element array */

	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (token)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (separate)
					json_append2(out, ", ");
				if (token == WJB_BEGIN_ARRAY && v.val.array.rawScalar)
					raw_scalar = true;
				else
					appendStringInfoCharMacro(out, token == WJB_BEGIN_ARRAY ? '[' : '{');
				separate = false;
				break;
			case WJB_KEY:
				if (separate)
					json_append2(out, ", ");
				json_append_string(out, v.val.string.val, v.val.string.len);
				json_append2(out, ": ");
				/* the value follows: no separator before it */
				separate = false;
				break;
			case WJB_VALUE:
			case WJB_ELEM:
				if (separate)
					json_append2(out, ", ");
				json_append_scalar(out, &v);
				separate = true;
				break;
			case WJB_END_ARRAY:
				if (!raw_scalar)
					appendStringInfoCharMacro(out, ']');
				separate = true;
				break;
			case WJB_END_OBJECT:
				appendStringInfoCharMacro(out, '}');
				separate = true;
				break;
			case WJB_DONE:
				break;
		}
	}
}

/*
 * Containers nested deeper than this go through json_write_iterated, so
 * that no document can exhaust the stack here.
 */
#define JSON_MAX_DEPTH	32

static void json_write_container(StringInfo out, const char *jc, uint32 len,
								 int depth);

/* a uint32 of jsonb's stored form, which may be unaligned here */
static inline uint32
jsonb_u32(const char *p)
{
	uint32		v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * One child of a container, read from jsonb's stored form (utils/jsonb.h,
 * stable across versions for pg_upgrade): its JEntry je, and its data at
 * base + off up to base + end.  Numerics and containers start at the next
 * int-aligned offset.  PostgreSQL 15 stores no other kinds of child.
 */
static void
json_write_child(StringInfo out, JEntry je, const char *base, uint32 off,
				 uint32 end, int depth)
{
	switch (je & JENTRY_TYPEMASK)
	{
		case JENTRY_ISSTRING:
			json_append_string(out, base + off, end - off);
			break;
		case JENTRY_ISNUMERIC:
			json_append_numeric(out, base + INTALIGN(off));
			break;
		case JENTRY_ISBOOL_FALSE:
			appendBinaryStringInfo(out, "false", 5);
			break;
		case JENTRY_ISBOOL_TRUE:
			appendBinaryStringInfo(out, "true", 4);
			break;
		case JENTRY_ISCONTAINER:
			json_write_container(out, base + INTALIGN(off),
								 end - INTALIGN(off), depth + 1);
			break;
		case JENTRY_ISNULL:
		default:
			Assert((je & JENTRY_TYPEMASK) == JENTRY_ISNULL);
			appendBinaryStringInfo(out, "null", 4);
			break;
	}
}

/*
 * A jsonb container of len bytes at jc as JSON text, read straight from its
 * stored form, in place.  The offsets inside a container are relative to
 * its start, so it reads the same where that start is not aligned (a short
 * value, stored with a one-byte varlena header): every uint32 is read with
 * memcpy.  An object's children are its keys, in stored order, then their
 * values in the same order, each with its data in that order after the
 * JEntry array.  JBE_ADVANCE_OFFSET walks from one child's data to the
 * next.
 */
static void
json_write_container(StringInfo out, const char *jc, uint32 len, int depth)
{
	uint32		header = jsonb_u32(jc);
	int			count = header & JB_CMASK;
	const char *children = jc + sizeof(uint32);
	uint32		off = 0;
	const char *base;

	if (unlikely(depth > JSON_MAX_DEPTH))
	{
		/* JsonbIterator reads the container in place: align it first */
		char	   *copy = palloc(len);

		memcpy(copy, jc, len);
		json_write_iterated(out, (JsonbContainer *) copy);
		pfree(copy);
		return;
	}
	if (header & JB_FOBJECT)
	{
		uint32		value_off = 0;

		base = children + count * 2 * sizeof(JEntry);
		for (int i = 0; i < count; i++)
			JBE_ADVANCE_OFFSET(value_off, jsonb_u32(children + i * sizeof(JEntry)));
		appendStringInfoCharMacro(out, '{');
		for (int i = 0; i < count; i++)
		{
			JEntry		key = jsonb_u32(children + i * sizeof(JEntry));
			JEntry		value = jsonb_u32(children + (count + i) * sizeof(JEntry));
			uint32		key_end = off;
			uint32		value_end = value_off;

			JBE_ADVANCE_OFFSET(key_end, key);
			JBE_ADVANCE_OFFSET(value_end, value);
			if (i > 0)
				json_append2(out, ", ");
			json_append_string(out, base + off, key_end - off);
			json_append2(out, ": ");
			json_write_child(out, value, base, value_off, value_end, depth);
			off = key_end;
			value_off = value_end;
		}
		appendStringInfoCharMacro(out, '}');
	}
	else
	{
		/* an array, or a scalar stored as an array of one without brackets */
		bool		brackets = (header & JB_FSCALAR) == 0;

		base = children + count * sizeof(JEntry);
		if (brackets)
			appendStringInfoCharMacro(out, '[');
		for (int i = 0; i < count; i++)
		{
			JEntry		elem = jsonb_u32(children + i * sizeof(JEntry));
			uint32		end = off;

			JBE_ADVANCE_OFFSET(end, elem);
			if (i > 0)
				json_append2(out, ", ");
			json_write_child(out, elem, base, off, end, depth);
			off = end;
		}
		if (brackets)
			appendStringInfoCharMacro(out, ']');
	}
}

/*
 * jsonb as JSON text.  A value stored inline is read where it lies, without
 * the aligned copy DatumGetJsonbP makes of a short one; a compressed or
 * out-of-line one is detoasted first.
 */
static void
encode_jsonb(StringInfo out, uint32 field, Datum value)
{
	struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
	int			at = pb_begin(out, field);

	json_write_container(out, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), 0);
	pb_end(out, at);
	free_copy(v, value);
}

/*
 * Write the field of a Value whose size is not known in advance, inside a
 * Value opened by the caller.
 */
static void
encode_nested(StringInfo out, TypeCodec *codec, Datum value)
{
	switch (codec->kind)
	{
		case VK_TEXT:
			{
				/* text that needs a check or a conversion */
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

				encode_text(out, codec->field, VARDATA_ANY(v),
							VARSIZE_ANY_EXHDR(v));
				free_copy(v, value);
				break;
			}
		case VK_NAME:
			encode_cstring(out, F_VAL_TEXT, NameStr(*DatumGetName(value)));
			break;
		case VK_TIMESTAMP:
			/* one that does not fit in int64 microseconds since 1970 */
			encode_late_timestamp(out, DatumGetTimestamp(value),
								  codec->typid == TIMESTAMPTZOID);
			break;
		case VK_TIMETZ:
			{
				TimeTzADT  *t = DatumGetTimeTzADTP(value);
				int			at = pb_begin(out, F_VAL_TIMETZ);

				pb_int(out, F_TIMETZ_TIME, t->time);
				/* PostgreSQL keeps seconds west of UTC; the wire says east */
				pb_int(out, F_TIMETZ_OFFSET, -t->zone);
				pb_end(out, at);
				break;
			}
		case VK_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(value);
				int			at = pb_begin(out, F_VAL_INTERVAL);

				pb_int(out, F_INTERVAL_MONTHS, iv->month);
				pb_int(out, F_INTERVAL_DAYS, iv->day);
				pb_int(out, F_INTERVAL_US, iv->time);
				pb_end(out, at);
				break;
			}
		case VK_ARRAY:
			encode_array(out, codec, value);
			break;
		case VK_JSONB:
			/* the text is escaped as UTF-8, which needs no conversion */
			if (likely(!need_conversion && !sql_ascii))
			{
				encode_jsonb(out, codec->field, value);
				break;
			}
			/* FALLTHROUGH */
		case VK_ENUM:
		case VK_OUTPUT:
			{
				/* only the fallback's text depends on session settings */
				char	   *text = codec->kind == VK_OUTPUT ?
					output_fixed(&codec->output, value) :
					OutputFunctionCall(&codec->output, value);

				encode_cstring(out, codec->field, text);
				pfree(text);
				break;
			}
		case VK_BOOL:
		case VK_INT2:
		case VK_INT4:
		case VK_INT8:
		case VK_OID:
		case VK_FLOAT4:
		case VK_FLOAT8:
		case VK_BYTEA:
		case VK_NUMERIC:
		case VK_DATE:
		case VK_TIME:
		case VK_UUID:
			/* written whole by encode_value */
			Assert(false);
			break;
	}
}

/* A Value of a kind encode_nested() writes, in a length reserved for it. */
static pg_noinline void
encode_value_nested(StringInfo out, uint32 field, TypeCodec *codec,
					Datum value)
{
	int			at = pb_begin(out, field);

	encode_nested(out, codec, value);
	pb_end(out, at);
}

/*
 * Write one Value message, field number field, holding a non-null datum.
 * Inlined into the loops over a row's columns and an array's elements: a
 * call per value, with the registers it saves, was a sixth of its time.
 */
static pg_attribute_always_inline void
encode_value(StringInfo out, uint32 field, TypeCodec *codec, Datum value)
{
	if (codec->typlen == -1 &&
		VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(value)))
	{
		value_varint(out, field, F_VAL_MARKER, MARKER_UNCHANGED_TOAST);
		return;
	}

	switch (codec->kind)
	{
		case VK_BOOL:
			value_varint(out, field, F_VAL_BOOL, DatumGetBool(value));
			return;
		case VK_INT2:
			value_varint(out, field, F_VAL_INT, pb_zigzag(DatumGetInt16(value)));
			return;
		case VK_INT4:
			value_varint(out, field, F_VAL_INT, pb_zigzag(DatumGetInt32(value)));
			return;
		case VK_INT8:
			value_varint(out, field, F_VAL_INT, pb_zigzag(DatumGetInt64(value)));
			return;
		case VK_OID:
			value_varint(out, field, F_VAL_UINT, DatumGetObjectId(value));
			return;
		case VK_FLOAT4:
			{
				uint32		bits = pb_float_bits(DatumGetFloat4(value));

				value_fixed(out, field, F_VAL_FLOAT4, &bits, sizeof(bits));
				return;
			}
		case VK_FLOAT8:
			{
				uint64		bits = pb_double_bits(DatumGetFloat8(value));

				value_fixed(out, field, F_VAL_FLOAT8, &bits, sizeof(bits));
				return;
			}
		case VK_TEXT:
			if (likely(!need_conversion && !sql_ascii))
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

				value_bytes(out, field, codec->field, VARDATA_ANY(v),
							VARSIZE_ANY_EXHDR(v));
				free_copy(v, value);
				return;
			}
			break;
		case VK_BYTEA:
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));

				value_bytes(out, field, F_VAL_BYTES, VARDATA_ANY(v),
							VARSIZE_ANY_EXHDR(v));
				free_copy(v, value);
				return;
			}
		case VK_NUMERIC:
			{
				struct varlena *v = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(value));
				NumericText nt;

				numeric_text_prepare(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &nt);
				numeric_text_write(&nt, value_bytes_head(out, field,
														 F_VAL_NUMERIC,
														 nt.len));
				free_copy(v, value);
				return;
			}
		case VK_TIMESTAMP:
			{
				bool		fits;
				int64		us = timestamp_unix(DatumGetTimestamp(value), &fits);

				if (likely(fits))
				{
					value_varint(out, field, F_VAL_TIMESTAMP, pb_zigzag(us));
					return;
				}
				break;
			}
		case VK_DATE:
			{
				DateADT		d = DatumGetDateADT(value);
				int64		days;

				if (DATE_IS_NOBEGIN(d))
					days = PG_INT32_MIN;
				else if (DATE_IS_NOEND(d))
					days = PG_INT32_MAX;
				else
					days = (int64) d + EPOCH_SHIFT_DAYS;
				value_varint(out, field, F_VAL_DATE, pb_zigzag(days));
				return;
			}
		case VK_TIME:
			value_varint(out, field, F_VAL_TIME, (uint64) DatumGetTimeADT(value));
			return;
		case VK_UUID:
			value_bytes(out, field, F_VAL_UUID,
						(const char *) DatumGetUUIDP(value)->data, UUID_LEN);
			return;
		default:
			break;
	}
	encode_value_nested(out, field, codec, value);
}

/*
 * Write a Tuple, field number field of the enclosing message, holding one
 * Value per live column of entry.  For an old row that carries only the
 * replica identity (old_key), the other columns are marked NOT_IN_KEY.
 */
void
encode_tuple(StringInfo out, uint32 field, RelationEntry *entry,
			 Relation rel, HeapTuple tuple, bool old_key)
{
	Datum	   *values = entry->values;
	bool	   *nulls = entry->nulls;
	int			at;

	heap_deform_tuple(tuple, RelationGetDescr(rel), values, nulls);

	at = pb_begin_wide(out, field);
	for (int i = 0; i < entry->ncolumns; i++)
	{
		ColumnInfo *col = &entry->columns[i];

		if (old_key && !col->in_identity)
			value_varint(out, F_TUPLE_VALUES, F_VAL_MARKER, MARKER_NOT_IN_KEY);
		else if (nulls[col->attindex])
			value_varint(out, F_TUPLE_VALUES, F_VAL_MARKER, MARKER_NULL);
		else
			encode_value(out, F_TUPLE_VALUES, &col->codec,
						 values[col->attindex]);
	}
	pb_end_wide(out, at);
}
