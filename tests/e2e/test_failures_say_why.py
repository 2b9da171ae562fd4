"""Issue #18 items 4 and 5 through the real gateway: failures say why, to the right person.

The operator reads one warning line per upstream failure; a token refused for its expiry or quota gets One API's
status in the database; an unknown model is OpenAI's 404 in each route's dialect, a model whose channels are all
down is 503; messages follow LANGUAGE; every answer carries X-Oneapi-Request-Id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from proxy.gateway import messages
from settings import load_settings
from store import Database
from store.models import TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, Token
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
REQUEST_ID = "X-Oneapi-Request-Id"


@pytest.fixture(autouse=True)
def _chinese_after() -> AsyncIterator[None]:
    """The language is the process's: a gateway made with LANGUAGE=en must not leak it into later tests."""
    yield
    messages.use("zh")


async def _call(gw: Gateway, path: str, key: str = "", body: Any = BODY, method: str = "POST",
                headers: dict[str, str] | None = None) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    sent = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as http, http.request(method, gw.url + path, json=body if method == "POST" else None,
                                                             headers={**sent, **(headers or {})}) as r:
        raw = await r.read()
        try:
            payload: Any = await r.json(content_type=None)
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        return r.status, payload, r.headers


async def _token_status(db: Database, token_id: int) -> int:
    async with db.session() as s:
        token = await s.get(Token, token_id)
        assert token is not None
        return token.status


async def test_an_upstream_failure_is_one_warning_line_naming_channel_status_and_message(
        gateway: Gateway, upstream: MockOpenAI, db: Database, caplog: pytest.LogCaptureFixture) -> None:
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url, name="openai-main", key="sk-upstream-secret-key-123")
    await gateway.reload()
    upstream.script.status = 401
    upstream.script.error_body = (b'{"error":{"message":"Incorrect API key provided: sk-upstream-secret-key-123",'
                                  b'"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}')
    with caplog.at_level(logging.WARNING, logger="proxy.addons.health"):
        status, _, headers = await _call(gateway, "/v1/chat/completions", acct.key)
    assert status == 401 and headers[REQUEST_ID]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("upstream error:")]
    assert len(lines) == 1, lines
    line = lines[0]
    assert f"channel #{cid} (openai-main) answered 401 for model gpt-4o-mini" in line
    assert "Incorrect API key provided" in line and headers[REQUEST_ID] in line
    assert "sk-upstream-secret-key-123" not in line   # never the key


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_a_token_refused_as_expired_or_exhausted_gets_one_apis_status(
        gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    await add_channel(db, base_url=upstream.url)
    expired = await add_account(db, username="old", expired_time=int(time.time()) - 60)
    exhausted = await add_account(db, username="poor", token_quota=0)
    renewed = await add_account(db, username="fine")
    await gateway.reload()
    status, body, _ = await _call(gateway, "/v1/chat/completions", expired.key)
    assert status == 401 and body["error"]["message"].startswith("该令牌已过期")
    status, body, _ = await _call(gateway, "/v1/chat/completions", exhausted.key)
    assert status == 401 and body["error"]["message"].startswith("该令牌额度已用尽")
    # the console reads the reason from the row (as after One API's ValidateUserToken)
    assert await _token_status(db, expired.token_id) == TOKEN_EXPIRED
    assert await _token_status(db, exhausted.token_id) == TOKEN_EXHAUSTED
    assert await _token_status(db, renewed.token_id) == TOKEN_ENABLED
    # the worker's cache dropped the stale record: the next refusal reads the written status
    status, body, _ = await _call(gateway, "/v1/chat/completions", exhausted.key)
    assert status == 401 and body["error"]["message"].startswith("令牌 poor-key（#")
    assert upstream.requests == []


async def test_an_unknown_model_is_404_model_not_found_and_the_sdk_does_not_retry(
        gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    client = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=acct.key)   # the SDK's default retries
    with pytest.raises(openai.NotFoundError) as info:   # a 404 the SDK does not retry (a 503 it retries twice)
        await client.chat.completions.create(model="gpt-nope", messages=[{"role": "user", "content": "x"}])
    assert info.value.status_code == 404 and info.value.code == "model_not_found"
    error = info.value.body
    assert error["type"] == "invalid_request_error" and error["param"] == "model" and "gpt-nope" in error["message"]


async def test_unknown_model_in_the_anthropic_and_responses_dialects(
        gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    client = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=acct.key, max_retries=0)
    with pytest.raises(anthropic.NotFoundError) as info:
        await client.messages.create(model="claude-nope", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "not_found_error"
    assert "claude-nope" in info.value.body["error"]["message"]
    status, body, _ = await _call(gateway, "/v1/responses", acct.key, {"model": "gpt-nope", "input": "hi"})
    assert status == 404 and body["error"]["code"] == "model_not_found"


async def test_a_model_whose_channels_are_all_disabled_is_503(upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url, models="gpt-4o-mini", status=2)   # manually disabled
    await add_channel(db, base_url=upstream.url, models="gpt-4o", name="other")
    gw = await Gateway(db).start()
    try:
        status, body, _ = await _call(gw, "/v1/chat/completions", acct.key)
        assert status == 503 and "无可用渠道" in body["error"]["message"]
    finally:
        await gw.close()


async def test_language_en_words_the_relays_own_errors_in_english(upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=upstream.url)
    gw = await Gateway(db, load_settings({"LANGUAGE": "en"}, [])).start()
    try:
        status, body, _ = await _call(gw, "/v1/chat/completions")
        assert status == 401 and body["error"]["message"].startswith("No API key provided")
        status, body, _ = await _call(gw, "/v1/chat/completions", acct.key, {**BODY, "model": "gpt-nope"})
        assert status == 404 and body["error"]["message"].startswith("The model `gpt-nope` does not exist")
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", data=b"{oops",
                                                              headers={"Authorization": f"Bearer {acct.key}"}) as r:
            message = (await r.json())["error"]["message"]
        assert r.status == 400 and message.startswith("The request body is not valid JSON")
        assert "Unmarshal" not in message
    finally:
        await gw.close()


async def test_every_answer_of_the_port_carries_a_request_id(gateway: Gateway, db: Database) -> None:
    """Relay errors, unknown /v1 paths, /metrics and the admin pass-through's own failure (no admin_api here)."""
    for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/nope"), ("GET", "/metrics"),
                         ("GET", "/api/status"), ("GET", "/no/such/page")):
        _, _, headers = await _call(gateway, path, method=method)
        assert len(headers.get(REQUEST_ID, "")) >= 20, (method, path, dict(headers))
