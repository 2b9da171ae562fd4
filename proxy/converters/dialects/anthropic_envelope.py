"""Anthropic client → Claude on AWS Bedrock or Vertex AI: the same Messages body in the cloud's envelope, not a
trip through the hub (issue #15). Thinking blocks with their signatures, cache_control, tools and any field the
hub does not know survive; only the envelope changes:

- Bedrock (`invoke` / `invoke-with-response-stream`, SigV4 or a Bedrock API key): the model goes in the URL,
  `model` and `stream` leave the body, `anthropic_version: "bedrock-2023-05-31"` joins it and the client's
  `anthropic-beta` header becomes the body's `anthropic_beta` list. Its stream is AWS event-stream framing with
  each Anthropic event base64-encoded inside: `BedrockEvents` writes those events back as Anthropic's SSE.
- Vertex AI (`…/publishers/anthropic/models/{model}:rawPredict` / `:streamRawPredict`, an OAuth token): the model
  goes in the URL, `anthropic_version: "vertex-2023-10-16"`, `stream` stays; its answer and SSE are Anthropic's
  own bytes.

Pure: the URL building, credentials and signing are the provider converters' (proxy.converters.providers.aws,
.vertexai); the relay passes the OAuth token in `ctx.access_token`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import ConvertContext, OpenAIError, UpstreamRequest, Usage
from proxy.converters.dialects.anthropic_client_answer import error_from_openai
from proxy.converters.dialects.anthropic_passthrough import AnthropicUsageReader
from proxy.converters.errors import parse_json
from proxy.converters.eventstream import EventMessage, EventStreamDecoder, EventStreamError
from proxy.converters.providers import aws, vertexai
from proxy.converters.providers.anthropic_stream import usage_to_openai

__all__ = ["BedrockEvents", "bedrock_request", "vertex_gemini_request", "vertex_request"]

_DROPPED = ("model", "stream")


def _beta_list(beta: str) -> list[str]:
    return [b.strip() for b in beta.split(",") if b.strip()]


def bedrock_request(body: Mapping[str, Any], ctx: ConvertContext, beta: str = "") -> UpstreamRequest:
    """`body`: the client's Messages request with the gateway's changes applied; `beta`: its anthropic-beta."""
    payload: dict[str, Any] = {"anthropic_version": aws.ANTHROPIC_VERSION,
                               **{k: v for k, v in body.items() if k not in _DROPPED}}
    if beta and "anthropic_beta" not in payload:
        payload["anthropic_beta"] = _beta_list(beta)
    return aws.invoke_request(payload, ctx.model, ctx.stream, ctx)


def vertex_request(body: Mapping[str, Any], ctx: ConvertContext, beta: str = "") -> UpstreamRequest:
    """As bedrock_request, for Vertex AI's Anthropic publisher; `anthropic-beta` goes as the header."""
    payload: dict[str, Any] = {k: v for k, v in body.items() if k != "model"}
    payload["anthropic_version"] = vertexai.ANTHROPIC_VERSION
    if ctx.stream:
        payload["stream"] = True
    else:
        payload.pop("stream", None)
    url = vertexai.model_url(ctx, "anthropic", "streamRawPredict" if ctx.stream else "rawPredict")
    headers = {"Authorization": f"Bearer {vertexai.bearer(ctx)}", "Content-Type": "application/json"}
    if beta:
        headers["anthropic-beta"] = beta
    return UpstreamRequest("POST", url, headers, orjson.dumps(payload))


def vertex_gemini_request(body: bytes, ctx: ConvertContext, method: str) -> UpstreamRequest:
    """A Gemini client's generateContent / streamGenerateContent on Vertex AI's Google publisher: the same body
    (its bytes), the model in the URL, a stream asked for as SSE, the OAuth token (a Gemini client's envelope)."""
    query = "?alt=sse" if ctx.stream else ""
    url = vertexai.model_url(ctx, "google", method) + query
    headers = {"Authorization": f"Bearer {vertexai.bearer(ctx)}", "Content-Type": "application/json"}
    return UpstreamRequest("POST", url, headers, body)


def _sse(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


class BedrockEvents:
    """A StreamConverter: Bedrock's event-stream frames in (any split), Anthropic's SSE out, each event's JSON as
    Bedrock decoded it. Usage is read from the events (and Bedrock's invocation metrics, which are authoritative);
    an exception frame becomes Anthropic's `event: error`, after which nothing more is written."""

    def __init__(self) -> None:
        self._frames = EventStreamDecoder()
        self._reader = AnthropicUsageReader()
        self._metrics: Usage | None = None
        self._error: OpenAIError | None = None

    @property
    def usage(self) -> Usage:
        return self._metrics if self._metrics is not None else self._reader.usage

    @property
    def error(self) -> OpenAIError | None:
        return self._error or self._reader.error

    def feed(self, data: bytes) -> list[bytes]:
        if self._error is not None:
            return []
        try:
            messages = self._frames.feed(data)
        except EventStreamError as exc:
            return self._fail(OpenAIError(502, f"invalid event stream from upstream: {exc}", "server_error"))
        out: list[bytes] = []
        for message in messages:
            out += self._message(message)
            if self._error is not None:
                break
        return out

    def flush(self) -> list[bytes]:
        if self._error is None and self._frames.pending:
            return self._fail(OpenAIError(502, "the upstream stream ended inside an event", "server_error"))
        return []

    def _fail(self, error: OpenAIError) -> list[bytes]:
        self._error = error
        return [_sse("error", error_from_openai(error)[1])]

    def _message(self, message: EventMessage) -> list[bytes]:
        error = aws.frame_error(message)
        if error is not None:
            return self._fail(error)
        raw = aws.frame_event(message)
        if raw is None:
            return []
        event = parse_json(raw)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            return self._fail(OpenAIError(502, "undecodable event in the upstream stream", "server_error"))
        metrics = event.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self._metrics = usage_to_openai(aws.metrics_usage(metrics))
        sse = _sse(event["type"], raw)
        self._reader.feed(sse)
        return [sse]

