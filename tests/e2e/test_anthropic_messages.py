"""`POST /v1/messages` end to end with the `anthropic` SDK: an OpenAI-compatible channel and a Gemini channel
behind the gateway, a tool round trip created and streamed, errors raised as the SDK's classes, and the money
(quota before and after, the log row) of each answer."""

from __future__ import annotations

from math import ceil
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web

from rules import load_prices
from store import Database
from tests.e2e.harness import Account, Gateway, account_on, add_account, add_channel, balances, logs, set_options
from tests.e2e.mock_providers import ProviderMock, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.sdk_clients import anthropic_client
from tests.e2e.weather_upstream import ANTHROPIC_TOOL as TOOL
from tests.e2e.weather_upstream import ASK, MODEL, chunk, openai_chat, upstream_exploded


async def _setup(db: Database, gateway: Gateway, mock: ProviderMock, ctype: int = 1, models: str = MODEL,
                 **account: Any) -> Account:
    acct = await add_account(db, **account)
    await add_channel(db, base_url=mock.url, type=ctype, key="sk-channel-key", models=models)
    await gateway.reload()
    return acct


def _second_turn(first: anthropic.types.Message) -> list[dict[str, Any]]:
    [call] = [b for b in first.content if b.type == "tool_use"]
    return [*ASK, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21"}]}]


async def _billed(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any],
                  usages: list[tuple[int, int]], stream: bool, ctype: int = 1, model: str = MODEL,
                  quotas: list[float] | None = None) -> None:
    """Each answer has its log row with the upstream's usage, and the token paid exactly their price (`quotas`
    when the answer had priced parts, else One API's formula)."""
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens) for r in rows] == usages
    prices = load_prices()
    expected = quotas or [prices.quota_for(p, c, model, ctype, "default") for p, c in usages]
    for row, quota in zip(rows, expected, strict=True):
        assert row.model_name == model and row.usage_source == "upstream" and bool(row.is_stream) is stream
        assert row.quota == quota > 0
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows)


