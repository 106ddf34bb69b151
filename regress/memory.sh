#!/usr/bin/env bash
#
# regress/memory.sh: walcast's decoding memory against pgoutput's
#
# Starts a throwaway cluster (scripts/lib.sh, regress/logical.conf: so
# logical_decoding_work_mem is 64kB) and decodes the same WAL with walcast
# and with pgoutput (proto_version 1, a publication FOR ALL TABLES created
# before the slots), for
#   (a) one transaction inserting $MEMORY_ROWS rows (default 1,000,000) of
#       mixed types (int, bigint, text, numeric, timestamptz, bool, uuid,
#       jsonb)
#   (b) one row holding a single $MEMORY_VALUE_MB MB (default 100) text
#       value, stored uncompressed
# Each decode runs in a fresh backend (pg_logical_slot_peek_binary_changes
# under count(*), so the client holds no output).  The backend first loads
# the plugin with an empty peek (up to the slot's confirmed position) and
# psql reads its resident memory, VmRSS in /proc/PID/status (\! runs on
# this machine while the backend lives); after the decode it reads the peak,
# VmHWM.  The growth, peak minus that start, is the memory the WAL cost;
# the peak also holds the plugin's code and the backend's own start, which
# vary by a few hundred kB with the order backends start in.
#
# One decode's growth is noisy, both ways: the same plugin decoding the
# same WAL grew from 4988 to 5416 kB on (a) in backends here, pgoutput from
# 5004 to 5556 kB, as malloc's heap and the shared buffers a backend touches
# vary.  So the plugins take turns, $MEMORY_ROUNDS times each (default 3),
# and each plugin's median growth and median peak are compared.  Then both
# slots advance past the WAL.
#
# Passes when walcast's growth is no higher than pgoutput's plus 5%, and
# its peak no higher than pgoutput's plus 10%: the margins cover the noise
# left in a median of three (5% of (a) is some 260 kB; a leak of one byte
# per change would be 1,000 kB), not a budget.  Prints the figures.  KEEP=1
# keeps the scratch directory.
#
set -euo pipefail

prog=regress/memory.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

rows=${MEMORY_ROWS:-1000000}
value_mb=${MEMORY_VALUE_MB:-100}
rounds=${MEMORY_ROUNDS:-3}
growth_margin_pct=5
peak_margin_pct=10

[ -r /proc/self/status ] || wc_die "/proc is not readable: cannot measure memory"

wc_throwaway_cluster

wc_psql -q <<'EOF_SQL' >/dev/null
CREATE TABLE mem_rows (
    i  int PRIMARY KEY,
    b  bigint,
    t  text,
    n  numeric,
    ts timestamptz,
    f  bool,
    u  uuid,
    j  jsonb
);
CREATE TABLE mem_big (id int PRIMARY KEY, v text);
ALTER TABLE mem_big ALTER COLUMN v SET STORAGE EXTERNAL;
CREATE PUBLICATION mem_pub FOR ALL TABLES;
SELECT pg_create_logical_replication_slot('mem_walcast', 'walcast');
SELECT pg_create_logical_replication_slot('mem_pgoutput', 'pgoutput');
EOF_SQL

# peak SLOT OPTIONS: decode in a fresh backend; print "COUNT START_KB PEAK_KB"
peak()
{
	local slot=$1 opts=$2 out

	out=$(wc_psql -At <<EOF_SQL
SELECT pg_backend_pid() AS pid \gset
\setenv WALCAST_BACKEND_PID :pid
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('$slot',
    (SELECT confirmed_flush_lsn FROM pg_replication_slots
      WHERE slot_name = '$slot'), NULL$opts);
\! awk '/^VmRSS:/ { print \$2 }' /proc/\$WALCAST_BACKEND_PID/status
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL$opts);
\! awk '/^VmHWM:/ { print \$2 }' /proc/\$WALCAST_BACKEND_PID/status
EOF_SQL
)
	# the empty peek's count, the start, the count, the peak
	out=$(echo "$out" | tr '\n' ' ')
	[[ "$out" =~ ^0\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)\ $ ]] ||
		wc_die "could not measure the backend decoding slot \"$slot\": \"$out\""
	echo "${BASH_REMATCH[2]} ${BASH_REMATCH[1]} ${BASH_REMATCH[3]}"
}

