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
       - "relay" (walcast only): another copy read by walcast relay, with
         one durable walcast tail --stats --count TRANSACTIONS subscriber
         started before it, timed from the relay's start to the
         subscriber's exit, right next to the "stream" sample of walcast
         (pg_recvlogical), its reference; the relay's VmHWM is polled;
  5. count the row changes each configuration sent, untimed, with one more
     peek per configuration (the "count" expressions in CONFIGS), and
     check that every one sent the workload's number of changes;
  6. drop the slots.

The median of the repetitions is reported, with every plugin's ratio to
pgoutput (text, proto_version 1) and to the floor (pgoutput with a
publication on no tables: reading WAL and reordering with almost no output),
each the median of the ratios within a repetition (paired_ratio).

With the relay interface, two more measurements: the relay's memory
through the huge transaction at the SQL interface's scale (one sample), and
the commit-to-delivery latency of single-row transactions offered by
pgbench at a fixed rate (run_latency).
"""

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
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


def vm_kb(pid, field):
    """A memory figure of a process from /proc/PID/status ("VmHWM", the peak
    resident memory, or "VmRSS") in kB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def vm_hwm_kb(pid):
    """Peak resident memory of a process in kB, or None when it is gone."""
    return vm_kb(pid, "VmHWM")


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
        # load the plugin first, with a peek that decodes nothing, so that
        # the growth from here is what the WAL cost
        query(conn, "SELECT count(*) FROM pg_logical_slot_peek_binary_changes("
              "%s, (SELECT confirmed_flush_lsn FROM pg_replication_slots"
              " WHERE slot_name = %s), NULL, VARIADIC %s::text[])",
              (slot, slot, config["options"]))
        start = vm_kb(pid, "VmRSS")
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
              "peak_kb": peak,
              "growth_kb": peak - start if peak is not None and start is not None
              else None}
    sample.update(read_spill(ctl, slot))
    return sample


def sample_stream(ctl, config, slot, end, args):
    """One decode through the streaming protocol: pg_recvlogical on a copy."""
    copy = "bench_copy"
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
    with slot_copy(ctl, slot, copy):
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
    return sample


@contextlib.contextmanager
def slot_copy(ctl, slot, copy):
    """A copy of slot (pg_copy_logical_replication_slot: the same start
    point), dropped on the way out once no process uses it."""
    query(ctl, "SELECT pg_copy_logical_replication_slot(%s, %s)", (slot, copy))
    try:
        yield copy
    finally:
        drop_slot(ctl, copy)


def drop_slot(ctl, slot):
    """Drop slot if it exists, once no process uses it."""
    wait_inactive(ctl, slot)
    query(ctl, "SELECT pg_drop_replication_slot(slot_name)"
          " FROM pg_replication_slots WHERE slot_name = %s", (slot,))


