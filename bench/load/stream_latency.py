#!/usr/bin/python3
"""How long a streamed chunk takes to pass through a proxy.

The mock (--stamp-chunks) writes its CLOCK_MONOTONIC time into each content chunk as "t=<ns> ";
this client, on the same host, reads the stream and subtracts. Prints one JSON line with the
first-chunk and all-chunk transit medians and p99s in microseconds.

  stream_latency.py URL [--requests N]
"""
import argparse
import http.client
import json
import re
import statistics
import time
import urllib.parse

STAMP = re.compile(rb"t=(\d+) ")


def one_stream(host, port, path, body):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("POST", path, body=body, headers={"content-type": "application/json",
                                                     "x-user-id": "stream-bench"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"status {resp.status}: {resp.read()[:200]!r}")
    transits = []
    buf = b""
    while True:
        data = resp.read1(65536)
        now = time.monotonic_ns()
        if not data:
            break
        buf += data
        for m in STAMP.finditer(buf):
            transits.append((now - int(m.group(1))) / 1000.0)
        # keep only an incomplete tail that might hold a split stamp
        buf = buf[-32:]
    conn.close()
    return transits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    body = json.dumps({"model": "mock-model", "stream": True,
                       "messages": [{"role": "user", "content": "Say hello."}]})
    firsts, alls = [], []
    for _ in range(args.requests):
        t = one_stream(u.hostname, u.port, u.path, body)
        if t:
            firsts.append(t[0])
            alls.extend(t)

    def q(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    print(json.dumps({"streams": len(firsts),
                      "first_p50_us": round(statistics.median(firsts), 1),
                      "first_p99_us": round(q(firsts, 0.99), 1),
                      "chunk_p50_us": round(statistics.median(alls), 1),
                      "chunk_p99_us": round(q(alls, 0.99), 1)}))


if __name__ == "__main__":
    main()
