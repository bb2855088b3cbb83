"""A small HTTP load generator, run as its own process so it never shares the server's core.

    python -m benchmarks.loadgen < spec.json

The spec names the server, the concurrency and the pre-built requests (body and signature), which
were encrypted before the clock starts. Each request gets a new connection (the costlier case, and
gunicorn's sync workers close them anyway) unless the spec says "keep_alive": then each of the
`concurrency` clients keeps one connection, as an HTTP/1.1 client does. Prints one JSON line:
requests per second, latencies, failures.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import sys
import threading
import time


def run(spec: dict) -> dict:
    requests = [(base64.b64decode(body), signature) for body, signature in spec["requests"]]
    concurrency = spec["concurrency"]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    position = iter(range(len(requests)))

    keep_alive = spec.get("keep_alive", False)

    def worker() -> None:
        mine, codes = [], {}
        conn = None
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                break
            body, signature = requests[index]
            started = time.perf_counter()
            if conn is None:
                conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=30)
            conn.request(
                "POST",
                spec["path"],
                body,
                {"Content-Type": "application/json", "X-Hub-Signature-256": signature},
            )
            response = conn.getresponse()
            response.read()
            if not keep_alive or response.will_close:
                conn.close()
                conn = None
            mine.append(time.perf_counter() - started)
            codes[response.status] = codes.get(response.status, 0) + 1
        if conn is not None:
            conn.close()
        with lock:
            latencies.extend(mine)
            for code, count in codes.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.load(sys.stdin))))  # noqa: T201
