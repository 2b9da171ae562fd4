"""The database goes away under a running gateway: relay requests get an OpenAI-style 503, never a 500."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI
from tests.outage import CuttableRelay

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def _chat(gw: Gateway, key: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=BODY, headers={"Authorization": key}) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("backend", ["mysql", "postgres"])   # SQLite is a file: it does not go away
async def test_a_database_outage_is_a_503(db: Database, upstream: MockOpenAI) -> None:
    served, unknown = await add_account(db), await add_account(db, username="bob")
    await add_channel(db, base_url=upstream.url)
    real = make_url(db.url.url)
    relay = await CuttableRelay(real.host or "127.0.0.1", real.port or 0).start()
    through = Database(relay.url_of(db.url))
    gateway = await Gateway(through).start()
    try:
        await gateway.reload()
        assert (await _chat(gateway, served.key))[0] == 200
        await relay.cut()
        for key in (served.key, unknown.key):          # a cached key (its reservation) and one never seen
            status, body = await _chat(gateway, key)
            assert status == 503, body
            assert body["error"]["code"] == "service_unavailable" and "try again later" in body["error"]["message"]
    finally:
        await relay.start()                             # back on the same port: the gateway flushes on close
        await gateway.close()
        await through.dispose()
