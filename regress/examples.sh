#!/usr/bin/env bash
#
# regress/examples.sh: the example subscribers (examples/) against the relay
#
# Starts a throwaway cluster (scripts/lib.sh), builds walcast and both
# examples, and runs `walcast relay` with durable subscribers "py" and
# "cpp" (each with a token) and free ZeroMQ ports.  Then:
#
#   (o) the examples' options are those examples/README.md documents
#   (d) wrong credentials first: a wrong token and an undeclared name make
#       each example exit with its own code and a clear message
#   (a) a mixed workload (many types, NULL, numeric, jsonb, arrays, bytea,
#       unicode; updates, deletes, a truncate, messages, a rolled-back
#       transaction and subtransaction), read by both examples in durable
#       mode afterwards and by both in ephemeral mode as it happens: all
#       four outputs are byte for byte the same
#   (b) that output is what was committed: the committed transactions'
#       xids in commit order, and the tables replayed from it equal the
#       database's rows, value for value (regress/examples-check.py)
#   (c) 200 small transactions; the Python example is killed with SIGKILL
#       midway and started again: across both runs every transaction comes
#       exactly once, in order, and the output equals the C++ example's,
#       which ran through
#   (e) 300 more while the relay is killed with SIGKILL (the examples see
#       their connection drop) and started again, then stopped with SIGTERM
#       (they are told REASON_SHUTDOWN, or see the connection drop first)
#       and started again: both examples get every transaction once, in
#       order, byte for byte the same
#   (f) the relay stopped (SIGSTOP) for 8 s, alive but silent: after 6 s
#       without a word both examples give up the session, connect again,
#       and once it goes on (SIGCONT) get the transaction made meanwhile
#   (h) idle examples of a relay with the default --session-timeout (30 s:
#       they ping every 10 s and wait 60 s for a word): the relay killed
#       and started again, both are back in a session within 3 s, as they
#       say Hello when their connection comes back
#   (i) standard output on a full device (/dev/full): each example exits 1
#       saying "could not write to standard output: No space left on
#       device" and acknowledges nothing; started again with room, it
#       prints the transaction it could not
#   (g) a relay with --max-lag 64kB evicts both (offline) examples during a
#       large transaction: each is refused with REASON_EVICTED and exits 3
#
# Prints what each check checks; exits 1 on the first failure.  KEEP=1
# keeps the scratch directory.
#
set -euo pipefail

prog=regress/examples.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

py=/usr/bin/python3				# Debian's, which has python3-zmq and python3-protobuf
py_sub=$repo/examples/python/walcast_subscriber.py
cpp_sub=$repo/examples/cpp/build/walcast_subscriber
check=$repo/regress/examples-check.py
burst=200

# (o) every option of either example is in examples/README.md, and every
# option documented there exists in the Python one (and, but for the
# Python-only --proto-*, in the C++ one)
documented=$(grep '^| `-' "$repo/examples/README.md" | cut -d '|' -f 2 |
	grep -o -- '--[a-z-]*' | sort -u)
py_options=$(grep -o 'add_argument("-*[a-z-]*"\(, "--[a-z-]*"\)\?' "$py_sub" |
	grep -o -- '--[a-z-]*' | sort -u)
cpp_options=$(sed -n '/long_options\[\] = {/,/};/p' \
	"$repo/examples/cpp/walcast_subscriber.cpp" | grep -o '{"[a-z-]*"' |
	sed 's/{"/--/; s/"//' | sort -u)
if [ -z "$py_options" ] || [ -z "$cpp_options" ] || [ -z "$documented" ]; then
	wc_die "(o) could not read the examples' options"
fi
[ "$py_options" = "$documented" ] ||
	wc_die "(o) options of the Python example and of examples/README.md differ:
$(diff <(echo "$py_options") <(echo "$documented"))"
[ "$cpp_options" = "$(echo "$documented" | grep -v -- '--proto-')" ] ||
	wc_die "(o) options of the C++ example and of examples/README.md differ:
