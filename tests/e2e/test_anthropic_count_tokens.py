"""`POST /v1/messages/count_tokens` with the `anthropic` SDK on an Anthropic channel: the channel counts it (the
client's body with the mapped model, the channel's key), nothing is billed or logged."""

from __future__ import annotations

import anthropic
import orjson
import pytest
from aiohttp import web

from store import Database
from tests.e2e.harness import Gateway, account_on, add_account, balances, logs
from tests.e2e.mock_providers import ProviderMock, json_response
from tests.e2e.mock_upstream import Recorded
from tests.e2e.weather_upstream import ASK

CLAUDE = "claude-sonnet-4-5"


async def _count(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"input_tokens": 4242})


async def test_count_tokens_on_an_anthropic_channel_is_the_channels_own(gateway: Gateway, db: Database,
                                                                        mock: ProviderMock) -> None:
    mock.route("POST", "/v1/messages/count_tokens", _count)
    acct = await account_on(db, gateway, mock.url, type=14, key="sk-channel-key", models="claude-x",
                            model_mapping=orjson.dumps({"claude-x": CLAUDE}).decode())
    before = await balances(db, acct)
    async with anthropic.AsyncAnthropic(api_key=acct.key, base_url=gateway.url, max_retries=0) as client:
        counted = await client.messages.count_tokens(model="claude-x", messages=ASK,  # type: ignore[arg-type]
                                                     system="Be brief.")
        assert counted.input_tokens == 4242 and not mock.failures
        [sent] = mock.requests
        assert sent.headers["x-api-key"] == "sk-channel-key" and "Authorization" not in sent.headers
        assert sent.headers["anthropic-version"]   # the SDK's own, passed along
        assert sent.json() == {"model": CLAUDE, "messages": ASK, "system": "Be brief."}
    limited = await add_account(db, username="limited", models="gpt-4o-mini")
    async with anthropic.AsyncAnthropic(api_key=limited.key, base_url=gateway.url, max_retries=0) as client:
        with pytest.raises(anthropic.PermissionDeniedError):   # a model outside the token's list: refused here
            await client.messages.count_tokens(model="claude-x", messages=ASK)  # type: ignore[arg-type]
    assert len(mock.requests) == 1
    await gateway.flush()
    assert await logs(db) == [] and (await balances(db, acct))["token_remain"] == before["token_remain"]

