"""SSE decoding in any split: events out whole, CR/LF/CRLF line ends, UTF-8 split across pieces, JSON instead."""

from __future__ import annotations

from proxy.core.sse import DONE, JsonOrSSE, SSEDecoder, SSEEvent, encode_data

STREAM = 'data: {"a":1}\r\n\r\nevent: ping\nid: 7\n: a comment\ndata: x\ndata:y\n\ndata: 你好\r\rdata: tail'.encode()
EVENTS = [SSEEvent('{"a":1}'), SSEEvent("x\ny", "ping", "7"), SSEEvent("你好", "", "7"), SSEEvent("tail", "", "7")]


def decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    out = [e for piece in pieces for e in decoder.feed(piece)]
    return out + decoder.flush()


def test_the_same_events_whatever_the_split() -> None:
    assert decode([STREAM]) == EVENTS
    assert decode([STREAM[i:i + 1] for i in range(len(STREAM))]) == EVENTS   # byte by byte: CRLF and UTF-8 split
    for cut in range(len(STREAM)):
        assert decode([STREAM[:cut], STREAM[cut:]]) == EVENTS


def test_nothing_is_held_beyond_one_unfinished_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2") == [SSEEvent("1")]
    assert decoder.feed(b"\n\n") == [SSEEvent("2")]
    assert decoder.flush() == []


def test_encode_data_is_what_openai_sends() -> None:
    assert encode_data(b'{"x":1}') == b'data: {"x":1}\n\n'
    assert decode([encode_data(b"[DONE]")]) == decode([DONE]) == [SSEEvent("[DONE]")]


def test_json_or_sse_decides_on_the_first_non_blank_byte() -> None:
    body = JsonOrSSE()
    assert body.feed(b"\n  ") == [] and body.feed(b'{"error":') == [] and body.feed(b"1}") == []
    assert body.flush() == [] and body.json == b'\n  {"error":1}'
    stream = JsonOrSSE()
    assert stream.feed(b"\n") == [] and stream.feed(b"data: 1\n\n") == [SSEEvent("1")]
    assert stream.json is None


def test_a_big_piece_of_many_events_is_decoded_in_linear_time() -> None:
    """#16: each line end used to be searched for (a CR) to the end of the piece, so one piece of n events cost
    n × its size: 16 MiB of chat chunks blocked the event loop for tens of seconds (a stream 41 s late).
    Without the fix this piece (about 12 MB, 120,000 events, one CR at its very end) takes minutes."""
    import time

    event = b'data: {"choices":[{"delta":{"content":"lorem ipsum dolor sit amet, consectetur"}}]}\n\n'
    for tail in (b"", b"data: end\r\n\r\n"):       # LF only, and the same with a CR somewhere
        piece = event * 120_000 + tail
        start = time.monotonic()
        events = SSEDecoder().feed(piece)
        assert len(events) == 120_000 + (1 if tail else 0)
        assert time.monotonic() - start < 10      # linear: under a second; quadratic: a minute


def test_lf_only_streams_in_any_split() -> None:
    stream = (b'event: a\nid: 1\ndata: {"x":1}\ndata:two\n\n: comment\ndata\n\ndata:  spaced\n\n'
              b'event: only\n\ndata: \xe4\xbd\xa0\xe5\xa5\xbd\n\ndata: tail')
    expected = [SSEEvent('{"x":1}\ntwo', "a", "1"), SSEEvent("", "", "1"), SSEEvent(" spaced", "", "1"),
                SSEEvent("", "only", "1"), SSEEvent("你好", "", "1"), SSEEvent("tail", "", "1")]
    assert decode([stream]) == expected
    for cut in range(len(stream)):
        assert decode([stream[:cut], stream[cut:]]) == expected
