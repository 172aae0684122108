#!/usr/bin/python3
"""Read a feedd topic as an application should and print each frame once.

    /usr/bin/python3 examples/consumer/consumer.py --brokers 127.0.0.1:9092 --topic ais-north

With confluent-kafka (Debian: python3-confluent-kafka). The same rules as the
Go example beside it (docs/consumers.md): read_committed; the frame's
identity is the feed's sequence number (seq= in the "feedd" header) when
present, else its fingerprint; a record marked possible (dup) is dropped when
the same frame went by just before it.
"""

import argparse
import collections
import datetime
import sys

from confluent_kafka import Consumer, KafkaError


def parse(headers, value):
    """Read the "feedd" header (docs/kafka.md):
    1 <fingerprint> <member> <received, Unix ns> <clock>/<lo>/<hi> [seq=<n>] [dup]
    or, on records written before that format, the separate feedd-* headers.
    A record with neither that this consumer can read (a later format) is
    identified by its bytes, as members identify it.
    Returns (identity, member, received_at, possible)."""
    h = {k: (v or b"").decode(errors="replace") for k, v in (headers or []) if k.startswith("feedd")}
    seq = fp = None
    member, rx, possible = "", "", False
    if "feedd" in h:
        fields = h["feedd"].split()
        if len(fields) >= 5 and fields[0] == "1":
            fp, member = fields[1], fields[2]
            if fields[3].isascii() and fields[3].isdigit() and int(fields[3]) > 0:
                ns = int(fields[3])
                rx = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (ns % 10**9)
            seq = next((x[4:] for x in fields[5:] if x.startswith("seq=")), None)
            possible = "dup" in fields[5:]
    else:
        seq, fp = h.get("feedd-seq"), h.get("feedd-fp")
        member, rx = h.get("feedd-member", ""), h.get("feedd-rx", "")
        possible = h.get("feedd-dup") == "possible"
    if seq is not None:
        ident = "seq:" + seq
    elif fp:
        ident = "fp:" + fp
    else:
        ident = "value:" + (value or b"").hex()
    return ident, member, rx, possible


def consume(brokers, topic, window, deliver, stop_after=None):
    """Deliver each frame as (offset, member, received_at, identity,
    possible, value); return how many marked repeats were dropped."""
    c = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "feedd-example-consumer",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    })
    c.subscribe([topic])
    recent = collections.deque(maxlen=window) if window > 0 else None
    counts = collections.Counter()
    dropped = delivered = 0
    try:
        while stop_after is None or delivered < stop_after:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(m.error())
            ident, member, rx, possible = parse(m.headers(), m.value())
            if recent is not None:
                if possible and counts[ident] > 0:
                    dropped += 1
                    continue
                if len(recent) == recent.maxlen:
                    counts[recent[0]] -= 1
                recent.append(ident)
                counts[ident] += 1
            deliver(m.offset(), member, rx, ident, possible, m.value())
            delivered += 1
    finally:
        c.close()
    return dropped


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brokers", default="127.0.0.1:9092")
    p.add_argument("--topic", required=True)
    p.add_argument("--window", type=int, default=1024,
                   help="drop a record marked possible when its frame is among this many just delivered: "
                        "about a second of the feed (0: keep all)")
    p.add_argument("--stop-after", type=int, default=None, help="stop after this many frames (for tests)")
    a = p.parse_args()

    def show(offset, member, rx, ident, possible, value):
        print(offset, member, rx, ident, "possible=%s" % possible, value.decode(errors="replace").rstrip("\r\n"), flush=True)

    dropped = consume(a.brokers, a.topic, a.window, show, a.stop_after)
    print("%d possible duplicates dropped" % dropped, file=sys.stderr)


if __name__ == "__main__":
    main()
