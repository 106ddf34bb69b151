/*-------------------------------------------------------------------------
 *
 * relcache.c
 *	  The per-relation cache and the walcast.v1.Relation message.
 *
 * For each relation seen in a decoding session the cache keeps the live
 * columns with their codecs (encode.c), which columns form the replica
 * identity, whether the table passes the table filters, and the bytes of
 * the last Relation message built for it, and the table's latest version
 * in the schema log (schemalog.c), read under the historic snapshot when
 * the entry is built.  The entry of walcast.schema_log itself is marked:
 * its inserts are sent as SchemaChange messages (walcast.c).
 *
 * Invalidation follows pgoutput: relcache and pg_type syscache callbacks
 * only clear a flag, because they can fire in the middle of a callback; the
 * next lookup rebuilds the entry from the Relation the reorder buffer hands
 * us, which carries the catalog as of that change.  A rebuilt entry whose
 * Relation message comes out byte for byte the same as before is not sent
 * again: the definition did not change.  A changed one (a column added,
 * dropped, retyped or renamed, the identity changed, the table renamed) is
 * sent before the next row.
 *
 * Cache callbacks cannot be unregistered and their slots are few, so they
 * are registered once per backend; the hash lives in the decoding context
 * and a reset callback on it clears the static pointer, so an ERROR in the
 * SQL interface leaves nothing dangling.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "pbwire.h"
#include "walcast.h"

/* Field numbers of Relation and Column. */
#define F_REL_ID			1
#define F_REL_SCHEMA		2
#define F_REL_NAME			3
#define F_REL_IDENTITY		4
#define F_REL_COLUMNS		5
#define F_REL_FORMAT		6
#define F_REL_SCHEMA_VERSION 7
#define F_REL_KIND			8
#define F_REL_PARENT		9
#define F_COL_NAME			1
#define F_COL_TYPE_OID		2
#define F_COL_TYPMOD		3
#define F_COL_TYPE_NAME		4
#define F_COL_NOT_NULL		5
#define F_COL_IDENTITY		6
#define F_COL_PKEY			7
#define F_COL_GENERATED		8
#define F_COL_ATTNUM		9
#define F_COL_BASE_TYPE		10

/* enum ReplicaIdentity and RelationKind */
#define IDENTITY_DEFAULT	1
#define IDENTITY_NOTHING	2
#define IDENTITY_FULL		3
#define IDENTITY_INDEX		4
#define KIND_TABLE			1
#define KIND_PARTITION		2

static HTAB *RelationCache = NULL;
static bool callbacks_registered = false;

/*
 * The entry found last: changes mostly come in runs on one table.  Entries
 * are never removed, so the pointer stays good while the cache lives.
 */
static RelationEntry *LastEntry = NULL;

static void
relcache_reset(void *arg)
{
	RelationCache = NULL;
	LastEntry = NULL;
}

static void
invalidate_all(void)
{
	HASH_SEQ_STATUS seq;
	RelationEntry *entry;

	hash_seq_init(&seq, RelationCache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->valid = false;
}

static void
invalidate_relation(Datum arg, Oid relid)
{
	RelationEntry *entry;

	if (RelationCache == NULL)
		return;
	if (!OidIsValid(relid))
	{
		invalidate_all();
		return;
	}
	entry = hash_search(RelationCache, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		entry->valid = false;
}

/* A type changed (a domain, an enum, a renamed type): re-resolve codecs. */
static void
invalidate_types(Datum arg, int cacheid, uint32 hashvalue)
{
	if (RelationCache != NULL)
		invalidate_all();
}

void
relcache_init(WalcastData *data)
{
	HASHCTL		ctl;
	MemoryContextCallback *cb;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RelationEntry);
	ctl.hcxt = data->cachectx;
	RelationCache = hash_create("walcast relation cache", 128, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	cb = MemoryContextAlloc(data->cachectx, sizeof(MemoryContextCallback));
	cb->func = relcache_reset;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(data->cachectx, cb);

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(invalidate_relation, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPEOID, invalidate_types, (Datum) 0);
		callbacks_registered = true;
	}
}

/*
 * Columns of the primary key, as a bitmap offset like the identity one.
 * Opens the index without a lock, as RelationGetIdentityKeyBitmap does:
 * during decoding we only read the historic catalog.
 */
Bitmapset *
relcache_primary_key_columns(Relation rel)
{
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);
	Relation	index;
	Bitmapset  *cols = NULL;

	if (!OidIsValid(pkoid))
		return NULL;
	index = RelationIdGetRelation(pkoid);
	if (!RelationIsValid(index))
		return NULL;
	for (int i = 0; i < index->rd_index->indnkeyatts; i++)
		cols = bms_add_member(cols, index->rd_index->indkey.values[i] -
							  FirstLowInvalidHeapAttributeNumber);
	RelationClose(index);
	return cols;
}

