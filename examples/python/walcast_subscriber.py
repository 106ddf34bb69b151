#!/usr/bin/python3
#
# walcast_subscriber.py: an example walcast subscriber, in Python
#
# Connects to `walcast relay` and prints one line of JSON per transaction it
# applies.  Two modes:
#
#   durable (default)   a DEALER socket on the relay's durable channel, as a
#                       subscriber declared with `--subscriber NAME[:TOKEN]`:
#                       Hello, credit, acknowledgements, nothing lost
#   ephemeral           a SUB socket on the publish socket (--publish): no
#                       acknowledgements, gaps reported per topic
#
# How it drops duplicates (proto/walcast/v1/README.md, "Through the relay"):
# a transaction is buffered from Begin (or BeginPrepare) to its Commit (or
# Prepare); a Begin arriving while one is open means the open one was cut off,
# so it is dropped (it comes again whole); a transaction whose end_lsn is at or
# below the last applied one is skipped; the last applied end_lsn is kept in
# the state file (--state), replaced atomically, and sent as Hello.applied_lsn
# and as Ack.
#
# The generated protobuf modules (walcast_pb2, relay_pb2) come from
# `protoc --python_out`: from --proto-python DIR (or $WALCAST_PROTO_PYTHON)
# when given, generated there if missing; otherwise generated on first run into
# ${XDG_CACHE_HOME:-~/.cache}/walcast/python-HASH, HASH naming the .proto
# files' contents.  The .proto files are found in --proto-dir (or
# $WALCAST_PROTO_DIR), by default ../../proto beside this script.
#
# Runs under Debian's /usr/bin/python3 with python3-zmq and python3-protobuf.
#

import argparse
import base64
import decimal
import hashlib
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

PROG = "walcast_subscriber"

EXIT_OK = 0
EXIT_FAILURE = 1                # could not run: bad state file, lost message
EXIT_USAGE = 2
EXIT_EVICTED = 3                # must resynchronize
EXIT_UNKNOWN_SUBSCRIBER = 4
EXIT_BAD_TOKEN = 5
EXIT_PROTOCOL = 6

HELLO_RETRY_SECS = 2.0          # resend Hello when no answer came this long
SILENCE_MIN_SECS = 5.0          # the relay is gone after this long without a
                                # word (or twice its session timeout)
PROTOS = ("walcast/v1/walcast.proto", "walcast/v1/relay.proto")


class Fatal(Exception):
    """An error that ends the program with an exit code."""

    def __init__(self, message, code=EXIT_FAILURE, hint=None):
        super().__init__(message)
        self.code = code
        self.hint = hint


def log(level, message):
    sys.stderr.write("%s: %s: %s\n" % (PROG, level, message))
    sys.stderr.flush()


def fmt_lsn(lsn):
    return "%X/%X" % (lsn >> 32, lsn & 0xFFFFFFFF)


def parse_lsn(text):
    hi, sep, lo = text.partition("/")
    if not sep:
        raise ValueError(text)
    return (int(hi, 16) << 32) | int(lo, 16)


# ---------------------------------------------------------------------------
# Generated modules
# ---------------------------------------------------------------------------

