"""Change events: how a write made by admin_api reaches every proxy worker on every node.

admin_api records an event in the same transaction as the change; proxies poll
for new event ids about once a second (and with Redis also get a pub/sub nudge)
and drop what they cached. A table, not a message bus, so it works on every
backend with no extra service, and a worker that was down catches up.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any, cast

from sqlalchemy import BigInteger, CursorResult, Integer, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base

TOKEN, USER, CHANNEL, OPTION = "token", "user", "channel", "option"
KINDS = frozenset({TOKEN, USER, CHANNEL, OPTION})
# the kinds recorded by the current admin request, when someone watches (admin_api/change_nudge.py)
_WATCHED: ContextVar[set[str] | None] = ContextVar("change_events_watched", default=None)


class CacheEvent(Base):
    """Ours, not One API's: a table One API never reads."""

    __tablename__ = "cache_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(191), default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=0)


def record(session: AsyncSession, kind: str, ref: object = "") -> None:
    """Add an event to the caller's open transaction (committed with the change it describes)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache event kind {kind!r}")
    watched = _WATCHED.get()
    if watched is not None:
        watched.add(kind)
    session.add(CacheEvent(kind=kind, ref=str(ref), created_at=int(time.time())))


def watch() -> set[str]:
    """From now on in this task's context, collect the kinds of the events recorded (one admin request)."""
    watched: set[str] = set()
    _WATCHED.set(watched)
    return watched


async def latest_id(session: AsyncSession) -> int:
    return (await session.execute(select(func.max(CacheEvent.id)))).scalar_one() or 0


async def since(session: AsyncSession, after_id: int, limit: int = 1000) -> list[CacheEvent]:
    stmt = select(CacheEvent).where(CacheEvent.id > after_id).order_by(CacheEvent.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def prune(session: AsyncSession, older_than_seconds: int = 3600) -> int:
    async with session.begin():
        stmt = delete(CacheEvent).where(CacheEvent.created_at < int(time.time()) - older_than_seconds)
        result = cast("CursorResult[Any]", await session.execute(stmt))
        return result.rowcount or 0
