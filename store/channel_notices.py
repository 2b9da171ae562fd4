"""The outbox of channel state notices for root (one-api.md §15), written with the change they report.

Whoever changes a channel's state (the proxy's auto-disable, admin_api's tests and
balance sweeps) adds a row in the same transaction as the change, so a notice
exists exactly when the change was committed and survives any restart. admin_api
delivers the rows later: it claims a row with a conditional UPDATE before
sending it, so two drainers never send the same row at once.
"""

from __future__ import annotations

import time

from sqlalchemy import BigInteger, Integer, String, Text, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.engine import write_transaction
from store.models import Base
from store.results import rowcount

DISABLED, ENABLED, TESTED = "disabled", "enabled", "tested"
KINDS = frozenset({DISABLED, ENABLED, TESTED})


class ChannelNotice(Base):
    """Ours, not One API's: a table One API never reads. `delivered_at` 0 means still to send."""

    __tablename__ = "channel_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered_at: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    outcome: Mapped[str] = mapped_column(String(191), default="")


def record(session: AsyncSession, kind: str, channel_id: int = 0, reason: str = "") -> None:
    """Add a notice to the caller's open transaction (committed with the change it reports)."""
    if kind not in KINDS:
        raise ValueError(f"unknown channel notice kind {kind!r}")
    session.add(ChannelNotice(kind=kind, channel_id=channel_id, reason=reason, created_at=int(time.time()),
                              attempts=0, next_attempt_at=0, delivered_at=0, outcome=""))


async def add(session: AsyncSession, kind: str, channel_id: int = 0, reason: str = "") -> None:
    """Add a notice in a transaction of its own (for notices that report no database change)."""
    async with write_transaction(session):
        record(session, kind, channel_id, reason)


async def due(session: AsyncSession, now: int | None = None, limit: int = 20) -> list[ChannelNotice]:
    """Undelivered notices whose next attempt is due, oldest first."""
    now = int(time.time()) if now is None else now
    stmt = (select(ChannelNotice).where(ChannelNotice.delivered_at == 0, ChannelNotice.next_attempt_at <= now)
            .order_by(ChannelNotice.id).limit(limit).execution_options(populate_existing=True))
    return list((await session.execute(stmt)).scalars())


async def claim(session: AsyncSession, notice_id: int, attempts: int, retry_at: int) -> bool:
    """Take one delivery attempt: only one caller wins while `attempts` is unchanged.

    `retry_at` is when the notice may be tried again if this attempt never reports back.
    """
    async with write_transaction(session):
        result = await session.execute(
            update(ChannelNotice)
            .where(ChannelNotice.id == notice_id, ChannelNotice.delivered_at == 0, ChannelNotice.attempts == attempts)
            .values(attempts=attempts + 1, next_attempt_at=retry_at))
    return rowcount(result) == 1


async def finish(session: AsyncSession, notice_id: int, outcome: str, when: int | None = None) -> None:
    """Mark a notice done: sent (outcome says how) or given up (outcome says why)."""
    async with write_transaction(session):
        await session.execute(update(ChannelNotice).where(ChannelNotice.id == notice_id).values(
            delivered_at=int(time.time()) if when is None else when, outcome=outcome[:191]))


async def postpone(session: AsyncSession, notice_id: int, retry_at: int, outcome: str) -> None:
    """Leave a notice undelivered after a failed attempt, to be tried again at `retry_at`."""
    async with write_transaction(session):
        await session.execute(update(ChannelNotice).where(ChannelNotice.id == notice_id).values(
            next_attempt_at=retry_at, outcome=outcome[:191]))


async def prune(session: AsyncSession, older_than_seconds: int = 30 * 86400) -> int:
    """Delete notices delivered (or given up) more than `older_than_seconds` ago."""
    cutoff = int(time.time()) - older_than_seconds
    async with write_transaction(session):
        result = await session.execute(delete(ChannelNotice).where(ChannelNotice.delivered_at > 0,
                                                                   ChannelNotice.delivered_at < cutoff))
    return rowcount(result)
