"""The database goes away under a running admin_api: 503 {success:false, message}, never a 500."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from admin_api import create_app
from store import Database
from store.outage import UNAVAILABLE
from tests.outage import CuttableRelay

from .conftest import PASSWORD, make_settings


@pytest.mark.parametrize("backend", ["mysql", "postgres"])   # SQLite is a file: it does not go away
async def test_a_database_outage_is_a_503(api) -> None:
    real = make_url(api.db.url.url)
    relay = await CuttableRelay(real.host or "127.0.0.1", real.port or 0).start()
    through = Database(relay.url_of(api.db.url))
    server = TestServer(create_app(make_settings(), through))
    await server.start_server()
    client = TestClient(server)
    alice = {"Authorization": api.people["alice"].access_token}
    try:
        async with client.get("/api/user/self", headers=alice) as r:
            assert r.status == 200 and (await r.json())["success"] is True
        await relay.cut()
        for method, path, kw in (("GET", "/api/user/self", {"headers": alice}),
                                 ("POST", "/api/user/login", {"json": {"username": "alice", "password": PASSWORD}}),
                                 ("GET", "/api/token/?p=0", {"headers": alice})):
            async with client.request(method, path, **kw) as r:
                assert (r.status, await r.json()) == (503, {"success": False, "message": UNAVAILABLE}), path
    finally:
        await relay.start()
        await client.close()
        await server.close()
        await through.dispose()
