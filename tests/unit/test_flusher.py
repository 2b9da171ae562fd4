"""A stop in the middle of a flush never writes the same work twice."""

from __future__ import annotations

import asyncio
import time

from proxy.gateway.flusher import Flusher


class SlowCounter(Flusher):
    """Writes its pending count to `written` in a slow commit, then marks it done."""

    def __init__(self) -> None:
        super().__init__(interval=0.0)
        self.pending = 0
        self.written = 0
        self.lock = asyncio.Lock()
        self.committing = asyncio.Event()

    def add(self, n: int) -> None:
        self.pending += n
        self.wake()

    async def flush(self) -> None:
        async with self.lock:
            batch = self.pending
            if not batch:
                return
            self.committing.set()
            # the commit runs in the driver's thread, as aiosqlite's does: cancelling the await
            # does not undo it
            await asyncio.to_thread(self._commit, batch)
            self.pending -= batch

    def _commit(self, batch: int) -> None:
        time.sleep(0.05)
        self.written += batch


async def test_close_during_a_flush_writes_everything_once() -> None:
    counter = SlowCounter()
    counter.start()
    counter.add(5)
    await counter.committing.wait()       # a flush is in progress
    counter.add(2)
    await counter.close()
    await asyncio.sleep(0.1)              # any commit still running in a thread has finished
    assert counter.written == 7 and counter.pending == 0
