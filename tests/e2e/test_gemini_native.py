"""Gemini's native API (`/v1beta/models/{model}:…`) end to end with the `google-genai` SDK: a Gemini channel passed
through byte for byte, and an OpenAI, an Anthropic and a Zhipu (China) channel through the hub; a function-call
round trip created and streamed, countTokens, embeddings, the model list, errors raised as the SDK's classes,
and the money (quota before and after, the log rows) of each answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from google import genai
from google.genai import errors, types

from rules import load_prices
from rules.charge import Parts
from store import Database
from tests.e2e.harness import Account, Gateway, add_account, add_channel, balances, logs, set_options
from tests.e2e.mock_providers import ProviderMock, check_hs256_jwt, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.sdk_clients import genai_client
from tests.e2e.weather_upstream import (
    MODEL,
    WEATHER_DESCRIPTION,
    WEATHER_PARAMETERS,
    openai_chat,
    overloaded_mid_stream,
    upstream_exploded,
)

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4-5"
GLM = "glm-4-plus"
ZHIPU_ID, ZHIPU_SECRET = "3f1c6a2be8d94d07a5b2c9e1f4d8a7b6", "Xq7ZpL2mN9vR4sT1"
WEATHER = types.FunctionDeclaration(
    name="get_weather", description=WEATHER_DESCRIPTION, parameters_json_schema=WEATHER_PARAMETERS)
CONFIG = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
ASK = [types.Content(role="user", parts=[types.Part(text="Weather in Paris?")])]


# ---------------------------------------------------------------- upstreams

async def _zhipu_chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
    scheme, _, token = rec.headers["Authorization"].partition(" ")
    assert scheme == "Bearer" and check_hs256_jwt(token, ZHIPU_SECRET)["api_key"] == ZHIPU_ID
    return await openai_chat(request, rec)


def _anthropic_events(payload: dict[str, Any]) -> bytes:
    last = payload["messages"][-1]["content"]
    replied = isinstance(last, list) and any(b.get("type") == "tool_result" for b in last)
    if replied:
        block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": "Sunny, 21 C."}, "end_turn"
    else:
        block = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        delta, stop = {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}, "tool_use"
    events = [{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                    "model": CLAUDE, "content": [], "stop_reason": None,
                                                    "usage": {"input_tokens": 50, "output_tokens": 1}}},
              {"type": "content_block_start", "index": 0, "content_block": block},
              {"type": "content_block_delta", "index": 0, "delta": delta},
              {"type": "content_block_stop", "index": 0},
              {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 11}},
              {"type": "message_stop"}]
    return b"".join(b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in events)


async def _anthropic(request: web.Request, rec: Recorded) -> web.StreamResponse:
    assert rec.headers["x-api-key"] == "sk-channel-key" and rec.json()["stream"] is True
    return await send_stream(request, _anthropic_events(rec.json()), "text/event-stream")


GEMINI_STREAM = (
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Checking.","thought":true}]},"index":0}],'
    b'"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":3,"totalTokenCount":303,'
    b'"cachedContentTokenCount":100,"thoughtsTokenCount":18},"modelVersion":"gemini-2.5-flash","responseId":"r1"}'
    b"\r\n\r\n"
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather",'
    b'"args":{"city":"Paris"}},"thoughtSignature":"c2lnbmF0dXJl"}]},"finishReason":"STOP","index":0}],'
    b'"usageMetadata":{"promptTokenCount":300,"candidatesTokenCount":12,"totalTokenCount":330,'
    b'"cachedContentTokenCount":100,"thoughtsTokenCount":18},"modelVersion":"gemini-2.5-flash","responseId":"r1"}'
    b"\r\n\r\n")
GEMINI_ANSWER = (b'{\n  "candidates": [{"content": {"role": "model", "parts": [{"text": "Sunny, 21 C."}]},\n'
                 b'  "finishReason": "STOP", "index": 0}],\n  "usageMetadata": {"promptTokenCount": 40, '
                 b'"candidatesTokenCount": 6, "thoughtsTokenCount": 4, "totalTokenCount": 50},\n'
                 b'  "modelVersion": "gemini-2.5-flash", "responseId": "r2", "unknownField": {"kept": true}\n}\n')


async def _gemini_stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return await send_stream(request, GEMINI_STREAM, "text/event-stream")


async def _gemini_generate(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return web.Response(body=GEMINI_ANSWER, content_type="application/json")


async def _embed(request: web.Request, rec: Recorded) -> web.StreamResponse:
    inputs = rec.json()["input"]
    return json_response({"object": "list", "model": "text-embedding-3-small",
                          "data": [{"object": "embedding", "index": i, "embedding": [0.5 * i, 0.25]}
                                   for i in range(len(inputs))][::-1],
                          "usage": {"prompt_tokens": 8, "total_tokens": 8}})


# ---------------------------------------------------------------- fixtures and helpers

async def _setup(db: Database, gateway: Gateway, mock: ProviderMock, ctype: int = 1, models: str = MODEL,
                 key: str = "sk-channel-key", **channel: Any) -> Account:
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=ctype, key=key, models=models, **channel)
    await gateway.reload()
    return acct


async def _billed(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any],
                  usages: list[tuple[int, int, bool]], ctype: int, model: str,
                  cache_reads: list[int] | None = None) -> None:
    """Each answer has its log row with the upstream's usage, and the token paid exactly their price."""
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens, bool(r.is_stream)) for r in rows] == usages
    prices = load_prices()
    for row, (prompt, completion, _), cached in zip(rows, usages, cache_reads or [0] * len(rows), strict=True):
        assert row.model_name == model and row.usage_source == "upstream"
        # cached prompt tokens at the model's cache-read price (rules.charge), the rest as One API prices them
        expected = prices.charge(Parts(prompt, completion, cache_read=cached), model, ctype, "default").quota
        assert row.quota == expected > 0
        if not cached:
            assert expected == prices.quota_for(prompt, completion, model, ctype, "default")
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows)


