"""`POST /v1/responses` end to end with the `openai` SDK on every channel family: OpenAI (its own Responses API,
bytes passed through), Anthropic, Gemini, DeepSeek, Azure and Bedrock Claude (converted through chat): a function tool round
trip created and streamed, what each upstream received (the channel's key, the converted tools, the tool's
output on the second turn), the log rows and the quota to the unit; errors raised as the SDK's classes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web

from rules import load_prices
from store import Database
from tests.e2e.harness import Account, Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, check_sigv4, json_response
from tests.e2e.mock_upstream import Recorded
from tests.e2e.responses_upstreams import (
    ANSWER_PREFIX,
    Handler,
    Script,
    anthropic_messages,
    bedrock,
    gemini,
    openai_chat,
    openai_responses,
    responses_answer,
    responses_object,
    responses_stream,
)
from tests.e2e.sdk_clients import openai_client
from tests.e2e.weather_upstream import ASK, WEATHER_DESCRIPTION, WEATHER_PARAMETERS

TOOL = {"type": "function", "name": "get_weather", "description": WEATHER_DESCRIPTION, "strict": False,
        "parameters": WEATHER_PARAMETERS}
KEY = "sk-channel-key"


@dataclass(frozen=True)
class Family:
    name: str
    ctype: int
    model: str
    routes: Callable[[Script, str], list[tuple[str, Handler]]]   # (path, handler) on the mock
    credential: Callable[[Recorded], None]                        # asserts the upstream got the channel's key
    tools: Callable[[dict[str, Any]], list[str]]                  # the tool names in its own format
    key: str = "sk-channel-key"


def _header(name: str, value: str) -> Callable[[Recorded], None]:
    def check(rec: Recorded) -> None:
        assert rec.headers.get(name) == value, (name, rec.headers)
    return check


AWS_AK, AWS_SK, AWS_REGION = "AKIDLOCALTEST", "local/test+secret", "us-east-1"
BEDROCK_ID = "anthropic.claude-3-5-haiku-20241022-v1:0"


FAMILIES = [
    Family("openai", 1, "gpt-4o-mini", lambda s, m: [("/v1/responses", openai_responses(s))],
           _header("Authorization", f"Bearer {KEY}"), lambda b: [t["name"] for t in b["tools"]]),
    Family("anthropic", 14, "claude-sonnet-4-5", lambda s, m: [("/v1/messages", anthropic_messages(s))],
           _header("x-api-key", KEY), lambda b: [t["name"] for t in b["tools"]]),
    Family("gemini", 24, "gemini-2.0-flash",
           lambda s, m: [(f"/v1beta/models/{m}:generateContent", gemini(s, m)),
                         (f"/v1beta/models/{m}:streamGenerateContent", gemini(s, m))],
           _header("x-goog-api-key", KEY), lambda b: [f["name"] for t in b["tools"] for f in t["functionDeclarations"]]),
    Family("deepseek", 36, "deepseek-chat", lambda s, m: [("/v1/chat/completions", openai_chat(s))],
           _header("Authorization", f"Bearer {KEY}"), lambda b: [t["function"]["name"] for t in b["tools"]]),
    Family("azure", 3, "gpt-4o-mini",
           lambda s, m: [(f"/openai/deployments/{m}/chat/completions", openai_chat(s, m))],
           _header("api-key", KEY), lambda b: [t["function"]["name"] for t in b["tools"]]),
    Family("bedrock", 33, "claude-3-5-haiku-20241022",
           lambda s, m: [(f"/model/{BEDROCK_ID}/invoke", bedrock(s)),
                         (f"/model/{BEDROCK_ID}/invoke-with-response-stream", bedrock(s))],
           lambda r: check_sigv4(r, AWS_AK, AWS_SK, AWS_REGION, "bedrock"), lambda b: [t["name"] for t in b["tools"]],
           key=f"{AWS_AK}|{AWS_SK}|{AWS_REGION}"),
]


async def _setup(db: Database, gateway: Gateway, mock: ProviderMock, family: Family, script: Script) -> Account:
    for path, handler in family.routes(script, family.model):
        mock.route("POST", path, handler)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=family.ctype, key=family.key, models=family.model)
    await gateway.reload()
    return acct


async def _billed(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any], family: Family,
                  usages: list[tuple[int, int, bool]]) -> None:
    """One log row per answer with the upstream's usage, and the token paid exactly their price."""
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens, bool(r.is_stream)) for r in rows] == usages
    prices = load_prices()
    for row, (prompt, completion, _) in zip(rows, usages, strict=True):
        assert row.model_name == family.model and row.usage_source == "upstream"
        assert row.quota == prices.quota_for(prompt, completion, family.model, family.ctype, "default") > 0
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows)


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
async def test_function_tool_round_trip(gateway: Gateway, db: Database, mock: ProviderMock, family: Family) -> None:
    """Turn 1 created (the model calls the tool), turn 2 streamed with the tool's output (text quoting it)."""
    acct = await _setup(db, gateway, mock, family, Script())
    before = await balances(db, acct)
    client = openai_client(gateway, acct.key)
    first = await client.responses.create(model=family.model, input=ASK, tools=[TOOL], store=False)  # type: ignore[arg-type]
    assert first.status == "completed"
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, orjson.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert first.usage is not None and (first.usage.input_tokens, first.usage.output_tokens) == (30, 9)
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque=="}   # as Codex echoes
    history = [*ASK, reasoning, call.model_dump(exclude_none=True),
               {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21"}]
    async with client.responses.stream(model=family.model, input=history, tools=[TOOL]) as stream:  # type: ignore[arg-type]
        text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
        second = await stream.get_final_response()
    assert text.startswith(ANSWER_PREFIX) and "sunny, 21" in text and second.output_text == text
    assert second.status == "completed" and second.usage is not None and second.usage.output_tokens == 6
    assert not mock.failures
    sent = mock.requests
    assert len(sent) == 2
    for rec in sent:
        family.credential(rec)   # the channel's own key, never the user's token
    assert all(acct.key.removeprefix("sk-") not in str(r.headers) for r in sent)
    assert family.tools(sent[0].json()) == ["get_weather"] and family.tools(sent[1].json()) == ["get_weather"]
    assert b"sunny, 21" in sent[1].body and b"sunny, 21" not in sent[0].body
    await _billed(gateway, db, acct, before, family, [(30, 9, False), (40, 6, True)])


# ---------------------------------------------------------------- OpenAI channel: bytes pass through

CODEX_LIKE = orjson.dumps({
    "model": "gpt-4o-mini", "input": [{"type": "message", "role": "developer", "content": "be brief"},
                                      {"type": "reasoning", "id": "rs_1", "summary": [],
                                       "encrypted_content": "opaque=="},
                                      {"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                                      "text": "hi"}]}],
    "tools": [TOOL, {"type": "web_search", "external_web_access": False}], "store": False,
    "include": ["reasoning.encrypted_content"], "previous_response_id": "resp_earlier", "future_field": [1, 2],
}, option=orjson.OPT_INDENT_2)   # indented: any re-encoding would show


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_channel_passes_bytes_through(gateway: Gateway, db: Database, mock: ProviderMock,
                                                   stream: bool) -> None:
    """Whatever the hub could not carry (previous_response_id, reasoning items, hosted tools, unknown fields)
    reaches an OpenAI channel as sent; the answer's bytes reach the client as the upstream sent them."""
    script = Script()
    body = orjson.loads(CODEX_LIKE)
    output, usage = responses_answer(script, body)
    answer = responses_stream(body, output, usage) if stream else orjson.dumps(
        responses_object(body, "completed", output, usage))

    async def respond(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return web.Response(body=answer, content_type="text/event-stream" if stream else "application/json")

    mock.route("POST", "/v1/responses", respond)
    family = FAMILIES[0]
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=1, key=KEY, models=family.model)
    await gateway.reload()
    before = await balances(db, acct)
    sent = CODEX_LIKE.replace(b'"store": false', b'"store": false,\n  "stream": true') if stream else CODEX_LIKE
    async with aiohttp.ClientSession() as http, http.post(
            gateway.url + "/v1/responses", data=sent, headers={"Authorization": f"Bearer {acct.key}",
                                                               "Content-Type": "application/json"}) as resp:
        got = await resp.read()
    assert resp.status == 200, got
    assert got == answer                                   # byte-exact answer
    [rec] = mock.requests
    assert rec.body == sent and rec.path == "/v1/responses"   # byte-exact request
    assert rec.headers["Authorization"] == f"Bearer {KEY}"
    await _billed(gateway, db, acct, before, family, [(30, 9, stream)])


async def test_openai_channel_gets_the_mapped_model_and_capped_limit(gateway: Gateway, db: Database,
                                                                     mock: ProviderMock) -> None:
    """Only the fields the gateway must change differ: the channel's model mapping and a capped output limit."""
    mock.route("POST", "/v1/responses", openai_responses(Script()))
    acct = await add_account(db, token_quota=2_000)
    await add_channel(db, base_url=mock.url, type=1, key=KEY, models="gpt-4o-mini",
                      model_mapping='{"gpt-4o-mini": "gpt-4o-mini-2024-07-18"}')
    await gateway.reload()
    reply = await openai_client(gateway, acct.key).responses.create(model="gpt-4o-mini", input="hi",
                                                              max_output_tokens=100_000)
    assert reply.output_text == "Hello from the upstream."
    [rec] = mock.requests
    upstream = rec.json()
    assert upstream["model"] == "gpt-4o-mini-2024-07-18" and upstream["input"] == "hi"
    assert 0 < upstream["max_output_tokens"] < 100_000     # what the token's balance pays for


# ---------------------------------------------------------------- errors

async def test_errors_in_openai_shape(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    family = FAMILIES[3]   # DeepSeek: converted
    acct = await _setup(db, gateway, mock, family, Script())
    before = await balances(db, acct)
    client = openai_client(gateway, acct.key)
    with pytest.raises(openai.AuthenticationError):
        await openai_client(gateway, "sk-not-a-key").responses.create(model=family.model, input="hi")
    with pytest.raises(openai.BadRequestError) as stateful:   # state only OpenAI holds: refused before any call
        await client.responses.create(model=family.model, input="hi", previous_response_id="resp_1")
    assert "previous_response_id" in stateful.value.message and stateful.value.status_code == 400
    with pytest.raises(openai.BadRequestError):   # a hosted tool that cannot run elsewhere
        await client.responses.create(model=family.model, input="hi",
                                      tools=[{"type": "file_search", "vector_store_ids": ["vs_1"]}])
    with pytest.raises(openai.NotFoundError) as none:   # 404 model_not_found: no channel serves the model
        await client.responses.create(model="no-such-model", input="hi")
    assert none.value.status_code == 404 and none.value.code == "model_not_found"
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/responses", data=b"{oops",
                                                          headers={"Authorization": f"Bearer {acct.key}"}) as resp:
        assert resp.status == 400 and (await resp.json())["error"]["type"] == "invalid_request_error"
    assert mock.requests == []   # none of these reached the upstream
    await gateway.flush()
    assert (await balances(db, acct))["token_remain"] == before["token_remain"]


async def test_native_upstream_errors_keep_their_class(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    async def limited(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded",
                                         "param": None}}, 429)

    mock.route("POST", "/v1/responses", limited)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=1, key=KEY, models="gpt-4o-mini")
    await gateway.reload()
    with pytest.raises(openai.RateLimitError) as err:
        await openai_client(gateway, acct.key).responses.create(model="gpt-4o-mini", input="hi")
    assert err.value.status_code == 429


async def test_a_converted_stream_cut_mid_way_fails_in_the_stream(gateway: Gateway, db: Database,
                                                                  mock: ProviderMock) -> None:
    """After the 200 an error is an event of the stream (Codex retries on `response.failed`)."""
    async def cut(request: web.Request, rec: Recorded) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "deepseek-chat",
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]}
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        assert request.transport is not None
        request.transport.abort()
        return response

    mock.route("POST", "/v1/chat/completions", cut)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=36, key=KEY, models="deepseek-chat")
    await gateway.reload()
    async with aiohttp.ClientSession() as http, http.post(
            gateway.url + "/v1/responses", json={"model": "deepseek-chat", "input": "hi", "stream": True},
            headers={"Authorization": f"Bearer {acct.key}"}) as resp:
        raw = await resp.read()
    events = [e for e in raw.split(b"\n\n") if e.strip()]
    assert resp.status == 200 and events[0].startswith(b"event: response.created\n")
    last = orjson.loads(events[-1].split(b"data: ", 1)[1])
    assert last["type"] == "response.failed" and last["response"]["status"] == "failed", raw
    assert last["response"]["id"] == orjson.loads(events[0].split(b"data: ", 1)[1])["response"]["id"]
    with pytest.raises(RuntimeError, match="response.completed"):   # the SDK's own word for a failed stream
        async with openai_client(gateway, acct.key).responses.stream(model="deepseek-chat", input="hi") as stream:
            await stream.get_final_response()


async def test_previous_response_id_goes_to_the_openai_channel_of_a_mixed_group(gateway: Gateway, db: Database,
                                                                              mock: ProviderMock) -> None:
    """Only OpenAI holds the state: the request skips a higher-priority converted channel instead of failing."""
    mock.route("POST", "/v1/responses", openai_responses(Script()))
    deepseek = await ProviderMock().start()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=deepseek.url, type=36, key="sk-deepseek", models="gpt-4o-mini", priority=10)
        await add_channel(db, base_url=mock.url, type=1, key=KEY, models="gpt-4o-mini")
        await gateway.reload()
        reply = await openai_client(gateway, acct.key).responses.create(model="gpt-4o-mini", input="and now?",
                                                                  previous_response_id="resp_earlier")
        assert reply.output_text == "Hello from the upstream."
        [rec] = mock.requests
        assert rec.json()["previous_response_id"] == "resp_earlier" and deepseek.requests == []
    finally:
        await deepseek.close()
