/*-------------------------------------------------------------------------
 *
 * decode.c
 *	  walcast.decode(bytea [, verbose]): one walcast message as a line of text.
 *
 * For people reading a slot and for the regression tests:
 *
 *	  SELECT walcast.decode(data)
 *		FROM pg_logical_slot_get_binary_changes('s', NULL, NULL);
 *
 * The bytes are parsed with the protobuf-c code generated from
 * proto/walcast/v1/walcast.proto, not with anything the plugin's encoder
 * shares, so the tests check the wire format a subscriber sees.  By default
 * the line leaves out what changes from run to run (LSNs, xids, times,
 * oids); verbose shows everything.
 *
 * Relation messages are remembered for the rest of the backend's life, so
 * the rows that follow them in the same query are shown with their table and
 * column names.  A row whose Relation this backend has not seen is shown
 * with its table's current name from the catalog and positional values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/md5.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "walcast/v1/walcast.pb-c.h"
#include "walcast.h"

typedef Walcast__V1__Envelope Envelope;
typedef Walcast__V1__Value Value;
typedef Walcast__V1__Tuple Tuple;
typedef Walcast__V1__Relation RelationMsg;

/* Values longer than this are shown by length and MD5. */
#define LONG_VALUE	200

/* A remembered Relation: its names, for rendering rows. */
typedef struct SeenRelation
{
	uint32		rel_id;			/* hash key */
	char	   *qualified_name;
	int			ncolumns;
	char	  **column_names;
} SeenRelation;

static HTAB *seen_relations = NULL;

