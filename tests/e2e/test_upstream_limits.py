"""Upstreams that hang, pause or crawl, and clients that leave: time limits, error events, closed
connections and refunds, against a scripted upstream on 127.0.0.1 (a real socket that answers as told)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from proxy.app import create_app
from settings import load_settings
from store import Database
from tests.conftest import BACKENDS
from tests.e2e.harness import Gateway, add_account, add_channel, balances

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]   # what the upstream does once it has the request
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def sse_chunk(text: str) -> bytes:
    event = b"data: " + orjson.dumps({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
                                      "choices": [{"index": 0, "delta": {"content": text}}]}) + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(event), event)


DONE = b"e\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"


class ScriptedUpstream:
    """Accepts, reads one request, runs the script; counts open connections and when each one closed."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.open = 0
        self.closed_at: list[float] = []
        self.got_request = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.append(writer)
        self.open += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                          if line.startswith(b"content-length:"))
            await reader.readexactly(length)
            self.got_request.set()
            await self.script(writer)
            await reader.read()   # until the gateway closes its side
        except (asyncio.IncompleteReadError, ConnectionError, RuntimeError):
            pass
        finally:
            self.open -= 1
            self.closed_at.append(time.monotonic())
            writer.close()


def hang() -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        pass   # never answers; _serve then waits for the gateway to close
    return script


def stream(pieces: int, gap: float, pause_after: int | None = None, pause: float = 0.0) -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        for i in range(pieces):
            if i:
                await asyncio.sleep(pause if i == pause_after else gap)
            writer.write(sse_chunk(f"w{i} "))
            await writer.drain()
        writer.write(DONE)
        await writer.drain()
    return script


class ServedGateway(Gateway):
    """The gateway under aiohttp's AppRunner as `one-api` serves it (startup/serve.py): unlike aiohttp's
    test server, it does not cancel a handler whose client disconnected (handler_cancellation off)."""

    runner: web.AppRunner | None = None
    port = 0

    async def start(self) -> ServedGateway:
        self.runner = web.AppRunner(create_app(self.settings, self.runtime), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site.port
        return self

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def scripted() -> AsyncIterator[list[ScriptedUpstream]]:
    made: list[ScriptedUpstream] = []
    yield made
    for upstream in made:
        await upstream.close()


async def gateway_for(db: Database, script: Script, made: list[ScriptedUpstream], served: bool = False,
                      **env: str) -> tuple[Gateway, ScriptedUpstream]:
    upstream = ScriptedUpstream(script)
    made.append(upstream)
    await add_channel(db, base_url=await upstream.start())
    gw = await (ServedGateway if served else Gateway)(db, load_settings(env, [])).start()
    await gw.reload()
    return gw, upstream


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_hanging_upstream_ends_at_the_first_byte_limit_and_costs_nothing(
        db: Database, scripted: list[ScriptedUpstream]) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    gw, upstream = await gateway_for(db, hang(), scripted, RELAY_FIRST_BYTE_TIMEOUT="0.5")
    try:
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=CHAT,
                                                              headers={"Authorization": acct.key}) as r:
            status, body = r.status, await r.json()
        took = time.monotonic() - started
        assert status == 504 and 0.4 < took < 2.0
        assert "no answer within 0.5s" in body["error"]["message"]
        assert body["error"]["type"] == "one_api_error"
        await asyncio.sleep(0.1)
        assert upstream.open == 0                  # the hung connection was closed, not kept
        await gw.flush()
        b = await balances(db, acct)
        assert (b["user_quota"], b["token_remain"], b["user_used"], b["token_used"]) == (10_000, 5_000, 0, 0)
    finally:
        await gw.close()


async def test_a_stream_that_pauses_past_the_idle_limit_ends_with_an_error_event(
        db: Database, scripted: list[ScriptedUpstream]) -> None:
    acct = await add_account(db)
    gw, upstream = await gateway_for(db, stream(4, 0.05, pause_after=2, pause=3.0), scripted,
                                     RELAY_IDLE_TIMEOUT="0.5")
    try:
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                                              headers={"Authorization": acct.key}) as r:
            assert r.status == 200
            received = await r.read()
        assert time.monotonic() - started < 2.0
        assert b"w0 " in received and b"w1 " in received and b"w2 " not in received
        events = [line for line in received.split(b"\n\n") if line]
        error = orjson.loads(events[-1].removeprefix(b"data: "))["error"]
        assert "sent nothing for 0.5s" in error["message"] and error["code"] == "read_response_body_failed"
    finally:
        await gw.close()


async def test_a_slow_healthy_stream_is_not_cut_by_the_idle_limit_but_relay_timeout_is_a_total(
        db: Database, scripted: list[ScriptedUpstream]) -> None:
    """One piece every 0.3 s for about 2 s: the idle limit (0.5 s) lets it through whole; RELAY_TIMEOUT=1
    is a deadline for the whole exchange, so it cuts the same healthy stream after 1 s with an error event."""
    acct = await add_account(db)
    body = {**CHAT, "stream": True}
    gw, _ = await gateway_for(db, stream(7, 0.3), scripted, RELAY_IDLE_TIMEOUT="0.5")
    try:
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": acct.key}) as r:
            whole = await r.read()
        assert whole.count(b"chat.completion.chunk") == 7 and whole.endswith(b"data: [DONE]\n\n")
        assert b'"error"' not in whole
    finally:
        await gw.close()

    gw, _ = await gateway_for(db, stream(7, 0.3), scripted, RELAY_IDLE_TIMEOUT="0.5", RELAY_TIMEOUT="1")
    try:
        started = time.monotonic()
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": acct.key}) as r:
            assert r.status == 200
            cut = await r.read()
        assert 0.9 < time.monotonic() - started < 2.5
        assert 2 <= cut.count(b"chat.completion.chunk") < 7
        error = orjson.loads(cut.rstrip().rsplit(b"\n\n", 1)[-1].removeprefix(b"data: "))["error"]
        assert "did not finish within the total time limit" in error["message"]
    finally:
        await gw.close()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
