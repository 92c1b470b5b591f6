#!/usr/bin/env python3
"""Load generator for `po3ad serve` (standard library only): C client threads each send
N scans to POST /v1/score and the script prints throughput and latency percentiles.
A benchmark, not a test; scripts/bench-serve.sh runs it against a fresh server.

usage: bench-serve-load.py ADDR CLIENTS REQUESTS SCAN [SCAN...]
"""
import http.client
import json
import sys
import threading
import time


def client(addr, scans, n, offset, latencies, errors):
    host, port = addr.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=300)
    for r in range(n):
        body = scans[(offset + r) % len(scans)]
        start = time.perf_counter()
        try:
            conn.request("POST", "/v1/score", body=body,
                         headers={"Content-Type": "application/octet-stream"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                errors.append(f"{resp.status} {data[:200]!r}")
            else:
                json.loads(data)
        except Exception as e:  # a failed request is counted, not fatal
            errors.append(repr(e))
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=300)
        latencies.append(time.perf_counter() - start)
    conn.close()


def pct(sorted_values, q):
    i = min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main():
    addr, clients, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    scans = [open(p, "rb").read() for p in sys.argv[4:]]
    latencies, errors = [], []
    threads = [threading.Thread(target=client,
                                args=(addr, scans, requests, c, latencies, errors))
               for c in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    print(f"clients {clients} x {requests} requests: {len(lat)} done, {len(errors)} errors "
          f"in {wall:.1f} s = {len(lat) / wall:.2f} scans/s")
    print(f"latency ms: p50 {1e3 * pct(lat, 0.5):.0f}  p95 {1e3 * pct(lat, 0.95):.0f}  "
          f"p99 {1e3 * pct(lat, 0.99):.0f}  max {1e3 * lat[-1]:.0f}")
    for e in errors[:5]:
        print("error:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
