"""Gemini client → Gemini channel: the usage reader passes the channel's bytes as they came (split anywhere) and
reads billing's usage from them; the answer's usage; the recorded stream Gemini CLI accepted as the input."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.converters.base import Usage
from proxy.converters.dialects.gemini_passthrough import GeminiUsageReader, answer_usage

CAPTURES = Path(__file__).parents[3] / "fixtures" / "captures"
FINAL = Usage(prompt_tokens=300, completion_tokens=30, cached_tokens=100, reasoning_tokens=18)


@pytest.mark.parametrize("name", ["gemini-1", "gemini-2", "gemini-3"])
def test_every_split_passes_the_bytes_and_reads_the_last_usage(name: str) -> None:
    raw = (CAPTURES / f"{name}.answer.txt").read_bytes()
    for size in (1, 2, 7, 64, len(raw)):
        reader = GeminiUsageReader()
        out = [piece for i in range(0, len(raw), size) for piece in reader.feed(raw[i:i + size])]
        out += reader.flush()
        assert b"".join(out) == raw
        assert reader.usage == FINAL and reader.error is None


def test_an_error_event_is_read_with_its_status() -> None:
    reader = GeminiUsageReader()
    data = (b'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":{"promptTokenCount":5,'
            b'"candidatesTokenCount":1}}\r\n\r\ndata: {"error":{"code":503,"message":"overloaded",'
            b'"status":"UNAVAILABLE"}}\r\n\r\n')
    assert reader.feed(data) == [data] and reader.flush() == []
    assert reader.usage == Usage(prompt_tokens=5, completion_tokens=1)
    assert reader.error is not None and (reader.error.status, reader.error.message) == (503, "overloaded")


def test_a_whole_answers_usage() -> None:
    body = (b'{"candidates":[],"usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":6,'
            b'"thoughtsTokenCount":4,"toolUsePromptTokenCount":2}}')
    assert answer_usage(body) == Usage(prompt_tokens=42, completion_tokens=10, reasoning_tokens=4)
    assert answer_usage(b'{"embeddings":[{"values":[1]}]}') is None and answer_usage(b"not json") is None
