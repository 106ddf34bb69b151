/*-------------------------------------------------------------------------
 *
 * stream.c
 *		The replication connection, over libpq.
 *
 * Messages of the streaming replication protocol (all integers big-endian,
 * times in microseconds since 2000-01-01):
 *
 *   XLogData      'w' dataStart(8) walEnd(8) sendTime(8) data...
 *   keepalive     'k' walEnd(8) sendTime(8) replyRequested(1)
 *   status update 'r' write(8) flush(8) apply(8) sendTime(8)
 *                     replyRequested(1)                   (ours)
 *
 *-------------------------------------------------------------------------
 */
#include "stream.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct Stream
{
	PGconn	   *conn;
	char	   *copybuf;		/* last buffer from PQgetCopyData */
	char		sqlstate[6];	/* of the last server error */
};

static uint64_t
get_be64(const char *p)
{
	const unsigned char *u = (const unsigned char *) p;
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | u[i];
	return v;
}

static void
put_be64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--)
	{
		p[i] = (char) (v & 0xff);
		v >>= 8;
	}
}

/* fill err from a failed result (or the connection) */
static void
set_server_error(Stream *stream, WcError *err, const char *what,
				 PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;

	snprintf(stream->sqlstate, sizeof(stream->sqlstate), "%s",
			 state ? state : "");
	if (primary)
		wc_error_set(err, "%s: %s", what, primary);
	else
		wc_error_set(err, "%s: %s", what, PQerrorMessage(stream->conn));
	if (detail)
		wc_error_detail(err, "%s", detail);
	if (hint)
		wc_error_hint(err, "%s", hint);
}

Stream *
stream_connect(const char *conninfo, WcError *err)
{
	const char *keys[] = {"dbname", "replication", "fallback_application_name", NULL};
	const char *values[] = {conninfo, "database", "walcast", NULL};
	Stream	   *stream = wc_malloc0(sizeof(Stream));

	stream->conn = PQconnectdbParams(keys, values, 1);
	if (PQstatus(stream->conn) != CONNECTION_OK)
	{
		wc_error_set(err, "could not connect to server: %s",
					 PQerrorMessage(stream->conn));
		stream_destroy(&stream);
		return NULL;
	}
	return stream;
}

void
stream_destroy(Stream **streamp)
{
	Stream	   *stream = *streamp;

	if (stream == NULL)
		return;
	if (stream->copybuf)
		PQfreemem(stream->copybuf);
	PQfinish(stream->conn);
	free(stream);
	*streamp = NULL;
}

/* run a command that returns rows; NULL with err set on failure */
static PGresult *
run_query(Stream *stream, const char *sql, const char *what, WcError *err)
{
	PGresult   *res = PQexec(stream->conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		set_server_error(stream, err, what, res);
		PQclear(res);
		return NULL;
	}
	return res;
}

int
stream_identify(Stream *stream, StreamSystem *sys, WcError *err)
{
	PGresult   *res;
	unsigned	hi,
				lo;

	res = run_query(stream, "IDENTIFY_SYSTEM", "could not identify system",
					err);
	if (res == NULL)
		return -1;
	memset(sys, 0, sizeof(*sys));
	if (PQntuples(res) != 1 || PQnfields(res) < 4 ||
		sscanf(PQgetvalue(res, 0, 0), "%lu", &sys->system_identifier) != 1 ||
		sscanf(PQgetvalue(res, 0, 2), "%X/%X", &hi, &lo) != 2)
	{
		wc_error_set(err, "could not identify system: unexpected answer with %d rows and %d fields",
					 PQntuples(res), PQnfields(res));
		PQclear(res);
		return -1;
	}
	sys->timeline = atoi(PQgetvalue(res, 0, 1));
	sys->xlogpos = ((WcLsn) hi << 32) | lo;
	snprintf(sys->database, sizeof(sys->database), "%s",
			 PQgetisnull(res, 0, 3) ? "" : PQgetvalue(res, 0, 3));
	PQclear(res);
	return 0;
}

static WcLsn
value_lsn(PGresult *res, int row, int col)
{
	WcLsn		lsn = 0;

	if (!PQgetisnull(res, row, col))
		wc_parse_lsn(PQgetvalue(res, row, col), &lsn);
	return lsn;
}