int
relcache_identity_enum(char replident)
{
	switch (replident)
	{
		case REPLICA_IDENTITY_NOTHING:
			return IDENTITY_NOTHING;
		case REPLICA_IDENTITY_FULL:
			return IDENTITY_FULL;
		case REPLICA_IDENTITY_INDEX:
			return IDENTITY_INDEX;
		default:
			return IDENTITY_DEFAULT;
	}
}

/*
 * The fields of a Column message shared by Relation and the schema log's
 * TableDefinition, into a Column being written.  base is the type values
 * are sent as (the base type of a domain).
 */
void
relcache_write_column(StringInfo out, Form_pg_attribute att,
					  bool in_identity, bool in_pkey, Oid base)
{
	encode_cstring(out, F_COL_NAME, NameStr(att->attname));
	pb_uint(out, F_COL_TYPE_OID, att->atttypid);
	pb_int(out, F_COL_TYPMOD, att->atttypmod);
	encode_cstring(out, F_COL_TYPE_NAME,
				   format_type_with_typemod(att->atttypid, att->atttypmod));
	pb_bool(out, F_COL_NOT_NULL, att->attnotnull);
	pb_bool(out, F_COL_IDENTITY, in_identity);
	pb_bool(out, F_COL_PKEY, in_pkey);
	pb_bool(out, F_COL_GENERATED, att->attgenerated != '\0');
	pb_int(out, F_COL_ATTNUM, att->attnum);
	if (base != att->atttypid)
		pb_uint(out, F_COL_BASE_TYPE, base);
}

/*
 * Where the columns the plugin reads sit in walcast.schema_log's rows;
 * false when one is missing.
 */
static bool
find_log_columns(RelationEntry *entry, TupleDesc desc)
{
	entry->log_relid_att = entry->log_schema_att = entry->log_name_att =
		entry->log_event_att = 0;
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const char *name = NameStr(att->attname);

		if (att->attisdropped)
			continue;
		if (strcmp(name, "rel_id") == 0)
			entry->log_relid_att = att->attnum;
		else if (strcmp(name, "schema_name") == 0)
			entry->log_schema_att = att->attnum;
		else if (strcmp(name, "table_name") == 0)
			entry->log_name_att = att->attnum;
		else if (strcmp(name, "event") == 0)
			entry->log_event_att = att->attnum;
	}
	return entry->log_relid_att && entry->log_schema_att &&
		entry->log_name_att && entry->log_event_att;
}

/*
 * Build the entry's columns and its Relation message in a new context.
 */
static void
build_columns(RelationEntry *entry, Relation rel, const char *schema,
			  StringInfo def)
{
	TupleDesc	desc = RelationGetDescr(rel);
	Bitmapset  *idattrs = NULL;
	Bitmapset  *pkattrs;

	if (entry->replident != REPLICA_IDENTITY_NOTHING &&
		entry->replident != REPLICA_IDENTITY_FULL)
		idattrs = RelationGetIdentityKeyBitmap(rel);
	pkattrs = relcache_primary_key_columns(rel);

	entry->columns = palloc(sizeof(ColumnInfo) * Max(desc->natts, 1));
	entry->values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	entry->nulls = palloc(sizeof(bool) * Max(desc->natts, 1));
	entry->ncolumns = 0;

	pb_uint(def, F_REL_ID, RelationGetRelid(rel));
	encode_cstring(def, F_REL_SCHEMA, schema);
	encode_cstring(def, F_REL_NAME, RelationGetRelationName(rel));
	pb_uint(def, F_REL_IDENTITY, relcache_identity_enum(entry->replident));

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		ColumnInfo *col;
		int			offset = att->attnum - FirstLowInvalidHeapAttributeNumber;
		int			at;

		if (att->attisdropped)
			continue;
		col = &entry->columns[entry->ncolumns++];
		col->attindex = i;
		col->in_identity = entry->replident == REPLICA_IDENTITY_FULL ||
			bms_is_member(offset, idattrs);
		codec_init(&col->codec, att->atttypid, entry->context);

		at = pb_begin(def, F_REL_COLUMNS);
		relcache_write_column(def, att, col->in_identity,
							  bms_is_member(offset, pkattrs),
							  col->codec.typid);
		pb_end(def, at);
	}

	pb_uint(def, F_REL_FORMAT, WALCAST_FORMAT_VERSION);
	pb_uint(def, F_REL_SCHEMA_VERSION, entry->schema_version);
	if (rel->rd_rel->relispartition)
	{
		pb_uint(def, F_REL_KIND, KIND_PARTITION);
		pb_uint(def, F_REL_PARENT,
				get_partition_parent(RelationGetRelid(rel), true));
	}
	else
		pb_uint(def, F_REL_KIND, KIND_TABLE);
}

