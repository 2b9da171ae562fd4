"""The pipeline alone, over an in-memory upstream (proxy.core.testing): hooks in order, bytes passed through
unchanged, attempts and retries, error answers before and inside a stream, an addon's bug as a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiohttp import ClientPayloadError
from aiohttp.streams import EmptyStreamReader
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import BodyTransform, Flow, LocalResponse, UpstreamCall
from proxy.core.pipeline import REQUEST_ID_HEADER
from proxy.core.testing import MemoryUpstream, Scripted
from tests.unit.core.conftest import CHAT, pipeline


class Recorder:
    """Every hook, in order, with what the flow held then; rewrite sends the client's body to a fixed URL."""

    def __init__(self, stream: bool = False, transform: BodyTransform | None = None) -> None:
        self.seen: list[str] = []
        self.errors: list[tuple[int, bytes | None]] = []
        self.chunks: list[bytes] = []
        self.stream, self.transform = stream, transform
        self.done_flow: Flow[Any] | None = None

    def requestheaders(self, flow: Flow[Any]) -> None:
        self.seen.append(f"requestheaders:{len(flow.request.body)}")

    def request(self, flow: Flow[Any]) -> None:
        self.seen.append(f"request:{len(flow.request.body)}")
        flow.stream = self.stream

    def route(self, flow: Flow[Any]) -> None:
        self.seen.append(f"route:{flow.attempts}")

    def rewrite(self, flow: Flow[Any]) -> None:
        self.seen.append("rewrite")
        flow.upstream = UpstreamCall("POST", "http://upstream.test/v1/chat/completions",
                                     CIMultiDict({"Authorization": "Bearer up"}), flow.request.body)
        flow.transform = self.transform

    def upstream_error(self, flow: Flow[Any]) -> None:
        assert flow.error is not None
        self.seen.append(f"upstream_error:{flow.error.status}")
        self.errors.append((flow.error.status, flow.upstream_error_body))

    def response(self, flow: Flow[Any]) -> None:
        self.seen.append(f"response:{flow.upstream_status}")

    def chunk(self, flow: Flow[Any], data: bytes) -> None:
        self.chunks.append(data)

    def error(self, flow: Flow[Any]) -> None:
        assert flow.error is not None
        self.seen.append(f"error:{flow.error.status}")

    async def done(self, flow: Flow[Any]) -> None:
        self.seen.append("done")
        self.done_flow = flow


class NoRetry:
    def upstream_error(self, flow: Flow[Any]) -> None:
        assert flow.error is not None
        flow.error.retryable = False




async def test_a_whole_answer_passes_byte_exact_through_every_hook_in_order(serve: Any) -> None:
    answer = b'{"id":"x",  "choices":[]}'   # odd spacing: nothing re-encodes it
    upstream = MemoryUpstream([Scripted.json(answer)])
    rec = Recorder()
    client = await serve(pipeline(upstream, rec))
    resp = await client.post(CHAT, data=b'{"model":"m"}')
    assert resp.status == 200 and await resp.read() == answer
    assert resp.headers[REQUEST_ID_HEADER] == "req-1"
    assert rec.seen == ["requestheaders:0", "request:13", "route:1", "rewrite", "response:200", "done"]
    assert rec.chunks == [answer]
    assert [(c.url, c.body, c.headers["Authorization"]) for c in upstream.calls] == \
        [("http://upstream.test/v1/chat/completions", b'{"model":"m"}', "Bearer up")]
    assert upstream.answers[0].released
    assert rec.done_flow is not None and rec.done_flow.error is None and rec.done_flow.bytes_to_client == len(answer)


async def test_an_error_answer_reaches_upstream_error_with_its_body_then_the_client(serve: Any) -> None:
    upstream = MemoryUpstream([Scripted.json(b'{"error":{"message":"bad key"}}', status=401)])
    rec = Recorder()
    client = await serve(pipeline(upstream, rec, NoRetry()))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 401
    error = orjson.loads(await resp.read())["error"]
    assert error["code"] == "bad_response_status_code" and error["param"] == "401"
    assert error["message"] == "bad response status code 401 (request id: req-1)"
    assert rec.errors == [(401, b'{"error":{"message":"bad key"}}')]
    assert rec.seen[-3:] == ["upstream_error:401", "error:401", "done"]


async def test_a_retryable_failure_tries_again_and_the_next_attempt_starts_clean(serve: Any) -> None:
    unreachable = UpstreamError(500, "do request failed: refused", code="do_request_failed")
    upstream = MemoryUpstream([Scripted.json(b"busy", status=429), Scripted(refuse=unreachable), Scripted.json(b"{}")])
    rec = Recorder()
    client = await serve(pipeline(upstream, rec))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 200 and await resp.read() == b"{}"
    # the second attempt got no answer: no body of the first one's is left for it
    assert rec.errors == [(429, b"busy"), (500, None)]
    assert [s for s in rec.seen if s.startswith("route")] == ["route:1", "route:2", "route:3"]
    assert len(upstream.calls) == 3 and rec.done_flow is not None and rec.done_flow.attempts == 3


