"""Consume log rows written in batches in the background; `close()` writes what is left."""

from __future__ import annotations

import asyncio
import logging
from typing import Any


from store import Database
from store.engine import write_transaction
from store.models import Log

log = logging.getLogger(__name__)


class LogWriter:
    def __init__(self, db: Database, interval: float = 0.5, batch: int = 1000) -> None:
        self.db = db
        self.interval = interval
        self.batch = batch
        self.pending: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, **row: Any) -> None:
        self.pending.append(row)
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("writing log rows failed; will retry")
                await asyncio.sleep(1)
                self._wake.set()

    async def flush(self) -> None:
        async with self._lock:
            while self.pending:
                rows = self.pending[: self.batch]
                # the Core table, not the ORM entity: one executemany for the batch instead of the
                # ORM's bulk path; write_transaction queues behind other SQLite writers of this process
                async with self.db.log_session() as s, write_transaction(s):
                    await s.execute(Log.__table__.insert(), rows)
                del self.pending[: len(rows)]