async def test_create_with_a_tool_round_trip_on_an_openai_channel(gateway: Gateway, db: Database,
                                                                   mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await _setup(db, gateway, mock)
    before = await balances(db, acct)
    client = anthropic_client(gateway, acct.key)
    first = await client.messages.create(model=MODEL, max_tokens=256, messages=ASK, tools=[TOOL])
    assert first.stop_reason == "tool_use" and first.model == MODEL
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert (first.usage.input_tokens, first.usage.output_tokens) == (30, 9)
    second = await client.messages.create(model=MODEL, max_tokens=256, messages=_second_turn(first), tools=[TOOL])
    assert second.stop_reason == "end_turn" and second.content[0].text == "Sunny, 21 C."
    assert not mock.failures
    sent = [r for r in mock.requests]
    assert [r.path for r in sent] == ["/v1/chat/completions"] * 2 and all(not r.query for r in sent)
    assert all(r.headers["Authorization"] == "Bearer sk-channel-key" for r in sent)   # never the user's token
    assert all("x-api-key" not in {k.lower() for k in r.headers} for r in sent)
    hub = sent[1].json()
    assert hub["tools"][0]["function"]["name"] == "get_weather"
    assert hub["messages"][-1] == {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21"}
    await _billed(gateway, db, acct, before, [(30, 9), (40, 6)], stream=False)


async def test_stream_with_a_tool_round_trip_and_bearer_auth(gateway: Gateway, db: Database,
                                                              mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await _setup(db, gateway, mock)
    before = await balances(db, acct)
    client = anthropic_client(gateway, acct.key, bearer=True)
    async with client.messages.stream(model=MODEL, max_tokens=256, messages=ASK, tools=[TOOL]) as stream:
        first = await stream.get_final_message()
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (first.stop_reason, call.input) == ("tool_use", {"city": "Paris"})
    async with client.messages.stream(model=MODEL, max_tokens=256, messages=_second_turn(first),
                                      tools=[TOOL]) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        second = await stream.get_final_message()
    assert text == "Sunny, 21 C." and second.stop_reason == "end_turn"
    assert second.usage.output_tokens == 6
    assert all(r.json()["stream_options"] == {"include_usage": True} for r in mock.requests)
    await _billed(gateway, db, acct, before, [(30, 9), (40, 6)], stream=True)


async def test_raw_stream_events_are_named(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    """Claude Code ignores events without an `event:` line: every event is named, and the query is accepted."""
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await _setup(db, gateway, mock)
    body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/messages?beta=true", json=body,
                                                          headers={"x-api-key": acct.key}) as resp:
        raw = await resp.read()
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    events = [e for e in raw.split(b"\n\n") if e.strip()]
    names = [e.split(b"\n")[0] for e in events]
    assert names[0] == b"event: message_start" and names[-1] == b"event: message_stop"
    assert all(n.startswith(b"event: ") for n in names)


GEMINI_MODEL = "gemini-2.0-flash"


def _gemini_answer(payload: dict[str, Any]) -> dict[str, Any]:
    replied = any("functionResponse" in p for c in payload["contents"] for p in c.get("parts", []))
    part = {"text": "Sunny, 21 C."} if replied else {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    usage = {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46} if replied else \
        {"promptTokenCount": 30, "candidatesTokenCount": 9, "totalTokenCount": 39}
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": GEMINI_MODEL}


async def _gemini_generate(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response(_gemini_answer(rec.json()))


async def _gemini_stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    data = b"data: " + orjson.dumps(_gemini_answer(rec.json())) + b"\r\n\r\n"
    return await send_stream(request, data, "text/event-stream")


async def test_a_converter_family_gemini(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    """Anthropic client → hub → Gemini and back, whole and streamed, billed from Gemini's usage."""
    base = f"/v1beta/models/{GEMINI_MODEL}"
    mock.route("POST", f"{base}:generateContent", _gemini_generate)
    mock.route("POST", f"{base}:streamGenerateContent", _gemini_stream)
    acct = await _setup(db, gateway, mock, ctype=24, models=GEMINI_MODEL)
    before = await balances(db, acct)
    client = anthropic_client(gateway, acct.key)
    first = await client.messages.create(model=GEMINI_MODEL, max_tokens=256, messages=ASK, tools=[TOOL])
    [call] = [b for b in first.content if b.type == "tool_use"]
    assert (first.stop_reason, call.input) == ("tool_use", {"city": "Paris"})
    async with client.messages.stream(model=GEMINI_MODEL, max_tokens=256, messages=_second_turn(first),
                                      tools=[TOOL]) as stream:
        second = await stream.get_final_message()
    assert second.content[0].text == "Sunny, 21 C." and second.stop_reason == "end_turn"
    assert not mock.failures
    assert mock.requests[0].headers.get("x-goog-api-key") == "sk-channel-key"
    tool_turn = mock.requests[1].json()["contents"][-1]["parts"][0]["functionResponse"]
    assert tool_turn["name"] == "get_weather"
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens, bool(r.is_stream)) for r in rows] == [(30, 9, False),
                                                                                       (40, 6, True)]
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0


async def test_errors_in_anthropic_shape(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", upstream_exploded)
    acct = await _setup(db, gateway, mock)
    other = await add_account(db, username="bob", models="some-other-model")
    before = await balances(db, acct)
    ask = {"max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(anthropic.AuthenticationError) as auth:
        await anthropic_client(gateway, "sk-not-a-key").messages.create(model=MODEL, **ask)
    assert auth.value.status_code == 401 and auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError):   # the token may not use this model
        await anthropic_client(gateway, other.key).messages.create(model=MODEL, **ask)
    with pytest.raises(anthropic.NotFoundError) as none:   # 404: no channel serves the model
        await anthropic_client(gateway, acct.key).messages.create(model="no-such-model", **ask)
    assert none.value.status_code == 404 and none.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as refused:   # a server tool the hub cannot carry
        await anthropic_client(gateway, acct.key).messages.create(
            model=MODEL, tools=[{"type": "web_search_20250305", "name": "web_search"}], **ask)  # type: ignore[list-item]
    assert refused.value.body["error"]["type"] == "invalid_request_error"   # type: ignore[index]
    assert mock.requests == []   # none of these reached the upstream
    with pytest.raises(anthropic.InternalServerError) as upstream:
        await anthropic_client(gateway, acct.key).messages.create(model=MODEL, **ask)
    assert upstream.value.status_code == 500 and "upstream exploded" in upstream.value.message
    assert upstream.value.body["type"] == "error"   # type: ignore[index]
    await gateway.flush()
    assert await balances(db, acct) == {**before, "requests": (await balances(db, acct))["requests"]}


async def test_a_stream_cut_mid_way_ends_with_an_error_event(gateway: Gateway, db: Database,
                                                               mock: ProviderMock) -> None:
    async def cut(request: web.Request, rec: Recorded) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(chunk({"role": "assistant", "content": "Hel"}))
        assert request.transport is not None
        request.transport.abort()
        return response

    mock.route("POST", "/v1/chat/completions", cut)
    acct = await _setup(db, gateway, mock)
    body = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/messages", json=body,
                                                          headers={"x-api-key": acct.key}) as resp:
        raw = await resp.read()
    events = [e for e in raw.split(b"\n\n") if e.strip()]
    assert events[0].startswith(b"event: message_start")
    assert events[-1].startswith(b"event: error\ndata: ")
    assert orjson.loads(events[-1].split(b"data: ", 1)[1])["type"] == "error"


# ---------------------------------------------------------------- Anthropic channel: bytes pass through

CLAUDE = "claude-sonnet-4-5"
ANTHROPIC_ANSWER = orjson.dumps({
    "id": "msg_01", "type": "message", "role": "assistant", "model": CLAUDE, "content": [{"type": "text", "text": "Hi!"}],
    "stop_reason": "end_turn", "stop_sequence": None, "future_field": {"kept": True},
    "usage": {"input_tokens": 12, "output_tokens": 5, "cache_read_input_tokens": 100,
              "cache_creation_input_tokens": 20}})
ANTHROPIC_STREAM = b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(data)) for name, data in [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_02", "type": "message", "role": "assistant", "model": CLAUDE, "content": [], "stop_reason": None,
        "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 100,
                  "cache_creation_input_tokens": 20}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": "hmm"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "signature_delta", "signature": "EqQBCkYIBxgCKkD"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi!"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 7}}),
    ("message_stop", {"type": "message_stop"}),
])
# what Claude Code sends and the hub cannot carry: a server tool, thinking with a signature, cache_control
CLAUDE_CODE_BODY = orjson.dumps({
    "model": CLAUDE, "max_tokens": 1024, "thinking": {"type": "adaptive"}, "context_management": {"edits": []},
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
    "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    "messages": [{"role": "user", "content": "hi"},
                 {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": "sig=="},
                                                   {"type": "text", "text": "hello"}]},
                 {"role": "user", "content": [{"type": "text", "text": "again", "cache_control": {"type": "ephemeral"}}]}],
}, option=orjson.OPT_INDENT_2)   # indented: any re-encoding would show


