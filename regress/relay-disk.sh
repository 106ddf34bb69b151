#!/usr/bin/env bash
#
# regress/relay-disk.sh: a full disk loses nothing
#
# A relay with durable subscriber "c" (walcast tail --durable) reads a
# throwaway cluster; a reference slot beside it is read through the SQL
# interface at the end.
#
#   1. The relay's state file lives on a small file system (a 256 kB tmpfs)
#      that is then filled up.  The relay says, in PostgreSQL's words, that
#      it cannot write the state file and that it does not confirm what it
#      could not record; it goes on delivering, but the slot's confirmed
#      position stays where it was.  Once there is room again it records
#      the state and confirms up to the end.
#   2. walcast tail --durable writes to a full device (/dev/full: every
#      write fails with ENOSPC).  It exits with status 1 saying so, and
#      acknowledges nothing it could not write: the relay's record of it
#      stays put.  Started again with room, it gets those transactions.
#
# In the end c holds exactly the reference's transactions: every one,
# once, in order.  Needs root (or sudo) to mount the tmpfs; without it the
# test fails, saying so.  KEEP=1 keeps the scratch directory.
#
set -euo pipefail

prog=regress/relay-disk.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

wc_relay_test_setup

small=$wc_scratch/small
mkdir -p "$small"
as_root=()
wc_is_root || as_root=(sudo -n)
"${as_root[@]}" mount -t tmpfs -o size=256k,mode=0777 walcast-test "$small" ||
	wc_die "could not mount a 256 kB tmpfs on \"$small\" to fill up: run as root or with sudo"
# the relay first (reaped quietly): it may hold a file there open
trap '{ wc_kill_pids; [ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"; } 2>/dev/null
	"${as_root[@]}" umount "$small" || "${as_root[@]}" umount -l "$small" || true
	wc_cleanup' EXIT

state=$small/relay.state
log=$wc_scratch/relay.log

wc_psql -q -c "CREATE TABLE d (id int PRIMARY KEY, v text)"
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null

# transactions FIRST LAST: one insert transaction per id
transactions()
{
	local i

	for ((i = $1; i <= $2; i++)); do
		echo "INSERT INTO d VALUES ($i, 'row $i');"
	done | wc_psql -q
}

# commits N: whether c's output (walcast tail --envelope=base64, read into
# $out/c by relay_check.py) holds N transactions
commits()
{
	"$wc_python" "$repo/regress/py/relay_check.py" tail --out "$out/c" \
		<"$out/c.json" 2>/dev/null &&
		wc_commits_at_least "$out/c" "$1"
}

# state_of NAME: the relay's recorded acknowledgement of subscriber NAME
state_of()
{
	awk -v name="$1" '$1 == "subscriber" && $2 == name { print $3 }' "$state"
}

wc_relay_start relay -d "dbname=postgres" --create-slot -s 1 \
	--state-file "$state" --subscriber c
pids+=("$wc_relay_pid")
relay_pid=$wc_relay_pid
wc_wait_for 20 "the relay's slot" wc_log_has "$log" 'streaming from replication slot'
"$wc_walcast" tail --durable c -e "$wc_durable" --envelope=base64 >>"$out/c.json" 2>>"$out/c.err" &
c_pid=$!
pids+=("$c_pid")

transactions 1 20
end=$(wc_psql -At -c "SELECT pg_current_wal_lsn()")
wc_wait_for 20 "c to get 20 transactions" commits 20
wc_wait_for 20 "the slot to be confirmed past the first 20" wc_slot_at_least walcast "$end"

echo "--- 1. the relay's state file on a full file system"
# Twice: a state file renamed over the old one while the first dd ran
# frees the old one's page afterwards.  Then a status interval, so that
# no update sent before the disk was full is still on its way.
dd if=/dev/zero of="$small/filler" bs=4k 2>/dev/null || true
sleep 1.5
dd if=/dev/zero of="$small/filler2" bs=4k 2>/dev/null || true
left=$(df -k --output=avail "$small" | tail -n 1 | tr -d ' ')
echo "filled $small: $left kB left"
[ "$left" -eq 0 ] || wc_die "could not fill $small: $left kB left"
sleep 1
confirmed=$(wc_slot_lsn walcast)
errors_before=$(grep -c 'could not write state file' "$log" || true)
transactions 21 40
end=$(wc_psql -At -c "SELECT pg_current_wal_lsn()")
wc_wait_for 20 "c to get 40 transactions" commits 40
full_error()
{
	[ "$(grep -c "could not write state file \"$state.tmp\": No space left on device" "$log")" -gt "$errors_before" ]
}
wc_wait_for 20 "the relay to fail to record its state" full_error
sleep 2								# two more status intervals
wc_check "the relay said: could not write state file \"…/relay.state.tmp\": No space left on device" \
	full_error
wc_check "and why that matters: it does not confirm what it could not record" \
	wc_log_has "$log" "detail: The relay does not confirm positions it could not record; the server keeps the WAL."
wc_check "it kept delivering: c got all 40 transactions" commits 40
wc_check "the slot is still confirmed at $confirmed, before the last 20 transactions" \
	test "$(wc_slot_lsn walcast)" = "$confirmed"
wc_check "the relay is still running" kill -0 "$relay_pid"

rm -f "$small/filler" "$small/filler2"
echo "freed $small"
wc_wait_for 20 "the slot to be confirmed to the end" wc_slot_at_least walcast "$end"
wc_check "with room again, it recorded its state and confirmed the slot to the end ($end)" \
	wc_slot_at_least walcast "$end"

echo "--- 2. walcast tail --durable writing to a full device"
wc_check "walcast tail stops on SIGTERM with exit status 0" wc_stop_pid "$c_pid"
acked=$(state_of c)
transactions 41 50
set +e
timeout 30 "$wc_walcast" tail --durable c -e "$wc_durable" --envelope=base64 >/dev/full 2>"$out/full.err"
rc=$?
set -e
echo "walcast tail exited with status $rc: $(head -n 1 "$out/full.err")"
wc_check "it exited with status 1" test "$rc" -eq 1
wc_check "saying: could not write to standard output: No space left on device" \
	grep -q '^walcast: error: could not write to standard output: No space left on device$' "$out/full.err"
sleep 2								# two status intervals, to record an ack
wc_check "it acknowledged nothing: the relay's record of c is still $acked" \
	test "$(state_of c)" = "$acked"
"$wc_walcast" tail --durable c -e "$wc_durable" --envelope=base64 --idle-exit 3 \
	>>"$out/c.json" 2>>"$out/c.err" || wc_die "walcast tail exited with status $?"
wc_check "started again with room, c got the 10 transactions it could not write" \
	commits 50

wc_reference ref
commits 50 || wc_die "could not read c's output"
wc_check "c holds every transaction of the reference ($(grep -c '^COMMIT ' "$out/ref")) once, in order" \
	cmp "$out/ref" "$out/c"
wc_check "the relay reported no error but the full disk's" \
	bash -c "! grep ': error: ' '$log' | grep -v -q 'No space left on device'"

wc_check_summary
