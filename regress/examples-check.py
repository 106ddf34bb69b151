#!/usr/bin/python3
#
# regress/examples-check.py: the checks of regress/examples.sh that read JSON
#
# Usage:
#   examples-check.py content OUTPUT XIDS ITEMS OTHER
#       OUTPUT is what an example subscriber printed; XIDS the workload's
#       "xid N" lines, one per committed transaction in commit order; ITEMS
#       and OTHER the tables' rows as the database has them, one JSON object
#       a line (see examples.sh).  Replays OUTPUT and compares.
#   examples-check.py once OUTPUT TABLE COUNT
#       OUTPUT (of one or more runs, concatenated) holds COUNT transactions,
#       each inserting row N of table TABLE, N = 1..COUNT in order, each
#       exactly once, with end_lsn strictly increasing.
#
# Prints what it checked; exits 1 on the first difference.
#
import json
import math
import struct
import sys


def fail(message):
    print("examples-check: FAILED: " + message)
    sys.exit(1)


def lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def float4(x):
    return struct.pack("<f", float(x))


def float8(x):
    x = float(x)
    return "nan" if math.isnan(x) else repr(x)


def norm(col, value):
    """A value of either side in one comparable form."""
    if value is None:
        return None
    if col == "f4":
        return float4(value)
    if col == "f8":
        return float8(value)
    if isinstance(value, dict) and "bytes" in value:
        return value["bytes"]
    if isinstance(value, dict) and "elements" in value:
        return {"dims": value["dims"], "elements": value["elements"]}
    return value


def norm_row(row):
    return {k: norm(k, v) for k, v in row.items()}


def check_content(output, xids_path, items_path, other_path):
    lines = read_lines(output)
    with open(xids_path) as f:
        xids = [int(line.split()[1]) for line in f if line.startswith("xid ")]
    got = [t["xid"] for t in lines if t["xid"] != 0]
    if got != xids:
        fail("transactions: expected xids %s, got %s" % (xids, got))
    print("content: %d transactions, the committed ones, in commit order" % len(got))
    messages = [t for t in lines if t["xid"] == 0]
    if len(messages) != 1 or messages[0]["changes"][0]["kind"] != "message":
        fail("expected one non-transactional message, got %s" % messages)

    tables = {"public.items": {}, 'public.Other Table': {}}
    keys = {"public.items": "id", 'public.Other Table': "k"}
    kinds = set()
    for txn in lines:
        for c in txn["changes"]:
            kinds.add(c["kind"])
            if c["kind"] == "truncate":
                for t in c["tables"]:
                    tables[t].clear()
                continue
            if c["kind"] not in ("insert", "update", "delete"):
                continue
            rows, key = tables[c["table"]], keys[c["table"]]
            old = c.get("old")
            if c["kind"] != "insert":
                # an UPDATE that keeps the key has no old row (REPLICA
                # IDENTITY DEFAULT); a key-only old row has just the key
                if old is None and c["kind"] == "update":
                    old = {key: c["new"][key]}
                if old is None:
                    fail("%s without an old row: %s" % (c["kind"], c))
                prev = rows.get(old[key])
                if prev is None:
                    fail("%s of a row that does not exist: %s" % (c["kind"], c))
                if len(old) > 1 and old != prev:
                    fail("old row %s differs from the row applied before %s"
                         % (old, prev))
                del rows[old[key]]
            if c["kind"] != "delete":
                new = dict(c["new"])
                for col, v in new.items():
                    if v == {"unchanged_toast": True}:
                        new[col] = prev[col]
                rows[new[key]] = new
    for kind in ("insert", "update", "delete", "truncate", "message"):
        if kind not in kinds:
            fail('no change of kind "%s" in the output' % kind)

    for table, path in (("public.items", items_path),
                        ('public.Other Table', other_path)):
        with open(path, encoding="utf-8") as f:
            db = {r[keys[table]]: norm_row(r) for r in map(json.loads, f)}
        replayed = {k: norm_row(r) for k, r in tables[table].items()}
        if sorted(db) != sorted(replayed):
            fail('table "%s": keys %s in the database, %s replayed'
                 % (table, sorted(db), sorted(replayed)))
        for k in db:
            for col in sorted(set(db[k]) | set(replayed[k])):
                a, b = db[k].get(col, "(none)"), replayed[k].get(col, "(none)")
                if a != b:
                    fail('table "%s", row %s, column "%s": database %.200r, '
                         "replayed %.200r" % (table, k, col, a, b))
        print('content: table "%s": the %d rows replayed from the output are '
              "the database's, value for value" % (table, len(db)))


def check_once(output, table, count):
    lines = read_lines(output)
    last = 0
    ids = []
    for t in lines:
        end = lsn(t["end_lsn"])
        if end <= last:
            fail("end_lsn %s after %X/%X: not strictly increasing"
                 % (t["end_lsn"], last >> 32, last & 0xFFFFFFFF))
        last = end
        ids += [c["new"]["id"] for c in t["changes"]
                if c["kind"] == "insert" and c["table"] == table]
    if ids != list(range(1, count + 1)):
        missing = sorted(set(range(1, count + 1)) - set(ids))
        dup = sorted({i for i in ids if ids.count(i) > 1})
        fail("expected rows 1..%d once each, in order; missing %s, repeated %s"
             % (count, missing[:20], dup[:20]))
    print("once: %s: %d transactions, each exactly once, end_lsn strictly "
          "increasing" % (output.rsplit("/", 1)[-1], len(lines)))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "content":
        check_content(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "once":
        check_once(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print("usage: examples-check.py content OUTPUT XIDS ITEMS OTHER | "
              "once OUTPUT TABLE COUNT", file=sys.stderr)
        sys.exit(2)
