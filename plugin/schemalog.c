/*-------------------------------------------------------------------------
 *
 * schemalog.c
 *	  The schema log: DDL recorded by event triggers, in the DDL's own
 *	  transaction, as rows of walcast.schema_log carrying a ready
 *	  walcast.v1.SchemaChange.
 *
 * The extension (walcast--1.0--1.1.sql) installs two event triggers:
 * walcast_log_drop on sql_drop keeps the statement's dropped objects aside,
 * and walcast_log_ddl on ddl_command_end records the statement.  A
 * statement is recorded as one row per table whose definition it created,
 * changed or dropped, or as one row without a table when it touched none.
 * Each table row takes the table's next version: the rows of one table are
 * serialized by a lock on (walcast.schema_log, table oid) held until the
 * end of the transaction, and the latest version is read under a fresh
 * snapshot once the lock is held, so concurrent DDL on one table, at any
 * isolation level, yields consecutive versions and no serialization
 * failure; a rolled-back DDL leaves no row and so no gap.
 *
 * Every row carries the SchemaChange message as the plugin will send it
 * (column event), encoded here, with full catalog access, by the same
 * pbwire.h writer; the plugin only copies those bytes into the Envelope
 * when it decodes the insert (walcast.c), and reads a table's latest
 * version from the log when it describes the table (relcache.c):
 * walcast.schema_log is a user_catalog_table, so it can be read under the
 * historic snapshot of decoding.
 *
 * The statement's own text: the ddl_command_end trigger only knows the
 * parse tree.  A ProcessUtility hook, installed when walcast.so is loaded,
 * keeps a stack of the utility statements being run with their query
 * string and location, so the trigger finds the text of exactly its
 * statement, also inside functions and multi-statement query strings.
 * Before the library is loaded in a session (the first DDL statement of the
 * session loads it through the trigger), a top-level statement is still
 * found through the active portal; DDL inside a function is then recorded
 * with the client's whole query string and ddl_is_statement false.  Adding
 * walcast to session_preload_libraries avoids that.
 *
 * The GUC walcast.schema_log (superuser only) switches recording off, for
 * example for one maintenance session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "nodes/bitmapset.h"
#include "storage/lmgr.h"
#include "tcop/cmdtag.h"
#include "tcop/deparse_utility.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "pbwire.h"
#include "walcast.h"

/* Field numbers of SchemaChange, SchemaObject and TableDefinition. */
#define F_SC_VERSION		1
#define F_SC_TAG			2
#define F_SC_DDL			3
#define F_SC_REL_ID			4
#define F_SC_SCHEMA			5
#define F_SC_NAME			6
#define F_SC_TABLE			7
#define F_SC_DROPPED_TABLE	8
#define F_SC_OBJECTS		9
#define F_SC_DROPPED		10
#define F_SC_IS_STATEMENT	11
#define F_SC_PART			12
#define F_SC_PARTS			13
#define F_SC_LOG_ID			14
#define F_OBJ_TAG			1
#define F_OBJ_TYPE			2
#define F_OBJ_IDENTITY		3
#define F_OBJ_SCHEMA		4
#define F_OBJ_CLASS			5
#define F_OBJ_ID			6
#define F_OBJ_SUB_ID		7
#define F_OBJ_ENUM_LABELS	8
#define F_DEF_REL_ID		1
#define F_DEF_SCHEMA		2
#define F_DEF_NAME			3
#define F_DEF_KIND			4
#define F_DEF_IDENTITY		5
#define F_DEF_IDENTITY_INDEX 6
#define F_DEF_COLUMNS		7
#define F_DEF_PRIMARY_KEY	8
#define F_DEF_PARENT_ID		9
#define F_DEF_PARENT		10
#define F_DEF_BOUND			11
#define F_DEF_PARTITION_KEY 12
#define F_COL_DEFAULT		11
#define F_COL_IDENTITY_KIND 12

/* enum TableKind and ColumnIdentity */
#define TABLE_KIND_TABLE		1
#define TABLE_KIND_PARTITIONED	2
#define COLUMN_IDENTITY_ALWAYS	1
#define COLUMN_IDENTITY_BY_DEFAULT 2

