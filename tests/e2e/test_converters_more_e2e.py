"""The provider families the vector replayer cannot serve, end to end: the gateway in front of a local
server speaking the provider's wire format (WebSocket for Spark, an OAuth token endpoint for Baidu and
Vertex, task polling for Ali wanx and Replicate, binary event-stream frames for Bedrock, signed
requests for Tencent, Bedrock and Zhipu), a real client, the answer and the billed log row checked."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rules import load_prices
from store import Database
from store.models import Log
from tests.e2e.harness import Account, Gateway, add_account, add_channel, logs
from tests.e2e.mock_providers import (
    ProviderMock,
    check_hs256_jwt,
    check_rs256_jwt,
    check_sigv4,
    check_spark_url,
    check_tc3,
    json_response,
    send_stream,
)
from tests.e2e.mock_upstream import Recorded
from tests.unit.converters.vectors import assert_stream, assert_subset, load, stream_payloads


@pytest.fixture
async def gateway(db: Database) -> AsyncIterator[Gateway]:
    """The gateway of conftest, with task polls 10 ms apart instead of the relay's 1 s."""
    gw = await Gateway(db, poll_interval=0.01).start()
    yield gw
    await gw.close()


# ---------------------------------------------------------------- helpers

async def _setup(db: Database, gateway: Gateway, mock: ProviderMock, ctype: int, key: str, models: str,
                 config: dict[str, str] | None = None) -> Account:
    acct = await add_account(db)
    await add_channel(db, base_url=mock.url, type=ctype, key=key, models=models,
                      config=orjson.dumps(config).decode() if config else "")
    await gateway.reload()
    return acct


async def _post(gateway: Gateway, acct: Account, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.post(gateway.url + path, json=body, headers={"Authorization": "Bearer " + acct.key}) as resp:
        return resp.status, await resp.read()


def _sdk(gateway: Gateway, acct: Account) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)


async def _rows(gateway: Gateway, db: Database) -> list[Log]:
    await gateway.flush()
    return await logs(db)


def _check_billed(row: Log, model: str, ctype: int, prompt: int, completion: int, stream: bool) -> None:
    """The log row carries the upstream's usage and exactly the quota the price table gives for it."""
    assert (row.model_name, row.prompt_tokens, row.completion_tokens) == (model, prompt, completion)
    assert row.usage_source == "upstream"
    assert bool(row.is_stream) is stream
    assert row.quota == load_prices().quota_for(prompt, completion, model, ctype, "default")


def _with_model(expected: Any, model: str) -> Any:
    """A vector's expected answer for a client that asked another (priced) model name."""
    out = copy.deepcopy(expected)
    for item in out if isinstance(out, list) else [out]:
        if isinstance(item, dict) and "model" in item:
            item["model"] = model
    return out


def _stream_text(body: bytes) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in stream_payloads([body])
                   if isinstance(c, dict) and c.get("choices"))


# ---------------------------------------------------------------- iFlytek Spark (WebSocket)

SPARK_KEY = ("6d7e2f1a", "spark-api-secret", "spark-api-key")     # APPID|APISecret|APIKey


