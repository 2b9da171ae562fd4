"""The quota ledger on every backend: atomic reservations under concurrency, settle, refund."""

from __future__ import annotations

import asyncio

import pytest

from store import Database, InsufficientQuota, refund, reserve, settle
from store.models import Channel, Token, User


async def _seed(db: Database, *, user_quota: int, token_quota: int, limited: bool = True) -> tuple[int, int, int]:
    async with db.session() as s, s.begin():
        user = User(username="alice", password="x", quota=user_quota)
        s.add(user)
        await s.flush()
        token = Token(user_id=user.id, key="k" * 48, remain_quota=token_quota, unlimited_quota=not limited)
        channel = Channel(name="c1", key="sk-up", models="gpt-4o")
        s.add_all([token, channel])
        await s.flush()
        return user.id, token.id, channel.id


async def _balances(db: Database, uid: int, tid: int, cid: int) -> tuple[User, Token, Channel]:
    async with db.session() as s:
        return await s.get(User, uid), await s.get(Token, tid), await s.get(Channel, cid)


async def test_concurrent_reservations_never_go_below_zero(db: Database) -> None:
    uid, tid, cid = await _seed(db, user_quota=10_000, token_quota=1_000)
    outcomes: list[str] = []

    async def one() -> None:
        async with db.session() as s:
            try:
                await reserve(s, token_id=tid, user_id=uid, amount=100, token_limited=True)
                outcomes.append("ok")
            except InsufficientQuota as e:
                outcomes.append(e.pool)

    await asyncio.gather(*(one() for _ in range(50)))
    user, token, _ = await _balances(db, uid, tid, cid)
    assert outcomes.count("ok") == 10
    assert outcomes.count("token") == 40
    assert token.remain_quota == 0 and token.used_quota == 1_000
    assert user.quota == 10_000 - 1_000   # charged sum == balance drop


async def test_user_pool_refusal_rolls_back_the_token(db: Database) -> None:
    uid, tid, cid = await _seed(db, user_quota=250, token_quota=10_000)
    ok = 0
    for _ in range(5):
        async with db.session() as s:
            try:
                await reserve(s, token_id=tid, user_id=uid, amount=100, token_limited=True)
                ok += 1
            except InsufficientQuota as e:
                assert e.pool == "user"
    user, token, _ = await _balances(db, uid, tid, cid)
    assert ok == 2
    assert user.quota == 50
    assert token.remain_quota == 10_000 - 200   # refused reservations left no trace on the token


async def test_concurrent_reservations_on_the_user_pool(db: Database) -> None:
    uid, tid, cid = await _seed(db, user_quota=1_000, token_quota=0, limited=False)

    async def one() -> bool:
        async with db.session() as s:
            try:
                await reserve(s, token_id=tid, user_id=uid, amount=100, token_limited=False)
                return True
            except InsufficientQuota:
                return False

    results = await asyncio.gather(*(one() for _ in range(50)))
    user, token, _ = await _balances(db, uid, tid, cid)
    assert sum(results) == 10
    assert user.quota == 0
    assert token.used_quota == 1_000        # unlimited tokens still count what they spend
    assert token.remain_quota == 0


@pytest.mark.parametrize("actual", [40, 100, 130, 0])
async def test_settle_charges_the_difference(db: Database, actual: int) -> None:
    uid, tid, cid = await _seed(db, user_quota=1_000, token_quota=500)
    async with db.session() as s:
        await reserve(s, token_id=tid, user_id=uid, amount=100, token_limited=True)
    async with db.session() as s:
        await settle(s, token_id=tid, user_id=uid, channel_id=cid, reserved=100, actual=actual, token_limited=True)
    user, token, channel = await _balances(db, uid, tid, cid)
    assert user.quota == 1_000 - actual
    assert token.remain_quota == 500 - actual
    assert token.used_quota == actual
    assert user.used_quota == actual
    assert user.request_count == 1
    assert channel.used_quota == actual


async def test_refund_restores_both_pools(db: Database) -> None:
    uid, tid, cid = await _seed(db, user_quota=1_000, token_quota=500)
    async with db.session() as s:
        await reserve(s, token_id=tid, user_id=uid, amount=300, token_limited=True)
    async with db.session() as s:
        await refund(s, token_id=tid, user_id=uid, amount=300, token_limited=True)
    user, token, channel = await _balances(db, uid, tid, cid)
    assert (user.quota, token.remain_quota, token.used_quota) == (1_000, 500, 0)
    assert (user.used_quota, user.request_count, channel.used_quota) == (0, 0, 0)


async def test_reserve_settle_under_concurrency_sums_exactly(db: Database) -> None:
    """Many requests reserving, then settling to various real costs: balances equal the sum of charges."""
    uid, tid, cid = await _seed(db, user_quota=100_000, token_quota=5_000)
    charged: list[int] = []

    async def one(i: int) -> None:
        async with db.session() as s:
            try:
                await reserve(s, token_id=tid, user_id=uid, amount=200, token_limited=True)
            except InsufficientQuota:
                return
        actual = 50 + (i % 7) * 20
        async with db.session() as s:
            await settle(s, token_id=tid, user_id=uid, channel_id=cid, reserved=200, actual=actual, token_limited=True)
        charged.append(actual)

    await asyncio.gather(*(one(i) for i in range(60)))
    user, token, channel = await _balances(db, uid, tid, cid)
    assert token.remain_quota >= 0
    assert 5_000 - token.remain_quota == sum(charged) == token.used_quota
    assert 100_000 - user.quota == sum(charged) == user.used_quota == channel.used_quota
    assert user.request_count == len(charged)
