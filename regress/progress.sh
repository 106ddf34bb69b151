#!/usr/bin/env bash
#
# regress/progress.sh: a long transaction whose changes are all filtered out
# does not make the walsender time out
#
# The plugin sends nothing for a change its filters leave out; it calls
# OutputPluginUpdateProgress every 100 such changes (skipped_change in
# plugin/walcast.c).  In PostgreSQL 15 that call is the walsender's only
# chance, while the plugin replays one transaction at its commit record, to
# read the client's replies, check wal_sender_timeout and, once half of it
# has passed since the last reply, send a keepalive asking for one
# (WalSndUpdateProgress, ProcessPendingWrites in walsender.c).  Without it,
# a transaction whose replay takes longer than wal_sender_timeout ends with
# "terminating walsender process due to replication timeout" at the next
# write, and the client loses its connection.
#
# Starts a throwaway cluster (scripts/lib.sh, regress/logical.conf) and,
# for each case below, pg_recvlogical on a fresh walcast slot with
# include-tables=public.small, wal_sender_timeout=$PROGRESS_TIMEOUT_MS ms
# (default 500) and logical_decoding_work_mem=64kB (so a large transaction
# spills to disk, and its replay reads it back) for its connection only
# (PGOPTIONS), --status-interval=0 (it replies only when the walsender
# asks) and --no-loop (it exits when the connection is lost).  In each case
# one transaction makes $PROGRESS_ROWS (default 3,000,000) changes that are
# not sent and, last, inserts a row into small.  Before its COMMIT the test
# waits until the walsender has read all of its WAL (pg_switch_wal()
# flushes it; the WAL of an open transaction is otherwise flushed only as
# WAL buffers fill or at the bgwriter's next standby snapshot), so the
# time from COMMIT to the small row's arrival is the replay alone.  A
# second transaction inserts one more row into small.
#
# A case passes when pg_recvlogical received both rows of small and no
# more than 4 kB in all (nothing of the filtered changes), is still
# running, and the server log has no replication timeout.  A replay
# shorter than the timeout shows nothing, so a case that should replay
# long also fails unless its replay took at least twice wal_sender_timeout
# (raise PROGRESS_ROWS then); the defaults make it four to nine times here.  Without progress the walsender ends
# the connection at the first write after the replay, before the row of
# small goes out.  The cases:
#
#   spill    the rows are copied into big, which include-tables leaves out
#   stream   the same with the plugin's streaming option: the transaction
#            goes out in pieces of logical_decoding_work_mem as it is
#            decoded and the walsender's main loop runs between them, so
#            this case passes even without the progress calls; it shows
#            that a streamed filtered transaction sends nothing of it and
#            does not time out either
#   rewrite  ALTER TABLE ... TYPE rewrites the table rewritten (filled
#            before the slot exists): its rows go to a transient heap,
#            which the plugin asks for (receive_rewrites) only to count
#            them in skipped_change
#
# KEEP=1 keeps the scratch directory.
#
set -euo pipefail

prog=regress/progress.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

rows=${PROGRESS_ROWS:-3000000}
rewrite_rows=$rows
timeout_ms=${PROGRESS_TIMEOUT_MS:-500}
timeout_msg='terminating walsender process due to replication timeout'

wc_throwaway_cluster

wc_psql -q <<'EOF_SQL' >/dev/null
CREATE TABLE big (id int);
CREATE TABLE rewritten (id int);
CREATE TABLE small (id serial PRIMARY KEY, note text);

-- wait_sent(APP, LSN): wait until the walsender of application_name APP
-- has read the WAL up to LSN
CREATE FUNCTION wait_sent(app text, lsn pg_lsn) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR i IN 1 .. 1200 LOOP
		-- within a page header of the insert position: past the last record
		IF (SELECT sent_lsn >= lsn - 40 FROM pg_stat_replication
			 WHERE application_name = app) THEN
			RETURN;
		END IF;
		PERFORM pg_sleep(0.05);
	END LOOP;
	RAISE EXCEPTION 'walsender "%" did not reach % within 60 s', app, lsn;
END
$$;
EOF_SQL

# The setting must reach a replication connection, or the test proves
# nothing: check it on one.
shown=$(PGOPTIONS="-c wal_sender_timeout=${timeout_ms}ms" wc_psql -At \
	-d "dbname=postgres replication=database" \
	-c "SELECT setting FROM pg_settings WHERE name = 'wal_sender_timeout'") ||
	wc_die "could not read wal_sender_timeout on a replication connection"
[ "$shown" = "$timeout_ms" ] ||
	wc_die "wal_sender_timeout is \"$shown\" ms on a replication connection, not $timeout_ms"
echo "wal_sender_timeout on a replication connection with PGOPTIONS: ${shown}ms"

now()
{
	date +%s.%N
}

# elapsed T0 [T1]: seconds from T0 to T1 (or now), two decimals
elapsed()
{
	awk -v a="$1" -v b="${2:-$(now)}" 'BEGIN { printf "%.2f", b - a }'
}

# has MARKER FILE: whether FILE holds MARKER
has()
{
	grep -aqF -e "$1" "$2" 2>/dev/null
}

# alive PID: whether PID still runs
alive()
{
	kill -0 "$1" 2>/dev/null
}

# filled before any slot exists: only its rewrite is decoded
wc_psql -q -c "\\copy rewritten FROM PROGRAM 'seq 1 $rewrite_rows'"

