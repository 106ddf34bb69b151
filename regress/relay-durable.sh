#!/usr/bin/env bash
#
# regress/relay-durable.sh: durable subscribers that go away, and the lag
# limit
#
#   1. A declared subscriber that has never connected holds the slot: the
#      confirmed position does not pass what it has acknowledged.
#   2. One offline while transactions commit, and while the relay restarts,
#      gets everything when it returns (compared with a reference slot).
#   3. With --max-lag and --lag-policy evict, one that falls further behind
#      is evicted, loudly; it stops holding WAL; on return it is told to
#      resynchronize (the Python client and walcast tail exit 3); after
#      --reset-subscriber it is served again from the slot's position.
#   4. With --lag-policy hold, one past the limit keeps holding the WAL and
#      the relay warns.
#   5. --metrics serves all of it to Prometheus.
#   6. A subscriber that says Hello again on its connection (as one does
#      that thinks the relay restarted) starts its session over; it is not
#      refused as a second process under its name.
#   7. walcast tail (the C library), idle when the relay is killed, says
#      Hello as soon as its connection is back, not after the 5 s of
#      silence that would tell it the relay is gone.
#
set -euo pipefail

prog=regress/relay-durable.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

# durable_client NAME ARGS...: the Python durable subscriber, in the
# foreground (exec it in a subshell to run it in the background)
durable_client()
{
	local name=$1

	shift
	"$wc_python" "$repo/regress/py/relay_check.py" durable \
		--endpoint "$wc_durable" --name "$name" --out "$out/$name" "$@" \
		2>>"$out/$name.err"
}

insert_rows()
{
	wc_psql -q -c "INSERT INTO d SELECT g, repeat('x', $3) FROM generate_series($1, $2) g" >/dev/null
}

wc_relay_test_setup

wc_psql -q -c "CREATE TABLE d (id int PRIMARY KEY, v text)"

echo "--- 1. a subscriber that never connected holds the slot"
wc_relay_start relay -d "dbname=postgres" --create-slot -s 1 \
	--subscriber a --subscriber b
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null
start=$(wc_slot_lsn walcast)
(exec "$wc_python" "$repo/regress/py/relay_check.py" durable \
	--endpoint "$wc_durable" --name a --out "$out/a" 2>>"$out/a.err") &
pids+=("$!")
for i in 1 2 3 4 5; do
	insert_rows $((i * 10)) $((i * 10 + 9)) 10
done
wc_wait_for 20 "subscriber a to apply five transactions" \
	wc_commits_at_least "$out/a" 5
sleep 2
wc_check "the confirmed position stays at b's ($start) while b is away" \
	test "$(wc_slot_lsn walcast)" = "$start"

echo "--- 2. b is offline while transactions commit and the relay restarts"
wc_stop_pid "$wc_relay_pid" || true
insert_rows 100 199 10
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber a --subscriber b
pids+=("$wc_relay_pid")
insert_rows 200 299 10
durable_client b --idle-exit 4 || true
wc_reference ref
wc_check "b, back after the relay restarted, has every transaction once, in order" \
	cmp "$out/ref" "$out/b"
wc_check "the relay said b connected" \
	wc_log_has "$wc_scratch/relay.log" 'durable subscriber "b" connected'

echo "--- 3. --max-lag 256kB --lag-policy evict"
wc_stop_pid "$wc_relay_pid" || true
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber a --subscriber b \
	--max-lag 256kB --lag-policy evict
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to stream" \
	wc_log_has "$wc_scratch/relay.log" 'more than 262144 bytes behind will be evicted'
# a keeps up, b is away: 2000 rows of 500 bytes is about 1 MB of WAL
insert_rows 1000 2999 500
wc_wait_for 30 "the relay to evict b" \
	wc_log_has "$wc_scratch/relay.log" 'warning: evicting durable subscriber "b"'
wc_check "a, online and keeping up, is not evicted" \
	bash -c "! grep -q 'evicting durable subscriber \"a\"' '$wc_scratch/relay.log'"
wc_check "the eviction says why" \
	wc_log_has "$wc_scratch/relay.log" 'bytes behind the server, over --max-lag 262144'
insert_rows 3000 3009 10
last_a=$(wc_psql -At -c "SELECT pg_current_wal_lsn()")
wc_wait_for 20 "the slot to move on without b" \
	wc_slot_at_least walcast "$last_a"
wc_check "the evicted b holds no WAL: the slot is confirmed past the last transaction" \
	wc_slot_at_least walcast "$last_a"
set +e
durable_client b
rc_py=$?
"$wc_walcast" tail --durable b -e "$wc_durable" --idle-exit 10 >/dev/null 2>"$out/tail-b.err"
rc_tail=$?
set -e
wc_check "the evicted b is refused: the Python client exits 3" test "$rc_py" -eq 3
wc_check "and walcast tail exits 3" test "$rc_tail" -eq 3
wc_check "tail says b must resynchronize" \
	wc_log_has "$out/tail-b.err" 'error: relay refused subscriber "b": durable subscriber "b" was evicted and must resynchronize'
wc_check "the eviction is kept in the state file" \
	wc_log_has "$wc_scratch/relay/walcast-walcast.state" '^subscriber b .* evicted$'

wc_stop_pid "$wc_relay_pid" || true
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber a --subscriber b \
	--reset-subscriber b
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to readmit b" \
	wc_log_has "$wc_scratch/relay.log" 'durable subscriber "b" readmitted at'
: >"$out/b2"
"$wc_python" "$repo/regress/py/relay_check.py" durable --endpoint "$wc_durable" \
	--name b --out "$out/b2" 2>>"$out/b.err" &