async def _anthropic(request: web.Request, rec: Recorded) -> web.StreamResponse:
    if rec.json().get("stream"):
        return await send_stream(request, ANTHROPIC_STREAM, "text/event-stream")
    return web.Response(body=ANTHROPIC_ANSWER, content_type="application/json")


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_channel_passes_bytes_through(gateway: Gateway, db: Database, mock: ProviderMock,
                                                      stream: bool) -> None:
    mock.route("POST", "/v1/messages", _anthropic)
    acct = await _setup(db, gateway, mock, ctype=14, models=CLAUDE)
    before = await balances(db, acct)
    body = CLAUDE_CODE_BODY.replace(b'"max_tokens": 1024', b'"max_tokens": 1024,\n  "stream": true') if stream \
        else CLAUDE_CODE_BODY
    headers = {"x-api-key": acct.key, "anthropic-version": "2023-06-01", "Content-Type": "application/json",
               "anthropic-beta": "claude-code-20250219,context-management-2025-06-27"}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/messages?beta=true", data=body,
                                                          headers=headers) as resp:
        raw = await resp.read()
    assert resp.status == 200 and not mock.failures
    assert raw == (ANTHROPIC_STREAM if stream else ANTHROPIC_ANSWER)   # the upstream's bytes, unchanged
    [sent] = mock.requests
    assert sent.body == body and sent.query == "beta=true"              # the client's bytes, unchanged
    assert sent.headers["x-api-key"] == "sk-channel-key" and "Authorization" not in sent.headers
    assert sent.headers["anthropic-beta"] == headers["anthropic-beta"]
    assert sent.headers["anthropic-version"] == "2023-06-01"
    # billed from Anthropic's own usage, each part at its price: claude-sonnet-4-5 at $3 in (mr 1.5), reads 0.1,
    # 5-minute writes 1.25 (no split reported: every write a 5-minute one), output 5
    output = 7 if stream else 5
    await _billed(gateway, db, acct, before, [(132, output)], stream=stream, ctype=14, model=CLAUDE,
                  quotas=[ceil((12 + 100 * 0.1 + 20 * 1.25 + output * 5) * 1.5)])


