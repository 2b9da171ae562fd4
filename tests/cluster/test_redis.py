"""With Redis: admin changes reach the proxy through pub/sub at once (polling is only the safety net);
Redis going away mid-load changes nothing for clients, and the nudges come back with Redis."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import aiohttp

from store import Database
from tests.cluster.test_nodes import ACCESS_TOKEN, BODY, Node, _seed_root
from tests.e2e.harness import add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI
from tests.redis_helpers import shared_redis_url

REPO = Path(__file__).resolve().parents[2]


def _redis_port() -> int:
    return int(shared_redis_url().rsplit(":", 1)[1].split("/")[0])


async def _propagation(http: aiohttp.ClientSession, node: Node, key: str, cid: int, status: int, want: int) -> float:
    """Seconds from the admin change until the proxy answers `want`."""
    async with http.put(node.url + "/api/channel/", json={"id": cid, "status": status},
                        headers={"Authorization": ACCESS_TOKEN}) as r:
        assert (await r.json())["success"] is True
    start = time.monotonic()
    while time.monotonic() - start < 10:
        async with http.post(node.url + "/v1/chat/completions", json=BODY, headers={"Authorization": key}) as r:
            await r.read()
            if r.status == want:
                return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"the proxy never answered {want}")


async def test_pubsub_changes_and_a_redis_outage(db: Database, tmp_path: Path) -> None:
    port = _redis_port()
    upstream = await MockOpenAI().start()
    await _seed_root(db)
    acct = await add_account(db, quota=10**9, token_quota=10**9)
    cid = await add_channel(db, base_url=upstream.url)
    db_path = str(db.url.url).split("///", 1)[1]
    node = Node(tmp_path, {"SQLITE_PATH": db_path, "REDIS_CONN_STRING": f"redis://127.0.0.1:{port}/0",
                           "SYNC_FREQUENCY": "60"}).wait()
    try:
        async with aiohttp.ClientSession() as http:
            # polling runs every 5 s with Redis: sub-second propagation can only come from pub/sub
            for _ in range(2):
                assert await _propagation(http, node, acct.key, cid, 2, 503) < 1.0
                assert await _propagation(http, node, acct.key, cid, 1, 200) < 1.0
            subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False, capture_output=True)
            ok = 0
            for _ in range(20):                      # no Redis: clients see no difference
                async with http.post(node.url + "/v1/chat/completions", json=BODY, headers={"Authorization": acct.key}) as r:
                    ok += r.status == 200
            assert ok == 20
            async with http.get(node.url + "/api/status") as r:
                assert r.status == 200 and (await r.json())["success"] is True   # rate limiter falls back
            # changes still arrive through polling while Redis is away
            assert await _propagation(http, node, acct.key, cid, 2, 503) < 7.0
            subprocess.run([str(REPO / "scripts" / "services"), "start"], check=True, capture_output=True)
            deadline = time.monotonic() + 30
            while True:                              # once the listener is back, propagation is immediate again
                fast = await _propagation(http, node, acct.key, cid, 1, 200) < 1.0
                fast = fast and await _propagation(http, node, acct.key, cid, 2, 503) < 1.0
                if fast:
                    break
                assert time.monotonic() < deadline, "pub/sub never recovered after Redis came back"
    finally:
        subprocess.run([str(REPO / "scripts" / "services"), "start"], check=False, capture_output=True)
        assert node.stop() == 0
        await upstream.close()
