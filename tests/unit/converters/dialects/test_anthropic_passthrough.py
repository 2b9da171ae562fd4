"""The usage reader of a passed-through Anthropic answer: bytes out as they came in, usage and errors read in any
split (cache reads and writes counted as prompt, message_delta's counts replacing message_start's)."""

from __future__ import annotations

import orjson

from proxy.converters.base import Usage
from proxy.converters.dialects.anthropic_passthrough import AnthropicUsageReader, answer_usage

START = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [],
                                              "usage": {"input_tokens": 12, "output_tokens": 1,
                                                        "cache_read_input_tokens": 100,
                                                        "cache_creation_input_tokens": 20}}}
DELTA = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "usage \"error\" é"}}
END = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}
ERROR = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def _stream(*events: dict[str, object]) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (str(e["type"]).encode(), orjson.dumps(e)) for e in events)


def test_bytes_unchanged_and_usage_read_in_every_split() -> None:
    raw = _stream(START, DELTA, END)
    for size in (1, 2, 7, len(raw)):
        reader = AnthropicUsageReader()
        out = [o for i in range(0, len(raw), size) for o in reader.feed(raw[i:i + size])] + reader.flush()
        assert b"".join(out) == raw
        assert reader.usage == Usage(prompt_tokens=132, completion_tokens=7, cached_tokens=100,
                                     cache_write_5m_tokens=20)
        assert reader.error is None


def test_an_error_event_is_read() -> None:
    reader = AnthropicUsageReader()
    reader.feed(_stream(START, ERROR))
    assert reader.error is not None and (reader.error.status, reader.error.message) == (529, "Overloaded")
    assert reader.usage.prompt_tokens == 132


def test_whole_answer_usage() -> None:
    body = orjson.dumps({"type": "message", "usage": {"input_tokens": 3, "output_tokens": 4,
                                                      "cache_creation_input_tokens": 5}})
    assert answer_usage(body) == Usage(prompt_tokens=8, completion_tokens=4, cache_write_5m_tokens=5)
    assert answer_usage(b"not json") is None and answer_usage(b"[]") is None


def test_pieces_of_whole_content_events_are_not_decoded() -> None:
    """#19: a piece of whole events none of which can carry usage or an error passes undecoded; the usage is read
    all the same, including after a piece that ended inside an event."""
    decoded: list[str] = []

    class Counting(AnthropicUsageReader):
        def _event(self, data: str) -> list[bytes]:
            decoded.append(orjson.loads(data)["type"])
            return super()._event(data)

    plain = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}
    pieces = [_stream(START), _stream(plain), _stream(plain), _stream(END)]
    reader = Counting()
    assert [o for piece in pieces for o in reader.feed(piece)] == pieces
    assert decoded == ["message_start", "message_delta"]
    assert reader.usage == Usage(prompt_tokens=132, completion_tokens=7, cached_tokens=100, cache_write_5m_tokens=20)

    decoded.clear()
    whole = Counting()       # the whole stream in one piece: only its usage events are decoded
    whole.feed(b"".join(pieces) + _stream(ERROR))
    assert decoded == ["message_start", "message_delta", "error"] and whole.usage == reader.usage
    assert whole.error is not None and whole.error.message == "Overloaded"

    decoded.clear()
    cut = Counting()
    half = len(pieces[1]) // 2
    for piece in (pieces[0], pieces[1][:half], pieces[1][half:] + pieces[2], pieces[3]):
        cut.feed(piece)
    assert decoded == ["message_start", "content_block_delta", "content_block_delta", "message_delta"]
    assert cut.usage == reader.usage