async def test_anthropic_channel_with_the_sdk_and_a_mapped_model(gateway: Gateway, db: Database,
                                                                  mock: ProviderMock) -> None:
    """The model is the one field that changes (mapped); the SDK reads the passed-through answer and stream."""
    mock.route("POST", "/v1/messages", _anthropic)
    acct = await account_on(db, gateway, mock.url, type=14, key="sk-channel-key", models="claude-x",
                            model_mapping=orjson.dumps({"claude-x": CLAUDE}).decode())
    client = anthropic_client(gateway, acct.key)
    answer = await client.messages.create(model="claude-x", max_tokens=64, messages=ASK)
    assert answer.content[0].text == "Hi!" and answer.usage.cache_read_input_tokens == 100
    async with client.messages.stream(model="claude-x", max_tokens=64, messages=ASK) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"] and final.usage.output_tokens == 7
    assert [r.json()["model"] for r in mock.requests] == [CLAUDE, CLAUDE]
    assert mock.requests[0].json()["messages"] == ASK


# ---------------------------------------------------------------- count_tokens

async def test_count_tokens_locally_for_every_channel(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    acct = await _setup(db, gateway, mock)
    before = await balances(db, acct)
    client = anthropic_client(gateway, acct.key)
    short = await client.messages.count_tokens(model=MODEL, messages=ASK)
    with_tool = await client.messages.count_tokens(model=MODEL, messages=ASK, tools=[TOOL], system="Be brief.")
    server_tool = await client.messages.count_tokens(   # the hub cannot carry it: counted as text
        model=MODEL, messages=ASK, tools=[{"type": "web_search_20250305", "name": "web_search"}])  # type: ignore[list-item]
    assert 0 < short.input_tokens < with_tool.input_tokens and server_tool.input_tokens > short.input_tokens
    with pytest.raises(anthropic.AuthenticationError):
        await anthropic_client(gateway, "sk-not-a-key").messages.count_tokens(model=MODEL, messages=ASK)
    with pytest.raises(anthropic.BadRequestError) as bad:
        await client.messages.count_tokens(model="", messages=ASK)
    assert bad.value.body["error"]["type"] == "invalid_request_error"   # type: ignore[index]
    assert mock.requests == []   # no upstream, nothing billed, no log row
    await gateway.flush()
    assert await logs(db) == []
    assert (await balances(db, acct))["token_remain"] == before["token_remain"]


async def test_quota_refusal_and_a_capped_output_in_anthropic_terms(gateway: Gateway, db: Database,
                                                                     mock: ProviderMock) -> None:
    """A user with nothing left is refused in Anthropic's shape; one who affords a few tokens gets them, the cap
    written into the passed-through request's own max_tokens."""
    mock.route("POST", "/v1/messages", _anthropic)
    broke = await _setup(db, gateway, mock, ctype=14, models=CLAUDE, quota=0)
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        await anthropic_client(gateway, broke.key).messages.create(model=CLAUDE, max_tokens=64, messages=ASK)
    assert refused.value.body["type"] == "error" and mock.requests == []   # type: ignore[index]
    poor = await add_account(db, username="bob", quota=20_000)
    answer = await anthropic_client(gateway, poor.key).messages.create(model=CLAUDE, max_tokens=20_000, messages=ASK)
    assert answer.content[0].text == "Hi!"
    [sent] = mock.requests
    assert 0 < sent.json()["max_tokens"] < 20_000


@pytest.mark.parametrize("stream", [False, True])
async def test_an_answer_without_usage_is_counted(gateway: Gateway, db: Database, mock: ProviderMock,
                                                  stream: bool) -> None:
    """An upstream that reports no usage: what the client received (text, tool calls) is counted and billed."""
    async def no_usage(request: web.Request, rec: Recorded) -> web.StreamResponse:
        payload = rec.json()
        if not payload.get("stream"):
            return json_response({"id": "c", "object": "chat.completion", "created": 1, "model": MODEL,
                                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                      "role": "assistant", "content": "Sunny, 21 degrees in Paris today."}}]})
        events = chunk({"role": "assistant", "content": "Sunny, 21 degrees "}) + chunk({"content": "in Paris today."})
        return await send_stream(request, events + chunk({}, "stop") + b"data: [DONE]\n\n", "text/event-stream")

    mock.route("POST", "/v1/chat/completions", no_usage)
    acct = await _setup(db, gateway, mock)
    client = anthropic_client(gateway, acct.key)
    if stream:
        async with client.messages.stream(model=MODEL, max_tokens=64, messages=ASK) as s:
            await s.get_final_message()
    else:
        await client.messages.create(model=MODEL, max_tokens=64, messages=ASK)
    await gateway.flush()
    [row] = await logs(db)
    assert row.usage_source == "counted" and row.completion_tokens == 9   # "Sunny, 21 degrees in Paris today."
    assert row.prompt_tokens > 0 and row.quota > 0


