# shellcheck shell=bash
# scripts/relay-lib.sh: shell functions for the end-to-end tests of the
# relay (regress/relay-*.sh) and for scripts/demo.  Source it after
# scripts/lib.sh; it defines functions and runs nothing.
#
# The relay and its subscribers run as the calling user (root in CI is
# fine: they are clients) and reach the throwaway cluster through the PG*
# variables wc_cluster_init exports.  Each relay gets its own ZeroMQ ports
# on 127.0.0.1 and its own state file under $wc_scratch, so tests can run
# side by side.

wc_walcast=${repo:?}/consumer/walcast

# wc_relay_test_setup: what every end-to-end test of the relay starts with:
# a build, a throwaway cluster, the Python modules, two ZeroMQ ports, and
# $out for the subscribers' output.  On exit every process in pids is
# killed and the scratch directory removed.
wc_relay_test_setup()
{
	wc_throwaway_cluster
	wc_py_init
	wc_zmq_ports
	out=$wc_scratch/out
	mkdir -p "$out"
}

# wc_py_init: generate the Python protobuf modules into $wc_scratch/py and
# set $wc_python to a Debian python3 that sees them and python3-zmq
wc_py_init()
{
	wc_python=/usr/bin/python3
	[ -x "$wc_python" ] || wc_die "$wc_python is missing (Debian's python3)"
	command -v protoc >/dev/null ||
		wc_die "protoc is missing: run scripts/ensure-packages test"
	mkdir -p "$wc_scratch/py"
	protoc --proto_path="$repo/proto" --python_out="$wc_scratch/py" \
		walcast/v1/walcast.proto walcast/v1/relay.proto ||
		wc_die "could not generate the Python protobuf modules"
	export PYTHONPATH=$wc_scratch/py:$repo/regress/py
	"$wc_python" -c 'import zmq, google.protobuf' 2>/dev/null ||
		wc_die "python3-zmq or python3-protobuf is missing: run scripts/ensure-packages test"
}

# wc_zmq_ports: set $wc_pub_port and $wc_durable_port to free TCP ports
wc_zmq_ports()
{
	wc_pub_port=$(wc_free_port "${1:-$((26000 + RANDOM % 4000))}")
	wc_durable_port=$(wc_free_port $((wc_pub_port + 1)))
	wc_pub=tcp://127.0.0.1:$wc_pub_port
	wc_durable=tcp://127.0.0.1:$wc_durable_port
}

# wc_relay_start NAME ARGS...: start "walcast relay ARGS..." in the
# background, in $wc_scratch/NAME (its state file lives there), logging to
# $wc_scratch/NAME.log; sets $wc_relay_pid.  Appends to the log, so a
# restarted relay keeps the earlier runs' lines.
wc_relay_start()
{
	local name=$1

	shift
	mkdir -p "$wc_scratch/$name"
	(cd "$wc_scratch/$name" &&
		exec "$wc_walcast" relay -p "$wc_pub" --durable "$wc_durable" "$@" \
			>>"$wc_scratch/$name.log" 2>&1) &
	wc_relay_pid=$!
}

# wc_relay_start_ephemeral NAME ARGS...: as wc_relay_start, without a
# durable socket (for relays without --subscriber)
wc_relay_start_ephemeral()
{
	local name=$1

	shift
	mkdir -p "$wc_scratch/$name"
	(cd "$wc_scratch/$name" &&
		exec "$wc_walcast" relay -p "$wc_pub" "$@" \
			>>"$wc_scratch/$name.log" 2>&1) &
	wc_relay_pid=$!
}

# wc_wait_for SECS DESCRIPTION CMD...: run CMD every 0.2 s until it
# succeeds; die after SECS
wc_wait_for()
{
	local secs=$1 what=$2 i

	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.2
	done
	wc_die "timed out after $secs s waiting for $what"
}

# wc_streams_started: how many times the relay logging to
# $wc_scratch/relay.log has started streaming so far
wc_streams_started()
{
	grep -c 'streaming from replication slot' "$wc_scratch/relay.log"
}

# wc_streaming_again N: whether it has started streaming more than N times
wc_streaming_again()
{
	[ "$(wc_streams_started)" -gt "$1" ]
}

# wc_log_has FILE PATTERN: whether FILE has a line matching PATTERN
wc_log_has()
{
	grep -q -e "$2" "$1" 2>/dev/null
}

# wc_slot_lsn SLOT [COLUMN]: print a slot's confirmed_flush_lsn (or COLUMN)
wc_slot_lsn()
{
	wc_psql -At -c "SELECT ${2:-confirmed_flush_lsn} FROM pg_replication_slots WHERE slot_name = '$1'"
}

