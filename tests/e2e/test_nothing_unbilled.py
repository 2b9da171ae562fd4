"""Nothing a client receives goes unbilled (#14 item 2), and a huge prompt cannot stall the gateway (item 5)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs

ARGS = '{"city": "Paris", "unit": "celsius", "days": 3}'


def _delta_chunks(kind: str) -> list[dict[str, Any]]:
    """200 stream chunks that carry no `content`, only fields older counters skipped; no usage chunk."""
    if kind == "function_call":
        deltas = [{"function_call": {"name": "weather", "arguments": ""}}] + \
                 [{"function_call": {"arguments": ARGS}}] * 199
    elif kind == "refusal":
        deltas = [{"refusal": "I cannot help with that, sorry. "}] * 200
    else:
        deltas = [{"audio": {"transcript": "the weather in Paris is mild today "}}] * 200
    return [{"id": "x", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": d}]} for d in deltas]


class NoUsageUpstream:
    def __init__(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.server = TestServer(app, host="127.0.0.1")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        kind = body["messages"][0]["content"]
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None}
            if kind == "function_call":
                message["function_call"] = {"name": "weather", "arguments": ARGS * 200}
            elif kind == "refusal":
                message["refusal"] = "I cannot help with that, sorry. " * 200
            else:
                message["audio"] = {"id": "a", "transcript": "the weather in Paris is mild today " * 200}
            return web.json_response({"id": "x", "object": "chat.completion", "model": "gpt-4o-mini",
                                      "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in _delta_chunks(kind):
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


@pytest.fixture
async def no_usage() -> AsyncIterator[NoUsageUpstream]:
    upstream = NoUsageUpstream()
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


@pytest.mark.parametrize("kind", ["function_call", "refusal", "audio"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "answer"])
async def test_fields_other_than_content_are_counted_when_no_usage_comes(
        gateway: Gateway, no_usage: NoUsageUpstream, db: Database, kind: str, stream: bool) -> None:
    acct = await add_account(db)
    await add_channel(db, base_url=str(no_usage.server.make_url("")).rstrip("/"))
    await gateway.reload()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": kind}], "stream": stream}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                          headers={"Authorization": acct.key}) as r:
        assert r.status == 200
        await r.read()
    await gateway.flush()
    [row] = await logs(db)
    assert row.usage_source == "counted"
    assert row.completion_tokens >= 1000        # 200 pieces of several tokens each, all counted
    expected = gateway.runtime.prices.quota_for(row.prompt_tokens, row.completion_tokens, "gpt-4o-mini", 1, "default")
    assert row.quota == expected and row.quota > 100


async def test_a_huge_prompt_on_a_tiny_balance_is_refused_unread_and_stalls_nobody(
        gateway: Gateway, no_usage: NoUsageUpstream, db: Database) -> None:
    poor = await add_account(db, quota=1, token_quota=1, username="poor")
    rich = await add_account(db, username="rich")
    cid = await add_channel(db, base_url=str(no_usage.server.make_url("")).rstrip("/"))
    await gateway.reload()
    huge = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "lorem ipsum dolor " * 3_000_000}]}
    small = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "refusal"}]}
    counted: list[int] = []
    tokenizer = gateway.runtime.tokenizer
    original = tokenizer._count_text

    def spy(text: str, model: str) -> int:
        counted.append(len(text))
        return original(text, model)

    tokenizer._count_text = spy    # type: ignore[method-assign]
    async with aiohttp.ClientSession() as http:
        async def post(key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
            start = time.monotonic()
            async with http.post(gateway.url + "/v1/chat/completions", json=body, headers={"Authorization": key}) as r:
                return r.status, await r.json(), time.monotonic() - start

        results = await asyncio.gather(*(post(poor.key, huge) for _ in range(3)), post(rich.key, small))
    for status, answer, _ in results[:3]:
        assert status == 403 and answer["error"]["code"] == "pre_consume_token_quota_failed"
    assert results[3][0] == 200
    assert max(counted, default=0) < 1_000_000      # the 54 MB text was never handed to the tokenizer
    await gateway.flush()
    assert (await balances(db, poor, cid))["token_remain"] == 1


async def test_a_stream_longer_than_the_tap_cap_is_billed_by_its_final_usage(
        gateway: Gateway, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """#16: a stream past the usage tap's window (1 MiB; 64 KiB here) was billed by the text of its first part
    (868,009 counted tokens for 600,000 reported, measured on 45 MB); its final usage chunk now bills it."""
    monkeypatch.setattr("proxy.addons.usage_tap.WINDOW", 64 * 1024)
    usage = {"prompt_tokens": 9, "completion_tokens": 600_000, "total_tokens": 600_009}

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "x", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
                 "choices": [{"index": 0, "delta": {"content": "lorem ipsum dolor sit amet " * 20}}]}
        for _ in range(400):                                        # about 260 KB
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        final = {"id": "x", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [], "usage": usage}
        await response.write(b"data: " + orjson.dumps(final) + b"\n\ndata: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        acct = await add_account(db, quota=10**9, token_quota=10**9)
        await add_channel(db, base_url=str(server.make_url("")).rstrip("/"))
        await gateway.reload()
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "go"}], "stream": True,
                "stream_options": {"include_usage": True}}
        async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                              headers={"Authorization": acct.key}) as r:
            assert r.status == 200
            received = await r.read()
        assert len(received) > 4 * 64 * 1024
        await gateway.flush()
        [row] = await logs(db)
        assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (9, 600_000, "upstream")
        assert row.quota == gateway.runtime.prices.quota_for(9, 600_000, "gpt-4o-mini", 1, "default")
    finally:
        await server.close()
