"""Responses client → a channel that speaks Responses (OpenAI): the answer's bytes go to the client untouched;
this reads from them what billing needs, in any split: the `usage` of the terminal event (`response.completed`,
`response.incomplete` or `response.failed`: input tokens with the cached ones among them, output tokens with the
reasoning ones among them) and the error of `response.failed` or an `error` event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.converters.base import OpenAIError, Usage
from proxy.converters.dialects.hub_stream import UsageReader
from proxy.converters.errors import parse_json

__all__ = ["ResponsesUsageReader", "answer_usage", "usage_from_responses"]

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})
_MARKERS = (b'"error"', *sorted(kind.encode() for kind in _TERMINAL))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _detail(usage: Mapping[str, Any], holder: str, name: str) -> int:
    details = usage.get(holder)
    return _int(details.get(name)) if isinstance(details, Mapping) else 0


def usage_from_responses(usage: Any) -> Usage | None:
    """A Responses `usage` object as the gateway's Usage; None when it has no integer `input_tokens`."""
    if not isinstance(usage, Mapping) or not isinstance(usage.get("input_tokens"), int):
        return None
    return Usage(prompt_tokens=_int(usage["input_tokens"]), completion_tokens=_int(usage.get("output_tokens")),
                 cached_tokens=_detail(usage, "input_tokens_details", "cached_tokens"),
                 reasoning_tokens=_detail(usage, "output_tokens_details", "reasoning_tokens"))


def _error(obj: Mapping[str, Any]) -> OpenAIError:
    """`response.failed`'s `response.error {code, message}` or an `error` event's own fields."""
    response = obj.get("response")
    err = response.get("error") if isinstance(response, Mapping) else obj
    err = err if isinstance(err, Mapping) else {}
    return OpenAIError(500, str(err.get("message") or "upstream error"), "upstream_error", code=err.get("code"),
                       param=err.get("param"))


class ResponsesUsageReader(UsageReader):
    """A StreamConverter whose output is its input: `feed` returns the bytes as they came, having read the
    terminal event's usage and any error among them."""

    markers = _MARKERS   # decoding every delta cost a pass-through stream about a tenth of its worker

    def _event(self, data: str) -> list[bytes]:
        if '"error"' not in data and not any(kind in data for kind in _TERMINAL):   # deltas: not parsed
            return []
        obj = parse_json(data)
        if not isinstance(obj, dict):
            return []
        kind = obj.get("type")
        if kind in _TERMINAL and isinstance(obj.get("response"), Mapping):
            usage = usage_from_responses(obj["response"].get("usage"))
            if usage is not None:
                self._usage = usage
        if (kind == "response.failed" or kind == "error") and self._error is None:
            self._error = _error(obj)
        return []


def answer_usage(body: bytes) -> Usage | None:
    """A whole `response` object's usage; None when it has none."""
    obj = parse_json(body)
    return usage_from_responses(obj.get("usage")) if isinstance(obj, dict) else None