def wait_inactive(ctl, slot):
    """Wait up to 5 s until no process uses the slot."""
    for _ in range(500):
        if not query(ctl, "SELECT 1 FROM pg_replication_slots WHERE"
                     " slot_name = %s AND active", (slot,)):
            return
        time.sleep(0.01)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on, for the relay."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path, lines=5):
    try:
        with open(path) as f:
            return " / ".join(f.read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def run_relay(ctl, slot, xacts, args, status_interval=10, during=None):
    """Read slot with walcast relay and one durable walcast tail --stats.

    The subscriber starts first (as it would in production, and so that it
    misses nothing); then the relay; the time runs from the relay's start
    to the subscriber's exit after xacts transactions (--count), so it
    covers the relay's connection and the start of replication, as the
    pg_recvlogical samples do.  A thread polls the relay's VmHWM every
    20 ms, and it is read once more, exactly, before the relay is stopped.
    during(), if given, runs while the relay runs (the paced workload of the
    latency run) and the subscriber is then stopped with SIGTERM once the
    slot is confirmed past what it wrote; otherwise --count stops it.
    Returns the sample: secs, peak_kb, the subscriber's figures, and
    "error" when the relay or the subscriber failed or lost messages.
    """
    tmp = tempfile.mkdtemp(prefix="walcast-bench-relay.")
    pub = f"tcp://127.0.0.1:{free_port()}"
    durable = f"tcp://127.0.0.1:{free_port()}"
    tail_cmd = [args.walcast, "tail", "--durable", "bench", "-e", durable,
                "--stats"]
    if during is None:
        tail_cmd += ["--count", str(xacts)]
    relay_cmd = [args.walcast, "relay", "-d", f"dbname={DBNAME}", "-S", slot,
                 "--state-file", os.path.join(tmp, "relay.state"),
                 "-p", pub, "--durable", durable, "--subscriber", "bench",
                 "-s", str(status_interval)]
    relay_log = os.path.join(tmp, "relay.log")
    peak = {"kb": None}
    done = threading.Event()
    tail = relay = None
    sample = {}
    try:
        tail = subprocess.Popen(tail_cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with open(relay_log, "w") as logf:
            t0 = time.monotonic()
            relay = subprocess.Popen(relay_cmd, stdout=logf, stderr=logf)

        def poll():
            while not done.is_set():
                kb = vm_hwm_kb(relay.pid)
                if kb is not None:
                    peak["kb"] = kb
                if relay.poll() is not None:
                    # the relay died: the subscriber would wait forever
                    tail.send_signal(signal.SIGTERM)
                    return
                done.wait(0.02)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            if during is not None:
                sample.update(during(relay))
                # the relay confirms every status interval what the
                # subscriber acknowledged: then everything was delivered
                sample["confirmed"] = wait_confirmed(ctl, slot,
                                                     sample["end_lsn"], 30)
                tail.send_signal(signal.SIGTERM)
            try:
                out, err = tail.communicate(timeout=args.timeout)
            finally:
                secs = time.monotonic() - t0
        finally:
            done.set()
            poller.join()
        kb = vm_hwm_kb(relay.pid)
        if kb is not None:
            peak["kb"] = kb
        relay_alive = relay.poll() is None
        relay.send_signal(signal.SIGTERM)
        relay_rc = relay.wait(timeout=30)
        with open(relay_log) as f:
            # the relay read the slot again for the subscriber, which
            # connected after it had started streaming
            rereads = sum("again from its confirmed position" in line
                          for line in f)
        sample.update({"secs": secs, "peak_kb": peak["kb"],
                       "relay_exit": relay_rc, "relay_rereads": rereads})
        if tail.returncode != 0 or not out.strip():
            sample["error"] = (f"walcast tail exited with status"
                               f" {tail.returncode}: {err.strip()[:300]};"
                               f" relay log: {log_tail(relay_log)}")
            return sample
        stats = json.loads(out.strip().splitlines()[-1])
        sample.update({"messages": stats["messages"],
                       "transactions": stats["transactions"],
                       "bytes": stats["bytes"], "lost": stats["lost"],
                       "tail_seconds": stats["seconds"],
                       "latency_us": stats["latency_us"]})
        if not relay_alive or relay_rc != 0:
            sample["error"] = (f"walcast relay exited with status {relay_rc}"
                               f"{'' if relay_alive else ' before it was stopped'}:"
                               f" {log_tail(relay_log)}")
        elif stats["lost"]:
            sample["error"] = f"the subscriber lost {stats['lost']} messages"
        return sample
    finally:
        for proc in (tail, relay):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def wait_confirmed(ctl, slot, lsn, secs):
    """Wait up to secs until slot is confirmed at or past lsn."""
    for _ in range(secs * 20):
        if query(ctl, "SELECT confirmed_flush_lsn >= %s::pg_lsn FROM"
                 " pg_replication_slots WHERE slot_name = %s",
                 (lsn, slot))[0][0]:
            return True
        time.sleep(0.05)
    return False


def sample_relay(ctl, config, slot, end, args, xacts):
    """One decode end to end: a copy of the slot read by walcast relay, to
    one durable subscriber."""
    with slot_copy(ctl, slot, "bench_relay_copy") as copy:
        s = run_relay(ctl, copy, xacts, args)
        wait_inactive(ctl, copy)
        s.update(read_spill(ctl, copy))
    return s


# "relay" runs the walcast configuration only, at the streaming scale, right
# next to the "stream" interface's walcast sample (pg_recvlogical) of the
# same repetition, its reference
INTERFACES = ["sql", "stream", "relay"]


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


def count_walcast_messages(ctl, slot, end):
    """walcast's messages, bytes and transactions (commits) for [start,
    END], untimed: what a durable subscriber of the relay must receive."""
    n, nbytes, xacts = query(
        ctl, "SELECT count(*), coalesce(sum(octet_length(data)), 0),"
        " count(*) FILTER (WHERE encode(substring(data FROM 1 FOR 32), 'hex')"
        f" ~ '^08{VARINT}(10{VARINT})?(18{VARINT})?62')"
        " FROM pg_logical_slot_peek_binary_changes(%s, %s, NULL)",
        (slot, end))[0]
    return {"messages": int(n), "bytes": int(nbytes), "transactions": int(xacts)}


def check_relay(sample, expect):
    """A relay sample must deliver every message of the slot: the same
    messages and bytes as a peek of it (sample["error"] otherwise)."""
    if "error" in sample:
        return
    for key in ("messages", "bytes", "transactions"):
        if sample.get(key) != expect[key]:
            sample["error"] = (f"the subscriber received {sample.get(key)} {key},"
                               f" the slot holds {expect[key]}")
            return


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

    relay_expect = None
    walcast = [c for c in configs if c["name"] == "walcast"]
    if walcast and ("relay" in interfaces or name == "huge"
                    and "relay" in args.interfaces):
        # what the subscriber must receive: every message, and the
        # transactions it counts to stop (--count), untimed
        relay_expect = count_walcast_messages(ctl, slot_name(walcast[0]), end)

    samples = []
    for rep in range(args.reps):
        # the relay's sample runs right next to pg_recvlogical's walcast
        # sample, its reference: first in the repetitions where walcast
        # comes first, last in the others
        ifaces = interfaces if rep % 2 else interfaces[::-1]
        if "sql" in ifaces:
            ifaces = ["sql"] + [i for i in ifaces if i != "sql"]
        for iface in ifaces:
            # interleaved, every other repetition in the reverse order, so
            # that neighbours in CONFIGS always run next to each other and
            # none is always first or last
            order = configs if rep % 2 == 0 else configs[::-1]
            if iface == "relay":
                order = walcast
            for config in order:
                slot = slot_name(config)
                try:
                    if iface == "sql":
                        s = sample_sql(ctl, config, slot, end)
                    elif iface == "stream":
                        s = sample_stream(ctl, config, slot, end, args)
                    else:
                        s = sample_relay(ctl, config, slot, end, args,
                                         relay_expect["transactions"])
                        check_relay(s, relay_expect)
                except (psycopg2.Error, RuntimeError,
                        subprocess.TimeoutExpired) as e:
                    msg = first_line(e)
                    s = {"error": msg}
                    log(f"  {iface} {config['name']}: failed: {msg}")
                s.update({"workload": name, "interface": iface,
                          "config": config["name"], "rep": rep})
                samples.append(s)
        log(f"workload {name}: repetition {rep + 1} of {args.reps} done")

    if (name == "huge" and relay_expect and "relay" not in interfaces):
        # the relay's memory through the one huge transaction at the SQL
        # interface's scale (the relay interface runs at the streaming
        # scale): one sample, not in the tables' medians
        log(f"workload {name}: the relay's memory through {wl['changes']} rows")
        try:
            s = sample_relay(ctl, walcast[0], slot_name(walcast[0]), end, args,
                             relay_expect["transactions"])
            check_relay(s, relay_expect)
        except (psycopg2.Error, RuntimeError, subprocess.TimeoutExpired) as e:
            s = {"error": first_line(e)}
        if "error" in s:
            log(f"  relay: failed: {s['error']}")
        s.update({"workload": name, "changes": wl["changes"]})
        results["relay_huge"] = s

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
        "bytes": nbytes, "relay_expect": relay_expect})
    results["samples"].extend(samples)


