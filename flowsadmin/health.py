"""Our endpoint's health per flow: requests, errors and latency, counted in Redis per minute.

The endpoint calls `record_endpoint_request` once per answered request; it must stay cheap and
must never fail the request, so it is one pipelined round trip and swallows every Redis error.
Each minute of each flow is one hash: `ok` and `error` counts, and a latency histogram with fixed
buckets (`le:<ms>` fields, the last one `le:inf`), kept about a day. `endpoint_health` reads the
last 60 and 1,440 minutes back and reports percentiles as the upper bound of their bucket.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings

log = logging.getLogger(__name__)

# Upper bounds of the latency buckets, in milliseconds; slower requests fall in the `inf` bucket.
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
TTL_SECONDS = 26 * 3600
WINDOWS = {"hour": 60, "day": 1440}
KEY = "flowhealth:{flow_id}:{minute}"

# Short timeouts: a stalled Redis must cost the endpoint milliseconds, not its answer.
_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.05, socket_connect_timeout=0.05)


def _bucket(seconds: float) -> str:
    ms = seconds * 1000
    for bound in BUCKETS_MS:
        if ms <= bound:
            return f"le:{bound}"
    return "le:inf"


def record_endpoint_request(flow_id: int, *, ok: bool, seconds: float) -> None:
    """Count one answered request of a flow's endpoint: its outcome and how long it took. Never raises."""
    try:
        key = KEY.format(flow_id=int(flow_id), minute=int(time.time() // 60))
        pipe = _client.pipeline(transaction=False)
        pipe.hincrby(key, "ok" if ok else "error", 1)
        pipe.hincrby(key, _bucket(max(float(seconds), 0.0)), 1)
        pipe.expire(key, TTL_SECONDS)
        pipe.execute()
    except (redis.RedisError, OSError, TypeError, ValueError) as exc:
        log.warning("endpoint health not recorded for flow %s: %s", flow_id, exc)


@dataclass
class HealthWindow:
    minutes: int
    requests: int = 0
    errors: int = 0
    # Upper bound of the bucket each percentile falls in, in ms; math.inf past the last bound.
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    @property
    def error_percent(self) -> str:
        rate = self.error_rate
        return "—" if rate is None else f"{rate * 100:.1f}%"

    @property
    def latencies(self) -> list[tuple[str, str]]:
        """(label, text) of each percentile, for the page."""
        return [
            ("p50", _ms_text(self.p50_ms)),
            ("p90", _ms_text(self.p90_ms)),
            ("p99", _ms_text(self.p99_ms)),
        ]


def _ms_text(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isinf(value):
        return f"> {BUCKETS_MS[-1]:,} ms"
    return f"≤ {value:g} ms"


def _percentile(histogram: dict[float, int], total: int, fraction: float) -> float | None:
    if not total:
        return None
    rank = math.ceil(total * fraction)
    seen = 0
    for bound in sorted(histogram):
        seen += histogram[bound]
        if seen >= rank:
            return bound
    return math.inf


def _window(minutes: int, hashes: list[dict]) -> HealthWindow:
    window = HealthWindow(minutes=minutes)
    histogram: dict[float, int] = {}
    for fields in hashes:
        for raw_name, raw_count in fields.items():
            name, count = raw_name.decode(), int(raw_count)
            if name == "ok":
                window.requests += count
            elif name == "error":
                window.requests += count
                window.errors += count
            elif name.startswith("le:"):
                bound = math.inf if name == "le:inf" else float(name[3:])
                histogram[bound] = histogram.get(bound, 0) + count
    total = sum(histogram.values())
    window.p50_ms = _percentile(histogram, total, 0.50)
    window.p90_ms = _percentile(histogram, total, 0.90)
    window.p99_ms = _percentile(histogram, total, 0.99)
    return window


def endpoint_health(flow_id: int) -> dict:
    """{"hour": HealthWindow, "day": HealthWindow, "available": bool} for a flow's endpoint."""
    now = int(time.time() // 60)
    longest = max(WINDOWS.values())
    try:
        pipe = _client.pipeline(transaction=False)
        for minute in range(now - longest + 1, now + 1):
            pipe.hgetall(KEY.format(flow_id=int(flow_id), minute=minute))
        hashes = pipe.execute()  # oldest first
    except (redis.RedisError, OSError) as exc:
        log.warning("endpoint health unavailable for flow %s: %s", flow_id, exc)
        return {name: HealthWindow(minutes=m) for name, m in WINDOWS.items()} | {"available": False}
    result: dict = {name: _window(m, hashes[-m:]) for name, m in WINDOWS.items()}
    result["available"] = True
    return result
