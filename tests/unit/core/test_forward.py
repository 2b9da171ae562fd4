"""The forwarder: which upstream headers the client gets, which proxy a call takes, how network failures and a
gate that stops an answer show, over the in-memory upstream or a loopback socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import BodyTransform, ClientRequest, Flow, UpstreamCall
from proxy.core.forward import ProxyChooser, UpstreamOpener, client_headers
from proxy.core.testing import MemoryAnswer, MemoryUpstream, Scripted
from proxy.core.upstream_client import UpstreamClient
from tests.unit.core.conftest import CHAT, Serve, pipeline


def flow(stream: bool = False, transform: BodyTransform | None = None) -> Flow[None]:
    f: Flow[None] = Flow(ClientRequest("POST", CHAT, "", CIMultiDict(), b"", "127.0.0.1"),  # type: ignore[arg-type]
                         request_id="r", state=None, stream=stream, transform=transform)
    return f


UPSTREAM = Scripted(200, (("Content-Type", "text/event-stream"), ("Content-Length", "5"), ("Connection", "close"),
                          ("Transfer-Encoding", "chunked"), ("X-Request-Id", "up-1"), ("Cache-Control", "private")))


def test_passed_through_headers_are_end_to_end_ones_without_the_length() -> None:
    headers = client_headers(flow(), MemoryAnswer(UPSTREAM))
    assert list(headers.items()) == [("Content-Type", "text/event-stream"), ("X-Request-Id", "up-1"),
                                     ("Cache-Control", "private")]
    streamed = client_headers(flow(stream=True), MemoryAnswer(Scripted(200, (("Content-Type", "text/event-stream"),))))
    assert streamed["X-Accel-Buffering"] == "no" and streamed["Cache-Control"] == "no-cache"


def test_a_converted_answer_gets_its_own_headers() -> None:
    transform = BodyTransform(lambda b: [b], lambda: [])
    assert dict(client_headers(flow(stream=True, transform=transform), MemoryAnswer(UPSTREAM))) == {
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    assert dict(client_headers(flow(transform=transform), MemoryAnswer(UPSTREAM))) == {
        "Content-Type": "application/json"}


def test_relay_proxy_wins_else_the_environment_with_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env-proxy:3128")
    monkeypatch.setenv("NO_PROXY", "internal.test")
    assert ProxyChooser("http://relay:8080").for_url("https://api.openai.com/v1") == "http://relay:8080"
    chooser = ProxyChooser(None)
    assert chooser.for_url("https://api.openai.com/v1") == "http://env-proxy:3128"
    assert chooser.for_url("https://internal.test/v1") is None
    assert chooser.for_url("http://plain.test/") is None   # no HTTP_PROXY set


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A loopback port that accepts and never answers."""
    writers: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda r, w: writers.append(w), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for writer in writers:
        writer.close()
    await server.wait_closed()


async def test_network_failures_become_retryable_upstream_errors(silent_port: int) -> None:
    client = UpstreamClient()
    opener = UpstreamOpener(lambda: None, lambda: client, None)  # type: ignore[arg-type,return-value]
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    try:
        f = flow()
        f.upstream = UpstreamCall("POST", f"http://127.0.0.1:{closed_port}/v1", CIMultiDict(), b"{}")
        with pytest.raises(UpstreamError) as refused:
            await opener.open(f)
        assert (refused.value.status, refused.value.code, refused.value.retryable) == (500, "do_request_failed", True)
        f.upstream = UpstreamCall("POST", f"http://127.0.0.1:{silent_port}/v1", CIMultiDict(), b"{}", timeout=0.2)
        with pytest.raises(UpstreamError) as silent:
            await opener.open(f)
        assert (silent.value.status, silent.value.code, silent.value.retryable) == (504, "do_request_failed", True)
    finally:
        await client.close()


async def test_a_gate_that_refuses_ends_the_stream_there_with_an_error_event(serve: Serve) -> None:
    class Budget:
        def request(self, f: Flow[Any]) -> None:
            f.stream = True

        def rewrite(self, f: Flow[Any]) -> None:
            f.upstream = UpstreamCall("POST", "http://upstream.test/", CIMultiDict(), b"")

            async def gate(data: bytes) -> None:
                if f.bytes_to_client + len(data) > 20:
                    raise RelayError(403, "balance used up", code="insufficient_quota")
            f.gate = gate
    upstream = MemoryUpstream([Scripted.sse(b"data: 1\n\n", b"data: 2\n\n", b"data: 3-too-much\n\n")])
    client = await serve(pipeline(upstream, Budget()))
    resp = await client.post(CHAT, data=b"{}")
    events = (await resp.read()).split(b"\n\n")
    assert events[:2] == [b"data: 1", b"data: 2"]
    assert orjson.loads(events[2].removeprefix(b"data: "))["error"]["code"] == "insufficient_quota"
    assert events[3:] == [b""]


def _split_events(piece: bytes) -> list[bytes]:
    """A transform that turns one upstream piece into one client event per SSE event in it."""
    return [event + b"\n\n" for event in piece.split(b"\n\n") if event]


async def test_a_converters_events_from_one_read_go_out_in_one_write(serve: Serve,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """#19: written one by one, a converted stream's events cost one send each (a third of a worker's time)."""
    from aiohttp import web

    writes: list[bytes] = []
    original = web.StreamResponse.write

    async def counting(self: web.StreamResponse, data: bytes) -> None:
        writes.append(bytes(data))
        await original(self, data)
    monkeypatch.setattr(web.StreamResponse, "write", counting)
    seen: list[tuple[int, bytes]] = []

    class Convert:
        def request(self, f: Flow[Any]) -> None:
            f.stream = True

        def rewrite(self, f: Flow[Any]) -> None:
            f.upstream = UpstreamCall("POST", "http://upstream.test/", CIMultiDict(), b"")
            f.transform = BodyTransform(_split_events, lambda: [b"data: end\n\n"])

            async def gate(data: bytes) -> None:   # sees every event with the bytes before it counted
                seen.append((f.bytes_to_client, data))
                if data.startswith(b"data: 3"):
                    raise RelayError(403, "balance used up", code="insufficient_quota")
            f.gate = gate
    upstream = MemoryUpstream([Scripted.sse(b"data: 1\n\ndata: 2\n\n", b"data: 3\n\ndata: 4\n\n")])
    client = await serve(pipeline(upstream, Convert()))
    events = (await (await client.post(CHAT, data=b"{}")).read()).split(b"\n\n")
    assert events[:2] == [b"data: 1", b"data: 2"] and b"insufficient_quota" in events[2]
    assert writes[0] == b"data: 1\n\ndata: 2\n\n"          # one write for the first read's two events
    assert seen == [(0, b"data: 1\n\n"), (9, b"data: 2\n\n"), (18, b"data: 3\n\n")]
