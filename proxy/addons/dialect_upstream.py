"""Builds the upstream call when the channel speaks the client's dialect (`ChannelType.speaks`: an Anthropic client
and an Anthropic channel, a Responses client and an OpenAI channel, a Gemini client and a Gemini channel): the
client's bytes pass through, only the credential and the fields the gateway must change (the mapped model, a forced
system prompt, a capped output limit) differ; Anthropic's `anthropic-version` and `anthropic-beta` go along, a
Gemini client's `?key=` does not. The answer's bytes reach the client as sent, read on the way for billing.

An Anthropic client on Claude behind AWS Bedrock or Vertex AI, and a Gemini client on Vertex AI's Gemini, get
the same pass-through in the cloud's envelope (proxy.converters.dialects.envelopes), built from the context
ConverterUpstream made for the channel (its credentials, base URL and Vertex's OAuth token); its errors are
refined by that converter as the hub's are.

A request the hub could not carry (server tools, say) was kept by ClientDialect: it is refused here, with its
400, when this attempt's channel is not of the client's dialect (nor in its envelope).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from multidict import CIMultiDict

from proxy.addons.openai_upstream import auth_headers
from proxy.converters.base import ConversionError, StreamConverter, Usage
from proxy.converters.dialects import anthropic_passthrough, gemini_passthrough, responses_passthrough
from proxy.converters.dialects.anthropic_envelope import BedrockEvents, bedrock_request, vertex_gemini_request
from proxy.converters.dialects.anthropic_envelope import vertex_request as vertex_claude_request
from proxy.converters.dialects.envelopes import BEDROCK, VERTEX_CLAUDE, envelope_of
from proxy.core.errors import RelayError
from proxy.core.flow import BodyTransform, Flow, UpstreamCall
from proxy.gateway import modes
from proxy.gateway.gemini_calls import without_key
from proxy.gateway.state import RelayState
from rules import Catalog, ChannelType

ANTHROPIC_VERSION = "2023-06-01"   # what the SDKs send; a client's own value is passed instead


def _anthropic_auth(ctype: ChannelType, key: str) -> dict[str, str]:
    return {"x-api-key": key}


def _gemini_auth(ctype: ChannelType, key: str) -> dict[str, str]:
    return {"x-goog-api-key": key}   # as the Gemini provider converter authenticates


def _client_target(flow: Flow[RelayState]) -> tuple[str, str]:
    return flow.request.path, flow.request.query_string


def _gemini_target(flow: Flow[RelayState]) -> tuple[str, str]:
    """A Gemini call's path names the model: the channel's (mapped) one; the client's `?key=` stays here."""
    call = flow.state.gemini
    if call is None:
        return _client_target(flow)
    query = without_key(flow.request.query_string)
    if call.array:   # read as SSE here; ClientDialect writes the client's JSON array
        query = "&".join([p for p in query.split("&") if p and not p.startswith("alt=")] + ["alt=sse"])
    return f"/{call.version}/models/{flow.state.model}:{call.method}", query


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


@dataclass(frozen=True, slots=True)
class NativeDialect:
    """How one client dialect passes through to a channel that speaks it."""

    reader: Callable[[], StreamConverter]          # its stream's usage reader (bytes out as they came in)
    answer_usage: Callable[[bytes], Usage | None]  # a whole answer's usage
    output_field: str                              # the body field a capped output limit goes into
    system_field: str                              # the body field a channel's forced system prompt goes into
    headers: tuple[str, ...]                       # the client's headers that go along
    auth: Callable[[ChannelType, str], dict[str, str]]
    default_headers: Mapping[str, str]             # sent when the client did not send its own
    target: Callable[[Flow[RelayState]], tuple[str, str]] = _client_target   # upstream (path, query)
    # the fields that change: (body, mapped model or "", forced system prompt or "", output cap or 0) → changes;
    # None: the model, system and output fields above, top level
    changes: Callable[[dict[str, Any], str, str, int], dict[str, Any]] | None = None


