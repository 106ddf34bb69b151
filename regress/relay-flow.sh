#!/usr/bin/env bash
#
# regress/relay-flow.sh: the relay keeps moving
#
#   1. A subscriber on the publish socket that stops reading does not slow
#      another one: while it sleeps, the other receives every message of a
#      large workload without a gap and the slot is confirmed to its end;
#      when the sleeper wakes it sees gaps in the sequence, and is told so.
#   2. An idle database beside a busy one: the slot of a relay on the idle
#      database is confirmed past the busy database's WAL, with no durable
#      subscriber and with one that is online and caught up, so it does not
#      pin the WAL.
#   3. --heartbeat writes a message into the WAL that comes back through
#      the stream.
#   4. A durable subscriber that gives no credit for three times the
#      server's wal_sender_timeout holds the stream, but the relay's status
#      updates keep the connection: nothing times out, nothing reconnects.
#
set -euo pipefail

prog=regress/relay-flow.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

rows=${RELAY_FLOW_ROWS:-30000}	# in 60 transactions

check_py="$repo/regress/py/relay_check.py"

# count KIND FILE: lines of a subscribe output with that kind
count()
{
	awk -F'\t' -v k="$1" '$3 == k' "$2" | wc -l
}

wc_relay_test_setup

wc_psql -q -c "CREATE TABLE f (id int PRIMARY KEY, v text)"
wc_psql -q -c "CREATE DATABASE idle"

echo "--- 1. a stalled subscriber on the publish socket"
# the reader is walcast tail (C, quick); the sleepers are a second tail
# stopped with SIGSTOP and the Python client sleeping before it reads
wc_relay_start_ephemeral relay -d "dbname=postgres" --create-slot -s 1 \
	--publish-hwm 2000
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
"$wc_walcast" tail -p "$wc_pub" --table postgres.public.f \
	>"$out/reader.json" 2>"$out/reader.err" &
pids+=("$!")
"$wc_walcast" tail -p "$wc_pub" >"$out/stopped.json" 2>"$out/stopped.err" &
stopped_pid=$!
pids+=("$stopped_pid")
"$wc_python" "$check_py" subscribe --endpoint "$wc_pub" --out "$out/sleeper" \
	--stall 25 --hwm 100 --idle-exit 8 2>"$out/sleeper.err" &
sleeper_pid=$!
pids+=("$sleeper_pid")
# Subscriptions reach the relay when they do: a non-transactional message
# (on the database's topic, which all three receive) until each has one.
# The sleeper stalls from its first message on; the other tail is stopped.
subscribed()
{
	wc_psql -q -c "SELECT pg_logical_emit_message(false, 'walcast.test', 'are you there') IS NULL" >/dev/null
	sleep 0.2
	grep -q '"message":' "$out/reader.json" && grep -q '"message":' "$out/stopped.json" &&
		[ -s "$out/sleeper" ]
}
wc_wait_for 60 "the three subscriptions to reach the relay" subscribed
kill -STOP "$stopped_pid"
# paced, so that a reader that keeps up loses nothing on the publish socket
# (one that is too slow would lose messages, by design)
for ((i = 0; i < 60; i++)); do
	wc_psql -q -c "INSERT INTO f SELECT g, repeat('x', 500) FROM generate_series($((i * rows / 60 + 1)), $(((i + 1) * rows / 60))) g"
	sleep 0.05
done
end=$(wc_psql -At -c "SELECT pg_current_wal_lsn()")

reader_done()
{
	[ "$(grep -c '"insert":' "$out/reader.json")" -ge "$rows" ] &&
		[ "$(grep -c '"commit":' "$out/reader.json")" -ge 60 ]
}
wc_wait_for 60 "the reader to get every row" reader_done
wc_check "the reader got all $rows rows and 60 Commits while the others slept" \
	bash -c "[ $(grep -c '"insert":' "$out/reader.json") -eq $rows ] &&
		[ $(grep -c '"commit":' "$out/reader.json") -eq 60 ]"
wc_check "without a gap" bash -c "! grep -q 'lost' '$out/reader.err'"
wc_wait_for 10 "the slot to be confirmed to the end" wc_slot_at_least walcast "$end"
wc_check "the slot was confirmed to the end of the workload while they slept" \
	wc_slot_at_least walcast "$end"
wc_check "the sleepers are still asleep (the checks above did not wait for them)" \
	bash -c "kill -0 $sleeper_pid && grep -q '^State:.*stopped' /proc/$stopped_pid/status"

# wake them, and send one more row so that what they missed shows
kill -CONT "$stopped_pid"
# once the sleeper has read what was kept for it (its stall ends 25 s
# after its first message) and nothing more comes; it exits 8 s after its
# last message, time enough for one more
sleeper_drained()
{
	local before

	before=$(wc -l <"$out/sleeper")
	sleep 1
	[ "$(count insert "$out/sleeper")" -gt 0 ] &&
		[ "$(wc -l <"$out/sleeper")" -eq "$before" ]
}
wc_wait_for 60 "the Python sleeper to read what was kept for it" sleeper_drained
wc_psql -q -c "INSERT INTO f VALUES ($((rows + 1)), 'one more')"
wc_wait_for 60 "the Python sleeper to finish" \
	bash -c "! kill -0 $sleeper_pid 2>/dev/null"
