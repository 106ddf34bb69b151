#!/usr/bin/python3
"""relay_check.py: the Python side of the relay's end-to-end tests.

    relay_check.py durable --endpoint E --name N --out FILE [--credit N]
                           [--idle-exit SECS] [--token T] [--pause SECS]
        A durable subscriber that follows proto/walcast/v1/README.md: it
        applies a transaction at its Commit by appending its changes to FILE
        (one hex envelope per line, then "COMMIT <end_lsn>") in one write,
        fsynced, and on start resumes after the last COMMIT line in FILE, so
        being killed at any moment loses and duplicates nothing.  --pause
        stops reading for that long after the first delivery.

    relay_check.py reference --out FILE < hex-lines
        Turns the envelopes of a slot read through the SQL interface (one
        hex envelope per line) into the same format, for comparison.

    relay_check.py tail --out FILE < tail-lines
        The same from "walcast tail --durable --envelope=base64" output.

    relay_check.py subscribe --endpoint E --topic T... --out FILE
                             [--idle-exit SECS] [--stall SECS]
        An ephemeral subscriber on the publish socket: writes one line per
        message, "<topic> <sequence> <kind> <rel_id>" separated by tabs, and checks that every
        row it receives follows a Relation of its table.  With --stall it
        stops reading for SECS after its first message (which shows that
        its subscription reached the relay).

    relay_check.py garbage --endpoint E --kind KIND
        Sends the relay something it must not choke on: "raw" (random
        bytes on a plain TCP connection), "xsub" (a message that is not a
        subscription, on the publish socket), "bytes" (a frame that is not
        a SubscriberMessage, on the durable socket) or "frames" (three
        frames at once there).  Prints the relay's answer, if any.

Relation and Startup envelopes are left out of FILE: when they are sent
depends on sessions, not on the data.  Every row's table must have been
described by a Relation before it, which the durable and subscribe modes
check as they go (exit 1 otherwise).
"""
import argparse
import base64
import os
import sys
import time

import zmq

from walcast.v1 import relay_pb2, walcast_pb2

SKIP = ('startup', 'relation')
ROWS = ('insert', 'update', 'delete')


def lsn(v):
    return '%X/%X' % (v >> 32, v & 0xffffffff)


def fail(msg):
    print('relay_check: error: %s' % msg, file=sys.stderr)
    sys.exit(1)


def last_applied(path):
    """The end LSN of the last whole transaction in path, dropping a torn tail."""
    applied = 0
    good = 0
    if not os.path.exists(path):
        return 0
    with open(path, 'rb') as f:
        data = f.read()
    pos = 0
    for line in data.split(b'\n')[:-1]:
        pos += len(line) + 1
        if line.startswith(b'COMMIT '):
            hi, lo = line.split()[1].split(b'/')
            applied = (int(hi, 16) << 32) | int(lo, 16)
            good = pos
    if good != len(data):
        with open(path, 'r+b') as f:
            f.truncate(good)
    return applied


class Transactions:
    """Collects a transaction's envelopes and writes it whole at its end."""

    def __init__(self, out, applied):
        self.out = out
        self.applied = applied
        self.open = []
        self.relations = set()

    def envelope(self, raw):
        env = walcast_pb2.Envelope.FromString(raw)
        kind = env.WhichOneof('body')
        if kind == 'relation':
            self.relations.add(env.relation.rel_id)
            return None
        if kind in ROWS and getattr(env, kind).rel_id not in self.relations:
            fail('%s of rel_id %d came before its Relation' % (kind, getattr(env, kind).rel_id))
        if kind in SKIP:
            return None
        if kind in ('begin', 'begin_prepare'):
            self.open = []          # one left open was cut off
        self.open.append(raw)
        end = None
        if kind in ('commit', 'prepare', 'commit_prepared', 'rollback_prepared',
                    'stream_commit', 'stream_prepare'):
            end = getattr(env, kind).end_lsn
        elif kind == 'message' and not env.message.transactional:
            end = 0
        if end is None:
            return None
        lines, self.open = self.open, []
        if end and end <= self.applied:
            return None             # applied before: a duplicate
        text = b''.join(base64.b16encode(r).lower() + b'\n' for r in lines)
        if end:
            text += b'COMMIT ' + lsn(end).encode() + b'\n'
            self.applied = end
        os.write(self.out, text)
        os.fsync(self.out)
        return end