b_pid=$!
pids+=("$b_pid")
sleep 1
insert_rows 4000 4000 10
wc_wait_for 20 "the readmitted b to get a new transaction" \
	wc_commits_at_least "$out/b2" 1
wc_check "after --reset-subscriber, b is served again" \
	wc_commits_at_least "$out/b2" 1
kill -TERM "$b_pid"

echo "--- 4. --lag-policy hold"
wc_stop_pid "$wc_relay_pid" || true
metrics_port=$(wc_free_port $((wc_durable_port + 1)))
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber a --subscriber h \
	--max-lag 256kB --lag-policy hold --metrics "127.0.0.1:$metrics_port"
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to stream" \
	wc_log_has "$wc_scratch/relay.log" 'will be warned about, and hold WAL'
held=$(wc_slot_lsn walcast)
insert_rows 5000 6999 500
wc_wait_for 30 "the relay to warn about h" \
	wc_log_has "$wc_scratch/relay.log" 'warning: durable subscriber "h" holds WAL on the server'
wc_check "h is not evicted" \
	bash -c "! grep -q 'evicting durable subscriber \"h\"' '$wc_scratch/relay.log'"
wc_check "the slot stays at h's position ($held)" test "$(wc_slot_lsn walcast)" = "$held"

echo "--- 5. the metrics say the same"
sleep 2
"$wc_python" - "$metrics_port" >"$out/metrics" <<'EOF_PY' || wc_die "could not read the metrics"
import sys, urllib.request, urllib.error
port = sys.argv[1]
print(urllib.request.urlopen('http://127.0.0.1:%s/metrics' % port, timeout=5).read().decode(), end='')
try:
    urllib.request.urlopen('http://127.0.0.1:%s/other' % port, timeout=5)
    print('# /other answered')
except urllib.error.HTTPError as e:
    print('# /other: %d' % e.code)
EOF_PY
metric()
{
	awk -v m="$1" '$1 == m { print $2 }' "$out/metrics"
}
wc_check "walcast_relay_up is 1" test "$(metric 'walcast_relay_up{slot="walcast"}')" = 1
wc_check "a is online, h is not" \
	test "$(metric 'walcast_subscriber_online{slot="walcast",name="a"}')$(metric 'walcast_subscriber_online{slot="walcast",name="h"}')" = 10
wc_check "h's lag is over the 256kB limit" \
	test "$(metric 'walcast_subscriber_lag_bytes{slot="walcast",name="h"}')" -gt 262144
wc_check "the retained WAL shows it too" \
	test "$(metric 'walcast_relay_retained_wal_bytes{slot="walcast"}')" -gt 262144
wc_check "the relay counted the 2000-row transaction" \
	test "$(metric 'walcast_relay_messages_total{slot="walcast"}')" -ge 2000
wc_check "another path is 404" grep -q '^# /other: 404$' "$out/metrics"

echo "--- 6. a subscriber says Hello twice on one connection"
wc_stop_pid "$wc_relay_pid" || true
streams=$(wc_streams_started)
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber a --subscriber h \
	--subscriber r
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to stream again" wc_streaming_again "$streams"
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref6', 'walcast')" >/dev/null
(exec "$wc_python" "$repo/regress/py/relay_check.py" durable \
	--endpoint "$wc_durable" --name r --out "$out/r" --credit 20 --hello-twice \
	2>>"$out/r.err") &
pids+=("$!")
for i in $(seq 8000 8029); do
	insert_rows "$i" "$i" 10
done
wc_reference ref6
wc_wait_for 30 "r to apply the last of the 30 transactions" \
	grep -qx "$ref_last" "$out/r"
wc_check "r got the 30 transactions once, in order, though it said Hello twice" \
	cmp "$out/ref" <(tail -c "$(stat -c %s "$out/ref")" "$out/r")
wc_check "r was not refused as a second process under its name" \
	bash -c "! grep -q 'durable subscriber \"r\" is already connected' '$wc_scratch/relay.log'"

echo "--- 7. walcast tail notices a relay restart from its connection"
wc_stop_pid "$wc_relay_pid" || true
streams=$(wc_streams_started)
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber t
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to stream again" wc_streaming_again "$streams"
"$wc_walcast" tail --durable t -e "$wc_durable" >"$out/t" 2>"$out/t.err" &
pids+=("$!")
insert_rows 9000 9000 10
wc_wait_for 20 "t to get a transaction" grep -q '"commit"' "$out/t"
commits=$(grep -c '"commit"' "$out/t")
sessions=$(grep -c 'durable subscriber "t" connected' "$wc_scratch/relay.log")
# t has acknowledged everything: nothing of its own is waiting to be sent
sleep 1.5
kill -KILL "$wc_relay_pid"
wait "$wc_relay_pid" 2>/dev/null || true
started=$(date +%s%N)
wc_relay_start relay -d "dbname=postgres" -s 1 --subscriber t
pids+=("$wc_relay_pid")
t_back()
{
	[ "$(grep -c 'durable subscriber "t" connected' "$wc_scratch/relay.log")" -gt "$sessions" ]
}
for ((i = 0; i < 400; i++)); do
	t_back && break
	sleep 0.05
done
waited_ms=$((($(date +%s%N) - started) / 1000000))
echo "t's session was back $waited_ms ms after the relay started again"
wc_check "t said Hello when its connection came back: its session resumed within 3 s of the restart ($waited_ms ms), not after 5 s of silence" \
	test "$waited_ms" -lt 3000
t_has_more()
{
	[ "$(grep -c '"commit"' "$out/t")" -gt "$commits" ]
}
insert_rows 9001 9001 10
wc_wait_for 20 "t to get the next transaction" t_has_more
wc_check "t got the transaction committed after the restart" t_has_more

wc_check_summary
