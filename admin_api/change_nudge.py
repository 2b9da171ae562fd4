"""After an /api request that changed something, tell the proxies to read the change events now.

The events themselves are written in the same transaction as the change (store/events.py). On this node
the change counter (store/change_counter.py) is bumped before the answer goes out, so every relay request
that starts afterwards, on every worker, sees the change (read-your-writes). With Redis, other nodes are
also woken up; that is only a wake-up call, so a failed publish costs a poll interval, never a lost change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from admin_api.state import state_of
from store import events
from store.redis_client import publish_change

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_tasks: set[asyncio.Task[None]] = set()


@web.middleware
async def publish_changes(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    recorded = events.watch()
    try:
        response = await handler(request)
    finally:   # a handler may commit, then refuse: the change is made all the same
        counter = state_of(request).change_counter
        if recorded and counter is not None:
            counter.bump()      # committed by now: the handler's transactions are closed
    redis = state_of(request).redis
    if redis is not None and request.method in _MUTATING and request.path.startswith("/api/"):
        task = asyncio.create_task(publish_change(redis))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    return response

