#!/usr/bin/env bash
#
# regress/relay-kill.sh: killing the relay (SIGKILL) at any moment loses
# nothing for durable subscribers
#
# While a paced workload of 800 small transactions runs, the relay is
# killed with SIGKILL several times and started again, and the Python
# durable subscriber is killed once too.  Afterwards each durable subscriber
# (Python, and walcast tail --durable in C) must hold exactly the
# transactions a reference slot read through the SQL interface holds: every
# one, in order, none twice (each drops what the contract says it may see
# again).
#
set -euo pipefail

prog=regress/relay-kill.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

kills=${RELAY_KILLS:-5}
transactions=${RELAY_TRANSACTIONS:-800}

wc_relay_test_setup

wc_paced_tables paced

relay_args=(-d "dbname=postgres" --create-slot -s 1 --subscriber py --subscriber c)
wc_relay_start relay "${relay_args[@]}"
pids+=("$wc_relay_pid")
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null
wc_durable_pair py c

wc_paced_workload paced 1 "$transactions" &
workload_pid=$!
pids+=("$workload_pid")

# kill the relay at uneven moments while it streams and the workload runs
for ((k = 1; k <= kills; k++)); do
	sleep "0.$((RANDOM % 9 + 1))"
	kill -KILL "$wc_relay_pid"
	wait "$wc_relay_pid" 2>/dev/null || true
	echo "killed the relay ($k of $kills) at transaction $(wc_psql -At -c 'SELECT last FROM paced_counter')"
	if [ "$k" -eq 2 ]; then
		kill -KILL "$py_pid"
		wait "$py_pid" 2>/dev/null || true
		echo "killed the Python subscriber too"
		"$wc_python" "$repo/regress/py/relay_check.py" durable \
			--endpoint "$wc_durable" --name py --out "$out/py" --credit 100 \
			2>>"$out/py.err" &
		py_pid=$!
		pids+=("$py_pid")
	fi
	sleep "0.$((RANDOM % 5))"
	before=$(wc_streams_started)
	wc_relay_start relay "${relay_args[@]}"
	pids+=("$wc_relay_pid")
	wc_wait_for 20 "the relay to stream again" wc_streaming_again "$before"
done
wait "$workload_pid"
echo "workload done: $transactions transactions"

wc_reference ref
if ! (wc_wait_for 60 "both durable subscribers to apply the last transaction" \
	wc_has_applied py c); then
	# what each side last saw, for the failure's report
	echo "the reference's last transaction: $ref_last"
	for f in py c; do
		echo "--- $f: $(grep -c '^COMMIT ' "$out/$f" 2>/dev/null || echo 0) transactions, the last $(grep '^COMMIT ' "$out/$f" 2>/dev/null | tail -n 1)"
		tail -n 5 "$out/$f.err"
	done
	echo "--- the relay's log"
	tail -n 30 "$wc_scratch/relay.log"
	exit 1
fi

wc_check "the relay was killed $kills times while streaming" \
	test "$(wc_streams_started)" -gt "$kills"
wc_check "the reference holds the workload ($(grep -c '^COMMIT ' "$out/ref") transactions)" \
	test "$(grep -c '^COMMIT ' "$out/ref")" -ge "$transactions"
wc_check "the Python durable subscriber has every transaction once, in order" \
	cmp "$out/ref" "$out/py"
wc_check "the C durable subscriber (walcast tail) has every transaction once, in order" \
	cmp "$out/ref" "$out/c"
wc_check "no relay run ended with an error" \
	bash -c "! grep -q ': error: ' '$wc_scratch/relay.log'"

wc_check_summary
