"""The node's change counter: admin_api bumps it after a write that recorded change events, and a proxy
worker's caches read those events at the start of the next request instead of at the next poll."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from admin_api import create_app
from admin_api.settle_wait import settle_wait
from proxy.gateway.cache import Caches
from settings import load_settings
from store import DEFAULT_OPTIONS, Database
from store.change_counter import ChangeCounter
from store.models import USER_DISABLED
from tests.cluster.test_nodes import ACCESS_TOKEN, _seed_root
from tests.e2e.harness import add_account

ADMIN = {"Authorization": ACCESS_TOKEN}


def test_a_balance_set_waits_for_the_deltas_the_proxies_hold() -> None:
    """The proxies write deltas at most one settle interval after the request; the flush itself needs a moment."""
    assert settle_wait(load_settings({}, [])) == pytest.approx(0.4)
    assert settle_wait(load_settings({"BATCH_UPDATE_ENABLED": "true", "BATCH_UPDATE_INTERVAL": "1"}, [])) == 1.2
    assert settle_wait(load_settings({"BATCH_UPDATE_ENABLED": "true"}, [])) == 1.5     # 5 s batches: capped


def test_a_bump_is_seen_through_every_mapping_of_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "changes")
    admin, worker = ChangeCounter(path), ChangeCounter(path)
    assert worker.value() == 0
    assert admin.bump() == 1 and admin.bump() == 2
    assert worker.value() == 2 and worker.bump() == 3 and admin.value() == 3
    admin.close()
    worker.close()


@pytest.fixture
async def admin(db: Database, tmp_path: Path) -> AsyncIterator[tuple[TestClient, ChangeCounter]]:
    path = str(tmp_path / "changes")
    counter = ChangeCounter(path)
    settings = load_settings({"SESSION_SECRET": "s"}, []).with_(change_counter=path)
    await _seed_root(db)
    client = TestClient(TestServer(create_app(settings, db)))
    await client.start_server()
    yield client, counter
    await client.close()
    counter.close()


async def _api(client: TestClient, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    async with client.request(method, path, json=body, headers=ADMIN) as r:
        answer: dict[str, Any] = await r.json(content_type=None)
    return answer


async def test_an_admin_write_reaches_the_caches_at_the_next_request(db: Database,
                                                                     admin: tuple[TestClient, ChangeCounter]) -> None:
    client, counter = admin
    acct = await add_account(db, username="alice")
    caches = Caches(db, DEFAULT_OPTIONS, 600, poll_interval=3600, counter=counter)   # the poller never comes
    await caches.start()
    try:
        token = await caches.token(acct.key.removeprefix("sk-"))
        assert token is not None and (await caches.user(acct.user_id)).status != USER_DISABLED   # type: ignore[union-attr]

        assert (await _api(client, "GET", "/api/status"))["success"] is True
        assert (await _api(client, "GET", f"/api/user/{acct.user_id}"))["success"] is True
        assert counter.value() == 0          # reads change nothing, so no worker reads the events for them

        assert (await _api(client, "POST", "/api/user/manage", {"username": "alice", "action": "disable"}))["success"]
        assert counter.value() == 1
        await caches.token(acct.key.removeprefix("sk-"))                  # a request starts
        assert (await caches.user(acct.user_id)).status == USER_DISABLED  # type: ignore[union-attr]

        created = await _api(client, "POST", "/api/channel/", {"type": 1, "name": "new", "key": "sk-up",
                                                                "base_url": "http://127.0.0.1:9", "models": "m-new",
                                                                "group": "default"})
        assert created["success"] is True and counter.value() == 2
        assert caches.index.candidates("default", "m-new") == []
        await caches.token(acct.key.removeprefix("sk-"))
        [channel] = caches.index.candidates("default", "m-new")
        assert channel.name == "new"

        assert (await _api(client, "PUT", "/api/channel/", {"id": channel.id, "status": 2}))["success"] is True
        await caches.token(acct.key.removeprefix("sk-"))
        assert caches.index.candidates("default", "m-new") == [] and counter.value() == 3
    finally:
        await caches.stop()
