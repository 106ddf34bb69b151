#!/usr/bin/env bash
#
# regress/relay-stream.sh: a mixed workload through walcast relay reaches
# subscribers in C and in Python whole, exact and in commit order
#
# A throwaway cluster, the relay with two durable subscribers ("py", a
# Python client following the contract, and "c", walcast tail --durable)
# and two ephemeral ones on the publish socket (everything from the start,
# and one table, subscribed in the middle of the workload).  A second slot,
# "ref", created beside the relay's before the workload, is read through
# the SQL interface: it is what the plugin sends for the same WAL.  Each
# durable subscriber must end with exactly the reference's transactions,
# byte for byte (Relation and Startup envelopes aside: when they are sent
# depends on the session), in commit order, each once.
#
set -euo pipefail

prog=regress/relay-stream.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

wc_relay_test_setup

wc_psql -q <<'EOF_SQL'
CREATE EXTENSION walcast;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (
    id      bigint PRIMARY KEY,
    label   text,
    price   numeric(12, 2),
    ratio   float8,
    born    timestamptz,
    day     date,
    flags   bool[],
    doc     jsonb,
    blob    bytea,
    feeling mood,
    u       uuid
);
CREATE TABLE "Odd Name" (k int PRIMARY KEY, v text);
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
EOF_SQL

wc_relay_start relay -d "dbname=postgres" --create-slot -s 1 \
	--subscriber py --subscriber c
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null

"$wc_python" "$repo/regress/py/relay_check.py" durable --endpoint "$wc_durable" \
	--name py --out "$out/py" --credit 50 2>"$out/py.err" &
pids+=("$!")
"$wc_walcast" tail --durable c -e "$wc_durable" --envelope=base64 \
	>"$out/c.json" 2>"$out/c.err" &
pids+=("$!")
"$wc_python" "$repo/regress/py/relay_check.py" subscribe --endpoint "$wc_pub" \
	--out "$out/all.sub" 2>"$out/all.err" &
all_pid=$!
pids+=("$all_pid")
sleep 1

workload_a()
{
	wc_psql -q >/dev/null <<'EOF_SQL'
INSERT INTO items
SELECT i, 'item ' || i || ' ☃', i * 1.25, i / 7.0, '2026-01-01 00:00:00+00'::timestamptz + i * interval '1 minute',
       DATE '2026-01-01' + i, ARRAY[i % 2 = 0, NULL], jsonb_build_object('n', i, 'big', 9007199254740993),
       decode(lpad(to_hex(i), 8, '0'), 'hex'), (ARRAY['sad', 'ok', 'happy']::mood[])[1 + i % 3],
       md5(i::text)::uuid
  FROM generate_series(1, 300) i;
INSERT INTO items (id, label, price, ratio) VALUES
    (1000, NULL, 'NaN', 'Infinity'), (1001, '', 99999999.99, '-Infinity'),
    (1002, E'tab\there "quoted" \\ back', -0.01, 'NaN');
INSERT INTO "Odd Name" VALUES (1, 'one'), (2, 'two');
INSERT INTO nokey VALUES (1, 'a'), (2, 'b');
BEGIN;
UPDATE items SET label = label || ' (updated)', price = price + 1 WHERE id % 10 = 0;
DELETE FROM items WHERE id % 25 = 0;
SELECT pg_logical_emit_message(true, 'test', 'in a transaction');
COMMIT;
BEGIN;
INSERT INTO items (id, label) VALUES (5000, 'rolled back');
ROLLBACK;
BEGIN;
INSERT INTO items (id, label) VALUES (5001, 'kept');
SAVEPOINT s;
INSERT INTO items (id, label) VALUES (5002, 'rolled back subtransaction');
ROLLBACK TO s;
COMMIT;
EOF_SQL
}

workload_b()
{
	wc_psql -q >/dev/null <<'EOF_SQL'
UPDATE "Odd Name" SET v = 'uno' WHERE k = 1;
DELETE FROM nokey WHERE a = 1;
UPDATE nokey SET b = 'bee' WHERE a = 2;
ALTER TABLE items ADD COLUMN note text DEFAULT 'new column';
INSERT INTO items (id, label, note) VALUES (6000, 'after ddl', 'noted');
TRUNCATE "Odd Name", nokey;
INSERT INTO "Odd Name" VALUES (3, 'three');
DO $$
BEGIN
    FOR i IN 1..50 LOOP
        INSERT INTO items (id, label) VALUES (7000 + i, 'tiny ' || i);
    END LOOP;
END
$$;
EOF_SQL
	for i in $(seq 1 40); do
		echo "INSERT INTO items (id, label) VALUES ($((8000 + i)), 'own transaction $i');"
	done | wc_psql -q
}

