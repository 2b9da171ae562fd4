"""Queries on channels and their abilities, rebuilt in the same transaction as every channel change."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from store import events
from store.engine import write_transaction
from store.models import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, Ability, Channel
from store.patterns import page_bounds, starts_with
from store.results import rowcount

T = TypeVar("T")
EDITABLE = ("type", "key", "status", "name", "weight", "base_url", "other", "models", "group",
            "model_mapping", "priority", "config", "system_prompt")
_RETRYABLE = ("deadlock", "could not serialize", "lock wait timeout")


def clean_list(raw: str | None) -> str:
    """A comma list with items trimmed, empties dropped and duplicates removed (order kept)."""
    seen: dict[str, None] = {}
    for item in (raw or "").split(","):
        item = item.strip()
        if item:
            seen.setdefault(item, None)
    return ",".join(seen)


def _ability_rows(channel: Channel) -> list[dict[str, Any]]:
    models = clean_list(channel.models).split(",") if channel.models else []
    groups = clean_list(channel.group).split(",") if channel.group else []
    return [{"group": g, "model": m, "channel_id": channel.id, "enabled": channel.status == CHANNEL_ENABLED,
             "priority": channel.priority or 0} for m in models if m for g in groups if g]


async def _rebuild_abilities(session: AsyncSession, channel: Channel) -> None:
    await session.execute(delete(Ability).where(Ability.channel_id == channel.id))
    rows = _ability_rows(channel)
    if rows:
        await session.execute(insert(Ability), rows)


async def _retrying(work: Callable[[], Awaitable[T]], attempts: int = 6) -> T:
    """Run a write transaction again when MySQL/PostgreSQL chose it as a deadlock victim."""
    for attempt in range(attempts):
        try:
            return await work()
        except DBAPIError as exc:
            if attempt == attempts - 1 or not any(word in str(exc).lower() for word in _RETRYABLE):
                raise
            await asyncio.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


async def list_page(session: AsyncSession, page: int) -> list[Channel]:
    offset, limit = page_bounds(page)
    stmt = select(Channel).order_by(Channel.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def search(session: AsyncSession, keyword: str) -> list[Channel]:
    conditions = [starts_with(Channel.name, keyword)]
    if keyword.isascii() and keyword.isdigit() and len(keyword) < 10:
        conditions.append(Channel.id == int(keyword))
    stmt = select(Channel).where(or_(*conditions)).order_by(Channel.id.desc())
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def for_test(session: AsyncSession, scope: str) -> list[Channel]:
    """Channels of a test-all run: every one, or only disabled ones (`scope=disabled`)."""
    stmt = select(Channel).order_by(Channel.id)
    if scope == "disabled":
        stmt = stmt.where(Channel.status.in_((CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED)))
    return list((await session.execute(stmt)).scalars())


def _normalised(values: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in values.items() if k in EDITABLE}
    for name in ("models", "group"):
        if name in out:
            out[name] = clean_list(out[name])
    return out


async def create_many(session: AsyncSession, template: dict[str, Any], channel_keys: Iterable[str]) -> list[int]:
    """One channel per key, all with the template's fields, and their abilities; one transaction."""
    fields = _normalised(template)
    fields["created_time"] = int(time.time())

    async def work() -> list[int]:
        ids = []
        async with write_transaction(session):
            for key in channel_keys:
                channel = Channel(**{**fields, "key": key})
                session.add(channel)
                await session.flush()
                await _rebuild_abilities(session, channel)
                ids.append(channel.id)
            events.record(session, events.CHANNEL, ",".join(map(str, ids))[:180])
        return ids

    return await _retrying(work)


async def update_fields(session: AsyncSession, channel_id: int, values: dict[str, Any],
                        check: Callable[[Channel], dict[str, Any] | None] | None = None) -> Channel | None:
    """Apply the changes under a row lock and rebuild the channel's abilities from the result.

    `check` sees the locked row before the changes: it may raise to refuse them (nothing is written)
    or return the values to write instead (derived from the stored row).
    """
    async def work() -> Channel | None:
        async with write_transaction(session):
            stmt = select(Channel).where(Channel.id == channel_id).with_for_update().execution_options(
                populate_existing=True)
            channel = (await session.execute(stmt)).scalars().first()
            if channel is None:
                return None
            adjusted = check(channel) if check is not None else None
            changes = _normalised(values if adjusted is None else adjusted)
            for name, value in changes.items():
                setattr(channel, name, value)
            await session.flush()
            await _rebuild_abilities(session, channel)
            events.record(session, events.CHANNEL, channel_id)
        return channel

    return await _retrying(work)


async def delete_one(session: AsyncSession, channel_id: int) -> bool:
    async def work() -> bool:
        async with write_transaction(session):
            await session.execute(delete(Ability).where(Ability.channel_id == channel_id))
            result = await session.execute(delete(Channel).where(Channel.id == channel_id))
            events.record(session, events.CHANNEL, channel_id)
        return bool(rowcount(result))

    return await _retrying(work)


async def delete_disabled(session: AsyncSession) -> int:
    """Delete channels with status 2 or 3 and (unlike One API) their abilities too."""
    disabled = (CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED)

    async def work() -> int:
        async with write_transaction(session):
            ids = select(Channel.id).where(Channel.status.in_(disabled)).scalar_subquery()
            await session.execute(delete(Ability).where(Ability.channel_id.in_(ids)))
            result = await session.execute(delete(Channel).where(Channel.status.in_(disabled)))
            events.record(session, events.CHANNEL, "disabled")
        return rowcount(result)

    return await _retrying(work)


async def record_test(session: AsyncSession, channel_id: int, response_ms: int, when: int) -> None:
    async with write_transaction(session):
        await session.execute(update(Channel).where(Channel.id == channel_id)
                              .values(response_time=response_ms, test_time=when))


async def record_balance(session: AsyncSession, channel_id: int, balance: float, when: int) -> None:
    async with write_transaction(session):
        await session.execute(update(Channel).where(Channel.id == channel_id)
                              .values(balance=balance, balance_updated_time=when))


async def abilities_of(session: AsyncSession, channel_id: int) -> list[Ability]:
    stmt = select(Ability).where(Ability.channel_id == channel_id).order_by(Ability.group, Ability.model)
    return list((await session.execute(stmt)).scalars())
