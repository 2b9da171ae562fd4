"""With Redis: a pub/sub nudge so cache refreshes happen as soon as something changes.

The change events in the database stay the source of truth (a missed message
only delays a refresh until the next poll); Redis just removes the wait. A
Redis outage never affects serving: the listener reconnects with backoff, and
says once that Redis is gone and once that it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from proxy.gateway.background import cancel_and_wait
from store.redis_client import CHANGE_CHANNEL, publish_change
from store.redis_health import RedisHealth

log = logging.getLogger(__name__)


class ChangeListener:
    def __init__(self, redis: Any, on_change: Callable[[], Awaitable[None]], first_backoff: float = 0.5) -> None:
        self.redis = redis
        self.on_change = on_change
        self.first_backoff = first_backoff
        self.health = RedisHealth()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        await cancel_and_wait(self._task)
        await self.redis.aclose()

    async def publish(self) -> None:
        """Tell every other worker and node to read the change events now (best effort)."""
        await publish_change(self.redis)

    async def _run(self) -> None:
        backoff = self.first_backoff
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANGE_CHANNEL)
                self.health.answered()
                backoff = self.first_backoff
                await self.on_change()            # catch up on anything missed while disconnected
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        await self.on_change()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.health.failed(e, "change events are read by polling")
                log.debug("redis change listener disconnected (%s); retrying in %.1fs", e, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):   # a broken connection may fail to close: it is gone anyway
                    await pubsub.aclose()
