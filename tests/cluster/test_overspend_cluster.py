"""Zero overspend across processes (#14): long answers on a balance for ten, through two workers
(SQLite: the ledger owner) and through two nodes sharing PostgreSQL (conditional UPDATEs)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from rules import load_prices
from store import Database
from tests.cluster.test_nodes import Node, _seed_root
from tests.cluster.test_sqlite_workers import _two_workers
from tests.e2e.harness import add_account, add_channel, balances, logs
from tests.e2e.test_overspend import ANSWER, BODY, LONG, LongAnswers


@pytest.fixture
async def long_answers() -> AsyncIterator[LongAnswers]:
    upstream = LongAnswers()
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


async def _hundred(urls: list[str], key: str, stream: bool) -> Counter[int]:
    async def post(http: aiohttp.ClientSession, url: str) -> int:
        async with http.post(url + "/v1/chat/completions", json={**BODY, "stream": stream},
                             headers={"Authorization": key}) as r:
            await r.read()
            return r.status

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
        return Counter(await asyncio.gather(*(post(http, urls[i % len(urls)]) for i in range(100))))


async def _check(db: Database, statuses: Counter[int], acct_key: object, affordable: int, cid: int,
                 limits: list[int | None]) -> None:
    assert set(statuses) <= {200, 401, 403} and statuses[200] >= 1, statuses
    bal = await balances(db, acct_key, cid)    # type: ignore[arg-type]
    rows = await logs(db)
    charged = sum(r.quota for r in rows)
    assert len(rows) == statuses[200]
    assert bal["token_remain"] >= 0 and charged <= affordable                     # zero overspend
    assert affordable - bal["token_remain"] == charged == bal["token_used"] == bal["channel_used"]
    assert all(limit is not None and limit <= LONG for limit in limits)           # every answer was capped


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "answer"])
async def test_two_workers_on_sqlite_never_spend_past_the_balance(db: Database, long_answers: LongAnswers,
                                                                  tmp_path: Path, stream: bool) -> None:
    await _seed_root(db)
    affordable = 10 * load_prices().quota_for(12, ANSWER, "gpt-4o-mini", 1, "default")
    acct = await add_account(db, quota=10**9, token_quota=affordable)
    cid = await add_channel(db, base_url=str(long_answers.server.make_url("")).rstrip("/"))
    node = await _two_workers(tmp_path, db)
    try:
        statuses = await _hundred([node.url], acct.key, stream)
    finally:
        assert node.stop() == 0          # SIGTERM: the owner writes every delta
    await _check(db, statuses, acct, affordable, cid, long_answers.limits)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_nodes_on_postgres_never_spend_past_the_balance(db: Database, long_answers: LongAnswers,
                                                                  tmp_path: Path) -> None:
    from tests.conftest import backend_dsn

    dsn = backend_dsn("postgres")
    await _seed_root(db)
    affordable = 10 * load_prices().quota_for(12, ANSWER, "gpt-4o-mini", 1, "default")
    acct = await add_account(db, quota=10**9, token_quota=affordable)
    cid = await add_channel(db, base_url=str(long_answers.server.make_url("")).rstrip("/"))
    a = Node(tmp_path / "a", {"SQL_DSN": dsn}).wait()
    b = Node(tmp_path / "b", {"SQL_DSN": dsn, "NODE_TYPE": "slave"}).wait()
    try:
        statuses = await _hundred([a.url, b.url], acct.key, True)
    finally:
        assert a.stop() == 0 and b.stop() == 0
    await _check(db, statuses, acct, affordable, cid, long_answers.limits)
