"""Every /v1 endpoint family through the gateway: responses, completions, moderations, images, audio,
the raw proxy route, billing compatibility, models and the 501 answers."""

from __future__ import annotations

import aiohttp
import openai
import orjson

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI

MODELS = ("gpt-4o-mini,gpt-3.5-turbo-instruct,text-moderation-stable,dall-e-3,tts-1,whisper-1")


async def _setup(gateway: Gateway, upstream: MockOpenAI, db: Database, **account: object):
    acct = await add_account(db, **account)
    cid = await add_channel(db, base_url=upstream.url, models=MODELS)
    await gateway.reload()
    return acct, cid, openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)


async def test_responses_api_billed_from_its_usage(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    _, _, client = await _setup(gateway, upstream, db)
    answer = await client.responses.create(model="gpt-4o-mini", input="hi")
    assert answer.output_text == "Hi from responses"
    stream = await client.responses.create(model="gpt-4o-mini", input="hi", stream=True)
    text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
    assert text == "Hi there"
    await gateway.flush()
    rows = await logs(db)
    assert [(r.prompt_tokens, r.completion_tokens, r.is_stream, r.usage_source) for r in rows] == [
        (10, 5, False, "upstream"), (10, 5, True, "upstream")]
    assert all(r.quota == 3 for r in rows)       # ceil((10 + 5×4) × 0.075)


async def test_completions_and_moderations(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    _, _, client = await _setup(gateway, upstream, db)
    done = await client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hello")
    assert done.choices[0].text == " there"
    mod = await client.moderations.create(input="hello")
    assert mod.results[0].flagged is False
    assert upstream.requests[-1].json()["input"] == "hello"
    await gateway.flush()
    assert [r.model_name for r in await logs(db)] == ["gpt-3.5-turbo-instruct", "text-moderation-stable"]


async def test_image_priced_per_image(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    _, _, client = await _setup(gateway, upstream, db)
    image = await client.images.generate(model="dall-e-3", prompt="a cat", size="1024x1792", quality="hd")
    assert image.data[0].url == "https://img.test/1.png"
    await gateway.flush()
    [row] = await logs(db)
    assert row.quota == 60_000                  # floor(20 × 1 × (2 × 1.5) × 1000) × 1, §7.10
    try:
        await client.images.generate(model="dall-e-3", prompt="a cat", size="100x100")
        raise AssertionError("an unsupported size must be refused")
    except openai.BadRequestError as e:
        assert "size not supported" in str(e)


async def test_audio_speech_and_transcription(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    _, _, client = await _setup(gateway, upstream, db)
    speech = await client.audio.speech.create(model="tts-1", voice="alloy", input="x" * 1000)
    assert speech.content == upstream.sent[-1]          # binary passed through unchanged
    text = await client.audio.transcriptions.create(model="whisper-1", file=("a.mp3", b"ID3fake-audio", "audio/mpeg"))
    assert text.text == "hello world from audio"
    recorded = upstream.requests[-1]
    assert recorded.path == "/v1/audio/transcriptions" and b"ID3fake-audio" in recorded.body
    assert recorded.headers["Content-Type"].startswith("multipart/form-data")
    await gateway.flush()
    speech_row, stt_row = await logs(db)
    assert speech_row.quota == 7_500                    # floor(1000 bytes × 7.5), §7.10
    assert stt_row.quota == stt_row.prompt_tokens > 0   # transcript tokens, no ratio (One API §7.7)


async def test_raw_proxy_route_is_for_admins(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    user, cid, _ = await _setup(gateway, upstream, db)
    admin = await add_account(db, username="admin", role=10)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gateway.url}/v1/oneapi/proxy/{cid}/status?x=1", headers={"Authorization": user.key}) as r:
            assert r.status == 403
        async with http.get(f"{gateway.url}/v1/oneapi/proxy/{cid}/status?x=1", headers={"Authorization": admin.key}) as r:
            assert r.status == 200 and orjson.loads(await r.read()) == {"echo": "/status"}
    sent = upstream.requests[-1]
    assert sent.query == "x=1" and sent.headers["Authorization"] == "sk-upstream-secret"   # key verbatim
    await gateway.flush()
    assert await logs(db) == []                          # not billed, not logged (admins only)


async def test_billing_compat_models_and_501(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct, _, client = await _setup(gateway, upstream, db, token_quota=1_000_000)
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": acct.key}
        async with http.get(gateway.url + "/dashboard/billing/subscription", headers=headers) as r:
            sub = orjson.loads(await r.read())
        async with http.get(gateway.url + "/v1/dashboard/billing/usage", headers=headers) as r:
            usage = orjson.loads(await r.read())
        async with http.get(gateway.url + "/v1/models/no-such", headers=headers) as r:
            missing = (r.status, orjson.loads(await r.read()))
        async with http.post(gateway.url + "/v1/files", headers=headers) as r:
            files = (r.status, orjson.loads(await r.read()))
        async with http.post(gateway.url + "/v1/unknown", headers=headers) as r:
            unknown = (r.status, orjson.loads(await r.read()))
    assert sub["object"] == "billing_subscription" and sub["hard_limit_usd"] == 2.0   # 1e6 / 500000
    assert usage == {"object": "list", "total_usage": 0.0}
    assert missing == (200, {"error": {"message": "The model 'no-such' does not exist", "type": "invalid_request_error",
                                       "param": "model", "code": "model_not_found"}})
    assert files[0] == 501 and files[1]["error"]["code"] == "api_not_implemented"
    assert unknown == (404, {"error": {"message": "Invalid URL (POST /v1/unknown)", "type": "invalid_request_error",
                                       "param": "", "code": ""}})
    model = await client.models.retrieve("gpt-4o-mini")
    assert model.id == "gpt-4o-mini" and model.owned_by == "openai"


async def test_cors_preflight_and_headers(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    """As One API: every origin, credentials allowed, on /v1 and /dashboard; a preflight answers 204 at once."""
    acct, _, _ = await _setup(gateway, upstream, db)
    origin = {"Origin": "https://chat.example"}
    async with aiohttp.ClientSession() as http:
        for path in ("/v1/chat/completions", "/v1/models", "/dashboard/billing/usage", "/v1/files",
                     "/v1/oneapi/proxy/1/v1/models", "/v1/nowhere"):
            async with http.options(gateway.url + path, headers={**origin, "Access-Control-Request-Method": "POST",
                                                                   "Access-Control-Request-Headers": "authorization"}) as r:
                assert r.status == 204, path
                assert r.headers["Access-Control-Allow-Origin"] == "https://chat.example"
                assert r.headers["Access-Control-Allow-Credentials"] == "true"
                assert r.headers["Access-Control-Allow-Headers"] == "authorization"
                assert "POST" in r.headers["Access-Control-Allow-Methods"]
        # without an Origin an OPTIONS request is an ordinary request: an unknown route, One API's 404
        async with http.options(gateway.url + "/v1/chat/completions") as r:
            assert r.status == 404 and "Invalid URL (OPTIONS /v1/chat/completions)" in (await r.json())["error"]["message"]
        # real answers, streamed or not, carry the headers too; without an Origin they don't
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        auth = {"Authorization": f"Bearer {acct.key}"}
        for stream in (False, True):
            async with http.post(gateway.url + "/v1/chat/completions", json={**body, "stream": stream},
                                 headers={**auth, **origin}) as r:
                await r.read()
                assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://chat.example"
                assert r.headers["Vary"] == "Origin"
        async with http.post(gateway.url + "/v1/chat/completions", json=body, headers=auth) as r:
            await r.read()
            assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers
        async with http.get(gateway.url + "/v1/models", headers={**auth, **origin}) as r:
            assert r.status == 200 and r.headers["Access-Control-Allow-Origin"] == "https://chat.example"
