"""Job leases: which node runs a background job now, and when the job is next due.

One row per job name. A node may run the job only while it holds the row's lease:
taking it is one conditional UPDATE (`... WHERE expires_at < now`), so of any
number of nodes trying at once exactly one wins, on every backend. The holder
renews it while the job runs; a node that dies simply stops renewing and the
lease expires, so another node takes over. Times are milliseconds of the nodes'
clocks: they must agree to well within the lease's time to live (NTP does).
"""

from __future__ import annotations

import time

from sqlalchemy import BigInteger, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.engine import write_transaction
from store.models import Base
from store.results import rowcount


class JobLease(Base):
    """Ours, not One API's: a table One API never reads."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(191), default="")
    expires_at: Mapped[int] = mapped_column(BigInteger, default=0)   # ms; the lease is free once passed
    due_at: Mapped[int] = mapped_column(BigInteger, default=0)       # ms; when the periodic run is next due


def now_ms() -> int:
    return int(time.time() * 1000)


async def read(session: AsyncSession, name: str) -> JobLease | None:
    """The row as it is now (never a cached copy)."""
    stmt = select(JobLease).where(JobLease.name == name).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalars().first()


async def ensure(session: AsyncSession, name: str, due_at: int) -> None:
    """Create the job's row, free and due at `due_at`, unless it exists (another node may race us)."""
    try:
        async with write_transaction(session):
            if await read(session, name) is None:
                session.add(JobLease(name=name, holder="", expires_at=0, due_at=due_at))
    except IntegrityError:
        pass   # created meanwhile by another node: theirs is as good as ours


async def claim(session: AsyncSession, name: str, holder: str, ttl_ms: int, *, only_if_due: bool,
                now: int | None = None) -> bool:
    """Take the lease if it is free (and, with `only_if_due`, the job is due): True if we hold it now."""
    now = now_ms() if now is None else now
    stmt = update(JobLease).where(JobLease.name == name, JobLease.expires_at < now)
    if only_if_due:
        stmt = stmt.where(JobLease.due_at <= now)
    async with write_transaction(session):
        result = await session.execute(stmt.values(holder=holder, expires_at=now + ttl_ms))
    return rowcount(result) == 1


async def renew(session: AsyncSession, name: str, holder: str, ttl_ms: int, now: int | None = None) -> bool:
    """Extend our lease; False means it is no longer ours (it expired and another node took it)."""
    now = now_ms() if now is None else now
    async with write_transaction(session):
        result = await session.execute(update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                                       .values(expires_at=now + ttl_ms))
    return rowcount(result) == 1


async def release(session: AsyncSession, name: str, holder: str, next_due: int | None = None) -> bool:
    """Give the lease up at once (if still ours), setting the next due time when the run finished."""
    values: dict[str, int] = {"expires_at": 0}
    if next_due is not None:
        values["due_at"] = next_due
    async with write_transaction(session):
        result = await session.execute(update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
                                       .values(**values))
    return rowcount(result) == 1


async def reschedule(session: AsyncSession, name: str, due_at: int) -> None:
    """Make the job due at `due_at` (an operator's "run it now", and tests)."""
    async with write_transaction(session):
        await session.execute(update(JobLease).where(JobLease.name == name).values(due_at=due_at))