# wc_stop_pid PID: SIGTERM, wait up to 10 s, then SIGKILL; print the exit
# status
wc_stop_pid()
{
	local pid=$1 i

	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null
}

# wc_check DESCRIPTION CMD...: run CMD; count and report the outcome
wc_passed=0
wc_failed=0
wc_check()
{
	local what=$1

	shift
	if "$@"; then
		echo "ok: $what"
		wc_passed=$((wc_passed + 1))
	else
		echo "FAILED: $what"
		wc_failed=$((wc_failed + 1))
	fi
}

# wc_check_summary: print the counts; return non-zero on any failure
# (worded so that only regress/run's last line reads "N passed, N failed")
wc_check_summary()
{
	echo "${prog:-test}: $wc_passed of $((wc_passed + wc_failed)) checks passed"
	[ "$wc_failed" -eq 0 ] && [ "$wc_passed" -gt 0 ]
}

# wc_paced_tables TABLE: create TABLE and TABLE_counter for wc_paced_workload
wc_paced_tables()
{
	wc_psql -q -c "CREATE TABLE $1 (id int PRIMARY KEY, label text)" \
		-c "CREATE TABLE ${1}_counter (n int, last int)" \
		-c "INSERT INTO ${1}_counter VALUES (0, 0)" >/dev/null
}

# wc_paced_workload TABLE FIRST LAST: one transaction per id from FIRST to
# LAST, each inserting the id and then updating a counter row, retried
# until it succeeds (the server may be restarting); ON CONFLICT makes a
# retry of a transaction that did commit an empty one
wc_paced_workload()
{
	local table=$1 first=$2 last=$3 i

	for ((i = first; i <= last; i++)); do
		until wc_psql -q -c "BEGIN; INSERT INTO $table VALUES ($i, 'row $i') ON CONFLICT DO NOTHING; UPDATE ${table}_counter SET n = n + 1, last = $i; COMMIT;" \
			>/dev/null 2>&1; do
			sleep 0.2
		done
	done
}

# wc_durable_pair NAME_PY NAME_C: start the two durable test subscribers
# against $wc_durable, writing $out/NAME_PY and $out/NAME_C.json; adds their
# pids to the caller's pids array and sets $py_pid and $c_pid
wc_durable_pair()
{
	"$wc_python" "$repo/regress/py/relay_check.py" durable \
		--endpoint "$wc_durable" --name "$1" --out "$out/$1" --credit 100 \
		2>>"$out/$1.err" &
	py_pid=$!
	pids+=("$py_pid")
	"$wc_walcast" tail --durable "$2" -e "$wc_durable" --envelope=base64 \
		>>"$out/$2.json" 2>>"$out/$2.err" &
	c_pid=$!
	pids+=("$c_pid")
}

# wc_reference SLOT: read SLOT through the SQL interface into $out/ref and
# set $ref_last to its last "COMMIT X/X" line
wc_reference()
{
	wc_psql -At -c "SELECT encode(data, 'hex') FROM pg_logical_slot_get_binary_changes('$1', NULL, NULL)" |
		"$wc_python" "$repo/regress/py/relay_check.py" reference --out "$out/ref" ||
		wc_die "could not read the reference slot \"$1\""
	ref_last=$(grep '^COMMIT ' "$out/ref" | tail -n 1)
}

# wc_has_applied NAME_PY NAME_C: whether both durable subscribers' outputs
# hold $ref_last (the C one is converted to $out/NAME_C first)
wc_has_applied()
{
	grep -qx "$ref_last" "$out/$1" 2>/dev/null &&
		"$wc_python" "$repo/regress/py/relay_check.py" tail --out "$out/$2" \
			<"$out/$2.json" 2>/dev/null &&
		grep -qx "$ref_last" "$out/$2"
}

# wc_commits_at_least FILE N: whether FILE (a test subscriber's output)
# holds N transactions; for wc_wait_for, which runs its command again and
# again (a "$(...)" argument would be computed once)
wc_commits_at_least()
{
	local n

	n=$(grep -c '^COMMIT ' "$1" 2>/dev/null) || n=0
	[ "$n" -ge "$2" ]
}

# wc_slot_at_least SLOT LSN: whether SLOT is confirmed at or past LSN
wc_slot_at_least()
{
	[ "$(wc_psql -At -c "SELECT confirmed_flush_lsn >= '$2'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$1'")" = t ]
}
