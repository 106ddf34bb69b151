"""bench/bench.py: decode the same WAL with every plugin and compare them

Run by bench/run, which starts the throwaway cluster and sets PGHOST,
PGPORT and PGUSER; this file only measures and reports.  It needs
/usr/bin/python3 with Debian's python3-psycopg2 and python3-matplotlib.

For each workload:

  1. prepare: reset the tables and load what the workload needs (for
     updates and deletes, the rows they change), before any slot exists;
  2. create one slot per configuration (plugin and format), all before the
     workload, so every slot sees exactly the same WAL;
  3. run the workload and note the WAL insert position at its end (END);
  4. time every configuration on [slot start, END], repetition after
     repetition, the configurations interleaved, in CONFIGS order and back,
     so that the noise of this shared machine falls on all of them alike:
       - "sql": bench_decode() (bench/setup.sql) in a fresh backend, timed on
         the server with clock_timestamp() around
         pg_logical_slot_peek_binary_changes(slot, END, ...), which leaves
         the slot where it was; then that backend's VmHWM from /proc and the
         slot's spill counters from pg_stat_replication_slots;
       - "stream": a copy of the slot (pg_copy_logical_replication_slot, so
         the same start point) read by pg_recvlogical --endpos END -f
         /dev/null, timed from the process's start to its exit on the client
         (connection and startup included, a few ms); the walsender's VmHWM
         is polled every 20 ms while it runs;
  5. count the row changes each configuration sent, untimed, with one more
     peek per configuration (the "count" expressions in CONFIGS), and
     check that every one sent the workload's number of changes;
  6. drop the slots.

The median of the repetitions is reported, with every plugin's ratio to
pgoutput (text, proto_version 1) and to the floor (pgoutput with a
publication on no tables: reading WAL and reordering with almost no output),
each the median of the ratios within a repetition (paired_ratio).

An end-to-end interface through the relay (consumer/) is meant to come as a
third interface beside "sql" and "stream": a function sample_relay(conn,
workload, config, slot, end) returning the same sample dictionary, added to
INTERFACES; the rest (interleaving, medians, report) does not change.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

try:
    import psycopg2
except ImportError:
    sys.exit("bench/run: error: could not import psycopg2\n"
             "HINT:  Run with /usr/bin/python3 and install python3-psycopg2 "
             "(scripts/ensure-packages bench).")

PROG = "bench/run"
DBNAME = "bench"

PGOUTPUT_OPTS = ["proto_version", "1", "publication_names", "bench_all"]

# A protobuf varint, as hexadecimal digits: bytes with the high bit set,
# then one without.
VARINT = "([89a-f][0-9a-f])*[0-7][0-9a-f]"

# Every decoding configuration: name, plugin, options, and the SQL
# expression (over the peeked "data" bytea) that is true for a message that
# carries one row change (INSERT, UPDATE or DELETE), used only to count.
# walcast, its two references and then the peers: the samples run in this
# order (and back), so walcast's are always next to pgoutput's and the
# floor's.
CONFIGS = [
    # Envelope: lsn (1), xid (2), change_index (3), then the body; insert,
    # update and delete are fields 14, 15 and 16
    {"name": "walcast", "plugin": "walcast", "options": [],
     "count": "encode(substring(data FROM 1 FOR 32), 'hex')"
              f" ~ '^08{VARINT}10{VARINT}(18{VARINT})?(72|7a|8201)'"},
    {"name": "pgoutput", "plugin": "pgoutput", "options": PGOUTPUT_OPTS,
     "count": "get_byte(data, 0) IN (73, 85, 68)"},
    {"name": "floor", "plugin": "pgoutput",
     "options": ["proto_version", "1", "publication_names", "bench_none"],
     "count": "get_byte(data, 0) IN (73, 85, 68)", "floor": True},
    {"name": "pgoutput-binary", "plugin": "pgoutput",
     "options": PGOUTPUT_OPTS + ["binary", "true"],
     "count": "get_byte(data, 0) IN (73, 85, 68)"},
    {"name": "test_decoding", "plugin": "test_decoding", "options": [],
     "count": "convert_from(data, 'UTF8')"
              " ~ '^table [^ ]+: (INSERT|UPDATE|DELETE):'"},
    {"name": "wal2json-1", "plugin": "wal2json",
     "options": ["format-version", "1"],
     # one message per transaction: count its changes
     "count": None,
     "count_sum": "(length(convert_from(data, 'UTF8'))"
                  " - length(replace(convert_from(data, 'UTF8'),"
                  " '{\"kind\":', ''))) / 8"},
    {"name": "wal2json-2", "plugin": "wal2json",
     "options": ["format-version", "2"],
     "count": "substring(data FROM 1 FOR 13) IN ('{\"action\":\"I\"',"
              " '{\"action\":\"U\"', '{\"action\":\"D\"')"},
    {"name": "decoderbufs", "plugin": "decoderbufs", "options": [],
     # RowMessage: transaction_id (1), commit_time (2), then table (3),
     # which only row changes have
     "count": "encode(substring(data FROM 1 FOR 32), 'hex')"
              f" ~ '^(08{VARINT})?(10{VARINT})?1a'"},
]

REFERENCE = "pgoutput"
FLOOR = "floor"


def by_id(stmt, n, per_xact):
    """A CALL running stmt for ids 1 .. n, per_xact ids a transaction
    ($1 and $2 in stmt are the first and last id of each)."""
    return "CALL bench_by_id('{}', {}, {})".format(
        stmt.replace("'", "''"), n, per_xact)


def insert_rows(n, per_xact):
    return by_id("INSERT INTO bench_wide SELECT * FROM bench_rows($1, $2 - $1 + 1)",
                 n, per_xact)


def workloads(scale):
    """The built-in workloads at a scale: name -> definition.

    Inserts and the huge transaction change scale rows; updates and deletes
    a quarter of that, tiny a twentieth (the time the slower peers take, not
    WAL, is what bounds a full run).  "prepare" (statements) runs before the
    slots exist, "run" is the decoded WAL, "changes" the number of row
    changes it makes, "wide" whether its messages carry whole rows of the
    wide table.
    """
    n = scale
    quarter = max(scale // 4, 1)
    tiny = max(scale // 20, 1)
    loaded = ["TRUNCATE bench_wide", insert_rows(quarter, 10000)]
    return {
        "inserts": {
            "what": f"{n} inserts into the 14-column table, 1,000 rows a transaction",
            "prepare": ["TRUNCATE bench_wide"],
            "run": insert_rows(n, 1000),
            "changes": n, "wide": True},
        "updates": {
            "what": f"{quarter} updates of 4 columns, 1,000 rows a transaction",
            "prepare": loaded,
            "run": by_id("UPDATE bench_wide SET i = i + 1, t = t || '+',"
                         " flag = NOT flag, ts = ts + interval '1 hour'"
                         " WHERE id BETWEEN $1 AND $2", quarter, 1000),
            "changes": quarter, "wide": True},
        "deletes": {
            "what": f"{quarter} deletes (old key only), 1,000 rows a transaction",
            "prepare": loaded,
            "run": by_id("DELETE FROM bench_wide WHERE id BETWEEN $1 AND $2",
                         quarter, 1000),
            "changes": quarter, "wide": False},
        "huge": {
            "what": f"{n} inserts in one transaction (spills to disk)",
            "prepare": ["TRUNCATE bench_wide"],
            "run": f"INSERT INTO bench_wide SELECT * FROM bench_rows(1, {n})",
            "changes": n, "wide": True},
        "tiny": {
            "what": f"{tiny} transactions of one insert each",
            "prepare": ["TRUNCATE bench_wide"],
            "run": insert_rows(tiny, 1),
            "changes": tiny, "wide": True},
    }


def error(msg, detail=None, hint=None):
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    if detail:
        print(f"DETAIL:  {detail}", file=sys.stderr)
    if hint:
        print(f"HINT:  {hint}", file=sys.stderr)


def log(msg):
    print(f"{PROG}: {msg}", flush=True)


def connect(dbname=DBNAME):
    conn = psycopg2.connect(dbname=dbname)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET client_min_messages = warning")
    return conn


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        if cur.description is None:
            return None
        return cur.fetchall()


def vm_hwm_kb(pid):
    """Peak resident memory of a process in kB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_secs(pid):
    """CPU time a process has used, in seconds (nanosecond resolution), or
    None when it is gone."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def slot_name(config):
    return "bench_" + config["name"].replace("-", "_")


def reset_spill(conn, slot):
    query(conn, "SELECT pg_stat_reset_replication_slot(%s)", (slot,))


def read_spill(conn, slot):
    rows = query(conn, "SELECT spill_txns, spill_count, spill_bytes"
                 " FROM pg_stat_replication_slots WHERE slot_name = %s",
                 (slot,))
    if not rows:
        return {"spill_txns": None, "spill_count": None, "spill_bytes": None}
    return dict(zip(("spill_txns", "spill_count", "spill_bytes"), rows[0]))


def sample_sql(ctl, config, slot, end):
    """One decode through the SQL interface, in a fresh backend."""
    reset_spill(ctl, slot)
    conn = connect()
    try:
        pid = query(conn, "SELECT pg_backend_pid()")[0][0]
        cpu0 = cpu_secs(pid)
        secs, messages, nbytes = query(
            conn, "SELECT * FROM bench_decode(%s, %s, %s)",
            (slot, end, config["options"]))[0]
        cpu1 = cpu_secs(pid)
        peak = vm_hwm_kb(pid)
    finally:
        conn.close()
    sample = {"secs": secs, "messages": messages, "bytes": nbytes,
              "cpu_secs": cpu1 - cpu0 if cpu0 is not None and cpu1 is not None
              else None,
              "peak_kb": peak}
    sample.update(read_spill(ctl, slot))
    return sample


def sample_stream(ctl, config, slot, end, args):
    """One decode through the streaming protocol: pg_recvlogical on a copy."""
    copy = "bench_copy"
    query(ctl, "SELECT pg_copy_logical_replication_slot(%s, %s)", (slot, copy))
    cmd = [os.path.join(args.bindir, "pg_recvlogical"),
           "-d", f"dbname={DBNAME}", "--slot", copy, "--start",
           "--endpos", end, "--no-loop", "-f", "/dev/null"]
    for i in range(0, len(config["options"]), 2):
        cmd += ["-o", f"{config['options'][i]}={config['options'][i + 1]}"]
    peak = {"kb": None, "cpu": None}
    done = threading.Event()

    def poll():
        pid = None
        pconn = connect()
        try:
            while not done.is_set():
                if pid is None:
                    rows = query(pconn, "SELECT active_pid FROM pg_replication_slots"
                                 " WHERE slot_name = %s", (copy,))
                    if rows and rows[0][0]:
                        pid = rows[0][0]
                if pid is not None:
                    kb = vm_hwm_kb(pid)
                    cpu = cpu_secs(pid)
                    if kb is not None:
                        peak["kb"] = kb
                    if cpu is not None:
                        peak["cpu"] = cpu
                done.wait(0.02)
        finally:
            pconn.close()

    poller = threading.Thread(target=poll)
    try:
        poller.start()
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=args.timeout)
        finally:
            secs = time.monotonic() - t0
            done.set()
            poller.join()
        if proc.returncode != 0:
            raise RuntimeError("pg_recvlogical failed: " + proc.stderr.strip())
        # the walsender's CPU time at the last poll: a lower bound
        sample = {"secs": secs, "peak_kb": peak["kb"],
                  "cpu_secs_polled": peak["cpu"]}
        # the walsender may still be letting go of the slot; its spill
        # counters are complete once it has
        wait_inactive(ctl, copy)
        sample.update(read_spill(ctl, copy))
    finally:
        wait_inactive(ctl, copy)
        query(ctl, "SELECT pg_drop_replication_slot(%s) FROM pg_replication_slots"
              " WHERE slot_name = %s", (copy, copy))
    return sample


def wait_inactive(ctl, slot):
    """Wait up to 5 s until no process uses the slot."""
    for _ in range(500):
        if not query(ctl, "SELECT 1 FROM pg_replication_slots WHERE"
                     " slot_name = %s AND active", (slot,)):
            return
        time.sleep(0.01)


INTERFACES = ["sql", "stream"]


def count_changes(ctl, config, slot, end):
    """The row changes a configuration sends for [start, END], and the
    bytes it sends, untimed."""
    if config.get("count_sum"):
        expr = f"coalesce(sum({config['count_sum']}), 0)"
    else:
        expr = f"count(*) FILTER (WHERE {config['count']})"
    return query(ctl, f"SELECT {expr}, coalesce(sum(octet_length(data)), 0)"
                 " FROM pg_logical_slot_peek_binary_changes("
                 "%s, %s, NULL, VARIADIC %s::text[])",
                 (slot, end, config["options"]))[0]


def wait_flushed(ctl, end):
    """Logical decoding reads only flushed WAL: wait until END is."""
    for _ in range(1000):
        if query(ctl, "SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn",
                 (end,))[0][0]:
            return
        time.sleep(0.01)
    raise RuntimeError(f"WAL was not flushed up to {end}")


def run_psql_file(args, path):
    subprocess.run([os.path.join(args.bindir, "psql"), "-X", "-q",
                    "-v", "ON_ERROR_STOP=1", "-d", DBNAME, "-f", path],
                   check=True, stdout=subprocess.DEVNULL)


def run_workload(ctl, name, wl, configs, interfaces, args, results):
    """Prepare, create the slots, run the workload, measure, count, drop."""
    log(f"workload {name} ({', '.join(interfaces)}): {wl['what']}")
    for config in configs:
        query(ctl, "SELECT pg_drop_replication_slot(slot_name)"
              " FROM pg_replication_slots WHERE slot_name = %s",
              (slot_name(config),))
    if wl.get("prepare_file"):
        run_psql_file(args, wl["prepare_file"])
    for sql in wl.get("prepare", []):
        query(ctl, sql)
    # every workload starts after a checkpoint, so its WAL has the same
    # full-page images from one run to the next
    query(ctl, "CHECKPOINT")
    for config in configs:
        query(ctl, "SELECT pg_create_logical_replication_slot(%s, %s)",
              (slot_name(config), config["plugin"]))
    t0 = time.monotonic()
    if wl.get("run_file"):
        run_psql_file(args, wl["run_file"])
    else:
        query(ctl, wl["run"])
    end = query(ctl, "SELECT pg_current_wal_lsn()::text")[0][0]
    wait_flushed(ctl, end)
    wal_bytes = query(ctl, "SELECT %s::pg_lsn - min(restart_lsn)"
                      " FROM pg_replication_slots", (end,))[0][0]
    log(f"workload {name}: ran in {time.monotonic() - t0:.1f}s,"
        f" {int(wal_bytes) / 1e6:.0f} MB of WAL to decode")

    samples = []
    for rep in range(args.reps):
        for iface in interfaces:
            # interleaved, every other repetition in the reverse order, so
            # that neighbours in CONFIGS always run next to each other and
            # none is always first or last
            order = configs if rep % 2 == 0 else configs[::-1]
            for config in order:
                slot = slot_name(config)
                try:
                    if iface == "sql":
                        s = sample_sql(ctl, config, slot, end)
                    else:
                        s = sample_stream(ctl, config, slot, end, args)
                except (psycopg2.Error, RuntimeError,
                        subprocess.TimeoutExpired) as e:
                    msg = first_line(e)
                    s = {"error": msg}
                    log(f"  {iface} {config['name']}: failed: {msg}")
                s.update({"workload": name, "interface": iface,
                          "config": config["name"], "rep": rep})
                samples.append(s)
        log(f"workload {name}: repetition {rep + 1} of {args.reps} done")

    counts, nbytes = {}, {}
    if args.verify:
        for config in configs:
            try:
                n, b = count_changes(ctl, config, slot_name(config), end)
                counts[config["name"]], nbytes[config["name"]] = int(n), int(b)
            except psycopg2.Error as e:
                counts[config["name"]] = None
                log(f"  count {config['name']}: failed: {first_line(e)}")
    for config in configs:
        query(ctl, "SELECT pg_drop_replication_slot(%s)", (slot_name(config),))

    expected = wl.get("changes")
    if expected is None:
        expected = counts.get(REFERENCE)
    results["runs"].append({
        "workload": name, "interfaces": interfaces, "what": wl["what"],
        "changes": expected, "wide": wl.get("wide", False),
        "end_lsn": end, "wal_bytes": int(wal_bytes), "counts": counts,
        "bytes": nbytes})
    results["samples"].extend(samples)


def first_line(e):
    text = str(e).strip()
    return text.splitlines()[0] if text else repr(e)


def run_of(results, name, iface):
    """The run of a workload that measured an interface."""
    for run in results["runs"]:
        if run["workload"] == name and iface in run["interfaces"]:
            return run
    return None


def workload_names(results):
    names = []
    for run in results["runs"]:
        if run["workload"] not in names:
            names.append(run["workload"])
    return names


def summarize(results):
    """Medians per (workload, interface, config), and ratios."""
    rows = []
    for name in workload_names(results):
        for iface in INTERFACES:
            per = {}
            for s in results["samples"]:
                if s["workload"] == name and s["interface"] == iface:
                    per.setdefault(s["config"], []).append(s)
            if not per:
                continue
            run = run_of(results, name, iface)
            med = {}
            for cname, ss in per.items():
                ok = [s for s in ss if "error" not in s]
                if len(ok) < len(ss):
                    med[cname] = {"error": next(s["error"] for s in ss
                                                if "error" in s)}
                    continue
                m = {"n": len(ok),
                     "secs": statistics.median(s["secs"] for s in ok),
                     "min": min(s["secs"] for s in ok),
                     "max": max(s["secs"] for s in ok)}
                for key in ("cpu_secs", "peak_kb", "spill_bytes", "bytes", "messages"):
                    vals = [s[key] for s in ok if s.get(key) is not None]
                    m[key] = statistics.median(vals) if vals else None
                med[cname] = m
            for cname, m in med.items():
                row = {"workload": name, "interface": iface, "config": cname,
                       "changes": run["changes"]}
                row.update(m)
                if "error" not in m:
                    for ref, key in ((REFERENCE, "x_pgoutput"), (FLOOR, "x_floor")):
                        row[key] = paired_ratio(per, cname, ref, "secs")
                        row[key + "_cpu"] = paired_ratio(per, cname, ref, "cpu_secs")
                rows.append(row)
    return rows


def paired_ratio(per, a, b, key):
    """The median over the repetitions of a's figure over b's in the same
    repetition, or None.

    Samples of one repetition run minutes apart at most, and the machine's
    speed drifts over a run: a ratio taken within a repetition cancels the
    drift, where a ratio of two medians taken from different repetitions
    would not.
    """
    if a not in per or b not in per:
        return None
    by_rep = {s["rep"]: s for s in per[b] if "error" not in s}
    ratios = [s[key] / by_rep[s["rep"]][key] for s in per[a]
              if "error" not in s and s.get(key)
              and s["rep"] in by_rep and by_rep[s["rep"]].get(key)]
    return statistics.median(ratios) if ratios else None


def fmt(v, spec, none="n/a"):
    return none if v is None else format(v, spec)


def output_bytes(results, name, iface, cname):
    """Output bytes of a configuration in the run that measured iface.

    The SQL samples count them; pg_recvlogical receives the same messages,
    so a streaming run without SQL samples takes them from the untimed
    count.
    """
    run = run_of(results, name, iface)
    for s in results["samples"]:
        if (s["workload"] == name and s["config"] == cname
                and s["interface"] in run["interfaces"]
                and s.get("bytes") is not None):
            return s["bytes"]
    return run.get("bytes", {}).get(cname)


def markdown(results, rows):
    out = []
    meta = results["meta"]
    out.append(f"Scale {meta['scale']} (SQL interface), {meta['stream_scale']}"
               f" (streaming); {meta['reps']} repetitions, median; started"
               f" {meta['started']}, {meta['seconds']} s; {meta['machine']};"
               f" load average {meta['loadavg_start']:.1f} at the start,"
               f" {meta['loadavg_end']:.1f} at the end; {meta['server']};"
               f" {meta['plugins']}.")
    out.append("")
    for name in workload_names(results):
        for iface in INTERFACES:
            sub = [r for r in rows if r["workload"] == name and r["interface"] == iface]
            if not sub:
                continue
            run = run_of(results, name, iface)
            out.append(f"### {name}, {iface}: {run['what']}")
            out.append("")
            out.append("| plugin | time s | spread | CPU s | changes/s | MB/s"
                       " | bytes/change | peak MB | spill MB | × pgoutput | × floor |")
            out.append("|---|" + "---:|" * 10)
            for r in sub:
                if "error" in r:
                    out.append(f"| {r['config']} | failed: {r['error'][:100]} |"
                               + " |" * 9)
                    continue
                changes = run["changes"] or 0
                nbytes = output_bytes(results, name, iface, r["config"])
                secs = r["secs"]
                out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    r["config"], fmt(secs, ".3f"),
                    fmt((r["max"] - r["min"]) / secs * 100 if secs else None, ".0f") + "%",
                    fmt(r.get("cpu_secs"), ".3f"),
                    fmt(changes / secs if secs else None, ",.0f"),
                    fmt(nbytes / 1e6 / secs if nbytes is not None and secs else None, ".1f"),
                    fmt(nbytes / changes if nbytes is not None and changes else None, ".0f"),
                    fmt(r["peak_kb"] / 1024 if r.get("peak_kb") else None, ".0f"),
                    fmt(r["spill_bytes"] / 1e6 if r.get("spill_bytes") is not None else None, ".0f"),
                    fmt(r.get("x_pgoutput"), ".2f"), fmt(r.get("x_floor"), ".2f")))
            out.append("")
    out.append("### Row changes counted in each plugin's output")
    out.append("")
    names = [c["name"] for c in CONFIGS if c["name"] in results["configs"]]
    out.append("| workload | interfaces | expected | " + " | ".join(names) + " |")
    out.append("|---|---|---:|" + "---:|" * len(names))
    for run in results["runs"]:
        out.append(f"| {run['workload']} | {', '.join(run['interfaces'])} |"
                   f" {run['changes']} | " + " | ".join(
                       fmt(run["counts"].get(n), "d", "not counted")
                       for n in names) + " |")
    out.append("")
    out.append("### Targets")
    out.append("")
    out.extend(targets(results, rows))
    out.append("")
    return "\n".join(out)


def targets(results, rows):
    """The issue's targets, checked on this run's figures.

    Ratios are paired (paired_ratio).  The verdict is on elapsed time, as
    the issue words the targets; the same ratio in CPU time (SQL interface:
    the backend's own) follows in brackets.
    """
    def get(wl, iface, cname):
        for r in rows:
            if (r["workload"], r["interface"], r["config"]) == (wl, iface, cname):
                return None if "error" in r else r
        return None

    lines = []

    def check(label, ok, figure, note=None):
        verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
        note = f"; {note}" if note else ""
        lines.append(f"- {label}: {figure} ({verdict}{note})")

    def ratio(name, iface, a, b, key):
        per = {}
        for s in results["samples"]:
            if s["workload"] == name and s["interface"] == iface:
                per.setdefault(s["config"], []).append(s)
        return paired_ratio(per, a, b, key)

    def shown(x, limit):
        """x to two decimals, or three when two would read as the limit"""
        if x is None:
            return "n/a"
        return f"{x:.3f}" if f"{x:.2f}" == f"{limit:.2f}" else f"{x:.2f}"

    def ratio_target(name, ref, limit, label):
        x = ratio(name, "sql", "walcast", ref, "secs")
        check(f"{name}, SQL: {label}", None if x is None else x <= limit,
              f"{shown(x, limit)} ×",
              f"in CPU time {fmt(ratio(name, 'sql', 'walcast', ref, 'cpu_secs'), '.2f')} ×")

    ratio_target("inserts", REFERENCE, 0.5, "walcast ≤ 0.5 × pgoutput's time")
    ratio_target("inserts", FLOOR, 3, "walcast ≤ 3 × the floor's time")
    ratio_target("updates", REFERENCE, 0.7, "walcast ≤ 0.7 × pgoutput's time")
    for name in workload_names(results):
        for iface in INTERFACES:
            run = run_of(results, name, iface)
            w = get(name, iface, "walcast")
            if not run or not run["wide"] or not w:
                continue
            for peer in ("wal2json-2", "decoderbufs"):
                if not get(name, iface, peer):
                    continue
                x = ratio(name, iface, peer, "walcast", "secs")
                if x is None:
                    continue
                cpu = ratio(name, iface, peer, "walcast", "cpu_secs")
                check(f"{name}, {iface}: walcast ≥ 3 × as fast as {peer}",
                      x >= 3, f"{shown(x, 3)} ×",
                      f"in CPU time {cpu:.2f} ×" if cpu else None)
    w = get("huge", "sql", "walcast")
    p = get("huge", "sql", REFERENCE)
    if w and p and w["peak_kb"] and p["peak_kb"]:
        d = round(w["peak_kb"] - p["peak_kb"])
        check("huge, SQL: walcast's backend peak memory ≤ pgoutput's",
              d <= 0,
              f"{w['peak_kb'] / 1024:.1f} MB against {p['peak_kb'] / 1024:.1f} MB,"
              f" {d:+d} kB ({d / p['peak_kb'] * 100:+.1f}%)")
    return lines


def chart(results, rows, path):
    """Time relative to pgoutput, per workload and plugin, one panel per
    interface."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        error("could not import matplotlib, no chart written",
              hint="Install python3-matplotlib (scripts/ensure-packages bench).")
        return False
    ifaces = [i for i in INTERFACES if any(r["interface"] == i for r in rows)]
    names = [c["name"] for c in CONFIGS if c["name"] in results["configs"]]
    wls = workload_names(results)
    fig, axes = plt.subplots(len(ifaces), 1, figsize=(11, 4.2 * len(ifaces)),
                             squeeze=False)
    width = 0.8 / max(len(names), 1)
    for ax, iface in zip(axes[:, 0], ifaces):
        for k, cname in enumerate(names):
            xs, ys = [], []
            for i, wl in enumerate(wls):
                for r in rows:
                    if ((r["workload"], r["interface"], r["config"]) == (wl, iface, cname)
                            and r.get("x_pgoutput")):
                        xs.append(i + (k - len(names) / 2 + 0.5) * width)
                        ys.append(r["x_pgoutput"])
            ax.bar(xs, ys, width, label=cname)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(wls)))
        ax.set_xticklabels(wls)
        ax.set_ylabel("time / pgoutput's, paired")
        scale = results["meta"]["scale" if iface == "sql" else "stream_scale"]
        ax.set_title(f"{iface} interface: median of {results['meta']['reps']},"
                     f" scale {scale}; lower is faster")
        ax.legend(fontsize="small", ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return True


def server_versions(ctl):
    server = query(ctl, "SHOW server_version")[0][0]
    plugins = []
    for pkg in ("postgresql-15-wal2json", "postgresql-15-decoderbufs"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                               capture_output=True, text=True).stdout.strip()
        except OSError:
            v = ""
        plugins.append(f"{pkg.split('-', 2)[2]} {v or 'unknown'}")
    return f"PostgreSQL {server}", ", ".join(plugins)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Decode the same WAL with walcast and its peers and"
                    " compare them, as ratios measured in one run.")
    p.add_argument("--scale", type=int, default=100000,
                   help="rows inserted by the inserts and huge workloads, the"
                        " SQL interface's (default: %(default)s; updates and deletes"
                        " change scale/4 rows, tiny makes scale/20 transactions);"
                        " 1000000 is the full run")
    p.add_argument("--stream-scale", type=int,
                   help="the same for the streaming interface, whose workloads run"
                        " separately when it differs (default: scale/10)")
    p.add_argument("--reps", type=int, default=3,
                   help="repetitions per plugin and interface (default: %(default)s)")
    p.add_argument("--workload", action="append", dest="workloads",
                   metavar="NAME",
                   help="run only this workload (repeatable): inserts, updates,"
                        " deletes, huge, tiny, file (default: all built-in ones,"
                        " and file when --sql is given)")
    p.add_argument("--sql", metavar="FILE",
                   help="your own workload: a SQL file run with psql after the"
                        " slots exist; everything it does is decoded")
    p.add_argument("--sql-setup", metavar="FILE",
                   help="SQL run before the slots exist, to prepare --sql")
    p.add_argument("--plugin", action="append", dest="plugins", metavar="NAME",
                   help="decode only with this configuration (repeatable; pgoutput"
                        " and the floor are always kept for the ratios): "
                        + ", ".join(c["name"] for c in CONFIGS))
    p.add_argument("--interface", action="append", dest="interfaces",
                   choices=INTERFACES,
                   help="sql or stream (repeatable; default: both)")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not count every plugin's row changes afterwards")
    p.add_argument("--out", metavar="DIR", default="bench/results",
                   help="where report.md, samples.json and chart.png go"
                        " (default: %(default)s)")
    p.add_argument("--timeout", type=int, default=900,
                   help="seconds one streaming sample may take (default: %(default)s)")
    p.add_argument("--bindir", required=True, help=argparse.SUPPRESS)
    # bench/run checks the options this way before it starts a server
    p.add_argument("--check-only", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.scale < 1:
        p.error("--scale must be at least 1")
    if args.reps < 1:
        p.error("--reps must be at least 1")
    if args.stream_scale is None:
        args.stream_scale = max(args.scale // 10, 1)
    if args.stream_scale < 1:
        p.error("--stream-scale must be at least 1")
    if not args.interfaces:
        args.interfaces = list(INTERFACES)
    args.interfaces = [i for i in INTERFACES if i in args.interfaces]
    return args


def main(argv):
    args = parse_args(argv)
    known = workloads(args.scale)
    # the interfaces, grouped by the scale they run at
    groups = {}
    for iface in args.interfaces:
        sc = args.scale if iface == "sql" else args.stream_scale
        groups.setdefault(sc, []).append(iface)
    wanted = args.workloads or (list(known) + (["file"] if args.sql else []))
    for name in wanted:
        if name not in known and name != "file":
            error(f'unrecognized workload "{name}"',
                  hint="Valid workloads are: " + ", ".join(list(known) + ["file"]) + ".")
            return 2
        if name == "file" and not args.sql:
            error('workload "file" needs --sql FILE')
            return 2
    for path in (args.sql, args.sql_setup):
        if path and not os.access(path, os.R_OK):
            error(f'could not read file "{path}"')
            return 2
    configs = list(CONFIGS)
    if args.plugins:
        names = {c["name"] for c in CONFIGS}
        for n in args.plugins:
            if n not in names:
                error(f'unrecognized plugin configuration "{n}"',
                      hint="Valid configurations are: " + ", ".join(sorted(names)) + ".")
                return 2
        keep = set(args.plugins) | {REFERENCE, FLOOR}
        configs = [c for c in CONFIGS if c["name"] in keep]
    if args.check_only:
        return 0

    os.makedirs(args.out, exist_ok=True)
    query(connect("postgres"), f"CREATE DATABASE {DBNAME}")
    run_psql_file(args, os.path.join(os.path.dirname(__file__), "setup.sql"))
    ctl = connect()
    server, plugins = server_versions(ctl)
    results = {
        "meta": {"started": datetime.datetime.now(datetime.timezone.utc)
                 .strftime("%Y-%m-%d %H:%M UTC"),
                 "scale": args.scale, "stream_scale": args.stream_scale,
                 "reps": args.reps,
                 "machine": machine(), "server": server, "plugins": plugins,
                 "loadavg_start": os.getloadavg()[0],
                 "settings": dict(query(ctl, "SELECT name, setting FROM pg_settings"
                                        " WHERE name IN ('logical_decoding_work_mem',"
                                        " 'work_mem', 'shared_buffers')"))},
        "configs": {c["name"]: {"plugin": c["plugin"], "options": c["options"]}
                    for c in configs},
        "runs": [], "samples": []}
    t0 = time.monotonic()
    for name in wanted:
        if name == "file":
            # the file does not scale: one run for every interface
            wl = {"what": f"your SQL file {os.path.basename(args.sql)}",
                  "prepare_file": args.sql_setup, "run_file": args.sql,
                  "changes": None, "wide": False}
            run_workload(ctl, name, wl, configs, args.interfaces, args, results)
            continue
        for sc, ifaces in groups.items():
            run_workload(ctl, name, workloads(sc)[name], configs, ifaces,
                         args, results)
    results["meta"]["seconds"] = round(time.monotonic() - t0)
    results["meta"]["loadavg_end"] = os.getloadavg()[0]

    rows = summarize(results)
    results["summary"] = rows
    with open(os.path.join(args.out, "samples.json"), "w") as f:
        json.dump(results, f, indent=1)
    md = markdown(results, rows)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(md)
    chart(results, rows, os.path.join(args.out, "chart.png"))
    print(md)
    log(f"done in {results['meta']['seconds']}s; wrote {args.out}/report.md,"
        f" samples.json and chart.png")

    mismatched = [(run, c, n) for run in results["runs"]
                  for c, n in run["counts"].items()
                  if n != (0 if c == FLOOR else run["changes"])]
    for run, c, n in mismatched:
        error(f'plugin configuration "{c}" sent {n} row changes in workload'
              f' "{run["workload"]}", expected'
              f" {0 if c == FLOOR else run['changes']}")
    return 1 if mismatched else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except psycopg2.Error as e:
        error(f"could not run the benchmark: {first_line(e)}")
        sys.exit(1)