failed=0

# run_case LABEL LONG_REPLAY WORK OPTION...: stream through a fresh slot
# with pg_recvlogical given the plugin OPTIONs; run the transaction of WORK
# (SQL, its filtered-out changes) and a row of small, then a second row of
# small; check what arrived.  LONG_REPLAY yes: the replay at COMMIT must
# have lasted at least twice wal_sender_timeout.
run_case()
{
	local label=$1 long_replay=$2 work=$3 slot=progress_$1 app=progress_$1
	local opts=() o i t0 t1 replay replay_ms ok=1 errors_before pid out err
	shift 3
	for o in "$@"; do
		opts+=(-o "$o")
	done
	out=$wc_scratch/$label.out
	err=$wc_scratch/$label.err
	errors_before=$(grep -c -F "$timeout_msg" "$wc_scratch/server.log" || true)

	wc_psql -q -c "SELECT pg_create_logical_replication_slot('$slot', 'walcast')" >/dev/null
	PGOPTIONS="-c wal_sender_timeout=${timeout_ms}ms -c logical_decoding_work_mem=64kB" \
		PGAPPNAME=$app \
		"$wc_bindir/pg_recvlogical" -d postgres -S "$slot" --start \
		--no-loop --status-interval=0 --fsync-interval=0 \
		-o include-tables=public.small "${opts[@]}" -f "$out" 2>"$err" &
	pid=$!
	pids+=("$pid")
	wc_wait_for 20 "pg_recvlogical streaming from slot \"$slot\"" \
		wc_psql_true "SELECT EXISTS (SELECT FROM pg_stat_replication WHERE application_name = '$app' AND state = 'streaming')"

	t0=$(now)
	wc_psql -q -v app="$app" <<EOF_SQL >/dev/null
BEGIN;
$work
INSERT INTO small (note) VALUES ('progress-$label-first');
SELECT pg_current_wal_insert_lsn() AS lsn \gset
SELECT pg_switch_wal();
SELECT wait_sent(:'app', :'lsn');
COMMIT;
EOF_SQL
	t1=$(now)
	echo "$label: ${work%;}, and a row of small: decoded before COMMIT in $(elapsed "$t0" "$t1")s"

	while alive "$pid" && ! has "progress-$label-first" "$out"; do
		sleep 0.05
	done
	replay=$(elapsed "$t1")
	replay_ms=$(awk -v r="$replay" 'BEGIN { printf "%d", r * 1000 }')
	if has "progress-$label-first" "$out"; then
		echo "$label: COMMIT to the row of small at pg_recvlogical: ${replay}s, $((replay_ms * 10 / timeout_ms / 10)).$((replay_ms * 10 / timeout_ms % 10)) times wal_sender_timeout"
	else
		echo "$label: pg_recvlogical exited ${replay}s after COMMIT"
	fi

	wc_psql -q -c "INSERT INTO small (note) VALUES ('progress-$label-second')"
	for ((i = 0; i < 600; i++)); do
		if ! alive "$pid" || has "progress-$label-second" "$out"; then
			break
		fi
		sleep 0.05
	done

	if ! has "progress-$label-first" "$out"; then
		echo "$label: FAILED, pg_recvlogical did not receive the row of small written after the filtered changes"
		ok=0
	elif [ "$long_replay" = yes ] && [ "$replay_ms" -lt $((2 * timeout_ms)) ]; then
		echo "$label: FAILED, the replay took less than twice wal_sender_timeout, so this run shows nothing: raise PROGRESS_ROWS"
		ok=0
	fi
	if ! has "progress-$label-second" "$out"; then
		echo "$label: FAILED, pg_recvlogical did not receive the row of small of the next transaction"
		ok=0
	fi
	if ! alive "$pid"; then
		echo "$label: FAILED, pg_recvlogical exited: $(tr '\n' ' ' <"$err")"
		ok=0
	fi
	if [ "$(grep -c -F "$timeout_msg" "$wc_scratch/server.log" || true)" -gt "$errors_before" ]; then
		echo "$label: FAILED, the server log says \"$timeout_msg\""
		ok=0
	fi
	# the filter must have left big out, or the stream was never quiet
	if [ "$(stat -c %s "$out")" -gt 4096 ]; then
		echo "$label: FAILED, pg_recvlogical received $(stat -c %s "$out") bytes: were the rows of big sent?"
		ok=0
	fi
	if [ "$ok" -eq 1 ]; then
		echo "$label: ok, both rows of small arrived and pg_recvlogical is still connected"
	fi

	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	wc_wait_for 60 "slot \"$slot\" to be released" \
		wc_psql_true "SELECT NOT active FROM pg_replication_slots WHERE slot_name = '$slot'"
	wc_psql -q -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
	[ "$ok" -eq 1 ] || failed=1
}

# wc_psql_true SQL: whether SQL returns true
wc_psql_true()
{
	[ "$(wc_psql -At -c "$1")" = t ]
}

run_case spill yes "\\copy big FROM PROGRAM 'seq 1 $rows'"
run_case stream no "\\copy big FROM PROGRAM 'seq 1 $rows'" streaming=on
run_case rewrite yes "ALTER TABLE rewritten ALTER COLUMN id TYPE bigint;"

[ "$failed" -eq 0 ]
