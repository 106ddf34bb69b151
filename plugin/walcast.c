/*-------------------------------------------------------------------------
 *
 * walcast.c
 *	  The walcast logical decoding output plugin: callbacks.
 *
 * Every write is one walcast.v1.Envelope (proto/walcast/v1/walcast.proto),
 * packed straight into ctx->out.  Per session: a Startup message before the
 * first write; per transaction: Begin, then for each change the Relation of
 * its table if this session has not sent the current definition yet, then
 * the change; then Commit.  Begin is written lazily, before the first change
 * that passes the filters, so transactions that change nothing decoded are
 * skipped (skip-empty-xacts, on by default); their commit still reports
 * progress, so the walsender can confirm past them.
 *
 * Memory: a private context is switched into by every callback and reset
 * after its write, so a change costs memory bounded by its own size,
 * whatever the size of its transaction.  Nothing points into a
 * ReorderBufferChange after its callback returns.
 *
 * An insert into walcast.schema_log, the history the extension's event
 * triggers write in the DDL's own transaction (schemalog.c), is sent as a
 * SchemaChange in its place among the changes; the log's rows are never
 * sent as rows.
 *
 * Streaming (option streaming) and two-phase decoding (a slot created with
 * two_phase) follow the same pattern with their own begin and end messages.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/xlog.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pbwire.h"
#include "walcast.h"

PG_MODULE_MAGIC;

/* Field numbers of the bodies written here. */
#define F_STARTUP_FORMAT		1
#define F_STARTUP_PLUGIN		2
#define F_STARTUP_SERVER		3
#define F_STARTUP_DATABASE		4
#define F_STARTUP_SYSID			5
#define F_STARTUP_ENCODING		6
#define F_BEGIN_FINAL_LSN		1
#define F_BEGIN_END_LSN			2
#define F_BEGIN_TIME			3
#define F_BEGIN_ORIGIN			4
#define F_BEGIN_ORIGIN_LSN		5
#define F_COMMIT_LSN			1
#define F_COMMIT_END_LSN		2
#define F_COMMIT_TIME			3
#define F_COMMIT_CHANGES		4
#define F_ROW_REL_ID			1
#define F_INSERT_NEW			2
#define F_UPDATE_OLD_KIND		2
#define F_UPDATE_OLD			3
#define F_UPDATE_NEW			4
#define F_DELETE_OLD_KIND		2
#define F_DELETE_OLD			3
#define F_TRUNCATE_RELS			1
#define F_TRUNCATE_CASCADE		2
#define F_TRUNCATE_RESTART		3
#define F_MESSAGE_TRANSACTIONAL 1
#define F_MESSAGE_PREFIX		2
#define F_MESSAGE_CONTENT		3
#define F_STREAM_FIRST			1
#define F_STREAM_ABORT_SUBXID	1
#define F_STREAM_ABORT_LSN		2
/* StreamCommit, BeginPrepare, Prepare, CommitPrepared, StreamPrepare */
#define F_TXN_LSN				1
#define F_TXN_END_LSN			2
#define F_TXN_TIME				3
#define F_TXN_GID				4
/* RollbackPrepared */
#define F_ROLLBACK_PREPARE_END	1
#define F_ROLLBACK_END_LSN		2
#define F_ROLLBACK_PREPARE_TIME 3
#define F_ROLLBACK_TIME			4
#define F_ROLLBACK_GID			5

/* Report progress to the walsender after this many skipped changes. */
#define SKIPPED_CHANGES_PER_PROGRESS 100

extern PGDLLEXPORT void _PG_init(void);
extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void walcast_startup(LogicalDecodingContext *ctx,
							OutputPluginOptions *opt, bool is_init);
static void walcast_begin_txn(LogicalDecodingContext *ctx,
							  ReorderBufferTXN *txn);
static void walcast_commit_txn(LogicalDecodingContext *ctx,
							   ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void walcast_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						   Relation rel, ReorderBufferChange *change);