async def test_a_client_that_leaves_while_the_upstream_hangs_closes_it_and_is_refunded(
        db: Database, scripted: list[ScriptedUpstream]) -> None:
    await client_leaves_a_hanging_upstream(db, scripted, served=True)


async def test_the_same_when_aiohttp_cancels_the_handler_itself(db: Database, scripted: list[ScriptedUpstream]) -> None:
    """aiohttp's test server cancels a handler whose client left (handler_cancellation): refunded all the same."""
    await client_leaves_a_hanging_upstream(db, scripted, served=False)


async def client_leaves_a_hanging_upstream(db: Database, scripted: list[ScriptedUpstream], served: bool) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    gw, upstream = await gateway_for(db, hang(), scripted, served)     # default limits: minutes
    try:
        async with aiohttp.ClientSession() as http:
            call = asyncio.create_task(http.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                                 headers={"Authorization": acct.key}))
            await asyncio.wait_for(upstream.got_request.wait(), 5)
            assert upstream.open == 1
            call.cancel()          # the client gives up: its connection closes
            left = time.monotonic()
            await asyncio.gather(call, return_exceptions=True)
        for _ in range(30):
            if upstream.open == 0:
                break
            await asyncio.sleep(0.05)
        assert upstream.open == 0 and upstream.closed_at[-1] - left < 1.0
        await gw.flush()
        b = await balances(db, acct)
        assert (b["user_quota"], b["token_remain"], b["user_used"], b["token_used"]) == (10_000, 5_000, 0, 0)
    finally:
        await gw.close()


def stream_then_hang(pieces: int) -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(SSE_HEAD)
        for i in range(pieces):
            writer.write(sse_chunk(f"w{i} "))
        await writer.drain()
    return script


async def test_a_client_that_leaves_mid_stream_while_the_upstream_pauses_closes_it_and_pays_what_it_got(
        db: Database, scripted: list[ScriptedUpstream]) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    gw, upstream = await gateway_for(db, stream_then_hang(2), scripted, served=True)
    try:
        async with aiohttp.ClientSession() as http:
            r = await http.post(gw.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                headers={"Authorization": acct.key})
            got = b""
            while got.count(b"chat.completion.chunk") < 2:
                got += await r.content.readany()
            r.close()              # the client leaves; the upstream is silent, so no write would notice
            left = time.monotonic()
        for _ in range(30):
            if upstream.open == 0:
                break
            await asyncio.sleep(0.05)
        assert upstream.open == 0 and upstream.closed_at[-1] - left < 1.0
        await gw.flush()
        b = await balances(db, acct)
        assert 0 < b["token_used"] < 50 and b["user_quota"] == 10_000 - b["user_used"]   # the two pieces, counted
    finally:
        await gw.close()


async def test_through_a_relay_proxy_the_limits_hold_too(db: Database, scripted: list[ScriptedUpstream]) -> None:
    """RELAY_PROXY sends upstream calls through aiohttp's client: a proxy that never answers ends at the
    read limit (504), and a client that leaves closes the connection to the proxy."""
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    proxy = ScriptedUpstream(hang())
    scripted.append(proxy)
    proxy_url = await proxy.start()
    await add_channel(db, base_url="http://upstream.invalid")
    gw = await ServedGateway(db, load_settings({"RELAY_PROXY": proxy_url, "RELAY_FIRST_BYTE_TIMEOUT": "1.5",
                                                "RELAY_IDLE_TIMEOUT": "1.5"}, [])).start()
    await gw.reload()
    try:
        async with aiohttp.ClientSession() as http:
            started = time.monotonic()
            async with http.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": acct.key}) as r:
                assert r.status == 504 and 1.4 < time.monotonic() - started < 3.0
            proxy.got_request.clear()
            call = asyncio.create_task(http.post(gw.url + "/v1/chat/completions", json=CHAT,
                                                 headers={"Authorization": acct.key},
                                                 timeout=aiohttp.ClientTimeout(total=0.2)))
            await asyncio.gather(call, return_exceptions=True)   # the client gives up after 0.2 s
            left = time.monotonic()
        for _ in range(30):
            if proxy.open == 0:
                break
            await asyncio.sleep(0.05)
        assert proxy.open == 0 and proxy.closed_at[-1] - left < 1.0   # before the 1.5 s read limit
        await gw.flush()
        b = await balances(db, acct)
        assert (b["user_quota"], b["token_remain"]) == (10_000, 5_000)
    finally:
        await gw.close()


def head_then_hang() -> Script:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        await writer.drain()
    return script


async def test_a_non_stream_answer_whose_body_never_comes_is_a_504(db: Database,
                                                                   scripted: list[ScriptedUpstream]) -> None:
    acct = await add_account(db, quota=10_000, token_quota=5_000)
    gw, upstream = await gateway_for(db, head_then_hang(), scripted, RELAY_FIRST_BYTE_TIMEOUT="0.5")
    try:
        async with aiohttp.ClientSession() as http, http.post(gw.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": acct.key}) as r:
            status, body = r.status, await r.json()
        assert status == 504 and "no answer within 0.5s" in body["error"]["message"]
        await gw.flush()
        assert (await balances(db, acct))["token_remain"] == 5_000
    finally:
        await gw.close()
