"""Every usage part end to end (#16): a local upstream of each family reports known cache, reasoning and tier
counts; the client's usage, the log row's breakdown and the quota charged are checked against the formula
written out in each test (prices from rules/component_prices.toml; ratio 1 = $2 per 1M tokens)."""

from __future__ import annotations

from math import ceil
from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web

from store import Database, save_option
from tests.e2e.harness import Account, Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, json_response, send_stream
from tests.e2e.mock_upstream import Recorded

ASK = [{"role": "user", "content": "hi"}]


async def _setup(db: Database, gateway: Gateway, mock: ProviderMock, ctype: int, models: str) -> Account:
    acct = await add_account(db, quota=100_000_000, token_quota=10_000_000)
    await add_channel(db, base_url=mock.url, type=ctype, key="sk-channel-key", models=models)
    await gateway.reload()
    return acct


async def _post(gateway: Gateway, path: str, key: str, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    auth = {"Authorization": f"Bearer {key}"} if headers is None else {"x-api-key": key, **headers}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + path, json=body, headers=auth) as resp:
        return resp.status, await resp.read()


async def _charged(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any], count: int = 1) -> list[Any]:
    """The log rows, after checking the token paid exactly what they say."""
    await gateway.flush()
    rows = await logs(db)
    assert len(rows) == count
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows)
    return rows


def _detail(row: Any) -> dict[str, Any]:
    detail = orjson.loads(row.usage_detail)
    assert isinstance(detail, dict)
    return detail


def _sse(*objects: dict[str, Any]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(o) + b"\n\n" for o in objects) + b"data: [DONE]\n\n"


# ---------------------------------------------------------------- OpenAI chat, streamed (bytes pass through)

GPT_USAGE = {"prompt_tokens": 120_000, "completion_tokens": 4_000, "total_tokens": 124_000,
             "prompt_tokens_details": {"cached_tokens": 100_000},
             "completion_tokens_details": {"reasoning_tokens": 3_000}}


async def _openai_stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-5.4"}
    data = _sse({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"},
                                      "finish_reason": None}]},
                {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {**head, "choices": [], "usage": GPT_USAGE})
    return await send_stream(request, data, "text/event-stream")


async def test_openai_chat_cached_and_reasoning_tokens(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", _openai_stream)
    acct = await _setup(db, gateway, mock, 1, "gpt-5.4")
    before = await balances(db, acct)
    status, raw = await _post(gateway, "/v1/chat/completions", acct.key, {
        "model": "gpt-5.4", "messages": ASK, "stream": True, "stream_options": {"include_usage": True}})
    assert status == 200 and not mock.failures
    assert orjson.dumps(GPT_USAGE) in raw                     # the client's usage: the upstream's, every part
    [row] = await _charged(gateway, db, acct, before)
    # gpt-5.4: $2.50 in, $0.25 cached, $15 out → mr 1.25, read 0.1, cr 6; cached is inside prompt_tokens
    assert row.quota == (120_000 - 100_000 + 100_000 * 0.1 + 4_000 * 6) * 1.25 == 67_500
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (120_000, 4_000, "upstream")
    detail = _detail(row)
    assert detail["usage"] == {"cached": 100_000, "reasoning": 3_000}
    assert detail["parts"]["cache_read"] == {"tokens": 100_000, "ratio": 0.1, "usd_per_mtok": 0.25, "quota": 12_500.0}
    assert detail["parts"]["input"]["tokens"] == 20_000 and detail["model_ratio"] == 1.25


async def test_claude_code_on_an_openai_channel_sees_cache_reads_in_anthropic_shape(
        gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", _openai_stream)
    acct = await _setup(db, gateway, mock, 1, "gpt-5.4")
    before = await balances(db, acct)
    client = anthropic.AsyncAnthropic(api_key=acct.key, base_url=gateway.url, max_retries=0)
    try:
        async with client.messages.stream(model="gpt-5.4", max_tokens=256, messages=ASK) as stream:
            final = await stream.get_final_message()
    finally:
        await client.close()
    # Anthropic's input_tokens excludes the cache: 120,000 prompt of which 100,000 read from it
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens, final.usage.output_tokens) == (
        20_000, 100_000, 4_000)
    [row] = await _charged(gateway, db, acct, before)
    assert row.quota == (20_000 + 100_000 * 0.1 + 4_000 * 6) * 1.25 == 67_500


# ---------------------------------------------------------------- Responses pass-through

RESPONSES_USAGE = {"input_tokens": 5_000, "input_tokens_details": {"cached_tokens": 4_000},
                   "output_tokens": 300, "output_tokens_details": {"reasoning_tokens": 200}, "total_tokens": 5_300}


RESPONSE = {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-5.4",
            "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hi"}]}],
            "usage": RESPONSES_USAGE}