int
stream_slot_info(Stream *stream, const char *slot, SlotInfo *info,
				 WcError *err)
{
	char	   *sql;
	PGresult   *res;

	memset(info, 0, sizeof(*info));
	/* slot names are checked by stream_valid_slot_name: no quoting needed */
	sql = wc_psprintf("SELECT coalesce(plugin, ''), coalesce(database, ''), "
					  "confirmed_flush_lsn, restart_lsn, coalesce(wal_status, ''), "
					  "active, coalesce(active_pid, 0), two_phase "
					  "FROM pg_catalog.pg_replication_slots WHERE slot_name = '%s'",
					  slot);
	res = run_query(stream, sql, "could not read replication slot", err);
	free(sql);
	if (res == NULL)
		return -1;
	if (PQntuples(res) == 1)
	{
		info->exists = true;
		snprintf(info->plugin, sizeof(info->plugin), "%s", PQgetvalue(res, 0, 0));
		snprintf(info->database, sizeof(info->database), "%s", PQgetvalue(res, 0, 1));
		info->confirmed_flush = value_lsn(res, 0, 2);
		info->restart_lsn = value_lsn(res, 0, 3);
		snprintf(info->wal_status, sizeof(info->wal_status), "%s", PQgetvalue(res, 0, 4));
		info->active = PQgetvalue(res, 0, 5)[0] == 't';
		info->active_pid = atoi(PQgetvalue(res, 0, 6));
		info->two_phase = PQgetvalue(res, 0, 7)[0] == 't';
	}
	PQclear(res);
	return 0;
}

int
stream_create_slot(Stream *stream, const char *slot, bool two_phase,
				   WcLsn *consistent_point, WcError *err)
{
	char	   *sql;
	PGresult   *res;

	sql = wc_psprintf("CREATE_REPLICATION_SLOT \"%s\" LOGICAL walcast (SNAPSHOT 'nothing'%s)",
					  slot, two_phase ? ", TWO_PHASE" : "");
	res = run_query(stream, sql, "could not create replication slot", err);
	free(sql);
	if (res == NULL)
		return -1;
	*consistent_point = value_lsn(res, 0, 1);
	PQclear(res);
	return 0;
}

/* append s to buf (both malloc'd), quoted with q and q doubled inside */
static char *
append_quoted(char *buf, const char *s, char q)
{
	size_t		len = strlen(buf);
	char	   *out = wc_realloc(buf, len + 2 * strlen(s) + 3);
	char	   *p = out + len;

	*p++ = q;
	for (; *s; s++)
	{
		if (*s == q)
			*p++ = q;
		*p++ = *s;
	}
	*p++ = q;
	*p = '\0';
	return out;
}

static char *
append(char *buf, const char *s)
{
	buf = wc_realloc(buf, strlen(buf) + strlen(s) + 1);
	return strcat(buf, s);
}

int
stream_start(Stream *stream, const char *slot, WcLsn start,
			 char *const *names, char *const *values, int n, WcError *err)
{
	char	   *sql;
	PGresult   *res;

	sql = wc_psprintf("START_REPLICATION SLOT \"%s\" LOGICAL %X/%X",
					  slot, WC_LSN_ARGS(start));
	for (int i = 0; i < n; i++)
	{
		/* names are identifiers, values string literals */
		sql = append(sql, i == 0 ? " (" : ", ");
		sql = append_quoted(sql, names[i], '"');
		if (values[i])
		{
			sql = append(sql, " ");
			sql = append_quoted(sql, values[i], '\'');
		}
	}
	if (n > 0)
		sql = append(sql, ")");
	res = PQexec(stream->conn, sql);
	free(sql);
	if (PQresultStatus(res) != PGRES_COPY_BOTH)
	{
		set_server_error(stream, err, "could not start replication", res);
		PQclear(res);
		return -1;
	}
	PQclear(res);
	return 0;
}

int
stream_socket(Stream *stream)
{
	return PQsocket(stream->conn);
}

