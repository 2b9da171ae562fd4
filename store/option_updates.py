"""Writing one option row together with the change event that makes every proxy reload options."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from store import events
from store.engine import write_transaction
from store.models import Option


async def put(session: AsyncSession, key: str, value: str) -> None:
    """Insert or replace the row `key` in one write transaction with an OPTION event."""
    await put_many(session, {key: value})


async def put_many(session: AsyncSession, values: Mapping[str, str]) -> None:
    """Insert or replace several rows in one write transaction (all of them or none), one OPTION event each."""
    async with write_transaction(session):
        for key, value in values.items():
            row = await session.get(Option, key)
            if row is None:
                session.add(Option(key=key, value=value))
            else:
                row.value = value
            events.record(session, events.OPTION, key)
