"""Client dialects on their own routes (issue #15): `/v1/messages` speaks Anthropic Messages, `/v1/responses`
OpenAI's Responses API, `/v1beta/models/{model}:{method}` (and the same under `/v1/models/`) Gemini, whose model
and stream-ness come from the path.

The client's request becomes the hub's (OpenAI chat) before the rest of the pipeline reads it, so auth, routing,
mapping, the reservation, billing, retries and logs are chat's; the hub's answer goes back into the client's
dialect after any provider converter (provider → hub → client), and every error is answered in the client's
error shape. Listed first: its `requestheaders` must name the dialect before TokenAuth reads the key, its
`request` must convert before RequestBody reads the body, and its `response` must chain before ErrorScrub wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

import orjson

from proxy.addons.usage_tap import usage_from
from proxy.converters.base import ConversionError, OpenAIError
from proxy.converters.dialects.gemini_array import JsonArrayStream
from proxy.converters.dialects.gemini_client_embed import (
    embeddings_request_to_openai,
    embeddings_response_from_openai,
)
from proxy.converters.registry import DIALECTS
from proxy.core.errors import RelayError
from proxy.core.flow import BodyTransform, Flow
from proxy.core.sse import encode_event
from proxy.gateway.gemini_calls import BATCH_EMBED, GeminiCall, parse_call, query_param
from proxy.gateway.state import RelayState

# route path → client dialect (proxy.converters.registry.DIALECTS); Gemini's paths are read by parse_call
DIALECT_PATHS: Mapping[str, str] = {"/v1/messages": "anthropic", "/v1/messages/count_tokens": "anthropic",
                                    "/v1/responses": "responses"}
GEMINI_PREFIXES = ("/v1beta/", "/v1/models/")
# dialect → (the request fields that hold its prompt, its output limit field): what a stand-in hub request reads
_STAND_IN: Mapping[str, tuple[tuple[str, ...], str]] = {
    "anthropic": (("system", "messages", "tools"), "max_tokens"),
    "responses": (("instructions", "input", "tools"), "max_output_tokens"),
}


@runtime_checkable
class EndsInStream(Protocol):
    """A client-dialect stream converter that can end its own stream with a failure (Responses: `response.failed`
    under the response id the client already has), used when the relay fails after the stream started."""

    def fail(self, error: OpenAIError) -> list[bytes]: ...


def anthropic_stream_error(body: bytes) -> bytes:
    """Anthropic's SDKs and Claude Code dispatch on the event name: `event: error`, then its data."""
    return encode_event("error", body)


def gemini_stream_error(body: bytes) -> bytes:
    """Gemini's SDKs read only `data:` lines (an `event:` line stalls the JS parser); a `{"error": ...}` payload
    is raised as an API error."""
    return b"data: " + body + b"\r\n\r\n"


# dialect → how an error is written inside its stream once the answer started
STREAM_ERRORS: Mapping[str, Callable[[bytes], bytes]] = {"gemini": gemini_stream_error}


def dialect_of(path: str) -> tuple[str, GeminiCall | None]:
    """The client dialect a route speaks, and a Gemini call's model and method."""
    if path.startswith(GEMINI_PREFIXES):
        call = parse_call(path)
        return ("gemini", call) if call is not None else ("gemini" if path.startswith("/v1beta/") else "", None)
    return DIALECT_PATHS.get(path, ""), None