static void walcast_truncate(LogicalDecodingContext *ctx,
							 ReorderBufferTXN *txn, int nrelations,
							 Relation relations[],
							 ReorderBufferChange *change);
static void walcast_message(LogicalDecodingContext *ctx,
							ReorderBufferTXN *txn, XLogRecPtr lsn,
							bool transactional, const char *prefix,
							Size sz, const char *message);
static bool walcast_filter_by_origin(LogicalDecodingContext *ctx,
									 RepOriginId origin_id);
static void walcast_begin_prepare(LogicalDecodingContext *ctx,
								  ReorderBufferTXN *txn);
static void walcast_prepare(LogicalDecodingContext *ctx,
							ReorderBufferTXN *txn, XLogRecPtr prepare_lsn);
static void walcast_commit_prepared(LogicalDecodingContext *ctx,
									ReorderBufferTXN *txn,
									XLogRecPtr commit_lsn);
static void walcast_rollback_prepared(LogicalDecodingContext *ctx,
									  ReorderBufferTXN *txn,
									  XLogRecPtr prepare_end_lsn,
									  TimestampTz prepare_time);
static void walcast_stream_start(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn);
static void walcast_stream_stop(LogicalDecodingContext *ctx,
								ReorderBufferTXN *txn);
static void walcast_stream_abort(LogicalDecodingContext *ctx,
								 ReorderBufferTXN *txn, XLogRecPtr abort_lsn);
static void walcast_stream_commit(LogicalDecodingContext *ctx,
								  ReorderBufferTXN *txn,
								  XLogRecPtr commit_lsn);
static void walcast_stream_prepare(LogicalDecodingContext *ctx,
								   ReorderBufferTXN *txn,
								   XLogRecPtr prepare_lsn);

void
_PG_init(void)
{
	schemalog_init();
}

void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = walcast_startup;
	cb->begin_cb = walcast_begin_txn;
	cb->change_cb = walcast_change;
	cb->truncate_cb = walcast_truncate;
	cb->message_cb = walcast_message;
	cb->commit_cb = walcast_commit_txn;
	cb->filter_by_origin_cb = walcast_filter_by_origin;
	cb->begin_prepare_cb = walcast_begin_prepare;
	cb->prepare_cb = walcast_prepare;
	cb->commit_prepared_cb = walcast_commit_prepared;
	cb->rollback_prepared_cb = walcast_rollback_prepared;
	cb->stream_start_cb = walcast_stream_start;
	cb->stream_stop_cb = walcast_stream_stop;
	cb->stream_abort_cb = walcast_stream_abort;
	cb->stream_commit_cb = walcast_stream_commit;
	cb->stream_prepare_cb = walcast_stream_prepare;
	cb->stream_change_cb = walcast_change;
	cb->stream_message_cb = walcast_message;
	cb->stream_truncate_cb = walcast_truncate;
}

static void
walcast_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
				bool is_init)
{
	WalcastData *data = MemoryContextAllocZero(ctx->context,
											   sizeof(WalcastData));

	data->context = AllocSetContextCreate(ctx->context, "walcast change",
										  ALLOCSET_DEFAULT_SIZES);
	data->cachectx = AllocSetContextCreate(ctx->context, "walcast cache",
										   ALLOCSET_DEFAULT_SIZES);
	ctx->output_plugin_private = data;

	/*
	 * Everything the plugin allocates lives under ctx->context, which the
	 * caller deletes, so there is no shutdown callback.
	 */
	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;

	/*
	 * The rows a table rewrite (ALTER TABLE ... TYPE) writes into its
	 * transient heap are never sent (relcache.c never publishes that heap),
	 * but we ask for them so each one reaches skipped_change: otherwise
	 * PostgreSQL 15 replays them without calling the plugin, and a large
	 * rewrite keeps the walsender from its replies past wal_sender_timeout.
	 */
	opt->receive_rewrites = true;

	walcast_parse_options(&data->opt, ctx->output_plugin_options);
	ctx->streaming &= data->opt.streaming;

	relcache_init(data);
	encode_init();
}

