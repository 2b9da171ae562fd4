"""A Gemini client on Vertex AI's Gemini (type 42 with a gemini model): the client's generateContent body goes to
Vertex's `…/publishers/google/models/{model}:generateContent` (`:streamGenerateContent?alt=sse`) as it was sent,
with the channel's OAuth token (exchanged at the channel's base URL) instead of the client's key; the answer's
bytes come back as Vertex sent them and are billed from its usageMetadata."""

from __future__ import annotations

import json

import aiohttp
import orjson
import pytest
from aiohttp import web
from google import genai
from google.genai import errors, types

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, json_response, send_stream
from tests.e2e.mock_upstream import Recorded
from tests.e2e.vertex_account import REGION_CONFIG, service_account, token_endpoint

GEMINI = "gemini-2.5-flash"
BASE = "/v1/projects/my-project/locations/us-central1/publishers/google/models"
ANSWER = (b'{\n  "candidates": [{"content": {"role": "model", "parts": [{"text": "Sunny, 21 C."}]},\n'
          b'  "finishReason": "STOP", "index": 0}],\n  "usageMetadata": {"promptTokenCount": 40, '
          b'"candidatesTokenCount": 6, "totalTokenCount": 46},\n  "modelVersion": "gemini-2.5-flash"}\n')
STREAM = (b'data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_weather",'
          b'"args":{"city":"Paris"}},"thoughtSignature":"c2lnbmF0dXJl"}]},"finishReason":"STOP","index":0}],'
          b'"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":9,"totalTokenCount":39}}\r\n\r\n')
BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}],
                     "generationConfig": {"temperature": 0.5}, "futureField": {"kept": True}},
                    option=orjson.OPT_INDENT_2)   # indented: any re-encoding would show


@pytest.fixture(scope="module")
def vertex_key() -> dict[str, str]:
    return service_account()


async def _generate(request: web.Request, rec: Recorded) -> web.StreamResponse:
    assert rec.headers["Authorization"] == "Bearer ya29.local" and "x-goog-api-key" not in rec.headers
    return web.Response(body=ANSWER, content_type="application/json")


async def _stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    assert rec.headers["Authorization"] == "Bearer ya29.local" and rec.query == "alt=sse"
    return await send_stream(request, STREAM, "text/event-stream")


async def test_vertex_gemini_passes_the_gemini_body_through(gateway: Gateway, db: Database, mock: ProviderMock,
                                                            vertex_key: dict[str, str]) -> None:
    mock.route("POST", "/token", token_endpoint("ya29.local"))
    mock.route("POST", f"{BASE}/{GEMINI}:generateContent", _generate)
    mock.route("POST", f"{BASE}/{GEMINI}:streamGenerateContent", _stream)
    acct = await add_account(db, quota=10**10, token_quota=10**10)   # the model's whole output limit is held
    await add_channel(db, base_url=mock.url, type=42, key=json.dumps(vertex_key), models="gemini-x",
                      model_mapping=orjson.dumps({"gemini-x": GEMINI}).decode(),
                      config=REGION_CONFIG)
    await gateway.reload()
    before = await balances(db, acct)
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/v1beta/models/gemini-x:generateContent?key={acct.key}", data=BODY,
            headers={"Content-Type": "application/json"}) as r:
        raw = await r.read()
    assert r.status == 200 and raw == ANSWER and not mock.failures   # Vertex's bytes, unchanged
    generate = mock.requests[-1]
    assert generate.body == BODY and generate.query == ""            # the client's bytes, no key
    client = genai.Client(api_key=acct.key, http_options=types.HttpOptions(base_url=gateway.url))
    chunks = [c async for c in await client.aio.models.generate_content_stream(model="gemini-x", contents="hi")]
    await client.aio.aclose()
    assert [(c.name, c.args) for chunk in chunks for c in chunk.function_calls or []] == [
        ("get_weather", {"city": "Paris"})]
    assert not mock.failures and mock.hits["/token"] == 1
    assert mock.requests[-1].json()["contents"][0]["parts"] == [{"text": "hi"}]
    await gateway.flush()
    rows = await logs(db)
    assert [(r.model_name, r.prompt_tokens, r.completion_tokens, r.usage_source) for r in rows] == [
        (GEMINI, 40, 6, "upstream"), (GEMINI, 30, 9, "upstream")]
    assert before["token_remain"] - (await balances(db, acct))["token_remain"] == sum(r.quota for r in rows) > 0


async def test_a_vertex_error_reaches_the_gemini_sdk(gateway: Gateway, db: Database, mock: ProviderMock,
                                                     vertex_key: dict[str, str]) -> None:
    async def refuse(request: web.Request, rec: Recorded) -> web.StreamResponse:
        return json_response({"error": {"code": 400, "message": "Request contains an invalid argument.",
                                        "status": "INVALID_ARGUMENT"}}, status=400)

    mock.route("POST", "/token", token_endpoint("ya29.local"))
    mock.route("POST", f"{BASE}/{GEMINI}:generateContent", refuse)
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=42, key=json.dumps(vertex_key), models=GEMINI,
                      config=REGION_CONFIG)
    await gateway.reload()
    client = genai.Client(api_key=acct.key, http_options=types.HttpOptions(base_url=gateway.url))
    with pytest.raises(errors.ClientError) as refused:
        await client.aio.models.generate_content(model=GEMINI, contents="hi")
    await client.aio.aclose()
    assert refused.value.code == 400 and "invalid argument" in (refused.value.message or "")
