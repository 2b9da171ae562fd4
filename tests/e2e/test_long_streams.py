"""Streams of any length (#16 item 5): 45 MB answers billed from their final usage, delivered without stalls,
with back-pressure from a slow client to the upstream, and a client gone mid-way paying what was delivered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from store import Database
from store.models import Log
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs

USAGE = {"prompt_tokens": 9, "completion_tokens": 600_000, "total_tokens": 600_009}
WORDS = "lorem ipsum dolor sit amet, "
CHUNK = b"data: " + orjson.dumps({"id": "chatcmpl-long", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": WORDS},
                                                                       "finish_reason": None}]}) + b"\n\n"
FINAL = b"data: " + orjson.dumps({"id": "chatcmpl-long", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
                                  "choices": [], "usage": USAGE}) + b"\n\ndata: [DONE]\n\n"
SIZE = 46_000_000
BODY = CHUNK * (SIZE // len(CHUNK)) + FINAL       # 46 MB, 600,000 completion tokens by its final usage chunk
PIECE = 1 << 16


class LongUpstream:
    """Streams BODY, or (endless) chat chunks without usage until the gateway stops reading; counts what it sent."""

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.chat)
        self.server = TestServer(app, host="127.0.0.1")
        self.endless = False
        self.body = BODY                 # what a finite answer streams
        self.paths: list[str] = []
        self.sent = 0
        self.ended = asyncio.Event()     # the last answer's handler returned (finished or cut off)

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.paths.append(request.path)
        self.sent = 0
        self.ended.clear()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            if self.endless:
                piece = CHUNK * (PIECE // len(CHUNK))
                for _ in range(4000):                 # 260 MB at most: far more than any buffer between
                    await response.write(piece)
                    self.sent += len(piece)
            else:
                body = self.body
                for i in range(0, len(body), PIECE):
                    await response.write(body[i:i + PIECE])
                    self.sent += min(PIECE, len(body) - i)
            await response.write_eof()
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        finally:
            self.ended.set()
        return response


@pytest.fixture
async def long_upstream() -> AsyncIterator[LongUpstream]:
    upstream = LongUpstream()
    await upstream.server.start_server()
    yield upstream
    await upstream.server.close()


def _request() -> dict[str, object]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "go"}], "stream": True,
            "stream_options": {"include_usage": True}}


async def test_long_streams_in_a_row_on_one_connection_are_billed_from_their_final_usage(
        gateway: Gateway, db: Database, long_upstream: LongUpstream) -> None:
    """Reported: of four 45 MB streams in a row one was billed 868,009 counted tokens instead of the reported
    600,000, and one reached the client 41 s late (the usage tap's SSE reading was quadratic in a 16 MiB piece
    and ran on the event loop). Each is now billed from its final usage and flows without a pause."""
    acct = await add_account(db, quota=10**12, token_quota=10**12)
    cid = await add_channel(db, base_url=long_upstream.url)
    await gateway.reload()
    before = await balances(db, acct, cid)
    connections = []
    trace = aiohttp.TraceConfig()

    async def opened(_: object, __: SimpleNamespace, params: object) -> None:
        connections.append(params)
    trace.on_connection_create_end.append(opened)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1), trace_configs=[trace]) as http:
        for _ in range(3):
            async with http.post(gateway.url + "/v1/chat/completions", json=_request(),
                                 headers={"Authorization": acct.key}) as r:
                assert r.status == 200
                got, longest_gap, last = 0, 0.0, time.monotonic()
                tail = b""
                async for piece in r.content.iter_any():
                    now = time.monotonic()
                    longest_gap, last = max(longest_gap, now - last), now
                    got += len(piece)
                    tail = (tail + piece)[-len(FINAL):]
            assert got == len(BODY) and tail == FINAL      # every byte, the usage chunk last
            assert longest_gap < 10                        # no stall (it was 20-40 s at the 16 MiB point)
    assert len(connections) == 1                           # one kept client connection
    await gateway.flush()
    rows = await logs(db)
    quota = gateway.runtime.prices.quota_for(9, 600_000, "gpt-4o-mini", 1, "default")
    assert [(r.prompt_tokens, r.completion_tokens, r.usage_source, r.quota) for r in rows] == \
        [(9, 600_000, "upstream", quota)] * 3
    after = await balances(db, acct, cid)
    assert before["token_remain"] - after["token_remain"] == 3 * quota
    assert after["user_used"] - before["user_used"] == 3 * quota


async def _log_rows(gateway: Gateway, db: Database, n: int) -> list[Log]:
    """The log rows once `n` are written (the relay ends after its client left: its row follows)."""
    deadline = time.monotonic() + 10
    while True:
        await gateway.flush()
        rows = await logs(db)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def _stalled(upstream: LongUpstream, deadline: float) -> int:
    """What the upstream sent once it stopped getting further (its writes wait for the gateway to read)."""
    seen, still = -1, 0
    while time.monotonic() < deadline and not upstream.ended.is_set():
        if upstream.sent == seen:
            still += 1
            if still >= 3:
                return seen
        else:
            seen, still = upstream.sent, 0
        await asyncio.sleep(0.2)
    raise AssertionError(f"the upstream never waited for the client (sent {upstream.sent} bytes)")


async def test_a_slow_client_holds_the_upstream_back_and_a_client_gone_pays_what_was_delivered(
        gateway: Gateway, db: Database, long_upstream: LongUpstream) -> None:
    """Back-pressure: a client that stops reading stops the upstream within the buffers between (sockets and a
    bounded part in the gateway), not after the gateway buffered the whole answer. Leaving mid-way, with no usage
    chunk ever sent, the client pays the counted text that was delivered (counted in pieces past 1 Mi chars)."""
    long_upstream.endless = True
    acct = await add_account(db, quota=10**12, token_quota=10**12)
    await add_channel(db, base_url=long_upstream.url)
    await gateway.reload()
    tokenizer = gateway.runtime.tokenizer
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        r = await http.post(gateway.url + "/v1/chat/completions", json=_request(),
                            headers={"Authorization": acct.key})
        assert r.status == 200
        received = 0
        while received < 20_000_000:                        # past the tap's window and its text bound
            received += len(await r.content.readany())
        sent = await _stalled(long_upstream, time.monotonic() + 30)
        # sockets on 127.0.0.1 buffer up to some MB each way; the gateway itself holds a bounded part
        assert sent - received < 40_000_000, (sent, received)
        r.close()                                           # the client goes away mid-stream
        await asyncio.wait_for(long_upstream.ended.wait(), 10)   # and the upstream call is closed too
    [row] = await _log_rows(gateway, db, 1)
    assert row.usage_source == "counted" and row.prompt_tokens > 0
    per_chunk = tokenizer.count_text(WORDS * 1000, "gpt-4o-mini") / 1000
    delivered_at_least, sent_at_most = received // len(CHUNK) * per_chunk, sent // len(CHUNK) * per_chunk
    assert delivered_at_least * 0.99 <= row.completion_tokens <= sent_at_most * 1.01
    assert row.quota == gateway.runtime.prices.quota_for(row.prompt_tokens, row.completion_tokens,
                                                         "gpt-4o-mini", 1, "default")


def _anthropic_events(deltas: int) -> bytes:
    """An Anthropic Messages stream: `deltas` text deltas of WORDS, 600,000 output tokens by its message_delta."""
    def event(name: str, obj: dict[str, object]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"
    delta = event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                          "delta": {"type": "text_delta", "text": WORDS}})
    return (event("message_start", {"type": "message_start", "message": {
                "id": "msg_long", "type": "message", "role": "assistant", "model": "claude-long", "content": [],
                "stop_reason": None, "usage": {"input_tokens": 9, "output_tokens": 1}}})
            + event("content_block_start", {"type": "content_block_start", "index": 0,
                                            "content_block": {"type": "text", "text": ""}})
            + delta * deltas
            + event("content_block_stop", {"type": "content_block_stop", "index": 0})
            + event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                      "usage": {"output_tokens": 600_000}})
            + event("message_stop", {"type": "message_stop"}))


async def test_a_long_stream_from_a_converted_provider_is_billed_from_its_final_usage(
        gateway: Gateway, db: Database, long_upstream: LongUpstream) -> None:
    """A chat client on an Anthropic channel: 20,000 deltas converted to OpenAI chunks (past the tap's 1 MiB
    window), billed from the usage of the provider's message_start and message_delta."""
    long_upstream.body = _anthropic_events(20_000)
    acct = await add_account(db, quota=10**12, token_quota=10**12)
    await add_channel(db, base_url=long_upstream.url, type=14, models="claude-long")
    await gateway.reload()
    body = {**_request(), "model": "claude-long"}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                          headers={"Authorization": acct.key}) as r:
        assert r.status == 200
        received = await r.read()
    assert long_upstream.paths == ["/v1/messages"]
    assert received.count(WORDS.encode()) == 20_000 and len(received) > 2 * 1024 * 1024
    [row] = await _log_rows(gateway, db, 1)
    assert (row.prompt_tokens, row.completion_tokens, row.usage_source) == (9, 600_000, "upstream")
    assert row.quota == gateway.runtime.prices.quota_for(9, 600_000, "claude-long", 14, "default")