#define SCHEMA_LOG_NAMESPACE	"walcast"
#define SCHEMA_LOG_TABLE		"schema_log"
#define SCHEMA_LOG_INDEX		"schema_log_rel_id_version_key"
#define SCHEMA_LOG_SEQUENCE		"walcast.schema_log_id_seq"

/* An object a statement created, altered or dropped. */
typedef struct LoggedObject
{
	char	   *command_tag;	/* NULL for a dropped object */
	char	   *object_type;	/* "table", "index", "table column", ... */
	char	   *identity;		/* "public.t"; NULL when it has none */
	char	   *schema;			/* NULL when it has none */
	char	   *name;			/* dropped objects: the object's own name */
	Oid			classid;		/* the catalog holding it */
	Oid			objid;			/* its oid there */
	int32		objsubid;		/* column number, or 0 */
} LoggedObject;

/* A table whose definition a statement changed: one row each. */
typedef struct LoggedTable
{
	Oid			relid;			/* pg_class oid */
	bool		dropped;		/* the statement dropped it */
	char	   *schema;			/* for a dropped table, as it was */
	char	   *name;
} LoggedTable;

/* A utility statement being run, as the ProcessUtility hook saw it. */
typedef struct RunningStatement
{
	Node	   *parsetree;		/* pstmt->utilityStmt, as run */
	const char *source;			/* its query string */
	int			location;		/* its start in source, -1 unknown */
	int			length;			/* its length, 0 for the rest */
} RunningStatement;

static bool walcast_schema_log = true;	/* GUC walcast.schema_log */

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static RunningStatement *running = NULL;
static int	nrunning = 0;
static int	running_size = 0;

/* Objects kept by the sql_drop trigger for the ddl_command_end trigger. */
static List *dropped_objects = NIL;
static Node *dropped_for = NULL;	/* the statement they belong to */
static SubTransactionId dropped_subxact = InvalidSubTransactionId;

extern PGDLLEXPORT Datum walcast_log_ddl(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum walcast_log_drop(PG_FUNCTION_ARGS);

PG_FUNCTION_INFO_V1(walcast_log_ddl);
PG_FUNCTION_INFO_V1(walcast_log_drop);

static void
schemalog_utility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	int			depth = nrunning;

	/*
	 * standard_ProcessUtility copies a read-only tree, and the event
	 * triggers then see the copy: make the copy here, so the tree we
	 * remember is the one they see.
	 */
	if (readOnlyTree)
	{
		pstmt = copyObject(pstmt);
		readOnlyTree = false;
	}
	if (nrunning == running_size)
	{
		running_size = Max(running_size * 2, 8);
		if (running == NULL)
			running = MemoryContextAlloc(TopMemoryContext,
										 sizeof(RunningStatement) * running_size);
		else
			running = repalloc(running,
							   sizeof(RunningStatement) * running_size);
	}
	running[nrunning].parsetree = pstmt->utilityStmt;
	running[nrunning].source = queryString;
	running[nrunning].location = pstmt->stmt_location;
	running[nrunning].length = pstmt->stmt_len;
	nrunning++;

	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		nrunning = depth;
	}
	PG_END_TRY();
}

static void
schemalog_xact_callback(XactEvent event, void *arg)
{
	/* TopTransactionContext, which held them, is going away */
	dropped_objects = NIL;
	dropped_for = NULL;
	dropped_subxact = InvalidSubTransactionId;
}

