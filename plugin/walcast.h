/*-------------------------------------------------------------------------
 *
 * walcast.h
 *	  Shared declarations of the walcast output plugin.
 *
 * walcast.c holds the callbacks, options.c the option parsing, relcache.c
 * the per-relation cache and the Relation message, encode.c the encoding of
 * rows and values, schemalog.c the event triggers of the schema log and the
 * SchemaChange message, decode.c the SQL function that renders the stream
 * for people and for the regression tests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_H
#define WALCAST_H

#include "fmgr.h"
#include "nodes/pg_list.h"
#include "replication/logical.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#define WALCAST_VERSION			"1.0.0"
#define WALCAST_FORMAT_VERSION	1

/*
 * Field numbers of proto/walcast/v1/walcast.proto, the ones the plugin
 * writes.  Kept in one place; the proto file is the authority.
 */
enum
{
	/* Envelope */
	F_ENV_LSN = 1,
	F_ENV_XID = 2,
	F_ENV_CHANGE_INDEX = 3,
	F_ENV_STARTUP = 10,
	F_ENV_BEGIN = 11,
	F_ENV_COMMIT = 12,
	F_ENV_RELATION = 13,
	F_ENV_INSERT = 14,
	F_ENV_UPDATE = 15,
	F_ENV_DELETE = 16,
	F_ENV_TRUNCATE = 17,
	F_ENV_MESSAGE = 18,
	F_ENV_SCHEMA_CHANGE = 19,
	F_ENV_STREAM_START = 20,
	F_ENV_STREAM_STOP = 21,
	F_ENV_STREAM_COMMIT = 22,
	F_ENV_STREAM_ABORT = 23,
	F_ENV_BEGIN_PREPARE = 24,
	F_ENV_PREPARE = 25,
	F_ENV_COMMIT_PREPARED = 26,
	F_ENV_ROLLBACK_PREPARED = 27,
	F_ENV_STREAM_PREPARE = 28,
};

/* Value.kind; also the encoding chosen per column, see ValueKind. */
enum
{
	F_VAL_MARKER = 1,
	F_VAL_BOOL = 2,
	F_VAL_INT = 3,
	F_VAL_UINT = 4,
	F_VAL_FLOAT4 = 5,
	F_VAL_FLOAT8 = 6,
	F_VAL_TEXT = 7,
	F_VAL_BYTES = 8,
	F_VAL_NUMERIC = 9,
	F_VAL_TIMESTAMP = 10,
	F_VAL_DATE = 11,
	F_VAL_TIME = 12,
	F_VAL_TIMETZ = 13,
	F_VAL_INTERVAL = 14,
	F_VAL_UUID = 15,
	F_VAL_JSON = 16,
	F_VAL_ENUM = 17,
	F_VAL_ARRAY = 18,
	F_VAL_PG_TEXT = 19,
};

/* enum Marker */
#define MARKER_NULL				1
#define MARKER_UNCHANGED_TOAST	2
#define MARKER_NOT_IN_KEY		3

/* enum OldRow */
#define OLD_ROW_NONE	1
#define OLD_ROW_KEY		2
#define OLD_ROW_FULL	3

/* How a column's values are encoded; chosen once per relation version. */
typedef enum ValueKind
{
	VK_BOOL,
	VK_INT2,
	VK_INT4,
	VK_INT8,
	VK_OID,
	VK_FLOAT4,
	VK_FLOAT8,
	VK_TEXT,					/* text, varchar, bpchar, json, xml: varlena text */
	VK_NAME,
	VK_BYTEA,
	VK_NUMERIC,
	VK_TIMESTAMP,				/* timestamp and timestamptz */
	VK_DATE,
	VK_TIME,
	VK_TIMETZ,
	VK_INTERVAL,
	VK_UUID,
	VK_JSONB,
	VK_ENUM,
	VK_ARRAY,
	VK_OUTPUT					/* anything else: the type's output function */
} ValueKind;

/* Everything needed to encode values of one type, resolved once. */
typedef struct TypeCodec
{
	ValueKind	kind;
	uint32		field;			/* Value field number written for this kind */
	Oid			typid;			/* base type (a domain is resolved) */
	int16		typlen;
	bool		typbyval;
	char		typalign;
	FmgrInfo	output;			/* output function, for output-based kinds */
	struct TypeCodec *element;	/* VK_ARRAY: the element's codec */
} TypeCodec;

