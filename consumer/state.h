/*-------------------------------------------------------------------------
 *
 * state.h
 *		The relay's state file: which server and slot it streams from, the
 *		highest position it has confirmed, and each durable subscriber's
 *		acknowledged position.
 *
 * The file is small text, rewritten whole and atomically (a temporary
 * file, fsync, rename, fsync of the directory).  The relay writes it
 * before it confirms a new position to PostgreSQL, so after a crash the
 * file never says less than the slot was told: a slot that is further on
 * than the file was moved by someone else, or dropped and created again.
 *
 *   walcast relay state 1
 *   system_identifier 7301234567890123456
 *   slot walcast
 *   database shop
 *   confirmed_lsn 0/1A2B3C4
 *   subscriber billing 0/1A2B3C4 active
 *   subscriber search 0/16B3748 evicted
 *
 *-------------------------------------------------------------------------
 */
#ifndef WALCAST_STATE_H
#define WALCAST_STATE_H

#include "common.h"

#define STATE_MAX_NAME 64

typedef struct StateSubscriber
{
	char		name[STATE_MAX_NAME + 1];
	WcLsn		acked_lsn;		/* everything up to here applied */
	bool		evicted;		/* must resynchronize */
} StateSubscriber;

typedef struct RelayState
{
	uint64_t	system_identifier;	/* 0: not recorded yet */
	char		slot[STATE_MAX_NAME + 1];
	char		database[256];
	WcLsn		confirmed_lsn;	/* highest flush position sent */
	int			nsubscribers;
	StateSubscriber *subscribers;
} RelayState;

/*
 * Read path into *state.  1 when read, 0 when the file does not exist
 * (state is then empty), -1 on error.
 */
extern int	state_load(const char *path, RelayState *state, WcError *err);
extern int	state_save(const char *path, const RelayState *state, WcError *err);
extern void state_free(RelayState *state);

/* whether a subscriber name is valid: 1-64 of [A-Za-z0-9_.-] */
extern bool state_valid_name(const char *name);

#endif							/* WALCAST_STATE_H */