async def test_a_stream_answered_with_json_is_an_error_unless_the_rewrite_expects_it(serve: Any) -> None:
    body = b'{"error":{"message":"quota"}}'
    rec = Recorder(stream=True)
    client = await serve(pipeline(MemoryUpstream([Scripted.json(body)]), rec, NoRetry()))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 500 and rec.errors == [(500, body)]

    class ExpectsJson:
        def rewrite(self, flow: Flow[Any]) -> None:
            flow.stream_may_be_json = True
    client = await serve(pipeline(MemoryUpstream([Scripted.json(body)]), Recorder(stream=True), ExpectsJson()))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 200 and await resp.read() == body


async def test_a_stream_goes_out_piece_by_piece_through_the_transform(serve: Any) -> None:
    fed: list[bytes] = []

    def feed(data: bytes) -> list[bytes]:
        fed.append(data)
        return [b"data: " + data.upper() + b"\n\n"]
    transform = BodyTransform(feed, lambda: [b"data: [DONE]\n\n"])
    rec = Recorder(stream=True, transform=transform)
    upstream = MemoryUpstream([Scripted(200, (("Content-Type", "application/x-ndjson"),), (b"a", b"b"))])
    client = await serve(pipeline(upstream, rec))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
    assert await resp.read() == b"data: A\n\ndata: B\n\ndata: [DONE]\n\n"
    assert fed == [b"a", b"b"] and rec.chunks == [b"data: A\n\n", b"data: B\n\n", b"data: [DONE]\n\n"]


async def test_a_stream_cut_after_its_first_event_ends_with_an_error_event_and_no_retry(serve: Any) -> None:
    cut = ClientPayloadError("connection lost")
    upstream = MemoryUpstream([Scripted.sse(b"data: {\"n\":1}\n\n", cut=cut), Scripted.sse(b"data: never\n\n")])
    rec = Recorder(stream=True)
    client = await serve(pipeline(upstream, rec))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 200
    first, error, _ = (await resp.read()).split(b"\n\n")
    assert first == b'data: {"n":1}'
    assert orjson.loads(error.removeprefix(b"data: "))["error"]["code"] == "read_response_body_failed"
    assert len(upstream.calls) == 1 and rec.seen[-2:] == ["error:502", "done"]


async def test_a_local_answer_skips_the_upstream(serve: Any) -> None:
    class Answers:
        def request(self, flow: Flow[Any]) -> None:
            flow.response = LocalResponse(200, b'{"object":"list"}')
    upstream = MemoryUpstream()
    client = await serve(pipeline(upstream, Answers()))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 200 and await resp.read() == b'{"object":"list"}' and upstream.calls == []


async def test_a_refusal_and_an_addon_bug_become_openai_errors_and_done_still_runs(serve: Any) -> None:
    class Refuses:
        def request(self, flow: Flow[Any]) -> None:
            raise RelayError(403, "no", code="forbidden")

    class Buggy:
        def rewrite(self, flow: Flow[Any]) -> None:
            raise KeyError("model")
    for addon, status, code in ((Refuses(), 403, "forbidden"), (Buggy(), 500, "internal_error")):
        rec = Recorder()
        client = await serve(pipeline(MemoryUpstream(), addon, rec))
        resp = await client.post(CHAT, data=b"{}")
        assert resp.status == status and orjson.loads(await resp.read())["error"]["code"] == code
        assert rec.seen[-1] == "done"


async def test_a_json_allowance_is_this_attempts_only(serve: Any) -> None:
    """A converted first attempt allows a JSON answer to the stream; a pass-through retry does not."""
    class FirstConverts:
        def rewrite(self, flow: Flow[Any]) -> None:
            if flow.attempts == 1:
                flow.stream_may_be_json = True

    class StopsAfterTwo:
        def upstream_error(self, flow: Flow[Any]) -> None:
            assert flow.error is not None
            flow.error.retryable = flow.attempts < 2
    body = b'{"error":{"message":"quota"}}'
    upstream = MemoryUpstream([Scripted.json(b"down", status=503), Scripted.json(body)])
    rec = Recorder(stream=True)
    client = await serve(pipeline(upstream, rec, FirstConverts(), StopsAfterTwo()))
    resp = await client.post(CHAT, data=b"{}")
    assert resp.status == 500 and rec.errors == [(503, b"down"), (500, body)]


async def test_done_runs_to_its_end_when_the_handler_is_cancelled_meanwhile() -> None:
    """Settlement and the log row are `done` hooks: a handler cancelled while they await (a server that cancels
    handlers whose client left, a stop) used to skip the rest of them and never count the request as ended."""
    entered, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    class SlowSettle:
        async def done(self, flow: Flow[Any]) -> None:
            entered.set()
            await release.wait()
            finished.append("settled")

    class LogRow:
        def done(self, flow: Flow[Any]) -> None:
            finished.append("logged")

    class Answers:
        def request(self, flow: Flow[Any]) -> None:
            flow.response = LocalResponse(200, b"{}")

    p = pipeline(MemoryUpstream(), Answers(), SlowSettle(), LogRow())
    request = make_mocked_request("POST", CHAT, payload=EmptyStreamReader())
    handler = asyncio.ensure_future(p.handle(request))
    await asyncio.wait_for(entered.wait(), 5)
    handler.cancel()
    await asyncio.sleep(0.05)
    handler.cancel()                       # twice: each cancellation is waited out
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(handler, 5)
    assert finished == ["settled", "logged"] and p.inflight.running == 0