def run_latency(ctl, args, results):
    """The latency run, args.reps times (latency_sample); the median p99
    is the one judged."""
    log(f"latency: single-row insert transactions at {args.latency_rate}/s"
        f" for {args.latency_seconds} s through the relay, {args.reps} times")
    results["latency"] = []
    for rep in range(args.reps):
        s = latency_sample(ctl, args)
        s["rep"] = rep
        if "error" in s:
            log(f"latency: failed: {s['error']}")
        results["latency"].append(s)


def latency_sample(ctl, args):
    """Commit-to-delivery latency at a fixed offered rate, through the relay.

    A walcast slot read by walcast relay (-s 1: it confirms to the server
    every second) with one durable walcast tail --stats, both started
    before the workload; then pgbench offers args.latency_rate transactions
    a second (-R, a Poisson schedule) for args.latency_seconds, each one
    single-row insert into bench_wide; once the slot is confirmed past the
    last of them the subscriber is stopped with SIGTERM and reports the
    latency of every transaction it received: its delivery time less its
    commit time (the server's clock, on the same machine).
    """
    slot = "bench_latency"
    rate, secs = args.latency_rate, args.latency_seconds
    query(ctl, "TRUNCATE bench_wide")
    query(ctl, "DROP SEQUENCE IF EXISTS bench_latency_id")
    query(ctl, "CREATE SEQUENCE bench_latency_id")
    drop_slot(ctl, slot)
    query(ctl, "CHECKPOINT")
    query(ctl, "SELECT pg_create_logical_replication_slot(%s, 'walcast')",
          (slot,))
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("INSERT INTO bench_wide SELECT * FROM"
                 " bench_rows(nextval('bench_latency_id'), 1);\n")
    script.close()
    os.chmod(script.name, 0o644)

    def paced(relay):
        # the workload starts once the relay streams from the slot
        for _ in range(500):
            if query(ctl, "SELECT active FROM pg_replication_slots"
                     " WHERE slot_name = %s", (slot,))[0][0]:
                break
            if relay.poll() is not None:
                raise RuntimeError("walcast relay exited before it streamed")
            time.sleep(0.02)
        time.sleep(0.5)
        cmd = [os.path.join(args.bindir, "pgbench"), "-n", "-R", str(rate),
               "-T", str(secs), "-c", "2", "-j", "2", "-f", script.name, DBNAME]
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=secs + 60)
        if proc.returncode != 0:
            raise RuntimeError("pgbench failed: " + proc.stderr.strip()[-300:])
        done = tps = lag = lag_max = None
        for line in proc.stdout.splitlines():
            if line.startswith("number of transactions actually processed:"):
                done = int(line.split(":")[1].split()[0].split("/")[0])
            elif line.startswith("tps = "):
                tps = float(line.split()[2])
            elif line.startswith("rate limit schedule lag: avg"):
                # "rate limit schedule lag: avg 0.365 (max 5.972) ms": how
                # late pgbench started its transactions, the machine's noise
                lag = float(line.split()[5])
                lag_max = float(line.split()[7].rstrip(")"))
        end = query(ctl, "SELECT pg_current_wal_lsn()::text")[0][0]
        return {"pgbench_transactions": done, "pgbench_tps": tps,
                "pgbench_schedule_lag_ms": lag,
                "pgbench_schedule_lag_max_ms": lag_max, "end_lsn": end}

    try:
        s = run_relay(ctl, slot, None, args, status_interval=1, during=paced)
        if "error" not in s and s.get("transactions") != s["pgbench_transactions"]:
            s["error"] = (f"the subscriber received {s.get('transactions')}"
                          f" transactions, pgbench committed"
                          f" {s['pgbench_transactions']}")
    except (psycopg2.Error, RuntimeError, subprocess.TimeoutExpired) as e:
        s = {"error": first_line(e)}
    finally:
        os.unlink(script.name)
        drop_slot(ctl, slot)
    s.update({"offered_rate": rate, "offered_seconds": secs})
    return s


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
                for key in ("cpu_secs", "peak_kb", "growth_kb", "spill_bytes", "bytes",
                            "messages"):
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
            if not sub or iface == "relay":
                continue
            run = run_of(results, name, iface)
            out.append(f"### {name}, {iface}: {run['what']}")
            out.append("")
            out.append("| plugin | time s | spread | CPU s | changes/s | MB/s"
                       " | bytes/change | peak MB | growth MB | spill MB | × pgoutput"
                       " | × floor |")
            out.append("|---|" + "---:|" * 11)
            for r in sub:
                if "error" in r:
                    out.append(f"| {r['config']} | failed: {r['error'][:100]} |"
                               + " |" * 10)
                    continue
                changes = run["changes"] or 0
                nbytes = output_bytes(results, name, iface, r["config"])
                secs = r["secs"]
                out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    r["config"], fmt(secs, ".3f"),
                    fmt((r["max"] - r["min"]) / secs * 100 if secs else None, ".0f") + "%",
                    fmt(r.get("cpu_secs"), ".3f"),
                    fmt(changes / secs if secs else None, ",.0f"),
                    fmt(nbytes / 1e6 / secs if nbytes is not None and secs else None, ".1f"),
                    fmt(nbytes / changes if nbytes is not None and changes else None, ".0f"),
                    fmt(r["peak_kb"] / 1024 if r.get("peak_kb") else None, ".0f"),
                    fmt(r["growth_kb"] / 1024 if r.get("growth_kb") is not None else None,
                        ".1f"),
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
    out.extend(relay_markdown(results))
    out.append("### Targets")
    out.append("")
    out.extend(targets(results, rows))
    out.append("")
    return "\n".join(out)


