"""TimedCache: expiry, bound, pop and clear."""

from __future__ import annotations

import time

from proxy.gateway.timed_cache import TimedCache


def test_entries_expire_and_the_oldest_is_evicted() -> None:
    cache: TimedCache[str, int] = TimedCache(maxsize=2, ttl=0.05)
    cache["a"] = 1
    cache["b"] = 2
    assert cache.get("a") == 1
    cache["c"] = 3                      # over the bound: "a" (oldest) goes
    assert cache.get("a") is None and cache.get("b") == 2 and len(cache) == 2
    time.sleep(0.06)
    assert cache.get("b") is None and cache.get("c") is None
    cache["d"] = 4
    assert cache.pop("d") == 4 and cache.pop("d") is None
    cache["e"] = 5
    cache.clear()
    assert len(cache) == 0
