/*-------------------------------------------------------------------------
 *
 * stream.h
 *		The replication connection: a walcast slot read over PostgreSQL's
 *		streaming replication protocol with libpq.
 *
 * stream_connect() opens a connection with replication=database from a
 * conninfo string or URI; the PG* environment variables and .pgpass apply
 * as for any libpq program.  stream_start() enters COPY BOTH mode, after
 * which stream_read() hands out one message at a time without blocking and
 * stream_feedback() sends standby status updates.  Every function returns
 * 0 (or a count) on success and -1 with *err filled in on failure;
 * stream_sqlstate() then tells what the server said, when it said
 * something.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_STREAM_H
#define WALCAST_STREAM_H

#include "common.h"

typedef struct Stream Stream;

/* IDENTIFY_SYSTEM's answer */
typedef struct StreamSystem
{
	uint64_t	system_identifier;
	int			timeline;
	WcLsn		xlogpos;		/* the server's current flush position */
	char		database[256];	/* the connection's database */
} StreamSystem;

/* a row of pg_replication_slots */
typedef struct SlotInfo
{
	bool		exists;
	char		plugin[256];	/* empty for a physical slot */
	char		database[256];
	WcLsn		confirmed_flush;
	WcLsn		restart_lsn;
	char		wal_status[32]; /* reserved, extended, unreserved, lost */
	bool		active;
	int			active_pid;
	bool		two_phase;
} SlotInfo;

typedef enum StreamMessageKind
{
	STREAM_XLOGDATA,			/* one message of the plugin */
	STREAM_KEEPALIVE			/* the server's keepalive */
} StreamMessageKind;

typedef struct StreamMessage
{
	StreamMessageKind kind;
	WcLsn		data_start;		/* XLogData: start of the WAL it came from */
	WcLsn		wal_end;		/* the server's WAL end */
	int64_t		send_time;		/* microseconds since 2000-01-01 */
	bool		reply_requested;	/* keepalive: answer at once */
	const uint8_t *data;		/* XLogData: the plugin's bytes */
	size_t		len;
} StreamMessage;

extern Stream *stream_connect(const char *conninfo, WcError *err);
extern void stream_destroy(Stream **stream);

extern int	stream_identify(Stream *stream, StreamSystem *sys, WcError *err);
extern int	stream_slot_info(Stream *stream, const char *slot, SlotInfo *info,
							 WcError *err);
extern int	stream_create_slot(Stream *stream, const char *slot,
							   bool two_phase, WcLsn *consistent_point,
							   WcError *err);

/* options: n pairs of name and value (value may be NULL) */
extern int	stream_start(Stream *stream, const char *slot, WcLsn start,
						 char *const *names, char *const *values, int n,
						 WcError *err);

/* the socket to poll for input */
extern int	stream_socket(Stream *stream);

/*
 * 1 with *msg filled in (valid until the next call), 0 when nothing has
 * arrived, -1 on error or when the server ended the stream.
 */
extern int	stream_read(Stream *stream, StreamMessage *msg, WcError *err);

extern int	stream_feedback(Stream *stream, WcLsn write, WcLsn flush,
							bool reply_requested, WcError *err);

/* end COPY mode politely, after a last feedback */
extern int	stream_stop(Stream *stream, WcError *err);

/* SQLSTATE of the last error the server reported, or "" */
extern const char *stream_sqlstate(Stream *stream);

/* whether a slot name is valid (as PostgreSQL checks it) */
extern bool stream_valid_slot_name(const char *name);

#endif							/* WALCAST_STREAM_H */