async def _responses(request: web.Request, rec: Recorded) -> web.StreamResponse:
    if not rec.json().get("stream"):
        return json_response(RESPONSE)
    events = [("response.created", {"type": "response.created", "response": {**RESPONSE, "status": "in_progress",
                                                                             "usage": None}}),
              ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hi"}),
              ("response.completed", {"type": "response.completed", "response": RESPONSE})]
    data = b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(obj)) for name, obj in events)
    return await send_stream(request, data, "text/event-stream")


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_input_and_output_details(gateway: Gateway, db: Database, mock: ProviderMock,
                                                  stream: bool) -> None:
    mock.route("POST", "/v1/responses", _responses)
    acct = await _setup(db, gateway, mock, 1, "gpt-5.4")
    before = await balances(db, acct)
    status, raw = await _post(gateway, "/v1/responses", acct.key, {"model": "gpt-5.4", "input": "hi", "stream": stream})
    assert status == 200
    assert (orjson.dumps(RESPONSE) in raw) if stream else (orjson.loads(raw)["usage"] == RESPONSES_USAGE)
    [row] = await _charged(gateway, db, acct, before)
    assert row.quota == (5_000 - 4_000 + 4_000 * 0.1 + 300 * 6) * 1.25 == 4_000
    assert _detail(row)["usage"] == {"cached": 4_000, "reasoning": 200}


# ---------------------------------------------------------------- Anthropic channel: a Claude Code turn

CLAUDE = "claude-sonnet-4-6"
START_USAGE = {"input_tokens": 1_200, "cache_read_input_tokens": 48_000, "cache_creation_input_tokens": 2_500,
               "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2_500},
               "output_tokens": 1}
CLAUDE_STREAM = b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(data)) for name, data in [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": CLAUDE, "content": [], "stop_reason": None,
        "usage": START_USAGE}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    # cumulative: the cache counts again, the output now final
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {**START_USAGE, "output_tokens": 800}}),
    ("message_stop", {"type": "message_stop"}),
])
CLAUDE_ANSWER = {"id": "msg_2", "type": "message", "role": "assistant", "model": CLAUDE,
                 "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn", "stop_sequence": None,
                 "usage": {**START_USAGE, "output_tokens": 800}}
# prices-2026 §9.1: $3 in, $0.30 read, $6 1h write, $15 out → mr 1.5, read 0.1, 1h 2, cr 5; cache beside input
CLAUDE_QUOTA = (1_200 + 48_000 * 0.1 + 2_500 * 2 + 800 * 5) * 1.5


async def _anthropic(request: web.Request, rec: Recorded) -> web.StreamResponse:
    if rec.json().get("stream"):
        return await send_stream(request, CLAUDE_STREAM, "text/event-stream")
    return json_response(CLAUDE_ANSWER)


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)   # the breakdown on each database
async def test_claude_code_turn_on_an_anthropic_channel(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/messages", _anthropic)
    acct = await _setup(db, gateway, mock, 14, CLAUDE)
    before = await balances(db, acct)
    # max_tokens large enough that the hold covers the charge: the test server cancels a handler whose client
    # left (handler_cancellation, unlike `one-api`), which would cut a top-up the SQL ledgers await after the end
    status, raw = await _post(gateway, "/v1/messages", acct.key, {
        "model": CLAUDE, "max_tokens": 4096, "messages": ASK, "stream": True}, {"anthropic-version": "2023-06-01"})
    assert status == 200 and raw == CLAUDE_STREAM and not mock.failures      # the upstream's bytes, unchanged
    [row] = await _charged(gateway, db, acct, before)
    assert row.quota == CLAUDE_QUOTA == 22_500                                 # $0.045, the list price
    assert (row.prompt_tokens, row.completion_tokens) == (51_700, 800)
    detail = _detail(row)
    assert detail["usage"] == {"cached": 48_000, "cache_write_1h": 2_500}
    assert {k: (v["tokens"], v["usd_per_mtok"]) for k, v in detail["parts"].items()} == {
        "input": (1_200, 3.0), "cache_read": (48_000, 0.3), "cache_write_1h": (2_500, 6.0), "output": (800, 15.0)}


async def test_openai_client_on_an_anthropic_channel_gets_every_part(gateway: Gateway, db: Database,
                                                                     mock: ProviderMock) -> None:
    mock.route("POST", "/v1/messages", _anthropic)
    acct = await _setup(db, gateway, mock, 14, CLAUDE)
    before = await balances(db, acct)
    status, raw = await _post(gateway, "/v1/chat/completions", acct.key, {"model": CLAUDE, "messages": ASK})
    assert status == 200, raw
    assert orjson.loads(raw)["usage"] == {
        "prompt_tokens": 51_700, "completion_tokens": 800, "total_tokens": 52_500,
        "prompt_tokens_details": {"cached_tokens": 48_000, "cache_write_tokens": 2_500, "cache_creation": {
            "ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2_500}}}
    [row] = await _charged(gateway, db, acct, before)
    assert row.quota == CLAUDE_QUOTA


# ---------------------------------------------------------------- Gemini channel: thoughts, cache, the long tier

GEMINI = "gemini-2.5-pro"


def _gemini_usage(rec: Recorded) -> dict[str, int]:
    text = rec.json()["contents"][0]["parts"][0]["text"]
    if text == "long":
        return {"promptTokenCount": 250_000, "candidatesTokenCount": 1_000, "totalTokenCount": 251_000}
    return {"promptTokenCount": 10_000, "cachedContentTokenCount": 8_000, "candidatesTokenCount": 100,
            "thoughtsTokenCount": 400, "totalTokenCount": 10_500}


async def _gemini(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]},
                                          "finishReason": "STOP", "index": 0}],
                          "usageMetadata": _gemini_usage(rec), "modelVersion": GEMINI})


