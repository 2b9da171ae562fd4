"""Builds the upstream call for non-OpenAI channels through their pure converter.

The converter is the registry's entry for the channel type's api_style (proxy.converters.registry: data,
not an if-ladder), used through the abilities it declares; this addon does the I/O converters may not
(WebSocket exchanges, polled tasks). Provider authentication, the auxiliary access tokens, is
proxy.gateway.access_tokens.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict

from proxy.converters.abilities import PolledTask, WebSocketTransport
from proxy.converters.base import ConversionError, ConvertContext, OpenAIError, UpstreamRequest
from proxy.converters.dialects.envelopes import envelope_of
from proxy.converters.registry import Converters, converters_for
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import BodyTransform, Flow, UpstreamCall
from proxy.core.transports import SyntheticResponse, open_websocket, run_task, single_body
from proxy.gateway import modes
from proxy.gateway.access_tokens import AccessTokens
from proxy.gateway.state import ConverterCall, RelayState
from rules import Catalog

# converter contexts know fewer modes than the relay
_CONVERTER_MODE = {modes.CHAT: "chat", modes.COMPLETIONS: "completions", modes.EMBEDDINGS: "embeddings",
                   modes.IMAGES: "images"}


def upstream_error_from(err: OpenAIError) -> UpstreamError:
    return UpstreamError(err.status, err.message, type=err.type or "upstream_error", code=err.code, param=err.param)


class ConverterUpstream:
    def __init__(self, catalog: Catalog, session: Callable[[], aiohttp.ClientSession],
                 options: Mapping[str, str], relay_timeout: int, relay_proxy: str = "",
                 poll_interval: float = 1.0, tokens: AccessTokens | None = None,
                 read_timeout: float | None = None) -> None:
        """`read_timeout`: the longest wait for one WebSocket message when RELAY_TIMEOUT is unset (the
        larger of the first-byte and idle limits), so a silent socket never holds a relay forever."""
        self.catalog = catalog
        self.session = session
        self.options = options
        self.timeout = relay_timeout or None
        self.read_timeout = self.timeout or read_timeout or None
        self.relay_proxy = relay_proxy or None
        self.poll_interval = poll_interval
        self.tokens = tokens or AccessTokens(session)

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        flow.state.converter = None
        state = flow.state
        channel = state.channel
        assert channel is not None
        if state.mode in (modes.PROXY, modes.RERANK):   # rerank: proxy.addons.rerank_upstream
            return
        ctype = self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)
        converters = converters_for(ctype.api_style)
        if converters is None or ctype.speaks(state.dialect):   # openai, azure, proxy; a client's own dialect
            return
        if state.mode not in _CONVERTER_MODE or state.body is None:
            raise RelayError(400, f"channel type {ctype.name} does not support {flow.request.path}",
                             code="convert_request_failed")
        ctx = self._context(flow, converters.provides.other_config, ctype.base_url)
        if converters.access_token is not None:
            ctx = replace(ctx, access_token=await self.tokens.token(converters.access_token, ctx))
        if envelope_of(state.dialect, ctype.api_style, state.model, state.gemini.method if state.gemini else ""):
            state.converter = ConverterCall(converters, ctx)   # DialectUpstream sends it in the cloud's envelope
            return
        body = {**state.body, **state.body_changes}
        try:
            call = converters.chat.request_from_openai(body, ctx)
        except ConversionError as e:
            raise RelayError(e.status, e.message, code=e.code) from None
        flow.upstream = UpstreamCall(call.method, call.url, CIMultiDict(call.headers), call.body, self.timeout)
        state.converter = ConverterCall(converters, ctx)
        flow.stream_may_be_json = True
        self._set_transform(flow, converters, ctx, body)
        self._set_opener(flow, converters, ctx, call)

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        converter = flow.state.converter
        if converter is None or flow.error is None:
            return
        body = flow.upstream_error_body
        if body is not None:   # a non-2xx answer; errors inside a 2xx body were converted already
            refined = upstream_error_from(converter.converters.chat.error_to_openai(flow.error.status, body,
                                                                                  converter.ctx))
            refined.retryable = flow.error.retryable
            flow.error = refined
        if converter.converters.token_expired(flow.error.code):
            self.tokens.drop(converter.ctx)   # the next attempt fetches a fresh access token

    def done(self, flow: Flow[RelayState]) -> None:
        """A stream answered with an error body (HTTP 200, already relayed as an error event) that says
        the access token expired: drop it too, or every later call would reuse the dead token."""
        converter, stream = flow.state.converter, flow.state.stream_converter
        error = stream.error if stream is not None else None
        if converter is not None and error is not None and converter.converters.token_expired(error.code):
            self.tokens.drop(converter.ctx)

    def _context(self, flow: Flow[RelayState], other_config: str, default_base: str) -> ConvertContext:
        """`other_config`: the config key One API's deprecated `other` column fills when unset ("" for none)."""
        state = flow.state
        channel = state.channel
        assert channel is not None
        config = dict(channel.config)
        if other_config and channel.other and other_config not in config:
            config[other_config] = channel.other
        return ConvertContext(mode=_CONVERTER_MODE[state.mode], model=state.model,
                              base_url=(channel.base_url or default_base).rstrip("/"), key=channel.key,
                              config=config, stream=state.stream, include_usage=state.include_usage,
                              request_id=flow.request_id, now=time.time(), options=self.options)

    def _set_opener(self, flow: Flow[RelayState], converters: Converters, ctx: ConvertContext,
                    call: UpstreamRequest) -> None:
        """WebSocket providers, and task APIs that answer 'accepted' and must be polled."""
        task = converters.polled(ctx.stream)
        if converters.websocket is not None:
            flow.opener = lambda: open_websocket(self.session(), call.url, dict(call.headers), call.body,
                                                 self.read_timeout, self.relay_proxy)
        elif task is not None:
            flow.opener = lambda: self._polled(task, ctx, call)

    async def _polled(self, task: PolledTask, ctx: ConvertContext, call: UpstreamRequest) -> SyntheticResponse:
        session = self.session()

        async def send(req: UpstreamRequest) -> tuple[int, bytes]:
            try:
                async with session.request(req.method, req.url, headers=req.headers, data=req.body or None,
                                           timeout=aiohttp.ClientTimeout(total=self.timeout or 300),
                                           proxy=self.relay_proxy) as resp:
                    return resp.status, await resp.read()
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                raise UpstreamError(500, f"do request failed: {e}", type="one_api_error",
                                    code="do_request_failed") from None

        def next_call(status: int, body: bytes) -> Awaitable[tuple[int, bytes]] | None:
            req = task.task_poll_request(status, body, ctx)
            return send(req) if req is not None else None

        status, body = await run_task(session, lambda: send(call), next_call, interval=self.poll_interval)
        return single_body(status, body)

    @staticmethod
    def _set_transform(flow: Flow[RelayState], converters: Converters, ctx: ConvertContext,
                       body: dict[str, Any]) -> None:
        state = flow.state
        if not state.stream and converters.websocket is not None:
            ConverterUpstream._messages_transform(flow, converters.websocket, ctx)
            return
        if state.stream:
            converter = converters.stream(ctx, body)
            state.stream_converter = converter
            flow.transform = BodyTransform(converter.feed, converter.flush)
            return
        parts: list[bytes] = []

        def feed(data: bytes) -> list[bytes]:
            parts.append(data)
            return []

        def flush() -> list[bytes]:
            converted = converters.response(200, b"".join(parts), ctx, body)
            if converted.error is not None:
                raise upstream_error_from(converted.error)
            state.usage = converted.usage
            state.usage_source = "upstream"
            if state.mode == modes.EMBEDDINGS and body.get("encoding_format") == "base64":
                _embeddings_as_base64(converted.body)
            return [orjson.dumps(converted.body)]

        flow.buffer_response = True
        flow.transform = BodyTransform(feed, flush)

    @staticmethod
    def _messages_transform(flow: Flow[RelayState], websocket: WebSocketTransport, ctx: ConvertContext) -> None:
        """Non-stream answers of message-based transports: every message kept apart."""
        messages: list[bytes] = []

        def feed(data: bytes) -> list[bytes]:
            messages.append(data)
            return []

        def flush() -> list[bytes]:
            converted = websocket.messages_to_openai(messages, ctx)
            if converted.error is not None:
                raise upstream_error_from(converted.error)
            flow.state.usage, flow.state.usage_source = converted.usage, "upstream"
            return [orjson.dumps(converted.body)]

        flow.buffer_response = True
        flow.transform = BodyTransform(feed, flush)


def _embeddings_as_base64(body: dict[str, Any] | None) -> None:
    """What OpenAI sends for encoding_format base64 (the openai SDKs' default): little-endian float32 bytes.
    Providers answer floats; the client asked for the encoded form."""
    for item in (body or {}).get("data") or []:
        vector = item.get("embedding")
        if isinstance(vector, list):
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


__all__ = ["ConverterUpstream"]
