"""Which windows a worker uses (#17), from its database and whether Redis is configured."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from proxy.limits.redis_refusals import RedisRefusals
from proxy.limits.windows import DatabaseWindows, MemoryWindows, Windows
from store import Database


def windows_for(db: Database, *, sqlite: bool, workers: int, redis: Callable[[], Any] = lambda: None) -> Windows:
    """In memory when this process is the only one serving (SQLite, one worker); else in the database, with the
    refusals remembered in the client `redis()` makes, when it makes one (proxy.limits.redis_refusals; asked only
    here, so no client is made for windows held in memory). The ledger owner's windows are chosen by the
    runtime, which holds the connection to it."""
    if sqlite and workers == 1:
        return MemoryWindows()
    client = redis()
    if client is not None:
        return RedisRefusals(DatabaseWindows(db), client)
    return DatabaseWindows(db)


__all__ = ["windows_for"]