async def test_gemini_thoughts_cache_and_long_context_tier(gateway: Gateway, db: Database,
                                                           mock: ProviderMock) -> None:
    mock.route("POST", f"/v1beta/models/{GEMINI}:generateContent", _gemini)
    acct = await _setup(db, gateway, mock, 24, GEMINI)
    before = await balances(db, acct)
    status, raw = await _post(gateway, "/v1/chat/completions", acct.key, {"model": GEMINI, "messages": ASK})
    assert status == 200 and not mock.failures
    # thoughts are billed as output and reported inside completion_tokens; the cache inside prompt_tokens
    assert orjson.loads(raw)["usage"] == {"prompt_tokens": 10_000, "completion_tokens": 500, "total_tokens": 10_500,
                                          "prompt_tokens_details": {"cached_tokens": 8_000},
                                          "completion_tokens_details": {"reasoning_tokens": 400}}
    status, _ = await _post(gateway, "/v1/chat/completions", acct.key,
                            {"model": GEMINI, "messages": [{"role": "user", "content": "long"}]})
    assert status == 200
    short, long = await _charged(gateway, db, acct, before, count=2)
    # gemini-2.5-pro: $1.25 in, $0.125 cached, $10 out → mr 0.625, read 0.1, cr 8
    assert short.quota == (2_000 + 8_000 * 0.1 + 500 * 8) * 0.625 == 4_250
    # above 200K the whole request: $2.50 in (2×), $15 out (1.5×)
    assert long.quota == (250_000 * 2 + 1_000 * 8 * 1.5) * 0.625 == 320_000
    assert _detail(long)["tier"] == {"above": 200_000, "input": 2.0, "output": 1.5}
    assert _detail(long)["parts"]["input"]["usd_per_mtok"] == 2.5


# ---------------------------------------------------------------- DeepSeek: hit + miss = prompt

async def _deepseek(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"id": "x", "object": "chat.completion", "created": 1, "model": "deepseek-chat",
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                       "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 1_000, "completion_tokens": 100, "total_tokens": 1_100,
                                    "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200}})


async def test_deepseek_cache_hits(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", _deepseek)
    acct = await _setup(db, gateway, mock, 36, "deepseek-chat")
    before = await balances(db, acct)
    status, raw = await _post(gateway, "/v1/chat/completions", acct.key, {"model": "deepseek-chat", "messages": ASK})
    assert status == 200 and orjson.loads(raw)["usage"]["prompt_cache_hit_tokens"] == 800
    [row] = await _charged(gateway, db, acct, before)
    # One API's deepseek-chat ratio 0.07 and completion ratio 2; a hit is 0.1 of a miss (¥0.2 / ¥2)
    assert row.quota == ceil((200 + 800 * 0.1 + 100 * 2) * 0.07) == 34
    assert _detail(row)["usage"] == {"cached": 800}


# ---------------------------------------------------------------- an existing One API database's own ratios

async def _plain(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                                       "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 1_111, "completion_tokens": 333, "total_tokens": 1_444}})


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_custom_one_api_ratios_charge_as_before(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    async with db.session() as s:
        await save_option(s, "ModelRatio", '{"gpt-4o-mini":0.37,"gpt-4o":2.5}')
    async with db.session() as s:
        await save_option(s, "CompletionRatio", '{"gpt-4o-mini":2.9}')
    await gateway.runtime.caches.reload_options()
    mock.route("POST", "/v1/chat/completions", _plain)
    acct = await _setup(db, gateway, mock, 1, "gpt-4o-mini")
    before = await balances(db, acct)
    status, _ = await _post(gateway, "/v1/chat/completions", acct.key, {"model": "gpt-4o-mini", "messages": ASK})
    assert status == 200
    [row] = await _charged(gateway, db, acct, before)
    assert row.quota == ceil((1_111 + 333 * 2.9) * 0.37) == 769    # One API's formula, its options' ratios
    assert "priced_as_input_or_output" not in _detail(row) and "usage" not in _detail(row)