READERS: dict[str, NativeDialect] = {
    "anthropic": NativeDialect(anthropic_passthrough.AnthropicUsageReader, anthropic_passthrough.answer_usage,
                               "max_tokens", "system",
                               ("anthropic-version", "anthropic-beta", "Content-Type", "Accept"),
                               _anthropic_auth, {"anthropic-version": ANTHROPIC_VERSION}),
    "responses": NativeDialect(responses_passthrough.ResponsesUsageReader, responses_passthrough.answer_usage,
                               "max_output_tokens", "instructions", ("OpenAI-Beta", "Content-Type", "Accept"),
                               auth_headers, {}),
    "gemini": NativeDialect(gemini_passthrough.GeminiUsageReader, gemini_passthrough.answer_usage,
                            "generationConfig", "systemInstruction", ("Content-Type", "Accept"), _gemini_auth, {},
                            _gemini_target, gemini_changes),
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
        native = READERS.get(state.dialect)
        if native is None or not ctype.speaks(state.dialect):
            if self._envelope(flow, native, ctype.api_style, channel.system_prompt):
                return
            if state.dialect_refusal is not None:
                raise state.dialect_refusal
            return
        state.dialect_passthrough = True
        state.converter = None
        base = (channel.base_url or ctype.base_url).rstrip("/")
        path, query = native.target(flow)
        # the type's URL quirks (a Cloudflare AI Gateway in front) apply as to its other pass-through calls
        url = ctype.upstream_url(base, path, query) or f"{base}{path}" + (f"?{query}" if query else "")
        flow.upstream = UpstreamCall("POST", url, self._headers(flow, native, ctype, channel.key),
                                     self._body(flow, native, channel.system_prompt or ""), self.timeout)
        self._read_usage(flow, native)

    def _envelope(self, flow: Flow[RelayState], native: NativeDialect | None, api_style: str,
                  system_prompt: str | None) -> bool:
        """The client's request in Bedrock's or Vertex's envelope; False when the channel has none for it."""
        state = flow.state
        call = state.gemini
        kind = envelope_of(state.dialect, api_style, state.model, call.method if call else "")
        if not kind or native is None or state.converter is None or state.client_body is None:
            return False
        ctx = replace(state.converter.ctx, stream=flow.stream)
        body = {**state.client_body, **self._changes(flow, native, system_prompt or "")}
        beta = flow.request.headers.get("anthropic-beta", "")
        try:
            if kind == BEDROCK:
                sent = bedrock_request(body, ctx, beta)
            elif kind == VERTEX_CLAUDE:
                sent = vertex_claude_request(body, ctx, beta)
            else:
                raw = self._body(flow, native, system_prompt or "")   # the client's bytes unless a field changed
                sent = vertex_gemini_request(raw, ctx, call.method if call else "")
        except ConversionError as e:
            raise RelayError(e.status, e.message, code=e.code) from None
        state.dialect_passthrough = True   # the answer is in the client's dialect: ClientDialect leaves it be
        flow.upstream = UpstreamCall(sent.method, sent.url, CIMultiDict(sent.headers), sent.body, self.timeout)
        if flow.stream and kind == BEDROCK:
            events = BedrockEvents()
            state.stream_converter = events
            flow.transform = BodyTransform(events.feed, events.flush)
        else:
            self._read_usage(flow, native)
        return True

    @staticmethod
    def _headers(flow: Flow[RelayState], native: NativeDialect, ctype: ChannelType, key: str) -> CIMultiDict[str]:
        incoming = flow.request.headers
        headers: CIMultiDict[str] = CIMultiDict()
        for name in native.headers:
            if name in incoming:
                headers[name] = incoming[name]
        for name, value in native.default_headers.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Type", "application/json")
        headers["Accept-Encoding"] = "identity"   # bytes pass through as sent, and the usage reader can read them
        headers.update(native.auth(ctype, key))
        headers.update(ctype.headers)
        return headers

    @staticmethod
    def _body(flow: Flow[RelayState], native: NativeDialect, system_prompt: str) -> bytes:
        """The client's bytes, re-encoded only when a field must change (and then only that field)."""
        state = flow.state
        if state.client_body is None:
            return state.client_raw
        changes = DialectUpstream._changes(flow, native, system_prompt)
        if not changes:
            return state.client_raw
        return orjson.dumps({**state.client_body, **changes})

    @staticmethod
    def _changes(flow: Flow[RelayState], native: NativeDialect, system_prompt: str) -> dict[str, Any]:
        """The fields the gateway changes: the mapped model, a forced system prompt, a capped output limit."""
        state = flow.state
        assert state.client_body is not None
        model = state.model if state.model != state.requested_model else ""
        system = system_prompt if state.system_prompt_reset else ""
        if native.changes is not None:
            changes = native.changes(state.client_body, model, system, state.output_cap)
        else:
            changes = {}
            if model:
                changes["model"] = model
            if system:
                changes[native.system_field] = system
            if state.output_cap:
                changes[native.output_field] = state.output_cap
        return changes

    @staticmethod
    def _read_usage(flow: Flow[RelayState], native: NativeDialect) -> None:
        state = flow.state
        whole = native.answer_usage
        if flow.stream:
            reader = native.reader()
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


__all__ = ["READERS", "DialectUpstream", "NativeDialect", "gemini_changes"]
