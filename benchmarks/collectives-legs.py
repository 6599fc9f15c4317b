#!/usr/bin/env python3
"""Per-leg latency of the collectives benchmark's paced rounds, from a loopback capture of both nats-servers' ports.

Every leg of a request's path is one NATS message on the wire: a packet that carries the request's reply subject
(bench.reply.r<round>.<index>, in the subject or in the federation headers). The time between two successive packets of
one request is the time one hop took: a server crossing (a message into nats-server until it leaves it) or a process
pass (a message into a client, node or broker until its answer leaves it). The first packet is the client's publish and
the last the reply's delivery, so the client's own send and receive are not in the total.
Usage: collectives-legs.py CAPTURE.pcap [PACED_ROUNDS]   (the paced rounds are the last ones the benchmark ran)
"""
import collections
import re
import statistics
import struct
import sys

LABELS = {
    4: ["server: client -> node", "node: request -> reply", "server: node -> client"],
    8: ["federation server: client -> broker", "broker: request pass", "collective server: broker -> node",
        "node: request -> reply", "collective server: node -> broker", "broker: reply pass",
        "federation server: broker -> client"],
}
PATHS = {4: "direct", 8: "through a broker"}
KEY = re.compile(rb"bench\.reply\.r([0-9a-f]{32})\.(\d+)")


def packets(path):
    with open(path, "rb") as f:
        header = f.read(24)
        nano = struct.unpack("<I", header[:4])[0] == 0xA1B23C4D
        while len(record := f.read(16)) == 16:
            seconds, fraction, length, _ = struct.unpack("<IIII", record)
            frame = f.read(length)
            ip = frame[14:]
            tcp = ip[(ip[0] & 15) * 4:]
            payload = tcp[(tcp[12] >> 4) * 4:]
            if payload:
                yield seconds + fraction / (1e9 if nano else 1e6), payload


def main():
    capture = sys.argv[1]
    paced_rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    seen = collections.defaultdict(list)
    rounds = []
    for time, payload in packets(capture):
        keys = {(m.group(1), int(m.group(2))) for m in KEY.finditer(payload)}
        for key in keys:
            if key[0] not in rounds:
                rounds.append(key[0])
            seen[key].append(time)
    print(f"per-leg latency of the last {paced_rounds} rounds (paced), median and p90 in microseconds, from {capture}")
    for round_id in rounds[-paced_rounds:]:
        legs = collections.defaultdict(list)
        for (rid, _), times in seen.items():
            if rid != round_id or len(times) not in LABELS:
                continue
            times.sort()
            for i in range(1, len(times)):
                legs[(len(times), i)].append((times[i] - times[i - 1]) * 1e6)
            legs[(len(times), 0)].append((times[-1] - times[0]) * 1e6)
        for length in sorted({k[0] for k in legs}):
            n = len(legs[(length, 0)])
            print(f"round {round_id[:8].decode()}: {PATHS[length]}, {n} requests")
            for i, label in enumerate(LABELS[length], start=1):
                print(f"  {label:<40}{statistics.median(legs[(length, i)]):>8.0f}{percentile(legs[(length, i)], 0.9):>8.0f}")
            print(f"  {'on the wire, first publish to last delivery':<40}{statistics.median(legs[(length, 0)]):>8.0f}{percentile(legs[(length, 0)], 0.9):>8.0f}")


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


if __name__ == "__main__":
    main()