async def test_a_long_stream_to_an_anthropic_client_without_usage_is_counted_in_pieces(
        gateway: Gateway, db: Database, long_upstream: LongUpstream, monkeypatch: pytest.MonkeyPatch) -> None:
    """An Anthropic client on an OpenAI channel that reports no usage: the delivered text is counted in pieces
    as it streams (64 Ki characters here, 1 Mi by default) and let go; the pieces add up to the whole count."""
    monkeypatch.setattr("proxy.addons.usage_tap.TEXT_KEEP", 64 * 1024)
    chunks = 20_000
    long_upstream.body = CHUNK * chunks + b"data: [DONE]\n\n"       # no usage chunk
    acct = await add_account(db, quota=10**12, token_quota=10**12)
    await add_channel(db, base_url=long_upstream.url)
    await gateway.reload()
    body = {"model": "gpt-4o-mini", "max_tokens": 1_000_000, "stream": True,
            "messages": [{"role": "user", "content": "go"}]}
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/messages", json=body,
                                                          headers={"x-api-key": acct.key}) as r:
        assert r.status == 200
        received = await r.read()
    assert received.count(WORDS.encode()) == chunks and b"event: message_stop" in received
    [row] = await _log_rows(gateway, db, 1)
    expected = gateway.runtime.tokenizer.count_text(WORDS * chunks, "gpt-4o-mini")
    assert (row.completion_tokens, row.usage_source) == (expected, "counted")
    assert row.quota == gateway.runtime.prices.quota_for(row.prompt_tokens, expected, "gpt-4o-mini", 1, "default")