def _spark_socket(mock: ProviderMock, frames: list[dict[str, Any]]) -> None:
    async def conversation(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_spark_url(request, api_key=SPARK_KEY[2], api_secret=SPARK_KEY[1])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        mock.ws_messages.append(await ws.receive_json(timeout=5))
        for frame in frames:
            await ws.send_str(orjson.dumps(frame).decode())
        await ws.close()
        return ws

    mock.route("GET", "/v3.5/chat", conversation)    # Spark-Max


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_spark_over_websocket(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool) -> None:
    vectors = load("xunfei")
    _spark_socket(mock, vectors["upstream_frames"])
    acct = await _setup(db, gateway, mock, 18, "|".join(SPARK_KEY), "Spark-Max")
    request = dict(vectors["chat_request"]["openai_request"])
    if stream:
        request |= vectors["chat_stream"]["openai_request_extra"]
    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 200, (body, mock.failures)
    if stream:
        assert_stream(vectors["chat_stream"]["openai_chunks"], [body])
    else:
        assert_subset(vectors["chat_response"]["openai_response"]["body"], orjson.loads(body))
    assert not mock.failures
    [first] = mock.ws_messages                      # exactly one request frame
    assert_subset(vectors["chat_request"]["first_frame_sent"], first)
    assert mock.requests[0].headers["Upgrade"].lower() == "websocket"
    [row] = await _rows(gateway, db)
    _check_billed(row, "Spark-Max", 18, 13, 9, stream)


async def test_spark_error_frame_is_an_openai_error(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    vectors = load("xunfei")
    _spark_socket(mock, vectors["error"]["upstream_frames"])
    acct = await _setup(db, gateway, mock, 18, "|".join(SPARK_KEY), "Spark-Max")
    status, body = await _post(gateway, acct, "/v1/chat/completions", vectors["chat_request"]["openai_request"])
    expected = vectors["error"]["openai_error"]
    assert status == expected["status"], body
    error = orjson.loads(body)["error"]
    assert (error["type"], error["code"]) == ("xunfei_error", 10013)
    assert error["message"].startswith(expected["body"]["error"]["message"])
    assert await _rows(gateway, db) == []          # a failed call is refunded and not logged


# ---------------------------------------------------------------- Baidu ERNIE (OAuth token)

BAIDU_KEY = "baidu-client-id|baidu-client-secret"


class _BaiduOAuth:
    """Issues a fresh token per call; a token marked expired gets error_code 110 inside HTTP 200."""

    def __init__(self, mock: ProviderMock, answer: dict[str, Any], path: str, stream_raw: str = "") -> None:
        self.issued: list[str] = []
        self.expired: set[str] = set()
        self.used: list[str] = []
        self.answer, self.stream_raw = answer, stream_raw
        mock.route("POST", "/oauth/2.0/token", self.token)
        mock.route("POST", path, self.call)

    async def token(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert dict(request.query) == {"grant_type": "client_credentials", "client_id": "baidu-client-id",
                                       "client_secret": "baidu-client-secret"}
        self.issued.append(f"24.local-access-token-{len(self.issued) + 1}.2592000")
        return json_response({"access_token": self.issued[-1], "expires_in": 2592000, "scope": "public"})

    async def call(self, request: web.Request, rec: Recorded) -> web.StreamResponse:
        token = request.query["access_token"]
        self.used.append(token)
        assert token in self.issued, token
        assert "authorization" not in {k.lower() for k in rec.headers}   # no secret in a header
        if token in self.expired:
            return json_response({"error_code": 110, "error_msg": "Access token invalid or no longer valid"})
        if rec.json().get("stream"):
            return await send_stream(request, self.stream_raw.encode(), "text/event-stream")
        return json_response(self.answer)


async def test_baidu_token_fetched_once_cached_and_refreshed_after_110(gateway: Gateway, db: Database,
                                                                      mock: ProviderMock) -> None:
    vectors = load("baidu")
    oauth = _BaiduOAuth(mock, vectors["chat_response"]["upstream_response"]["body"],
                        "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions")
    acct = await _setup(db, gateway, mock, 15, BAIDU_KEY, "ERNIE-3.5-8K")
    request = vectors["chat_request"]["openai_request"]
    expected = vectors["chat_response"]["openai_response"]["body"]

    for _ in range(2):
        status, body = await _post(gateway, acct, "/v1/chat/completions", request)
        assert status == 200, (body, mock.failures)
        assert_subset(expected, orjson.loads(body))
    assert mock.hits["/oauth/2.0/token"] == 1                 # fetched once, then cached
    assert oauth.used == [oauth.issued[0]] * 2
    assert_subset(vectors["chat_request"]["upstream_request"]["body"], mock.requests[1].json())

    oauth.expired.add(oauth.issued[0])                        # Baidu revokes it: error_code 110 in HTTP 200
    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 401, body
    assert orjson.loads(body)["error"]["code"] == 110

    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 200, (body, mock.failures)
    assert mock.hits["/oauth/2.0/token"] == 2                 # the next request fetched a new token
    assert oauth.used[-1] == oauth.issued[1]
    assert not mock.failures
    rows = await _rows(gateway, db)
    assert len(rows) == 3                                     # the failed call is not billed
    for row in rows:
        _check_billed(row, "ERNIE-3.5-8K", 15, 7, 9, False)


async def test_baidu_stream_and_embeddings(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    vectors = load("baidu")
    stream = vectors["chat_stream"]
    _BaiduOAuth(mock, {}, "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions", stream["upstream_transcript_raw"])
    emb = vectors["embeddings"]
    mock.route("POST", "/rpc/2.0/ai_custom/v1/wenxinworkshop/embeddings/embedding-v1",
               lambda request, rec: _json_after_check(rec, emb["upstream_response"]["body"],
                                                      emb["upstream_request"]["body"]))
    acct = await _setup(db, gateway, mock, 15, BAIDU_KEY, "ERNIE-3.5-8K,Embedding-V1")

    status, body = await _post(gateway, acct, "/v1/chat/completions", stream["openai_request"])
    assert status == 200, (body, mock.failures)
    assert_stream(stream["openai_chunks"], [body])
    status, body = await _post(gateway, acct, "/v1/embeddings", emb["openai_request"])
    assert status == 200, (body, mock.failures)
    assert_subset(emb["openai_response"]["body"], orjson.loads(body))
    assert mock.hits["/oauth/2.0/token"] == 1                 # one token for both calls
    assert not mock.failures
    chat, embeddings = await _rows(gateway, db)
    _check_billed(chat, "ERNIE-3.5-8K", 15, 7, 9, True)
    _check_billed(embeddings, "Embedding-V1", 15, 2, 0, False)


async def test_baidu_stream_after_110_also_refreshes_the_token(gateway: Gateway, db: Database,
                                                                mock: ProviderMock) -> None:
    """A stream call answered with the 110 JSON (HTTP 200) relays it as an error event; the dead token
    is dropped all the same, so the next call fetches a new one."""
    stream = load("baidu")["chat_stream"]
    oauth = _BaiduOAuth(mock, {}, "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions", stream["upstream_transcript_raw"])
    acct = await _setup(db, gateway, mock, 15, BAIDU_KEY, "ERNIE-3.5-8K")
    status, body = await _post(gateway, acct, "/v1/chat/completions", stream["openai_request"])
    assert status == 200 and _stream_text(body) == "Hello! How can I help you today?", body
    oauth.expired.add(oauth.issued[0])
    status, body = await _post(gateway, acct, "/v1/chat/completions", stream["openai_request"])
    assert status == 200                                      # the stream had started: the error is an event
    [event] = stream_payloads([body])
    assert event["error"]["code"] == 110
    status, body = await _post(gateway, acct, "/v1/chat/completions", stream["openai_request"])
    assert_stream(stream["openai_chunks"], [body])
    assert mock.hits["/oauth/2.0/token"] == 2 and oauth.used[-1] == oauth.issued[1]
    assert not mock.failures
    all_rows = await _rows(gateway, db)
    rows = [r for r in all_rows if r.usage_source == "upstream"]
    assert len(rows) == 2 == len(all_rows)                    # the stream that was only an error costs nothing
    for row in rows:
        _check_billed(row, "ERNIE-3.5-8K", 15, 7, 9, True)


async def _json_after_check(rec: Recorded, answer: Any, expected_body: Any = None,
                            headers: dict[str, str] | None = None) -> web.Response:
    if expected_body is not None:
        assert_subset(expected_body, rec.json())
    for name, value in (headers or {}).items():
        assert rec.headers.get(name) == value, (name, rec.headers.get(name))
    return json_response(answer)


# ---------------------------------------------------------------- Ali DashScope

ALI_KEY = "sk-dashscope-test"
ALI_CHAT = "/api/v1/services/aigc/text-generation/generation"


async def test_ali_chat_stream_and_not_and_embeddings(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    vectors = load("ali")

    async def chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == f"Bearer {ALI_KEY}"
        if rec.headers.get("X-DashScope-SSE") == "enable":
            assert_subset(vectors["chat_request_stream"]["upstream_request"]["body"], rec.json())
            return await send_stream(request, vectors["chat_stream"]["upstream_transcript_raw"].encode(),
                                     "text/event-stream;charset=UTF-8")
        assert "incremental_output" not in rec.json()["parameters"]
        return json_response(vectors["chat_response"]["upstream_response"]["body"])

    emb = vectors["embeddings"]
    mock.route("POST", ALI_CHAT, chat)
    mock.route("POST", "/api/v1/services/embeddings/text-embedding/text-embedding",
               lambda request, rec: _json_after_check(rec, emb["upstream_response"]["body"],
                                                      emb["upstream_request"]["body"],
                                                      {"Authorization": f"Bearer {ALI_KEY}"}))
    acct = await _setup(db, gateway, mock, 17, ALI_KEY, "qwen-plus,text-embedding-v1")
    client = _sdk(gateway, acct)

    request = dict(vectors["chat_request_stream"]["openai_request"])
    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 200, (body, mock.failures)
    assert_stream(vectors["chat_stream"]["openai_chunks"], [body])

    answer = await client.chat.completions.create(**{**request, "stream": False, "stream_options": None})
    assert answer.choices[0].message.content == "Hello! How can I help you today?"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (20, 9)

    # the SDK asks for base64 unless told otherwise; the relay encodes the provider's floats (float32)
    embedded = await client.embeddings.create(model="text-embedding-v1", input=["hello", "world"])
    for got, want in zip(embedded.data, emb["openai_response"]["body"]["data"], strict=True):
        assert got.embedding == pytest.approx(want["embedding"], rel=1e-6)
    assert embedded.usage.prompt_tokens == 2
    status, body = await _post(gateway, acct, "/v1/embeddings", {**emb["openai_request"], "encoding_format": "float"})
    assert status == 200, body
    assert_subset(emb["openai_response"]["body"], orjson.loads(body))
    assert not mock.failures
    streamed, plain, *embeddings = await _rows(gateway, db)
    _check_billed(streamed, "qwen-plus", 17, 20, 9, True)
    _check_billed(plain, "qwen-plus", 17, 20, 9, False)
    for row in embeddings:
        _check_billed(row, "text-embedding-v1", 17, 2, 0, False)


async def test_ali_wanx_image_task_polled_to_success(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    wanx = load("ali")["image_generation_wanx"]
    task_id = wanx["create_task_response"]["body"]["output"]["task_id"]
    answers = iter(wanx["poll_responses"])                     # RUNNING, then SUCCEEDED

    async def submit(request: web.Request, rec: Recorded) -> web.StreamResponse:
        for name, value in wanx["create_task_request"]["headers"].items():
            assert rec.headers.get(name) == value.replace("sk-0123456789abcdef0123456789abcdef", ALI_KEY), name
        assert_subset(wanx["create_task_request"]["body"], rec.json())
        return json_response(wanx["create_task_response"]["body"])

    async def poll(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == f"Bearer {ALI_KEY}"
        return json_response(next(answers)["body"])

    mock.route("POST", "/api/v1/services/aigc/text2image/image-synthesis", submit)
    mock.route("GET", f"/api/v1/tasks/{task_id}", poll)
    acct = await _setup(db, gateway, mock, 17, ALI_KEY, "wanx-v1")
    image = await _sdk(gateway, acct).images.generate(**wanx["openai_request"])
    assert [d.url for d in image.data] == [d["url"] for d in wanx["openai_response"]["body"]["data"]]
    assert mock.paths() == ["/api/v1/services/aigc/text2image/image-synthesis",
                            f"/api/v1/tasks/{task_id}", f"/api/v1/tasks/{task_id}"]
    assert not mock.failures
    [row] = await _rows(gateway, db)
    assert row.model_name == "wanx-v1"
    assert row.quota == load_prices().image_cost("wanx-v1", "1024x1024", "", 1, "default", 17) > 0


async def test_ali_wanx_failed_task_is_an_error(gateway: Gateway, db: Database, mock: ProviderMock) -> None:
    wanx = load("ali")["image_generation_wanx"]
    task_id = wanx["create_task_response"]["body"]["output"]["task_id"]
    failed = {"request_id": "r-2", "output": {"task_id": task_id, "task_status": "FAILED",
                                              "code": "DataInspectionFailed", "message": "Output data may contain inappropriate content."}}
    mock.route("POST", "/api/v1/services/aigc/text2image/image-synthesis",
               lambda request, rec: _json_after_check(rec, wanx["create_task_response"]["body"]))
    mock.route("GET", f"/api/v1/tasks/{task_id}", lambda request, rec: _json_after_check(rec, failed))
    acct = await _setup(db, gateway, mock, 17, ALI_KEY, "wanx-v1")
    status, body = await _post(gateway, acct, "/v1/images/generations", wanx["openai_request"])
    assert status == 400, body
    assert orjson.loads(body)["error"]["code"] == "DataInspectionFailed"
    assert await _rows(gateway, db) == []


# ---------------------------------------------------------------- Zhipu v4 (JWT from id.secret)

ZHIPU_ID, ZHIPU_SECRET = "3f1c6a2be8d94d07a5b2c9e1f4d8a7b6", "Xq7ZpL2mN9vR4sT1"
ZHIPU_ANSWER = {
    "id": "8313807536837492493", "created": 1715224840, "model": "glm-4-plus", "request_id": "8313807536837492493",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "你好！有什么可以帮你？"}}],
    "usage": {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14},
}


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_zhipu_v4(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool) -> None:
    vectors = load("zhipu")
    model = "glm-4-plus"    # priced, unlike the vectors' glm-4-flash

    async def chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
        scheme, _, token = rec.headers["Authorization"].partition(" ")
        claims = check_hs256_jwt(token, ZHIPU_SECRET)
        assert scheme == "Bearer" and claims["api_key"] == ZHIPU_ID
        assert claims["exp"] - claims["timestamp"] == 210_000                # ms, the official SDK's lifetime
        sent = rec.json()
        assert sent["model"] == model and sent["temperature"] == 1             # clamped into [0, 1]
        if sent.get("stream"):
            return await send_stream(request, vectors["v4_stream"]["upstream_transcript_raw"].encode(), "text/event-stream")
        return json_response(ZHIPU_ANSWER)

    mock.route("POST", "/api/paas/v4/chat/completions", chat)
    acct = await _setup(db, gateway, mock, 16, f"{ZHIPU_ID}.{ZHIPU_SECRET}", model)
    request = {**vectors["v4_chat_request"]["openai_request"], "model": model, "stream": stream}
    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 200, (body, mock.failures)
    if stream:
        assert_stream(_with_model(vectors["v4_stream"]["openai_chunks"], model), [body])
    else:
        answer = orjson.loads(body)
        assert answer["choices"][0]["message"]["content"] == "你好！有什么可以帮你？"
        assert answer["usage"] == {"prompt_tokens": 6, "completion_tokens": 8, "total_tokens": 14}
    assert not mock.failures
    [row] = await _rows(gateway, db)
    _check_billed(row, model, 16, *((6, 9) if stream else (6, 8)), stream)


# ---------------------------------------------------------------- Tencent Hunyuan (TC3-HMAC-SHA256)

TENCENT_KEY = ("1300000000", "AKIDlocaltestsecretid", "local-test-secret-key")   # AppId|SecretId|SecretKey


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_tencent_hunyuan_tc3_signed(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool) -> None:
    vectors = load("tencent")
    model = "hunyuan-turbo"   # priced, unlike the vectors' hunyuan-lite

    async def api(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_tc3(rec, TENCENT_KEY[1], TENCENT_KEY[2], "hunyuan")
        auth = rec.headers["Authorization"]
        assert auth.startswith(f"TC3-HMAC-SHA256 Credential={TENCENT_KEY[1]}/") and "/hunyuan/tc3_request, " in auth
        assert "SignedHeaders=content-type;host;x-tc-action, Signature=" in auth
        assert (rec.headers["X-TC-Action"], rec.headers["X-TC-Version"]) == ("ChatCompletions", "2023-09-01")
        assert rec.headers["Host"] == mock.host
        sent = rec.json()
        assert (sent["Model"], sent["Stream"]) == (model, stream)
        if stream:
            return await send_stream(request, vectors["chat_stream"]["upstream_transcript_raw"].encode(), "text/event-stream")
        return json_response(vectors["chat_response"]["upstream_response"]["body"])

    mock.route("POST", "/", api)
    acct = await _setup(db, gateway, mock, 23, "|".join(TENCENT_KEY), model)
    request = {**vectors["chat_stream" if stream else "chat_request"]["openai_request"], "model": model}
    status, body = await _post(gateway, acct, "/v1/chat/completions", request)
    assert status == 200, (body, mock.failures)
    if stream:
        assert_stream(_with_model(vectors["chat_stream"]["openai_chunks"], model), [body])
    else:
        assert_subset(_with_model(vectors["chat_response"]["openai_response"]["body"], model), orjson.loads(body))
    assert not mock.failures
    [row] = await _rows(gateway, db)
    _check_billed(row, model, 23, 3, 9, stream)


# ---------------------------------------------------------------- AWS Bedrock (SigV4, event stream)

AWS_AK, AWS_SK, AWS_REGION = "AKIDLOCALTEST", "local/test+secret", "us-east-1"


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "event-stream"])
async def test_bedrock_sigv4_and_event_stream(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool) -> None:
    cases = load("bedrock")["cases"]
    case = cases["stream_frames" if stream else "invoke_nonstream"]
    model_id = "anthropic.claude-3-5-haiku-20241022-v1:0"

    async def invoke(request: web.Request, rec: Recorded) -> web.StreamResponse:
        check_sigv4(rec, AWS_AK, AWS_SK, AWS_REGION, "bedrock")
        assert rec.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_AK}/")
        for name, value in case["upstream_request"]["headers"].items():
            if not value.startswith("<"):
                assert rec.headers.get(name) == value, name
        assert_subset(case["upstream_request"]["body"], rec.json())
        assert "model" not in rec.json() and "stream" not in rec.json()
        if stream:
            frames = b"".join(bytes.fromhex(h) for h in case["upstream_frames_hex"])
            return await send_stream(request, frames, "application/vnd.amazon.eventstream", piece=29)
        answer = case["upstream_response"]
        return json_response(answer["body"], headers=answer["headers"])

    action = "invoke-with-response-stream" if stream else "invoke"
    mock.route("POST", f"/model/{model_id}/{action}", invoke)
    acct = await _setup(db, gateway, mock, 33, f"{AWS_AK}|{AWS_SK}|{AWS_REGION}", "claude-3-5-haiku-20241022")
    status, body = await _post(gateway, acct, "/v1/chat/completions", case["openai_request"])
    assert status == 200, (body, mock.failures)
    if stream:
        assert_stream(case["expected_openai_stream"], [body])
        assert _stream_text(body) == "Hi there"
    else:
        assert_subset(case["expected_openai_response"], orjson.loads(body))
    assert not mock.failures
    [row] = await _rows(gateway, db)
    _check_billed(row, "claude-3-5-haiku-20241022", 33, *((11, 4) if stream else (15, 5)), stream)


# ---------------------------------------------------------------- Vertex AI (service-account token)

@pytest.fixture(scope="module")
def service_account() -> tuple[dict[str, str], rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {"type": "service_account", "project_id": "my-project", "private_key_id": "0123456789abcdef",
            "private_key": pem, "client_email": "gateway@my-project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"}
    return info, key.public_key()


async def test_vertex_token_exchange_cached_then_gemini(gateway: Gateway, db: Database, mock: ProviderMock,
                                                        service_account: tuple[dict[str, str], rsa.RSAPublicKey]) -> None:
    cases = load("vertexai")["cases"]
    regional, exchange = cases["gemini_regional"], cases["service_account_token"]
    gemini_stream = load("gemini")["cases"]["stream_sse"]
    info, public_key = service_account
    issued: list[str] = []

    async def token(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(rec.body.decode()).items()}
        assert form["grant_type"] == exchange["token_request"]["form"]["grant_type"]
        claims = check_rs256_jwt(form["assertion"], public_key)
        assert {k: claims[k] for k in ("iss", "scope", "aud")} == {
            k: exchange["jwt_claims"][k] for k in ("iss", "scope", "aud")}
        assert claims["exp"] - claims["iat"] == 3600
        issued.append(f"ya29.local-{len(issued) + 1}")
        return json_response({**exchange["token_response"], "access_token": issued[-1]})

    base = "/v1/projects/my-project/locations/us-central1/publishers/google/models"

    async def generate(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == f"Bearer {issued[0]}"
        assert_subset(regional["upstream_request"]["body"], rec.json())
        return json_response(regional["upstream_response"]["body"])

    async def stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == f"Bearer {issued[0]}"
        assert rec.query == "alt=sse"
        data = "".join(line + "\n" for line in gemini_stream["upstream_stream"]).encode()
        return await send_stream(request, data, "text/event-stream")

    mock.route("POST", "/token", token)
    mock.route("POST", f"{base}/gemini-2.0-flash-001:generateContent", generate)
    mock.route("POST", f"{base}/gemini-2.0-flash:streamGenerateContent", stream)
    acct = await _setup(db, gateway, mock, 42, json.dumps(info), "gemini-2.0-flash-001,gemini-2.0-flash",
                        regional["channel"])
    client = _sdk(gateway, acct)
    answer = await client.chat.completions.create(**regional["openai_request"])
    assert_subset(regional["expected_openai_response"], answer.model_dump())
    chunks = await client.chat.completions.create(**gemini_stream["openai_request"])
    text, usage = "", None
    async for chunk in chunks:
        text += "".join(c.delta.content or "" for c in chunk.choices)
        usage = chunk.usage or usage
    assert text == "Hello!" and (usage.prompt_tokens, usage.completion_tokens) == (8, 3)
    assert mock.hits["/token"] == 1 and len(issued) == 1          # one exchange, cached for the second call
    assert not mock.failures
    plain, streamed = await _rows(gateway, db)
    _check_billed(plain, "gemini-2.0-flash-001", 42, 8, 3, False)
    _check_billed(streamed, "gemini-2.0-flash", 42, 8, 3, True)


# ---------------------------------------------------------------- Replicate (prediction polling)

REPLICATE_MODEL = "meta/meta-llama-3-8b-instruct"


def _replicate(mock: ProviderMock) -> dict[str, Any]:
    """create → starting; polls → processing, then succeeded with the output tokens and metrics."""
    pid = "gm3qorzdhgbfurvjtvhg6dckhu"
    base = {"id": pid, "model": REPLICATE_MODEL, "version": "dp-8e0c4d1e", "logs": "", "output": None,
            "error": None, "created_at": "2024-05-09T03:20:39.765994657Z",
            "urls": {"get": f"https://api.replicate.com/v1/predictions/{pid}",
                     "cancel": f"https://api.replicate.com/v1/predictions/{pid}/cancel",
                     "stream": f"https://stream.replicate.com/v1/files/{pid}"}}
    seen: dict[str, Any] = {"states": iter([
        {"status": "processing", "output": ["Hello"]},
        {"status": "succeeded", "output": ["Hello", "!", " How", " can", " I", " help", "?"],
         "completed_at": "2024-05-09T03:20:41.123456Z",
         "metrics": {"input_token_count": 12, "output_token_count": 7, "predict_time": 0.5}},
    ])}

    async def create(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == "Bearer r8_localtest"
        seen["input"] = rec.json()["input"]
        return json_response({**base, "input": seen["input"], "status": "starting"}, status=201)

    async def poll(request: web.Request, rec: Recorded) -> web.StreamResponse:
        assert rec.headers["Authorization"] == "Bearer r8_localtest"
        return json_response({**base, "input": seen["input"], **next(seen["states"])})

    mock.route("POST", f"/v1/models/{REPLICATE_MODEL}/predictions", create)
    mock.route("GET", f"/v1/predictions/{pid}", poll)
    return seen


@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_replicate_prediction_polled(gateway: Gateway, db: Database, mock: ProviderMock, stream: bool) -> None:
    seen = _replicate(mock)
    acct = await _setup(db, gateway, mock, 46, "r8_localtest", REPLICATE_MODEL)
    client = _sdk(gateway, acct)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}]
    if stream:
        chunks = await client.chat.completions.create(model=REPLICATE_MODEL, messages=messages, max_tokens=64,
                                                      stream=True, stream_options={"include_usage": True})
        text, usage, finish = "", None, None
        async for chunk in chunks:
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
    else:
        answer = await client.chat.completions.create(model=REPLICATE_MODEL, messages=messages, max_tokens=64)
        text, usage, finish = answer.choices[0].message.content, answer.usage, answer.choices[0].finish_reason
    assert (text, finish) == ("Hello! How can I help?", "stop")
    assert (usage.prompt_tokens, usage.completion_tokens) == (12, 7)
    assert seen["input"] == {"prompt": "system: Be brief.\nuser: Hello\n", "max_tokens": 64}
    assert mock.paths() == [f"/v1/models/{REPLICATE_MODEL}/predictions"] + ["/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu"] * 2
    assert not mock.failures
    [row] = await _rows(gateway, db)
    _check_billed(row, REPLICATE_MODEL, 46, 12, 7, stream)


# ---------------------------------------------------------------- the channel-type table stays true

def test_channel_types_doc_lists_the_catalog() -> None:
    """docs/channel-types.md has a row for each of One API's 52 types with its name, API style and base URL,
    and no row for a type the catalog lacks. A type added later needs no row (adding an OpenAI-compatible
    provider is one catalog entry plus prices, #13): the doc may lag, it may not lie. Its client-dialect columns
    say what the catalog and the envelopes do: native (passed through, or in the cloud's envelope), converted
    (through the hub), or — (the raw proxy type)."""
    from pathlib import Path

    from proxy.converters.dialects.envelopes import ENVELOPE_STYLES
    from rules import load_catalog

    doc = (Path(__file__).resolve().parents[2] / "docs" / "channel-types.md").read_text(encoding="utf-8")
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 13 and cells[0].isdigit():
            rows[int(cells[0])] = cells
    catalog = {t.id: t for t in load_catalog()}
    assert set(rows) <= set(catalog) and len(rows) >= 52
    for t in (catalog[i] for i in sorted(rows)):
        _, name, style, base, *caps = rows[t.id]
        caps, dialects = caps[:6], caps[6:]
        assert (name, style, base) == (t.name, f"`{t.api_style}`", f"`{t.base_url}`" if t.base_url else "—")
        assert all(c.split(" ")[0] in {"E2E", "unit", "pass", "untested", "no", "—"} for c in caps), caps
        expected = ["—" if t.api_style == "proxy" else "native" if t.speaks(d) or t.api_style in ENVELOPE_STYLES.get(
            d, ()) else "converted" for d in ("anthropic", "responses", "gemini")]
        assert [c.split(" ")[0] for c in dialects] == expected, (t.id, dialects)


async def test_a_silent_spark_socket_ends_at_the_read_limit(db: Database, mock: ProviderMock) -> None:
    """A WebSocket upstream that takes the request and never answers: with RELAY_TIMEOUT unset, the larger
    of RELAY_FIRST_BYTE_TIMEOUT and RELAY_IDLE_TIMEOUT bounds the wait for a message; refunded."""
    import asyncio
    import time

    from settings import load_settings
    from tests.e2e.harness import balances

    async def silent(request: web.Request, rec: Recorded) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive_json(timeout=5)
        await asyncio.sleep(5)
        return ws

    mock.route("GET", "/v3.5/chat", silent)
    gateway = await Gateway(db, load_settings({"RELAY_FIRST_BYTE_TIMEOUT": "0.5", "RELAY_IDLE_TIMEOUT": "0.3"},
                                              [])).start()
    try:
        acct = await _setup(db, gateway, mock, 18, "|".join(SPARK_KEY), "Spark-Max")
        started = time.monotonic()
        status, body = await _post(gateway, acct, "/v1/chat/completions",
                                   {"model": "Spark-Max", "messages": [{"role": "user", "content": "hi"}]})
        assert status >= 500 and time.monotonic() - started < 3, (status, body)
        assert "upstream sent nothing for 0.5s" in orjson.loads(body)["error"]["message"]
        await gateway.flush()
        assert (await balances(db, acct))["token_used"] == 0
    finally:
        await gateway.close()
