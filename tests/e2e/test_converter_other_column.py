"""One API's deprecated `other` column still configures converted channels: it fills the config key the
converter declares (`Provides.other_config`) when the channel's config leaves it unset, never over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from store import Database
from store.models import Channel
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_providers import ProviderMock, json_response
from tests.e2e.mock_upstream import Recorded

ANSWER = {"success": True, "answer": "hi", "documents": []}


@pytest.fixture
async def mock() -> AsyncIterator[ProviderMock]:
    async def ask(request: web.Request, _: Recorded) -> web.Response:
        return json_response(ANSWER)
    server = await ProviderMock().route("POST", "/api/library/ask", ask).start()
    yield server
    await server.close()


@pytest.mark.parametrize(("config", "library"), [("", "lib-from-other"),
                                                 ('{"library_id": "lib-config"}', "lib-config")])
async def test_the_other_column_fills_the_declared_config_key(gateway: Gateway, db: Database, mock: ProviderMock,
                                                              config: str, library: str) -> None:
    acct = await add_account(db)
    channel_id = await add_channel(db, base_url=mock.url, type=21, key="k", models="gpt-4o-mini", config=config)
    async with db.session() as s, s.begin():
        (await s.get(Channel, channel_id)).other = "lib-from-other"
    await gateway.reload()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"Authorization": "Bearer " + acct.key}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                          headers=headers) as resp:
        status, answer = resp.status, await resp.json()
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "hi"
    assert [orjson.loads(r.body)["libraryId"] for r in mock.requests] == [library]