void
schemalog_init(void)
{
	DefineCustomBoolVariable("walcast.schema_log",
							 "Records DDL in walcast.schema_log.",
							 "Off: the walcast event triggers record nothing in this session.",
							 &walcast_schema_log,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("walcast");

	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = schemalog_utility;
	RegisterXactCallback(schemalog_xact_callback, NULL);
}

/*
 * The text of one statement within its query string, without surrounding
 * white space and the final semicolon.
 */
static char *
statement_in(const char *source, int location, int length)
{
	const char *start = source;
	int			len;

	if (location > 0 && location <= strlen(source))
		start += location;
	len = length > 0 ? length : strlen(start);
	while (len > 0 && isspace((unsigned char) *start))
	{
		start++;
		len--;
	}
	while (len > 0 && (isspace((unsigned char) start[len - 1]) ||
					   start[len - 1] == ';'))
		len--;
	return pnstrdup(start, len);
}

/*
 * The text of the statement whose parse tree the trigger was given, and
 * whether it is that statement's alone.
 */
static char *
statement_text(Node *parsetree, bool *exact)
{
	*exact = true;
	for (int i = nrunning - 1; i >= 0; i--)
	{
		if (running[i].parsetree == parsetree && running[i].source != NULL)
			return statement_in(running[i].source, running[i].location,
								running[i].length);
	}
	if (ActivePortal != NULL && ActivePortal->sourceText != NULL)
	{
		ListCell   *lc;

		foreach(lc, ActivePortal->stmts)
		{
			PlannedStmt *pstmt = lfirst_node(PlannedStmt, lc);

			if (pstmt->utilityStmt == parsetree)
				return statement_in(ActivePortal->sourceText,
									pstmt->stmt_location, pstmt->stmt_len);
		}
	}
	*exact = false;
	return statement_in(debug_query_string ? debug_query_string : "", 0, 0);
}

/* The oid of walcast.schema_log, InvalidOid when it does not exist. */
Oid
schemalog_relid(void)
{
	Oid			nsp = get_namespace_oid(SCHEMA_LOG_NAMESPACE, true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return get_relname_relid(SCHEMA_LOG_TABLE, nsp);
}

/*
 * The latest version of table relid in the schema log as snapshot sees it
 * (NULL: the catalog snapshot, historic during decoding); 0 when it has
 * none or there is no log.
 */
uint64
schemalog_latest_version(Oid relid, Snapshot snapshot)
{
	Oid			logid = schemalog_relid();
	Oid			indexid;
	AttrNumber	attnum;
	AttrNumber	relid_attnum;
	Relation	log;
	Relation	index;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	uint64		version = 0;

	if (!OidIsValid(logid))
		return 0;
	indexid = get_relname_relid(SCHEMA_LOG_INDEX, get_rel_namespace(logid));
	relid_attnum = get_attnum(logid, "rel_id");
	attnum = get_attnum(logid, "version");
	if (!OidIsValid(indexid) || attnum == InvalidAttrNumber ||
		relid_attnum == InvalidAttrNumber)
		return 0;

	log = table_open(logid, AccessShareLock);
	index = index_open(indexid, AccessShareLock);
	/* systable_beginscan_ordered takes the key by heap column */
	ScanKeyInit(&key, relid_attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan_ordered(log, index, snapshot, 1, &key);
	tuple = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, attnum, RelationGetDescr(log),
									 &isnull);

		if (!isnull)
			version = (uint64) DatumGetInt64(d);
	}
	systable_endscan_ordered(scan);
	index_close(index, AccessShareLock);
	table_close(log, AccessShareLock);
	return version;
}

/* Run a read-only query that must succeed, into SPI_tuptable. */
static void
spi_select(const char *query)
{
	if (SPI_execute(query, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run \"%s\"", query);
}

/* The trigger data of an event trigger function, or an error. */
static EventTriggerData *
event_trigger_data(FunctionCallInfo fcinfo, const char *function)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by the event trigger manager",
						function)));
	return (EventTriggerData *) fcinfo->context;
}

/* A text column of an SPI result row, palloc'd; NULL for SQL NULL. */
static char *
spi_text(HeapTuple tuple, int column)
{
	return SPI_getvalue(tuple, SPI_tuptable->tupdesc, column);
}

static Datum
spi_datum(HeapTuple tuple, int column, bool *isnull)
{
	return SPI_getbinval(tuple, SPI_tuptable->tupdesc, column, isnull);
}

/*
 * Read the object address columns 1..3 (classid, objid, objsubid) and the
 * named text columns of an SPI row into a LoggedObject allocated in cxt.
 */
static LoggedObject *
spi_object(HeapTuple tuple, int tag_col, int type_col, int schema_col,
		   int identity_col, int name_col, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	LoggedObject *obj = palloc0(sizeof(LoggedObject));
	bool		isnull;

	obj->classid = DatumGetObjectId(spi_datum(tuple, 1, &isnull));
	obj->objid = DatumGetObjectId(spi_datum(tuple, 2, &isnull));
	obj->objsubid = DatumGetInt32(spi_datum(tuple, 3, &isnull));
	if (tag_col > 0)
		obj->command_tag = spi_text(tuple, tag_col);
	obj->object_type = spi_text(tuple, type_col);
	obj->schema = spi_text(tuple, schema_col);
	obj->identity = spi_text(tuple, identity_col);
	if (name_col > 0)
		obj->name = spi_text(tuple, name_col);
	MemoryContextSwitchTo(old);
	return obj;
}

