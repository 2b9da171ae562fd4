"""Gemini's `:streamGenerateContent` without `?alt=sse`: the stream as one JSON array (Content-Type
application/json), converted from an OpenAI channel and passed through from a Gemini channel (read as SSE
upstream), billed as the SSE form; an error after the start ends the array with an error element."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.weather_upstream import MODEL, chunk, overloaded_mid_stream

GEMINI = "gemini-2.5-flash"
ASK = {"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]}
GEMINI_CHUNKS = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "Sunny, "}]}, "index": 0}],
     "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 2, "totalTokenCount": 42},
     "modelVersion": GEMINI, "responseId": "r1"},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "21 C."}]}, "finishReason": "STOP",
                     "index": 0}],
     "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 6, "totalTokenCount": 46},
     "modelVersion": GEMINI, "responseId": "r1"},
]


async def _openai_stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    events = (chunk({"role": "assistant", "content": ""}) + chunk({"content": "Sunny, "}) + chunk({"content": "21 C."})
              + chunk({}, "stop") + chunk({}, usage={"prompt_tokens": 40, "completion_tokens": 6,
                                                     "total_tokens": 46}) + b"data: [DONE]\n\n")
    return await send_stream(request, events, "text/event-stream")


async def _gemini_sse(request: web.Request, rec: Recorded) -> web.StreamResponse:
    data = b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in GEMINI_CHUNKS)
    return await send_stream(request, data, "text/event-stream")


async def _post(gateway: Gateway, key: str, model: str, query: str = "") -> tuple[int, str, bytes]:
    url = f"{gateway.url}/v1beta/models/{model}:streamGenerateContent" + (f"?{query}" if query else "")
    async with aiohttp.ClientSession() as http, http.post(url, json=ASK, headers={"x-goog-api-key": key}) as r:
        return r.status, r.headers["Content-Type"], await r.read()


def _text(chunks: list[dict[str, Any]]) -> str:
    return "".join(p.get("text", "") for c in chunks for cand in c.get("candidates", [])
                   for p in cand["content"]["parts"])


@pytest.mark.parametrize("query", ["", "alt=json"])
async def test_a_converted_stream_as_a_json_array(gateway: Gateway, db: Database, mock: ProviderMock,
                                                  query: str) -> None:
    mock.route("POST", "/v1/chat/completions", _openai_stream)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=1, key="sk-channel-key", models=MODEL)
    await gateway.reload()
    before = await balances(db, acct)
    status, ctype, raw = await _post(gateway, acct.key, MODEL, query)
    assert status == 200 and ctype.startswith("application/json") and not mock.failures
    assert raw.startswith(b"[{") and raw.endswith(b"]") and b",\r\n{" in raw
    chunks = orjson.loads(raw)
    assert _text(chunks) == "Sunny, 21 C."
    assert chunks[-1]["usageMetadata"]["promptTokenCount"] == 40
    assert mock.requests[0].json()["stream"] is True
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.completion_tokens, bool(row.is_stream)) == (40, 6, True)
    assert before["token_remain"] - (await balances(db, acct))["token_remain"] == row.quota > 0


async def test_a_gemini_channel_streams_sse_upstream_and_the_client_gets_the_array(
        gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", f"/v1beta/models/{GEMINI}:streamGenerateContent", _gemini_sse)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=24, key="sk-channel-key", models=GEMINI)
    await gateway.reload()
    status, ctype, raw = await _post(gateway, acct.key, GEMINI, f"key={acct.key}")
    assert status == 200 and ctype.startswith("application/json") and not mock.failures
    assert orjson.loads(raw) == GEMINI_CHUNKS   # the upstream's chunks, each one element
    [sent] = mock.requests
    assert sent.query == "alt=sse" and sent.headers["x-goog-api-key"] == "sk-channel-key"
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.completion_tokens, bool(row.is_stream)) == (40, 6, True)


async def test_an_error_after_the_start_ends_the_array_with_an_error_element(gateway: Gateway, db: Database,
                                                                             mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", overloaded_mid_stream)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=1, key="sk-channel-key", models=MODEL)
    await gateway.reload()
    status, _, raw = await _post(gateway, acct.key, MODEL)
    chunks = orjson.loads(raw)   # still one well-formed array
    assert status == 200 and _text(chunks[:-1]).startswith("Sunny")
    assert "overloaded" in chunks[-1]["error"]["message"] and chunks[-1]["error"]["status"]


async def test_a_stream_without_usage_is_counted_as_the_sse_form_is(gateway: Gateway, db: Database,
                                                                   mock: ProviderMock) -> None:
    """An upstream that reports no usage: the array's text is counted for billing exactly as the SSE stream's."""
    async def no_usage(request: web.Request, rec: Recorded) -> web.StreamResponse:
        events = (chunk({"role": "assistant", "content": ""}) + chunk({"content": "Sunny, with a light breeze "})
                  + chunk({"content": "and 21 C in the afternoon."}) + chunk({}, "stop") + b"data: [DONE]\n\n")
        return await send_stream(request, events, "text/event-stream")

    mock.route("POST", "/v1/chat/completions", no_usage)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=1, key="sk-channel-key", models=MODEL)
    await gateway.reload()
    for query in ("alt=sse", ""):
        status, _, raw = await _post(gateway, acct.key, MODEL, query)
        assert status == 200 and b"Sunny" in raw
    await gateway.flush()
    sse, array = await logs(db)
    assert sse.completion_tokens > 5 and sse.usage_source == "counted"
    assert (array.prompt_tokens, array.completion_tokens, array.quota, array.usage_source) == (
        sse.prompt_tokens, sse.completion_tokens, sse.quota, sse.usage_source)
