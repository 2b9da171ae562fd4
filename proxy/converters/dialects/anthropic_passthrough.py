"""Anthropic client → Anthropic channel: the answer's bytes go to the client untouched; this reads from them
what billing needs, in any split: the usage of `message_start` and `message_delta` (input, output and both
cache counts, read as the provider converter reads them: cache tokens billed as prompt until #16 prices them
apart) and an `error` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.converters.base import OpenAIError, Usage
from proxy.converters.providers.anthropic_stream import USAGE_FIELDS, error_object_to_openai, usage_to_openai
from proxy.core.sse import SSEDecoder

__all__ = ["AnthropicUsageReader", "answer_usage"]


class AnthropicUsageReader:
    """A StreamConverter whose output is its input: `feed` returns the bytes as they came."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._raw: dict[str, int] = {}
        self._usage = Usage()
        self._error: OpenAIError | None = None

    @property
    def usage(self) -> Usage:
        return self._usage

    @property
    def error(self) -> OpenAIError | None:
        return self._error

    def feed(self, data: bytes) -> list[bytes]:
        for event in self._decoder.feed(data):
            self._read(event.data)
        return [data]

    def flush(self) -> list[bytes]:
        for event in self._decoder.flush():
            self._read(event.data)
        return []

    def _read(self, data: str) -> None:
        if '"usage"' not in data and '"error"' not in data:   # content deltas: most events, not parsed
            return
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if kind == "message_start" and isinstance(obj.get("message"), dict):
            self._update(obj["message"].get("usage"))
        elif kind == "message_delta":
            self._update(obj.get("usage"))
        elif kind == "error" and self._error is None:
            self._error = error_object_to_openai(obj.get("error"))

    def _update(self, raw: Any) -> None:
        """message_delta's counts are cumulative and replace message_start's."""
        if not isinstance(raw, dict):
            return
        for name in USAGE_FIELDS:
            value = raw.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                self._raw[name] = value
        self._usage = usage_to_openai(self._raw)


def answer_usage(body: bytes) -> Usage | None:
    """A whole Messages answer's usage; None when it has none."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    usage = obj.get("usage") if isinstance(obj, dict) else None
    return usage_to_openai(usage) if isinstance(usage, dict) else None