/* Per-transaction state, created on first use. */
static WalcastTxn *
txn_state(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	if (txn->output_plugin_private == NULL)
		txn->output_plugin_private =
			MemoryContextAllocZero(ctx->context, sizeof(WalcastTxn));
	return txn->output_plugin_private;
}

static void
txn_state_free(ReorderBufferTXN *txn)
{
	if (txn->output_plugin_private != NULL)
	{
		pfree(txn->output_plugin_private);
		txn->output_plugin_private = NULL;
	}
}

/*
 * Start a write: prepare ctx->out and put the envelope header in it.  The
 * first write of a session is preceded by the Startup message.
 */
static StringInfo
write_start(LogicalDecodingContext *ctx, bool last_write, XLogRecPtr lsn,
			TransactionId xid, uint64 change_index)
{
	WalcastData *data = ctx->output_plugin_private;
	StringInfo	out;

	if (unlikely(!data->startup_sent))
	{
		int			at;

		OutputPluginPrepareWrite(ctx, false);
		out = ctx->out;
		at = pb_begin(out, F_ENV_STARTUP);
		pb_uint(out, F_STARTUP_FORMAT, WALCAST_FORMAT_VERSION);
		pb_string(out, F_STARTUP_PLUGIN, WALCAST_VERSION);
		pb_uint(out, F_STARTUP_SERVER, PG_VERSION_NUM);
		if (MyProcPort != NULL && MyProcPort->database_name != NULL)
			encode_cstring(out, F_STARTUP_DATABASE,
						   MyProcPort->database_name);
		pb_uint(out, F_STARTUP_SYSID, GetSystemIdentifier());
		pb_string(out, F_STARTUP_ENCODING, GetDatabaseEncodingName());
		pb_end(out, at);
		OutputPluginWrite(ctx, false);
		data->startup_sent = true;
	}

	OutputPluginPrepareWrite(ctx, last_write);
	out = ctx->out;
	pb_uint(out, F_ENV_LSN, lsn);
	pb_uint(out, F_ENV_XID, xid);
	pb_uint(out, F_ENV_CHANGE_INDEX, change_index);
	return out;
}

static void
write_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	StringInfo	out = write_start(ctx, false, txn->first_lsn, txn->xid, 0);
	int			at = pb_begin(out, F_ENV_BEGIN);

	pb_uint(out, F_BEGIN_FINAL_LSN, txn->final_lsn);
	pb_uint(out, F_BEGIN_END_LSN, txn->end_lsn);
	pb_sint(out, F_BEGIN_TIME, timestamp_to_unix(txn->xact_time.commit_time));
	if (txn->origin_id != InvalidRepOriginId)
	{
		char	   *origin = NULL;

		if (replorigin_by_oid(txn->origin_id, true, &origin))
			encode_cstring(out, F_BEGIN_ORIGIN, origin);
		pb_uint(out, F_BEGIN_ORIGIN_LSN, txn->origin_lsn);
	}
	pb_end(out, at);
	OutputPluginWrite(ctx, false);
}

/*
 * Make sure the transaction's opening message is out before its first
 * change: Begin, or StreamStart in a streamed segment.  Returns the state.
 */
static WalcastTxn *
ensure_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalcastData *data = ctx->output_plugin_private;
	WalcastTxn *state = txn_state(ctx, txn);

	if (data->in_stream)
	{
		if (!data->stream_written)
		{
			StringInfo	out = write_start(ctx, false, txn->first_lsn,
										  txn->xid, 0);
			int			at = pb_begin(out, F_ENV_STREAM_START);

			pb_bool(out, F_STREAM_FIRST, !state->begun);
			pb_end(out, at);
			OutputPluginWrite(ctx, false);
			data->stream_written = true;
			state->begun = true;
		}
	}
	else if (!state->begun)
	{
		write_begin(ctx, txn);
		state->begun = true;
	}
	return state;
}

