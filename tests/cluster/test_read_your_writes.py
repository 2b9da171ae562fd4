"""Read-your-writes on the real `one-api --workers 2`: once an /api write has returned, every relay request
that starts afterwards on that node, whichever worker serves it, sees the change (One API with its default
settings reads the database on every request, so its changes are immediate too)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from store import Database
from tests.cluster.test_nodes import ACCESS_TOKEN, BODY, Node, _seed_root
from tests.cluster.test_sqlite_workers import _log_text, _two_workers
from tests.e2e.harness import add_account, add_channel, balances
from tests.e2e.mock_upstream import MockOpenAI

ADMIN = {"Authorization": ACCESS_TOKEN}


async def _node(backend: str, workdir: Path, db: Database) -> Node:
    """`one-api --workers 2` on the test's database; returned once both workers listen."""
    from tests.conftest import backend_dsn

    env = ({"SQLITE_PATH": str(db.url.url).split("///", 1)[1]} if backend == "sqlite"
           else {"SQL_DSN": str(backend_dsn(backend))})
    return await _two_workers(workdir, db, env)


async def _api(http: aiohttp.ClientSession, node: Node, method: str, path: str, body: dict[str, Any]) -> None:
    async with http.request(method, node.url + path, json=body, headers=ADMIN) as r:
        answer = await r.json(content_type=None)
    assert answer["success"] is True, answer


async def _call(http: aiohttp.ClientSession, node: Node, key: str, model: str = "gpt-4o-mini") -> int:
    async with http.post(node.url + "/v1/chat/completions", json={**BODY, "model": model},
                         headers={"Authorization": key}) as r:
        await r.read()
        return r.status


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_an_admin_write_is_seen_by_the_next_request_on_every_worker(backend: str, db: Database,
                                                                          upstream: MockOpenAI,
                                                                          tmp_path: Path) -> None:
    await _seed_root(db)
    await add_channel(db, base_url=upstream.url)          # gpt-4o-mini, for the accounts below
    alice = await add_account(db, username="alice", quota=10**9)
    bob = await add_account(db, username="bob", quota=10**9)
    node = await _node(backend, tmp_path, db)
    try:
        # a new connection per request: SO_REUSEPORT spreads them over both workers
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            # a channel created through /api answers at once (One API: 200; before: 503 for about 0.5 s)
            for i in range(20):
                model = f"rw-model-{i}"
                await _api(http, node, "POST", "/api/channel/", {"type": 1, "name": model, "key": "sk-up",
                                                                 "base_url": upstream.url, "models": model,
                                                                 "group": "default"})
                assert await _call(http, node, alice.key, model) == 200, f"channel {i} not seen at once"

            # a disabled user is refused at once, by both workers (both have it cached)
            assert Counter([await _call(http, node, alice.key) for _ in range(8)]) == {200: 8}
            await _api(http, node, "POST", "/api/user/manage", {"username": "alice", "action": "disable"})
            assert Counter([await _call(http, node, alice.key) for _ in range(8)]) == {403: 8}

            # quota set to 0: the next request is refused, and nothing more is charged
            assert Counter([await _call(http, node, bob.key) for _ in range(8)]) == {200: 8}
            # at once: the set waits for the deltas of those 8 (before: written after it, the balance ended
            # below 0 on SQLite, and refunds on PostgreSQL made it positive again, serving 6 more)
            await _api(http, node, "PUT", "/api/user/", {"id": bob.user_id, "quota": 0})
            statuses = Counter([await _call(http, node, bob.key) for _ in range(8)])
            assert statuses[200] == 0 and statuses[401] + statuses[403] == 8, statuses
    finally:
        assert node.stop() == 0            # SIGTERM: every settlement is written
    assert (await balances(db, bob))["user_quota"] == 0         # before: −48 on SQLite (8 more served)
    access = _log_text(tmp_path / "logs")
    refusals = Counter(re.findall(r" (proxy-\d) \[[^\]]*\] one-api\.access: POST \S+ 403 ", access))
    assert set(refusals) == {"proxy-0", "proxy-1"}, refusals    # both workers saw the writes at once