/*
 * Objects never recorded: temporary ones, which are never decoded, and
 * TOAST tables, which are part of their table.
 */
static bool
internal_object(LoggedObject *obj)
{
	return obj->schema != NULL &&
		(strcmp(obj->schema, "pg_temp") == 0 ||
		 strcmp(obj->schema, "pg_toast") == 0);
}

static bool
is_table(Oid relid)
{
	char		relkind = get_rel_relkind(relid);

	return (relkind == RELKIND_RELATION ||
			relkind == RELKIND_PARTITIONED_TABLE) &&
		get_rel_persistence(relid) != RELPERSISTENCE_TEMP;
}

static List *
add_table(List *tables, Oid relid, bool dropped, const char *schema,
		  const char *name)
{
	ListCell   *lc;
	LoggedTable *t;

	foreach(lc, tables)
	{
		t = lfirst(lc);
		if (t->relid == relid)
		{
			t->dropped |= dropped;
			return tables;
		}
	}
	t = palloc0(sizeof(LoggedTable));
	t->relid = relid;
	t->dropped = dropped;
	t->schema = schema ? pstrdup(schema) : NULL;
	t->name = name ? pstrdup(name) : NULL;
	return lappend(tables, t);
}

/*
 * Tables named by an ALTER TABLE's subcommands besides the table itself:
 * the partition of ATTACH and DETACH PARTITION.  PostgreSQL 15 does not give
 * its address, so it is looked up by the name in the command, which is why
 * this runs under the session's search_path.
 */
static List *
add_subcommand_tables(List *tables, CollectedCommand *cmd)
{
	ListCell   *lc;

	if (cmd == NULL || cmd->type != SCT_AlterTable)
		return tables;
	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = lfirst(lc);
		AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;
		Oid			relid;

		if (!IsA(at, AlterTableCmd) ||
			(at->subtype != AT_AttachPartition &&
			 at->subtype != AT_DetachPartition &&
			 at->subtype != AT_DetachPartitionFinalize) ||
			at->def == NULL || !IsA(at->def, PartitionCmd))
			continue;
		relid = RangeVarGetRelid(((PartitionCmd *) at->def)->name, NoLock,
								 true);
		if (OidIsValid(relid) && is_table(relid))
			tables = add_table(tables, relid, false, NULL, NULL);
	}
	return tables;
}

/*
 * Whether an ALTER TABLE may have changed the table's children (partitions
 * or inheritance children) too: a column renamed (the address of a simple
 * command is the column), or any ALTER TABLE subcommand except ATTACH and
 * DETACH PARTITION.  (A subcommand that does not recurse only adds
 * versions with unchanged definitions.)
 */
static bool
changes_children(CollectedCommand *cmd, LoggedObject *obj)
{
	ListCell   *lc;

	if (cmd == NULL)
		return false;
	if (cmd->type == SCT_Simple)
		return obj->objsubid != 0;
	if (cmd->type != SCT_AlterTable)
		return false;
	foreach(lc, cmd->d.alterTable.subcmds)
	{
		CollectedATSubcmd *sub = lfirst(lc);
		AlterTableCmd *at = (AlterTableCmd *) sub->parsetree;

		if (!IsA(at, AlterTableCmd) ||
			(at->subtype != AT_AttachPartition &&
			 at->subtype != AT_DetachPartition &&
			 at->subtype != AT_DetachPartitionFinalize))
			return true;
	}
	return false;
}

/*
 * The children of a table, partitions at every level or inheritance
 * children: their rows are described by their own Relation.
 */
static List *
add_children(List *tables, Oid relid)
{
	List	   *children = find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, children)
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid && is_table(child))
			tables = add_table(tables, child, false, NULL, NULL);
	}
	return tables;
}

/*
 * The statement's created and altered objects, from
 * pg_event_trigger_ddl_commands(), leaving out those of extension scripts,
 * temporary objects and the log itself; the tables among them go to
 * *tables.
 */
