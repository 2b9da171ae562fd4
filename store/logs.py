"""Queries on the logs table (which may live in LOG_SQL_DSN's database): filters, sums, search, purge."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.bulk import insert_rows
from store.engine import write_transaction
from store.models import LOG_CONSUME, Log
from store.patterns import page_bounds, starts_with
from store.results import rowcount
from store.row_fit import RowFit

RECENT = 100   # One API's MaxRecentItems: search results are capped at this many rows


@dataclass(frozen=True)
class LogFilter:
    """The query filters of GET /api/log/ and friends; zero or empty means "any"."""

    type: int = 0
    start: int = 0
    end: int = 0
    username: str = ""
    token_name: str = ""
    model_name: str = ""
    channel: int = 0
    user_id: int = 0

    def conditions(self, with_type: bool = True) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if with_type and self.type:
            out.append(Log.type == self.type)
        if self.start:
            out.append(Log.created_at >= self.start)
        if self.end:
            out.append(Log.created_at <= self.end)
        for column, value in ((Log.username, self.username), (Log.token_name, self.token_name),
                              (Log.model_name, self.model_name)):
            if value:
                out.append(column == value)
        if self.channel:
            out.append(Log.channel_id == self.channel)
        if self.user_id:
            out.append(Log.user_id == self.user_id)
        return out


def row_fit(columns: tuple[str, ...]) -> RowFit:
    """How rows of these columns are fitted to the logs table (numbers clamped, text cut, noted in `content`)."""
    return RowFit(cast(Table, Log.__table__), columns, note_column="content")


async def add_many(session: AsyncSession, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> None:
    """Rows (tuples in `columns` order) in one transaction, as multi-row INSERTs (store.bulk): the consume log's
    batches. write_transaction queues behind this process's other SQLite writers."""
    async with write_transaction(session):
        await insert_rows(session, cast(Table, Log.__table__), columns, rows)


async def add(session: AsyncSession, *, user_id: int, type: int, content: str, **fields: Any) -> None:
    """Insert one row; `created_at` defaults to now. The values are fitted to the columns first: they can be
    what a caller typed (a channel test's model name past VARCHAR(191) failed the INSERT on PostgreSQL)."""
    fields.setdefault("created_at", int(time.time()))
    values = {"user_id": user_id, "type": type, "content": content, **fields}
    names = tuple(values)
    fitted, _ = row_fit(names).fit([values[name] for name in names])
    async with write_transaction(session):
        session.add(Log(**dict(zip(names, fitted, strict=True))))


async def page(session: AsyncSession, flt: LogFilter, page_index: int) -> list[Log]:
    offset, limit = page_bounds(page_index)
    stmt = select(Log).where(*flt.conditions()).order_by(Log.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def consumed_quota(session: AsyncSession, flt: LogFilter) -> int:
    """Sum of `quota` over consume rows matching the filter (its `type` is ignored, as One API)."""
    stmt = select(func.coalesce(func.sum(Log.quota), 0)).where(Log.type == LOG_CONSUME,
                                                                 *flt.conditions(with_type=False))
    return int((await session.execute(stmt)).scalar_one() or 0)


def _newest(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(Log.id.desc()).limit(RECENT)


async def search(session: AsyncSession, keyword: str) -> list[Log]:
    """`type = keyword` (when it is a number) or content starting with the keyword; newest 100."""
    conditions: list[ColumnElement[bool]] = [starts_with(Log.content, keyword)]
    if keyword.isascii() and keyword.isdigit() and len(keyword) < 10:
        conditions.append(Log.type == int(keyword))
    return list((await session.execute(_newest(select(Log).where(or_(*conditions))))).scalars())


async def search_own(session: AsyncSession, user_id: int, log_type: int) -> list[Log]:
    stmt = _newest(select(Log).where(Log.user_id == user_id, Log.type == log_type))
    return list((await session.execute(stmt)).scalars())


async def delete_before(session: AsyncSession, timestamp: int) -> int:
    async with write_transaction(session):
        result = await session.execute(delete(Log).where(Log.created_at < timestamp))
    return rowcount(result)


async def daily_usage(session: AsyncSession, user_id: int, since: int) -> list[dict[str, Any]]:
    """Own consume rows since `since`, grouped by (UTC day, model), for GET /api/user/dashboard."""
    day = (Log.created_at - Log.created_at % 86400).label("day")
    stmt = (select(day, Log.model_name, func.count(), func.coalesce(func.sum(Log.quota), 0),
                   func.coalesce(func.sum(Log.prompt_tokens), 0), func.coalesce(func.sum(Log.completion_tokens), 0))
            .where(Log.user_id == user_id, Log.type == LOG_CONSUME, Log.created_at >= since)
            .group_by(day, Log.model_name).order_by(day, Log.model_name))
    rows = (await session.execute(stmt)).all()
    return [{"Day": time.strftime("%Y-%m-%d", time.gmtime(int(r[0] or 0))), "ModelName": r[1] or "",
             "RequestCount": int(r[2]), "Quota": int(r[3] or 0), "PromptTokens": int(r[4] or 0),
             "CompletionTokens": int(r[5] or 0)} for r in rows]
