#!/usr/bin/env bash
#
# regress/relay-errors.sh: what each kind of bad input gets from the relay
#
# While a durable subscriber receives a stream of transactions, the relay
# is sent garbage on both sockets (random bytes on plain TCP, a message
# that is not a subscription, a frame that is not a SubscriberMessage,
# three frames at once), a wrong token, an undeclared name and a second
# process under a live name: each is refused or ignored with a clear
# message, and the subscriber still gets every transaction.  Then the
# slot's troubles, each a loud stop with exit status 3 and a hint to
# resynchronize: the slot dropped, the slot created again, a state file of
# another server, the slot invalidated (max_slot_wal_keep_size).  And the user's mistakes, exit status 2: an option the
# plugin does not know, a bad option value, a missing slot without
# --create-slot, a state file that is not one.  A wrong password is a
# clear error the relay retries, serving its sockets meanwhile.
#
set -euo pipefail

prog=regress/relay-errors.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

check_py="$repo/regress/py/relay_check.py"

# run_relay NAME ARGS...: run a relay with subscriber "good" in the
# foreground (it must stop by itself within 20 s); sets $rc and leaves its
# stderr in $out/NAME.err
run_relay()
{
	local name=$1

	shift
	mkdir -p "$wc_scratch/relay"
	set +e
	(cd "$wc_scratch/relay" && timeout 20 "$wc_walcast" relay -p "$wc_pub" \
		--durable "$wc_durable" --subscriber good "$@") \
		>/dev/null 2>"$out/$name.err"
	rc=$?
	set -e
}

wc_relay_test_setup

wc_psql -q -c "CREATE TABLE e (id int PRIMARY KEY, v text)"

echo "--- garbage and refusals while a subscriber is served"
wc_relay_start relay -d "dbname=postgres" --create-slot -s 1 \
	--subscriber good --subscriber locked:s3cret
pids+=("$wc_relay_pid")
relay_pid=$wc_relay_pid
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null
"$wc_python" "$check_py" durable --endpoint "$wc_durable" --name good \
	--out "$out/good" 2>>"$out/good.err" &
good_pid=$!
pids+=("$good_pid")

for i in $(seq 1 20); do
	wc_psql -q -c "INSERT INTO e VALUES ($i, 'before')"
done
"$wc_python" "$check_py" garbage --endpoint "$wc_pub" --kind raw
"$wc_python" "$check_py" garbage --endpoint "$wc_durable" --kind raw
"$wc_python" "$check_py" garbage --endpoint "$wc_pub" --kind xsub
answer_bytes=$("$wc_python" "$check_py" garbage --endpoint "$wc_durable" --kind bytes)
answer_frames=$("$wc_python" "$check_py" garbage --endpoint "$wc_durable" --kind frames)
set +e
"$wc_python" "$check_py" durable --endpoint "$wc_durable" --name locked \
	--token wrong --out "$out/locked" 2>"$out/locked.err"
rc_token=$?
"$wc_python" "$check_py" durable --endpoint "$wc_durable" --name stranger \
	--out "$out/stranger" 2>"$out/stranger.err"
rc_stranger=$?
"$wc_walcast" tail --durable good -e "$wc_durable" --idle-exit 40 >/dev/null 2>"$out/second.err"
rc_second=$?
set -e
for i in $(seq 21 40); do
	wc_psql -q -c "INSERT INTO e VALUES ($i, 'after')"
done

wc_check "a frame that is not a SubscriberMessage is answered REASON_PROTOCOL" \
	test "$answer_bytes" = "REASON_PROTOCOL: a message that is not a SubscriberMessage"
wc_check "three frames at once are answered REASON_PROTOCOL" \
	test "$answer_frames" = "REASON_PROTOCOL: a message with the wrong number of frames"
wc_check "the relay logs what it ignored on the durable socket" \
	wc_log_has "$wc_scratch/relay.log" 'warning: ignored a message that is not a SubscriberMessage on the durable socket'
wc_check "and on the publish socket" \
	wc_log_has "$wc_scratch/relay.log" 'warning: ignored a message of .* bytes on the publish socket that is not a subscription'
wc_check "a wrong token is refused (REASON_BAD_TOKEN, exit 2)" \
	bash -c "[ $rc_token -eq 2 ] && grep -q 'REASON_BAD_TOKEN: token authentication failed for durable subscriber \"locked\"' '$out/locked.err'"
wc_check "an undeclared name is refused (REASON_UNKNOWN_SUBSCRIBER) with a hint in the log" \
	bash -c "[ $rc_stranger -eq 2 ] && grep -q 'REASON_UNKNOWN_SUBSCRIBER: durable subscriber \"stranger\" is not configured' '$out/stranger.err' &&
		grep -q 'hint: Start the relay with --subscriber stranger to declare it.' '$wc_scratch/relay.log'"
wc_check "a second live process under the name \"good\" is refused (REASON_BUSY) after retrying" \
	bash -c "[ $rc_second -eq 1 ] && grep -q 'durable subscriber \"good\" is already connected' '$out/second.err'"
wc_check "the relay is still running" kill -0 "$relay_pid"

wc_reference ref
wc_wait_for 30 "the good subscriber to apply the last transaction" \
	grep -qx "$ref_last" "$out/good"
wc_check "the good subscriber got every transaction once, in order, meanwhile" \
	cmp "$out/ref" "$out/good"
