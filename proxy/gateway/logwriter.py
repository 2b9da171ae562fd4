"""Consume log rows written in batches in the background; `close()` writes what is left."""

from __future__ import annotations

import asyncio
from typing import NamedTuple

from proxy.gateway.flusher import Flusher
from store import Database
from store.bulk import insert_rows
from store.engine import write_transaction
from store.models import Log


class LogRow(NamedTuple):
    """A consume log row: every column but the id, in the order the INSERT takes them."""

    user_id: int
    created_at: int
    type: int
    content: str
    username: str
    token_name: str
    model_name: str
    quota: int
    prompt_tokens: int
    completion_tokens: int
    channel_id: int
    request_id: str
    elapsed_time: int
    is_stream: bool
    system_prompt_reset: bool
    usage_source: str | None


LOG_COLUMNS = LogRow._fields


class LogWriter(Flusher):
    what = "log rows"

    def __init__(self, db: Database, interval: float = 0.5, batch: int = 1000) -> None:
        super().__init__(interval)
        self.db = db
        self.batch = batch
        self.pending: list[LogRow] = []
        self._lock = asyncio.Lock()

    def add(self, row: LogRow) -> None:
        self.pending.append(row)
        self.wake()

    async def flush(self) -> None:
        async with self._lock:
            while self.pending:
                rows = self.pending[: self.batch]
                # one driver-level executemany per batch (store.bulk); write_transaction queues behind
                # other SQLite writers of this process
                async with self.db.log_session() as s, write_transaction(s):
                    await insert_rows(s, Log.__table__, LOG_COLUMNS, rows)
                del self.pending[: len(rows)]
