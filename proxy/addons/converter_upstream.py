"""Builds the upstream call for non-OpenAI channels through their pure converter module.

The converter is chosen by the channel type's api_style in rules/ (data, not an
if-ladder); this addon does the I/O converters may not: fetching and caching
auxiliary access tokens (Baidu, Vertex).
"""

from __future__ import annotations

import base64
import functools
import importlib
import inspect
import struct
import time
from types import ModuleType
from typing import Callable, Mapping

import aiohttp
import orjson
from multidict import CIMultiDict

from proxy.converters.base import ConversionError, ConvertContext, OpenAIError, UpstreamRequest
from proxy.core.errors import RelayError, UpstreamError
from proxy.core.flow import BodyTransform, Flow, UpstreamCall
from proxy.core.transports import SyntheticResponse, open_websocket, run_task, single_body
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from rules import Catalog

NOT_CONVERTERS = frozenset({"openai", "azure", "proxy"})
# converter contexts know fewer modes than the relay
_CONVERTER_MODE = {modes.CHAT: "chat", modes.COMPLETIONS: "completions", modes.EMBEDDINGS: "embeddings",
                   modes.IMAGES: "images"}
# One API's deprecated `other` column fills a missing config value
_OTHER_FALLBACK = {"gemini": "api_version", "xunfei": "api_version", "aiproxy_library": "library_id", "ali": "plugin"}


def converter_module(api_style: str) -> ModuleType:
    return importlib.import_module(f"proxy.converters.providers.{api_style}")


@functools.lru_cache(maxsize=None)
def takes_request(fn: Callable[..., object]) -> bool:
    """Converters that need the original request to report usage (DeepL bills source characters) say so."""
    return "request" in inspect.signature(fn).parameters


def upstream_error_from(err: OpenAIError) -> UpstreamError:
    return UpstreamError(err.status, err.message, type=err.type or "upstream_error", code=err.code, param=err.param)


