"""A background writer's life: woken by new work, waits `interval` to batch, flushes; `close()` flushes the rest."""

from __future__ import annotations

import asyncio
import logging

from proxy.gateway.background import cancel_and_wait

log = logging.getLogger(__name__)


class Flusher:
    """Subclasses implement `flush()` and call `self.wake()` when they get work."""

    what = "pending writes"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if not self._wake.is_set():    # called several times per request: only the first one matters
            self._wake.set()

    async def flush(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        """Stop the loop, then flush what is left (after any flush in progress, which holds the lock)."""
        await cancel_and_wait(self._task)
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.interval)
            self._wake.clear()
            try:
                # shielded: a stop that cancels this loop must not cut a flush between its commit and
                # the bookkeeping that marks the work done (close() would then write it twice)
                await asyncio.shield(self.flush())
            except Exception:   # a failed flush keeps its work for the next one
                log.exception("writing %s failed; will retry", self.what)
                await asyncio.sleep(1)
                self._wake.set()