static void
rebuild_entry(WalcastData *data, RelationEntry *entry, Relation rel)
{
	MemoryContext oldcxt = entry->context;
	char	   *olddef = entry->definition;
	int			oldlen = entry->definition_len;
	char	   *schema = get_namespace_name(RelationGetNamespace(rel));
	MemoryContext save;
	StringInfoData def;

	entry->context = AllocSetContextCreate(data->cachectx,
										   "walcast relation",
										   ALLOCSET_SMALL_SIZES);
	/* the transient heap of a table rewrite is never a table to send */
	entry->publish =
		!OidIsValid(rel->rd_rel->relrewrite) &&
		walcast_table_matches(&data->opt, schema, RelationGetRelationName(rel));
	entry->replident = rel->rd_rel->relreplident;
	entry->definition = NULL;
	entry->definition_len = 0;
	entry->ncolumns = 0;
	entry->natts = RelationGetDescr(rel)->natts;
	entry->schema_version = 0;

	/*
	 * walcast.schema_log's rows become SchemaChange messages, never rows.
	 * Other tables carry their latest version from it.
	 */
	entry->schema_log = RelationGetRelid(rel) == schemalog_relid() &&
		find_log_columns(entry, RelationGetDescr(rel));
	if (entry->schema_log)
		entry->publish = false;
	else if (entry->publish)
		entry->schema_version =
			schemalog_latest_version(RelationGetRelid(rel), NULL);

	if (entry->publish)
	{
		save = MemoryContextSwitchTo(entry->context);
		initStringInfo(&def);
		build_columns(entry, rel, schema, &def);
		MemoryContextSwitchTo(save);
		entry->definition = def.data;
		entry->definition_len = def.len;
	}

	if (olddef == NULL || entry->definition == NULL ||
		oldlen != entry->definition_len ||
		memcmp(olddef, entry->definition, oldlen) != 0)
		entry->sent = false;

	if (oldcxt != NULL)
		MemoryContextDelete(oldcxt);
	entry->valid = true;
}

/*
 * Whether entry describes rel as it is now.  The width check is cheap
 * insurance: rows are deformed into arrays sized by the descriptor the
 * entry was built from.
 */
static inline bool
entry_is_current(RelationEntry *entry, Relation rel)
{
	return entry->valid && entry->natts == RelationGetDescr(rel)->natts;
}

/*
 * The cache entry of rel, current as of the change being decoded.
 */
RelationEntry *
relcache_lookup(WalcastData *data, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	RelationEntry *entry = LastEntry;
	bool		found;

	if (likely(entry != NULL && entry->relid == relid &&
			   entry_is_current(entry, rel)))
		return entry;

	entry = hash_search(RelationCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->sent = false;
		entry->context = NULL;
		entry->definition = NULL;
		entry->definition_len = 0;
	}
	if (!entry_is_current(entry, rel))
		rebuild_entry(data, entry, rel);
	LastEntry = entry;
	return entry;
}

/*
 * Describe relid again before its next row: its schema log version
 * changed.
 */
void
relcache_invalidate(Oid relid)
{
	invalidate_relation((Datum) 0, relid);
}

/* Write the Relation body of entry into an envelope being built. */
void
relcache_write_relation(StringInfo out, RelationEntry *entry)
{
	pb_bytes_always(out, F_ENV_RELATION, entry->definition,
					entry->definition_len);
	entry->sent = true;
}

/*
 * Send every definition again before its next row.  Used at the edges of
 * streamed segments: a definition sent inside a streamed transaction may be
 * undone by its abort, and subscribers see segments of several
 * transactions interleaved.
 */
void
relcache_forget_sent(void)
{
	HASH_SEQ_STATUS seq;
	RelationEntry *entry;

	hash_seq_init(&seq, RelationCache);
	while ((entry = hash_seq_search(&seq)) != NULL)
		entry->sent = false;
}
