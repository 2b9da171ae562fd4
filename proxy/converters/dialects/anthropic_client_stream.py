"""Hub (OpenAI chat) SSE → Anthropic Messages SSE, event by event, in the grammar Claude Code and the SDKs check
(client-dialects.md §0, §2.9): every event named, blocks indexed 0, 1, 2 in start order with one open at a time,
deltas of their block's type, a stop for every start, then message_delta (stop reason, cumulative usage) and
message_stop."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from proxy.converters.base import OpenAIError
from proxy.converters.dialects.anthropic_client_answer import (
    message_id,
    model_of,
    stop_reason_from_openai,
    usage_from_openai,
    usage_to_anthropic,
)
from proxy.converters.dialects.anthropic_client_request import thinking_wanted
from proxy.converters.dialects.hub_stream import HubStream
from proxy.converters.errors import parse_json

__all__ = ["AnthropicStreamFromOpenAI", "event"]

_ANTHROPIC_TYPES = frozenset({"invalid_request_error", "authentication_error", "billing_error", "permission_error",
                              "not_found_error", "request_too_large", "rate_limit_error", "api_error",
                              "timeout_error", "overloaded_error"})


def event(kind: str, payload: Mapping[str, Any]) -> bytes:
    """One named SSE event; the JSON repeats the name in `type` (Claude Code skips unnamed events)."""
    data = orjson.dumps({"type": kind, **payload})
    return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"


def _stream_error_type(error: OpenAIError) -> str:
    """An error after the 200: Claude Code retries overloaded_error and api_error, then falls back to a
    non-streamed request."""
    if error.type in _ANTHROPIC_TYPES:
        return error.type
    if error.status == 429 or "rate_limit" in error.type:
        return "rate_limit_error"
    return "overloaded_error" if "overloaded" in error.type or error.status == 529 else "api_error"


@dataclass
class _Tool:
    """One hub tool call (by its hub index): its block once started, its arguments while it waits."""

    id: str = ""
    name: str = ""
    pending: list[str] = field(default_factory=list)
    block: int | None = None
    closed: bool = False


class AnthropicStreamFromOpenAI(HubStream):
    """`feed(hub SSE bytes, any split) -> list[Anthropic SSE event bytes]`, `flush()` at the end of the hub stream.

    One block is open at a time. The first tool call streams its arguments live; a tool call that starts while
    another streams is held and sent whole when the blocks close (hubs may interleave parallel calls, and a
    block once stopped cannot take more deltas). A hub stream that ends without a finish reason ends with an
    `error` event, so the client retries rather than keeping a cut answer."""

    def __init__(self, request: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._request = request
        self._thinking = thinking_wanted(request)
        self._cache_write = 0
        self._started = False
        self._ended = False
        self._next_index = 0
        self._open: tuple[str, int] | None = None     # (block type, index) of the open block
        self._tools: dict[int, _Tool] = {}
        self._live: _Tool | None = None               # the tool call whose block is open
        self._finish: Any = None
        self._refused = False

    def _final(self) -> list[bytes]:
        if self._ended:
            return []
        if self._finish is not None:
            return self._end()
        return self._fail({"message": "the upstream stream ended before it finished", "type": "api_error"})

    # -- hub events ------------------------------------------------------------------------------------------
    def _event(self, data: str) -> list[bytes]:
        if self._ended:
            return []
        data = data.strip()
        if data == "[DONE]":
            if self._started or self._finish is not None:
                return self._end()
            return self._fail({"message": "the upstream stream ended without an answer", "type": "api_error"})
        chunk = parse_json(data)
        return self._chunk(chunk) if isinstance(chunk, dict) else []

    def _chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        if chunk.get("error"):
            return self._fail(chunk["error"])
        out = self._start(chunk)
        if isinstance(chunk.get("usage"), Mapping):
            self._usage, self._cache_write = usage_from_openai(chunk["usage"])
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if isinstance(choice, Mapping) and choice.get("index", 0) == 0:
                out += self._choice(choice)
        return out

    def _choice(self, choice: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = choice.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning and self._thinking:
            out += self._block_delta("thinking", {"type": "thinking_delta", "thinking": reasoning})
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self._refused = self._refused or key == "refusal"
                out += self._block_delta("text", {"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, Mapping) and not self._ended:
                out += self._tool_delta(call)
        if self._ended:
            return out
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
            out += self._close_all()
        return out

    # -- blocks ----------------------------------------------------------------------------------------------
    def _start(self, chunk: Mapping[str, Any]) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {"id": message_id(chunk.get("id")), "type": "message", "role": "assistant",
                   "model": model_of(chunk, self._request), "content": [], "stop_reason": None,
                   "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
        return [event("message_start", {"message": message})]

    def _open_block(self, block: dict[str, Any]) -> list[bytes]:
        out = self._close()
        index, self._next_index = self._next_index, self._next_index + 1
        self._open = (block["type"], index)
        return out + [event("content_block_start", {"index": index, "content_block": block})]

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        index = self._open[1]
        self._open = None
        if self._live is not None:
            self._live.closed, self._live = True, None
        return [event("content_block_stop", {"index": index})]

    def _block_delta(self, kind: str, delta: dict[str, Any]) -> list[bytes]:
        """A text or thinking delta, in a block of its type (closing the open one if it is another)."""
        out: list[bytes] = []
        if self._open is None or self._open[0] != kind:
            shell = {"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking" else \
                {"type": "text", "text": ""}
            out = self._open_block(shell)
        assert self._open is not None
        return out + [event("content_block_delta", {"index": self._open[1], "delta": delta})]

    def _tool_delta(self, call: Mapping[str, Any]) -> list[bytes]:
        index = call.get("index", 0)
        tool = self._tools.setdefault(index if isinstance(index, int) else 0, _Tool())
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        if isinstance(call.get("id"), str) and not tool.id:
            tool.id = call["id"]
        if isinstance(function.get("name"), str) and not tool.name:
            tool.name = function["name"]
        fragment = function.get("arguments")
        fragment = fragment if isinstance(fragment, str) else ""
        if tool is self._live:
            return self._json_delta(tool, fragment)
        if tool.closed:
            if not fragment:
                return []
            return self._fail({"message": f"the upstream sent more arguments for tool call {tool.name!r} after "
                                          f"other output; the call cannot be completed", "type": "api_error"})
        tool.pending.append(fragment)
        if self._live is not None or not tool.name:
            return []
        return self._start_tool(tool)

    def _start_tool(self, tool: _Tool) -> list[bytes]:
        out = self._open_block({"type": "tool_use", "id": tool.id or f"toolu_{uuid.uuid4().hex[:24]}",
                                "name": tool.name, "input": {}})
        assert self._open is not None
        tool.block, self._live = self._open[1], tool
        held, tool.pending = "".join(tool.pending), []
        return out + self._json_delta(tool, held)

    def _json_delta(self, tool: _Tool, fragment: str) -> list[bytes]:
        if not fragment:
            return []
        return [event("content_block_delta", {"index": tool.block,
                                              "delta": {"type": "input_json_delta", "partial_json": fragment}})]

    def _close_all(self) -> list[bytes]:
        """Close the open block, then send each held tool call whole, in hub order."""
        out = self._close()
        for index in sorted(self._tools):
            tool = self._tools[index]
            if tool.block is None and not tool.closed:
                if not tool.name:
                    return out + self._fail({"message": f"the upstream's tool call {index} has no name",
                                             "type": "api_error"})
                out += self._start_tool(tool) + self._close()
        return out

    # -- the end ---------------------------------------------------------------------------------------------
    def _end(self) -> list[bytes]:
        out = self._close_all()
        if self._ended:
            return out
        self._ended = True
        has_tools = any(t.block is not None for t in self._tools.values())
        stop_reason = "refusal" if self._refused else stop_reason_from_openai(self._finish, has_tools)
        delta = {"delta": {"stop_reason": stop_reason, "stop_sequence": None},
                 "usage": usage_to_anthropic(self._usage, self._cache_write)}
        return out + [event("message_delta", delta), event("message_stop", {})]

    def _fail(self, raw: Any) -> list[bytes]:
        """The hub's in-stream error (or the converter's own) as Anthropic's `error` event; nothing follows it."""
        raw = raw if isinstance(raw, Mapping) else {"message": str(raw)}
        message = raw.get("message") if isinstance(raw.get("message"), str) and raw.get("message") else \
            "upstream error"
        code = raw.get("code")
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        kind = raw.get("type") if isinstance(raw.get("type"), str) and raw.get("type") else "api_error"
        self._error = OpenAIError(status=status, message=message, type=kind, code=code)
        self._ended = True
        error = {"type": _stream_error_type(self._error), "message": message}
        return [event("error", {"error": error})]

