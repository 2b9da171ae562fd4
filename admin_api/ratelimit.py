"""Per-IP sliding-window rate limits of one-api.md §9.3, in this process or shared through Redis."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from store.redis_health import RedisHealth

KEY_TTL = 20 * 60   # One API's RateLimitKeyExpirationDuration


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `window` seconds per client; count 0 disables it."""

    mark: str
    count: int
    window: int


def limits_for(api_count: int, debug: bool) -> tuple[Limit, Limit]:
    """(global API, critical) limits; DEBUG disables both, as in One API."""
    if debug:
        return Limit("GA", 0, 180), Limit("CT", 0, 1200)
    return Limit("GA", api_count, 180), Limit("CT", 20, 1200)


class Limiter(Protocol):
    async def allow(self, limit: Limit, client: str) -> bool: ...


class MemoryLimiter:
    """One deque of request times per (mark, client); idle keys are dropped every KEY_TTL seconds."""

    def __init__(self) -> None:
        self._store: dict[str, deque[float]] = {}
        self._last_sweep = time.monotonic()

    async def allow(self, limit: Limit, client: str) -> bool:
        if limit.count <= 0:
            return True
        now = time.monotonic()
        self._sweep(now)
        times = self._store.setdefault(limit.mark + client, deque(maxlen=limit.count))
        if len(times) < limit.count or now - times[0] >= limit.window:
            times.append(now)   # a full deque drops its oldest entry
            return True
        return False

    def _sweep(self, now: float) -> None:
        if now - self._last_sweep < KEY_TTL:
            return
        self._last_sweep = now
        for key in [k for k, v in self._store.items() if not v or now - v[-1] > KEY_TTL]:
            del self._store[key]


# One API's list algorithm made atomic: LPUSH times, keep `count`, refuse while the oldest is too recent.
_SCRIPT = """
local n = redis.call('LLEN', KEYS[1])
local limit = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
if n >= limit then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], -1))
  if oldest and now - oldest < tonumber(ARGV[2]) then
    redis.call('EXPIRE', KEYS[1], ARGV[4])
    return 0
  end
end
redis.call('LPUSH', KEYS[1], ARGV[3])
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""


class RedisLimiter:
    """Shared by every node: the list `rateLimit:<mark><ip>` as One API names it.

    While Redis is unreachable the node falls back to its own in-process window rather than
    refusing or failing every request; `health` says so once and tries Redis again once a second.
    """

    def __init__(self, redis: Any, health: RedisHealth | None = None) -> None:
        self._script = redis.register_script(_SCRIPT)
        self._fallback = MemoryLimiter()
        self.health = health or RedisHealth()

    async def allow(self, limit: Limit, client: str) -> bool:
        if limit.count <= 0:
            return True
        if not self.health.worth_trying():
            return await self._fallback.allow(limit, client)
        try:
            result = await self._script(keys=[f"rateLimit:{limit.mark}{client}"],
                                        args=[limit.count, limit.window, f"{time.time():.6f}", KEY_TTL])
        except Exception as e:   # redis errors and connection failures alike
            self.health.failed(e, "rate limits are kept in this process")
            return await self._fallback.allow(limit, client)
        self.health.answered()
        return bool(int(result))
