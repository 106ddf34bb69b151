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
# Each decode runs in a fresh backend (pg_logical_slot_get_binary_changes
# under count(*), so the client holds no output); psql reads that backend's
# peak resident memory, VmHWM in /proc/PID/status, right after the query,
# from the same session (\! runs on this machine while the backend lives).
#
# Passes when walcast's peak is no higher than pgoutput's plus 10%: the
# margin covers noise (both peaks include the same shared memory and
# catalog caches), not a budget.  Prints both figures.  KEEP=1 keeps the
# scratch directory.
#
set -euo pipefail

prog=regress/memory.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

rows=${MEMORY_ROWS:-1000000}
value_mb=${MEMORY_VALUE_MB:-100}
margin_pct=10

[ -r /proc/self/status ] || wc_die "/proc is not readable: cannot measure memory"

wc_build || wc_die "could not build walcast"
wc_ensure_user
wc_make_scratch
trap wc_cleanup EXIT
trap 'exit 130' INT TERM
wc_make_install
wc_cluster_init "$repo/regress/logical.conf"
wc_cluster_start

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

# peak PLUGIN SLOT OPTIONS...: decode in a fresh backend; print "KB COUNT"
peak()
{
	local slot=$1 opts=$2 out

	out=$(wc_psql -At <<EOF_SQL
SELECT pg_backend_pid() AS pid \gset
\setenv WALCAST_BACKEND_PID :pid
SELECT count(*) FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL$opts);
\! awk '/^VmHWM:/ { print \$2 }' /proc/\$WALCAST_BACKEND_PID/status
EOF_SQL
)
	# the count, then the peak in kB
	out=$(echo "$out" | tr '\n' ' ')
	[[ "$out" =~ ^[0-9]+\ [0-9]+\ $ ]] ||
		wc_die "could not measure the backend decoding slot \"$slot\": \"$out\""
	echo "$out"
}

pgoutput_opts=", 'proto_version', '1', 'publication_names', 'mem_pub'"
failed=0

# measure LABEL: decode what was written since the last measure with both
# plugins and compare their peaks
measure()
{
	local label=$1 w p wc_count wc_kb pg_count pg_kb limit t0 t1 t2

	t0=$(date +%s)
	w=$(peak mem_walcast '') || exit 1
	t1=$(date +%s)
	p=$(peak mem_pgoutput "$pgoutput_opts") || exit 1
	read -r wc_count wc_kb <<<"$w"
	read -r pg_count pg_kb <<<"$p"
	t2=$(date +%s)
	limit=$((pg_kb + pg_kb * margin_pct / 100))
	printf '%s: walcast peak %d kB (%d messages, %ds), pgoutput peak %d kB (%d messages, %ds)\n' \
		"$label" "$wc_kb" "$wc_count" $((t1 - t0)) "$pg_kb" "$pg_count" $((t2 - t1))
	if [ "$wc_kb" -le "$limit" ]; then
		echo "$label: ok, walcast within pgoutput + ${margin_pct}% ($limit kB; the margin is for noise)"
	else
		echo "$label: FAILED, walcast above pgoutput + ${margin_pct}% ($limit kB)"
		failed=1
	fi
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