def load_modules(out_dir, proto_dir):
    """Import walcast_pb2 and relay_pb2, generating them when needed."""
    script_dir = os.path.dirname(os.path.abspath(__file__))
    proto_dir = proto_dir or os.environ.get("WALCAST_PROTO_DIR") or \
        os.path.join(script_dir, "..", "..", "proto")
    out_dir = out_dir or os.environ.get("WALCAST_PROTO_PYTHON")
    if not out_dir:
        digest = hashlib.sha256()
        for p in PROTOS:
            try:
                with open(os.path.join(proto_dir, p), "rb") as f:
                    digest.update(f.read())
            except OSError as e:
                raise Fatal('could not read "%s": %s' % (e.filename, e.strerror),
                            hint="Give the directory holding walcast/v1/*.proto "
                            "with --proto-dir, or generated modules with "
                            "--proto-python.")
        cache = os.environ.get("XDG_CACHE_HOME") or \
            os.path.join(os.path.expanduser("~"), ".cache")
        out_dir = os.path.join(cache, "walcast",
                               "python-" + digest.hexdigest()[:16])
    modules = [p.replace(".proto", "_pb2.py") for p in PROTOS]
    if not all(os.path.exists(os.path.join(out_dir, m)) for m in modules):
        # into a directory of our own first, then each file renamed into
        # place: another run starting at the same time never imports half
        # a file
        try:
            os.makedirs(os.path.join(out_dir, "walcast", "v1"), exist_ok=True)
            tmp = tempfile.mkdtemp(prefix=".generating-", dir=out_dir)
            subprocess.run(["protoc", "--proto_path=" + proto_dir,
                            "--python_out=" + tmp] + list(PROTOS), check=True)
            for m in modules:
                os.replace(os.path.join(tmp, m), os.path.join(out_dir, m))
            shutil.rmtree(tmp, ignore_errors=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise Fatal("could not generate the protobuf modules into \"%s\": %s"
                        % (out_dir, e),
                        hint="Install protoc (Debian: protobuf-compiler) or "
                        "give modules generated with protoc --python_out "
                        "with --proto-python.")
    sys.path.insert(0, out_dir)
    global pb, relay_pb
    from walcast.v1 import walcast_pb2 as pb
    from walcast.v1 import relay_pb2 as relay_pb


# ---------------------------------------------------------------------------
# JSON output
#
# Written by hand, not with the json module, so that the C++ example can
# write the very same bytes: compact, keys in a fixed order, non-ASCII as
# UTF-8, control characters as \u00xx except the short escapes, and floats
# in their shortest round-trip form.
# ---------------------------------------------------------------------------

SHORT_ESCAPES = {'"': '\\"', '\\': '\\\\', '\n': '\\n', '\t': '\\t',
                 '\r': '\\r', '\b': '\\b', '\f': '\\f'}


def json_str(s):
    out = ['"']
    for ch in s:
        if ch in SHORT_ESCAPES:
            out.append(SHORT_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def decimal_digits(value):
    """(digits, exponent) of a positive Decimal: value = d.ddd * 10**exponent."""
    sign, digits, exp = value.normalize().as_tuple()
    text = "".join(map(str, digits))
    return text, exp + len(text) - 1


def shortest_digits(x, is_float4):
    """
    (digits, exponent) of the shortest decimal that reads back as x, the
    closest to x of those, as C++'s std::to_chars finds it.  For a double
    that is what repr() prints.  For a float (float4) it is searched for:
    the decimals that read back as x are those strictly between the
    midpoints to its neighbours (or on them, when x's last bit is 0).
    """
    x = abs(x)
    if x == 0:
        return "0", 0
    if not is_float4:
        return decimal_digits(decimal.Decimal(repr(x)))
    with decimal.localcontext() as ctx:
        ctx.prec = 200              # a float's exact value has at most 150 digits
        bits = struct.unpack("<I", struct.pack("<f", x))[0]
        exact = decimal.Decimal(x)
        below = decimal.Decimal(struct.unpack("<f", struct.pack("<I", bits - 1))[0])
        if bits + 1 < 0x7F800000:
            above = decimal.Decimal(struct.unpack("<f", struct.pack("<I", bits + 1))[0])
        else:
            above = exact + (exact - below)
        low, high = (below + exact) / 2, (exact + above) / 2
        even = bits % 2 == 0
        for precision in range(1, 10):
            mantissa, _, exp = ("%.*e" % (precision - 1, x)).partition("e")
            nearest = int(mantissa.replace(".", ""))
            scale = int(exp) - precision + 1
            best = None
            # "%e" rounds half to even, as to_chars breaks ties: try it first
            for n in (nearest, nearest - 1, nearest + 1):
                value = decimal.Decimal(n).scaleb(scale)
                if n > 0 and (low < value < high or
                              (even and (value == low or value == high))):
                    if best is None or abs(value - exact) < abs(best - exact):
                        best = value
            if best is not None:
                return decimal_digits(best)
    raise AssertionError("no decimal reads back as %r" % x)


def json_float(x, is_float4):
    """A float as Python's repr writes it, shortest for its own width."""
    if math.isnan(x):
        return '"NaN"'
    if math.isinf(x):
        return '"Infinity"' if x > 0 else '"-Infinity"'
    digits, exp = shortest_digits(x, is_float4)
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if exp < -4 or exp >= 16:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return "%s%se%s%02d" % (sign, mantissa, "-" if exp < 0 else "+", abs(exp))
    if exp < 0:
        return sign + "0." + "0" * (-exp - 1) + digits
    whole = digits[:exp + 1].ljust(exp + 1, "0")
    return sign + whole + "." + (digits[exp + 1:] or "0")


def json_value(v):
    """One Value as JSON text (README.md of examples/ has the mapping)."""
    kind = v.WhichOneof("kind")
    if kind is None or kind == "marker":
        if kind and v.marker == pb.MARKER_UNCHANGED_TOAST:
            return '{"unchanged_toast":true}'
        return "null"
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind in ("int_value", "uint_value", "timestamp_value", "date_value",
                "time_value"):
        return str(getattr(v, kind))
    if kind == "float4_value":
        return json_float(v.float4_value, True)
    if kind == "float8_value":
        return json_float(v.float8_value, False)
    if kind in ("text_value", "numeric_value", "json_value", "enum_value",
                "pg_text"):
        return json_str(getattr(v, kind))
    if kind == "bytes_value":
        return '{"bytes":"%s"}' % v.bytes_value.hex()
    if kind == "uuid_value":
        h = v.uuid_value.hex()
        if len(h) != 32:
            return '{"bytes":"%s"}' % h
        return '"%s-%s-%s-%s-%s"' % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
    if kind == "timetz_value":
        return '{"time":%d,"utc_offset":%d}' % (v.timetz_value.time,
                                               v.timetz_value.utc_offset)
    if kind == "interval_value":
        i = v.interval_value
        return '{"months":%d,"days":%d,"microseconds":%d}' % (
            i.months, i.days, i.microseconds)
    if kind == "array_value":
        a = v.array_value
        return '{"dims":[%s],"lower":[%s],"elements":[%s]}' % (
            ",".join(str(d) for d in a.dimensions),
            ",".join(str(d) for d in a.lower_bounds),
            ",".join(json_value(e) for e in a.elements))
    return "null"               # a kind newer than this program


# ---------------------------------------------------------------------------
# Relations and changes
# ---------------------------------------------------------------------------

class Relation:
    def __init__(self, msg):
        self.name = msg.schema + "." + msg.name     # "schema.table"
        self.columns = [c.name for c in msg.columns]


class Decoder:
    """Turns changes into JSON text, against the latest Relation of each table."""

    def __init__(self):
        self.relations = {}     # rel_id -> Relation

    def relation(self, rel_id):
        rel = self.relations.get(rel_id)
        if rel is None:
            raise Fatal("received a row of relation %u without its definition"
                        % rel_id,
                        hint="A message was lost in transport; this is a bug "
                        "in the relay.")
        return rel

    def json_row(self, rel, row):
        if len(row.values) != len(rel.columns):
            raise Fatal('a row of table "%s" has %d values for %d columns'
                        % (rel.name, len(row.values), len(rel.columns)))
        parts = []
        for col, v in zip(rel.columns, row.values):
            if v.WhichOneof("kind") == "marker" and \
                    v.marker == pb.MARKER_NOT_IN_KEY:
                continue
            parts.append(json_str(col) + ":" + json_value(v))
        return "{" + ",".join(parts) + "}"

    def change(self, env):
        """The JSON text of one change, or None for bodies that are not one."""
        body = env.WhichOneof("body")
        if body == "relation":
            self.relations[env.relation.rel_id] = Relation(env.relation)
            return None
        if body == "insert":
            rel = self.relation(env.insert.rel_id)
            return '{"kind":"insert","table":%s,"new":%s}' % (
                json_str(rel.name), self.json_row(rel, env.insert.new_row))
        if body == "update":
            u = env.update
            rel = self.relation(u.rel_id)
            old = self.json_row(rel, u.old_row) \
                if u.HasField("old_row") else "null"
            return '{"kind":"update","table":%s,"old":%s,"new":%s}' % (
                json_str(rel.name), old, self.json_row(rel, u.new_row))
        if body == "delete":
            d = env.delete
            rel = self.relation(d.rel_id)
            old = self.json_row(rel, d.old_row) \
                if d.HasField("old_row") else "null"
            return '{"kind":"delete","table":%s,"old":%s}' % (
                json_str(rel.name), old)
        if body == "truncate":
            t = env.truncate
            return '{"kind":"truncate","tables":[%s],"cascade":%s,' \
                '"restart_identity":%s}' % (
                    ",".join(json_str(self.relation(r).name) for r in t.rel_ids),
                    "true" if t.cascade else "false",
                    "true" if t.restart_identity else "false")
        if body == "message":
            m = env.message
            return '{"kind":"message","prefix":%s,"content":"%s"}' % (
                json_str(m.prefix), base64.b64encode(m.content).decode("ascii"))
        if body == "schema_change":
            s = env.schema_change
            return '{"kind":"schema_change","command_tag":%s,"ddl":%s}' % (
                json_str(s.command_tag), json_str(s.ddl))
        return None


# ---------------------------------------------------------------------------
# The state file: the last applied position
# ---------------------------------------------------------------------------

class State:
    """
    The positions applied, kept in a small text file:

        applied X/X     end_lsn of the last transaction applied
        message X/X     lsn of the last non-transactional message applied

    Written to FILE.tmp, fsynced, renamed over FILE.  To keep the window in
    which a crash duplicates a transaction as small as possible, the new
    file is written and fsynced before the transaction is printed and renamed
    into place right after (see Subscriber.apply).
    """

    def __init__(self, path):
        self.path = path
        self.applied = 0
        self.message = 0
        if path is None:
            return
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.strip().partition(" ")
                    if key == "applied":
                        self.applied = parse_lsn(value)
                    elif key == "message":
                        self.message = parse_lsn(value)
                    elif key:
                        raise ValueError(line)
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as e:
            raise Fatal('could not read state file "%s": %s' % (path, e))

    def prepare(self, applied, message):
        """Write and fsync the next state beside the file; commit() renames it."""
        if self.path is None:
            return
        tmp = self.path + ".tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, ("applied %s\nmessage %s\n" % (
                    fmt_lsn(applied), fmt_lsn(message))).encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as e:
            raise Fatal('could not write state file "%s": %s' % (tmp, e.strerror))

    def commit(self, applied, message):
        self.applied, self.message = applied, message
        if self.path is None:
            return
        try:
            os.rename(self.path + ".tmp", self.path)
            dirfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
            try:
                os.fsync(dirfd)
            finally:
                os.close(dirfd)
        except OSError as e:
            raise Fatal('could not rename state file "%s": %s' % (self.path, e.strerror))