def durable(args):
    applied = last_applied(args.out)
    out = os.open(args.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    txs = Transactions(out, applied)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(args.endpoint)

    def send(**kw):
        sock.send(relay_pb2.SubscriberMessage(**kw).SerializeToString())

    def hello():
        send(hello=relay_pb2.Hello(protocol_version=1, name=args.name, token=args.token,
                                   applied_lsn=txs.applied, credit=args.credit))

    hello()
    if args.hello_twice:
        hello()                     # as a client does that thinks it was not heard
    consumed = 0
    last = time.monotonic()         # the relay's last word
    last_delivery = last
    last_ping = last
    while True:
        if sock.poll(200):
            frames = sock.recv_multipart()
            last = time.monotonic()
            msg = relay_pb2.RelayMessage.FromString(frames[0])
            kind = msg.WhichOneof('body')
            if kind == 'delivery':
                last_delivery = last
                if args.pause:
                    # push back: read nothing, give no credit, for a while
                    time.sleep(args.pause)
                    args.pause = 0
                consumed += 1
                if consumed >= args.credit // 2:
                    send(credit=relay_pb2.Credit(messages=consumed))
                    consumed = 0
                end = txs.envelope(frames[1])
                if end:
                    send(ack=relay_pb2.Ack(end_lsn=end))
            elif kind == 'refusal':
                reason = relay_pb2.Refusal.Reason.Name(msg.refusal.reason)
                if reason in ('REASON_NO_SESSION', 'REASON_SHUTDOWN', 'REASON_BUSY'):
                    time.sleep(1 if reason == 'REASON_BUSY' else 0.2)
                    consumed = 0
                    hello()
                else:
                    print('relay_check: error: %s: %s' % (reason, msg.refusal.message),
                          file=sys.stderr)
                    sys.exit(3 if reason == 'REASON_EVICTED' else 2)
            elif kind == 'welcome':
                consumed = 0
        now = time.monotonic()
        if now - last_ping > 3:
            send(ping=relay_pb2.Ping())
            last_ping = now
        if now - last > 5 and now - last_ping > 1:
            hello()                 # the relay went quiet: restarted?
            last_ping = now
        if args.idle_exit and now - last_delivery > args.idle_exit:
            return


def reference(args):
    txs = Transactions(os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 0)
    for line in sys.stdin:
        line = line.strip()
        if line:
            txs.envelope(bytes.fromhex(line))


def tail(args):
    import json
    txs = Transactions(os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), 0)
    for line in sys.stdin:
        txs.envelope(base64.b64decode(json.loads(line)['envelope']))


def subscribe(args):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, args.hwm)
    for t in args.topic or ['']:
        sock.subscribe(t.encode())
    sock.connect(args.endpoint)
    relations = set()
    out = open(args.out, 'w')
    stall = args.stall
    last = time.monotonic()
    while True:
        if sock.poll(200):
            topic, header, raw = sock.recv_multipart()
            h = relay_pb2.Header.FromString(header)
            env = walcast_pb2.Envelope.FromString(raw)
            kind = env.WhichOneof('body')
            rel_id = 0
            if kind == 'relation':
                relations.add(env.relation.rel_id)
                rel_id = env.relation.rel_id
            elif kind in ROWS:
                rel_id = getattr(env, kind).rel_id
                if rel_id not in relations:
                    fail('%s of rel_id %d came before its Relation' % (kind, rel_id))
            out.write('%s\t%d\t%s\t%d\n' % (topic.decode(), h.sequence, kind, rel_id))
            out.flush()
            if stall:
                time.sleep(stall)
                stall = 0
            last = time.monotonic()
        elif args.idle_exit and time.monotonic() - last > args.idle_exit:
            return


def garbage(args):
    import random
    import socket
    rnd = random.Random(42)
    junk = bytes(rnd.randrange(256) for _ in range(4096))
    if args.kind == 'raw':
        host, port = args.endpoint.split('//')[1].rsplit(':', 1)
        with socket.create_connection((host, int(port))) as conn:
            conn.sendall(junk)
            time.sleep(0.5)
        return
    ctx = zmq.Context()
    if args.kind == 'xsub':
        sock = ctx.socket(zmq.XSUB)
        sock.connect(args.endpoint)
        time.sleep(0.3)
        sock.send(b'\x07not a subscription')
        time.sleep(0.5)
        return
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 500)
    sock.connect(args.endpoint)
    if args.kind == 'bytes':
        sock.send(junk)
    else:
        sock.send_multipart([b'one', b'two', b'three'])
    if sock.poll(3000):
        frames = sock.recv_multipart()
        msg = relay_pb2.RelayMessage.FromString(frames[0])
        print('%s: %s' % (relay_pb2.Refusal.Reason.Name(msg.refusal.reason), msg.refusal.message))
    else:
        print('no answer')


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    d = sub.add_parser('durable')
    d.add_argument('--endpoint', required=True)
    d.add_argument('--name', required=True)
    d.add_argument('--token', default='')
    d.add_argument('--out', required=True)
    d.add_argument('--credit', type=int, default=1000)
    d.add_argument('--idle-exit', type=float, default=0)
    d.add_argument('--pause', type=float, default=0)
    d.add_argument('--hello-twice', action='store_true')
    r = sub.add_parser('reference')
    r.add_argument('--out', required=True)
    t = sub.add_parser('tail')
    t.add_argument('--out', required=True)
    s = sub.add_parser('subscribe')
    s.add_argument('--endpoint', required=True)
    s.add_argument('--topic', action='append')
    s.add_argument('--out', required=True)
    s.add_argument('--idle-exit', type=float, default=0)
    s.add_argument('--stall', type=float, default=0)
    s.add_argument('--hwm', type=int, default=1000)
    g = sub.add_parser('garbage')
    g.add_argument('--endpoint', required=True)
    g.add_argument('--kind', choices=['raw', 'xsub', 'bytes', 'frames'], required=True)
    args = p.parse_args()
    {'durable': durable, 'reference': reference, 'tail': tail,
     'subscribe': subscribe, 'garbage': garbage}[args.cmd](args)


if __name__ == '__main__':
    main()
