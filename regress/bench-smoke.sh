#!/usr/bin/env bash
#
# regress/bench-smoke.sh: the benchmark still runs and every plugin still
# decodes the same changes
#
# Runs bench/run at a tiny scale, once, with every workload and the example
# SQL file (bench/example.sql), and checks what it wrote: report.md with a
# table for every workload and interface, samples.json with a sample of
# every plugin configuration in each, a chart, and the same number of row
# changes counted in every plugin's output (the floor's being 0).  Times
# are not looked at.  KEEP=1 keeps the output directory.
#
set -euo pipefail

prog=regress/bench-smoke.sh
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"

out=$(mktemp -d "${TMPDIR:-/tmp}/walcast-bench-smoke.XXXXXX") ||
	wc_die "could not create a scratch directory"
if [ "${KEEP:-0}" = 1 ]; then
	trap 'echo "$prog: kept $out" >&2' EXIT
else
	trap 'rm -rf "$out"' EXIT
fi

"$repo/bench/run" --scale 400 --stream-scale 200 --reps 1 --out "$out" \
	--sql-setup "$repo/bench/example-setup.sql" --sql "$repo/bench/example.sql" \
	>"$out/run.log" 2>&1 || {
	cat "$out/run.log" >&2
	wc_die "bench/run failed"
}

for f in report.md samples.json chart.png; do
	[ -s "$out/$f" ] || wc_die "bench/run wrote no \"$f\""
done

/usr/bin/python3 - "$out" <<'EOF_PY'
import json, sys

out = sys.argv[1]
with open(f"{out}/samples.json") as f:
    res = json.load(f)
with open(f"{out}/report.md") as f:
    report = f.read()
configs = set(res["configs"])
want = {"walcast", "pgoutput", "pgoutput-binary", "test_decoding",
        "wal2json-1", "wal2json-2", "decoderbufs", "floor"}
bad = []
if configs != want:
    bad.append(f"configurations {sorted(configs)}, expected {sorted(want)}")
workloads = {"inserts", "updates", "deletes", "huge", "tiny", "file"}
names = {run["workload"] for run in res["runs"]}
if names != workloads:
    bad.append(f"workloads {sorted(names)}, expected {sorted(workloads)}")
for run in res["runs"]:
    name = run["workload"]
    if not run["changes"]:
        bad.append(f"workload {name}: no changes expected")
    for c in want:
        n = run["counts"].get(c)
        expect = 0 if c == "floor" else run["changes"]
        if n != expect:
            bad.append(f"workload {name} ({', '.join(run['interfaces'])}):"
                       f" {c} sent {n} row changes, expected {expect}")
    for iface in run["interfaces"]:
        if f"### {name}, {iface}:" not in report:
            bad.append(f"report.md has no table for {name}, {iface}")
        got = {s["config"] for s in res["samples"]
               if s["workload"] == name and s["interface"] == iface
               and "error" not in s and s["secs"] > 0}
        if got != want:
            bad.append(f"workload {name}, {iface}: samples of {sorted(got)} only")
ifaces = {i for run in res["runs"] for i in run["interfaces"]}
if ifaces != {"sql", "stream"}:
    bad.append(f"interfaces {sorted(ifaces)}, expected sql and stream")
for c in want:
    if f"| {c} | " not in report:
        bad.append(f"report.md has no row for {c}")
for b in bad:
    print(f"bench-smoke: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"bench-smoke: {len(want)} plugin configurations, {len(workloads)} workloads,"
      " the same row changes counted in each")
EOF_PY
