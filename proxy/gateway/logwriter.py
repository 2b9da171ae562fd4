"""Consume log rows written in batches in the background; `close()` writes what is left."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.gateway.flusher import Flusher
from store import Database
from store.engine import write_transaction
from store.models import Log

class LogWriter(Flusher):
    what = "log rows"

    def __init__(self, db: Database, interval: float = 0.5, batch: int = 1000) -> None:
        super().__init__(interval)
        self.db = db
        self.batch = batch
        self.pending: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def add(self, **row: Any) -> None:
        self.pending.append(row)
        self.wake()

    async def flush(self) -> None:
        async with self._lock:
            while self.pending:
                rows = self.pending[: self.batch]
                # the Core table, not the ORM entity: one executemany for the batch instead of the
                # ORM's bulk path; write_transaction queues behind other SQLite writers of this process
                async with self.db.log_session() as s, write_transaction(s):
                    await s.execute(Log.__table__.insert(), rows)
                del self.pending[: len(rows)]