/* Nothing was written for a change: keep the walsender's clock ticking. */
static void
skipped_change(LogicalDecodingContext *ctx)
{
	WalcastData *data = ctx->output_plugin_private;

	if (++data->skipped_changes >= SKIPPED_CHANGES_PER_PROGRESS)
	{
		OutputPluginUpdateProgress(ctx, false);
		data->skipped_changes = 0;
	}
}

/* The envelope xid of a change: its own subtransaction while streaming. */
static TransactionId
change_xid(WalcastData *data, ReorderBufferTXN *txn,
		   ReorderBufferChange *change)
{
	if (data->in_stream && change != NULL && change->txn != NULL)
		return change->txn->xid;
	return txn->xid;
}

static void
walcast_begin_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalcastData *data = ctx->output_plugin_private;

	txn_state(ctx, txn);
	if (!data->opt.skip_empty_xacts)
		ensure_begin(ctx, txn);
}

static void
walcast_commit_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				   XLogRecPtr commit_lsn)
{
	WalcastTxn *state = txn_state(ctx, txn);
	StringInfo	out;
	int			at;

	if (!state->begun)
	{
		/* nothing decoded: let the walsender confirm past it */
		OutputPluginUpdateProgress(ctx, true);
		txn_state_free(txn);
		return;
	}

	out = write_start(ctx, true, commit_lsn, txn->xid, 0);
	at = pb_begin(out, F_ENV_COMMIT);
	pb_uint(out, F_COMMIT_LSN, commit_lsn);
	pb_uint(out, F_COMMIT_END_LSN, txn->end_lsn);
	pb_sint(out, F_COMMIT_TIME, timestamp_to_unix(txn->xact_time.commit_time));
	pb_uint(out, F_COMMIT_CHANGES, state->changes);
	pb_end(out, at);
	OutputPluginWrite(ctx, true);
	txn_state_free(txn);
}

/* Write the table's definition if this session has not sent it yet. */
static void
ensure_relation(LogicalDecodingContext *ctx, RelationEntry *entry)
{
	if (!entry->sent)
	{
		StringInfo	out = write_start(ctx, false, InvalidXLogRecPtr,
									  InvalidTransactionId, 0);

		relcache_write_relation(out, entry);
		OutputPluginWrite(ctx, false);
	}
}

/*
 * An insert into walcast.schema_log: its event column already holds the
 * SchemaChange body (schemalog.c), which goes into the envelope as it is.
 * The table it describes gets its Relation sent again, with the new
 * version, before its next row.  Events about a table the filters leave
 * out are skipped.
 */
static void
write_schema_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					RelationEntry *entry, Relation rel,
					ReorderBufferChange *change)
{
	WalcastData *data = ctx->output_plugin_private;
	HeapTuple	tuple = &change->data.tp.newtuple->tuple;
	TupleDesc	desc = RelationGetDescr(rel);
	bool		isnull;
	Datum		relid = heap_getattr(tuple, entry->log_relid_att, desc,
									 &isnull);
	Datum		event;
	struct varlena *bytes;
	WalcastTxn *state;
	StringInfo	out;

	if (!isnull)
	{
		Datum		schema = heap_getattr(tuple, entry->log_schema_att, desc,
										  &isnull);
		Datum		name;
		bool		name_null;

		name = heap_getattr(tuple, entry->log_name_att, desc, &name_null);
		relcache_invalidate(DatumGetObjectId(relid));
		if (!isnull && !name_null &&
			!walcast_table_matches(&data->opt, TextDatumGetCString(schema),
								   TextDatumGetCString(name)))
		{
			skipped_change(ctx);
			return;
		}
	}
	event = heap_getattr(tuple, entry->log_event_att, desc, &isnull);
	if (isnull)
	{
		skipped_change(ctx);
		return;
	}
	bytes = detoast_attr((struct varlena *) DatumGetPointer(event));

	state = ensure_begin(ctx, txn);
	out = write_start(ctx, true, change->lsn, change_xid(data, txn, change),
					  ++state->changes);
	pb_bytes_always(out, F_ENV_SCHEMA_CHANGE, VARDATA_ANY(bytes),
					VARSIZE_ANY_EXHDR(bytes));
	OutputPluginWrite(ctx, true);
}