class DialectError(RelayError):
    """A relay error answered in the client's dialect; its message is read when it is written, so ErrorScrub's
    redaction (which edits `message`) still applies."""

    def __init__(self, err: RelayError, to_client: Callable[[OpenAIError], tuple[int, bytes]],
                 dialect: str = "anthropic", ends_in_stream: EndsInStream | None = None) -> None:
        super().__init__(err.status, err.message, type=err.type, code=err.code, param=err.param, full=err.full,
                         retryable=err.retryable)
        self.to_client = to_client
        self.dialect = dialect
        self.ends_in_stream = ends_in_stream
        self.status = to_client(self._hub())[0]

    def _hub(self) -> OpenAIError:
        return OpenAIError(self.status, self.message, self.type, self.code, self.param)

    def body(self, request_id: str = "") -> bytes:
        message = f"{self.message} (request id: {request_id})" if request_id else self.message
        return self.to_client(OpenAIError(self.status, message, self.type, self.code, self.param))[1]

    def stream_event(self, request_id: str = "") -> bytes:
        """How the error ends a stream that started: Anthropic's `event: error` (its SDKs and Claude Code dispatch on
        the event name), Gemini's bare `data:` error. A converted Responses stream ends with `response.failed` (Codex
        retries it), a passed-through one with Responses' own `error` event (client-dialects.md §3.6, §3.7)."""
        message = f"{self.message} (request id: {request_id})" if request_id else self.message
        if self.ends_in_stream is not None:
            return b"".join(self.ends_in_stream.fail(OpenAIError(self.status, message, self.type, self.code,
                                                                 self.param)))
        if self.dialect == "responses":
            return encode_event("error", orjson.dumps({"type": "error", "code": self.code, "message": message,
                                                       "param": self.param, "sequence_number": 0}))
        return STREAM_ERRORS.get(self.dialect, anthropic_stream_error)(self.body(request_id))


def invalid_request(message: str) -> RelayError:
    return RelayError(400, message, type="invalid_request_error", code="invalid_request")


def json_body(raw: bytes) -> Any:
    """A client's request body parsed (None when empty); bytes that are not JSON are a 400."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as e:
        raise invalid_request(f"the request body is not JSON: {e}") from None


def json_object_body(raw: bytes) -> dict[str, Any]:
    """A client's request body as the JSON object every dialect sends; anything else is a 400."""
    body = json_body(raw)
    if not isinstance(body, dict):
        raise invalid_request("the request body must be a JSON object")
    return body