static List *
collect_commands(Oid logid, List **tables)
{
	List	   *objects = NIL;

	spi_select("SELECT classid, objid, objsubid, command_tag, "
			   "object_type, schema_name, object_identity, in_extension, "
			   "command FROM pg_catalog.pg_event_trigger_ddl_commands()");

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		LoggedObject *obj;
		CollectedCommand *cmd;
		bool		isnull;

		if (DatumGetBool(spi_datum(tuple, 8, &isnull)))
			continue;
		obj = spi_object(tuple, 4, 5, 6, 7, 0, CurrentMemoryContext);
		if (internal_object(obj))
			continue;
		if (obj->classid == RelationRelationId && obj->objid == logid)
			continue;
		objects = lappend(objects, obj);
		if (obj->classid == RelationRelationId && is_table(obj->objid))
			*tables = add_table(*tables, obj->objid, false, NULL, NULL);
		cmd = (CollectedCommand *) DatumGetPointer(spi_datum(tuple, 9,
															 &isnull));
		*tables = add_subcommand_tables(*tables, cmd);
		if (obj->classid == RelationRelationId &&
			strcmp(obj->command_tag, "ALTER TABLE") == 0 &&
			changes_children(cmd, obj) && is_table(obj->objid) &&
			has_subclass(obj->objid))
			*tables = add_children(*tables, obj->objid);
	}
	return objects;
}

/* The objects the sql_drop trigger kept for this statement, if any. */
static List *
take_dropped(Node *parsetree, List **tables)
{
	List	   *objects = NIL;
	ListCell   *lc;

	if (dropped_for == parsetree &&
		dropped_subxact == GetCurrentSubTransactionId())
		objects = dropped_objects;
	dropped_objects = NIL;
	dropped_for = NULL;
	dropped_subxact = InvalidSubTransactionId;

	foreach(lc, objects)
	{
		LoggedObject *obj = lfirst(lc);

		if (obj->classid != RelationRelationId)
			continue;
		if (obj->objsubid == 0 && strcmp(obj->object_type, "table") == 0)
			*tables = add_table(*tables, obj->objid, true, obj->schema,
								obj->name);
		else if (obj->objsubid != 0 && is_table(obj->objid))
			*tables = add_table(*tables, obj->objid, false, NULL, NULL);
	}
	return objects;
}

/* A label of an enum and its place, for sorting. */
typedef struct EnumLabel
{
	float4		sortorder;		/* enumsortorder */
	const char *label;			/* enumlabel */
} EnumLabel;