class AccessTokens:
    """Auxiliary tokens per (base URL, key), refreshed a minute before they expire."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, ctx: ConvertContext) -> str:
        token, expires = self._tokens.get((ctx.base_url, ctx.key), ("", 0.0))
        return token if expires - 60 > ctx.now else ""

    def put(self, ctx: ConvertContext, token: str, expires: float) -> None:
        self._tokens[(ctx.base_url, ctx.key)] = (token, expires)

    def drop(self, ctx: ConvertContext) -> None:
        self._tokens.pop((ctx.base_url, ctx.key), None)


class ConverterUpstream:
    def __init__(self, catalog: Catalog, session: Callable[[], aiohttp.ClientSession],
                 options: Mapping[str, str], relay_timeout: int, relay_proxy: str = "",
                 poll_interval: float = 1.0) -> None:
        self.catalog = catalog
        self.session = session
        self.options = options
        self.timeout = relay_timeout or None
        self.relay_proxy = relay_proxy or None
        self.poll_interval = poll_interval
        self.tokens = AccessTokens()

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        flow.metadata.pop("converter", None)
        flow.metadata.pop("upstream_error_body", None)   # an earlier attempt's, not this one's
        state = flow.state
        channel = state.channel
        assert channel is not None
        if state.mode == modes.PROXY:
            return
        ctype = self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)
        if ctype.api_style in NOT_CONVERTERS:
            return
        module = converter_module(ctype.api_style)
        if state.mode not in _CONVERTER_MODE or state.body is None:
            raise RelayError(400, f"channel type {ctype.name} does not support {flow.request.path}",
                             code="convert_request_failed")
        ctx = self._context(flow, ctype.api_style, ctype.base_url, "")
        if hasattr(module, "auth_token_request"):
            ctx = self._context(flow, ctype.api_style, ctype.base_url, await self._access_token(module, ctx))
        body = {**state.body, **(flow.metadata.get("body_changes") or {})}
        try:
            call = module.request_from_openai(body, ctx)
        except ConversionError as e:
            raise RelayError(e.status, e.message, code=e.code) from None
        flow.upstream = UpstreamCall(call.method, call.url, CIMultiDict(call.headers), call.body, self.timeout)
        flow.metadata["converter"] = (module, ctx)
        flow.metadata["stream_may_be_json"] = True
        self._set_transform(flow, module, ctx, body)
        self._set_opener(flow, module, ctx, call)

    def upstream_error(self, flow: Flow[RelayState]) -> None:
        converter = flow.metadata.get("converter")
        if converter is None:
            return
        module, ctx = converter
        body = flow.metadata.get("upstream_error_body")
        if body is not None:   # a non-2xx answer; errors inside a 2xx body were converted already
            refined = upstream_error_from(module.error_to_openai(flow.error.status, body, ctx))
            refined.retryable = flow.error.retryable
            flow.error = refined
        if flow.error.code in getattr(module, "AUTH_EXPIRED_CODES", ()):
            self.tokens.drop(ctx)   # the next attempt fetches a fresh access token

    def done(self, flow: Flow[RelayState]) -> None:
        """A stream answered with an error body (HTTP 200, already relayed as an error event) that says
        the access token expired: drop it too, or every later call would reuse the dead token."""
        converter = flow.metadata.get("converter")
        error = getattr(flow.state.stream_converter, "error", None)
        if converter is not None and error is not None and error.code in getattr(converter[0], "AUTH_EXPIRED_CODES", ()):
            self.tokens.drop(converter[1])

    def _context(self, flow: Flow[RelayState], style: str, default_base: str, access_token: str) -> ConvertContext:
        state = flow.state
        channel = state.channel
        assert channel is not None
        config = dict(channel.config)
        if style in _OTHER_FALLBACK and channel.other and _OTHER_FALLBACK[style] not in config:
            config[_OTHER_FALLBACK[style]] = channel.other
        return ConvertContext(mode=_CONVERTER_MODE[state.mode], model=state.model,
                              base_url=(channel.base_url or default_base).rstrip("/"), key=channel.key,
                              config=config, stream=state.stream, include_usage=state.include_usage,
                              request_id=flow.request_id, now=time.time(), options=self.options,
                              access_token=access_token)

    async def _access_token(self, module: ModuleType, ctx: ConvertContext) -> str:
        cached = self.tokens.get(ctx)
        if cached:
            return cached
        req = module.auth_token_request(ctx)
        try:
            async with self.session().request(req.method, req.url, headers=req.headers, data=req.body or None,
                                              timeout=aiohttp.ClientTimeout(total=30)) as resp:
                status, body = resp.status, await resp.read()
            token, expires = module.parse_auth_token(status, body, time.time())
        except ConversionError as e:
            raise RelayError(502, f"access token request failed: {e.message}", code="get_access_token_failed",
                             ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise UpstreamError(502, f"access token request failed: {e}", type="one_api_error",
                                code="get_access_token_failed") from None
        self.tokens.put(ctx, token, expires)
        return token

    def _set_opener(self, flow: Flow[RelayState], module: ModuleType, ctx: ConvertContext, call: UpstreamRequest) -> None:
        """WebSocket providers, and task APIs that answer 'accepted' and must be polled."""
        if getattr(module, "TRANSPORT", "http") == "websocket":
            flow.opener = lambda: open_websocket(self.session(), call.url, dict(call.headers), call.body,
                                                 self.timeout, self.relay_proxy)
        elif hasattr(module, "task_poll_request") and (not ctx.stream or getattr(module, "STREAM_BY_POLLING", False)):
            flow.opener = lambda: self._polled(module, ctx, call)

    async def _polled(self, module: ModuleType, ctx: ConvertContext, call: UpstreamRequest) -> SyntheticResponse:
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

        def next_call(status: int, body: bytes):  # noqa: ANN202 - an awaitable or None
            req = module.task_poll_request(status, body, ctx)
            return send(req) if req is not None else None

        status, body = await run_task(session, lambda: send(call), next_call, interval=self.poll_interval)
        return single_body(status, body)

    @staticmethod
    def _set_transform(flow: Flow[RelayState], module: ModuleType, ctx: ConvertContext, body: dict) -> None:
        state = flow.state
        if not state.stream and hasattr(module, "messages_to_openai"):
            ConverterUpstream._messages_transform(flow, module, ctx)
            return
        if state.stream:
            extra = {"request": body} if takes_request(module.stream_to_openai) else {}
            converter = module.stream_to_openai(ctx, **extra)
            state.stream_converter = converter
            flow.transform = BodyTransform(converter.feed, converter.flush)
            return
        parts: list[bytes] = []

        def feed(data: bytes) -> list[bytes]:
            parts.append(data)
            return []

        def flush() -> list[bytes]:
            extra = {"request": body} if takes_request(module.response_to_openai) else {}
            converted = module.response_to_openai(200, b"".join(parts), ctx, **extra)
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
    def _messages_transform(flow: Flow[RelayState], module: ModuleType, ctx: ConvertContext) -> None:
        """Non-stream answers of message-based transports: every message kept apart."""
        messages: list[bytes] = []

        def feed(data: bytes) -> list[bytes]:
            messages.append(data)
            return []

        def flush() -> list[bytes]:
            converted = module.messages_to_openai(messages, ctx)
            if converted.error is not None:
                raise upstream_error_from(converted.error)
            flow.state.usage, flow.state.usage_source = converted.usage, "upstream"
            return [orjson.dumps(converted.body)]

        flow.buffer_response = True
        flow.transform = BodyTransform(feed, flush)


def _embeddings_as_base64(body: dict) -> None:
    """What OpenAI sends for encoding_format base64 (the openai SDKs' default): little-endian float32 bytes.
    Providers answer floats; the client asked for the encoded form."""
    for item in body.get("data") or []:
        vector = item.get("embedding")
        if isinstance(vector, list):
            item["embedding"] = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


__all__ = ["ConverterUpstream", "converter_module"]
