"""Anthropic Messages stream events → OpenAI chunks, shared by the Anthropic and Bedrock converters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from proxy.converters.base import ConvertContext, OpenAIError, Usage
from proxy.converters.chunks import ChunkWriter
from proxy.converters.errors import parse_json, type_for_status
from proxy.converters.usage import usage_from_anthropic
from proxy.core.sse import DONE, SSEDecoder, SSEEvent

# providers-global.md §2.3
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
}

# Anthropic error type → the HTTP status Anthropic uses for it (§2.5).
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529,
}

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
                "cache_creation", "output_tokens_details")


def finish_reason_to_openai(stop_reason: Any) -> str:
    return FINISH_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def usage_to_openai(raw: Mapping[str, Any]) -> Usage:
    """Anthropic's input_tokens excludes cached input: prompt = input + cache writes + cache reads."""
    return usage_from_anthropic(raw)


def error_object_to_openai(err: Any, status: int | None = None) -> OpenAIError | None:
    """Anthropic's `{"type": ..., "message": ...}` error object → OpenAI error; None if it is not one."""
    if not isinstance(err, dict) or not isinstance(err.get("message"), str) or not err["message"]:
        return None
    etype = err.get("type") if isinstance(err.get("type"), str) and err.get("type") else None
    if status is None:
        status = ERROR_STATUS.get(etype or "", 500)
    etype = etype or type_for_status(status)
    return OpenAIError(status=status, message=err["message"], type=etype, code=etype)


class AnthropicStream:
    """SSE bytes (or already-decoded events, via `on_event`) → OpenAI chunk events."""

    def __init__(self, ctx: ConvertContext) -> None:
        self._ctx = ctx
        self._sse = SSEDecoder()
        self._writer: ChunkWriter | None = None
        self._raw_usage: dict[str, Any] = {}
        self._stop_reason: Any = None
        self.usage = Usage()
        self.error: OpenAIError | None = None
        self.done = False

    # -- byte interface (Anthropic SSE) ------------------------------------------------
    def feed(self, data: bytes) -> list[bytes]:
        return self._sse_events(self._sse.feed(data))

    def flush(self) -> list[bytes]:
        return self._sse_events(self._sse.flush()) + self.close()

    def _sse_events(self, events: list[SSEEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            obj = parse_json(event.data.encode("utf-8"))
            if isinstance(obj, dict):
                out += self.on_event(obj)
        return out

    # -- event interface (also used by Bedrock) ----------------------------------------
    def on_event(self, event: Mapping[str, Any]) -> list[bytes]:
        """One decoded Anthropic stream event."""
        if self.done:
            return []
        handler = _HANDLERS.get(event.get("type"))  # type: ignore[arg-type]
        return handler(self, event) if handler else []

    def update_usage(self, raw: Mapping[str, Any]) -> None:
        """Usage counts are cumulative: the last value of each field wins, never a sum."""
        for name in USAGE_FIELDS:
            value = raw.get(name)
            if isinstance(value, int | Mapping) and not isinstance(value, bool):
                self._raw_usage[name] = value
        self.usage = usage_to_openai(self._raw_usage)

    def close(self) -> list[bytes]:
        """End of upstream: finish chunk (if not sent yet), usage chunk if asked, [DONE]."""
        if self.done:
            return []
        self.done = True
        return self._w().end(finish_reason_to_openai(self._stop_reason), self.usage)

    def fail(self, err: OpenAIError) -> list[bytes]:
        """A mid-stream error: one `{"error": ...}` event, then the stream ends."""
        if self.done:
            return []
        self.done = True
        self.error = err
        return ChunkWriter.error(err) + [DONE]

    def _w(self, message: Mapping[str, Any] | None = None) -> ChunkWriter:
        if self._writer is None:
            message = message or {}
            msg_id = message.get("id")
            model = message.get("model")
            self._writer = ChunkWriter(
                model if isinstance(model, str) and model else self._ctx.model,
                include_usage=self._ctx.include_usage,
                id=f"chatcmpl-{msg_id}" if isinstance(msg_id, str) and msg_id else None,
                created=int(self._ctx.now),
            )
        return self._writer

    # -- handlers ----------------------------------------------------------------------
    def _message_start(self, event: Mapping[str, Any]) -> list[bytes]:
        message = event.get("message")
        message = message if isinstance(message, dict) else {}
        usage = message.get("usage")
        if isinstance(usage, dict):
            self.update_usage(usage)
        return self._w(message).start()

    def _block_start(self, event: Mapping[str, Any]) -> list[bytes]:
        block = event.get("content_block")
        if not isinstance(block, dict):
            return []
        kind = block.get("type")
        if kind == "tool_use":
            return self._w().tool_call_start(event.get("index"), str(block.get("id") or ""),
                                             str(block.get("name") or ""))
        if kind == "text":
            return self._w().content(str(block.get("text") or ""))
        if kind == "thinking":
            return self._w().reasoning(str(block.get("thinking") or ""))
        return []

    def _block_delta(self, event: Mapping[str, Any]) -> list[bytes]:
        delta = event.get("delta")
        if not isinstance(delta, dict):
            return []
        kind = delta.get("type")
        if kind == "text_delta":
            return self._w().content(str(delta.get("text") or ""))
        if kind == "input_json_delta":
            return self._w().tool_call_arguments(event.get("index"), str(delta.get("partial_json") or ""))
        if kind == "thinking_delta":
            return self._w().reasoning(str(delta.get("thinking") or ""))
        return []  # signature_delta, citations_delta: nothing to show

    def _message_delta(self, event: Mapping[str, Any]) -> list[bytes]:
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.update_usage(usage)
        delta = event.get("delta")
        if isinstance(delta, dict) and delta.get("stop_reason"):
            self._stop_reason = delta["stop_reason"]
            return self._w().finish(finish_reason_to_openai(self._stop_reason))
        return []

    def _message_stop(self, event: Mapping[str, Any]) -> list[bytes]:
        return self.close()

    def _error(self, event: Mapping[str, Any]) -> list[bytes]:
        err = error_object_to_openai(event.get("error"))
        return self.fail(err or OpenAIError(500, "upstream stream error", "server_error"))


_HANDLERS: dict[str, Callable[[AnthropicStream, Mapping[str, Any]], list[bytes]]] = {
    "message_start": AnthropicStream._message_start,
    "content_block_start": AnthropicStream._block_start,
    "content_block_delta": AnthropicStream._block_delta,
    "message_delta": AnthropicStream._message_delta,
    "message_stop": AnthropicStream._message_stop,
    "error": AnthropicStream._error,
    # ping, content_block_stop: nothing to emit
}