workload_a
# a subscriber to one table joins in the middle: it must get the table's
# Relation again before the first row it sees
"$wc_python" "$repo/regress/py/relay_check.py" subscribe --endpoint "$wc_pub" \
	--topic 'postgres.public."Odd Name".' --out "$out/odd.sub" --idle-exit 8 \
	2>"$out/odd.err" &
odd_pid=$!
pids+=("$odd_pid")
sleep 1
workload_b

# the reference: what the plugin sends for the same WAL
wc_psql -At -c "SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('ref', NULL, NULL)" |
	"$wc_python" "$repo/regress/py/relay_check.py" reference --out "$out/ref"
ntx=$(grep -c '^COMMIT ' "$out/ref")
last=$(grep '^COMMIT ' "$out/ref" | tail -n 1)

applied_all()
{
	grep -qx "$last" "$out/py" 2>/dev/null &&
		[ "$(grep -c '"tx_end_lsn"' "$out/c.json" 2>/dev/null)" -gt 0 ] &&
		"$wc_python" "$repo/regress/py/relay_check.py" tail --out "$out/c" \
			<"$out/c.json" && grep -qx "$last" "$out/c"
}
wc_wait_for 60 "both durable subscribers to apply the last transaction" applied_all

echo "reference: $ntx transactions, $(grep -vc '^COMMIT ' "$out/ref") changes"
wc_check "the reference holds every kind of change: insert, update, delete, truncate, message, schema_change" \
	"$wc_python" -c "
import sys
from walcast.v1 import walcast_pb2
kinds = {walcast_pb2.Envelope.FromString(bytes.fromhex(l.strip())).WhichOneof('body')
         for l in open('$out/ref') if not l.startswith('COMMIT')}
sys.exit(0 if {'insert', 'update', 'delete', 'truncate', 'message', 'schema_change'} <= kinds else 1)"
wc_check "the Python durable subscriber has every transaction, byte for byte, once, in order" \
	cmp "$out/ref" "$out/py"
wc_check "the C durable subscriber (walcast tail) has the same" \
	cmp "$out/ref" "$out/c"
wc_check "a rolled-back transaction and subtransaction reached nobody" \
	"$wc_python" -c "
import sys
data = b''.join(bytes.fromhex(l.strip()) for l in open('$out/py') if not l.startswith('COMMIT'))
sys.exit(1 if b'rolled back' in data else 0)"

wait "$odd_pid" || wc_die "the late subscriber failed: $(cat "$out/odd.err")"
wc_check "the late subscriber to one table got its Relation first, then only that table's rows" \
	awk -F'\t' 'NR == 1 && $3 != "relation" { bad = 1 }
		$1 != "postgres.public.\"Odd Name\"." { bad = 1 } END { exit bad }' "$out/odd.sub"
wc_check "the late subscriber's sequence numbers have no gap" \
	awk -F'\t' 'NR > 1 && $2 != prev + 1 { bad = 1 } { prev = $2 } END { exit bad }' "$out/odd.sub"
kill -TERM "$all_pid" 2>/dev/null || true
wc_check "the subscriber from the start saw every topic's sequence without a gap" \
	awk -F'\t' '{ if (($1 in last) && $2 != last[$1] + 1) bad = 1; last[$1] = $2 } END { exit bad }' "$out/all.sub"
wc_check "it saw as many Commits as the reference has transactions" \
	test "$(awk -F'\t' '$3 == "commit"' "$out/all.sub" | wc -l)" -eq "$ntx"

# a graceful stop confirms what both subscribers acknowledged
wc_stop_pid "${pids[0]}" && rc=0 || rc=$?
wc_check "SIGTERM stops the relay with exit status 0" test "$rc" -eq 0
confirmed=$(wc_slot_lsn walcast)
wc_check "the slot is confirmed up to the last transaction (${last#COMMIT })" \
	"$wc_python" -c "
import sys
def v(s): h, l = s.split('/'); return (int(h, 16) << 32) | int(l, 16)
sys.exit(0 if v('$confirmed') >= v('${last#COMMIT }') else 1)"
wc_check "the relay said it stopped" wc_log_has "$wc_scratch/relay.log" 'notice: stopped at'

wc_check_summary
