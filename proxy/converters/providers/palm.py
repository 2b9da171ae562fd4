"""PaLM 2 (legacy, decommissioned by Google): OpenAI chat → generateMessage; streams are simulated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import parse_json
from proxy.converters.providers.gemini_stream import chat_body, google_error
from proxy.converters.text import text_parts_of

__all__ = ["request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai", "PalmStream"]

PROVIDES = Provides()

API_VERSION = "v1beta2"
# One API's channel model name; any other name is sent as given (chat-bison-001, ...).
_MODEL_ALIASES = {"PaLM-2": "chat-bison-001"}
_AUTHORS = {"user": "0", "assistant": "1"}  # the documented convention: 0 = user, 1 = model
_PARAMS = {"temperature": "temperature", "top_p": "topP", "top_k": "topK", "n": "candidateCount"}
_TEXT_ONLY = "PaLM accepts text only (no images or other content parts)"


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    """Always the non-stream method: PaLM has no streaming, the stream converter simulates it."""
    if ctx.mode != "chat":
        raise ConversionError(f"PaLM channels do not support the {ctx.mode!r} endpoint")
    _reject_unsupported(body, ctx)
    context, messages = _prompt_from_messages(body.get("messages") or [])
    prompt: dict[str, Any] = {"messages": messages}
    if context:
        prompt["context"] = context
    payload: dict[str, Any] = {"prompt": prompt}
    payload.update({dst: body[src] for src, dst in _PARAMS.items() if body.get(src) is not None})
    model = _MODEL_ALIASES.get(ctx.model, ctx.model)
    url = f"{ctx.base_url}/{API_VERSION}/models/{model}:generateMessage"
    headers = {"x-goog-api-key": ctx.key, "Content-Type": "application/json"}
    return UpstreamRequest("POST", url, headers, orjson.dumps(payload))


def _reject_unsupported(body: Mapping[str, Any], ctx: ConvertContext) -> None:
    if body.get("tools") or body.get("functions"):
        raise ConversionError("PaLM does not support tools or function calling")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise ConversionError("PaLM does not support response_format")
    if ctx.stream and (body.get("n") or 1) > 1:
        raise ConversionError("n > 1 is not supported together with stream for PaLM")


def _prompt_from_messages(messages: list[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """System/developer text becomes the context; user/assistant turns become authored messages."""
    context: list[str] = []
    out: list[dict[str, str]] = []
    for msg in messages:
        role = msg.get("role")
        text = text_parts_of(msg.get("content"), _TEXT_ONLY)
        if role in ("system", "developer"):
            context.append(text)
        elif role in _AUTHORS:
            if text:
                out.append({"author": _AUTHORS[role], "content": text})
        else:
            raise ConversionError(f"message role {role!r} is not supported by PaLM")
    if not out:
        raise ConversionError("messages must contain at least one non-empty user or assistant message")
    return "\n".join(t for t in context if t), out


def _choices(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    candidates = obj.get("candidates") or []
    choices = [{"index": i, "message": {"role": "assistant", "content": c.get("content") or ""},
                "finish_reason": "stop"} for i, c in enumerate(candidates)]
    if not choices:  # blocked: no candidates, `filters` says why
        reason = "content_filter" if obj.get("filters") else "stop"
        choices = [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": reason}]
    return choices


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    """PaLM reports no token counts: usage stays 0 for the relay to count locally."""
    obj = parse_json(body)
    if not isinstance(obj, dict) or "error" in obj:
        return Converted(None, Usage(), error=google_error(status, body, obj))
    usage = Usage()
    return Converted(chat_body(ctx, _choices(obj), usage), usage)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    return google_error(status, body)


class PalmStream:
    """Collects the whole generateMessage answer and replays it as chunks on flush."""

    def __init__(self, ctx: ConvertContext) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._ctx = ctx
        self._buf = bytearray()
        self._closed = False
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))

    def feed(self, data: bytes) -> list[bytes]:
        if not self._closed:
            self._buf += data
        return []

    def flush(self) -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        if not self._buf.strip():
            return self._writer.end("stop", self.usage)
        converted = response_to_openai(200, bytes(self._buf), self._ctx)
        self._buf.clear()
        if converted.error is not None:
            self.error = converted.error
            return ChunkWriter.error(converted.error)
        choice = converted.body["choices"][0]  # type: ignore[index]
        out = self._writer.start() + self._writer.content(choice["message"]["content"])
        return out + self._writer.end(choice["finish_reason"], self.usage)


def stream_to_openai(ctx: ConvertContext) -> PalmStream:
    return PalmStream(ctx)