static void
walcast_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   Relation rel, ReorderBufferChange *change)
{
	WalcastData *data = ctx->output_plugin_private;
	MemoryContext old = MemoryContextSwitchTo(data->context);
	RelationEntry *entry = relcache_lookup(data, rel);
	ReorderBufferTupleBuf *oldtuple = change->data.tp.oldtuple;
	ReorderBufferTupleBuf *newtuple = change->data.tp.newtuple;
	WalcastTxn *state;
	StringInfo	out;
	int			old_kind;
	int			at;

	if (entry->schema_log &&
		change->action == REORDER_BUFFER_CHANGE_INSERT && newtuple != NULL)
	{
		write_schema_change(ctx, txn, entry, rel, change);
		goto done;
	}
	if (!entry->publish)
	{
		skipped_change(ctx);
		goto done;
	}

	state = ensure_begin(ctx, txn);
	ensure_relation(ctx, entry);
	out = write_start(ctx, true, change->lsn, change_xid(data, txn, change),
					  ++state->changes);

	old_kind = oldtuple == NULL ? OLD_ROW_NONE :
		entry->replident == REPLICA_IDENTITY_FULL ? OLD_ROW_FULL :
		OLD_ROW_KEY;

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			at = pb_begin_wide(out, F_ENV_INSERT);
			pb_uint(out, F_ROW_REL_ID, entry->relid);
			if (newtuple != NULL)
				encode_tuple(out, F_INSERT_NEW, entry, rel, &newtuple->tuple,
							 false);
			pb_end_wide(out, at);
			break;
		case REORDER_BUFFER_CHANGE_UPDATE:
			at = pb_begin_wide(out, F_ENV_UPDATE);
			pb_uint(out, F_ROW_REL_ID, entry->relid);
			pb_uint(out, F_UPDATE_OLD_KIND, old_kind);
			if (oldtuple != NULL)
				encode_tuple(out, F_UPDATE_OLD, entry, rel, &oldtuple->tuple,
							 old_kind == OLD_ROW_KEY);
			if (newtuple != NULL)
				encode_tuple(out, F_UPDATE_NEW, entry, rel, &newtuple->tuple,
							 false);
			pb_end_wide(out, at);
			break;
		case REORDER_BUFFER_CHANGE_DELETE:
			at = pb_begin_wide(out, F_ENV_DELETE);
			pb_uint(out, F_ROW_REL_ID, entry->relid);
			pb_uint(out, F_DELETE_OLD_KIND, old_kind);
			if (oldtuple != NULL)
				encode_tuple(out, F_DELETE_OLD, entry, rel, &oldtuple->tuple,
							 old_kind == OLD_ROW_KEY);
			pb_end_wide(out, at);
			break;
		default:
			/* change_cb only gets the three above */
			elog(ERROR, "unexpected change action %d", change->action);
	}
	OutputPluginWrite(ctx, true);

done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
}