def relay_rows(results):
    """Per workload, the relay's samples beside pg_recvlogical's walcast
    samples of the same repetitions: medians and the paired ratio."""
    rows = []
    for name in workload_names(results):
        relay = [s for s in results["samples"]
                 if s["workload"] == name and s["interface"] == "relay"]
        if not relay:
            continue
        stream = [s for s in results["samples"] if s["workload"] == name
                  and s["interface"] == "stream" and s["config"] == "walcast"]
        run = run_of(results, name, "relay")
        row = {"workload": name, "what": run["what"], "changes": run["changes"],
               "n": len(relay)}
        ok = [s for s in relay if "error" not in s]
        if len(ok) < len(relay):
            row["error"] = next(s["error"] for s in relay if "error" in s)
        if ok:
            secs = [s["secs"] for s in ok]
            row.update({"secs": statistics.median(secs), "min": min(secs),
                        "max": max(secs),
                        "bytes": statistics.median(s["bytes"] for s in ok),
                        "messages": statistics.median(s["messages"] for s in ok),
                        "lost": sum(s["lost"] for s in ok),
                        "rereads": sum(s["relay_rereads"] for s in ok),
                        "peak_kb": max((s["peak_kb"] for s in ok if s.get("peak_kb")),
                                       default=None)})
            # from the relay's start to the first message the subscriber
            # received: connections, the subscriber's session, replication
            # start
            row["startup"] = statistics.median(s["secs"] - s["tail_seconds"]
                                               for s in ok)
        rs = [s for s in stream if "error" not in s]
        if rs:
            row["recv_secs"] = statistics.median(s["secs"] for s in rs)
        # throughput ratio: pg_recvlogical's time over the relay's; and the
        # same over the subscriber's first to last message only
        by_rep = {s["rep"]: s["secs"] for s in rs}
        for key, relay_key in (("x_recvlogical", "secs"),
                               ("x_recvlogical_flow", "tail_seconds")):
            # first to last message under 0.1 s says nothing
            ratios = [by_rep[s["rep"]] / s[relay_key] for s in ok
                      if s["rep"] in by_rep and s[relay_key]
                      and (relay_key == "secs" or s["tail_seconds"] >= 0.1)]
            row[key] = statistics.median(ratios) if ratios else None
        rows.append(row)
    return rows