static int
enum_label_cmp(const void *a, const void *b)
{
	float4		x = ((const EnumLabel *) a)->sortorder;
	float4		y = ((const EnumLabel *) b)->sortorder;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Every label of enum type typid, in sort order. */
static void
write_enum_labels(StringInfo out, Oid typid)
{
	CatCList   *list = SearchSysCacheList1(ENUMTYPOIDNAME,
										   ObjectIdGetDatum(typid));
	EnumLabel  *labels = palloc(sizeof(EnumLabel) * Max(list->n_members, 1));

	for (int i = 0; i < list->n_members; i++)
	{
		Form_pg_enum e = (Form_pg_enum) GETSTRUCT(&list->members[i]->tuple);

		labels[i].sortorder = e->enumsortorder;
		labels[i].label = pstrdup(NameStr(e->enumlabel));
	}
	qsort(labels, list->n_members, sizeof(EnumLabel), enum_label_cmp);
	for (int i = 0; i < list->n_members; i++)
		encode_cstring(out, F_OBJ_ENUM_LABELS, labels[i].label);
	ReleaseSysCacheList(list);
}

static void
write_objects(StringInfo out, uint32 field, List *objects)
{
	ListCell   *lc;

	foreach(lc, objects)
	{
		LoggedObject *obj = lfirst(lc);
		int			at = pb_begin(out, field);

		if (obj->command_tag)
			encode_cstring(out, F_OBJ_TAG, obj->command_tag);
		encode_cstring(out, F_OBJ_TYPE, obj->object_type);
		if (obj->identity)
			encode_cstring(out, F_OBJ_IDENTITY, obj->identity);
		if (obj->schema)
			encode_cstring(out, F_OBJ_SCHEMA, obj->schema);
		pb_uint(out, F_OBJ_CLASS, obj->classid);
		pb_uint(out, F_OBJ_ID, obj->objid);
		pb_int(out, F_OBJ_SUB_ID, obj->objsubid);
		if (obj->command_tag != NULL && obj->classid == TypeRelationId &&
			get_typtype(obj->objid) == TYPTYPE_ENUM)
			write_enum_labels(out, obj->objid);
		pb_end(out, at);
	}
}

/* The DEFAULT or generation expression of a column, or NULL. */
static char *
column_default(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (constr == NULL)
		return NULL;
	for (int i = 0; i < constr->num_defval; i++)
	{
		if (constr->defval[i].adnum == attnum)
			return deparse_expression(stringToNode(constr->defval[i].adbin),
									  deparse_context_for(RelationGetRelationName(rel),
														  RelationGetRelid(rel)),
									  false, false);
	}
	return NULL;
}

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

/* Write the TableDefinition of rel into def. */
static void
write_definition(StringInfo def, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	desc = RelationGetDescr(rel);
	char		replident = rel->rd_rel->relreplident;
	Bitmapset  *idattrs = NULL;
	Bitmapset  *pkattrs = relcache_primary_key_columns(rel);
	Oid			pkoid = RelationGetPrimaryKeyIndex(rel);

	if (replident != REPLICA_IDENTITY_NOTHING &&
		replident != REPLICA_IDENTITY_FULL)
		idattrs = RelationGetIdentityKeyBitmap(rel);

	pb_uint(def, F_DEF_REL_ID, relid);
	encode_cstring(def, F_DEF_SCHEMA,
				   get_namespace_name(RelationGetNamespace(rel)));
	encode_cstring(def, F_DEF_NAME, RelationGetRelationName(rel));
	pb_uint(def, F_DEF_KIND,
			rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ?
			TABLE_KIND_PARTITIONED : TABLE_KIND_TABLE);
	pb_uint(def, F_DEF_IDENTITY, relcache_identity_enum(replident));
	if (replident == REPLICA_IDENTITY_INDEX)
	{
		Oid			index = RelationGetReplicaIndex(rel);

		if (OidIsValid(index))
			encode_cstring(def, F_DEF_IDENTITY_INDEX, get_rel_name(index));
	}

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		int			offset = att->attnum - FirstLowInvalidHeapAttributeNumber;
		char	   *dflt;
		int			at;

		if (att->attisdropped)
			continue;
		at = pb_begin(def, F_DEF_COLUMNS);
		relcache_write_column(def, att,
							  replident == REPLICA_IDENTITY_FULL ||
							  bms_is_member(offset, idattrs),
							  bms_is_member(offset, pkattrs),
							  getBaseType(att->atttypid));
		if (att->atthasdef && (dflt = column_default(rel, att->attnum)))
			encode_cstring(def, F_COL_DEFAULT, dflt);
		if (att->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			pb_uint(def, F_COL_IDENTITY_KIND, COLUMN_IDENTITY_ALWAYS);
		else if (att->attidentity == ATTRIBUTE_IDENTITY_BY_DEFAULT)
			pb_uint(def, F_COL_IDENTITY_KIND, COLUMN_IDENTITY_BY_DEFAULT);
		pb_end(def, at);
	}

	if (OidIsValid(pkoid))
	{
		HeapTuple	tuple = SearchSysCache1(INDEXRELID,
											ObjectIdGetDatum(pkoid));

		if (HeapTupleIsValid(tuple))
		{
			Form_pg_index index = (Form_pg_index) GETSTRUCT(tuple);

			for (int i = 0; i < index->indnkeyatts; i++)
				encode_cstring(def, F_DEF_PRIMARY_KEY,
							   get_attname(relid, index->indkey.values[i],
										   false));
			ReleaseSysCache(tuple);
		}
	}

	if (rel->rd_rel->relispartition)
	{
		Oid			parent = get_partition_parent(relid, true);
		HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

		pb_uint(def, F_DEF_PARENT_ID, parent);
		encode_cstring(def, F_DEF_PARENT, qualified_name(parent));
		if (HeapTupleIsValid(tuple))
		{
			bool		isnull;
			Datum		bound = SysCacheGetAttr(RELOID, tuple,
												Anum_pg_class_relpartbound,
												&isnull);

			if (!isnull)
				encode_cstring(def, F_DEF_BOUND,
							   TextDatumGetCString(DirectFunctionCall2(pg_get_expr,
																	   bound,
																	   ObjectIdGetDatum(relid))));
			ReleaseSysCache(tuple);
		}
	}
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		encode_cstring(def, F_DEF_PARTITION_KEY,
					   TextDatumGetCString(DirectFunctionCall1(pg_get_partkeydef,
															   ObjectIdGetDatum(relid))));
}

/* What one statement did, shared by its rows. */
typedef struct LoggedStatement
{
	const char *command_tag;	/* the statement's tag */
	char	   *ddl;			/* its text, or the whole query */
	bool		ddl_is_statement;	/* ddl is its text alone */
	List	   *objects;		/* LoggedObject, created or altered */
	List	   *dropped;		/* LoggedObject, dropped */
	Datum		object_types;	/* text[] of both, for the log's columns */
	Datum		object_identities;
	Datum		dropped_identities;
} LoggedStatement;

static Datum
text_array(List *objects, bool types)
{
	int			n = list_length(objects);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, objects)
	{
		LoggedObject *obj = lfirst(lc);
		const char *s = types ? obj->object_type : obj->identity;

		elems[i++] = CStringGetTextDatum(s ? s : "");
	}
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * Record one row: the statement's effect on table (NULL: on no table).
 */
static void
record_row(LoggedStatement *stmt, Oid logid, LoggedTable *table, int part,
		   int parts)
{
	StringInfoData event;
	StringInfoData def;
	uint64		version = 0;
	int64		log_id;
	char	   *schema = NULL;
	char	   *name = NULL;
	Datum		values[14];
	char		nulls[14];
	Oid			types[14] = {INT8OID, OIDOID, TEXTOID, TEXTOID, INT8OID, TEXTOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, BOOLOID, TEXTOID, BOOLOID,
	TEXTOID, BYTEAOID};
	bool		isnull;

	initStringInfo(&def);
	if (table != NULL)
	{
		Snapshot	snapshot;

		/* held until the end of the transaction: versions without gaps */
		LockDatabaseObject(logid, table->relid, 0, ExclusiveLock);
		CommandCounterIncrement();
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		version = schemalog_latest_version(table->relid, snapshot) + 1;
		UnregisterSnapshot(snapshot);

		if (table->dropped)
		{
			schema = table->schema;
			name = table->name;
		}
		else
		{
			Relation	rel = relation_open(table->relid, AccessShareLock);

			schema = get_namespace_name(RelationGetNamespace(rel));
			name = pstrdup(RelationGetRelationName(rel));
			write_definition(&def, rel);
			relation_close(rel, AccessShareLock);
		}
	}

	if (SPI_execute("SELECT pg_catalog.nextval('" SCHEMA_LOG_SEQUENCE "')",
					false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read sequence %s", SCHEMA_LOG_SEQUENCE);
	log_id = DatumGetInt64(spi_datum(SPI_tuptable->vals[0], 1, &isnull));

	initStringInfo(&event);
	pb_uint(&event, F_SC_VERSION, version);
	encode_cstring(&event, F_SC_TAG, stmt->command_tag);
	encode_cstring(&event, F_SC_DDL, stmt->ddl);
	if (table != NULL)
	{
		pb_uint(&event, F_SC_REL_ID, table->relid);
		if (schema)
			encode_cstring(&event, F_SC_SCHEMA, schema);
		if (name)
			encode_cstring(&event, F_SC_NAME, name);
		if (!table->dropped)
			pb_bytes_always(&event, F_SC_TABLE, def.data, def.len);
		pb_bool(&event, F_SC_DROPPED_TABLE, table->dropped);
	}
	write_objects(&event, F_SC_OBJECTS, stmt->objects);
	write_objects(&event, F_SC_DROPPED, stmt->dropped);
	pb_bool(&event, F_SC_IS_STATEMENT, stmt->ddl_is_statement);
	pb_uint(&event, F_SC_PART, part);
	pb_uint(&event, F_SC_PARTS, parts);
	pb_uint(&event, F_SC_LOG_ID, log_id);

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(log_id);
	values[1] = ObjectIdGetDatum(table ? table->relid : InvalidOid);
	nulls[1] = table ? ' ' : 'n';
	values[2] = schema ? CStringGetTextDatum(schema) : (Datum) 0;
	nulls[2] = schema ? ' ' : 'n';
	values[3] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[3] = name ? ' ' : 'n';
	values[4] = Int64GetDatum((int64) version);
	nulls[4] = table ? ' ' : 'n';
	values[5] = CStringGetTextDatum(stmt->command_tag);
	values[6] = stmt->object_types;
	values[7] = stmt->object_identities;
	values[8] = stmt->dropped_identities;
	values[9] = BoolGetDatum(table != NULL && table->dropped);
	values[10] = CStringGetTextDatum(stmt->ddl);
	values[11] = BoolGetDatum(stmt->ddl_is_statement);
	if (table != NULL && !table->dropped)
		values[12] = CStringGetTextDatum(render_table_definition(def.data,
																 def.len));
	else
		nulls[12] = 'n';
	/* a varlena holding the bytes: a bytea */
	values[13] = PointerGetDatum(cstring_to_text_with_len(event.data,
														  event.len));

	if (SPI_execute_with_args("INSERT INTO walcast.schema_log "
							  "(id, rel_id, schema_name, table_name, version, "
							  "command_tag, object_types, object_identities, "
							  "dropped_identities, table_dropped, ddl, "
							  "ddl_is_statement, definition, event) "
							  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
							  "$10, $11, $12, $13, $14)",
							  14, types, values, nulls, false, 0) !=
		SPI_OK_INSERT)
		elog(ERROR, "could not insert into walcast.schema_log");
}

/*
 * walcast.log_ddl(): the ddl_command_end event trigger.
 */
Datum
walcast_log_ddl(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	LoggedStatement stmt;
	List	   *tables = NIL;
	Oid			logid;
	ListCell   *lc;
	int			part = 0;
	int			nestlevel;

	trigdata = event_trigger_data(fcinfo, "walcast.log_ddl");

	if (!walcast_schema_log ||
		!OidIsValid(logid = schemalog_relid()))
	{
		take_dropped(NULL, &tables);
		PG_RETURN_VOID();
	}

	memset(&stmt, 0, sizeof(stmt));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	stmt.objects = collect_commands(logid, &tables);
	stmt.dropped = take_dropped(trigdata->parsetree, &tables);
	if (stmt.objects == NIL && stmt.dropped == NIL)
	{
		SPI_finish();
		PG_RETURN_VOID();
	}

	/*
	 * From here on a fixed search_path: names in the definitions come out
	 * qualified, whatever the session's path.  (The queries above name
	 * everything with its schema.)
	 */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	stmt.command_tag = GetCommandTagName(trigdata->tag);
	stmt.ddl = statement_text(trigdata->parsetree, &stmt.ddl_is_statement);
	stmt.object_types = text_array(list_concat_copy(stmt.objects,
													stmt.dropped), true);
	stmt.object_identities = text_array(stmt.objects, false);
	stmt.dropped_identities = text_array(stmt.dropped, false);

	if (tables == NIL)
		record_row(&stmt, logid, NULL, 1, 1);
	foreach(lc, tables)
		record_row(&stmt, logid, lfirst(lc), ++part, list_length(tables));
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * walcast.log_drop(): the sql_drop event trigger.  It keeps the dropped
 * objects for walcast_log_ddl, which fires next for the same statement.
 */
Datum
walcast_log_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	trigdata = event_trigger_data(fcinfo, "walcast.log_drop");
	if (!walcast_schema_log)
		PG_RETURN_VOID();

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "could not connect to SPI");
	spi_select("SELECT classid, objid, objsubid, object_type, schema_name, "
			   "object_identity, object_name "
			   "FROM pg_catalog.pg_event_trigger_dropped_objects() "
			   "WHERE NOT is_temporary");
	/* objects of several sql_drop firings of one statement add up */
	if (dropped_for != trigdata->parsetree ||
		dropped_subxact != GetCurrentSubTransactionId())
		dropped_objects = NIL;
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		LoggedObject *obj = spi_object(SPI_tuptable->vals[i], 0, 4, 5, 6, 7,
									   TopTransactionContext);
		MemoryContext old;

		if (internal_object(obj))
			continue;
		old = MemoryContextSwitchTo(TopTransactionContext);

		dropped_objects = lappend(dropped_objects, obj);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	dropped_for = trigdata->parsetree;
	dropped_subxact = GetCurrentSubTransactionId();
	PG_RETURN_VOID();
}
