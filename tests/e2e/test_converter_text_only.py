"""Text-only converters refuse a message content list holding a non-object part with an OpenAI-style 400 (it was
an AttributeError inside the converter: a 500 "internal error"), before any upstream call, holding nothing."""

from __future__ import annotations

import aiohttp
import pytest

from store import Database
from tests.conftest import BACKENDS
from tests.e2e.harness import Gateway, add_account, add_channel, balances
from tests.e2e.mock_providers import ProviderMock


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The hold taken and given back: on every database."""
    return str(request.param)


@pytest.mark.parametrize(("ctype", "model", "key"), [(38, "deepl-zh", "k"), (17, "qwen-turbo", "k"),
                                                     (16, "chatglm_turbo", "id.secret")])
async def test_a_bare_string_part_is_a_400(gateway: Gateway, db: Database, mock: ProviderMock, ctype: int,
                                           model: str, key: str) -> None:
    acct = await add_account(db)
    channel = await add_channel(db, base_url=mock.url, type=ctype, key=key, models=model)
    await gateway.reload()
    before = await balances(db, acct, channel)
    body = {"model": model, "messages": [{"role": "user", "content": ["hello"]}]}
    headers = {"Authorization": "Bearer " + acct.key}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                          headers=headers) as resp:
        status, answer = resp.status, await resp.json()
    assert status == 400, answer
    assert answer["error"]["code"] == "convert_request_failed"
    assert "text only" in answer["error"]["message"]
    assert mock.requests == []
    await gateway.flush()
    after = await balances(db, acct, channel)
    assert (after["user_quota"], after["token_remain"]) == (before["user_quota"], before["token_remain"])
