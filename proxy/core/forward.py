"""Sends flow.upstream with the worker's shared ClientSession and moves the body to the client."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from proxy.core.addon_manager import AddonManager
from proxy.core.errors import UpstreamError
from proxy.core.flow import Flow, UpstreamCall
from proxy.core.hop import end_to_end
from proxy.core.http1 import parse_target
from proxy.core.opener import UpstreamAnswer
from proxy.core.upstream_client import UpstreamClient

_LENGTH = ("content-length",)
STREAM_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ProxyChooser:
    """RELAY_PROXY for every upstream call, else the standard *_PROXY/NO_PROXY environment, read once.

    (aiohttp's trust_env would re-read the environment and netrc on every request.)
    """

    def __init__(self, relay_proxy: str | None) -> None:
        self.fixed = relay_proxy or None
        self.env = {k: v for k, v in urllib.request.getproxies_environment().items() if k in ("http", "https")}

    def for_url(self, url: str) -> str | None:
        if self.fixed or not self.env:
            return self.fixed
        parts = urlsplit(url)
        proxy = self.env.get(parts.scheme)
        # in CPython's urllib.request, missing from typeshed
        if proxy and urllib.request.proxy_bypass_environment(parts.hostname or ""):  # type: ignore[attr-defined]
            return None
        return proxy


class UpstreamOpener:
    """Sends flow.upstream: the lean HTTP/1.1 client where it applies, aiohttp's session otherwise
    (a proxy in between, HEAD, or a URL aiohttp would re-quote). Network failures become a retryable
    UpstreamError.

    `first_byte` bounds the wait for the first body byte and `idle` each gap in the body after it (None: no
    limit), on top of the call's own total `timeout`. aiohttp's client has one read limit for both: the
    larger of the two applies there.
    """

    def __init__(self, session: Callable[[], aiohttp.ClientSession], client: Callable[[], UpstreamClient | None],
                 relay_proxy: str | None, first_byte: float | None = None, idle: float | None = None) -> None:
        self.session = session
        self.client = client
        self.proxy = ProxyChooser(relay_proxy)
        self.first_byte = first_byte or None
        self.idle = idle or None
        self.sock_read = max(first_byte, idle) if first_byte and idle else None

    async def open(self, flow: Flow[Any]) -> UpstreamAnswer:
        call = flow.upstream
        assert call is not None
        proxy = self.proxy.for_url(call.url)
        client = self.client()
        # HEAD stays with aiohttp: a response parser can't tell by itself that a HEAD answer has no body
        target = parse_target(call.url) if proxy is None and call.method != "HEAD" else None
        try:
            if client is not None and target is not None:
                return await client.request(call.method, target, call.headers, call.body, call.timeout,
                                            self.first_byte, self.idle)
            return await self._through_aiohttp(call, proxy)
        except TimeoutError as e:
            raise UpstreamError(504, str(e) or "upstream request timed out", type="one_api_error",
                                code="do_request_failed") from None
        except (aiohttp.ClientError, OSError) as e:
            raise UpstreamError(500, f"do request failed: {e}", type="one_api_error",
                                code="do_request_failed") from None

    async def _through_aiohttp(self, call: UpstreamCall, proxy: str | None) -> aiohttp.ClientResponse:
        headers = call.headers
        if "Accept-Encoding" not in headers:   # aiohttp would ask for gzip, and nothing here decompresses
            headers = CIMultiDict(headers)
            headers["Accept-Encoding"] = "identity"
        timeout = aiohttp.ClientTimeout(total=call.timeout, sock_connect=30, sock_read=self.sock_read)
        return await self.session().request(call.method, call.url, headers=headers, data=call.body or None,
                                            timeout=timeout, proxy=proxy, allow_redirects=False)


def client_headers(flow: Flow[Any], upstream: UpstreamAnswer) -> CIMultiDict[str]:
    """Upstream headers for the client: end-to-end ones when passing through, SSE ones when converting."""
    if flow.transform is not None:
        headers = CIMultiDict(STREAM_HEADERS if flow.stream else {"Content-Type": "application/json"})
        if flow.stream and flow.stream_content_type:
            headers["Content-Type"] = flow.stream_content_type
        return headers
    headers = end_to_end(upstream.headers, drop=_LENGTH)
    if flow.stream:
        headers["X-Accel-Buffering"] = "no"
        headers.setdefault("Cache-Control", "no-cache")
    return headers


async def relay_body(request: web.Request, flow: Flow[Any], upstream: UpstreamAnswer,
                     addons: AddonManager, extra_headers: dict[str, str]) -> web.StreamResponse:
    """Stream the upstream body to the client piece by piece, through the transform and the taps."""
    response = web.StreamResponse(status=upstream.status if flow.transform is None else 200)
    response.headers.extend(client_headers(flow, upstream))
    response.headers.update(extra_headers)
    if flow.transform is None and not flow.stream and upstream.content_length is not None:
        response.content_length = upstream.content_length
    await response.prepare(request)
    flow.response_started = True
    flow.stream_response = response
    transform = flow.transform
    try:
        async for piece in upstream.content.iter_any():
            if transform is None:
                await _write(response, flow, addons, piece)
            else:
                await _write_all(response, flow, addons, transform.feed(piece))
        if transform:
            await _write_all(response, flow, addons, transform.flush())
        await response.write_eof()
    except (ConnectionResetError, aiohttp.ClientConnectionResetError) as e:
        if _client_gone(request):
            flow.client_disconnected = True
        else:
            raise UpstreamError(502, f"upstream connection lost: {e}", type="one_api_error",
                                code="read_response_body_failed", retryable=False) from None
    except aiohttp.ClientPayloadError as e:
        raise UpstreamError(502, f"upstream stream broken: {e}", type="one_api_error",
                            code="read_response_body_failed", retryable=False) from None
    except TimeoutError as e:   # a time limit (total, first byte or idle) ran out mid-body
        raise UpstreamError(504, str(e) or "upstream stopped sending", type="one_api_error",
                            code="read_response_body_failed", retryable=False) from None
    return response


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _write_all(response: web.StreamResponse, flow: Flow[Any], addons: AddonManager, outs: list[bytes]) -> None:
    """A converter's events from one upstream read in one write to the client: written one by one they cost one
    send each (a converted 20-delta stream spent about a third of its worker's time in them). The gate still sees
    every event with the bytes before it counted, and the events it passed are written before its refusal ends
    the relay."""
    if len(outs) == 1:
        await _write(response, flow, addons, outs[0])
        return
    passed: list[bytes] = []
    counted = 0
    try:
        for data in outs:
            if not data:
                continue
            if flow.gate is not None:
                await flow.gate(data)
            passed.append(data)
            counted += len(data)
            flow.bytes_to_client += len(data)   # as if written one by one: what a gate may look at
    finally:
        if passed:
            try:
                await response.write(passed[0] if len(passed) == 1 else b"".join(passed))
            except BaseException:
                flow.bytes_to_client -= counted   # not delivered: counted as before, only once written
                raise
            for data in passed:
                addons.run_chunk(flow, data)


async def _write(response: web.StreamResponse, flow: Flow[Any], addons: AddonManager, data: bytes) -> None:
    if not data:
        return
    if flow.gate is not None:
        await flow.gate(data)
    await response.write(data)
    flow.bytes_to_client += len(data)
    addons.run_chunk(flow, data)