def relay_markdown(results):
    """The end-to-end section: throughput through the relay beside
    pg_recvlogical, its memory, and the latency run."""
    out = []
    rows = relay_rows(results)
    if not rows and "latency" not in results:
        return out
    meta = results["meta"]
    out.append("### End to end through the relay")
    out.append("")
    if rows:
        out.append(f"Scale {meta['stream_scale']}. walcast relay reads a copy of"
                   " the walcast slot and republishes to one durable `walcast tail"
                   " --stats --count TRANSACTIONS` subscriber, started first: time"
                   " from the relay's start to the subscriber's exit. pg_recvlogical"
                   " is the streaming interface's walcast sample of the same"
                   " repetitions (another copy of the same slot, to /dev/null),"
                   " run right before or after it. × pg_recvlogical is its"
                   " throughput over pg_recvlogical's, paired (median of the"
                   " repetitions' ratios; higher is faster); \"after start\" is"
                   " the same with the relay's time taken from the first message"
                   " the subscriber received to the last (pg_recvlogical's"
                   " still includes its start, 10 to 20 ms). Start s: from the"
                   " relay's start to the first message received. MB/s: the envelope"
                   " bytes the subscriber received. Peak MB: the relay's VmHWM."
                   " Re-reads: samples in which the relay read the slot again"
                   " for the subscriber, which had connected after it started"
                   " streaming.")
        out.append("")
        out.append("| workload | changes | relay s | spread | start s | pg_recvlogical s"
                   " | × pg_recvlogical | after start | changes/s | MB/s | messages"
                   " | lost | re-reads | relay peak MB |")
        out.append("|---|" + "---:|" * 13)
        for r in rows:
            if "secs" not in r:
                out.append(f"| {r['workload']} | failed: {r['error'][:100]} |" + " |" * 12)
                continue
            secs = r["secs"]
            out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                r["workload"] + (" (failed once: see samples.json)" if "error" in r else ""),
                fmt(r["changes"], "d"), fmt(secs, ".3f"),
                fmt((r["max"] - r["min"]) / secs * 100 if secs else None, ".0f") + "%",
                fmt(r.get("startup"), ".3f"),
                fmt(r.get("recv_secs"), ".3f"), fmt(r.get("x_recvlogical"), ".2f"),
                fmt(r.get("x_recvlogical_flow"), ".2f"),
                fmt(r["changes"] / secs if r["changes"] and secs else None, ",.0f"),
                fmt(r["bytes"] / 1e6 / secs if secs else None, ".1f"),
                fmt(r["messages"], ".0f"), fmt(r["lost"], "d"),
                f"{r['rereads']} of {r['n']}",
                fmt(r["peak_kb"] / 1024 if r.get("peak_kb") else None, ".1f")))
        out.append("")
    h = results.get("relay_huge")
    if h:
        if "error" in h:
            out.append(f"The relay through the huge transaction of {h['changes']} rows:"
                       f" failed: {h['error']}")
        else:
            out.append(f"The relay through the huge transaction at the SQL interface's"
                       f" scale, {h['changes']} rows in one transaction, once:"
                       f" {h['secs']:.3f} s, {h['messages']} messages, {h['lost']} lost,"
                       f" relay peak {h['peak_kb'] / 1024:.1f} MB.")
        out.append("")
    lats = results.get("latency")
    if lats:
        lat = lats[0]
        out.append(f"Latency: pgbench -R {lat['offered_rate']} -T {lat['offered_seconds']}"
                   " (2 clients, Poisson schedule), one single-row insert into bench_wide"
                   " per transaction; walcast relay -s 1 and a durable `walcast tail"
                   " --stats` started before it, a fresh slot each time; latency is"
                   " delivery to the subscriber less the commit time"
                   " (`Commit.commit_time`, the server's clock on the same machine),"
                   " every transaction. Schedule lag: how late pgbench started its"
                   " transactions (average and max), a sign of a busy machine.")
        out.append("")
        out.append("| repetition | offered tx/s | achieved tx/s | committed"
                   " | delivered | lost | schedule lag ms | p50 ms | p99 ms | max ms |")
        out.append("|---|" + "---:|" * 9)
        for lat in lats:
            if "latency_us" not in lat:
                out.append(f"| {lat['rep'] + 1} | failed: {lat['error'][:100]} |" + " |" * 8)
                continue
            lu = lat["latency_us"]
            out.append("| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |".format(
                f"{lat['rep'] + 1}" + (" (failed: see below)" if "error" in lat else ""),
                lat["offered_rate"], fmt(lat.get("pgbench_tps"), ",.0f"),
                fmt(lat.get("pgbench_transactions"), "d"),
                fmt(lat.get("transactions"), "d"), fmt(lat.get("lost"), "d"),
                fmt(lat.get("pgbench_schedule_lag_ms"), ".2f"),
                fmt(lat.get("pgbench_schedule_lag_max_ms"), ".1f"),
                fmt(lu["p50"] / 1000, ".2f"), fmt(lu["p99"] / 1000, ".2f"),
                fmt(lu["max"] / 1000, ".2f")))
        med = latency_median(lats)
        if med:
            out.append("| median | | {} | | | | | {} | {} | {} |".format(
                fmt(med["tps"], ",.0f"), fmt(med["p50"] / 1000, ".2f"),
                fmt(med["p99"] / 1000, ".2f"), fmt(med["max"] / 1000, ".2f")))
        for lat in lats:
            if "error" in lat:
                out.append("")
                out.append(f"Repetition {lat['rep'] + 1} failed: {lat['error']}")
        out.append("")
    return out


