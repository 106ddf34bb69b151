#!/usr/bin/env bash
#
# regress/bench-smoke.sh: the benchmark still runs and every plugin still
# decodes the same changes
#
# Runs bench/run at a tiny scale, once, with every workload and the example
# SQL file (bench/example.sql), and checks what it wrote: report.md with a
# table for every workload and interface, samples.json with a sample of
# every plugin configuration in each, a chart, and the same number of row
# changes counted in every plugin's output (the floor's being 0).  Through
# the relay (walcast only): the durable subscriber received every message,
# byte and transaction of the walcast slot, whose row changes were counted
# above, and lost none, in every workload and through the huge transaction
# at the SQL scale; the short latency run at a low rate delivered every
# transaction pgbench committed.  Times are not looked at.  KEEP=1 keeps
# the output directory.
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
	--latency-seconds 2 --latency-rate 100 \
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
        if iface == "relay":
            # walcast only; every message the slot holds, none lost
            expect = run["relay_expect"]
            ss = [s for s in res["samples"]
                  if s["workload"] == name and s["interface"] == iface]
            if len(ss) != 1 or ss[0]["config"] != "walcast":
                bad.append(f"workload {name}, relay: samples {ss}")
            for s in ss:
                if "error" in s:
                    bad.append(f"workload {name}, relay: {s['error']}")
                    continue
                for key in ("messages", "bytes", "transactions"):
                    if s[key] != expect[key]:
                        bad.append(f"workload {name}, relay: the subscriber received"
                                   f" {s[key]} {key}, the slot holds {expect[key]}")
                if s["lost"] != 0 or not s["secs"] > 0 or not s["peak_kb"]:
                    bad.append(f"workload {name}, relay: lost {s['lost']},"
                               f" {s['secs']} s, peak {s['peak_kb']} kB")
            if f"| {name} | {run['changes']} |" not in report:
                bad.append(f"report.md has no relay row for {name}")
            continue
        if f"### {name}, {iface}:" not in report:
            bad.append(f"report.md has no table for {name}, {iface}")
        got = {s["config"] for s in res["samples"]
               if s["workload"] == name and s["interface"] == iface
               and "error" not in s and s["secs"] > 0}
        if got != want:
            bad.append(f"workload {name}, {iface}: samples of {sorted(got)} only")
ifaces = {i for run in res["runs"] for i in run["interfaces"]}
if ifaces != {"sql", "stream", "relay"}:
    bad.append(f"interfaces {sorted(ifaces)}, expected sql, stream and relay")
huge = res.get("relay_huge", {})
expect = next((run["relay_expect"] for run in res["runs"]
               if run["workload"] == "huge" and "sql" in run["interfaces"]), None)
if "error" in huge or not expect or huge.get("messages") != expect["messages"] \
        or huge.get("lost") != 0:
    bad.append(f"the relay through the huge transaction: {huge}, expected {expect}")
lats = res.get("latency", [])
if len(lats) != 1:
    bad.append(f"the latency run: {len(lats)} samples, expected 1")
for lat in lats:
    if ("error" in lat or not lat.get("pgbench_transactions")
            or lat.get("transactions") != lat["pgbench_transactions"]
            or lat.get("lost") != 0 or lat["latency_us"]["count"] != lat["transactions"]):
        bad.append(f"the latency run: {lat}")
if "### End to end through the relay" not in report:
    bad.append("report.md has no section for the relay")
for c in want:
    if f"| {c} | " not in report:
        bad.append(f"report.md has no row for {c}")
for b in bad:
    print(f"bench-smoke: {b}", file=sys.stderr)
if bad:
    sys.exit(1)
print(f"bench-smoke: {len(want)} plugin configurations, {len(workloads)} workloads,"
      " the same row changes counted in each, every message through the relay")
EOF_PY
