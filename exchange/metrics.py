"""What the hosted endpoint counts per flow, kept in Redis: its health and the completion funnel.

- Health: per flow and minute, one hash with `ok` and `error` counts and a latency histogram with
  fixed buckets (`le:<ms>` fields, the last one `le:inf`), kept two hours; the same fields per flow
  and hour, kept eight days. `endpoint_health` reads the last 60 minutes and 168 hours back (one
  pipeline) and gives totals for the last hour, day and week and a series per minute and per hour
  for the charts; percentiles are the upper bound of their bucket.
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
MINUTE_TTL_SECONDS = 2 * 3600
HOUR_TTL_SECONDS = 8 * 24 * 3600
MINUTES, HOURS = 60, 7 * 24  # the charts: per minute for the last hour, per hour for the last week
KEY = "flowhealth:{flow_id}:{minute}"
HOUR_KEY = "flowhealthh:{flow_id}:{hour}"
FUNNEL_KEY = "flowfunnel:{flow_id}:{screen}"

# Used by the flush, which runs on its timer thread, never in a request (unless
# FLOW_STATS_FLUSH_SECONDS is 0, as in tests), and by the flow page. Half a second: a stalled Redis
# costs a page that much, and a busy machine (50 ms timeouts lost counts under load) loses nothing.
_client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


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
                # The same counts twice: per minute for the last hour, per hour for the week.
                for key, ttl in (
                    (KEY.format(flow_id=flow_id, minute=minute), MINUTE_TTL_SECONDS),
                    (HOUR_KEY.format(flow_id=flow_id, hour=minute // 60), HOUR_TTL_SECONDS),
                ):
                    for field, increment in fields.items():
                        pipe.hincrby(key, field, increment)
                    pipe.expire(key, ttl)
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
    counts = tokens_reaching(flow_id, [[screen] for screen in screens])
    return None if counts is None else dict(zip(screens, counts, strict=True))


def tokens_reaching(flow_id: int, groups: list[list[str]]) -> list[int] | None:
    """For each (non-empty) group of screens, the distinct flow tokens that reached any of them (a
    union of the HyperLogLogs), in one pipeline; None when Redis does not answer."""
    try:
        pipe = _client.pipeline(transaction=False)
        for screens in groups:
            pipe.pfcount(*[FUNNEL_KEY.format(flow_id=int(flow_id), screen=s) for s in screens])
        return [int(n) for n in pipe.execute()]
    except (redis.RedisError, OSError) as exc:
        log.warning("funnel unavailable for flow %s: %s", flow_id, exc)
        return None


@dataclass
class HealthWindow:
    """Requests, errors and latency percentiles over some minutes: a summary row or a chart point."""

    minutes: int
    start: int = 0  # unix seconds of the first minute
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
        return f"> {BUCKETS_MS[-1] / 1000:g} s"
    return f"≤ {value / 1000:g} s" if value >= 1000 else f"≤ {value:g} ms"


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


def _window(minutes: int, start: int, hashes: list[dict]) -> HealthWindow:
    window = HealthWindow(minutes=minutes, start=start)
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


def endpoint_health(flow_id: int, *, now: float | None = None) -> dict:
    """A flow's endpoint numbers: {"available": bool, "hour", "day", "week": HealthWindow totals,
    "minutes": [HealthWindow per minute, oldest first, 60], "hours": [per hour, 168]}.

    The day and the week are whole hours, the current one included, so "day" spans 23 to 24 hours.
    """
    now_minute = int((time.time() if now is None else now) // 60)
    now_hour = now_minute // 60
    minutes = range(now_minute - MINUTES + 1, now_minute + 1)
    hours = range(now_hour - HOURS + 1, now_hour + 1)
    try:
        pipe = _client.pipeline(transaction=False)
        for minute in minutes:
            pipe.hgetall(KEY.format(flow_id=int(flow_id), minute=minute))
        for hour in hours:
            pipe.hgetall(HOUR_KEY.format(flow_id=int(flow_id), hour=hour))
        answers = pipe.execute()
    except (redis.RedisError, OSError) as exc:
        log.warning("endpoint health unavailable for flow %s: %s", flow_id, exc)
        answers = None
    if answers is None:
        empty = {name: HealthWindow(minutes=m) for name, m in SUMMARIES.items()}
        return empty | {"available": False, "minutes": [], "hours": []}
    by_minute, by_hour = answers[: len(minutes)], answers[len(minutes) :]
    return {
        "available": True,
        "hour": _window(MINUTES, minutes[0] * 60, by_minute),
        "day": _window(24 * 60, hours[-24] * 3600, by_hour[-24:]),
        "week": _window(HOURS * 60, hours[0] * 3600, by_hour),
        "minutes": [_window(1, m * 60, [h]) for m, h in zip(minutes, by_minute, strict=True)],
        "hours": [_window(60, h * 3600, [f]) for h, f in zip(hours, by_hour, strict=True)],
    }


SUMMARIES = {"hour": 60, "day": 24 * 60, "week": HOURS * 60}