class ClientDialect:
    def __init__(self, convert: bool = True) -> None:
        """`convert`: the request goes to an upstream (False: it is answered locally, as count_tokens is)."""
        self.convert = convert

    def requestheaders(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        state.dialect, state.gemini = dialect_of(flow.request.path)
        call = state.gemini
        alt = query_param(flow.request.query_string, "alt")
        if call is not None and call.streams and alt != "sse":
            if alt not in ("", "json"):
                raise invalid_request(f"alt={alt} is not served: streamGenerateContent answers with alt=sse "
                                      "(server-sent events) or without alt (one JSON array)")
            state.gemini = replace(call, array=True)

    def request(self, flow: Flow[RelayState]) -> None:
        """The client's body into the hub's; what the hub cannot carry is a 400 before any upstream call."""
        state = flow.state
        if not state.dialect or not self.convert:
            return
        body = json_object_body(flow.request.body)
        state.client_body, state.client_raw = body, flow.request.body
        try:
            hub = to_hub(state.dialect, state.gemini, body)
        except ConversionError as e:
            # a channel of the client's own dialect can still serve it (DialectUpstream refuses it elsewhere)
            state.dialect_refusal = RelayError(e.status, e.message, type="invalid_request_error", code=e.code)
            hub = stand_in(body, state.dialect) if state.gemini is None else gemini_stand_in(body, state.gemini)
        flow.request.body = orjson.dumps(hub)

    def response(self, flow: Flow[RelayState]) -> None:
        """The hub's answer (the upstream's bytes, or a provider converter's output) into the client's dialect;
        a Gemini stream asked for without `alt=sse` then becomes one JSON array."""
        state = flow.state
        if not state.dialect:
            return
        if not state.dialect_passthrough:
            self._to_client(flow)
        call = state.gemini
        if call is not None and call.array and flow.stream:
            array = JsonArrayStream(lambda error: DIALECTS["gemini"].error_from_openai(error)[1])
            flow.metadata["gemini_array"] = array   # this addon's scratch: error() ends the array with it
            flow.transform = _chained(flow.transform, array.feed, array.flush)
            flow.stream_content_type = "application/json"

    @staticmethod
    def _to_client(flow: Flow[RelayState]) -> None:
        state = flow.state
        dialect, inner = DIALECTS[state.dialect], flow.transform
        if flow.stream:
            converter = dialect.stream_from_openai(request=state.client_body)
            state.stream_converter = converter   # billing reads the hub usage it saw
            flow.transform = _chained(inner, converter.feed, converter.flush)
            return
        parts: list[bytes] = []

        def collect(data: bytes) -> list[bytes]:
            parts.append(data)
            return []

        def answer() -> list[bytes]:
            hub = orjson.loads(b"".join(parts))
            if state.usage is None:   # a provider converter may have read it already
                state.usage = usage_from(hub.get("usage"))
                state.usage_source = "upstream" if state.usage is not None else ""
            call = state.gemini
            if call is not None and call.embeds:
                return [orjson.dumps(embeddings_response_from_openai(hub, batch=call.method == BATCH_EMBED))]
            return [orjson.dumps(dialect.response_from_openai(hub, request=state.client_body))]

        flow.buffer_response = True
        flow.transform = _chained(inner, collect, answer)

    def error(self, flow: Flow[RelayState]) -> None:
        state, err = flow.state, flow.error
        if state.dialect and err is not None and not isinstance(err, DialectError):
            array = flow.metadata.get("gemini_array")
            converter = array if isinstance(array, JsonArrayStream) else (
                state.stream_converter if isinstance(state.stream_converter, EndsInStream) else None)
            flow.error = DialectError(err, DIALECTS[state.dialect].error_from_openai, state.dialect, converter)


def to_hub(dialect: str, call: GeminiCall | None, body: dict[str, Any]) -> dict[str, Any]:
    """The client's request as the hub's: chat, or embeddings for Gemini's embed calls (model from the path)."""
    if call is None:
        return DIALECTS[dialect].request_to_openai(body)
    if call.embeds:
        return embeddings_request_to_openai(body, model=call.model, batch=call.method == BATCH_EMBED)
    return DIALECTS[dialect].request_to_openai(body, model=call.model, stream=call.streams)


def stand_in(body: dict[str, Any], dialect: str = "anthropic") -> dict[str, Any]:
    """The hub request for routing and the reservation when the real one cannot be made: the model, the output
    limit and the whole request as the prompt's text (it holds at least what the prompt costs)."""
    fields, limit = _STAND_IN[dialect]
    prompt = {k: body.get(k) for k in fields if k in body}
    out: dict[str, Any] = {"model": body.get("model"), "messages": [{"role": "user", "content": orjson.dumps(
        prompt).decode()}]}
    if isinstance(body.get(limit), int):
        out["max_tokens"] = body[limit]
    if body.get("stream") is True:
        out["stream"] = True
    return out


def gemini_stand_in(body: dict[str, Any], call: GeminiCall) -> dict[str, Any]:
    """stand_in for a Gemini request: the model and stream-ness from the path, the output limit from
    generationConfig, the request as the prompt (embed calls: as the input)."""
    if call.embeds:
        return {"model": call.model, "input": [orjson.dumps(body).decode()]}
    prompt = {k: v for k, v in body.items() if k not in ("generationConfig", "generation_config")}
    out: dict[str, Any] = {"model": call.model, "messages": [{"role": "user", "content": orjson.dumps(
        prompt).decode()}]}
    config = body.get("generationConfig") or body.get("generation_config")
    limit = config.get("maxOutputTokens", config.get("max_output_tokens")) if isinstance(config, dict) else None
    if isinstance(limit, int):
        out["max_tokens"] = limit
    if call.streams:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _chained(inner: BodyTransform | None, feed: Callable[[bytes], list[bytes]],
             flush: Callable[[], list[bytes]]) -> BodyTransform:
    """`inner`'s output (provider → hub) fed to the dialect's (hub → client); no inner: the bytes go straight in."""
    if inner is None:
        return BodyTransform(feed, flush)

    def chained_feed(data: bytes) -> list[bytes]:
        return [out for piece in inner.feed(data) for out in feed(piece)]

    def chained_flush() -> list[bytes]:
        return [out for piece in inner.flush() for out in feed(piece)] + flush()

    return BodyTransform(chained_feed, chained_flush)


__all__ = ["DIALECT_PATHS", "ClientDialect", "DialectError", "dialect_of", "gemini_stand_in", "invalid_request",
           "json_body", "json_object_body", "stand_in", "to_hub"]
