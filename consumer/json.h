/*-------------------------------------------------------------------------
 *
 * json.h
 *		Any protobuf-c message as one line of JSON, for walcast tail.
 *
 * The mapping is proto3's canonical JSON with the .proto field names:
 * fields at their default value are left out, 64-bit integers are strings,
 * bytes are base64, enums are their names, NaN and infinities are the
 * strings "NaN", "Infinity" and "-Infinity".  One exception for people:
 * a 64-bit field whose name ends in "lsn" is written as PostgreSQL writes
 * LSNs, "16/B374D848".
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_JSON_H
#define WALCAST_JSON_H

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <stdio.h>

/* write msg as a JSON object (no newline) */
extern void json_write_message(FILE *out, const ProtobufCMessage *msg);

/* write s (len bytes) as a JSON string */
extern void json_write_string(FILE *out, const char *s, size_t len);

/* write data as a base64 JSON string */
extern void json_write_base64(FILE *out, const uint8_t *data, size_t len);

#endif							/* WALCAST_JSON_H */
