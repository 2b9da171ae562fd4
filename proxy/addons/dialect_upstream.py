"""Builds the upstream call when the client's dialect is the channel's own (an Anthropic client, an Anthropic
channel): the client's bytes pass through, only the credential and the fields the gateway must change (the
mapped model, a forced system prompt, a capped output limit) differ; `anthropic-version` and `anthropic-beta`
go along. The answer's bytes reach the client as sent, read on the way for billing.

A request the hub could not carry (server tools, say) was kept by ClientDialect: it is refused here, with its
400, when this attempt's channel is not of the client's dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDict

from proxy.converters.base import StreamConverter, Usage
from proxy.converters.dialects.anthropic_passthrough import AnthropicUsageReader, answer_usage
from proxy.core.flow import BodyTransform, Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from rules import Catalog

ANTHROPIC_VERSION = "2023-06-01"   # what the SDKs send; a client's own value is passed instead
_PASSED_HEADERS = ("anthropic-version", "anthropic-beta", "Content-Type", "Accept")
# dialect → (its stream's usage reader, its whole answer's usage)
READERS: dict[str, tuple[Callable[[], StreamConverter], Callable[[bytes], Usage | None]]] = {
    "anthropic": (AnthropicUsageReader, answer_usage),
}


class DialectUpstream:
    def __init__(self, catalog: Catalog, relay_timeout: int) -> None:
        self.catalog = catalog
        self.timeout = relay_timeout or None

    def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        state.dialect_passthrough = False
        channel = state.channel
        if not state.dialect or channel is None or state.mode == modes.PROXY:
            return
        ctype = self.catalog.get(channel.type) if channel.type in self.catalog else self.catalog.get(0)
        if ctype.api_style != state.dialect or state.dialect not in READERS:
            if state.dialect_refusal is not None:
                raise state.dialect_refusal
            return
        state.dialect_passthrough = True
        base = (channel.base_url or ctype.base_url).rstrip("/")
        query = flow.request.query_string
        url = f"{base}{flow.request.path}" + (f"?{query}" if query else "")
        flow.upstream = UpstreamCall("POST", url, self._headers(flow, channel.key, ctype.headers),
                                     self._body(flow, channel.system_prompt or ""), self.timeout)
        self._read_usage(flow)

    @staticmethod
    def _headers(flow: Flow[RelayState], key: str, extra: Any) -> CIMultiDict[str]:
        incoming = flow.request.headers
        headers: CIMultiDict[str] = CIMultiDict()
        for name in _PASSED_HEADERS:
            if name in incoming:
                headers[name] = incoming[name]
        headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
        headers.setdefault("Content-Type", "application/json")
        headers["Accept-Encoding"] = "identity"   # bytes pass through as sent, and the usage reader can read them
        headers["x-api-key"] = key
        headers.update(extra)
        return headers

    @staticmethod
    def _body(flow: Flow[RelayState], system_prompt: str) -> bytes:
        """The client's bytes, re-encoded only when a field must change (and then only that field)."""
        state = flow.state
        changes: dict[str, Any] = {}
        if state.model != state.requested_model:
            changes["model"] = state.model
        if state.system_prompt_reset and system_prompt:
            changes["system"] = system_prompt
        if state.output_cap:
            changes["max_tokens"] = state.output_cap
        if not changes or state.client_body is None:
            return state.client_raw
        return orjson.dumps({**state.client_body, **changes})

    @staticmethod
    def _read_usage(flow: Flow[RelayState]) -> None:
        state = flow.state
        stream_reader, whole = READERS[state.dialect]
        if flow.stream:
            reader = stream_reader()
            state.stream_converter = reader
            flow.transform = BodyTransform(reader.feed, reader.flush)
            return
        state.stream_converter = None
        parts: list[bytes] = []

        def feed(data: bytes) -> list[bytes]:
            parts.append(data)
            return [data]

        def flush() -> list[bytes]:
            usage = whole(b"".join(parts))
            if usage is not None and usage.total_tokens:
                state.usage, state.usage_source = usage, "upstream"
            return []

        flow.transform = BodyTransform(feed, flush)


__all__ = ["DialectUpstream"]