static void
walcast_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 int nrelations, Relation relations[],
				 ReorderBufferChange *change)
{
	WalcastData *data = ctx->output_plugin_private;
	MemoryContext old = MemoryContextSwitchTo(data->context);
	RelationEntry **entries = palloc(sizeof(RelationEntry *) * nrelations);
	int			npublished = 0;
	WalcastTxn *state;
	StringInfo	out;
	int			at;
	int			packed;

	for (int i = 0; i < nrelations; i++)
		entries[i] = relcache_lookup(data, relations[i]);
	for (int i = 0; i < nrelations; i++)
		npublished += entries[i]->publish;
	if (npublished == 0)
	{
		skipped_change(ctx);
		goto done;
	}

	state = ensure_begin(ctx, txn);
	for (int i = 0; i < nrelations; i++)
	{
		if (entries[i]->publish)
			ensure_relation(ctx, entries[i]);
	}

	out = write_start(ctx, true, change->lsn, change_xid(data, txn, change),
					  ++state->changes);
	at = pb_begin(out, F_ENV_TRUNCATE);
	packed = pb_begin(out, F_TRUNCATE_RELS);
	for (int i = 0; i < nrelations; i++)
	{
		if (entries[i]->publish)
			pb_varint(out, entries[i]->relid);
	}
	pb_end(out, packed);
	pb_bool(out, F_TRUNCATE_CASCADE, change->data.truncate.cascade);
	pb_bool(out, F_TRUNCATE_RESTART, change->data.truncate.restart_seqs);
	pb_end(out, at);
	OutputPluginWrite(ctx, true);

done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
}

static void
walcast_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr lsn, bool transactional, const char *prefix,
				Size sz, const char *message)
{
	WalcastData *data = ctx->output_plugin_private;
	MemoryContext old;
	StringInfo	out;
	int			at;

	if (!walcast_prefix_wanted(&data->opt, prefix))
	{
		if (transactional)
			skipped_change(ctx);
		return;
	}

	old = MemoryContextSwitchTo(data->context);
	if (transactional)
	{
		WalcastTxn *state = ensure_begin(ctx, txn);

		out = write_start(ctx, true, lsn, txn->xid, ++state->changes);
	}
	else
		out = write_start(ctx, true, lsn, InvalidTransactionId, 0);

	at = pb_begin(out, F_ENV_MESSAGE);
	pb_bool(out, F_MESSAGE_TRANSACTIONAL, transactional);
	encode_cstring(out, F_MESSAGE_PREFIX, prefix);
	pb_bytes(out, F_MESSAGE_CONTENT, message, sz);
	pb_end(out, at);
	OutputPluginWrite(ctx, true);

	MemoryContextSwitchTo(old);
	MemoryContextReset(data->context);
}

static bool
walcast_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	WalcastData *data = ctx->output_plugin_private;

	return data->opt.only_local && origin_id != InvalidRepOriginId;
}

/*
 * Two-phase transactions.  Their opening and closing messages are always
 * written, even for a transaction that changes nothing decoded: COMMIT
 * PREPARED may be decoded in a later session that cannot know whether the
 * PREPARE was skipped.
 */
static void
write_prepare_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  uint32 body, bool last_write, XLogRecPtr lsn,
					  TimestampTz time)
{
	StringInfo	out = write_start(ctx, last_write, lsn, txn->xid, 0);
	int			at = pb_begin(out, body);

	pb_uint(out, F_TXN_LSN, lsn);
	pb_uint(out, F_TXN_END_LSN, txn->end_lsn);
	pb_sint(out, F_TXN_TIME, timestamp_to_unix(time));
	pb_string(out, F_TXN_GID, txn->gid);
	pb_end(out, at);
	OutputPluginWrite(ctx, last_write);
}

static void
walcast_begin_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalcastTxn *state = txn_state(ctx, txn);

	write_prepare_message(ctx, txn, F_ENV_BEGIN_PREPARE, false,
						  txn->final_lsn, txn->xact_time.prepare_time);
	state->begun = true;
}

static void
walcast_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				XLogRecPtr prepare_lsn)
{
	write_prepare_message(ctx, txn, F_ENV_PREPARE, true, prepare_lsn,
						  txn->xact_time.prepare_time);
	txn_state_free(txn);
}

