"""The send rate of a phone number, held across every worker at once: a GCRA schedule in Redis.

Each send reserves the next free slot on the number's schedule and sleeps until it comes. The schedule
is one Redis key (the "theoretical arrival time" of the next slot, in microseconds of Redis's own
clock), moved by one Lua script, so any number of processes on any number of machines share it
without a lock and without trusting each other's clocks.

Why a script of our own rather than a library: the well-kept Redis rate limiters (`limits`,
`redis-cell`'s CL.THROTTLE) answer "allowed or not", which turns pacing into polling; a sender wants
"when may I send?", a reservation, and that is these few lines. Redis losing the key (a restart)
only means the schedule starts again from now: at worst one burst of `burst` sends.

Meta's 130429 ("throughput exceeded") slows the number down: `slow_down` halves the rate for a
minute (down to a floor) and pushes the schedule back, `rate` reads the slowed rate.
"""

from __future__ import annotations

import time

import redis
from django.conf import settings
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

# KEYS[1]: the schedule. ARGV: interval (us), slots to reserve, burst (us of credit), ttl (ms).
# Returns the wait, in microseconds, before the first reserved slot.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local interval = tonumber(ARGV[1])
local start = math.max(tat, now - tonumber(ARGV[3]))
redis.call('SET', KEYS[1], start + interval * tonumber(ARGV[2]), 'PX', tonumber(ARGV[4]))
return math.max(start - now, 0)
"""
# KEYS[1]: the schedule. ARGV[1]: seconds to push it back by. Never pulls it forward.
PUSH_BACK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local later = now + tonumber(ARGV[1]) * 1000000
if later > tat then redis.call('SET', KEYS[1], later, 'PX', 60000) end
return 0
"""
SLOWDOWN_SECONDS = 60
MIN_FACTOR = 1 / 16
# Redis restarting mid-send: every call (the schedule, the sender's heartbeat) waits and tries again,
# backing off to once a second, for about 10 s in all, so a slice rides out a restart instead of
# dying mid-campaign and leaving the rest to the next beat a minute later. Retrying is safe: a
# reservation made twice only costs a slot, and a script Redis forgot is loaded again by redis-py.
# Down for longer, the error ends the slice; the beat starts another once Redis is back.
RESTART_RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=12)

_client: redis.Redis | None = None


def connection() -> redis.Redis:
    """One client per process (its pool is thread-safe), on the project's Redis."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=30,
            retry=RESTART_RETRY,
        )
    return _client


class RateLimiter:
    """The schedule of one phone number's sends, shared by every worker through Redis."""

    def __init__(
        self, name: str, *, client: redis.Redis | None = None, burst: float = 0.05
    ) -> None:
        self.key = f"campaigns:rate:{name}"
        self.slow_key = f"campaigns:slow:{name}"
        self.redis = client or connection()
        # Credit for slots left unused just before: a worker that was busy elsewhere may catch up by
        # this many seconds' worth of sends, never more.
        self.burst = burst
        self._reserve = self.redis.register_script(RESERVE)
        self._push_back = self.redis.register_script(PUSH_BACK)

    def rate(self, wanted: float) -> float:
        """`wanted` messages per second, less while Meta's 130429 slow-down lasts."""
        factor = self.redis.get(self.slow_key)
        return wanted * (float(factor) if factor else 1.0)

    def reserve(self, per_second: float, slots: int = 1) -> float:
        """Take the next `slots` slots at `per_second`; the seconds to wait before the first one."""
        interval = max(int(1_000_000 / per_second), 1)
        wait_us = self._reserve(
            keys=[self.key],
            args=[interval, slots, int(self.burst * 1_000_000), 60_000],
        )
        return int(wait_us) / 1_000_000

    def acquire(self, per_second: float) -> None:
        """Wait for this process's turn to send one message."""
        wait = self.reserve(per_second)
        if wait > 0:
            time.sleep(wait)

    def slow_down(self, pause: float = 1.0) -> None:
        """Meta said 130429: half the pace for a minute (down to 1/16) and no send for `pause` s."""
        factor = float(self.redis.get(self.slow_key) or 1.0)
        self.redis.set(self.slow_key, max(factor / 2, MIN_FACTOR), ex=SLOWDOWN_SECONDS)
        self._push_back(keys=[self.key], args=[pause])
