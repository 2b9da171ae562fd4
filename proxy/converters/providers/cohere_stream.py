"""Cohere streams → OpenAI chunks: v1 newline-delimited JSON and v2 SSE events, plus shared tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from proxy.converters.base import ConvertContext, OpenAIError, Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import parse_json
from proxy.converters.ndjson import NDJSONDecoder
from proxy.core.sse import SSEDecoder

FINISH_REASONS = {
    "COMPLETE": "stop", "STOP_SEQUENCE": "stop", "USER_CANCEL": "stop",
    "MAX_TOKENS": "length", "ERROR_LIMIT": "length", "TOOL_CALL": "tool_calls",
    "ERROR_TOXIC": "content_filter", "ERROR": "stop", "TIMEOUT": "stop",
}


def finish_reason(raw: Any) -> str:
    return FINISH_REASONS.get(raw, "stop") if raw else "stop"


def usage_from_cohere(meta: Any) -> Usage:
    """billed_units is what Cohere charges; tokens include its prompt template (fallback only)."""
    if not isinstance(meta, Mapping):
        return Usage()
    counts = meta.get("billed_units") or meta.get("tokens") or {}
    return Usage(prompt_tokens=int(counts.get("input_tokens") or 0),
                 completion_tokens=int(counts.get("output_tokens") or 0))


def inline_error(message: Any, status: int = 500) -> OpenAIError:
    return OpenAIError(status=status, message=str(message or "upstream error"), type="server_error")


def _delta_message(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((obj.get("delta") or {}).get("message")) or {}


class CohereStream:
    """One converter for both wire formats; events are told apart by `type` (v2) / `event_type` (v1)."""

    def __init__(self, ctx: ConvertContext, version: str) -> None:
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self._ndjson = NDJSONDecoder() if version == "v1" else None
        self._sse = SSEDecoder() if version != "v1" else None
        self._writer = ChunkWriter(ctx.model, include_usage=ctx.include_usage, created=int(ctx.now))
        self._closed = False

    def feed(self, data: bytes) -> list[bytes]:
        if self._ndjson is not None:
            return self._payloads(self._ndjson.feed(data))
        return self._payloads([event.data for event in self._sse.feed(data)])  # type: ignore[union-attr]

    def flush(self) -> list[bytes]:
        if self._ndjson is not None:
            out = self._payloads(self._ndjson.flush())
        else:
            out = self._payloads([event.data for event in self._sse.flush()])  # type: ignore[union-attr]
        if self._closed:
            return out
        self._closed = True
        return out + self._writer.end("stop", self.usage)

    def _payloads(self, payloads: list[str]) -> list[bytes]:
        out: list[bytes] = []
        for payload in payloads:
            obj = parse_json(payload.encode())
            if self._closed or not isinstance(obj, dict):  # also skips v2's trailing [DONE]
                continue
            kind = obj.get("type") or obj.get("event_type")
            if kind is None and obj.get("message"):  # an error object in place of an event
                out += self._fail(inline_error(obj["message"]))
                continue
            handler = _HANDLERS.get(kind)  # type: ignore[arg-type]
            if handler is not None:
                out += self._writer.start() + handler(self, obj)
        return out

    def _fail(self, err: OpenAIError) -> list[bytes]:
        self.error = err
        self._closed = True
        return ChunkWriter.error(err)

    def _end(self, reason: Any, meta: Any) -> list[bytes]:
        self.usage = usage_from_cohere(meta)
        self._closed = True
        return self._writer.end(finish_reason(reason), self.usage)

    # v1 events
    def _v1_text(self, obj: Mapping[str, Any]) -> list[bytes]:
        return self._writer.content(obj.get("text") or "")

    def _v1_end(self, obj: Mapping[str, Any]) -> list[bytes]:
        return self._end(obj.get("finish_reason"), (obj.get("response") or {}).get("meta"))

    # v2 events
    def _v2_start(self, obj: Mapping[str, Any]) -> list[bytes]:
        return []

    def _v2_content(self, obj: Mapping[str, Any]) -> list[bytes]:
        content = _delta_message(obj).get("content") or {}
        return self._writer.reasoning(content.get("thinking") or "") + self._writer.content(content.get("text") or "")

    def _v2_plan(self, obj: Mapping[str, Any]) -> list[bytes]:
        return self._writer.reasoning(_delta_message(obj).get("tool_plan") or "")

    def _v2_call_start(self, obj: Mapping[str, Any]) -> list[bytes]:
        call = _delta_message(obj).get("tool_calls") or {}
        fn = call.get("function") or {}
        return self._writer.tool_call_start(obj.get("index", 0), call.get("id") or "", fn.get("name") or "",
                                            fn.get("arguments") or "")

    def _v2_call_delta(self, obj: Mapping[str, Any]) -> list[bytes]:
        fn = (_delta_message(obj).get("tool_calls") or {}).get("function") or {}
        return self._writer.tool_call_arguments(obj.get("index", 0), fn.get("arguments") or "")

    def _v2_end(self, obj: Mapping[str, Any]) -> list[bytes]:
        delta = obj.get("delta") or {}
        if delta.get("error"):
            return self._fail(inline_error(delta["error"]))
        return self._end(delta.get("finish_reason"), delta.get("usage"))


_HANDLERS: dict[str, Callable[[CohereStream, Mapping[str, Any]], list[bytes]]] = {
    "text-generation": CohereStream._v1_text, "stream-end": CohereStream._v1_end,
    "message-start": CohereStream._v2_start, "content-delta": CohereStream._v2_content,
    "tool-plan-delta": CohereStream._v2_plan, "tool-call-start": CohereStream._v2_call_start,
    "tool-call-delta": CohereStream._v2_call_delta, "message-end": CohereStream._v2_end,
}