async def test_a_failed_anthropic_channel_is_retried_on_a_converted_one(gateway: Gateway, db: Database,
                                                                        mock: ProviderMock) -> None:
    """Retries cross families: the pass-through attempt fails (529), the next channel converts and serves."""
    async def overloaded(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, 529)

    mock.route("POST", "/v1/messages", overloaded).route("POST", "/v1/chat/completions", openai_chat)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=14, key="sk-ant", models=MODEL, priority=10, name="claude")
    await add_channel(db, base_url=mock.url, type=1, key="sk-oai", models=MODEL, priority=0, name="openai")
    await set_options(db, gateway, RetryTimes="1")
    async with anthropic_client(gateway, acct.key).messages.stream(model=MODEL, max_tokens=64, messages=ASK,
                                                          tools=[TOOL]) as stream:
        answer = await stream.get_final_message()
    assert answer.stop_reason == "tool_use"
    assert [r.path for r in mock.requests] == ["/v1/messages", "/v1/chat/completions"]
    assert mock.requests[0].headers["x-api-key"] == "sk-ant" and mock.requests[1].json()["stream"] is True
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (30, 9, "upstream")


async def test_a_capped_stream_that_ignores_its_cap_is_cut_at_the_balance(gateway: Gateway, db: Database,
                                                                          mock: ProviderMock) -> None:
    """An Anthropic upstream that ignores the capped max_tokens: the stream is metered as it goes and ends with
    an error event when the balance cannot pay for more; the balance never goes below zero."""
    many = [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": "lorem "}})] * 3000
    events = [("message_start", {"type": "message_start", "message": {
        "id": "m", "type": "message", "role": "assistant", "model": CLAUDE, "content": [],
        "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        *many, ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3000}}),
        ("message_stop", {"type": "message_stop"})]
    data = b"".join(b"event: %s\ndata: %s\n\n" % (n.encode(), orjson.dumps(d)) for n, d in events)

    async def greedy(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return await send_stream(request, data, "text/event-stream", piece=4096)

    mock.route("POST", "/v1/messages", greedy)
    acct = await _setup(db, gateway, mock, ctype=14, models=CLAUDE, quota=20_000)
    body = {"model": CLAUDE, "max_tokens": 8000, "stream": True, "messages": ASK}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/messages", json=body,
                                                          headers={"x-api-key": acct.key}) as resp:
        raw = await resp.read()
    assert mock.requests, raw
    assert mock.requests[0].json()["max_tokens"] < 8000              # the cap was asked for
    assert raw.count(b"lorem") < 3000                                 # and enforced when ignored
    assert raw.rstrip().rsplit(b"\n\n", 1)[-1].startswith(b"event: error\ndata: ")
    await gateway.flush()
    after = await balances(db, acct)
    assert after["user_quota"] >= 0 and after["token_remain"] >= 0
