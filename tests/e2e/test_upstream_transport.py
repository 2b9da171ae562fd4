"""How the gateway reaches upstreams: bodies it must read arrive uncompressed, RELAY_PROXY carries every
upstream call, kept connections are reused across requests."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import openai
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.core import pipeline
from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_upstream import MockOpenAI
from tests.unit.converters.vectors import assert_subset, load


class GzippingAnthropic:
    """Answers like Anthropic, gzip-compressed whenever the request accepts gzip (as CDNs in front of
    providers do); records each request's Accept-Encoding."""

    def __init__(self) -> None:
        self.case = load("anthropic")["cases"]["chat_basic"]
        self.accepted: list[str | None] = []
        app = web.Application()
        app.router.add_post("/v1/messages", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        accept = request.headers.get("Accept-Encoding")
        self.accepted.append(accept)
        body = orjson.dumps(self.case["upstream_response"]["body"])
        if accept and "gzip" in accept:
            return web.Response(body=gzip.compress(body), headers={"Content-Type": "application/json",
                                                                   "Content-Encoding": "gzip"})
        return web.Response(body=body, content_type="application/json")


@pytest.mark.parametrize("via_proxy", [False, True], ids=["direct", "relay-proxy"])
async def test_a_converted_answer_is_never_compressed(db: Database, forward_proxy: tuple[ForwardProxy, str],
                                                      via_proxy: bool) -> None:
    """The converter reads the upstream body, so the gateway asks for it uncompressed (either client)."""
    upstream = GzippingAnthropic()
    await upstream.server.start_server()
    gateway = await Gateway(db, load_settings({"RELAY_PROXY": forward_proxy[1]} if via_proxy else {}, [])).start()
    try:
        acct = await add_account(db)
        request = upstream.case["openai_request"]
        await add_channel(db, base_url=str(upstream.server.make_url("")).rstrip("/"), type=14, key="sk-ant-test",
                          models=request["model"])
        await gateway.reload()
        client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
        answer = await client.chat.completions.create(**request)
        assert_subset(upstream.case["expected_openai_response"], answer.model_dump())
        assert upstream.accepted == ["identity"]
        assert bool(forward_proxy[0].sent) == via_proxy
    finally:
        await gateway.close()
        await upstream.server.close()


class ForwardProxy:
    """A plain HTTP forward proxy on 127.0.0.1 (to one upstream per connection): pipes and records the bytes."""

    def __init__(self) -> None:
        self.sent = bytearray()   # everything clients sent through it
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readline()
            self.sent += first
            target = urlsplit(first.split()[1].decode())
            up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port)
            up_writer.write(first)
            await asyncio.gather(self._pipe(reader, up_writer, self.sent), self._pipe(up_reader, writer))
        except (ConnectionError, IndexError, asyncio.IncompleteReadError):
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, record: bytearray | None = None) -> None:
        try:
            while data := await reader.read(65536):
                if record is not None:
                    record += data
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def forward_proxy() -> AsyncIterator[tuple[ForwardProxy, str]]:
    proxy = ForwardProxy()
    url = await proxy.start()
    yield proxy, url
    assert proxy.server is not None
    proxy.server.close()


async def test_relay_proxy_carries_the_upstream_calls(db: Database, upstream: MockOpenAI,
                                                      forward_proxy: tuple[ForwardProxy, str]) -> None:
    proxy, proxy_url = forward_proxy
    gateway = await Gateway(db, load_settings({"RELAY_PROXY": proxy_url}, [])).start()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=upstream.url)
        await gateway.reload()
        client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
        answer = await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
        stream = await client.chat.completions.create(model="gpt-4o-mini", stream=True,
                                                      messages=[{"role": "user", "content": "hi"}])
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert proxy.sent.count(f"POST {upstream.url}/v1/chat/completions HTTP/1.1\r\n".encode()) == 2
        assert len(upstream.requests) == 2
    finally:
        await gateway.close()


async def test_upstream_connections_are_kept(gateway: Gateway, db: Database) -> None:
    """Sequential requests ride one kept connection to the upstream; concurrent ones open more."""
    peers: set[tuple[str, int]] = set()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response({"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                               "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        acct = await add_account(db)
        await add_channel(db, base_url=str(server.make_url("")).rstrip("/"))
        await gateway.reload()
        client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
        for _ in range(5):
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert len(peers) == 1
        await asyncio.gather(*(client.chat.completions.create(model="gpt-4o-mini",
                                                              messages=[{"role": "user", "content": "hi"}])
                               for _ in range(8)))
        assert 1 < len(peers) <= 8
    finally:
        await server.close()


ERROR_HEAD = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
ERROR_START = b'{"error":{"message":"overloaded, try'


@pytest.mark.parametrize("ending", ["cut", "stalled"])
async def test_an_error_answer_whose_body_never_completes(gateway: Gateway, db: Database, ending: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A 503 whose body is cut short, or stops coming: the client gets the status at once with an
    OpenAI-style error, and nothing is charged."""
    monkeypatch.setattr(pipeline, "ERROR_BODY_WAIT", 0.5)
    stalled: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ERROR_HEAD + ERROR_START)
        await writer.drain()
        if ending == "cut":
            writer.close()
        else:
            stalled.append(writer)   # kept open, silent

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        acct = await add_account(db, quota=10_000, token_quota=5_000)
        cid = await add_channel(db, base_url=f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await gateway.reload()
        client = openai.AsyncOpenAI(api_key=acct.key, base_url=gateway.url + "/v1", max_retries=0)
        with pytest.raises(openai.APIStatusError) as info:
            await asyncio.wait_for(client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]), 5)
        assert info.value.status_code == 503
        assert isinstance(info.value.body, dict) and info.value.body.get("message")
        await gateway.flush()
        assert await balances(db, acct, cid) == {"user_quota": 10_000, "user_used": 0, "requests": 0,
                                                 "token_remain": 5_000, "token_used": 0, "channel_used": 0}
        assert await logs(db) == []
    finally:
        for writer in stalled:
            writer.close()
        server.close()
