"""admin_api and the proxy as the `one-api` command runs them: a channel created through /api, tested
through the real proxy (pinned with root's channel-test token), disabled, tested again, and used."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiohttp

from tests.cluster.test_nodes import ACCESS_TOKEN, Node
from tests.e2e.mock_upstream import MockOpenAI


async def test_channel_test_goes_through_the_real_proxy(tmp_path: Path) -> None:
    upstream = await MockOpenAI().start()
    node = Node(tmp_path, {"INITIAL_ROOT_ACCESS_TOKEN": ACCESS_TOKEN,
                           "INITIAL_ROOT_TOKEN": "sk-RootTokenForTheClusterTest0123"}).wait()
    admin = {"Authorization": ACCESS_TOKEN}
    try:
        async with aiohttp.ClientSession() as http:
            async def api(method: str, path: str, **kw: object) -> dict:
                async with http.request(method, node.url + path, headers=admin, **kw) as r:
                    return await r.json(content_type=None)

            created = await api("POST", "/api/channel/", json={"type": 1, "name": "mock", "key": "sk-up",
                                                                "base_url": upstream.url, "models": "gpt-4o-mini",
                                                                "group": "default"})
            assert created["success"] is True, created
            [channel] = (await api("GET", "/api/channel/?p=0"))["data"]
            tested = await api("GET", f"/api/channel/test/{channel['id']}?model=gpt-4o-mini")
            assert tested["success"] is True and tested["message"] == "Hello there!", tested
            assert upstream.requests[-1].headers["Authorization"] == "Bearer sk-up"
            assert (await api("PUT", "/api/channel/", json={"id": channel["id"], "status": 2}))["success"] is True
            again = await api("GET", f"/api/channel/test/{channel['id']}?model=gpt-4o-mini")
            assert again["success"] is True, again              # a disabled channel can still be tested
            assert (await api("PUT", "/api/channel/", json={"id": channel["id"], "status": 1}))["success"] is True
            await asyncio.sleep(1.0)                            # the change event reaches the proxy within a second
            async with http.post(node.url + "/v1/chat/completions", headers={"Authorization": "Bearer sk-RootTokenForTheClusterTest0123"},
                                 json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}) as r:
                assert r.status == 200
    finally:
        assert node.stop() == 0
        await upstream.close()
    db = sqlite3.connect(tmp_path / "one-api.db")
    [(response_time, test_time)] = db.execute("select response_time, test_time from channels").fetchall()
    assert response_time > 0 and test_time > 0
    tests = db.execute("select count(*) from logs where type = 5").fetchone()[0]
    assert tests == 2