def latency_median(lats):
    """Medians over the latency run's repetitions (None if one failed)."""
    ok = [lat for lat in lats if "error" not in lat and "latency_us" in lat]
    if not ok or len(ok) < len(lats):
        return None
    med = {k: statistics.median(lat["latency_us"][k] for lat in ok)
           for k in ("p50", "p99", "max")}
    med["tps"] = statistics.median(lat.get("pgbench_tps") or 0 for lat in ok)
    med["rate"] = ok[0]["offered_rate"]
    return med


def relay_targets(results, check):
    """The relay's targets: throughput, memory, latency."""
    rows = relay_rows(results)
    for r in rows:
        x = r.get("x_recvlogical")
        check(f"{r['workload']}, relay: ≥ 0.90 × pg_recvlogical's throughput",
              None if x is None or "error" in r else x >= 0.9,
              f"{fmt(x, '.2f')} ×")
    peaks = {r["workload"]: r["peak_kb"] for r in rows if r.get("peak_kb")}
    h = results.get("relay_huge")
    if h and h.get("peak_kb") and "error" not in h:
        peaks[f"huge at {h['changes']} rows"] = h["peak_kb"]
    if peaks:
        top = max(peaks, key=peaks.get)
        low = min(peaks, key=peaks.get)
        flat = peaks[top] - peaks[low] <= 2048
        check("relay's peak memory < 64 MB and flat (within 2 MB across the"
              " workloads, the huge transaction included)",
              peaks[top] < 64 * 1024 and flat,
              f"{peaks[low] / 1024:.1f} MB ({low}) to {peaks[top] / 1024:.1f} MB ({top})")
    med = latency_median(results.get("latency") or [])
    if med:
        p99 = med["p99"] / 1000
        rate_ok = med["tps"] >= 0.95 * med["rate"]
        check(f"relay: p99 commit to delivery < 10 ms at {med['rate']} tx/s"
              " (median of the repetitions)",
              p99 < 10 if med["rate"] >= 1000 else None,
              f"{p99:.2f} ms at {med['tps']:,.0f} tx/s achieved",
              None if rate_ok else "the achieved rate fell short of the offered one")
    elif results.get("latency"):
        check("relay: p99 commit to delivery < 10 ms", None, "failed")


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
    if w and p and w.get("growth_kb") and p.get("growth_kb"):
        d = round(w["growth_kb"] - p["growth_kb"])
        check("huge, SQL: walcast's backend grows no more than pgoutput's",
              d <= 0,
              f"{w['growth_kb'] / 1024:.1f} MB against {p['growth_kb'] / 1024:.1f} MB,"
              f" {d:+d} kB ({d / p['growth_kb'] * 100:+.1f}%);"
              f" peaks {w['peak_kb'] / 1024:.1f} and {p['peak_kb'] / 1024:.1f} MB")
    relay_targets(results, check)
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
    ifaces = [i for i in INTERFACES if i != "relay"
              and any(r["interface"] == i for r in rows)]
    names = [c["name"] for c in CONFIGS if c["name"] in results["configs"]]
    wls = workload_names(results)
    relay = relay_rows(results)
    panels = len(ifaces) + (1 if relay else 0)
    if not panels:
        return False
    fig, axes = plt.subplots(panels, 1, figsize=(11, 4.2 * panels),
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
    if relay:
        ax = axes[-1, 0]
        xs = range(len(relay))
        for off, key, label in ((-0.2, "x_recvlogical", "from the relay's start"),
                                (0.2, "x_recvlogical_flow",
                                 "from the first message received")):
            ax.bar([x + off for x in xs], [r.get(key) or 0 for r in relay], 0.4,
                   label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.axhline(0.9, color="red", linewidth=0.8, linestyle="--",
                   label="target 0.90")
        ax.set_xticks(list(xs))
        ax.set_xticklabels([r["workload"] for r in relay])
        ax.set_ylabel("throughput / pg_recvlogical's, paired")
        ax.set_title(f"relay to a durable subscriber: median of"
                     f" {results['meta']['reps']}, scale"
                     f" {results['meta']['stream_scale']}; higher is faster")
        ax.legend(fontsize="small", ncol=3)
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
                   help="sql, stream or relay (repeatable; default: all three;"
                        " relay's reference is stream's walcast sample)")
    p.add_argument("--latency-seconds", type=int, default=10,
                   help="how long the latency run through the relay offers its"
                        " transactions (default: %(default)s; 0: no latency run)")
    p.add_argument("--latency-rate", type=int, default=1000,
                   help="single-row insert transactions a second it offers"
                        " (default: %(default)s)")
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
    if args.latency_seconds < 0 or args.latency_rate < 1:
        p.error("--latency-seconds must be at least 0 and --latency-rate at least 1")
    args.walcast = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "consumer", "walcast")
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
    if "relay" in args.interfaces and args.latency_seconds:
        run_latency(ctl, args, results)
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
    relay_failed = [s for s in results["samples"]
                    if s["interface"] == "relay" and "error" in s]
    if "error" in results.get("relay_huge", {}):
        relay_failed.append(dict(results["relay_huge"], rep=0))
    relay_failed += [dict(s, workload="latency") for s in results.get("latency", [])
                     if "error" in s]
    for s in relay_failed:
        error(f'the relay failed in workload "{s["workload"]}", repetition'
              f' {s["rep"] + 1}: {s["error"]}')
    return 1 if mismatched or relay_failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except psycopg2.Error as e:
        error(f"could not run the benchmark: {first_line(e)}")
        sys.exit(1)