static void
walcast_commit_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						XLogRecPtr commit_lsn)
{
	write_prepare_message(ctx, txn, F_ENV_COMMIT_PREPARED, true, commit_lsn,
						  txn->xact_time.commit_time);
	txn_state_free(txn);
}

static void
walcast_rollback_prepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						  XLogRecPtr prepare_end_lsn,
						  TimestampTz prepare_time)
{
	StringInfo	out = write_start(ctx, true, txn->final_lsn, txn->xid, 0);
	int			at = pb_begin(out, F_ENV_ROLLBACK_PREPARED);

	pb_uint(out, F_ROLLBACK_PREPARE_END, prepare_end_lsn);
	pb_uint(out, F_ROLLBACK_END_LSN, txn->end_lsn);
	pb_sint(out, F_ROLLBACK_PREPARE_TIME, timestamp_to_unix(prepare_time));
	pb_sint(out, F_ROLLBACK_TIME,
			timestamp_to_unix(txn->xact_time.commit_time));
	pb_string(out, F_ROLLBACK_GID, txn->gid);
	pb_end(out, at);
	OutputPluginWrite(ctx, true);
	txn_state_free(txn);
}

/*
 * Streaming of in-progress transactions.  A segment's StreamStart is written
 * before its first decoded change, so segments that change nothing decoded
 * leave no trace; StreamStop closes a segment that was opened.
 */
static void
walcast_stream_start(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalcastData *data = ctx->output_plugin_private;

	txn_state(ctx, txn);
	data->in_stream = true;
	data->stream_written = false;
	relcache_forget_sent();
}

static void
walcast_stream_stop(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	WalcastData *data = ctx->output_plugin_private;

	if (data->stream_written)
	{
		StringInfo	out = write_start(ctx, true, InvalidXLogRecPtr,
									  txn->xid, 0);
		int			at = pb_begin(out, F_ENV_STREAM_STOP);

		pb_end(out, at);
		OutputPluginWrite(ctx, true);
	}
	data->in_stream = false;
	data->stream_written = false;
	relcache_forget_sent();
}

static void
walcast_stream_abort(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					 XLogRecPtr abort_lsn)
{
	ReorderBufferTXN *top = txn->toptxn != NULL ? txn->toptxn : txn;
	WalcastTxn *state = txn_state(ctx, top);

	if (state->begun)
	{
		StringInfo	out = write_start(ctx, true, abort_lsn, top->xid, 0);
		int			at = pb_begin(out, F_ENV_STREAM_ABORT);

		pb_uint(out, F_STREAM_ABORT_SUBXID, txn->xid);
		pb_uint(out, F_STREAM_ABORT_LSN, abort_lsn);
		pb_end(out, at);
		OutputPluginWrite(ctx, true);
	}
	if (top == txn)
		txn_state_free(txn);
}

static void
walcast_stream_commit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					  XLogRecPtr commit_lsn)
{
	WalcastTxn *state = txn_state(ctx, txn);

	if (state->begun)
	{
		StringInfo	out = write_start(ctx, true, commit_lsn, txn->xid, 0);
		int			at = pb_begin(out, F_ENV_STREAM_COMMIT);

		pb_uint(out, F_TXN_LSN, commit_lsn);
		pb_uint(out, F_TXN_END_LSN, txn->end_lsn);
		pb_sint(out, F_TXN_TIME,
				timestamp_to_unix(txn->xact_time.commit_time));
		pb_end(out, at);
		OutputPluginWrite(ctx, true);
	}
	else
		OutputPluginUpdateProgress(ctx, true);
	txn_state_free(txn);
}

static void
walcast_stream_prepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
					   XLogRecPtr prepare_lsn)
{
	write_prepare_message(ctx, txn, F_ENV_STREAM_PREPARE, true, prepare_lsn,
						  txn->xact_time.prepare_time);
	txn_state_free(txn);
}
