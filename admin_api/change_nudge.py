"""With Redis: after a request that may have changed something, tell the proxies to read the change events now.

The events themselves are written in the same transaction as the change (store/events.py); this is
only the wake-up call, so a failed publish costs a poll interval, never a lost change.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from aiohttp import web

from admin_api.state import state_of
from store.redis_client import publish_change

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_tasks: set[asyncio.Task[None]] = set()


@web.middleware
async def publish_changes(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    response = await handler(request)
    redis = state_of(request).redis
    if redis is not None and request.method in _MUTATING and request.path.startswith("/api/"):
        task = asyncio.create_task(publish_change(redis))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    return response