def _second_turn(first: types.GenerateContentResponse) -> list[types.Content]:
    assert first.candidates and first.candidates[0].content
    [call] = first.function_calls or []
    reply = types.Part(function_response=types.FunctionResponse(id=call.id, name=call.name,
                                                                response={"output": "sunny, 21"}))
    return [*ASK, first.candidates[0].content, types.Content(role="user", parts=[reply])]


async def _round_trip(client: genai.Client, model: str, stream: bool) -> str:
    """Turn 1 calls get_weather, turn 2 sends its result back; the text of turn 2."""
    if not stream:
        first = await client.aio.models.generate_content(model=model, contents=ASK, config=CONFIG)  # type: ignore[arg-type]
        [call] = first.function_calls or []
        assert (call.name, call.args) == ("get_weather", {"city": "Paris"})
        second = await client.aio.models.generate_content(model=model, contents=_second_turn(first),  # type: ignore[arg-type]
                                                          config=CONFIG)
        assert second.candidates and second.candidates[0].finish_reason == types.FinishReason.STOP
        return second.text or ""
    chunks = [c async for c in await client.aio.models.generate_content_stream(
        model=model, contents=ASK, config=CONFIG)]   # type: ignore[arg-type]
    calls = [c for chunk in chunks for c in chunk.function_calls or []]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    whole = types.GenerateContentResponse(candidates=[types.Candidate(content=types.Content(
        role="model", parts=[p for chunk in chunks for c in chunk.candidates or [] for p in
                             (c.content.parts if c.content and c.content.parts else [])]))])
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(model=model, contents=_second_turn(whole),  # type: ignore[arg-type]
                                                                       config=CONFIG):
        text += chunk.text or ""
    return text


# ---------------------------------------------------------------- through the hub