# ---------------------------------------------------------------------------
# Transactions and deduplication
# ---------------------------------------------------------------------------

class Transaction:
    def __init__(self, end_lsn, xid, skip):
        self.end_lsn = end_lsn
        self.xid = xid
        self.skip = skip        # applied before: drop it at its end
        self.changes = []       # JSON text of each change, in order
        self.streamed = []      # (xid, JSON) while streaming


class Subscriber:
    """
    Applies whole transactions once, whatever the transport repeats.

    process() takes each Envelope in stream order and returns the end_lsn of
    a transaction it applied (to acknowledge), or None.
    """

    def __init__(self, state, verbose):
        self.state = state
        self.verbose = verbose
        self.decoder = Decoder()
        self.open = None        # the Transaction between Begin and Commit
        self.streams = {}       # top-level xid -> Transaction, while streaming
        self.stream_xid = None  # xid of the open streamed segment
        self.warned_outside = False     # about a change outside a transaction
        self.out = sys.stdout.fileno()     # written unbuffered, line by line

    def reset_session(self):
        """A new session starts at a transaction boundary: drop what is open."""
        self.open = None
        self.streams = {}
        self.stream_xid = None

    def apply(self, end_lsn, xid, changes, message_lsn=None):
        """Print one transaction and record it; the caller has deduplicated."""
        applied = end_lsn if message_lsn is None else self.state.applied
        message = self.state.message if message_lsn is None else message_lsn
        line = '{"end_lsn":"%s","xid":%d,"changes":[%s]}\n' % (
            fmt_lsn(end_lsn), xid, ",".join(changes))
        # XXX: printing and recording cannot be one atomic step here, so a
        # crash between the two (a few microseconds) repeats this line after
        # a restart; a real subscriber stores end_lsn in the same database
        # transaction as the data it applies.
        self.state.prepare(applied, message)
        data = line.encode("utf-8")
        try:
            while data:
                data = data[os.write(self.out, data):]
        except OSError as e:
            raise Fatal("could not write to standard output: %s" % e.strerror)
        self.state.commit(applied, message)
        return end_lsn if message_lsn is None else None

    def begin(self, end_lsn, xid):
        if self.open is not None and self.verbose:
            log("info", "dropped the transaction ending at %s, cut off before "
                "its end; it comes again" % fmt_lsn(self.open.end_lsn))
        self.open = Transaction(end_lsn, xid, end_lsn <= self.state.applied)

    def finish(self, end_lsn, kind):
        """Commit or Prepare: apply the open transaction."""
        txn, self.open = self.open, None
        if txn is None or txn.end_lsn != end_lsn:
            log("warning", "received a %s at %s without its Begin; ignored"
                % (kind, fmt_lsn(end_lsn)))
            return None
        if txn.skip or end_lsn <= self.state.applied:
            return None
        return self.apply(end_lsn, txn.xid, txn.changes)

    def settle(self, env, kind, end_lsn):
        """CommitPrepared, RollbackPrepared: a line of their own."""
        if end_lsn <= self.state.applied:
            return None
        return self.apply(end_lsn, env.xid, ['{"kind":"%s"}' % kind])

    def process(self, env):
        body = env.WhichOneof("body")
        if body in ("begin", "begin_prepare"):
            b = getattr(env, body)
            self.begin(b.end_lsn, env.xid)
            return None
        if body == "commit":
            return self.finish(env.commit.end_lsn, "Commit")
        if body == "prepare":
            return self.finish(env.prepare.end_lsn, "Prepare")
        if body in ("commit_prepared", "rollback_prepared"):
            return self.settle(env, body, getattr(env, body).end_lsn)
        if body == "stream_start":
            if env.stream_start.first_segment or env.xid not in self.streams:
                self.streams[env.xid] = Transaction(0, env.xid, False)
            self.stream_xid = env.xid
            return None
        if body == "stream_stop":
            self.stream_xid = None
            return None
        if body == "stream_abort":
            txn = self.streams.get(env.xid)
            if txn is not None:
                if env.stream_abort.sub_xid == env.xid:
                    del self.streams[env.xid]
                else:
                    txn.streamed = [c for c in txn.streamed
                                    if c[0] != env.stream_abort.sub_xid]
            return None
        if body in ("stream_commit", "stream_prepare"):
            txn = self.streams.pop(env.xid, None)
            end_lsn = getattr(env, body).end_lsn
            if txn is None or end_lsn <= self.state.applied:
                return None
            return self.apply(end_lsn, env.xid, [c[1] for c in txn.streamed])

        change = self.decoder.change(env)
        if change is None:
            return None         # Relation, Startup, or a body we do not know
        if self.stream_xid is not None and self.stream_xid in self.streams:
            self.streams[self.stream_xid].streamed.append((env.xid, change))
        elif self.open is not None:
            if not self.open.skip:
                self.open.changes.append(change)
        elif body == "message" and not env.message.transactional:
            # identified by its own lsn: applied before when at or below the
            # last one, or below the end of a transaction applied after it
            if env.lsn <= self.state.message or env.lsn < self.state.applied:
                return None
            return self.apply(env.lsn, 0, [change], message_lsn=env.lsn)
        elif not self.warned_outside:
            # once: with --topic and no "DB.." it would be every change
            log("warning", "ignored a change at %s outside a transaction"
                % fmt_lsn(env.lsn))
            log("hint", "Subscribe to the transactions' topic \"DB..\" too.")
            self.warned_outside = True
        return None


