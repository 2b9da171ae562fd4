"""The ledger owner and two RemoteLedger workers over a real unix socket, on a real SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from proxy.gateway.records import TokenRecord
from proxy.ledger.client import LedgerUnavailable, RemoteLedger
from proxy.ledger.owner import LedgerOwner
from proxy.ledger.strategies import MemoryLedger
from store import Database, InsufficientQuota
from store.models import Token, User
from tests.e2e.harness import Account, add_account, add_channel, balances

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


async def _token(db: Database, account: Account) -> TokenRecord:
    async with db.session() as s:
        return TokenRecord.from_row(await s.get(Token, account.token_id))


async def _owner(db: Database, path: str) -> LedgerOwner:
    owner = LedgerOwner(MemoryLedger(db, 0.05))
    await owner.start(path)
    return owner


@pytest.fixture
def sock(tmp_path: Path) -> str:
    return str(tmp_path / "ledger.sock")


@pytest.fixture
async def owner(db: Database, sock: str) -> AsyncIterator[LedgerOwner]:
    ledger_owner = await _owner(db, sock)
    yield ledger_owner
    await ledger_owner.close()    # a second close is harmless: nothing left to write


async def test_two_workers_never_overspend_and_sums_are_exact(db: Database, owner: LedgerOwner, sock: str) -> None:
    acct = await add_account(db, quota=10**6, token_quota=1_000)
    cid = await add_channel(db, base_url="http://127.0.0.1:9")
    token = await _token(db, acct)
    workers = [RemoteLedger(sock), RemoteLedger(sock)]
    refused: list[str] = []
    winners: list[int] = []

    async def one(i: int) -> None:
        try:
            await workers[i % 2].reserve(token, acct.user_id, 100)
            winners.append(i)
        except InsufficientQuota as e:
            refused.append(e.pool)

    await asyncio.gather(*(one(i) for i in range(100)))     # all in flight before any settles
    assert len(winners) == 10 and refused == ["token"] * 90
    settled: list[int] = []
    for n, i in enumerate(winners):
        if n % 3 == 2:
            workers[i % 2].refund(token, acct.user_id, 100)      # failed before any byte: costs nothing
        else:
            workers[i % 2].settle(token, acct.user_id, cid, 100, 37 + i)   # the real cost
            settled.append(37 + i)
    charged = sum(settled)
    for w in workers:
        await w.close()            # barrier: every settlement above has reached the owner
    await owner.close()
    bal = await balances(db, acct, cid)
    assert bal["token_remain"] == 1_000 - charged and bal["token_used"] == charged == bal["channel_used"]
    assert bal["user_quota"] == 10**6 - charged and bal["user_used"] == charged
    assert bal["requests"] == len(settled)


async def test_user_pool_refusal_and_queries(db: Database, owner: LedgerOwner, sock: str) -> None:
    acct = await add_account(db, quota=250, token_quota=10_000)
    token = await _token(db, acct)
    worker = RemoteLedger(sock)
    await worker.reserve(token, acct.user_id, 100)
    await worker.reserve(token, acct.user_id, 100)
    with pytest.raises(InsufficientQuota) as refusal:
        await worker.reserve(token, acct.user_id, 100)
    assert refusal.value.pool == "user"
    assert await worker.user_quota(acct.user_id) == 50
    assert await worker.token_remain(token) == 9_800
    await worker.close()


async def test_forget_reloads_balances_changed_in_the_database(db: Database, owner: LedgerOwner, sock: str) -> None:
    acct = await add_account(db, quota=10**6, token_quota=1_000)
    token = await _token(db, acct)
    worker = RemoteLedger(sock)
    await worker.reserve(token, acct.user_id, 1_000)
    with pytest.raises(InsufficientQuota):
        await worker.reserve(token, acct.user_id, 1)
    await owner.ledger.batcher.flush()
    async with db.session() as s, s.begin():     # an admin tops the token up
        await s.execute(update(Token).where(Token.id == acct.token_id).values(remain_quota=Token.remain_quota + 500))
        await s.execute(update(User).where(User.id == acct.user_id).values(quota=7_000))
    await worker.forget(users=True, tokens=True)
    assert await worker.token_remain(token) == 500
    assert await worker.user_quota(acct.user_id) == 7_000
    await worker.reserve(token, acct.user_id, 500)
    await worker.close()


async def test_owner_gone_fails_cleanly_then_reconnects_without_losing_settlements(
        db: Database, owner: LedgerOwner, sock: str) -> None:
    acct = await add_account(db, quota=10**6, token_quota=10_000)
    cid = await add_channel(db, base_url="http://127.0.0.1:9")
    token = await _token(db, acct)
    worker = RemoteLedger(sock)
    await worker.reserve(token, acct.user_id, 100)
    await owner.close()                               # the owner stops (its deltas written)
    await asyncio.sleep(0.05)                         # the worker sees the connection close
    with pytest.raises(LedgerUnavailable) as failure:
        await worker.reserve(token, acct.user_id, 100)
    assert failure.value.status == 503 and b"quota ledger" in failure.value.body()
    worker.settle(token, acct.user_id, cid, 100, 60)   # made while no owner: kept, sent on reconnect
    second = await _owner(db, sock)
    try:
        await worker.reserve(token, acct.user_id, 100)   # reconnects, the settlement goes first
        worker.settle(token, acct.user_id, cid, 100, 40)
        await worker.close()
    finally:
        await second.close()
    bal = await balances(db, acct, cid)
    assert bal["token_remain"] == 10_000 - 100 and bal["token_used"] == 100 == bal["channel_used"]
    assert bal["requests"] == 2


async def test_a_reservation_given_up_is_refunded_when_its_answer_arrives(db: Database, owner: LedgerOwner,
                                                                         sock: str) -> None:
    acct = await add_account(db, quota=10**6, token_quota=1_000)
    token = await _token(db, acct)
    worker = RemoteLedger(sock)
    await worker.token_remain(token)                  # connected and loaded
    task = asyncio.create_task(worker.reserve(token, acct.user_id, 300))
    await asyncio.sleep(0)                            # the request is written, its answer not yet read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await worker.token_remain(token)                  # answered after the reserve: its refund is on the way
    assert await worker.token_remain(token) == 1_000  # the late "ok" was answered with a refund
    await worker.close()
