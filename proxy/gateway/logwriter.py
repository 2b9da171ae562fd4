"""Consume log rows written in batches in the background; `close()` writes what is left.

A row is fitted to the columns when added (numbers clamped, text cut, the change noted in its content), and a
batch the database refuses for its values is split until the refused row stands alone: that row is dropped
with an error in the server log, every other row is written. Any other failure keeps the whole batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NamedTuple

from proxy.gateway.flusher import Flusher
from store import Database
from store.logs import add_many, row_fit
from store.rejects import rejected_for_values

log = logging.getLogger(__name__)


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
    usage_detail: str | None = None     # JSON of the usage parts and the charge's breakdown (consume_log.detail)


LOG_COLUMNS = LogRow._fields
FIT = row_fit(LOG_COLUMNS)


def fitted(row: LogRow) -> LogRow:
    """The row inside the logs columns (One API's INT quota, VARCHAR(191) names), the clamp noted and warned."""
    if FIT.fits(row):
        return row
    values, notes = FIT.fit(row)
    if notes:
        log.warning("consume log row of request %s fitted to the logs columns: %s", row.request_id, "; ".join(notes))
    return LogRow(*values)


class LogWriter(Flusher):
    what = "log rows"

    def __init__(self, db: Database, interval: float = 0.5, batch: int = 1000) -> None:
        super().__init__(interval)
        self.db = db
        self.batch = batch
        self.pending: list[LogRow] = []
        self._lock = asyncio.Lock()

    def add(self, row: LogRow) -> None:
        self.pending.append(fitted(row))
        self.wake()

    async def flush(self) -> None:
        async with self._lock:
            while self.pending:
                await self._write(self.pending[: self.batch])

    async def _write(self, rows: list[LogRow]) -> None:
        """Write `rows`, the head of `pending`, and take them off it; halves of a batch refused for its values
        are written apart (about 2·log2(n) statements for one bad row among n), a refused single row dropped."""
        try:
            async with self.db.log_session() as s:
                await add_many(s, LOG_COLUMNS, rows)
        except Exception as exc:
            if not rejected_for_values(exc):
                raise            # the database's trouble, not the rows': all kept for the next flush
            if len(rows) > 1:
                half = len(rows) // 2
                await self._write(rows[:half])
                await self._write(rows[half:])
                return
            log.error("dropping a consume log row the database refuses (%s): %r", _reason(exc), rows[0])
        del self.pending[: len(rows)]


def _reason(exc: BaseException) -> str:
    """The driver's own message, without the statement and parameters SQLAlchemy appends."""
    return str(getattr(exc, "orig", None) or exc)[:300]
