"""Real `one-api` processes: two nodes on one MariaDB, two workers on one port, graceful and hard stops.

Money must stay exact across processes: reservations are conditional UPDATEs in the shared database
(on SQLite with several workers: answered by the one ledger owner process), so no interleaving of nodes
and workers can overspend a token.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from store import Database, hash_password
from store.models import User
from tests.e2e.harness import add_account, add_channel, balances, logs
from tests.e2e.mock_upstream import MockOpenAI
from tests.e2e.test_command import free_port, wait_for

ACCESS_TOKEN = "a" * 32
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


class Node:
    def __init__(self, workdir: Path, env: dict[str, str], *args: str) -> None:
        self.port = free_port()
        full = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "shared-secret",
                "SHUTDOWN_GRACE": "10", **env}
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(self.port), "--log-dir",
                                      str(workdir / "logs"), *args], cwd=workdir, env=full,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait(self) -> Node:
        wait_for(self.url + "/api/status", time.monotonic() + 60)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)


async def _seed_root(db: Database) -> None:
    async with db.session() as s, s.begin():
        s.add(User(username="root", password=hash_password("123456"), role=100, quota=10**12, access_token=ACCESS_TOKEN))


async def _post(http: aiohttp.ClientSession, url: str, key: str) -> int:
    async with http.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": key}) as r:
        await r.read()
        return r.status


def _estimate() -> int:
    from proxy.gateway.tokenizer import Tokenizer
    from rules import load_prices

    prompt = Tokenizer().count_prompt("chat", BODY, "gpt-4o-mini")
    return load_prices().hold(prompt, 100, 500, "gpt-4o-mini", 1, "default")   # prompt and max_tokens at their prices


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_two_nodes_share_one_database_exactly(db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    from tests.conftest import backend_dsn

    dsn = backend_dsn("mysql")
    await _seed_root(db)
    estimate = _estimate()
    acct = await add_account(db, quota=10**9, token_quota=50 * estimate)
    cid = await add_channel(db, base_url=upstream.url)
    a = Node(tmp_path / "a", {"SQL_DSN": dsn}).wait()
    b = Node(tmp_path / "b", {"SQL_DSN": dsn, "NODE_TYPE": "slave"}).wait()
    try:
        upstream.script.delay = 1.0          # every request holds its reservation while the others arrive
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            statuses = Counter(await asyncio.gather(*(_post(http, (a.url, b.url)[i % 2], acct.key) for i in range(200))))
        # refused: 403 at the reservation, or 401 ("exhausted") from a token cache refreshed after the
        # balance was written down to zero
        # at least the 50 held for; more when a refused request found change settled back meanwhile (#14)
        served = statuses[200]
        assert served >= 50 and statuses[401] + statuses[403] == 200 - served, statuses
        upstream.script.delay = 0
        # a channel disabled through admin_api on node A stops receiving traffic on node B within a second
        async with aiohttp.ClientSession() as http:
            async with http.put(a.url + "/api/channel/", json={"id": cid, "status": 2},
                                headers={"Authorization": ACCESS_TOKEN}) as r:
                assert (await r.json())["success"] is True
            await asyncio.sleep(1.0)
            async with http.post(b.url + "/v1/chat/completions", json=BODY, headers={"Authorization": acct.key}) as r:
                assert r.status == 503
    finally:
        assert a.stop() == 0 and b.stop() == 0          # SIGTERM: everything settled is written
    bal = await balances(db, acct, cid)
    rows = await logs(db)
    charged = sum(r.quota for r in rows)
    assert len(rows) == served and charged > 0
    assert 50 * estimate - bal["token_remain"] == charged == bal["token_used"] == bal["channel_used"]
    assert bal["requests"] == served


async def test_two_workers_share_the_port_and_lose_nothing_on_sigterm(db: Database, upstream: MockOpenAI,
                                                                       tmp_path: Path) -> None:
    """SQLite, --workers 2: reservations go through the ledger owner, so the two processes never overspend."""
    await _seed_root(db)
    estimate = _estimate()
    acct = await add_account(db, quota=10**9, token_quota=20 * estimate)
    cid = await add_channel(db, base_url=upstream.url)
    db_path = str(db.url.url).split("///", 1)[1]
    node = Node(tmp_path, {"SQLITE_PATH": db_path}, "--workers", "2").wait()
    try:
        upstream.script.delay = 0.5
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
            statuses = Counter(await asyncio.gather(*(_post(http, node.url, acct.key) for _ in range(60))))
        served = statuses[200]                                       # 20 or more, as above
        assert served >= 20 and statuses[401] + statuses[403] == 60 - served, statuses   # 401 or 403, as above
    finally:
        assert node.stop() == 0
    bal = await balances(db, acct, cid)
    charged = sum(r.quota for r in await logs(db))
    assert 20 * estimate - bal["token_remain"] == charged == bal["token_used"] and bal["requests"] == served


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_sigkill_loses_at_most_the_settlement_window(db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    """A hard kill can lose only settlement deltas and log rows not yet flushed (0.2 s by default); reservations
    already taken stay taken, so the error is in the operator's favour and bounded by the in-flight reservations."""
    from tests.conftest import backend_dsn

    await _seed_root(db)
    estimate = _estimate()
    acct = await add_account(db, quota=10**9, token_quota=10**9)
    cid = await add_channel(db, base_url=upstream.url)
    node = Node(tmp_path, {"SQL_DSN": backend_dsn("mysql")}).wait()
    upstream.script.delay = 0.05
    completed = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def client() -> None:
            nonlocal completed
            while True:
                try:
                    if await _post(http, node.url, acct.key) == 200:
                        completed += 1
                except aiohttp.ClientError:
                    return
        tasks = [asyncio.create_task(client()) for _ in range(8)]
        await asyncio.sleep(2.0)
        node.stop(signal.SIGKILL)
        await asyncio.gather(*tasks)
    bal = await balances(db, acct, cid)
    logged = sum(r.quota for r in await logs(db))
    drop = 10**9 - bal["token_remain"]
    assert completed > 20
    assert drop >= logged                                  # nothing delivered goes unpaid
    # the excess is the 8 in-flight reservations plus the settlements of the last flush window
    # (0.2 s interval + the flush itself: 0.5 s at the measured request rate)
    window = completed / 2.0 * 0.5
    assert drop - logged <= (8 + window) * estimate
