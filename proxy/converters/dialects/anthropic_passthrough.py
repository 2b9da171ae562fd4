"""Anthropic client → Anthropic channel: the answer's bytes go to the client untouched; this reads from them
what billing needs, in any split: the usage of `message_start` and `message_delta` (input, output, cache reads
and the 5m/1h cache writes, read as the provider converter reads them, each part priced at its own rate) and an
`error` event.
"""

from __future__ import annotations

from typing import Any

from proxy.converters.base import Usage
from proxy.converters.dialects.hub_stream import UsageReader
from proxy.converters.errors import parse_json
from proxy.converters.providers.anthropic_stream import USAGE_FIELDS, error_object_to_openai, usage_to_openai

__all__ = ["AnthropicUsageReader", "answer_usage"]

_MARKERS = (b'"usage"', b'"error"')   # what an event must hold to be worth decoding (as `_event` checks)


class AnthropicUsageReader(UsageReader):
    """A StreamConverter whose output is its input: `feed` returns the bytes as they came, having read the
    usage and error events among them (the SSE reading, usage and error are HubStream's)."""

    markers = _MARKERS   # decoding every delta cost a pass-through stream about a tenth of its worker

    def __init__(self) -> None:
        super().__init__()
        self._raw: dict[str, Any] = {}

    def _event(self, data: str) -> list[bytes]:
        if '"usage"' not in data and '"error"' not in data:   # content deltas: most events, not parsed
            return []
        obj = parse_json(data)
        if isinstance(obj, dict):
            self._read(obj)
        return []

    def _read(self, obj: dict[str, Any]) -> None:
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
            if isinstance(value, int | dict) and not isinstance(value, bool):
                self._raw[name] = value
        self._usage = usage_to_openai(self._raw)


def answer_usage(body: bytes) -> Usage | None:
    """A whole Messages answer's usage; None when it has none."""
    obj = parse_json(body)
    usage = obj.get("usage") if isinstance(obj, dict) else None
    return usage_to_openai(usage) if isinstance(usage, dict) else None
