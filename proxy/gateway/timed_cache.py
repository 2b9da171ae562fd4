"""A bounded dict whose entries expire: the hot-path lookup is one dict get and one clock read.

(cachetools' TTLCache re-links and expires on every access, which showed up in the relay's profile.)
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TimedCache(Generic[K, V]):
    def __init__(self, maxsize: int, ttl: float) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._data: dict[K, tuple[V, float]] = {}

    def get(self, key: K) -> V | None:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[1] < time.monotonic():
            self._data.pop(key, None)
            return None
        return entry[0]

    def __setitem__(self, key: K, value: V) -> None:
        if len(self._data) >= self.maxsize and key not in self._data:
            self._data.pop(next(iter(self._data)))    # the oldest insertion goes first
        self._data[key] = (value, time.monotonic() + self.ttl)

    def pop(self, key: K, default: V | None = None) -> V | None:
        entry = self._data.pop(key, None)
        return entry[0] if entry is not None else default

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)
