/*-------------------------------------------------------------------------
 *
 * json.c
 *		protobuf-c messages as JSON, driven by their descriptors.
 *
 *-------------------------------------------------------------------------
 */
#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

void
json_write_string(FILE *out, const char *s, size_t len)
{
	putc('"', out);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		switch (c)
		{
			case '"':
				fputs("\\\"", out);
				break;
			case '\\':
				fputs("\\\\", out);
				break;
			case '\n':
				fputs("\\n", out);
				break;
			case '\r':
				fputs("\\r", out);
				break;
			case '\t':
				fputs("\\t", out);
				break;
			case '\b':
				fputs("\\b", out);
				break;
			case '\f':
				fputs("\\f", out);
				break;
			default:
				if (c < 0x20)
					fprintf(out, "\\u%04x", c);
				else
					putc(c, out);	/* UTF-8 passes through */
		}
	}
	putc('"', out);
}

void
json_write_base64(FILE *out, const uint8_t *data, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	putc('"', out);
	for (size_t i = 0; i < len; i += 3)
	{
		uint32_t	v = (uint32_t) data[i] << 16;
		size_t		n = len - i < 3 ? len - i : 3;

		if (n > 1)
			v |= (uint32_t) data[i + 1] << 8;
		if (n > 2)
			v |= data[i + 2];
		putc(alphabet[(v >> 18) & 63], out);
		putc(alphabet[(v >> 12) & 63], out);
		putc(n > 1 ? alphabet[(v >> 6) & 63] : '=', out);
		putc(n > 2 ? alphabet[v & 63] : '=', out);
	}
	putc('"', out);
}

static void
write_double(FILE *out, double d, bool is_float)
{
	if (isnan(d))
		fputs("\"NaN\"", out);
	else if (isinf(d))
		fputs(d > 0 ? "\"Infinity\"" : "\"-Infinity\"", out);
	else
		fprintf(out, is_float ? "%.9g" : "%.17g", d);
}

static bool
is_lsn_field(const ProtobufCFieldDescriptor *field)
{
	size_t		len = strlen(field->name);

	return len >= 3 && strcmp(field->name + len - 3, "lsn") == 0;
}

/* one value of a field, at p */
static void
write_value(FILE *out, const ProtobufCFieldDescriptor *field, const void *p)
{
	switch (field->type)
	{
		case PROTOBUF_C_TYPE_INT32:
		case PROTOBUF_C_TYPE_SINT32:
		case PROTOBUF_C_TYPE_SFIXED32:
			fprintf(out, "%d", *(const int32_t *) p);
			break;
		case PROTOBUF_C_TYPE_UINT32:
		case PROTOBUF_C_TYPE_FIXED32:
			fprintf(out, "%u", *(const uint32_t *) p);
			break;
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
			fprintf(out, "\"%lld\"", (long long) *(const int64_t *) p);
			break;
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			{
				uint64_t	v = *(const uint64_t *) p;

				if (is_lsn_field(field))
					fprintf(out, "\"%X/%X\"", (unsigned) (v >> 32), (unsigned) v);
				else
					fprintf(out, "\"%llu\"", (unsigned long long) v);
			}
			break;
		case PROTOBUF_C_TYPE_FLOAT:
			write_double(out, *(const float *) p, true);
			break;
		case PROTOBUF_C_TYPE_DOUBLE:
			write_double(out, *(const double *) p, false);
			break;
		case PROTOBUF_C_TYPE_BOOL:
			fputs(*(const protobuf_c_boolean *) p ? "true" : "false", out);
			break;
		case PROTOBUF_C_TYPE_ENUM:
			{
				const ProtobufCEnumValue *ev =
					protobuf_c_enum_descriptor_get_value(field->descriptor,
														 *(const int *) p);

				if (ev)
					json_write_string(out, ev->name, strlen(ev->name));
				else
					fprintf(out, "%d", *(const int *) p);
			}
			break;
		case PROTOBUF_C_TYPE_STRING:
			{
				const char *s = *(char *const *) p;

				json_write_string(out, s ? s : "", s ? strlen(s) : 0);
			}
			break;
		case PROTOBUF_C_TYPE_BYTES:
			{
				const ProtobufCBinaryData *b = p;

				json_write_base64(out, b->data, b->len);
			}
			break;
		case PROTOBUF_C_TYPE_MESSAGE:
			{
				const ProtobufCMessage *m = *(ProtobufCMessage *const *) p;

				if (m)
					json_write_message(out, m);
				else
					fputs("null", out);
			}
			break;
	}
}

static size_t
value_size(const ProtobufCFieldDescriptor *field)
{
	switch (field->type)
	{
		case PROTOBUF_C_TYPE_INT64:
		case PROTOBUF_C_TYPE_SINT64:
		case PROTOBUF_C_TYPE_SFIXED64:
		case PROTOBUF_C_TYPE_UINT64:
		case PROTOBUF_C_TYPE_FIXED64:
			return 8;
		case PROTOBUF_C_TYPE_DOUBLE:
			return sizeof(double);
		case PROTOBUF_C_TYPE_BOOL:
			return sizeof(protobuf_c_boolean);
		case PROTOBUF_C_TYPE_ENUM:
			return sizeof(int);
		case PROTOBUF_C_TYPE_STRING:
			return sizeof(char *);
		case PROTOBUF_C_TYPE_BYTES:
			return sizeof(ProtobufCBinaryData);
		case PROTOBUF_C_TYPE_MESSAGE:
			return sizeof(ProtobufCMessage *);
		default:
			return 4;
	}
}

/* whether a singular field holds something worth writing */
static bool
field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *field)
{
	const char *base = (const char *) msg;
	const void *p = base + field->offset;

	if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *) (base + field->quantifier_offset) == field->id;
	switch (field->type)
	{
		case PROTOBUF_C_TYPE_STRING:
			return *(char *const *) p != NULL && **(char *const *) p != '\0';
		case PROTOBUF_C_TYPE_BYTES:
			return ((const ProtobufCBinaryData *) p)->len > 0;
		case PROTOBUF_C_TYPE_MESSAGE:
			return *(void *const *) p != NULL;
		default:
			{
				static const char zero[16];

				return memcmp(p, zero, value_size(field)) != 0;
			}
	}
}

void
json_write_message(FILE *out, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	const char *base = (const char *) msg;
	bool		first = true;

	putc('{', out);
	for (unsigned i = 0; i < desc->n_fields; i++)
	{
		const ProtobufCFieldDescriptor *field = &desc->fields[i];

		if (field->label == PROTOBUF_C_LABEL_REPEATED)
		{
			size_t		n = *(const size_t *) (base + field->quantifier_offset);
			const char *arr = *(char *const *) (base + field->offset);

			if (n == 0)
				continue;
			fprintf(out, "%s\"%s\":[", first ? "" : ",", field->name);
			for (size_t j = 0; j < n; j++)
			{
				if (j > 0)
					putc(',', out);
				write_value(out, field, arr + j * value_size(field));
			}
			putc(']', out);
		}
		else
		{
			/* a oneof member is present when chosen, even if zero */
			if (!field_present(msg, field))
				continue;
			fprintf(out, "%s\"%s\":", first ? "" : ",", field->name);
			write_value(out, field, base + field->offset);
		}
		first = false;
	}
	putc('}', out);
}
