"""Builds the OpenAI `chat.completion.chunk` events every stream converter emits.

One writer per response keeps id, created and model identical on every chunk
and gives tool calls stable indices, as providers-global.md §0.3 requires.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from proxy.converters.base import OpenAIError, Usage
from proxy.core.sse import DONE, encode_data


def new_completion_id(prefix: str = "chatcmpl-") -> str:
    return prefix + uuid.uuid4().hex[:24]


class ChunkWriter:
    """Serialises OpenAI stream chunks; every method returns one SSE event's bytes."""

    def __init__(self, model: str, *, include_usage: bool = False, id: str | None = None,
                 created: int | None = None, role_with_content: bool = False) -> None:
        self.model = model
        self.role_with_content = role_with_content   # the first content chunk carries the role (China vectors)
        self.include_usage = include_usage
        self.id = id or new_completion_id()
        self.created = int(created if created is not None else time.time())
        self.started = False
        self.finished = False
        self._tool_index: dict[Any, int] = {}

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None, index: int = 0) -> bytes:
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            obj["usage"] = None
        return encode_data(orjson.dumps(obj))

    def start(self) -> list[bytes]:
        """The role chunk, once, before anything else."""
        if self.started:
            return []
        self.started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def content(self, text: str) -> list[bytes]:
        if not text:
            return []
        if self.role_with_content and not self.started:
            self.started = True
            return [self._chunk({"role": "assistant", "content": text})]
        return self.start() + [self._chunk({"content": text})]

    def reasoning(self, text: str) -> list[bytes]:
        if not text:
            return []
        return self.start() + [self._chunk({"reasoning_content": text})]

    def tool_call_start(self, key: Any, call_id: str, name: str, arguments: str = "") -> list[bytes]:
        """First delta of a tool call; `key` is the provider's handle for it (block index, id)."""
        index = self._tool_index.setdefault(key, len(self._tool_index))
        call = {"index": index, "id": call_id, "type": "function",
                "function": {"name": name, "arguments": arguments}}
        return self.start() + [self._chunk({"tool_calls": [call]})]

    def tool_call_arguments(self, key: Any, fragment: str) -> list[bytes]:
        if not fragment or key not in self._tool_index:
            return []
        call = {"index": self._tool_index[key], "function": {"arguments": fragment}}
        return [self._chunk({"tool_calls": [call]})]

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._tool_index)

    def finish(self, reason: str) -> list[bytes]:
        if self.finished:
            return []
        self.finished = True
        if reason == "stop" and self.has_tool_calls:
            reason = "tool_calls"
        return self.start() + [self._chunk({}, reason)]

    def usage(self, usage: Usage) -> list[bytes]:
        """The trailing usage chunk, only when the client asked for it."""
        if not self.include_usage:
            return []
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
               "model": self.model, "choices": [], "usage": usage.to_openai()}
        return [encode_data(orjson.dumps(obj))]

    def end(self, reason: str, usage: Usage) -> list[bytes]:
        """finish chunk, usage chunk, [DONE]."""
        return self.finish(reason) + self.usage(usage) + [DONE]

    @staticmethod
    def error(err: OpenAIError) -> list[bytes]:
        """A mid-stream error: one data event with an `error` key (openai-python raises on it)."""
        return [encode_data(orjson.dumps(err.to_body()))]


def completion_body(model: str, message: dict[str, Any], finish_reason: str, usage: Usage,
                    *, id: str | None = None, created: int | None = None) -> dict[str, Any]:
    """A non-stream `chat.completion` with one choice."""
    if message.get("tool_calls") and finish_reason == "stop":
        finish_reason = "tool_calls"
    return {
        "id": id or new_completion_id(),
        "object": "chat.completion",
        "created": int(created if created is not None else time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage.to_openai(),
    }
