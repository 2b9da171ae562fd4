"""POST /v1/rerank and POST /v1/images/edits (#15 item 4): passed through to the channels that serve them, billed
and logged; other channels and bad input refused with a clear OpenAI-style 400 before any upstream call."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from aiohttp.test_utils import TestServer

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
RERANKER = "jina-reranker-v2-base-multilingual"


class Upstream:
    """Answers rerank as Jina (usage.total_tokens) or Cohere (search units only), and images/edits as OpenAI."""

    def __init__(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        self.requests: list[tuple[str, dict[str, str], bytes, dict[str, Any]]] = []
        self.sent: list[bytes] = []

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        form: dict[str, Any] = {}
        if request.content_type == "multipart/form-data":
            form = await _form(request.headers["Content-Type"], raw)
        self.requests.append((request.path_qs, dict(request.headers), raw, form))
        if request.path.endswith("/rerank"):
            body = orjson.loads(raw)
            results = [{"index": i, "relevance_score": 1 - i / 10} for i in range(len(body["documents"]))]
            if "cohere" in request.path:
                answer = {"id": "r1", "results": results, "meta": {"billed_units": {"search_units": 1}}}
            else:
                answer = {"model": body["model"], "results": results[: body.get("top_n") or len(results)],
                          "usage": {"total_tokens": 42}}
        else:
            answer = {"created": 1700000000, "data": [{"b64_json": "aGk="} for _ in range(int(form.get("n", "1")))]}
        data = orjson.dumps(answer)
        self.sent.append(data)
        return web.Response(body=data, content_type="application/json")


async def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """The parts of a multipart body: text fields as str, files as (filename, bytes)."""
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), 1 << 16, loop=loop)
    stream.feed_data(raw)
    stream.feed_eof()
    reader = aiohttp.MultipartReader({"Content-Type": content_type}, stream)
    out: dict[str, Any] = {}
    while (part := await reader.next()) is not None:
        assert isinstance(part, aiohttp.BodyPartReader)
        data = bytes(await part.read())
        out[part.name or ""] = (part.filename, data) if part.filename else data.decode()
    return out


@pytest.fixture
async def mock() -> AsyncIterator[Upstream]:
    upstream = Upstream()
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


async def _post(gateway: Gateway, key: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(gateway.url + path, json=body,
                                                          headers={"Authorization": key}) as r:
        return r.status, orjson.loads(await r.read())


async def test_rerank_passes_through_and_bills_the_answers_usage_or_counts(gateway: Gateway, db: Database,
                                                                           mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    jina = await add_channel(db, base_url=mock.url + "/jina/v1", type=50, models=RERANKER, name="jina",
                             key="jina-secret")            # "OpenAI Compatible": the base URL carries /v1
    await gateway.reload()
    body = {"model": RERANKER, "query": "Which is a fruit?", "documents": ["apple", {"text": "carrot"}, "pear"],
            "top_n": 2, "return_documents": False}
    before = await balances(db, acct, jina)
    status, answer = await _post(gateway, acct.key, "/v1/rerank", body)
    assert status == 200 and orjson.dumps(answer) == mock.sent[-1]           # the answer as the upstream wrote it
    path, headers, raw, _ = mock.requests[-1]
    assert path == "/jina/v1/rerank" and headers["Authorization"] == "Bearer jina-secret"
    assert orjson.loads(raw) == body                                          # the client's body, unchanged
    await gateway.flush()
    [row] = await logs(db)
    quota = gateway.runtime.prices.quota_for(42, 0, RERANKER, 50, "default")
    assert (row.model_name, row.prompt_tokens, row.completion_tokens, row.usage_source, row.quota) == \
        (RERANKER, 42, 0, "upstream", quota)
    after = await balances(db, acct, jina)
    assert before["token_remain"] - after["token_remain"] == quota == after["channel_used"]

    # Cohere answers with search units only: the query and documents are counted here
    await add_channel(db, base_url=mock.url + "/cohere", type=35, models="rerank-v3.5", name="cohere")
    await gateway.reload()
    status, answer = await _post(gateway, acct.key, "/v1/rerank", {**body, "model": "rerank-v3.5"})
    assert status == 200 and answer["meta"] == {"billed_units": {"search_units": 1}}
    assert mock.requests[-1][0] == "/cohere/v1/rerank"
    await gateway.flush()
    row = (await logs(db))[-1]
    tokenizer = gateway.runtime.tokenizer
    counted = sum(tokenizer.count_text(t, "rerank-v3.5") for t in ("Which is a fruit?", "apple", "carrot", "pear"))
    assert (row.prompt_tokens, row.completion_tokens) == (counted, 0)
    assert row.quota == gateway.runtime.prices.quota_for(counted, 0, "rerank-v3.5", 35, "default")


async def test_rerank_is_refused_by_channels_without_it_and_for_bad_input(gateway: Gateway, db: Database,
                                                                          mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    await add_channel(db, base_url=mock.url, type=36, models=RERANKER, name="deepseek")   # no rerank
    await gateway.reload()
    before = await balances(db, acct)
    body = {"model": RERANKER, "query": "q", "documents": ["a"]}
    status, answer = await _post(gateway, acct.key, "/v1/rerank", body)
    assert status == 400 and "does not support /v1/rerank" in answer["error"]["message"]
    assert "SiliconFlow" in answer["error"]["message"]                 # says which channel types have it
    for bad, says in (({"model": RERANKER, "documents": ["a"]}, "query is required"),
                      ({"model": RERANKER, "query": "q", "documents": []}, "documents is required"),
                      ({"model": RERANKER, "query": "q", "documents": [1]}, "documents[0]"),
                      ({"model": RERANKER, "query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
                      ({"query": "q", "documents": ["a"]}, "model is required")):
        status, answer = await _post(gateway, acct.key, "/v1/rerank", bad)
        assert status == 400 and says in answer["error"]["message"], (bad, answer)
        assert set(answer["error"]) == {"message", "type", "param", "code"}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/rerank", data=b"{not json",
                                                          headers={"Authorization": acct.key}) as r:
        assert r.status == 400 and "error" in orjson.loads(await r.read())
    assert mock.requests == []                                         # never called
    await gateway.flush()
    assert (await balances(db, acct))["token_remain"] == before["token_remain"]   # nothing charged


async def test_image_edits_with_the_openai_sdk(gateway: Gateway, db: Database, mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    cid = await add_channel(db, base_url=mock.url, type=1, models="dall-e-2,gpt-image-1", key="sk-up")
    await gateway.reload()
    before = await balances(db, acct, cid)
    client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
    image = io.BytesIO(PNG)
    image.name = "cat.png"
    mask = io.BytesIO(PNG[::-1])
    mask.name = "mask.png"
    result = await client.images.edit(image=image, mask=mask, prompt="a hat on the cat", model="dall-e-2", n=2,
                                      size="512x512", response_format="b64_json")
    assert [d.b64_json for d in result.data] == ["aGk=", "aGk="]
    path, headers, _, form = mock.requests[-1]
    assert path == "/v1/images/edits" and headers["Authorization"] == "Bearer sk-up"
    assert form["image"] == ("cat.png", PNG) and form["mask"] == ("mask.png", PNG[::-1])
    assert (form["prompt"], form["model"], form["n"], form["size"]) == ("a hat on the cat", "dall-e-2", "2", "512x512")
    await gateway.flush()
    [row] = await logs(db)
    quota = gateway.runtime.prices.image_cost("dall-e-2", "512x512", "", 2, "default", 1)
    assert (row.model_name, row.quota) == ("dall-e-2", quota) and quota > 0
    after = await balances(db, acct, cid)
    assert before["token_remain"] - after["token_remain"] == quota == after["channel_used"]

    # bad input: a clear 400 in OpenAI's shape, before any upstream call
    calls = len(mock.requests)
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(image=io.BytesIO(PNG), prompt="", model="dall-e-2")
    assert "prompt is required" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(image=io.BytesIO(PNG), prompt="x", model="dall-e-2", n=11)
    assert "n must be" in info.value.message
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(image=io.BytesIO(PNG), prompt="x", model="dall-e-2", size="100x100")  # type: ignore[arg-type]
    assert "size not supported" in info.value.message
    status, answer = await _post(gateway, acct.key, "/v1/images/edits", {"prompt": "x", "model": "dall-e-2"})
    assert status == 400 and "multipart/form-data" in answer["error"]["message"]
    data = aiohttp.FormData({"prompt": "x", "model": "dall-e-2"}, default_to_multipart=True)
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/images/edits", data=data,
                                                          headers={"Authorization": acct.key}) as r:
        assert r.status == 400 and "image is required" in orjson.loads(await r.read())["error"]["message"]
    assert len(mock.requests) == calls


async def test_image_edits_with_a_mapped_model_send_the_mapped_model(gateway: Gateway, db: Database,
                                                                      mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    await add_channel(db, base_url=mock.url, type=1, models="my-edit", model_mapping='{"my-edit": "dall-e-2"}')
    await gateway.reload()
    client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
    await client.images.edit(image=("a.png", PNG, "image/png"), prompt="hat", model="my-edit", size="256x256")
    _, _, _, form = mock.requests[-1]
    assert (form["model"], form["prompt"], form["image"]) == ("dall-e-2", "hat", ("a.png", PNG))
    await gateway.flush()
    [row] = await logs(db)
    assert row.quota == gateway.runtime.prices.image_cost("dall-e-2", "256x256", "", 1, "default", 1)


async def test_image_edits_on_an_azure_channel_go_to_the_deployment(gateway: Gateway, db: Database,
                                                                     mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    await add_channel(db, base_url=mock.url, type=3, models="dall-e-2", key="azure-key",
                      config='{"api_version":"2025-04-01-preview"}')
    await gateway.reload()
    client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
    result = await client.images.edit(image=("a.png", PNG, "image/png"), prompt="hat", model="dall-e-2")
    assert len(result.data) == 1
    path, headers, _, form = mock.requests[-1]
    assert path == "/openai/deployments/dall-e-2/images/edits?api-version=2025-04-01-preview"
    assert headers["api-key"] == "azure-key"
    assert form["prompt"] == "hat" and form["image"] == ("a.png", PNG)


async def test_image_edits_are_refused_by_channels_that_are_not_openai(gateway: Gateway, db: Database,
                                                                       mock: Upstream) -> None:
    acct = await add_account(db, quota=10**8, token_quota=10**8)
    await add_channel(db, base_url=mock.url, type=14, models="dall-e-2")       # Anthropic: no image edits
    await gateway.reload()
    client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        await client.images.edit(image=io.BytesIO(PNG), prompt="x", model="dall-e-2")
    assert "does not support /v1/images/edits" in info.value.message
    assert mock.requests == []
    await gateway.flush()
    assert (await balances(db, acct))["token_remain"] == 10**8          # held, then given back