# ---------------------------------------------------------------------------
# Durable mode
# ---------------------------------------------------------------------------

REFUSALS = {
    # reason: (exit code, hint), for the reasons that end the program
    "REASON_EVICTED": (EXIT_EVICTED,
                       "Resynchronize (take a new snapshot), then have the relay "
                       "readmit the subscriber with --reset-subscriber."),
    "REASON_UNKNOWN_SUBSCRIBER": (EXIT_UNKNOWN_SUBSCRIBER,
                                  "Fix --name, or declare the subscriber with "
                                  "the relay's --subscriber option."),
    "REASON_BAD_TOKEN": (EXIT_BAD_TOKEN, "Fix --token."),
    "REASON_PROTOCOL": (EXIT_PROTOCOL, None),
}


def run_durable(args, sub):
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    ctx = zmq.Context()
    sock = None
    monitor = None              # the socket's own connection events
    poller = None
    session = False             # a Welcome was received
    hello_out = False           # a Hello went out on this connection
    connected = False           # the socket's handshake with the relay is done
    ping_every = 5.0
    silence_limit = SILENCE_MIN_SECS
    last_received = time.monotonic()
    opened = 0.0
    hello_sent = 0.0
    last_sent = 0.0
    last_delivery = time.monotonic()
    consumed = 0                # deliveries not yet given back as credit
    acked = sub.state.applied
    expected_seq = 1

    def send(body, **fields):
        """Send a message; False when there is no connection to send it on."""
        nonlocal last_sent
        msg = relay_pb.SubscriberMessage()
        getattr(msg, body).SetInParent()
        for k, val in fields.items():
            setattr(getattr(msg, body), k, val)
        try:
            sock.send(msg.SerializeToString(), zmq.DONTWAIT)
        except zmq.Again:
            return False        # the Hello said when it is back carries it
        last_sent = time.monotonic()
        return True

    def close_socket(linger=0):
        nonlocal sock, monitor
        if sock is not None:
            sock.disable_monitor()
            monitor.close(0)
            sock.close(linger)
        sock = monitor = None

    def open_socket():
        nonlocal sock, monitor, poller, hello_out, connected, opened
        close_socket()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        # Nothing is queued while there is no connection: a Credit or Ack
        # said then would reach a restarted relay before our Hello.
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.RECONNECT_IVL, 10)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 250)
        # A restarted relay knows nothing of us and says nothing until we
        # say Hello: the socket tells us when its connection drops and when
        # it is back (after the handshake, when sending works again).
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED |
                                          zmq.EVENT_DISCONNECTED)
        sock.connect(args.endpoint)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        hello_out = connected = False
        opened = time.monotonic()

    def hello():
        nonlocal session, hello_sent, hello_out, consumed
        session = False
        consumed = 0
        sub.reset_session()
        hello_out = send("hello", protocol_version=1, name=args.name,
                         token=args.token or "",
                         applied_lsn=sub.state.applied, credit=args.credit)
        hello_sent = time.monotonic()

    def take_events():
        nonlocal session, hello_out, hello_sent, connected
        while True:
            try:
                event = recv_monitor_message(monitor, zmq.DONTWAIT)["event"]
            except zmq.Again:
                return
            if event == zmq.EVENT_DISCONNECTED:
                # whatever answers next may not know our session
                if session and args.verbose:
                    log("info", "lost the connection to the relay; saying "
                        "Hello when it is back")
                session = connected = hello_out = False
                hello_sent = time.monotonic()
            elif event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                connected = True    # the loop says Hello on it

    try:
        open_socket()
        hello()
        while True:
            now = time.monotonic()
            if args.exit_after_idle is not None and \
                    now - last_delivery >= args.exit_after_idle:
                if session:
                    send("bye")
                    close_socket(500)   # time for the Bye to leave
                return EXIT_OK
            if now - max(last_received, opened) >= silence_limit:
                # a relay alive but silent, or the network cut (no
                # disconnection seen): a new socket, not a queue of Pings
                # for a relay that may never read them
                if session and args.verbose:
                    log("info", "no word from the relay for %d s; connecting "
                        "again" % (now - last_received))
                open_socket()
                hello()
            elif not session and not hello_out and connected:
                hello()         # connected (again), and not said yet
            elif not session and now - hello_sent >= HELLO_RETRY_SECS:
                hello()         # no answer, or refused for now: again
            elif session and now - last_sent >= ping_every:
                send("ping")
            ready = dict(poller.poll(100))
            if monitor in ready:
                take_events()
            if sock not in ready:
                continue
            frames = sock.recv_multipart()
            last_received = time.monotonic()
            msg = relay_pb.RelayMessage()
            try:
                msg.ParseFromString(frames[0])
            except Exception:
                log("warning", "ignored a message that is not a RelayMessage")
                continue
            body = msg.WhichOneof("body")
            if body == "welcome":
                w = msg.welcome
                session = True
                expected_seq = 1
                ping_every = max(0.5, w.session_timeout / 3.0) \
                    if w.session_timeout else 5.0
                silence_limit = max(SILENCE_MIN_SECS, 2.0 * w.session_timeout)
                if args.verbose:
                    log("info", 'connected to slot "%s" of database "%s", '
                        "resuming after %s" % (w.slot, w.database,
                                               fmt_lsn(w.resume_after_lsn)))
            elif body == "refusal":
                reason = relay_pb.Refusal.Reason.Name(msg.refusal.reason) \
                    if msg.refusal.reason in relay_pb.Refusal.Reason.values() \
                    else str(msg.refusal.reason)
                if reason == "REASON_NO_SESSION":
                    # one answer per message sent before our Hello: only the
                    # first one after a Welcome calls for a new Hello
                    if session:
                        if args.verbose:
                            log("info", "the relay does not know this session "
                                "(it restarted); sending Hello again")
                        hello()
                elif reason in ("REASON_SHUTDOWN", "REASON_BUSY"):
                    if args.verbose:
                        log("info", "relay refused: %s; retrying" % msg.refusal.message)
                    session = False
                    hello_sent = time.monotonic()   # retry after a while
                else:
                    code, hint = REFUSALS.get(reason, (EXIT_FAILURE, None))
                    raise Fatal(msg.refusal.message or
                                "the relay refused the subscriber (%s)" % reason,
                                code, hint)
            elif body == "delivery":
                if not session:
                    continue    # of the session our last Hello replaces
                if len(frames) != 2:
                    log("warning", "ignored a delivery without its envelope")
                    continue
                d = msg.delivery
                if d.sequence != expected_seq:
                    log("warning", "delivery %d after %d: starting the session again"
                        % (d.sequence, expected_seq - 1))
                    hello()
                    continue
                expected_seq += 1
                last_delivery = time.monotonic()
                env = pb.Envelope()
                try:
                    env.ParseFromString(frames[1])
                except Exception:
                    raise Fatal("could not parse an Envelope from the relay")
                lsn = sub.process(env)
                if lsn is not None and lsn > acked:
                    send("ack", end_lsn=lsn)
                    acked = lsn
                if not d.repeated_relation:
                    consumed += 1
                    if consumed >= max(1, args.credit // 2):
                        send("credit", messages=consumed)
                        consumed = 0
            # heartbeats only show that the relay is alive
    finally:
        close_socket()
        ctx.term()


# ---------------------------------------------------------------------------
# Ephemeral mode
# ---------------------------------------------------------------------------

def run_ephemeral(args, sub):
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    for topic in args.topic or [""]:
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))
    sock.connect(args.publish)
    sequences = {}              # topic -> last sequence seen
    epoch = None
    last_delivery = time.monotonic()
    try:
        while True:
            if args.exit_after_idle is not None and \
                    time.monotonic() - last_delivery >= args.exit_after_idle:
                return EXIT_OK
            if not sock.poll(100, zmq.POLLIN):
                continue
            frames = sock.recv_multipart()
            if len(frames) != 3:
                log("warning", "ignored a message of %d frames" % len(frames))
                continue
            header = relay_pb.Header()
            env = pb.Envelope()
            try:
                header.ParseFromString(frames[1])
                env.ParseFromString(frames[2])
            except Exception:
                log("warning", "ignored a message that could not be parsed")
                continue
            topic = frames[0].decode("utf-8", "replace")
            if header.epoch != epoch:
                if epoch is not None:
                    log("warning", "the relay restarted; sequences start again")
                epoch = header.epoch
                sequences = {}
            last = sequences.get(topic)
            if last is not None and header.sequence != last + 1:
                log("warning", 'lost %d messages on topic "%s" (sequence %d after %d)'
                    % (header.sequence - last - 1, topic, header.sequence, last))
            sequences[topic] = header.sequence
            last_delivery = time.monotonic()
            sub.process(env)
    finally:
        sock.close(0)
        ctx.term()


