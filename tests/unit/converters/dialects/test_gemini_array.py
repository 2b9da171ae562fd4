"""JsonArrayStream: Gemini's SSE in any split becomes one JSON array; an error ends it well-formed."""

from __future__ import annotations

import orjson

from proxy.converters.base import OpenAIError
from proxy.converters.dialects.gemini_array import JsonArrayStream, as_sse
from proxy.converters.dialects.gemini_client_answer import error_from_openai

SSE = ('data: {"candidates":[{"content":{"parts":[{"text":"h\u00e9"}]}}]}\r\n\r\n'
       'data: {"candidates":[{"content":{"parts":[{"text":"llo"}]}}],"usageMetadata":{"totalTokenCount":3}}\r\n\r\n'
       ).encode()


def _array() -> JsonArrayStream:
    return JsonArrayStream(lambda e: error_from_openai(e)[1])


def _run(stream: JsonArrayStream, pieces: list[bytes]) -> bytes:
    return b"".join(out for p in pieces for out in stream.feed(p)) + b"".join(stream.flush())


def test_every_split_gives_the_same_array() -> None:
    whole = _run(_array(), [SSE])
    assert whole.startswith(b"[{") and whole.endswith(b"}]") and whole.count(b",\r\n{") == 1
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in orjson.loads(whole)] == ["h\u00e9", "llo"]
    for size in (1, 2, 3, 7):   # split UTF-8 and split events
        assert _run(_array(), [SSE[i:i + size] for i in range(0, len(SSE), size)]) == whole


def test_an_empty_stream_is_an_empty_array_and_a_bare_error_line_an_element() -> None:
    assert _run(_array(), []) == b"[]"
    out = _run(_array(), [SSE[:60], SSE[60:] + b'{"error":{"code":503,"message":"x","status":"UNAVAILABLE"}}\n'])
    assert orjson.loads(out)[-1]["error"]["status"] == "UNAVAILABLE"


def test_fail_ends_the_array_once() -> None:
    stream = _array()
    out = b"".join(stream.feed(SSE)) + b"".join(stream.fail(OpenAIError(502, "cut", "server_error")))
    assert orjson.loads(out)[-1]["error"]["message"] == "cut"
    assert stream.fail(OpenAIError(502, "again", "server_error")) == [] and stream.flush() == []


def test_each_piece_reads_back_as_its_sse_event() -> None:
    stream = _array()
    pieces = stream.feed(SSE) + stream.fail(OpenAIError(502, "cut", "server_error"))
    events = [as_sse(p) for p in pieces]
    assert events[:2] == [e + b"\r\n\r\n" for e in SSE.split(b"\r\n\r\n")[:2]] and events[-1] == b""
    assert orjson.loads(events[2][6:])["error"]["message"] == "cut"
    assert as_sse(b"[]") == b""
