"""Consume log rows written in batches in the background; `close()` writes what is left."""

from __future__ import annotations

import asyncio
from typing import Any

from proxy.gateway.flusher import Flusher
from store import Database
from store.bulk import insert_rows
from store.engine import write_transaction
from store.models import Log

# every column of a log row but the id, in the order `add` takes them
LOG_COLUMNS = ("user_id", "created_at", "type", "content", "username", "token_name", "model_name", "quota",
               "prompt_tokens", "completion_tokens", "channel_id", "request_id", "elapsed_time", "is_stream",
               "system_prompt_reset", "usage_source")


class LogWriter(Flusher):
    what = "log rows"

    def __init__(self, db: Database, interval: float = 0.5, batch: int = 1000) -> None:
        super().__init__(interval)
        self.db = db
        self.batch = batch
        self.pending: list[tuple[Any, ...]] = []
        self._lock = asyncio.Lock()

    def add(self, user_id: int, created_at: int, type: int, content: str, username: str, token_name: str,
            model_name: str, quota: int, prompt_tokens: int, completion_tokens: int, channel_id: int,
            request_id: str, elapsed_time: int, is_stream: bool, system_prompt_reset: bool,
            usage_source: str | None) -> None:
        self.pending.append((user_id, created_at, type, content, username, token_name, model_name, quota,
                             prompt_tokens, completion_tokens, channel_id, request_id, elapsed_time, is_stream,
                             system_prompt_reset, usage_source))
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
