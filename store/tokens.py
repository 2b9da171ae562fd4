"""Queries on API tokens, always scoped to their owner, and the root-owned system token."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import events, keys
from store.engine import write_transaction
from store.models import TOKEN_ENABLED, Token
from store.patterns import page_bounds, starts_with
from store.results import rowcount

_ORDERS = {"remain_quota": (Token.unlimited_quota.desc(), Token.remain_quota.desc()),
           "used_quota": (Token.used_quota.desc(),)}
EDITABLE = ("name", "expired_time", "remain_quota", "unlimited_quota", "models", "subnet", "status",
            "rpm_limit", "tpm_limit", "max_parallel_requests", "budgets")   # the last four: #17


async def list_page(session: AsyncSession, user_id: int, page: int, order: str = "") -> list[Token]:
    offset, limit = page_bounds(page)
    stmt = select(Token).where(Token.user_id == user_id)
    stmt = stmt.order_by(*_ORDERS.get(order, ()), Token.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def list_all(session: AsyncSession, user_id: int) -> list[Token]:
    """Every token of the user, newest first (for the limits report)."""
    stmt = select(Token).where(Token.user_id == user_id).order_by(Token.id.desc())
    return list((await session.execute(stmt)).scalars())


async def search(session: AsyncSession, user_id: int, keyword: str) -> list[Token]:
    stmt = select(Token).where(Token.user_id == user_id, starts_with(Token.name, keyword)).order_by(Token.id.desc())
    return list((await session.execute(stmt)).scalars())


async def get(session: AsyncSession, user_id: int, token_id: int) -> Token | None:
    stmt = select(Token).where(Token.id == token_id, Token.user_id == user_id)
    return (await session.execute(stmt)).scalars().first()


async def create(session: AsyncSession, user_id: int, values: dict[str, Any]) -> Token:
    """A new token with a generated key; `values` holds editable fields only."""
    now = int(time.time())
    token = Token(user_id=user_id, key=keys.token_key(), status=TOKEN_ENABLED, created_time=now,
                  accessed_time=now, **{k: v for k, v in values.items() if k in EDITABLE and k != "status"})
    async with write_transaction(session):
        session.add(token)
        await session.flush()
        events.record(session, events.TOKEN, token.id)
    return token


async def update_fields(session: AsyncSession, user_id: int, token_id: int, values: dict[str, Any]) -> bool:
    values = {k: v for k, v in values.items() if k in EDITABLE}
    async with write_transaction(session):
        stmt = update(Token).where(Token.id == token_id, Token.user_id == user_id).values(**values)
        changed = rowcount(await session.execute(stmt))
        events.record(session, events.TOKEN, token_id)
    return bool(changed)


async def delete_one(session: AsyncSession, user_id: int, token_id: int) -> bool:
    async with write_transaction(session):
        result = await session.execute(delete(Token).where(Token.id == token_id, Token.user_id == user_id))
        events.record(session, events.TOKEN, token_id)
    return bool(rowcount(result))


async def system_token(session: AsyncSession, owner_id: int, name: str) -> Token:
    """The owner's token called `name` (unlimited, never expires), created on first use."""
    stmt = select(Token).where(Token.user_id == owner_id, Token.name == name).order_by(Token.id)
    found = (await session.execute(stmt)).scalars().first()
    if found is not None:
        return found
    await session.rollback()   # end the read so the write below starts its own transaction
    return await create(session, owner_id, {"name": name, "expired_time": -1, "remain_quota": 0,
                                            "unlimited_quota": True, "models": "", "subnet": ""})