pgoutput_opts=", 'proto_version', '1', 'publication_names', 'mem_pub'"
failed=0

# within LABEL WHAT WALCAST PGOUTPUT PCT: is walcast's figure within
# pgoutput's plus PCT%?
within()
{
	local label=$1 what=$2 w=$3 p=$4 pct=$5 limit

	limit=$((p + p * pct / 100))
	if [ "$w" -le "$limit" ]; then
		echo "$label: ok, walcast's $what within pgoutput's + ${pct}% ($limit kB)"
	else
		echo "$label: FAILED, walcast's $what above pgoutput's + ${pct}% ($limit kB)"
		failed=1
	fi
}

# median N...: the median of the numbers (the lower middle one of an even
# count)
median()
{
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# measure LABEL: decode what was written since the last measure with both
# plugins in turn, $rounds times each, and compare their median growth and
# peaks; then move both slots past it
measure()
{
	local label=$1 round plugin opts t0 out count start kb
	local -A growths=() peaks=() growth=() peak=() counts=() secs=()

	for ((round = 1; round <= rounds; round++)); do
		for plugin in walcast pgoutput; do
			opts=
			[ "$plugin" = pgoutput ] && opts=$pgoutput_opts
			t0=$(date +%s)
			out=$(peak "mem_$plugin" "$opts") || exit 1
			read -r count start kb <<<"$out"
			secs[$plugin]=$((${secs[$plugin]:-0} + $(date +%s) - t0))
			counts[$plugin]=$count
			growths[$plugin]+=" $((kb - start))"
			peaks[$plugin]+=" $kb"
		done
	done
	[ "${counts[walcast]}" -gt 0 ] && [ "${counts[pgoutput]}" -gt 0 ] ||
		wc_die "$label: a plugin decoded no messages"
	for plugin in walcast pgoutput; do
		# shellcheck disable=SC2086 # the lists split into their numbers
		growth[$plugin]=$(median ${growths[$plugin]})
		# shellcheck disable=SC2086
		peak[$plugin]=$(median ${peaks[$plugin]})
		printf '%s: %s grew %d kB (median of%s kB) to a peak of %d kB (median; %d messages, %ds for %d decodes)\n' \
			"$label" "$plugin" "${growth[$plugin]}" "${growths[$plugin]}" \
			"${peak[$plugin]}" "${counts[$plugin]}" "${secs[$plugin]}" "$rounds"
	done
	within "$label" growth "${growth[walcast]}" "${growth[pgoutput]}" "$growth_margin_pct"
	within "$label" peak "${peak[walcast]}" "${peak[pgoutput]}" "$peak_margin_pct"
	wc_psql -q -c "SELECT pg_replication_slot_advance(slot_name, pg_current_wal_lsn())
	                 FROM pg_replication_slots WHERE slot_name LIKE 'mem\\_%'" >/dev/null
}

t0=$(date +%s)
wc_psql -q -c "INSERT INTO mem_rows
    SELECT g, g * 1000003::bigint, 'row ' || g, g / 7.0,
           '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second',
           g % 2 = 0, md5(g::text)::uuid,
           jsonb_build_object('g', g, 'tag', 'x' || (g % 100))
      FROM generate_series(1, $rows) g;"
echo "(a) inserted $rows rows in one transaction in $(($(date +%s) - t0))s"
measure "(a) $rows rows"

t0=$(date +%s)
wc_psql -q -c "INSERT INTO mem_big VALUES (1, repeat('x', $value_mb * 1024 * 1024));"
echo "(b) inserted one $value_mb MB value in $(($(date +%s) - t0))s"
measure "(b) one $value_mb MB value"

wc_psql -q -c "SELECT pg_drop_replication_slot('mem_walcast'), pg_drop_replication_slot('mem_pgoutput');" >/dev/null
[ "$failed" -eq 0 ]
