"""The quota ledger's primitives: reserve, settle, refund — each one short transaction.

A reservation is a conditional UPDATE (`... WHERE remain >= N`), so no
interleaving of concurrent requests can take a token or a user below zero:
the database decides, not a read-then-write in Python.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.engine import write_transaction
from store.models import Channel, Token, User
from store.results import rowcount


class InsufficientQuota(Exception):
    """A reservation was refused; `pool` says whose: "token" or "user"."""

    def __init__(self, pool: str) -> None:
        super().__init__(f"{pool} quota is not enough")
        self.pool = pool


def _now(now: int | None) -> int:
    return int(time.time()) if now is None else now


async def user_quota_of(session: AsyncSession, user_id: int) -> int:
    """The user's balance as the database holds it (0 for a user it does not hold)."""
    value = (await session.execute(select(User.quota).where(User.id == user_id))).scalar_one_or_none()
    return value or 0


async def token_remain_of(session: AsyncSession, token_id: int) -> int:
    """The token's remaining quota as the database holds it (0 for a token it does not hold)."""
    value = (await session.execute(select(Token.remain_quota).where(Token.id == token_id))).scalar_one_or_none()
    return value or 0


async def reserve(session: AsyncSession, *, token_id: int, user_id: int, amount: int,
                  token_limited: bool, now: int | None = None) -> None:
    """Take `amount` from the token (if limited) and the user, both or neither."""
    if amount <= 0:
        return
    async with write_transaction(session):
        values = {"used_quota": Token.used_quota + amount, "accessed_time": _now(now)}
        stmt = update(Token).where(Token.id == token_id)
        if token_limited:
            stmt = stmt.where(Token.remain_quota >= amount)
            values["remain_quota"] = Token.remain_quota - amount
        if rowcount(await session.execute(stmt.values(**values))) != 1:
            raise InsufficientQuota("token")
        result = await session.execute(
            update(User).where(User.id == user_id, User.quota >= amount).values(quota=User.quota - amount))
        if rowcount(result) != 1:
            raise InsufficientQuota("user")   # leaving the block rolls the token update back


async def settle(session: AsyncSession, *, token_id: int, user_id: int, channel_id: int | None,
                 reserved: int, actual: int, token_limited: bool, now: int | None = None,
                 count_request: bool = True) -> None:
    """Turn a reservation into the real charge: charge the difference or refund it, and bump counters."""
    delta = actual - reserved
    async with write_transaction(session):
        await _apply_delta(session, token_id, user_id, delta, token_limited, now)
        if count_request or actual:
            await session.execute(update(User).where(User.id == user_id).values(
                used_quota=User.used_quota + actual,
                request_count=User.request_count + (1 if count_request else 0)))
        if channel_id and actual:
            await session.execute(update(Channel).where(Channel.id == channel_id).values(
                used_quota=Channel.used_quota + actual))


async def refund(session: AsyncSession, *, token_id: int, user_id: int, amount: int,
                 token_limited: bool, now: int | None = None) -> None:
    """Give a whole reservation back (the request failed before anything was delivered)."""
    if amount == 0:
        return
    async with write_transaction(session):
        await _apply_delta(session, token_id, user_id, -amount, token_limited, now)


async def _apply_delta(session: AsyncSession, token_id: int, user_id: int, delta: int,
                       token_limited: bool, now: int | None) -> None:
    if delta == 0:
        return
    values = {"used_quota": Token.used_quota + delta, "accessed_time": _now(now)}
    if token_limited:
        values["remain_quota"] = Token.remain_quota - delta
    await session.execute(update(Token).where(Token.id == token_id).values(**values))
    await session.execute(update(User).where(User.id == user_id).values(quota=User.quota - delta))


async def add_counters(session: AsyncSession, *, user_deltas: dict[int, tuple[int, int, int]],
                       token_deltas: dict[int, tuple[int, int]], channel_deltas: dict[int, int],
                       now: int | None = None) -> None:
    """Apply accumulated additive deltas in one transaction (batch mode flush).

    user: (quota delta, used_quota delta, request_count delta); token: (remain delta, used delta); channel: used delta.
    """
    ts = _now(now)
    # rows are locked in the order reserve() locks them (token, then user) so the two never deadlock
    async with write_transaction(session):
        for tid, (dr, du) in sorted(token_deltas.items()):
            await session.execute(update(Token).where(Token.id == tid).values(
                remain_quota=Token.remain_quota + dr, used_quota=Token.used_quota + du, accessed_time=ts))
        for uid, (dq, du, dr) in sorted(user_deltas.items()):
            await session.execute(update(User).where(User.id == uid).values(
                quota=User.quota + dq, used_quota=User.used_quota + du, request_count=User.request_count + dr))
        for cid, du in sorted(channel_deltas.items()):
            await session.execute(update(Channel).where(Channel.id == cid).values(used_quota=Channel.used_quota + du))
