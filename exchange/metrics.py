"""What the hosted endpoint counts per flow, kept in Redis: its health and the completion funnel.

- Health: per flow and minute, one hash with `ok` and `error` counts and a latency histogram with
  fixed buckets (`le:<ms>` fields, the last one `le:inf`), kept about a day. `endpoint_health` reads
  the last 60 and 1,440 minutes back and reports percentiles as the upper bound of their bucket.
- Funnel: per flow and screen, a HyperLogLog of the flow tokens that reached it. Distinct counts
  stay exact in practice for small numbers and within about 1% for large ones, in 12 KB at most.

The endpoint records into a buffer in its own process, and a timer sends the buffer to Redis in
one pipelined round trip FLOW_STATS_FLUSH_SECONDS after its first record (and when the process
exits): a Redis call per request would cost the endpoint more than its cryptography. A process
killed outright loses at most that much of its counts. A Redis outage costs the numbers, never the
answer: the flush logs it and drops them.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
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
FUNNEL_KEY = "flowfunnel:{flow_id}:{screen}"

# Short timeouts: a stalled Redis must cost the endpoint milliseconds, not its answer.
_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.05, socket_connect_timeout=0.05)


class _Buffer:
    """Counts and funnel visits not yet in Redis. Thread-safe: runserver and tests use threads.

    The first record after a flush starts a timer that flushes FLOW_STATS_FLUSH_SECONDS later, so
    numbers arrive on time even when no further request comes; with 0 every record is sent at once.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[tuple[int, int], dict[str, int]] = {}  # (flow, minute) -> field -> n
        self.visits: dict[tuple[int, str], set[str]] = {}  # (flow, screen) -> flow tokens
        self.timer: threading.Timer | None = None

    def count(self, flow_id: int, minute: int, outcome: str, bucket: str) -> None:
        with self.lock:
            counts = self.counts.setdefault((flow_id, minute), {})
            counts[outcome] = counts.get(outcome, 0) + 1
            counts[bucket] = counts.get(bucket, 0) + 1
            now = self._schedule()
        if now:
            self.flush()

    def visit(self, flow_id: int, screen: str, token: str) -> None:
        with self.lock:
            self.visits.setdefault((flow_id, screen), set()).add(token)
            now = self._schedule()
        if now:
            self.flush()

    def _schedule(self) -> bool:
        """Start the flush timer if none runs (the lock is held); True when to flush right away."""
        delay = settings.FLOW_STATS_FLUSH_SECONDS
        if delay <= 0:
            return True
        if self.timer is None:
            self.timer = threading.Timer(delay, self.flush)
            self.timer.daemon = True
            self.timer.start()
        return False

    def flush(self) -> None:
        with self.lock:
            counts, visits = self.counts, self.visits
            self.counts, self.visits = {}, {}
            if self.timer is not None:
                self.timer.cancel()  # a no-op when the timer itself is flushing
                self.timer = None
        if not counts and not visits:
            return
        try:
            pipe = _client.pipeline(transaction=False)
            for (flow_id, minute), fields in counts.items():
                key = KEY.format(flow_id=flow_id, minute=minute)
                for field, increment in fields.items():
                    pipe.hincrby(key, field, increment)
                pipe.expire(key, TTL_SECONDS)
            for (flow_id, screen), tokens in visits.items():
                pipe.pfadd(FUNNEL_KEY.format(flow_id=flow_id, screen=screen), *tokens)
            pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning(
                "endpoint numbers not recorded (%d keys): %s", len(counts) + len(visits), exc
            )


_buffer = _Buffer()
atexit.register(_buffer.flush)


def flush() -> None:
    """Send what this process has recorded to Redis now."""
    _buffer.flush()


def _bucket(seconds: float) -> str:
    ms = seconds * 1000
    for bound in BUCKETS_MS:
        if ms <= bound:
            return f"le:{bound}"
    return "le:inf"


def record_endpoint_request(flow_id: int, *, ok: bool, seconds: float) -> None:
    """Count one answered request of a flow's endpoint: its outcome and how long it took."""
    minute = int(time.time() // 60)
    _buffer.count(int(flow_id), minute, "ok" if ok else "error", _bucket(max(seconds, 0.0)))


def record_screen_visit(flow_id: int, flow_token: str, screen: str) -> None:
    """Note that a flow token reached a screen, for the completion funnel."""
    if not isinstance(screen, str) or not screen:
        return
    _buffer.visit(int(flow_id), screen, flow_token if isinstance(flow_token, str) else "")


def screens_reached(flow_id: int, screens: list[str]) -> dict[str, int] | None:
    """Screen id -> distinct flow tokens that reached it; None when Redis does not answer."""
    try:
        pipe = _client.pipeline(transaction=False)
        for screen in screens:
            pipe.pfcount(FUNNEL_KEY.format(flow_id=int(flow_id), screen=screen))
        return dict(zip(screens, pipe.execute(), strict=True))
    except (redis.RedisError, OSError) as exc:
        log.warning("funnel unavailable for flow %s: %s", flow_id, exc)
        return None


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
