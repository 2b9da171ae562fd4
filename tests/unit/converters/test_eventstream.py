"""AWS event-stream decoder against the botocore-verified frames in vectors/bedrock.json."""

from __future__ import annotations

import struct
import zlib

import orjson
import pytest

from proxy.converters.eventstream import (
    EventStreamDecoder,
    EventStreamError,
    encode_message,
    parse_headers,
)
from tests.unit.converters.vectors import load

CASES = load("bedrock")["cases"]
FRAME_CASES = [name for name, case in CASES.items() if "upstream_frames_hex" in case]


def frames(name: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in CASES[name]["upstream_frames_hex"]]


@pytest.mark.parametrize("step", [None, 1, 5, 13])
@pytest.mark.parametrize("name", FRAME_CASES)
def test_vector_frames_decode(name: str, step: int | None) -> None:
    data = b"".join(frames(name))
    decoder = EventStreamDecoder()
    messages = []
    chunks = [data] if step is None else [data[i:i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        messages += decoder.feed(chunk)
    assert decoder.pending == 0
    expected = CASES[name]["upstream_frames"]
    assert len(messages) == len(expected)
    for message, frame in zip(messages, expected, strict=True):
        assert message.headers == frame["headers"]
        assert orjson.loads(message.payload) == frame["payload"]


@pytest.mark.parametrize("name", FRAME_CASES)
def test_encoder_reproduces_vector_bytes(name: str) -> None:
    decoder = EventStreamDecoder()
    for raw in frames(name):
        (message,) = decoder.feed(raw)
        assert encode_message(message.headers, message.payload) == raw


def test_bad_message_crc_is_rejected_and_sticky() -> None:
    raw = bytearray(frames("stream_frames")[0])
    raw[-10] ^= 0x01  # flip a payload bit: prelude still fine, message CRC wrong
    decoder = EventStreamDecoder()
    with pytest.raises(EventStreamError, match="message CRC"):
        decoder.feed(bytes(raw))
    with pytest.raises(EventStreamError):
        decoder.feed(frames("stream_frames")[1])


def test_bad_prelude_crc_is_rejected_before_the_body_arrives() -> None:
    raw = bytearray(frames("stream_frames")[0])
    raw[3] ^= 0x01  # corrupt total_length
    with pytest.raises(EventStreamError, match="prelude CRC"):
        EventStreamDecoder().feed(bytes(raw[:12]))


def test_impossible_lengths_rejected() -> None:
    prelude = struct.pack(">II", 8, 0)
    with pytest.raises(EventStreamError, match="lengths"):
        EventStreamDecoder().feed(prelude + struct.pack(">I", zlib.crc32(prelude)))


def test_truncated_stream_leaves_pending_bytes() -> None:
    raw = frames("stream_frames")[0]
    decoder = EventStreamDecoder()
    assert decoder.feed(raw[:-1]) == []
    assert decoder.pending == len(raw) - 1


def test_all_header_value_types() -> None:
    block = b"".join([
        b"\x01t\x00", b"\x01f\x01", b"\x02i1\x02\xff", b"\x02i2\x03\x01\x00", b"\x02i4\x04\x00\x00\x01\x00",
        b"\x02i8\x05" + struct.pack(">q", -5), b"\x01b\x06\x00\x02\x00\x01", b"\x01s\x07\x00\x03h\xc3\xa9",
        b"\x02ts\x08" + struct.pack(">q", 1700000000000), b"\x01u\x09" + bytes(range(16)),
    ])
    assert parse_headers(block) == {"t": True, "f": False, "i1": -1, "i2": 256, "i4": 256, "i8": -5,
                                    "b": b"\x00\x01", "s": "hé", "ts": 1700000000000, "u": bytes(range(16))}


@pytest.mark.parametrize("block", [b"\x01x\x0a", b"\x01s\x07\x00\x09ab", b"\x05ab"])
def test_malformed_headers(block: bytes) -> None:
    with pytest.raises(EventStreamError):
        parse_headers(block)


def test_empty_payload_message() -> None:
    raw = encode_message({":message-type": "event"}, b"")
    (message,) = EventStreamDecoder().feed(raw)
    assert message.payload == b"" and message.headers == {":message-type": "event"}


def test_agrees_with_botocore() -> None:
    eventstream = pytest.importorskip("botocore.eventstream")
    buffer = eventstream.EventStreamBuffer()
    raw = b"".join(frames("stream_exception_frame"))
    buffer.add_data(raw)
    theirs = [(m.headers, m.payload) for m in buffer]
    ours = [(m.headers, m.payload) for m in EventStreamDecoder().feed(raw)]
    assert ours == theirs
