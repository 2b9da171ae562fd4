"""Gemini client → Gemini channel: the answer's bytes go to the client untouched; this reads from them what
billing needs, in any split: the last `usageMetadata` (prompt with its cached part, candidates plus thoughts as
output, read as the Gemini provider converter reads them) and an `{"error": ...}` event.
"""

from __future__ import annotations

from proxy.converters.base import Usage
from proxy.converters.dialects.hub_stream import UsageReader
from proxy.converters.errors import parse_json
from proxy.converters.providers.gemini_stream import google_error
from proxy.converters.usage import usage_from_gemini

__all__ = ["GeminiUsageReader", "answer_usage"]


class GeminiUsageReader(UsageReader):
    """A StreamConverter whose output is its input (`streamGenerateContent?alt=sse` events, passed as they
    came); every event carries the usage so far, the last one the final usage."""

    def _event(self, data: str) -> list[bytes]:
        if '"usageMetadata"' not in data and '"error"' not in data:
            return []
        obj = parse_json(data)
        if not isinstance(obj, dict):
            return []
        if isinstance(obj.get("error"), dict) and self._error is None:
            self._error = google_error(200, data.encode(), obj)
        elif isinstance(obj.get("usageMetadata"), dict):
            self._usage = usage_from_gemini(obj["usageMetadata"])
        return []


def answer_usage(body: bytes) -> Usage | None:
    """A whole generateContent answer's usage; None when it has none (embeddings have none)."""
    obj = parse_json(body)
    meta = obj.get("usageMetadata") if isinstance(obj, dict) else None
    return usage_from_gemini(meta) if isinstance(meta, dict) else None
