"""Builds the upstream call when the client's dialect is the channel's own (an Anthropic client, an Anthropic
channel; a Gemini client, a Gemini channel): the client's bytes pass through, only the credential and the fields
the gateway must change (the mapped model, a forced system prompt, a capped output limit) differ; Anthropic's
`anthropic-version` and `anthropic-beta` go along. The answer's bytes reach the client as sent, read on the way
for billing.

A request the hub could not carry (server tools, say) was kept by ClientDialect: it is refused here, with its
400, when this attempt's channel is not of the client's dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from multidict import CIMultiDict

from proxy.converters.base import StreamConverter, Usage
from proxy.converters.dialects import anthropic_passthrough, gemini_passthrough
from proxy.core.flow import BodyTransform, Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.gemini_calls import without_key
from proxy.gateway.records import ChannelRecord
from proxy.gateway.state import RelayState
from rules import Catalog

ANTHROPIC_VERSION = "2023-06-01"   # what the SDKs send; a client's own value is passed instead
_PASSED_HEADERS = {"anthropic": ("anthropic-version", "anthropic-beta", "Content-Type", "Accept"),
                   "gemini": ("Content-Type", "Accept")}
# dialect → (its stream's usage reader, its whole answer's usage)
READERS: dict[str, tuple[Callable[[], StreamConverter], Callable[[bytes], Usage | None]]] = {
    "anthropic": (anthropic_passthrough.AnthropicUsageReader, anthropic_passthrough.answer_usage),
    "gemini": (gemini_passthrough.GeminiUsageReader, gemini_passthrough.answer_usage),
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
        headers = self._headers(flow, channel.key, ctype.headers)
        flow.upstream = UpstreamCall("POST", base + self._target(flow), headers, self._body(flow, channel),
                                     self.timeout)
        self._read_usage(flow)

    @staticmethod
    def _target(flow: Flow[RelayState]) -> str:
        """The client's path and query; a Gemini call with the channel's model and without the client's key."""
        state = flow.state
        call = state.gemini
        if call is None:
            query = flow.request.query_string
            return flow.request.path + (f"?{query}" if query else "")
        query = without_key(flow.request.query_string)
        return f"/{call.version}/models/{state.model}:{call.method}" + (f"?{query}" if query else "")

    @staticmethod
    def _headers(flow: Flow[RelayState], key: str, extra: Any) -> CIMultiDict[str]:
        incoming, dialect = flow.request.headers, flow.state.dialect
        headers: CIMultiDict[str] = CIMultiDict()
        for name in _PASSED_HEADERS[dialect]:
            if name in incoming:
                headers[name] = incoming[name]
        headers.setdefault("Content-Type", "application/json")
        headers["Accept-Encoding"] = "identity"   # bytes pass through as sent, and the usage reader can read them
        if dialect == "gemini":
            headers["x-goog-api-key"] = key   # as the Gemini provider converter authenticates
        else:
            headers.setdefault("anthropic-version", ANTHROPIC_VERSION)
            headers["x-api-key"] = key
        headers.update(extra)
        return headers

    @staticmethod
    def _body(flow: Flow[RelayState], channel: ChannelRecord) -> bytes:
        """The client's bytes, re-encoded only when a field must change (and then only that field)."""
        state = flow.state
        if state.client_body is None:
            return state.client_raw
        system_prompt = (channel.system_prompt or "") if state.system_prompt_reset else ""
        if state.gemini is not None:
            changes = gemini_changes(state.client_body, state.model if state.model != state.requested_model else "",
                                     system_prompt, state.output_cap)
        else:
            changes = {}
            if state.model != state.requested_model:
                changes["model"] = state.model
            if system_prompt:
                changes["system"] = system_prompt
            if state.output_cap:
                changes["max_tokens"] = state.output_cap
        if not changes:
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


def gemini_changes(body: dict[str, Any], model: str, system_prompt: str, output_cap: int) -> dict[str, Any]:
    """The top-level fields of a Gemini request that change (the model is in the URL; a batch's requests name
    it too), in the spelling the client used."""
    changes: dict[str, Any] = {}
    requests = body.get("requests")
    if model and isinstance(requests, list):
        changes["requests"] = [{**r, "model": f"models/{model}"} if isinstance(r, dict) and "model" in r else r
                               for r in requests]
    inner = body.get("generateContentRequest")   # countTokens' whole-request form
    if model and isinstance(inner, dict) and "model" in inner:
        changes["generateContentRequest"] = {**inner, "model": f"models/{model}"}
    if system_prompt:
        name = "system_instruction" if "system_instruction" in body else "systemInstruction"
        changes[name] = {"parts": [{"text": system_prompt}]}
    if output_cap:
        name = "generation_config" if "generation_config" in body else "generationConfig"
        given = body.get(name)
        config: dict[str, Any] = given if isinstance(given, dict) else {}
        limit = "max_output_tokens" if "max_output_tokens" in config else "maxOutputTokens"
        changes[name] = {**config, limit: output_cap}
    return changes


__all__ = ["DialectUpstream", "gemini_changes"]
