"""The relay handler: one flow through the addons, with attempts, errors and the final `done`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from proxy.core.addon_manager import AddonManager
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import ClientRequest, Flow
from proxy.core.forward import client_headers, relay_body
from proxy.core.hop import holds_break, unsendable_header
from proxy.core.inflight import InFlight, cancelled
from proxy.core.opener import Opener, UpstreamAnswer
from proxy.core.request_body import MAX_BODY, read_body

log = logging.getLogger(__name__)
REQUEST_ID_HEADER = "X-Oneapi-Request-Id"
MAX_ERROR_BODY = 1 << 20
ERROR_BODY_WAIT = 3.0    # seconds an error answer's body may take: a stalled one must not hold the request
SMALL_ANSWER = 1 << 20   # non-stream answers up to this size are read whole and sent in one write
# the current flow's request id, for log records (each aiohttp request runs in its own task, so its own context)
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="")


class Pipeline:
    """Runs addons around the forwarder. Knows HTTP, not keys, channels or prices."""

    def __init__(self, addons: AddonManager, opener: Opener, state_factory: Callable[[], Any],
                 request_id: Callable[[], str], client_ip: Callable[[web.Request], str],
                 max_body: int = MAX_BODY, unavailable: Callable[[BaseException], bool] = lambda _: False) -> None:
        self.addons = addons
        self.max_body = max_body   # bytes of a request body, after inflation
        self.unavailable = unavailable   # errors that mean a backing service (the database) is down: 503, not 500
        self.opener = opener
        self.state_factory = state_factory
        self.request_id = request_id
        self.client_ip = client_ip
        self.inflight = InFlight()   # a client gone, or a stop's grace over, ends the wait on the upstream

    async def handle(self, request: web.Request) -> web.StreamResponse:
        flow = Flow(ClientRequest(request.method, request.path, request.query_string, request.headers,
                                  b"", self.client_ip(request), dict(request.match_info)),
                    request_id=self.request_id(), state=self.state_factory())
        REQUEST_ID.set(flow.request_id)
        self.inflight.running += 1
        try:
            await self.addons.run("requestheaders", flow)
            # only now, the key accepted: read the body, inflating gzip once, within the size limit
            flow.request.body = await read_body(request, self.max_body)
            await self.addons.run("request", flow)
            if flow.response is not None:
                return self._local(flow)
            return await self._attempts(request, flow)
        except RelayError as e:
            flow.error = e
            return await self._error(request, flow, e)
        except Exception as e:  # an addon bug must become an answer, never a dead worker
            err = self._unexpected(flow, e)
            flow.error = err
            return await self._error(request, flow, err)
        finally:
            flow.timings.end = flow.timings.end or time.monotonic()
            try:
                await self._done(flow)
            finally:
                self.inflight.running -= 1

    async def _done(self, flow: Flow[Any]) -> None:
        """The `done` hooks (settlement, the log row, limits' release) run to their end even when this handler is
        cancelled meanwhile (a server that cancels handlers whose client left, a stop): shielded, waited for
        again after each cancellation, which is then passed on."""
        done = asyncio.ensure_future(self.addons.run_quietly("done", flow))
        cancelled: asyncio.CancelledError | None = None
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError as e:
                cancelled = e
        if cancelled is not None:
            raise cancelled

    def _unexpected(self, flow: Flow[Any], e: Exception) -> RelayError:
        if self.unavailable(e):
            log.error("relay %s: a backing service is unavailable: %r", flow.request_id, e)
            return RelayError(503, "service temporarily unavailable (database), try again later",
                              code="service_unavailable")
        log.exception("relay failed for request %s", flow.request_id)
        return RelayError(500, f"internal error: {type(e).__name__}", code="internal_error")

    async def _attempts(self, request: web.Request, flow: Flow[Any]) -> web.StreamResponse:
        while True:
            flow.attempts += 1
            flow.error = None
            flow.transform = None
            flow.gate = None
            flow.opener = None
            flow.buffer_response = False
            flow.stream_may_be_json = False
            flow.upstream_error_body = None   # an earlier attempt's, not this one's
            await self.addons.run("route", flow)
            await self.addons.run("rewrite", flow)
            if flow.response is not None:
                return self._local(flow)
            try:
                self._sendable(flow)
                return await self._watched_attempt(request, flow)
            except UpstreamError as e:
                if flow.committed:
                    raise
                flow.error = e
                await self.addons.run("upstream_error", flow)
                if not flow.error.retryable:
                    raise flow.error from None

    @staticmethod
    def _sendable(flow: Flow[Any]) -> None:
        """A channel whose key or base URL holds a line break or NUL cannot be called (the HTTP clients refuse
        with a ValueError, which was a 500): a channel error, so another channel may serve and health sees it."""
        call = flow.upstream
        if call is None:
            return
        name = unsendable_header(call.headers) or ("URL" if holds_break(call.url) else None)
        if name is not None:
            raise UpstreamError(503, f"the channel's request cannot be sent: its {name} holds a line break or NUL "
                                     "(check the channel's key and base URL)", type="one_api_error",
                                code="channel_request_invalid")

    async def _watched_attempt(self, request: web.Request, flow: Flow[Any]) -> web.StreamResponse:
        """One attempt, ended by InFlight when the client goes or the stop's grace is over: the upstream
        connection is closed on the way out, and the flow ends with that error (no retry)."""
        self.inflight.enter(request, flow)
        if flow.gate is not None:   # a hold that grows mid-stream is never cut halfway
            flow.gate = self.inflight.guard(flow.gate)
        try:
            return await self._one_attempt(request, flow)
        except asyncio.CancelledError:
            err = self.inflight.reason()
            if err is not None:
                raise err from None
            # cancelled by someone else (aiohttp with handler_cancellation, as its test server runs): the
            # cancellation goes on, and the flow still ends as failed, so `done` refunds what was not delivered
            flow.error = cancelled(request, flow)
            raise
        finally:
            self.inflight.leave()

    async def _one_attempt(self, request: web.Request, flow: Flow[Any]) -> web.StreamResponse:
        opened = flow.opener() if flow.opener is not None else self.opener.open(flow)
        upstream = await opened
        async with upstream:
            flow.upstream_status = upstream.status
            flow.upstream_headers = CIMultiDict(upstream.headers)
            if not 200 <= upstream.status < 300 or self._json_for_stream(flow, upstream):
                flow.upstream_error_body = await error_body(upstream)
                status = upstream.status if upstream.status >= 300 else 500
                raise UpstreamError(status, f"bad response status code {upstream.status}",
                                    code="bad_response_status_code", param=str(upstream.status))
            await self.addons.run("response", flow)
            if flow.buffer_response:
                return await self._buffered(request, flow, upstream)
            if self._small_whole_answer(flow, upstream):
                return await self._whole(flow, upstream)
            return await relay_body(request, flow, upstream, self.addons, _extra_headers(flow))

    @staticmethod
    def _small_whole_answer(flow: Flow[Any], upstream: UpstreamAnswer) -> bool:
        length = upstream.content_length
        return not flow.stream and flow.transform is None and length is not None and length <= SMALL_ANSWER

    async def _whole(self, flow: Flow[Any], upstream: UpstreamAnswer) -> web.Response:
        """A small non-stream answer, passed through as one write (headers and body together), bytes unchanged."""
        try:
            body = await upstream.read()
        except (aiohttp.ClientError, OSError) as e:
            raise read_failed(e) from None
        headers = client_headers(flow, upstream)
        headers.update(_extra_headers(flow))
        flow.bytes_to_client += len(body)
        self.addons.run_chunk(flow, body)
        return web.Response(body=body, status=upstream.status, headers=headers)

    @staticmethod
    def _json_for_stream(flow: Flow[Any], upstream: UpstreamAnswer) -> bool:
        """One API: a stream request answered with JSON is an error (unless an addon expects JSON)."""
        return (flow.stream and not flow.stream_may_be_json
                and upstream.content_type == "application/json")

    async def _buffered(self, request: web.Request, flow: Flow[Any], upstream: UpstreamAnswer) -> web.StreamResponse:
        """Read the whole body, convert it, and answer; errors here can still be retried."""
        transform = flow.transform
        pieces: list[bytes] = []
        try:
            async for piece in upstream.content.iter_any():   # piece by piece: WebSocket messages stay apart
                pieces.extend(transform.feed(piece) if transform else (piece,))
        except (aiohttp.ClientError, OSError) as e:
            raise read_failed(e) from None
        if transform:
            pieces.extend(transform.flush())
        out = b"".join(pieces)
        response = web.Response(body=out, status=200 if transform else upstream.status,
                                headers={"Content-Type": "application/json", **_extra_headers(flow)})
        flow.bytes_to_client += len(out)
        self.addons.run_chunk(flow, out)
        return response

    def _local(self, flow: Flow[Any]) -> web.Response:
        local = flow.response
        assert local is not None
        headers = dict(local.headers)
        headers.update(_extra_headers(flow))
        flow.bytes_to_client += len(local.body)
        return web.Response(body=local.body, status=local.status, headers=headers)

    async def _error(self, request: web.Request, flow: Flow[Any], err: RelayError) -> web.StreamResponse:
        flow.error = err
        await self.addons.run_quietly("error", flow)   # addons may reword what the client reads
        err = flow.error or err
        if not flow.committed:
            return web.Response(body=err.body(flow.request_id), status=err.status,
                                headers={"Content-Type": "application/json", **_extra_headers(flow)})
        # The stream already started: the status is sent, so report the error inside it.
        response = flow.stream_response
        if flow.stream and response is not None and not flow.client_disconnected:
            try:
                await response.write(err.stream_event(flow.request_id))
                await response.write_eof()
            except (ConnectionResetError, RuntimeError):
                pass
            return response
        raise web.HTTPInternalServerError()  # nothing sensible left to say; aiohttp closes the connection


def _extra_headers(flow: Flow[Any]) -> dict[str, str]:
    """The request id, and whatever headers the addons set for every answer (flow.response_headers)."""
    if flow.response_headers:
        return {**flow.response_headers, REQUEST_ID_HEADER: flow.request_id}
    return {REQUEST_ID_HEADER: flow.request_id}


def read_failed(e: BaseException) -> UpstreamError:
    """A body that could not be read: 504 when a time limit ran out (the message says which), else 502."""
    return UpstreamError(504 if isinstance(e, TimeoutError) else 502, f"read response body failed: {e}",
                         type="one_api_error", code="read_response_body_failed")


async def error_body(upstream: UpstreamAnswer) -> bytes:
    """An error answer's body, up to MAX_ERROR_BODY bytes: whatever arrived when it is cut short or stalls
    (the status already says what matters)."""
    pieces: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(ERROR_BODY_WAIT):
            async for piece in upstream.content.iter_any():
                pieces.append(piece)
                size += len(piece)
                if size >= MAX_ERROR_BODY:
                    break
    except (aiohttp.ClientError, OSError):   # TimeoutError included
        pass
    return b"".join(pieces)[:MAX_ERROR_BODY]