extern PGDLLEXPORT Datum walcast_decode(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(walcast_decode);

static void *
pb_alloc(void *allocator_data, size_t size)
{
	return palloc(size);
}

static void
pb_free(void *allocator_data, void *pointer)
{
	if (pointer != NULL)
		pfree(pointer);
}

static ProtobufCAllocator palloc_allocator = {pb_alloc, pb_free, NULL};

static void
append_lsn(StringInfo buf, const char *label, uint64 lsn)
{
	appendStringInfo(buf, " %s %X/%X", label, (uint32) (lsn >> 32),
					 (uint32) lsn);
}

static void
append_quoted(StringInfo buf, const char *data, size_t len)
{
	appendStringInfoChar(buf, '\'');
	for (size_t i = 0; i < len; i++)
	{
		if (data[i] == '\'')
			appendStringInfoChar(buf, '\'');
		appendStringInfoChar(buf, data[i]);
	}
	appendStringInfoChar(buf, '\'');
}

/* Long values: length and MD5, so the tests can check huge values exactly. */
static bool
append_long(StringInfo buf, const char *data, size_t len)
{
	char		hex[33];
	const char *errstr;

	if (len <= LONG_VALUE)
		return false;
	if (!pg_md5_hash(data, len, hex, &errstr))
		strlcpy(hex, "?", sizeof(hex));
	appendStringInfo(buf, "(%zu bytes, md5 %s)", len, hex);
	return true;
}

static void
append_hex(StringInfo buf, const uint8_t *data, size_t len)
{
	appendStringInfoString(buf, "\\x");
	for (size_t i = 0; i < len; i++)
		appendStringInfo(buf, "%02x", data[i]);
}

/* Message content: quoted when it is text, hex when it is not. */
static void
append_content(StringInfo buf, const uint8_t *data, size_t len)
{
	if (append_long(buf, (const char *) data, len))
		return;
	if (memchr(data, '\0', len) == NULL &&
		pg_verifymbstr((const char *) data, len, true))
		append_quoted(buf, (const char *) data, len);
	else
		append_hex(buf, data, len);
}

static void
append_text(StringInfo buf, const char *kind, const char *text)
{
	appendStringInfo(buf, "%s ", kind);
	if (!append_long(buf, text, strlen(text)))
		append_quoted(buf, text, strlen(text));
}

/*
 * Date from days since 1970-01-01, computed without DateStyle.  Returns
 * whether it is BC, which the caller prints (after the time, if any).
 */
static bool
append_date(StringInfo buf, int64 days)
{
	int			year,
				month,
				day;

	j2date((int) (days + UNIX_EPOCH_JDATE), &year, &month, &day);
	appendStringInfo(buf, "%04d-%02d-%02d", year <= 0 ? -year + 1 : year,
					 month, day);
	return year <= 0;
}

static void
append_time_of_day(StringInfo buf, int64 us)
{
	appendStringInfo(buf, "%02d:%02d:%02d",
					 (int) (us / USECS_PER_HOUR),
					 (int) (us / USECS_PER_MINUTE % 60),
					 (int) (us / USECS_PER_SEC % 60));
	if (us % USECS_PER_SEC != 0)
		appendStringInfo(buf, ".%06d", (int) (us % USECS_PER_SEC));
}

static void
append_timestamp(StringInfo buf, int64 us)
{
	int64		days;
	int64		rest;
	bool		bc;

	if (us == PG_INT64_MIN)
	{
		appendStringInfoString(buf, "-infinity");
		return;
	}
	if (us == PG_INT64_MAX)
	{
		appendStringInfoString(buf, "infinity");
		return;
	}
	days = us / USECS_PER_DAY;
	rest = us % USECS_PER_DAY;
	if (rest < 0)
	{
		days--;
		rest += USECS_PER_DAY;
	}
	bc = append_date(buf, days);
	appendStringInfoChar(buf, 'T');
	append_time_of_day(buf, rest);
	appendStringInfoString(buf, bc ? "Z BC" : "Z");
}

static void
append_float(StringInfo buf, double v, int digits)
{
	if (isnan(v))
		appendStringInfoString(buf, "NaN");
	else if (isinf(v))
		appendStringInfoString(buf, v > 0 ? "Infinity" : "-Infinity");
	else
		appendStringInfo(buf, "%.*g", digits, v);
}

static void append_value(StringInfo buf, const Value *v);

static void
append_array(StringInfo buf, const Walcast__V1__Array *a)
{
	appendStringInfoString(buf, "array");
	for (size_t i = 0; i < a->n_dimensions; i++)
	{
		int			lb = i < a->n_lower_bounds ? a->lower_bounds[i] : 1;

		appendStringInfo(buf, "[%d:%d]", lb, lb + a->dimensions[i] - 1);
	}
	appendStringInfoString(buf, " {");
	for (size_t i = 0; i < a->n_elements; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		append_value(buf, a->elements[i]);
	}
	appendStringInfoChar(buf, '}');
}

static void
append_value(StringInfo buf, const Value *v)
{
	switch (v->kind_case)
	{
		case WALCAST__V1__VALUE__KIND_MARKER:
			switch (v->marker)
			{
				case WALCAST__V1__MARKER__MARKER_NULL:
					appendStringInfoString(buf, "null");
					break;
				case WALCAST__V1__MARKER__MARKER_UNCHANGED_TOAST:
					appendStringInfoString(buf, "unchanged-toast");
					break;
				case WALCAST__V1__MARKER__MARKER_NOT_IN_KEY:
					appendStringInfoString(buf, "not-in-key");
					break;
				default:
					appendStringInfo(buf, "marker %d", (int) v->marker);
					break;
			}
			break;
		case WALCAST__V1__VALUE__KIND_BOOL_VALUE:
			appendStringInfo(buf, "bool %s", v->bool_value ? "true" : "false");
			break;
		case WALCAST__V1__VALUE__KIND_INT_VALUE:
			appendStringInfo(buf, "int " INT64_FORMAT, (int64) v->int_value);
			break;
		case WALCAST__V1__VALUE__KIND_UINT_VALUE:
			appendStringInfo(buf, "uint " UINT64_FORMAT,
							 (uint64) v->uint_value);
			break;
		case WALCAST__V1__VALUE__KIND_FLOAT4_VALUE:
			appendStringInfoString(buf, "float4 ");
			append_float(buf, v->float4_value, 9);
			break;
		case WALCAST__V1__VALUE__KIND_FLOAT8_VALUE:
			appendStringInfoString(buf, "float8 ");
			append_float(buf, v->float8_value, 17);
			break;
		case WALCAST__V1__VALUE__KIND_TEXT_VALUE:
			append_text(buf, "text", v->text_value);
			break;
		case WALCAST__V1__VALUE__KIND_BYTES_VALUE:
			appendStringInfoString(buf, "bytes ");
			if (!append_long(buf, (char *) v->bytes_value.data,
							 v->bytes_value.len))
				append_hex(buf, v->bytes_value.data, v->bytes_value.len);
			break;
		case WALCAST__V1__VALUE__KIND_NUMERIC_VALUE:
			appendStringInfoString(buf, "numeric ");
			if (!append_long(buf, v->numeric_value, strlen(v->numeric_value)))
				appendStringInfoString(buf, v->numeric_value);
			break;
		case WALCAST__V1__VALUE__KIND_TIMESTAMP_VALUE:
			appendStringInfoString(buf, "timestamp ");
			append_timestamp(buf, v->timestamp_value);
			break;
		case WALCAST__V1__VALUE__KIND_DATE_VALUE:
			appendStringInfoString(buf, "date ");
			if (v->date_value == PG_INT32_MIN)
				appendStringInfoString(buf, "-infinity");
			else if (v->date_value == PG_INT32_MAX)
				appendStringInfoString(buf, "infinity");
			else if (append_date(buf, v->date_value))
				appendStringInfoString(buf, " BC");
			break;
		case WALCAST__V1__VALUE__KIND_TIME_VALUE:
			appendStringInfoString(buf, "time ");
			append_time_of_day(buf, v->time_value);
			break;
		case WALCAST__V1__VALUE__KIND_TIMETZ_VALUE:
			appendStringInfoString(buf, "timetz ");
			append_time_of_day(buf, v->timetz_value->time);
			appendStringInfo(buf, "%c%02d:%02d",
							 v->timetz_value->utc_offset < 0 ? '-' : '+',
							 abs(v->timetz_value->utc_offset) / 3600,
							 abs(v->timetz_value->utc_offset) / 60 % 60);
			if (v->timetz_value->utc_offset % 60 != 0)
				appendStringInfo(buf, ":%02d",
								 abs(v->timetz_value->utc_offset) % 60);
			break;
		case WALCAST__V1__VALUE__KIND_INTERVAL_VALUE:
			appendStringInfo(buf, "interval %d months %d days " INT64_FORMAT " us",
							 v->interval_value->months,
							 v->interval_value->days,
							 (int64) v->interval_value->microseconds);
			break;
		case WALCAST__V1__VALUE__KIND_UUID_VALUE:
			appendStringInfoString(buf, "uuid ");
			for (size_t i = 0; i < v->uuid_value.len; i++)
			{
				if (i == 4 || i == 6 || i == 8 || i == 10)
					appendStringInfoChar(buf, '-');
				appendStringInfo(buf, "%02x", v->uuid_value.data[i]);
			}
			break;
		case WALCAST__V1__VALUE__KIND_JSON_VALUE:
			append_text(buf, "json", v->json_value);
			break;
		case WALCAST__V1__VALUE__KIND_ENUM_VALUE:
			append_text(buf, "enum", v->enum_value);
			break;
		case WALCAST__V1__VALUE__KIND_ARRAY_VALUE:
			append_array(buf, v->array_value);
			break;
		case WALCAST__V1__VALUE__KIND_PG_TEXT:
			append_text(buf, "pg_text", v->pg_text);
			break;
		default:
			appendStringInfoString(buf, "(no value)");
			break;
	}
}

static SeenRelation *
find_relation(uint32 rel_id)
{
	if (seen_relations == NULL)
		return NULL;
	return hash_search(seen_relations, &rel_id, HASH_FIND, NULL);
}

static void
remember_relation(const RelationMsg *r)
{
	SeenRelation *seen;
	bool		found;
	MemoryContext old;

	if (seen_relations == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(SeenRelation);
		seen_relations = hash_create("walcast decoded relations", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS);
	}
	seen = hash_search(seen_relations, &r->rel_id, HASH_ENTER, &found);
	if (found)
	{
		for (int i = 0; i < seen->ncolumns; i++)
			pfree(seen->column_names[i]);
		pfree(seen->column_names);
		pfree(seen->qualified_name);
	}
	old = MemoryContextSwitchTo(TopMemoryContext);
	seen->qualified_name = psprintf("%s.%s", r->schema, r->name);
	seen->ncolumns = r->n_columns;
	seen->column_names = palloc(sizeof(char *) * Max(r->n_columns, 1));
	for (size_t i = 0; i < r->n_columns; i++)
		seen->column_names[i] = pstrdup(r->columns[i]->name);
	MemoryContextSwitchTo(old);
}

static void
append_table(StringInfo buf, uint32 rel_id, bool verbose)
{
	SeenRelation *seen = find_relation(rel_id);

	if (seen != NULL)
		appendStringInfoString(buf, seen->qualified_name);
	else
	{
		char	   *name = get_rel_name(rel_id);

		if (name != NULL)
			appendStringInfo(buf, "%s.%s",
							 get_namespace_name(get_rel_namespace(rel_id)),
							 name);
		else
			appendStringInfo(buf, "(relation %u)", rel_id);
	}
	if (verbose)
		appendStringInfo(buf, " (rel_id %u)", rel_id);
}

static void
append_tuple(StringInfo buf, const char *label, uint32 rel_id,
			 const Tuple *t)
{
	SeenRelation *seen = find_relation(rel_id);

	appendStringInfo(buf, " %s:", label);
	if (t == NULL)
	{
		appendStringInfoString(buf, " (none)");
		return;
	}
	for (size_t i = 0; i < t->n_values; i++)
	{
		appendStringInfoChar(buf, ' ');
		if (seen != NULL && i < seen->ncolumns)
			appendStringInfo(buf, "%s=", seen->column_names[i]);
		else
			appendStringInfo(buf, "$%zu=", i + 1);
		append_value(buf, t->values[i]);
	}
	if (seen != NULL && t->n_values != seen->ncolumns)
		appendStringInfo(buf, " (%zu values for %d columns)", t->n_values,
						 seen->ncolumns);
}

static const char *
old_kind_name(Walcast__V1__OldRow kind)
{
	switch (kind)
	{
		case WALCAST__V1__OLD_ROW__OLD_ROW_NONE:
			return "none";
		case WALCAST__V1__OLD_ROW__OLD_ROW_KEY:
			return "key";
		case WALCAST__V1__OLD_ROW__OLD_ROW_FULL:
			return "full";
		default:
			return "unspecified";
	}
}

static const char *
identity_name(Walcast__V1__ReplicaIdentity identity)
{
	switch (identity)
	{
		case WALCAST__V1__REPLICA_IDENTITY__REPLICA_IDENTITY_DEFAULT:
			return "default";
		case WALCAST__V1__REPLICA_IDENTITY__REPLICA_IDENTITY_NOTHING:
			return "nothing";
		case WALCAST__V1__REPLICA_IDENTITY__REPLICA_IDENTITY_FULL:
			return "full";
		case WALCAST__V1__REPLICA_IDENTITY__REPLICA_IDENTITY_INDEX:
			return "index";
		default:
			return "unspecified";
	}
}

/* Columns of a Relation or TableDefinition: ": a int [pk, ...], b text". */
static void
append_columns(StringInfo buf, Walcast__V1__Column **columns, size_t n,
			   bool verbose)
{
	appendStringInfoChar(buf, ':');
	for (size_t i = 0; i < n; i++)
	{
		Walcast__V1__Column *c = columns[i];
		const char *sep = " [";

		appendStringInfo(buf, "%s %s %s", i > 0 ? "," : "", c->name,
						 c->type_name);
		if (verbose)
			appendStringInfo(buf, " (oid %u typmod %d attnum %d)",
							 c->type_oid, c->type_modifier, c->attnum);
		if (c->base_type_oid != 0)
		{
			appendStringInfo(buf, "%sdomain over %s", sep,
							 format_type_be(c->base_type_oid));
			sep = ", ";
		}
#define FLAG(cond, word) \
		if (cond) { appendStringInfo(buf, "%s%s", sep, word); sep = ", "; }
		FLAG(c->in_primary_key, "pk");
		FLAG(c->in_replica_identity, "key");
		FLAG(c->not_null, "not null");
		FLAG(c->generated, "generated");
		FLAG(c->identity == WALCAST__V1__COLUMN_IDENTITY__COLUMN_IDENTITY_ALWAYS,
			 "identity always");
		FLAG(c->identity == WALCAST__V1__COLUMN_IDENTITY__COLUMN_IDENTITY_BY_DEFAULT,
			 "identity by default");
#undef FLAG
		if (c->default_expression[0] != '\0')
		{
			appendStringInfo(buf, "%s%s %s", sep,
							 c->generated ? "as" : "default",
							 c->default_expression);
			sep = ", ";
		}
		if (sep[0] == ',')
			appendStringInfoChar(buf, ']');
	}
}

static void
append_relation(StringInfo buf, const RelationMsg *r, bool verbose)
{
	appendStringInfo(buf, "RELATION %s.%s", r->schema, r->name);
	if (verbose)
		appendStringInfo(buf, " (rel_id %u)", r->rel_id);
	if (r->kind == WALCAST__V1__RELATION_KIND__RELATION_KIND_PARTITION)
	{
		appendStringInfoString(buf, " partition of ");
		append_table(buf, r->parent_rel_id, verbose);
	}
	appendStringInfo(buf, " identity %s format %d",
					 identity_name(r->replica_identity),
					 (int) r->format_version);
	if (r->schema_version != 0)
		appendStringInfo(buf, " schema_version " UINT64_FORMAT,
						 (uint64) r->schema_version);
	append_columns(buf, r->columns, r->n_columns, verbose);
	remember_relation(r);
}

/*
 * A table definition of the schema log: "public.t table identity default:
 * id integer [pk, key, not null], ...; primary key (id)".
 */
static void
append_definition(StringInfo buf, const Walcast__V1__TableDefinition *t,
				  bool verbose)
{
	appendStringInfo(buf, "%s.%s", t->schema, t->name);
	if (verbose)
		appendStringInfo(buf, " (rel_id %u)", t->rel_id);
	appendStringInfoString(buf,
						   t->kind == WALCAST__V1__TABLE_KIND__TABLE_KIND_PARTITIONED ?
						   " partitioned table" : " table");
	if (t->parent[0] != '\0')
		appendStringInfo(buf, " partition of %s %s", t->parent,
						 t->partition_bound);
	if (t->partition_key[0] != '\0')
		appendStringInfo(buf, " partition by %s", t->partition_key);
	appendStringInfo(buf, " identity %s", identity_name(t->replica_identity));
	if (t->replica_identity_index[0] != '\0')
		appendStringInfo(buf, " %s", t->replica_identity_index);
	append_columns(buf, t->columns, t->n_columns, verbose);
	if (t->n_primary_key > 0)
	{
		appendStringInfoString(buf, "; primary key (");
		for (size_t i = 0; i < t->n_primary_key; i++)
			appendStringInfo(buf, "%s%s", i > 0 ? ", " : "",
							 t->primary_key[i]);
		appendStringInfoChar(buf, ')');
	}
}

/*
 * The TableDefinition bytes written by schemalog.c as one line, for
 * walcast.schema_log.definition: the same text walcast.decode shows.
 */
char *
render_table_definition(const char *data, size_t len)
{
	Walcast__V1__TableDefinition *t;
	StringInfoData buf;

	t = walcast__v1__table_definition__unpack(&palloc_allocator, len,
											  (const uint8_t *) data);
	if (t == NULL)
		elog(ERROR, "could not decode a table definition just encoded");
	initStringInfo(&buf);
	append_definition(&buf, t, false);
	walcast__v1__table_definition__free_unpacked(t, &palloc_allocator);
	return buf.data;
}

static void
append_objects(StringInfo buf, const char *label,
			   Walcast__V1__SchemaObject **objects, size_t n, bool verbose)
{
	if (n == 0)
		return;
	appendStringInfo(buf, " %s [", label);
	for (size_t i = 0; i < n; i++)
	{
		Walcast__V1__SchemaObject *o = objects[i];

		if (i > 0)
			appendStringInfoString(buf, ", ");
		if (o->command_tag[0] != '\0')
			appendStringInfo(buf, "%s ", o->command_tag);
		appendStringInfoString(buf, o->object_type);
		if (o->identity[0] != '\0')
			appendStringInfo(buf, " %s", o->identity);
		if (o->n_enum_labels > 0)
		{
			appendStringInfoString(buf, " labels (");
			for (size_t j = 0; j < o->n_enum_labels; j++)
			{
				if (j > 0)
					appendStringInfoString(buf, ", ");
				append_quoted(buf, o->enum_labels[j],
							  strlen(o->enum_labels[j]));
			}
			appendStringInfoChar(buf, ')');
		}
		if (verbose)
			appendStringInfo(buf, " (class %u oid %u sub %d)", o->class_id,
							 o->object_id, o->object_sub_id);
	}
	appendStringInfoChar(buf, ']');
}

static void
append_schema_change(StringInfo buf, const Walcast__V1__SchemaChange *sc,
					 bool verbose)
{
	appendStringInfo(buf, "SCHEMA CHANGE %s", sc->command_tag);
	if (sc->rel_id != 0)
	{
		appendStringInfo(buf, " %s.%s version " UINT64_FORMAT,
						 sc->schema, sc->name, (uint64) sc->schema_version);
		if (verbose)
			appendStringInfo(buf, " (rel_id %u)", sc->rel_id);
	}
	if (sc->parts > 1)
		appendStringInfo(buf, " part %u/%u", sc->part, sc->parts);
	if (verbose)
		appendStringInfo(buf, " log_id " UINT64_FORMAT, (uint64) sc->log_id);
	/* one line: the statement's line breaks as \n */
	appendStringInfoString(buf, ": ddl '");
	for (const char *p = sc->ddl; *p; p++)
	{
		if (*p == '\n')
			appendStringInfoString(buf, "\\n");
		else if (*p == '\'')
			appendStringInfoString(buf, "''");
		else
			appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
	if (!sc->ddl_is_statement)
		appendStringInfoString(buf, " (whole query)");
	append_objects(buf, "objects", sc->objects, sc->n_objects, verbose);
	append_objects(buf, "dropped", sc->dropped, sc->n_dropped, verbose);
	if (sc->table_dropped)
		appendStringInfoString(buf, " table dropped");
	if (sc->table != NULL)
	{
		appendStringInfoString(buf, " table ");
		append_definition(buf, sc->table, verbose);
	}
}

static void
append_txn_end(StringInfo buf, const char *tag, uint64 lsn, uint64 end_lsn,
			   int64 time, const char *gid, bool verbose)
{
	appendStringInfoString(buf, tag);
	if (gid != NULL && gid[0] != '\0')
		appendStringInfo(buf, " '%s'", gid);
	if (verbose)
	{
		append_lsn(buf, "lsn", lsn);
		append_lsn(buf, "end", end_lsn);
		appendStringInfoString(buf, " time ");
		append_timestamp(buf, time);
	}
}

static void
render(StringInfo buf, const Envelope *e, bool verbose)
{
	switch (e->body_case)
	{
		case WALCAST__V1__ENVELOPE__BODY_STARTUP:
			appendStringInfo(buf, "STARTUP format %d plugin %s database %s encoding %s",
							 (int) e->startup->format_version,
							 e->startup->plugin_version,
							 e->startup->database,
							 e->startup->server_encoding);
			if (verbose)
				appendStringInfo(buf, " server %u system " UINT64_FORMAT,
								 e->startup->server_version_num,
								 (uint64) e->startup->system_identifier);
			break;
		case WALCAST__V1__ENVELOPE__BODY_BEGIN:
			appendStringInfoString(buf, "BEGIN");
			if (e->begin->origin[0] != '\0')
				appendStringInfo(buf, " origin %s", e->begin->origin);
			if (verbose)
			{
				append_lsn(buf, "final", e->begin->final_lsn);
				append_lsn(buf, "end", e->begin->end_lsn);
				appendStringInfoString(buf, " time ");
				append_timestamp(buf, e->begin->commit_time);
				if (e->begin->origin_lsn != 0)
					append_lsn(buf, "origin_lsn", e->begin->origin_lsn);
			}
			break;
		case WALCAST__V1__ENVELOPE__BODY_COMMIT:
			appendStringInfo(buf, "COMMIT " UINT64_FORMAT " changes",
							 (uint64) e->commit->change_count);
			if (verbose)
				append_txn_end(buf, "", e->commit->commit_lsn,
							   e->commit->end_lsn, e->commit->commit_time,
							   NULL, true);
			break;
		case WALCAST__V1__ENVELOPE__BODY_RELATION:
			append_relation(buf, e->relation, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_INSERT:
			appendStringInfoString(buf, "INSERT ");
			append_table(buf, e->insert->rel_id, verbose);
			append_tuple(buf, "new", e->insert->rel_id, e->insert->new_row);
			break;
		case WALCAST__V1__ENVELOPE__BODY_UPDATE:
			appendStringInfoString(buf, "UPDATE ");
			append_table(buf, e->update->rel_id, verbose);
			appendStringInfo(buf, " old %s", old_kind_name(e->update->old_kind));
			if (e->update->old_row != NULL)
				append_tuple(buf, "old", e->update->rel_id,
							 e->update->old_row);
			append_tuple(buf, "new", e->update->rel_id, e->update->new_row);
			break;
		case WALCAST__V1__ENVELOPE__BODY_DELETE:
			appendStringInfoString(buf, "DELETE ");
			append_table(buf, e->delete_->rel_id, verbose);
			appendStringInfo(buf, " old %s", old_kind_name(e->delete_->old_kind));
			if (e->delete_->old_row != NULL)
				append_tuple(buf, "old", e->delete_->rel_id,
							 e->delete_->old_row);
			break;
		case WALCAST__V1__ENVELOPE__BODY_TRUNCATE:
			appendStringInfoString(buf, "TRUNCATE");
			for (size_t i = 0; i < e->truncate->n_rel_ids; i++)
			{
				appendStringInfoString(buf, i > 0 ? ", " : " ");
				append_table(buf, e->truncate->rel_ids[i], verbose);
			}
			if (e->truncate->cascade)
				appendStringInfoString(buf, " cascade");
			if (e->truncate->restart_identity)
				appendStringInfoString(buf, " restart identity");
			break;
		case WALCAST__V1__ENVELOPE__BODY_MESSAGE:
			appendStringInfo(buf, "MESSAGE %s prefix '%s' content ",
							 e->message->transactional ? "transactional" : "non-transactional",
							 e->message->prefix);
			append_content(buf, e->message->content.data,
						   e->message->content.len);
			break;
		case WALCAST__V1__ENVELOPE__BODY_SCHEMA_CHANGE:
			append_schema_change(buf, e->schema_change, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_STREAM_START:
			appendStringInfo(buf, "STREAM START%s",
							 e->stream_start->first_segment ? " first" : "");
			break;
		case WALCAST__V1__ENVELOPE__BODY_STREAM_STOP:
			appendStringInfoString(buf, "STREAM STOP");
			break;
		case WALCAST__V1__ENVELOPE__BODY_STREAM_COMMIT:
			append_txn_end(buf, "STREAM COMMIT", e->stream_commit->commit_lsn,
						   e->stream_commit->end_lsn,
						   e->stream_commit->commit_time, NULL, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_STREAM_ABORT:
			appendStringInfoString(buf, "STREAM ABORT");
			if (e->stream_abort->sub_xid != e->xid)
				appendStringInfoString(buf, " subtransaction");
			if (verbose)
				appendStringInfo(buf, " sub_xid %u", e->stream_abort->sub_xid);
			break;
		case WALCAST__V1__ENVELOPE__BODY_BEGIN_PREPARE:
			append_txn_end(buf, "BEGIN PREPARE", e->begin_prepare->prepare_lsn,
						   e->begin_prepare->end_lsn,
						   e->begin_prepare->prepare_time,
						   e->begin_prepare->gid, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_PREPARE:
			append_txn_end(buf, "PREPARE", e->prepare->prepare_lsn,
						   e->prepare->end_lsn, e->prepare->prepare_time,
						   e->prepare->gid, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_COMMIT_PREPARED:
			append_txn_end(buf, "COMMIT PREPARED",
						   e->commit_prepared->commit_lsn,
						   e->commit_prepared->end_lsn,
						   e->commit_prepared->commit_time,
						   e->commit_prepared->gid, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_ROLLBACK_PREPARED:
			append_txn_end(buf, "ROLLBACK PREPARED",
						   e->rollback_prepared->prepare_end_lsn,
						   e->rollback_prepared->end_lsn,
						   e->rollback_prepared->rollback_time,
						   e->rollback_prepared->gid, verbose);
			break;
		case WALCAST__V1__ENVELOPE__BODY_STREAM_PREPARE:
			append_txn_end(buf, "STREAM PREPARE",
						   e->stream_prepare->prepare_lsn,
						   e->stream_prepare->end_lsn,
						   e->stream_prepare->prepare_time,
						   e->stream_prepare->gid, verbose);
			break;
		default:
			appendStringInfoString(buf, "UNRECOGNIZED message body");
			break;
	}
}

Datum
walcast_decode(PG_FUNCTION_ARGS)
{
	bytea	   *raw = PG_GETARG_BYTEA_PP(0);
	bool		verbose = PG_NARGS() > 1 && PG_GETARG_BOOL(1);
	Envelope   *e;
	StringInfoData buf;

	e = walcast__v1__envelope__unpack(&palloc_allocator,
									  VARSIZE_ANY_EXHDR(raw),
									  (uint8_t *) VARDATA_ANY(raw));
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("could not decode walcast message"),
				 errdetail("The %zu bytes given are not a walcast.v1.Envelope.",
						   (size_t) VARSIZE_ANY_EXHDR(raw))));

	initStringInfo(&buf);
	if (e->change_index != 0)
		appendStringInfo(&buf, "#" UINT64_FORMAT " ", (uint64) e->change_index);
	render(&buf, e, verbose);
	if (verbose)
	{
		if (e->xid != 0)
			appendStringInfo(&buf, " xid %u", e->xid);
		if (e->lsn != 0)
			append_lsn(&buf, "at", e->lsn);
	}
	walcast__v1__envelope__free_unpacked(e, &palloc_allocator);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