/* One live column of a cached relation. */
typedef struct ColumnInfo
{
	int			attindex;		/* index into the deformed tuple (attnum - 1) */
	bool		in_identity;	/* part of the replica identity */
	TypeCodec	codec;
} ColumnInfo;

/* Per-relation cache entry, keyed by relation oid. */
typedef struct RelationEntry
{
	Oid			relid;			/* hash key */
	bool		valid;			/* columns and filter decision are current */
	bool		sent;			/* Relation message sent for this definition */
	bool		publish;		/* passes the table filters */
	char		replident;		/* relreplident */
	int			natts;			/* attributes in the tuple descriptor */
	int			ncolumns;		/* live columns */
	ColumnInfo *columns;
	Datum	   *values;			/* natts slots for deforming a row */
	bool	   *nulls;
	uint64		schema_version; /* latest version in the schema log, 0 none */
	bool		schema_log;		/* this is walcast.schema_log */
	AttrNumber	log_relid_att;	/* schema_log: its columns read by the plugin */
	AttrNumber	log_schema_att;
	AttrNumber	log_name_att;
	AttrNumber	log_event_att;
	char	   *definition;		/* the last Relation body written, to spot changes */
	int			definition_len;
	MemoryContext context;		/* holds columns and definition */
} RelationEntry;

/* Options given to the plugin, validated at startup (options.c). */
typedef struct WalcastOptions
{
	List	   *include_tables; /* patterns "schema.table", '*' wildcards */
	List	   *exclude_tables;
	List	   *message_prefixes;	/* NIL: every prefix */
	bool		messages;		/* send logical messages at all */
	bool		streaming;		/* stream in-progress transactions */
	bool		only_local;		/* skip changes from other origins */
	bool		skip_empty_xacts;
} WalcastOptions;

/* Per-transaction state, in ReorderBufferTXN.output_plugin_private. */
typedef struct WalcastTxn
{
	bool		begun;			/* Begin (or the stream's start) was written */
	uint64		changes;		/* changes written, the last change_index */
} WalcastTxn;

/* Per-decoding-session state, in ctx->output_plugin_private. */
typedef struct WalcastData
{
	MemoryContext context;		/* per-callback work, reset after each write */
	MemoryContext cachectx;		/* relation cache entries */
	WalcastOptions opt;
	bool		startup_sent;	/* Startup message written */
	bool		need_conversion;	/* text must be converted to UTF-8 */
	bool		sql_ascii;		/* text must be checked for valid UTF-8 */
	bool		in_stream;		/* between stream_start and stream_stop */
	bool		stream_written; /* StreamStart written for this segment */
	int			skipped_changes;	/* since the last progress report */
} WalcastData;

/* options.c */
extern void walcast_parse_options(WalcastOptions *opt, List *options);
extern bool walcast_table_matches(WalcastOptions *opt, const char *schema,
								  const char *table);
extern bool walcast_prefix_wanted(WalcastOptions *opt, const char *prefix);

/* relcache.c */
extern void relcache_init(WalcastData *data);
extern RelationEntry *relcache_lookup(WalcastData *data, Relation rel);
extern void relcache_write_relation(StringInfo out, RelationEntry *entry);
extern void relcache_forget_sent(void);
extern void relcache_invalidate(Oid relid);
extern void relcache_write_column(StringInfo out, Form_pg_attribute att,
								  bool in_identity, bool in_pkey, Oid base);
extern int	relcache_identity_enum(char replident);
extern Bitmapset *relcache_primary_key_columns(Relation rel);

/* schemalog.c */
extern void schemalog_init(void);
extern Oid	schemalog_relid(void);
extern uint64 schemalog_latest_version(Oid relid, Snapshot snapshot);

/* decode.c */
extern char *render_table_definition(const char *data, size_t len);

/* encode.c */
extern void encode_init(void);
extern void codec_init(TypeCodec *codec, Oid typid, MemoryContext cxt);
extern void encode_tuple(StringInfo out, uint32 field, RelationEntry *entry,
						 Relation rel, HeapTuple tuple, bool old_key);
extern void encode_cstring(StringInfo out, uint32 field, const char *str);
extern int64 timestamp_to_unix(TimestampTz ts);

#endif							/* WALCAST_H */