$(diff <(echo "$cpp_options") <(echo "$documented" | grep -v -- '--proto-'))"
echo "(o) the $(echo "$documented" | wc -l) options of the examples are those documented in examples/README.md"

"$py" -c 'import zmq, google.protobuf' 2>/dev/null ||
	wc_die "$py cannot import zmq and google.protobuf (Debian: python3-zmq, python3-protobuf)"
wc_build || wc_die "could not build walcast"
make -s -j2 -C "$repo/examples/cpp" || wc_die "could not build examples/cpp"

pids=()
cleanup()
{
	local pid

	for pid in "${pids[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	wc_cleanup
}

wc_ensure_user
wc_make_scratch
trap cleanup EXIT
trap 'exit 130' INT TERM
wc_make_install
wc_cluster_init "$repo/regress/logical.conf"
wc_cluster_start

out=$wc_scratch/out
mkdir -p "$out"
pub_port=$(wc_free_port 26000)
durable_port=$(wc_free_port $((pub_port + 1)))
publish=tcp://127.0.0.1:$pub_port
durable=tcp://127.0.0.1:$durable_port
export WALCAST_PROTO_PYTHON=$wc_scratch/pygen	# generated by the first run

fail()
{
	echo "$prog: FAILED: $*"
	for f in "$out"/*.err "$out/relay.log"; do
		[ -s "$f" ] || continue
		echo "---- ${f#"$out"/} (last 20 lines)"
		tail -n 20 "$f"
	done
	exit 1
}

# sub_py NAME OUT ARGS... / sub_cpp NAME OUT ARGS...: run an example in
# durable mode with its token and state file, stdout to $out/OUT.out
#
# Started with "&" a function runs in a subshell, whose pid $! is; killing
# it would leave the example running.  So in a subshell the example
# replaces it (exec), and $! is the example's pid.
sub_run()
{
	local name=$1 o=$2
	shift 2
	if [ "$BASHPID" != "$$" ]; then
		exec "${sub_cmd[@]}" --endpoint "$durable" --name "$name" \
			--token "$name-secret" --state "$out/$name.state" "$@" \
			>>"$out/$o.out" 2>>"$out/$o.err"
	fi
	"${sub_cmd[@]}" --endpoint "$durable" --name "$name" \
		--token "$name-secret" --state "$out/$name.state" "$@" \
		>>"$out/$o.out" 2>>"$out/$o.err"
}
sub_py()
{
	local sub_cmd=("$py" "$py_sub")
	sub_run "$@"
}
sub_cpp()
{
	local sub_cmd=("$cpp_sub")
	sub_run "$@"
}

# start_pair OUT ARGS...: both examples in durable mode in the background
# (as py and cpp), writing $out/py-OUT.out and $out/cpp-OUT.out; sets
# $py_bg and $cpp_bg to their pids
start_pair()
{
	local o=$1

	shift
	sub_py py "py-$o" "$@" &
	py_bg=$!
	sub_cpp cpp "cpp-$o" "$@" &
	cpp_bg=$!
	pids+=("$py_bg" "$cpp_bg")
}

# start_relay [OPTION...]: start the relay (again), with more options, and
# wait until it streams
start_relay()
{
	local n

	n=$(grep -c 'streaming from replication slot' "$out/relay.log" 2>/dev/null || true)
	"$repo/consumer/walcast" relay -d "dbname=postgres" --create-slot -s 1 \
		--subscriber py:py-secret --subscriber cpp:cpp-secret \
		--publish "$publish" --durable "$durable" \
		--session-timeout "${session_timeout:-3}" \
		--state-file "$wc_scratch/relay.state" "$@" >>"$out/relay.log" 2>&1 &
	relay_pid=$!
	pids+=("$relay_pid")
	for _ in $(seq 100); do
		[ "$(grep -c 'streaming from replication slot' "$out/relay.log")" -gt "${n:-0}" ] &&
			return 0
		kill -0 "$relay_pid" 2>/dev/null || fail "the relay exited"
		sleep 0.1
	done
	fail "the relay did not start streaming within 10 s"
}

# burst TABLE COUNT: insert rows 1..COUNT into TABLE, one transaction each,
# 10 ms apart, in the background ($workload)
burst()
{
	local i

	wc_psql -q -c "CREATE TABLE $1 (id int PRIMARY KEY, v text)"
	for i in $(seq "$2"); do
		echo "INSERT INTO $1 VALUES ($i, 'row $i');"
		echo "SELECT pg_sleep(0.01);"
	done | wc_psql -q -o /dev/null &
	workload=$!
	pids+=("$workload")
}

# wait_lines FILE N: wait up to 15 s until FILE has N lines
wait_lines()
{
	for _ in $(seq 300); do
		[ "$(wc -l <"$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	fail "${1#"$out"/} has only $(wc -l <"$1") lines after 15 s, expected $2"
}

# connections NAME: how many sessions the relay has opened for NAME so far
connections()
{
	grep -c "durable subscriber \"$1\" connected" "$out/relay.log" || true
}

# wait_reconnected PY CPP: wait up to 15 s until both examples have opened
# a session since they had PY and CPP
wait_reconnected()
{
	for _ in $(seq 150); do
		[ "$(connections py)" -gt "$1" ] && [ "$(connections cpp)" -gt "$2" ] &&
			return 0
		sleep 0.1
	done
	fail "the examples did not reconnect to the relay within 15 s"
}

start_relay
echo "relay: publishing on $publish, durable subscribers py and cpp on $durable"

# (d) wrong credentials: each example exits with its code and says why
expect_refusal()
{
	local what=$1 code=$2 pattern=$3 rc
	shift 3

	set +e
	timeout 20 "$@" >/dev/null 2>"$out/refused.err"
	rc=$?
	set -e
	[ "$rc" -eq "$code" ] ||
		fail "$what: exit status $rc, expected $code; stderr: $(cat "$out/refused.err")"
	grep -q "^walcast_subscriber: error: .*$pattern" "$out/refused.err" ||
		fail "$what: no clear message; stderr: $(cat "$out/refused.err")"
	echo "$what: exit $rc, \"$(head -n 1 "$out/refused.err")\""
}
for lang in python cpp; do
	if [ $lang = python ]; then
		cmd=("$py" "$py_sub")
	else
		cmd=("$cpp_sub")
	fi
	expect_refusal "(d) $lang, wrong token" 5 'token authentication failed' \
		"${cmd[@]}" --endpoint "$durable" --name py --token wrong
	expect_refusal "(d) $lang, undeclared name" 4 '"nobody" is not configured' \
		"${cmd[@]}" --endpoint "$durable" --name nobody
done

# (a) the mixed workload; ephemeral subscribers listen while it runs
"$py" "$py_sub" --publish "$publish" --topic postgres. --exit-after-idle 6 \
	>"$out/py-ephemeral.out" 2>"$out/py-ephemeral.err" &
pids+=($!)
py_eph=$!
"$cpp_sub" --publish "$publish" --exit-after-idle 6 \
	>"$out/cpp-ephemeral.out" 2>"$out/cpp-ephemeral.err" &
pids+=($!)
cpp_eph=$!
sleep 1								# let the subscriptions reach the relay

wc_psql -q -At >"$out/xids" <<'EOF_SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
    id   int PRIMARY KEY,
    b    boolean,
    i2   smallint,
    i8   bigint,
    f4   real,
    f8   double precision,
    n    numeric,
    t    text,
    vc   varchar(20),
    c    char(4),
    by   bytea,
    u    uuid,
    j    jsonb,
    d    date,
    ts   timestamp,
    tz   timestamptz,
    iv   interval,
    e    mood,
    ai   int[],
    at   text[],
    net  inet,
    big  text
);
ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE "Other Table" (k int PRIMARY KEY, "v""q" text);
ALTER TABLE "Other Table" REPLICA IDENTITY FULL;

BEGIN;
INSERT INTO items VALUES (1, true, -32768, 9223372036854775807, 1.1, 0.1,
    12.3400, E'h\u00e9llo "w\u00f6rld" \\ tab\there\nline \u2603 \U0001F600 \x01\x1f',
    'varchar', 'ab', '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '{"k": [1, 2.5, null], "s": "\u00fc"}', '2024-02-29',
    '2024-02-29 12:34:56.789012', '1999-12-31 23:59:59.999999+00',
    '1 year 2 mons 3 days 04:05:06.789', 'happy', '{{1,2,3},{4,NULL,6}}',
    '{"a","b c",NULL,"q\"uote"}', '192.168.0.1/24', NULL);
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
INSERT INTO items (id) VALUES (2);
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
INSERT INTO items VALUES (3, false, 0, -9223372036854775808, 'NaN', '-Infinity',
    '-12345678901234567890.123456789000', '', '', '', '', NULL, '[]',
    '1970-01-01', '1970-01-01 00:00:00', '2038-01-19 03:14:08+00', '-1 day',
    'sad', '{}', '{}', '::1', repeat(md5('walcast'), 400));
INSERT INTO items (id, f4, f8, n) VALUES (4, 'Infinity', 1e300, 'NaN'),
    (5, -0.0, 2.2250738585072014e-308, '1e-20'), (6, 3.4028235e38, 1e16, 0),
    (7, 4194303.75, 5e-324, 1), (8, (2.0 ^ -96)::real, 2.0 ^ 60, 2);
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
INSERT INTO items (id, i8, t, f8, ai, ts)
    SELECT g, g * 1000003, 'row ' || g, g / 7.0, ARRAY[g, g * 2],
           '2024-01-01'::timestamp + g * interval '1 hour'
      FROM generate_series(10, 29) g;
UPDATE items SET t = 'updated in the same transaction' WHERE id = 11;
DELETE FROM items WHERE id = 12;
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
UPDATE items SET i8 = i8 + 1 WHERE id = 3;
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
UPDATE items SET id = 100 WHERE id = 13;
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
DELETE FROM items WHERE id IN (14, 15);
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
INSERT INTO items (id, t) VALUES (999, 'rolled back');
DELETE FROM items WHERE id = 1;
SELECT 'rolledback ' || pg_current_xact_id();
ROLLBACK;
BEGIN;
SELECT pg_logical_emit_message(true, 'walcast.example', '\x00ff'::bytea) IS NULL;
INSERT INTO "Other Table" VALUES (1, 'a'), (2, 'b"c');
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
SELECT pg_logical_emit_message(false, 'walcast.example', 'not in a transaction') IS NULL;
BEGIN;
UPDATE "Other Table" SET "v""q" = 'changed' WHERE k = 1;
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
DELETE FROM "Other Table" WHERE k = 2;
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
TRUNCATE "Other Table";
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
BEGIN;
INSERT INTO "Other Table" VALUES (3, 'after the truncate');
INSERT INTO items (id, t) VALUES (40, 'before a savepoint');
SAVEPOINT s;
INSERT INTO items (id, t) VALUES (41, 'rolled back to the savepoint');
ROLLBACK TO s;
INSERT INTO items (id, t) VALUES (42, 'after the savepoint');
SELECT 'xid ' || pg_current_xact_id();
COMMIT;
EOF_SQL
echo "(a) workload: $(grep -c '^xid ' "$out/xids") committed transactions, one rolled back, one message outside a transaction"

# both examples in durable mode, together, until idle
start_pair durable --exit-after-idle 3
for pid in $py_bg $cpp_bg $py_eph $cpp_eph; do
	wait "$pid" || fail "an example subscriber exited with status $?"
done
[ -s "$out/py-durable.out" ] || fail "the Python example printed nothing"
for o in cpp-durable py-ephemeral cpp-ephemeral; do
	cmp -s "$out/py-durable.out" "$out/$o.out" || {
		diff "$out/py-durable.out" "$out/$o.out" | head -n 20 | cut -c 1-400
		fail "(a) the outputs of py-durable and $o differ"
	}
done
echo "(a) Python and C++, durable and ephemeral: the same $(wc -l <"$out/py-durable.out") lines, byte for byte"

# (b) the output is what was committed, value for value
wc_psql -At >"$out/items.json" <<'EOF_SQL'
SELECT json_build_object(
    'id', id, 'b', b, 'i2', i2, 'i8', i8, 'f4', f4::text, 'f8', f8::text,
    'n', n::text, 't', t, 'vc', vc, 'c', to_json(c), 'by', encode(by, 'hex'),
    'u', u::text, 'j', j::text, 'd', d - date '1970-01-01',
    'ts', (extract(epoch FROM ts) * 1000000)::bigint,
    'tz', (extract(epoch FROM tz) * 1000000)::bigint,
    'iv', CASE WHEN iv IS NOT NULL THEN json_build_object(
        'months', extract(year FROM iv) * 12 + extract(month FROM iv),
        'days', extract(day FROM iv),
        'microseconds', (extract(hour FROM iv) * 3600 + extract(minute FROM iv) * 60
                         + extract(second FROM iv)) * 1000000) END,
    'e', e::text,
    'ai', CASE WHEN ai IS NOT NULL THEN json_build_object(
        'dims', (SELECT coalesce(json_agg(array_length(ai, k) ORDER BY k), '[]')
                   FROM generate_series(1, array_ndims(ai)) k),
        'elements', (SELECT coalesce(json_agg(x), '[]') FROM unnest(ai) x)) END,
    'at', CASE WHEN at IS NOT NULL THEN json_build_object(
        'dims', (SELECT coalesce(json_agg(array_length(at, k) ORDER BY k), '[]')
                   FROM generate_series(1, array_ndims(at)) k),
        'elements', (SELECT coalesce(json_agg(x), '[]') FROM unnest(at) x)) END,
    'net', CASE WHEN net IS NOT NULL THEN format('%s', net) END, 'big', big)
FROM items ORDER BY id;
EOF_SQL
wc_psql -At -c "SELECT json_build_object('k', k, 'v\"q', \"v\"\"q\") FROM \"Other Table\" ORDER BY k" \
	>"$out/other.json"
echo "(b) checking the output against the committed transactions and the tables' rows"
"$py" "$check" content "$out/py-durable.out" "$out/xids" "$out/items.json" \
	"$out/other.json" || fail "(b) the output is not what was committed"

# (c) SIGKILL the Python example midway through $burst transactions
sub_cpp cpp cpp-burst --exit-after-idle 4 &
pids+=($!)
cpp_burst=$!
sub_py py py-burst --credit 10 &
pids+=($!)
py_burst=$!
burst burst "$burst"
wait_lines "$out/py-burst.out" 50
kill -9 "$py_burst"
wait "$py_burst" 2>/dev/null || true
echo "(c) killed the Python example with SIGKILL after $(wc -l <"$out/py-burst.out") of $burst transactions"
sub_py py py-burst --credit 10 --exit-after-idle 3 ||
	fail "(c) the restarted Python example exited with status $?"
wait "$workload" || fail "(c) the workload failed"
wait "$cpp_burst" || fail "(c) the C++ example exited with status $?"
"$py" "$check" once "$out/py-burst.out" public.burst "$burst" ||
	fail "(c) the Python example's output across the kill is not each transaction once"
cmp -s "$out/py-burst.out" "$out/cpp-burst.out" ||
	fail "(c) the Python example's output across the kill differs from the C++ one's"
echo "(c) across the kill: the same $burst transactions as the C++ example, byte for byte"

# (e) the relay killed (SIGKILL) and stopped (SIGTERM) under both examples

# noticed_stop OUT: how many times the example writing OUT said that the
# relay stopped or that its connection dropped
noticed_stop()
{
	grep -c -e 'relay refused: the relay is shutting down; retrying' \
		-e 'lost the connection to the relay; saying Hello when it is back' \
		"$out/$1.err" || true
}
start_pair relay --exit-after-idle 6 -v
burst burst2 $((burst + 100))
wait_lines "$out/py-relay.out" 30
kill -9 "$relay_pid"
{ wait "$relay_pid"; } 2>/dev/null || true
echo "(e) killed the relay with SIGKILL after $(wc -l <"$out/py-relay.out") of $((burst + 100)) transactions, started it again"
sessions=("$(connections py)" "$(connections cpp)")
start_relay
wait_reconnected "${sessions[@]}"
declare -A noticed
for o in py-relay cpp-relay; do
	grep -q 'lost the connection to the relay; saying Hello when it is back' "$out/$o.err" ||
		fail "(e) $o did not see its connection to the killed relay drop"
	noticed[$o]=$(noticed_stop "$o")
done
wait_lines "$out/py-relay.out" $(($(wc -l <"$out/py-relay.out") + 30))
kill -TERM "$relay_pid"
wait "$relay_pid" || fail "(e) the relay exited with status $? on SIGTERM"
echo "(e) stopped the relay with SIGTERM after $(wc -l <"$out/py-relay.out") of $((burst + 100)) transactions, started it again"
sessions=("$(connections py)" "$(connections cpp)")
start_relay
wait_reconnected "${sessions[@]}"
for o in py-relay cpp-relay; do
	# The relay says REASON_SHUTDOWN before it closes the connection, but
	# what was not read yet when the connection drops is discarded
	# (ZMQ_IMMEDIATE): a busy example may never read it.  Either way it
	# must have noticed.
	[ "$(noticed_stop "$o")" -gt "${noticed[$o]}" ] ||
		fail "(e) $o noticed neither REASON_SHUTDOWN nor its connection dropping when the relay stopped"
done
wait "$workload" || fail "(e) the workload failed"
for pid in $py_bg $cpp_bg; do
	wait "$pid" || fail "(e) an example subscriber exited with status $?"
done
for o in py-relay cpp-relay; do
	"$py" "$check" once "$out/$o.out" public.burst2 $((burst + 100)) ||
		fail "(e) $o did not get each transaction once across the relay's restarts"
done
cmp -s "$out/py-relay.out" "$out/cpp-relay.out" ||
	fail "(e) the outputs of Python and C++ across the relay's restarts differ"
echo "(e) both examples reconnected after the relay's SIGKILL and SIGTERM; the same $((burst + 100)) transactions, byte for byte"

# (f) the relay stopped longer than the examples wait for a word from it,
# its connections open: they give up the session and connect again
sessions=("$(connections py)" "$(connections cpp)")
start_pair silence -v
wait_reconnected "${sessions[@]}"
kill -STOP "$relay_pid"
wc_psql -q -c "CREATE TABLE silence (id int PRIMARY KEY)" \
	-c "INSERT INTO silence SELECT generate_series(1, 20)"
echo "(f) stopped the relay with SIGSTOP, waiting 8 s before SIGCONT"
sleep 8
kill -CONT "$relay_pid"
wait_lines "$out/py-silence.out" 1
wait_lines "$out/cpp-silence.out" 1
kill -TERM "$py_bg" "$cpp_bg"
{ wait "$py_bg" "$cpp_bg"; } 2>/dev/null || true
for o in py-silence cpp-silence; do
	grep -q 'no word from the relay for 6 s; connecting again' "$out/$o.err" ||
		fail "(f) $o did not give up its session after 6 s of silence"
done
cmp -s "$out/py-silence.out" "$out/cpp-silence.out" ||
	fail "(f) the outputs of Python and C++ after the silence differ"
grep -q '"new":{"id":20}}\]}$' "$out/py-silence.out" ||
	fail "(f) the transaction made while the relay was down did not arrive whole"
echo "(f) both examples gave up the silent session after 6 s (twice --session-timeout), connected again and got the transaction made meanwhile"

# (h) a relay with the default session timeout killed under idle examples
kill -TERM "$relay_pid"
wait "$relay_pid" || fail "the relay exited with status $? on SIGTERM"
session_timeout=30 start_relay
sessions=("$(connections py)" "$(connections cpp)")
start_pair restart -v
wait_reconnected "${sessions[@]}"
sleep 1
kill -9 "$relay_pid"
{ wait "$relay_pid"; } 2>/dev/null || true
sessions=("$(connections py)" "$(connections cpp)")
session_timeout=30 start_relay
started=$(date +%s%N)
wait_reconnected "${sessions[@]}"
waited_ms=$((($(date +%s%N) - started) / 1000000))
kill -TERM "$py_bg" "$cpp_bg"
{ wait "$py_bg" "$cpp_bg"; } 2>/dev/null || true
[ "$waited_ms" -lt 3000 ] ||
	fail "(h) the examples were back in a session $waited_ms ms after the relay started again, not within 3 s"
for o in py-restart cpp-restart; do
	grep -q 'lost the connection to the relay; saying Hello when it is back' "$out/$o.err" ||
		fail "(h) $o did not see its connection to the killed relay drop"
done
echo "(h) idle under a relay with a 30 s session timeout, killed and started again: both examples were back in a session $waited_ms ms after it streamed again"

# (i) a full disk under the examples' output
wc_psql -q -c "CREATE TABLE full_disk (id int PRIMARY KEY)" \
	-c "INSERT INTO full_disk VALUES (1)"
for lang in py cpp; do
	ln -s /dev/full "$out/$lang-full.out"
	set +e
	"sub_$lang" "$lang" "$lang-full" --exit-after-idle 5
	rc=$?
	set -e
	[ "$rc" -eq 1 ] ||
		fail "(i) $lang: exit status $rc with its output on a full device, expected 1"
	grep -q '^walcast_subscriber: error: could not write to standard output: No space left on device$' \
		"$out/$lang-full.err" ||
		fail "(i) $lang: no clear message with its output on a full device"
	"sub_$lang" "$lang" "$lang-after-full" --exit-after-idle 3 ||
		fail "(i) $lang: exit status $? after the full device"
	grep -q '"table":"public.full_disk".*"new":{"id":1}}\]}$' "$out/$lang-after-full.out" ||
		fail "(i) $lang: the transaction it could not write did not come again"
	echo "(i) $lang: exit 1, \"$(head -n 1 "$out/$lang-full.err")\"; started again, it printed that transaction"
done

# (g) evicted while offline: a relay with --max-lag 64kB, both examples
# offline, a transaction of some 500 kB; each is refused and exits 3
kill -TERM "$relay_pid"
wait "$relay_pid" || fail "the relay exited with status $? on SIGTERM"
start_relay --max-lag 64kB
wc_psql -q -c "INSERT INTO silence SELECT g FROM generate_series(21, 10000) g"
for _ in $(seq 100); do
	[ "$(grep -c 'evicting durable subscriber' "$out/relay.log")" -ge 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'evicting durable subscriber' "$out/relay.log")" -ge 2 ] ||
	fail "(g) the relay did not evict both examples within 10 s"
expect_refusal "(g) python, evicted" 3 '"py" was evicted and must resynchronize' \
	"$py" "$py_sub" --endpoint "$durable" --name py --token py-secret
expect_refusal "(g) cpp, evicted" 3 '"cpp" was evicted and must resynchronize' \
	"$cpp_sub" --endpoint "$durable" --name cpp --token cpp-secret

kill -TERM "$relay_pid"
wait "$relay_pid" || fail "the relay exited with status $? on SIGTERM"
echo "$prog: all checks passed"
