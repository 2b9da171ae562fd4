"""Real `one-api --workers 2` on SQLite: the ledger owner process keeps quota exact across both workers."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from pathlib import Path

import aiohttp

from store import Database
from tests.cluster.test_nodes import Node, _estimate, _post, _seed_root
from tests.e2e.harness import add_account, add_channel, balances, logs
from tests.e2e.mock_upstream import MockOpenAI


async def _two_workers(workdir: Path, db: Database, env: dict[str, str] | None = None) -> Node:
    """Start `one-api --workers 2` on the test's SQLite file (or the database `env` names); return once both
    workers listen."""
    node = Node(workdir, env or {"SQLITE_PATH": str(db.url.url).split("///", 1)[1]}, "--workers", "2").wait()
    deadline = time.monotonic() + 60
    while not all(re.search(rf" proxy-{n} \[-\] startup.serve: listening", _log_text(workdir / "logs"))
                  for n in (0, 1)):
        assert time.monotonic() < deadline, "a worker never started listening"
        await asyncio.sleep(0.1)
    return node


def _log_text(log_dir: Path) -> str:
    return "".join(p.read_text() for p in log_dir.glob("*.log*"))


def _served_and_refused(statuses: Counter[int]) -> tuple[int, int]:
    """200s, and refusals: 403 (the reservation failed) or 401 (a token cache refreshed after the owner
    wrote the balance down to zero says "exhausted" before any reservation)."""
    assert set(statuses) <= {200, 401, 403}, statuses
    return statuses[200], statuses[401] + statuses[403]


def _served_by(log_dir: Path) -> Counter[str]:
    """Access-log lines per worker process name."""
    return Counter(re.findall(r" (proxy-\d) \[[^\]]*\] one-api\.access", _log_text(log_dir)))


async def test_two_workers_reserve_through_the_ledger_owner(db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    await _seed_root(db)
    estimate = _estimate()
    affordable = 30
    acct = await add_account(db, quota=10**9, token_quota=affordable * estimate)
    cid = await add_channel(db, base_url=upstream.url)
    node = await _two_workers(tmp_path, db)
    try:
        upstream.script.delay = 0.5      # every reservation is held while the others arrive
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
            statuses = Counter(await asyncio.gather(*(_post(http, node.url, acct.key) for _ in range(150))))
        served, refused = _served_and_refused(statuses)     # more than held for when change came back (#14)
        assert served >= affordable and served + refused == 150
    finally:
        assert node.stop() == 0          # SIGTERM: workers stop, then the owner writes every delta
    bal = await balances(db, acct, cid)
    rows = await logs(db)
    charged = sum(r.quota for r in rows)
    assert len(rows) == served and charged > 0
    assert affordable * estimate - bal["token_remain"] == charged == bal["token_used"] == bal["channel_used"]
    assert bal["user_used"] == charged and bal["user_quota"] == 10**9 - charged and bal["requests"] == served
    served_by = _served_by(tmp_path / "logs")
    assert set(served_by) == {"proxy-0", "proxy-1"}, served_by


async def test_sigterm_mid_flight_settles_everything_before_the_owner_stops(db: Database, upstream: MockOpenAI,
                                                                            tmp_path: Path) -> None:
    """The workers finish their in-flight requests after SIGTERM; their settlements still reach the owner,
    which the supervisor stops only after them."""
    await _seed_root(db)
    estimate = _estimate()
    affordable = 12
    acct = await add_account(db, quota=10**9, token_quota=affordable * estimate)
    cid = await add_channel(db, base_url=upstream.url)
    node = await _two_workers(tmp_path, db)
    upstream.script.delay = 1.5
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
        calls = asyncio.gather(*(_post(http, node.url, acct.key) for _ in range(40)))
        while len(upstream.requests) < affordable:     # every affordable request is at the upstream
            await asyncio.sleep(0.02)
        stopped = asyncio.create_task(asyncio.to_thread(node.stop))   # SIGTERM now, while they wait
        statuses = Counter(await calls)
        assert await stopped == 0
    assert _served_and_refused(statuses) == (affordable, 40 - affordable)
    bal = await balances(db, acct, cid)
    charged = sum(r.quota for r in await logs(db))
    assert affordable * estimate - bal["token_remain"] == charged == bal["token_used"] == bal["channel_used"]
    assert bal["user_quota"] == 10**9 - charged and bal["requests"] == affordable
