"""The hub's (OpenAI chat) SSE stream → Gemini's `streamGenerateContent?alt=sse` events (client-dialects.md §4.5, §5.6).

Each event is `data: <GenerateContentResponse on one line>` and a blank line (CRLF CRLF, as Gemini sends),
never an `event:` line or a comment: Gemini CLI's parser stalls on them (§0 fact 10). Text and thought parts
go out as they come, one event each, one event late: the last one is held back to travel with the final
event, so that event (finishReason, usageMetadata, the function calls) is a complete answer chunk as
Gemini's own last event is. Tool calls are buffered and sent whole in that final event (Gemini never splits
a call). Every stream ends with a finishReason (Gemini CLI refuses a text answer without one, fact 11); the
final event waits for the hub's usage chunk (it comes after the finish chunk) or `[DONE]` or the end. An
error inside the hub stream ends the stream with a bare `{"error": {code, message, status}}` object, which
google-genai and Gemini CLI's SDK raise as an API error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import OpenAIError
from proxy.converters.dialects.gemini_client_answer import (
    error_body,
    finish_reason,
    function_call_part,
    usage_from_openai,
    usage_metadata,
    wants_thoughts,
)
from proxy.converters.dialects.hub_stream import HubStream
from proxy.converters.errors import parse_json

__all__ = ["GeminiClientStream", "stream_from_openai"]

_SEPARATOR = b"\r\n\r\n"
# an error event inside a hub stream carries no status: its type says it
_STATUS_BY_TYPE = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
                   "not_found_error": 404, "rate_limit_error": 429, "insufficient_quota": 429,
                   "timeout_error": 504, "overloaded_error": 503}


def stream_from_openai(*, request: Mapping[str, Any] | None = None) -> GeminiClientStream:
    return GeminiClientStream(thoughts=wants_thoughts(request))


class _Call:
    """One tool call being assembled from its deltas."""

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments: list[str] = []
        self.extra: Any = None

    def add(self, delta: Mapping[str, Any]) -> None:
        fn = delta.get("function") or {}
        self.id = self.id or str(delta.get("id") or "")
        self.name = self.name or str(fn.get("name") or "")
        self.arguments.append(str(fn.get("arguments") or ""))
        self.extra = self.extra or delta.get("extra_content")

    def whole(self) -> dict[str, Any]:
        call: dict[str, Any] = {"id": self.id, "function": {"name": self.name, "arguments": "".join(self.arguments)}}
        if self.extra:
            call["extra_content"] = self.extra
        return call


class GeminiClientStream(HubStream):
    """feed(hub SSE bytes, any split) → Gemini SSE events; flush() at the end of the hub stream."""

    def __init__(self, *, thoughts: bool) -> None:
        super().__init__()
        self._thoughts = thoughts
        self._model = ""
        self._id = ""
        self._held: list[dict[str, Any]] = []   # the last parts, sent with the next event or the final one
        self._calls: dict[int, _Call] = {}
        self._finish: Any = None
        self._finished = False
        self._total: Any = None
        self._usage_seen = False
        self._ended = False

    def _event(self, data: str) -> list[bytes]:
        if self._ended:
            return []
        if data.strip() == "[DONE]":
            return self._final()
        chunk = parse_json(data)
        if not isinstance(chunk, dict):
            return []
        if "error" in chunk:
            return self._fail(chunk["error"])
        self._model = self._model or str(chunk.get("model") or "")
        self._id = self._id or str(chunk.get("id") or "")
        if isinstance(chunk.get("usage"), dict):
            self._usage, self._total = usage_from_openai(chunk["usage"]), chunk["usage"].get("total_tokens")
            self._usage_seen = True
        parts: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict) and not choice.get("index"):   # one candidate: n > 1 is refused
                parts += self._choice(choice)
        out = self._send(parts) if parts else []
        if self._finished and self._usage_seen:
            out += self._final()
        return out

    def _choice(self, choice: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = choice.get("delta") or {}
        parts: list[dict[str, Any]] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and self._thoughts:
            parts.append({"text": str(reasoning), "thought": True})
        for text in (delta.get("content"), delta.get("refusal")):
            if text:
                parts.append({"text": str(text)})
        for call in delta.get("tool_calls") or []:
            self._calls.setdefault(int(call.get("index") or 0), _Call()).add(call)
        if choice.get("finish_reason"):
            self._finish, self._finished = choice["finish_reason"], True
        return parts

    def _send(self, parts: list[dict[str, Any]]) -> list[bytes]:
        """Hold these parts; send what was held before."""
        held, self._held = self._held, parts
        return [self._encode(held)] if held else []

    def _final(self) -> list[bytes]:
        if self._ended:
            return []
        self._ended = True
        parts, finish = self._held, finish_reason(self._finish)
        for _, call in sorted(self._calls.items()):
            part = function_call_part(call.whole(), first=not any("functionCall" in p for p in parts))
            if part is None:
                finish = "MALFORMED_FUNCTION_CALL"
            else:
                parts.append(part)
        return [self._encode(parts, finish)]

    def _encode(self, parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        event: dict[str, Any] = {"candidates": [candidate]}
        if finish and self._usage_seen:
            event["usageMetadata"] = usage_metadata(self._usage, self._total)
        if self._model:
            event["modelVersion"] = self._model
        if self._id:
            event["responseId"] = self._id
        return b"data: " + orjson.dumps(event) + _SEPARATOR

    def _fail(self, error: Any) -> list[bytes]:
        """The parts held back, then the error object alone; nothing after it."""
        error = error if isinstance(error, dict) else {"message": str(error)}
        kind = str(error.get("type") or "server_error")
        self._error = OpenAIError(status=_STATUS_BY_TYPE.get(kind, 500),
                                  message=str(error.get("message") or "upstream error"), type=kind,
                                  code=error.get("code"), param=error.get("param"))
        self._ended = True
        held = [self._encode(self._held)] if self._held else []
        return held + [orjson.dumps(error_body(self._error)) + b"\n"]