@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
async def test_function_call_round_trip_on_an_openai_channel(gateway: Gateway, db: Database, mock: ProviderMock,
                                                             stream: bool) -> None:
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await _setup(db, gateway, mock)
    before = await balances(db, acct)
    text = await _round_trip(genai_client(gateway, acct.key), MODEL, stream)
    assert text == "Sunny, 21 C."
    assert not mock.failures
    sent = mock.requests
    assert [r.path for r in sent] == ["/v1/chat/completions"] * 2 and all(not r.query for r in sent)
    assert all(r.headers["Authorization"] == "Bearer sk-channel-key" for r in sent)   # never the user's token
    assert all("x-goog-api-key" not in {k.lower() for k in r.headers} for r in sent)
    hub = sent[1].json()
    assert hub["model"] == MODEL and hub["tools"][0]["function"]["name"] == "get_weather"
    assert hub["messages"][-1]["role"] == "tool" and orjson.loads(hub["messages"][-1]["content"]) == {
        "output": "sunny, 21"}
    assert bool(hub.get("stream")) is stream
    await _billed(gateway, db, acct, before, [(30, 9, stream), (40, 6, stream)], 1, MODEL)


async def test_function_call_round_trip_on_an_anthropic_channel(gateway: Gateway, db: Database,
                                                                mock: ProviderMock) -> None:
    mock.route("POST", "/v1/messages", _anthropic)
    acct = await _setup(db, gateway, mock, ctype=14, models=CLAUDE)
    before = await balances(db, acct)
    assert await _round_trip(genai_client(gateway, acct.key), CLAUDE, stream=True) == "Sunny, 21 C."
    assert not mock.failures
    sent = [r.json() for r in mock.requests]
    assert sent[0]["tools"][0]["name"] == "get_weather" and sent[0]["model"] == CLAUDE
    [result] = [b for b in sent[1]["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert "sunny, 21" in orjson.dumps(result).decode()
    await _billed(gateway, db, acct, before, [(50, 11, True), (50, 11, True)], 14, CLAUDE)


@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
async def test_function_call_round_trip_on_a_zhipu_channel(gateway: Gateway, db: Database, mock: ProviderMock,
                                                           stream: bool) -> None:
    """A China provider through the hub and its own converter (Zhipu v4: a JWT signed from id.secret)."""
    mock.route("POST", "/api/paas/v4/chat/completions", _zhipu_chat)
    acct = await _setup(db, gateway, mock, ctype=16, models=GLM, key=f"{ZHIPU_ID}.{ZHIPU_SECRET}")
    before = await balances(db, acct)
    assert await _round_trip(genai_client(gateway, acct.key), GLM, stream) == "Sunny, 21 C."
    assert not mock.failures and len(mock.requests) == 2
    assert mock.requests[1].json()["messages"][-1]["role"] == "tool"
    await _billed(gateway, db, acct, before, [(30, 9, stream), (40, 6, stream)], 16, GLM)


async def test_embeddings_on_an_openai_channel(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    """google-genai embeds with :batchEmbedContents; the hub's embeddings come back in request order."""
    mock.route("POST", "/v1/embeddings", _embed)
    acct = await _setup(db, gateway, mock, models="text-embedding-3-small")
    before = await balances(db, acct)
    answer = await genai_client(gateway, acct.key).aio.models.embed_content(
        model="text-embedding-3-small", contents=["one", "two"])
    assert [e.values for e in answer.embeddings or []] == [[0.0, 0.25], [0.5, 0.25]]
    [sent] = mock.requests
    assert sent.json()["input"] == ["one", "two"] and sent.headers["Authorization"] == "Bearer sk-channel-key"
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.model_name) == (8, "text-embedding-3-small")
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == row.quota > 0


async def test_count_tokens_locally_and_the_model_list(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    acct = await _setup(db, gateway, mock, models=f"{MODEL},text-embedding-3-small")
    before = await balances(db, acct)
    client = genai_client(gateway, acct.key)
    short = await client.aio.models.count_tokens(model=MODEL, contents="hi")
    long = await client.aio.models.count_tokens(model=MODEL, contents="hello there, " * 20)
    assert short.total_tokens and long.total_tokens and 0 < short.total_tokens < long.total_tokens
    listed = [m async for m in await client.aio.models.list()]
    assert [m.name for m in listed] == [f"models/{MODEL}", "models/text-embedding-3-small"]
    assert listed[1].supported_actions == ["embedContent", "batchEmbedContents"]
    one = await client.aio.models.get(model=MODEL)
    assert one.name == f"models/{MODEL}" and one.output_token_limit
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}/v1beta/models?pageSize=1", headers={"x-goog-api-key": acct.key}) as r:
            page = await r.json()
        assert [m["name"] for m in page["models"]] == [f"models/{MODEL}"] and page["nextPageToken"] == "1"
        async with http.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {acct.key}"}) as r:
            assert (await r.json())["object"] == "list"   # OpenAI's list is unchanged
    assert mock.requests == []
    await gateway.flush()
    assert await logs(db) == [] and (await balances(db, acct))["token_remain"] == before["token_remain"]


# ---------------------------------------------------------------- Gemini channel: pass-through

@pytest.mark.parametrize("stream", [False, True], ids=["generate", "stream"])
async def test_gemini_channel_passes_bytes_through(gateway: Gateway, db: Database, mock: ProviderMock,
                                                   stream: bool) -> None:
    """Bytes both ways as sent; only the key changes. The user's `?key=` never reaches the upstream."""
    method = "streamGenerateContent" if stream else "generateContent"
    mock.route("POST", f"/v1beta/models/{GEMINI}:{method}", _gemini_stream if stream else _gemini_generate)
    acct = await _setup(db, gateway, mock, ctype=24, models=GEMINI)
    before = await balances(db, acct)
    body = (b'{"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],\n "futureField": 1,'
            b' "generationConfig": {"temperature": 1, "topK": 64, "maxOutputTokens": 1024,'
            b' "thinkingConfig": {"includeThoughts": true}}}')
    query = f"alt=sse&key={acct.key}" if stream else f"key={acct.key}"
    async with aiohttp.ClientSession() as http, http.post(f"{gateway.url}/v1beta/models/{GEMINI}:{method}?{query}",
                                                          data=body, headers={"Content-Type": "application/json"}) \
            as resp:
        raw = await resp.read()
    assert resp.status == 200 and not mock.failures, raw
    assert raw == (GEMINI_STREAM if stream else GEMINI_ANSWER)   # the upstream's bytes, unchanged
    [sent] = mock.requests
    assert sent.body == body and sent.query == ("alt=sse" if stream else "")   # the client's bytes, no key
    assert sent.headers["x-goog-api-key"] == "sk-channel-key" and "Authorization" not in sent.headers
    # billed from Gemini's usage: thoughts are output (outside candidatesTokenCount)
    await _billed(gateway, db, acct, before, [(300, 30, True)] if stream else [(40, 10, False)], 24, GEMINI,
                  [100] if stream else [0])   # cachedContentTokenCount


async def test_gemini_channel_with_the_sdk_and_a_mapped_model(gateway: Gateway, db: Database,
                                                              mock: ProviderMock) -> None:
    """The mapped model goes into the URL; the SDK reads the passed-through stream (thought, call, signature)."""
    mock.route("POST", f"/v1/models/{GEMINI}:streamGenerateContent", _gemini_stream)
    acct = await _setup(db, gateway, mock, ctype=24, models="gemini-x",
                        model_mapping=orjson.dumps({"gemini-x": GEMINI}).decode())
    chunks = [c async for c in await genai_client(gateway, acct.key, api_version="v1").aio.models.generate_content_stream(
        model="gemini-x", contents=ASK, config=CONFIG)]   # type: ignore[arg-type]
    assert not mock.failures
    [call] = [c for chunk in chunks for c in chunk.function_calls or []]
    assert call.args == {"city": "Paris"}
    assert chunks[-1].usage_metadata and chunks[-1].usage_metadata.thoughts_token_count == 18
    [sent] = mock.requests
    assert sent.json()["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert sent.headers["x-goog-api-key"] == "sk-channel-key"


# ---------------------------------------------------------------- errors

async def test_errors_in_gemini_shape(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    mock.route("POST", "/v1/chat/completions", upstream_exploded)
    acct = await _setup(db, gateway, mock)
    other = await add_account(db, username="bob", models="some-other-model")
    before = await balances(db, acct)
    with pytest.raises(errors.ClientError) as bad_key:
        await genai_client(gateway, "sk-not-a-key").aio.models.generate_content(model=MODEL, contents="hi")
    assert bad_key.value.code == 401 and bad_key.value.status == "UNAUTHENTICATED"
    with pytest.raises(errors.ClientError) as denied:   # the token may not use this model
        await genai_client(gateway, other.key).aio.models.generate_content(model=MODEL, contents="hi")
    assert denied.value.code == 403 and denied.value.status == "PERMISSION_DENIED"
    with pytest.raises(errors.ClientError) as none:   # no channel serves the model: Gemini's 404, not retried
        await genai_client(gateway, acct.key).aio.models.generate_content(model="no-such-model", contents="hi")
    assert none.value.code == 404 and none.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError) as refused:   # a tool the hub cannot carry
        await genai_client(gateway, acct.key).aio.models.generate_content(
            model=MODEL, contents="hi", config=types.GenerateContentConfig(
                tools=[types.Tool(google_search=types.GoogleSearch())]))
    assert refused.value.code == 400 and refused.value.status == "INVALID_ARGUMENT"
    assert "googleSearch" in (refused.value.message or "")
    assert mock.requests == []   # none of these reached the upstream
    with pytest.raises(errors.ServerError) as upstream:
        await genai_client(gateway, acct.key).aio.models.generate_content(model=MODEL, contents="hi")
    assert upstream.value.code == 500 and "upstream exploded" in (upstream.value.message or "")
    async with aiohttp.ClientSession() as http:
        url = f"{gateway.url}/v1beta/models/{MODEL}:streamGenerateContent?alt=proto"   # neither SSE nor JSON
        async with http.post(url, json={"contents": []}, headers={"x-goog-api-key": acct.key}) as r:
            assert r.status == 400 and "alt=sse" in (await r.json())["error"]["message"]
        async with http.post(f"{gateway.url}/v1beta/models/{MODEL}:unknownMethod", json={}) as r:
            assert r.status == 404 and (await r.json())["error"]["status"] == "NOT_FOUND"
        async with http.post(f"{gateway.url}/v1/models/{MODEL}", json={}) as r:   # OpenAI's 404, as before
            assert r.status == 404 and (await r.json())["error"]["type"] == "invalid_request_error"
    await gateway.flush()
    assert (await balances(db, acct))["token_remain"] == before["token_remain"]


async def test_a_stream_error_after_the_start_is_a_gemini_error_event(gateway: Gateway, db: Database,
                                                                      mock: ProviderMock) -> None:
    """A converted stream cut by the upstream ends with a `data: {"error": …}` event the SDK raises."""
    mock.route("POST", "/v1/chat/completions", overloaded_mid_stream)
    acct = await _setup(db, gateway, mock)
    got = ""
    with pytest.raises(errors.APIError) as failed:
        async for chunk in await genai_client(gateway, acct.key).aio.models.generate_content_stream(model=MODEL,
                                                                                                contents="hi"):
            got += chunk.text or ""
    assert "overloaded" in (failed.value.message or "") and got.startswith("Sunny")


# ---------------------------------------------------------------- Gemini CLI's own requests (captures)

def _capture(name: str) -> tuple[bytes, bytes]:
    """A recorded Gemini CLI request body (as bytes) and the answer it accepted (tests/fixtures/captures)."""
    folder = Path(__file__).parent.parent / "fixtures" / "captures"
    recorded = orjson.loads((folder / f"{name}.json").read_bytes())
    return orjson.dumps(recorded["body"]), (folder / f"{name}.answer.txt").read_bytes()


async def _post_cli(gateway: Gateway, key: str, model: str, body: bytes, *, key_in_query: bool = False
                    ) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", "accept": "*/*",
               "x-goog-api-client": "google-genai-sdk/1.30.0 gl-node/v20.20.2"}
    query = f"alt=sse&key={key}" if key_in_query else "alt=sse"
    if not key_in_query:
        headers["x-goog-api-key"] = key
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/v1beta/models/{model}:streamGenerateContent?{query}", data=body, headers=headers) as r:
        return r.status, await r.read()


async def test_a_recorded_gemini_cli_turn_passes_through(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    """Turn 2 of Gemini CLI's tool round trip (its thoughtSignature, its call ids) reaches a Gemini channel as
    sent, and the answer it accepted comes back byte for byte."""
    body, answer = _capture("gemini-3")

    async def stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return await send_stream(request, answer, "text/event-stream")

    mock.route("POST", f"/v1beta/models/{GEMINI}:streamGenerateContent", stream)
    acct = await add_account(db, quota=10**10, token_quota=10**10)   # the model's whole output limit is held
    await add_channel(db, base_url=mock.url, type=24, key="sk-channel-key", models=GEMINI)
    await gateway.reload()
    status, raw = await _post_cli(gateway, acct.key, GEMINI, body)
    assert status == 200 and raw == answer and not mock.failures
    [sent] = mock.requests
    assert sent.body == body and sent.query == "alt=sse" and sent.headers["x-goog-api-key"] == "sk-channel-key"
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.completion_tokens) == (300, 30)   # prompt incl. cached; candidates + thoughts


async def test_a_recorded_gemini_cli_turn_through_the_hub(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    """The same turn to an OpenAI channel: its system instruction, its 8 tools and the read_file result as the
    hub's, answered as a Gemini stream the CLI accepts (data lines only, a finishReason, usage)."""
    body, _ = _capture("gemini-3")
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await _setup(db, gateway, mock)
    status, raw = await _post_cli(gateway, acct.key, MODEL, body, key_in_query=True)
    assert status == 200 and not mock.failures, raw
    [sent] = mock.requests
    assert not sent.query and sent.headers["Authorization"] == "Bearer sk-channel-key"   # no ?key= onwards
    hub = sent.json()
    assert hub["model"] == MODEL and hub["stream"] is True and hub["messages"][0]["role"] == "system"
    assert len(hub["tools"]) == 8 and "read_file" in {t["function"]["name"] for t in hub["tools"]}
    call = hub["messages"][-2]["tool_calls"][0]
    assert call["id"] == "read_file_1796587654132_0" and call["function"]["name"] == "read_file"
    assert hub["messages"][-1] == {"role": "tool", "tool_call_id": call["id"],
                                   "content": orjson.dumps({"output": "The magic word is: pelican\n"}).decode()}
    events = [e for e in raw.split(b"\r\n\r\n") if e]
    assert all(e.startswith(b"data: {") and b"\n" not in e for e in events)
    final = orjson.loads(events[-1].removeprefix(b"data: "))
    text = "".join(p.get("text", "") for e in events for c in orjson.loads(e[6:])["candidates"]
                   for p in c["content"]["parts"])
    assert text == "Sunny, 21 C." and final["candidates"][0]["finishReason"] == "STOP"
    assert final["usageMetadata"]["promptTokenCount"] == 40


async def test_a_capped_output_limit_reaches_a_gemini_channel(gateway: Gateway, db: Database,
                                                              mock: ProviderMock) -> None:
    """A balance that cannot pay the whole answer caps generationConfig.maxOutputTokens in the passed-through
    body (only that field changes) and the hold is what the balance affords."""
    mock.route("POST", f"/v1beta/models/{GEMINI}:generateContent", _gemini_generate)
    acct = await add_account(db, token_quota=20_000)
    await add_channel(db, base_url=mock.url, type=24, key="sk-channel-key", models=GEMINI)
    await gateway.reload()
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 60000}}
    answer = await genai_client(gateway, acct.key).aio.models.generate_content(
        model=GEMINI, contents="hi", config=types.GenerateContentConfig(temperature=0.5, max_output_tokens=60000))
    assert answer.text == "Sunny, 21 C."
    [sent] = mock.requests
    got = sent.json()
    cap = got["generationConfig"]["maxOutputTokens"]
    assert 0 < cap < 60000 and got["generationConfig"]["temperature"] == 0.5
    assert got["contents"] == body["contents"]


async def test_count_tokens_on_a_gemini_channel_is_the_channels_own(gateway: Gateway, db: Database,
                                                                   mock: ProviderMock) -> None:
    """countTokens goes to a Gemini channel as the client sent it (channel key, mapped model); not billed."""
    async def count(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"totalTokens": 42, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 42}]})

    mock.route("POST", f"/v1beta/models/{GEMINI}:countTokens", count)
    acct = await _setup(db, gateway, mock, ctype=24, models="gemini-x",
                        model_mapping=orjson.dumps({"gemini-x": GEMINI}).decode())
    before = await balances(db, acct)
    counted = await genai_client(gateway, acct.key).aio.models.count_tokens(model="gemini-x", contents="hi there")
    assert counted.total_tokens == 42 and not mock.failures
    [sent] = mock.requests
    assert sent.headers["x-goog-api-key"] == "sk-channel-key" and not sent.query
    assert sent.json()["contents"][0]["parts"] == [{"text": "hi there"}]
    await gateway.flush()
    assert await logs(db) == [] and (await balances(db, acct))["token_remain"] == before["token_remain"]


async def test_a_gemini_channels_error_reaches_the_sdk_as_its_own(gateway: Gateway, db: Database,
                                                                  mock: ProviderMock) -> None:
    """An upstream Gemini error keeps its status, message and rpc status; nothing is billed."""
    async def refuse(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"error": {"code": 400, "message": "Request contains an invalid argument.",
                                        "status": "INVALID_ARGUMENT"}}, status=400)

    mock.route("POST", f"/v1beta/models/{GEMINI}:generateContent", refuse)
    acct = await _setup(db, gateway, mock, ctype=24, models=GEMINI)
    before = await balances(db, acct)
    with pytest.raises(errors.ClientError) as refused:
        await genai_client(gateway, acct.key).aio.models.generate_content(model=GEMINI, contents="hi")
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
    assert "Request contains an invalid argument." in (refused.value.message or "")
    await gateway.flush()
    assert (await balances(db, acct))["token_remain"] == before["token_remain"]


async def test_a_failed_gemini_channel_is_retried_on_a_converted_one(gateway: Gateway, db: Database,
                                                                     mock: ProviderMock) -> None:
    """Retries cross families: the pass-through attempt fails (503), the next channel converts and serves."""
    async def unavailable(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
                             503)

    mock.route("POST", f"/v1beta/models/{MODEL}:streamGenerateContent", unavailable)
    mock.route("POST", "/v1/chat/completions", openai_chat)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=24, key="gemini-key", models=MODEL, priority=10, name="gemini")
    await add_channel(db, base_url=mock.url, type=1, key="sk-oai", models=MODEL, priority=0, name="openai")
    await set_options(db, gateway, RetryTimes="1")
    chunks = [c async for c in await genai_client(gateway, acct.key).aio.models.generate_content_stream(
        model=MODEL, contents=ASK, config=CONFIG)]   # type: ignore[arg-type]
    assert [(c.name, c.args) for chunk in chunks for c in chunk.function_calls or []] == [
        ("get_weather", {"city": "Paris"})]
    assert [r.path for r in mock.requests] == [f"/v1beta/models/{MODEL}:streamGenerateContent", "/v1/chat/completions"]
    assert mock.requests[0].headers["x-goog-api-key"] == "gemini-key"
    assert mock.requests[1].headers["Authorization"] == "Bearer sk-oai" and mock.requests[1].json()["stream"] is True
    await gateway.flush()
    [row] = await logs(db)
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (30, 9, "upstream")


async def test_embed_content_with_bearer_auth_and_a_gemini_channels_batch(gateway: Gateway, db: Database,
                                                                          mock: ProviderMock) -> None:
    """`:embedContent` (as REST callers send it, the key as a Bearer token) through the hub; google-genai's
    `:batchEmbedContents` to a Gemini channel passed through with the mapped model in the URL and in every
    request of the batch."""
    async def batch(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"embeddings": [{"values": [0.1, 0.2]} for _ in rec.json()["requests"]]})

    mock.route("POST", "/v1/embeddings", _embed)
    mock.route("POST", "/v1beta/models/gemini-embedding-001:batchEmbedContents", batch)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, key="sk-channel-key", models="text-embedding-3-small")
    await add_channel(db, base_url=mock.url, type=24, key="gemini-key", models="embed-x",
                      model_mapping=orjson.dumps({"embed-x": "gemini-embedding-001"}).decode())
    await gateway.reload()
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/v1beta/models/text-embedding-3-small:embedContent",
            json={"content": {"parts": [{"text": "one"}, {"text": "two"}]}, "outputDimensionality": 2},
            headers={"Authorization": f"Bearer {acct.key}"}) as r:
        assert r.status == 200 and await r.json() == {"embedding": {"values": [0.0, 0.25]}}
    assert mock.requests[0].json() == {"model": "text-embedding-3-small", "input": ["one\ntwo"], "dimensions": 2}
    answer = await genai_client(gateway, acct.key).aio.models.embed_content(model="embed-x", contents=["a", "b"])
    assert [e.values for e in answer.embeddings or []] == [[0.1, 0.2], [0.1, 0.2]]
    sent = mock.requests[1]
    assert sent.headers["x-goog-api-key"] == "gemini-key"
    assert [r["model"] for r in sent.json()["requests"]] == ["models/gemini-embedding-001"] * 2
    await gateway.flush()
    rows = await logs(db)
    assert [r.model_name for r in rows] == ["text-embedding-3-small", "gemini-embedding-001"]
    assert rows[0].prompt_tokens == 8 and rows[1].prompt_tokens > 0   # Gemini's batch has no usage: counted


async def test_a_gemini_channel_that_ignores_a_capped_limit_is_cut_at_the_balance(gateway: Gateway, db: Database,
                                                                                  mock: ProviderMock) -> None:
    """A passed-through Gemini stream is metered from its text parts: an upstream that ignores the capped
    maxOutputTokens is ended with a Gemini error event when the balance cannot pay more, never below zero."""
    event = {"candidates": [{"content": {"role": "model", "parts": [{"text": "lorem " * 20}]}, "index": 0}]}
    data = (b"data: " + orjson.dumps(event) + b"\r\n\r\n") * 300

    async def greedy(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return await send_stream(request, data, "text/event-stream", piece=4096)

    mock.route("POST", f"/v1beta/models/{GEMINI}:streamGenerateContent", greedy)
    acct = await add_account(db, quota=5_000)   # below 8 000 output tokens at its price
    await add_channel(db, base_url=mock.url, type=24, key="sk-channel-key", models=GEMINI)
    await gateway.reload()
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": 8000}}
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/v1beta/models/{GEMINI}:streamGenerateContent?alt=sse", json=body,
            headers={"x-goog-api-key": acct.key}) as resp:
        raw = await resp.read()
    assert mock.requests, raw
    assert mock.requests[0].json()["generationConfig"]["maxOutputTokens"] < 8000   # the cap was asked for
    assert raw.count(b"lorem") < 300 * 20                                        # and enforced when ignored
    last = raw.rstrip().rsplit(b"\r\n\r\n", 1)[-1]
    assert last.startswith(b'data: {"error":') and orjson.loads(last[6:])["error"]["code"] == 403
    await gateway.flush()
    after = await balances(db, acct)
    assert after["user_quota"] >= 0 and after["token_remain"] >= 0


async def test_what_the_hub_cannot_carry_still_reaches_a_gemini_channel(gateway: Gateway, db: Database,
                                                                        mock: ProviderMock) -> None:
    """Google Search grounding cannot be converted: refused before an OpenAI channel (400), passed through to a
    Gemini channel, and reserved and billed as any request."""
    mock.route("POST", f"/v1beta/models/{GEMINI}:generateContent", _gemini_generate)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=24, key="sk-channel-key", models=GEMINI)
    await gateway.reload()
    before = await balances(db, acct)
    grounded = types.GenerateContentConfig(tools=[types.Tool(google_search=types.GoogleSearch())],
                                           max_output_tokens=512)
    answer = await genai_client(gateway, acct.key).aio.models.generate_content(model=GEMINI, contents="news?",
                                                                          config=grounded)
    assert answer.text == "Sunny, 21 C."
    [sent] = mock.requests
    assert sent.json()["tools"] == [{"googleSearch": {}}]
    await _billed(gateway, db, acct, before, [(40, 10, False)], 24, GEMINI)
