"""Queries on redemption codes; redeeming is one conditional UPDATE, so a code is used exactly once."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import events, keys
from store.engine import write_transaction
from store.models import REDEMPTION_ENABLED, REDEMPTION_USED, Redemption, User
from store.patterns import page_bounds, starts_with
from store.results import rowcount


class RedeemError(Exception):
    """Redeeming refused; the message is One API's text."""


async def list_page(session: AsyncSession, page: int) -> list[Redemption]:
    offset, limit = page_bounds(page)
    stmt = select(Redemption).order_by(Redemption.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def search(session: AsyncSession, keyword: str) -> list[Redemption]:
    conditions = [starts_with(Redemption.name, keyword)]
    if keyword.isascii() and keyword.isdigit() and len(keyword) < 10:
        conditions.append(Redemption.id == int(keyword))
    stmt = select(Redemption).where(or_(*conditions)).order_by(Redemption.id.desc())
    return list((await session.execute(stmt)).scalars())


async def export_keys(session: AsyncSession, name_prefix: str, status: int | None) -> list[str]:
    """Keys of codes whose name starts with the prefix (optionally of one status), oldest first."""
    stmt = select(Redemption.key).where(starts_with(Redemption.name, name_prefix))
    if status is not None:
        stmt = stmt.where(Redemption.status == status)
    return list((await session.execute(stmt.order_by(Redemption.id))).scalars())


async def get(session: AsyncSession, redemption_id: int) -> Redemption | None:
    return await session.get(Redemption, redemption_id)


async def create_batch(session: AsyncSession, creator_id: int, name: str, quota: int, count: int) -> list[str]:
    """`count` new codes in one transaction: all of them or none."""
    now = int(time.time())
    codes = [keys.redemption_code() for _ in range(count)]
    async with write_transaction(session):
        session.add_all(Redemption(user_id=creator_id, key=code, status=REDEMPTION_ENABLED, name=name,
                                   quota=quota, created_time=now, redeemed_time=0) for code in codes)
    return codes


async def update_fields(session: AsyncSession, redemption_id: int, values: dict[str, Any]) -> bool:
    allowed = {k: v for k, v in values.items() if k in ("name", "quota", "status")}
    async with write_transaction(session):
        stmt = update(Redemption).where(Redemption.id == redemption_id).values(**allowed)
        return bool(rowcount(await session.execute(stmt)))


async def delete_one(session: AsyncSession, redemption_id: int) -> bool:
    async with write_transaction(session):
        return bool(rowcount(await session.execute(delete(Redemption).where(Redemption.id == redemption_id))))


async def redeem(session: AsyncSession, key: str, user_id: int) -> int:
    """Mark the code used and credit its quota to the user, atomically; returns the quota added."""
    now = int(time.time())
    async with write_transaction(session):
        code = (await session.execute(select(Redemption).where(Redemption.key == key))).scalars().first()
        if code is None:
            raise RedeemError("无效的兑换码")
        # The condition on status makes the database decide: of concurrent redeemers one row-update wins.
        claimed = await session.execute(update(Redemption).where(
            Redemption.id == code.id, Redemption.status == REDEMPTION_ENABLED).values(
            status=REDEMPTION_USED, redeemed_time=now))
        if rowcount(claimed) != 1:
            raise RedeemError("该兑换码已被使用")
        credited = await session.execute(update(User).where(User.id == user_id).values(
            quota=User.quota + code.quota))
        if rowcount(credited) != 1:
            raise RedeemError("无效的 user id")
        events.record(session, events.USER, user_id)
        return code.quota