/* the server ended COPY mode: collect why */
static int
stream_ended(Stream *stream, WcError *err)
{
	PGresult   *res = PQgetResult(stream->conn);

	if (res == NULL || PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_COPY_OUT)
	{
		stream->sqlstate[0] = '\0';
		wc_error_set(err, "replication stream was ended by the server");
	}
	else
		set_server_error(stream, err, "unexpected termination of replication stream", res);
	PQclear(res);
	return -1;
}

int
stream_read(Stream *stream, StreamMessage *msg, WcError *err)
{
	int			len;

	if (stream->copybuf)
	{
		PQfreemem(stream->copybuf);
		stream->copybuf = NULL;
	}
	len = PQgetCopyData(stream->conn, &stream->copybuf, 1);
	if (len == 0)
	{
		if (!PQconsumeInput(stream->conn))
		{
			stream->sqlstate[0] = '\0';
			wc_error_set(err, "could not receive data from server: %s",
						 PQerrorMessage(stream->conn));
			return -1;
		}
		len = PQgetCopyData(stream->conn, &stream->copybuf, 1);
		if (len == 0)
			return 0;
	}
	if (len == -1)
		return stream_ended(stream, err);
	if (len < 0)
	{
		stream->sqlstate[0] = '\0';
		wc_error_set(err, "could not read COPY data: %s",
					 PQerrorMessage(stream->conn));
		return -1;
	}

	memset(msg, 0, sizeof(*msg));
	if (stream->copybuf[0] == 'w' && len >= 25)
	{
		msg->kind = STREAM_XLOGDATA;
		msg->data_start = get_be64(stream->copybuf + 1);
		msg->wal_end = get_be64(stream->copybuf + 9);
		msg->send_time = (int64_t) get_be64(stream->copybuf + 17);
		msg->data = (const uint8_t *) stream->copybuf + 25;
		msg->len = len - 25;
		return 1;
	}
	if (stream->copybuf[0] == 'k' && len >= 18)
	{
		msg->kind = STREAM_KEEPALIVE;
		msg->wal_end = get_be64(stream->copybuf + 1);
		msg->send_time = (int64_t) get_be64(stream->copybuf + 9);
		msg->reply_requested = stream->copybuf[17] != 0;
		return 1;
	}
	stream->sqlstate[0] = '\0';
	wc_error_set(err, "unrecognized streaming header: \"%c\" in a message of %d bytes",
				 stream->copybuf[0], len);
	return -1;
}

int
stream_feedback(Stream *stream, WcLsn write, WcLsn flush,
				bool reply_requested, WcError *err)
{
	char		buf[34];

	buf[0] = 'r';
	put_be64(buf + 1, write);
	put_be64(buf + 9, flush);
	put_be64(buf + 17, flush);	/* applied: as flushed */
	put_be64(buf + 25, (uint64_t) (wc_now_unix() - WC_PG_EPOCH_UNIX_USEC));
	buf[33] = reply_requested ? 1 : 0;
	if (PQputCopyData(stream->conn, buf, sizeof(buf)) <= 0 ||
		PQflush(stream->conn) != 0)
	{
		stream->sqlstate[0] = '\0';
		wc_error_set(err, "could not send feedback packet: %s",
					 PQerrorMessage(stream->conn));
		return -1;
	}
	return 0;
}

int
stream_stop(Stream *stream, WcError *err)
{
	PGresult   *res;

	if (PQputCopyEnd(stream->conn, NULL) <= 0 || PQflush(stream->conn) != 0)
	{
		wc_error_set(err, "could not send copy-end packet: %s",
					 PQerrorMessage(stream->conn));
		return -1;
	}
	/* the server may still send data until it sees our CopyDone */
	for (;;)
	{
		char	   *buf = NULL;
		int			len = PQgetCopyData(stream->conn, &buf, 0);

		if (buf)
			PQfreemem(buf);
		if (len < 0)
			break;
	}
	while ((res = PQgetResult(stream->conn)) != NULL)
		PQclear(res);
	return 0;
}

const char *
stream_sqlstate(Stream *stream)
{
	return stream->sqlstate;
}

bool
stream_valid_slot_name(const char *name)
{
	size_t		len = strlen(name);

	if (len == 0 || len >= 64)
		return false;
	for (const char *c = name; *c; c++)
	{
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	}
	return true;
}
