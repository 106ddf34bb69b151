#!/usr/bin/env bash
#
# regress/relay-pgrestart.sh: PostgreSQL restarted under load: the relay
# reconnects and nothing is missing
#
# While a paced workload runs (each transaction retried until the server
# takes it), the server is restarted twice: once cleanly (fast shutdown)
# and once as after a crash (immediate shutdown, which can move the slot's
# confirmed position back and make the server send transactions again).
# The relay must reconnect by itself, with backoff, and each durable
# subscriber must end with exactly the transactions of a reference slot
# read through the SQL interface, in order, each once.
#
set -euo pipefail

prog=regress/relay-pgrestart.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=scripts/relay-lib.sh
. "$repo/scripts/relay-lib.sh"

transactions=${RELAY_TRANSACTIONS:-300}

restart_server()
{
	wc_as_user "$wc_bindir/pg_ctl" -D "$wc_pgdata" -m "$1" -w -t 60 stop \
		>/dev/null || wc_die "could not stop the server ($1)"
	sleep 1
	wc_cluster_start
	echo "restarted the server ($1 shutdown) at transaction $(wc_psql -At -c 'SELECT last FROM paced_counter')"
}

wc_relay_test_setup

wc_paced_tables paced

wc_relay_start relay -d "dbname=postgres" --create-slot -s 1 \
	--subscriber py --subscriber c --reconnect-max 2
pids+=("$wc_relay_pid")
relay_pid=$wc_relay_pid
wc_wait_for 20 "the relay's slot" \
	wc_log_has "$wc_scratch/relay.log" 'streaming from replication slot'
wc_psql -q -c "SELECT pg_create_logical_replication_slot('ref', 'walcast')" >/dev/null
wc_durable_pair py c

wc_paced_workload paced 1 "$transactions" &
workload_pid=$!
pids+=("$workload_pid")
sleep 1.5
restart_server fast
sleep 1.5
restart_server immediate
wait "$workload_pid"
echo "workload done: $transactions transactions"

wc_reference ref
wc_wait_for 60 "both durable subscribers to apply the last transaction" \
	wc_has_applied py c

wc_check "the relay reconnected after each restart" \
	test "$(grep -c 'streaming from replication slot' "$wc_scratch/relay.log")" -ge 3
wc_check "it said it was reconnecting" \
	wc_log_has "$wc_scratch/relay.log" 'notice: reconnecting in'
wc_check "the relay kept running throughout" kill -0 "$relay_pid"
wc_check "the reference holds the workload ($(grep -c '^COMMIT ' "$out/ref") transactions)" \
	test "$(grep -c '^COMMIT ' "$out/ref")" -ge "$transactions"
wc_check "the Python durable subscriber has every transaction once, in order" \
	cmp "$out/ref" "$out/py"
wc_check "the C durable subscriber (walcast tail) has every transaction once, in order" \
	cmp "$out/ref" "$out/c"

wc_check_summary