wc_check "the Python sleeper lost messages and sees the gap" \
	bash -c "[ $(count insert "$out/sleeper") -lt $rows ] &&
		awk -F'\t' '{ if ((\$1 in last) && \$2 != last[\$1] + 1) gap = 1; last[\$1] = \$2 } END { exit !gap }' '$out/sleeper'"
wc_wait_for 20 "the stopped tail to report its loss" \
	grep -q 'warning: lost [0-9]* messages on topic "postgres.public.f." before sequence' "$out/stopped.err"
wc_check "walcast tail, stopped with SIGSTOP, is told it lost messages" \
	grep -q 'warning: lost [0-9]* messages on topic "postgres.public.f." before sequence' "$out/stopped.err"
kill -TERM "$stopped_pid"
wc_stop_pid "$wc_relay_pid" || true

echo "--- 2. an idle database beside a busy one"
busy_workload()
{
	local i

	for i in 1 2 3; do
		wc_psql -q -c "INSERT INTO f SELECT g, 'busy' FROM generate_series(1, 1000) g ON CONFLICT (id) DO UPDATE SET v = f.v || '+'"
	done
	busy=$(wc_psql -At -c "SELECT pg_current_wal_lsn()")
}

wc_zmq_ports $((wc_durable_port + 1))
wc_relay_start_ephemeral idle -d "dbname=idle" --create-slot -S idle_slot -s 1
pids+=("$wc_relay_pid")
wc_wait_for 20 "the idle relay's slot" \
	wc_log_has "$wc_scratch/idle.log" 'streaming from replication slot'
busy_workload
wc_wait_for 30 "the idle slot to pass the busy database's WAL" \
	wc_slot_at_least idle_slot "$busy"
wc_check "without durable subscribers, the idle database's slot moved past the busy one's WAL" \
	wc_slot_at_least idle_slot "$busy"
wc_stop_pid "$wc_relay_pid" || true

wc_relay_start idle -d "dbname=idle" -S idle_slot -s 1 --subscriber watcher
pids+=("$wc_relay_pid")
"$wc_walcast" tail --durable watcher -e "$wc_durable" >"$out/watcher.json" \
	2>"$out/watcher.err" &
watcher_pid=$!
pids+=("$watcher_pid")
wc_wait_for 20 "the watcher to connect" \
	wc_log_has "$wc_scratch/idle.log" 'durable subscriber "watcher" connected'
busy_workload
wc_wait_for 30 "the idle slot to pass the busy database's WAL" \
	wc_slot_at_least idle_slot "$busy"
wc_check "with a durable subscriber online and caught up, it moved past it too" \
	wc_slot_at_least idle_slot "$busy"
wc_stop_pid "$wc_relay_pid" || true

echo "--- 3. --heartbeat"
wc_relay_start idle -d "dbname=idle" -S idle_slot -s 1 --subscriber watcher \
	--heartbeat 1
pids+=("$wc_relay_pid")
wc_wait_for 30 "a heartbeat to come back through the stream" \
	grep -q '"prefix":"walcast.heartbeat"' "$out/watcher.json"
wc_check "the heartbeat came back through the WAL to the durable subscriber" \
	grep -q '"prefix":"walcast.heartbeat"' "$out/watcher.json"

echo "--- 4. a durable subscriber pushes back longer than wal_sender_timeout"
wc_psql -q -c "ALTER SYSTEM SET wal_sender_timeout = '2s'" -c "SELECT pg_reload_conf()" >/dev/null
wc_zmq_ports $((wc_durable_port + 1))
wc_relay_start push -d "dbname=postgres" -S push_slot --create-slot -s 1 \
	--subscriber slow
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay on push_slot" \
	wc_log_has "$wc_scratch/push.log" 'streaming from replication slot'
"$wc_python" "$check_py" durable --endpoint "$wc_durable" --name slow \
	--out "$out/slow" --credit 4 --pause 6 2>"$out/slow.err" &
pids+=("$!")
sleep 1
for i in $(seq 1 30); do
	echo "INSERT INTO f VALUES ($((rows + 100 + i)), 'pushed back');"
done | wc_psql -q
wc_wait_for 40 "the slow subscriber to apply all 30 transactions" \
	wc_commits_at_least "$out/slow" 30
wc_check "it got all 30 transactions after holding the stream for 6 s" \
	wc_commits_at_least "$out/slow" 30
wc_check "the relay kept its connection meanwhile (no error, no reconnection)" \
	bash -c "! grep -q -e ': error: ' -e 'reconnecting' '$wc_scratch/push.log'"
wc_check "the server did not time the walsender out" \
	bash -c "! grep -q 'terminating walsender process due to replication timeout' '$wc_scratch/server.log'"
wc_psql -q -c "ALTER SYSTEM RESET wal_sender_timeout" -c "SELECT pg_reload_conf()" >/dev/null

wc_check_summary