# ---------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Print each transaction the walcast relay delivers as one "
        "line of JSON, once, even across restarts.")
    p.add_argument("--endpoint", default="tcp://127.0.0.1:5556",
                   help="the relay's durable socket (default: %(default)s)")
    p.add_argument("--name", help="durable subscriber name, as declared with "
                   "the relay's --subscriber")
    p.add_argument("--token", help="its token, when the relay requires one")
    p.add_argument("--state", help="file keeping the last applied position "
                   "(default: none, the relay's position is used)")
    p.add_argument("--credit", type=int, default=1000,
                   help="messages the relay may send ahead (default: %(default)s)")
    p.add_argument("--exit-after-idle", type=float, metavar="SECS",
                   help="exit 0 after SECS without a delivery")
    p.add_argument("--publish", metavar="ENDPOINT",
                   help="ephemeral mode: subscribe to the relay's publish "
                   "socket instead (nothing is acknowledged)")
    p.add_argument("--topic", action="append", metavar="PREFIX",
                   help="with --publish: a topic prefix to subscribe to "
                   "(repeatable; default: everything)")
    p.add_argument("--proto-python", metavar="DIR",
                   help="directory of the protoc --python_out modules "
                   "(default: $WALCAST_PROTO_PYTHON, else a cache directory)")
    p.add_argument("--proto-dir", metavar="DIR",
                   help="directory holding walcast/v1/*.proto (default: "
                   "$WALCAST_PROTO_DIR, else ../../proto beside this script)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.publish is None and not args.name:
        p.error("--name is required in durable mode")
    if args.publish is not None and (args.name or args.token):
        p.error("--name and --token are for durable mode, not --publish")
    if args.topic and args.publish is None:
        p.error("--topic needs --publish")
    if not 1 <= args.credit <= 1000000:
        p.error("--credit must be between 1 and 1000000")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        load_modules(args.proto_python, args.proto_dir)
        sub = Subscriber(State(args.state), args.verbose)
        if args.publish is not None:
            return run_ephemeral(args, sub)
        return run_durable(args, sub)
    except Fatal as e:
        log("error", str(e))
        if e.hint:
            log("hint", e.hint)
        return e.code
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