kill -TERM "$good_pid"
wc_stop_pid "$relay_pid" || true

echo "--- the slot's troubles: exit status 3"
state=$wc_scratch/relay/walcast-walcast.state
cp "$state" "$out/state.saved"
wc_psql -q -c "SELECT pg_drop_replication_slot('walcast')" >/dev/null
run_relay dropped -d "dbname=postgres" --create-slot -s 1
wc_check "a dropped slot stops the relay with exit status 3" test "$rc" -eq 3
wc_check "saying so, with a hint to resynchronize" \
	bash -c "grep -q 'error: replication slot \"walcast\" does not exist' '$out/dropped.err' &&
		grep -q 'detail: It was dropped after this relay last read it.' '$out/dropped.err' &&
		grep -q 'hint: The changes since the relay.s last confirmed position .* cannot be read. Resynchronize the subscribers' '$out/dropped.err'"

wc_psql -q -c "INSERT INTO e VALUES (100, 'moves the WAL on')"
wc_psql -q -c "SELECT pg_create_logical_replication_slot('walcast', 'walcast')" >/dev/null
run_relay recreated -d "dbname=postgres" -s 1
wc_check "a slot dropped and created again stops the relay with exit status 3" test "$rc" -eq 3
wc_check "saying the slot is past the relay's position" \
	grep -q "error: replication slot \"walcast\" is at .*, past the relay's last confirmed position" "$out/recreated.err"

sed -i 's/^system_identifier .*/system_identifier 12345/' "$state"
run_relay other -d "dbname=postgres" -s 1
wc_check "a state file of another server stops the relay with exit status 3" test "$rc" -eq 3
wc_check "saying so" \
	bash -c "grep -q 'error: replication slot \"walcast\" is on another server' '$out/other.err' &&
		grep -q 'detail: The state file .* was written for the server with system identifier 12345' '$out/other.err'"

echo "--- the user's mistakes: exit status 2"
rm -f "$state"
run_relay option -d "dbname=postgres" -s 1 -o no-such-option=1
wc_check "an option the plugin does not know: exit status 2" test "$rc" -eq 2
wc_check "with the plugin's message" \
	grep -q 'error: could not start replication: unrecognized option "no-such-option"' "$out/option.err"
run_relay value -d "dbname=postgres" --status-interval 0
wc_check "a bad option value: exit status 2" test "$rc" -eq 2
wc_check "saying which" grep -q 'error: --status-interval must be in range 1..3600' "$out/value.err"
run_relay noslot -d "dbname=postgres" -S missing
wc_check "a missing slot without --create-slot: exit status 2" test "$rc" -eq 2
wc_check "with the hint" \
	bash -c "grep -q 'error: replication slot \"missing\" does not exist' '$out/noslot.err' &&
		grep -q 'hint: Start the relay with --create-slot to create it.' '$out/noslot.err'"
echo "not a state file" >"$wc_scratch/relay/bogus.state"
run_relay bogus -d "dbname=postgres" --state-file bogus.state
wc_check "a file that is not a state file: exit status 2" test "$rc" -eq 2
wc_check "saying so" \
	grep -q 'error: state file "bogus.state" is not a walcast relay state file' "$out/bogus.err"

echo "--- an invalidated slot: exit status 3"
wc_relay_start_ephemeral relay -d "dbname=postgres" -S doomed --create-slot -s 1 \
	--state-file doomed.state
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay on slot doomed" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot "doomed"'
wc_stop_pid "$wc_relay_pid" || true
wc_psql -q -c "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'" -c "SELECT pg_reload_conf()" >/dev/null
for i in 1 2 3; do
	wc_psql -q -c "INSERT INTO e SELECT g, 'wal' FROM generate_series($((i * 1000)), $((i * 1000 + 999))) g ON CONFLICT DO NOTHING" \
		-c "SELECT pg_switch_wal()" >/dev/null
done
wc_psql -q -c "CHECKPOINT"
wc_check "the slot is invalidated (wal_status lost)" \
	test "$(wc_slot_lsn doomed wal_status)" = lost
run_relay invalidated -d "dbname=postgres" -S doomed -s 1 --state-file doomed.state
wc_check "an invalidated slot stops the relay with exit status 3" test "$rc" -eq 3
wc_check "saying so" \
	bash -c "grep -q 'error: replication slot \"doomed\" has been invalidated' '$out/invalidated.err' &&
		grep -q 'detail: The server removed WAL the slot still needed (see max_slot_wal_keep_size).' '$out/invalidated.err'"
wc_psql -q -c "ALTER SYSTEM RESET max_slot_wal_keep_size" -c "SELECT pg_reload_conf()" >/dev/null

echo "--- a wrong password"
wc_relay_start_ephemeral badpw -S walcast \
	-d "host=127.0.0.1 port=$wc_port user=postgres password=wrong dbname=postgres" \
	--state-file badpw.state
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay to report the failed login" \
	wc_log_has "$wc_scratch/badpw.log" 'password authentication failed for user "postgres"'
wc_check "a wrong password is reported as such" \
	wc_log_has "$wc_scratch/badpw.log" 'error: could not connect to server: .*password authentication failed for user "postgres"'
wc_check "and retried with backoff" \
	wc_log_has "$wc_scratch/badpw.log" 'notice: reconnecting in'
wc_check "while the relay keeps running" kill -0 "$wc_relay_pid"

wc_check_summary
