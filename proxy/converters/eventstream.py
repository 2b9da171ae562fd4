"""Incremental decoder of AWS `application/vnd.amazon.eventstream` binary messages (CRC-checked)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

PRELUDE_LENGTH = 12          # total_length u32, headers_length u32, prelude_crc u32
MIN_MESSAGE_LENGTH = 16      # prelude + message_crc
MAX_MESSAGE_LENGTH = 16 * 1024 * 1024  # the format's limit; anything bigger is a corrupt length


class EventStreamError(ValueError):
    """Malformed framing or a CRC mismatch; the stream cannot be trusted past this point."""


@dataclass(frozen=True)
class EventMessage:
    headers: dict[str, Any] = field(default_factory=dict)
    payload: bytes = b""


def _fixed(fmt: str) -> Callable[[bytes, int], tuple[Any, int]]:
    size = struct.calcsize(fmt)
    return lambda buf, pos: (struct.unpack_from(fmt, buf, pos)[0], pos + size)


def _sized(decode: Callable[[bytes], Any]) -> Callable[[bytes, int], tuple[Any, int]]:
    def read(buf: bytes, pos: int) -> tuple[Any, int]:
        (length,) = struct.unpack_from(">H", buf, pos)
        end = pos + 2 + length
        if end > len(buf):
            raise EventStreamError("header value runs past the header block")
        return decode(buf[pos + 2:end]), end
    return read


# header value type byte → reader(buf, pos) -> (value, next pos)
_VALUE_READERS: dict[int, Callable[[bytes, int], tuple[Any, int]]] = {
    0: lambda buf, pos: (True, pos),
    1: lambda buf, pos: (False, pos),
    2: _fixed(">b"),
    3: _fixed(">h"),
    4: _fixed(">i"),
    5: _fixed(">q"),
    6: _sized(bytes),
    7: _sized(lambda raw: raw.decode("utf-8")),
    8: _fixed(">q"),   # timestamp, milliseconds since the epoch
    9: lambda buf, pos: (bytes(buf[pos:pos + 16]), pos + 16),  # uuid
}


def parse_headers(block: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    pos = 0
    try:
        while pos < len(block):
            name_len = block[pos]
            name = block[pos + 1:pos + 1 + name_len].decode("utf-8")
            pos += 1 + name_len
            reader = _VALUE_READERS.get(block[pos])
            if reader is None:
                raise EventStreamError(f"unknown header value type {block[pos]}")
            headers[name], pos = reader(block, pos + 1)
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"malformed headers: {exc}") from exc
    if pos != len(block):
        raise EventStreamError("header block length mismatch")
    return headers


class EventStreamDecoder:
    """`feed(bytes) -> list[EventMessage]`; messages may be split across feeds at any byte."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._broken: EventStreamError | None = None

    @property
    def pending(self) -> int:
        """Bytes of an unfinished message still buffered (non-zero at the end = truncated stream)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[EventMessage]:
        if self._broken is not None:
            raise self._broken
        self._buf += data
        messages: list[EventMessage] = []
        try:
            while (message := self._next()) is not None:
                messages.append(message)
        except EventStreamError as exc:
            self._broken = exc
            raise
        return messages

    def _next(self) -> EventMessage | None:
        if len(self._buf) < PRELUDE_LENGTH:
            return None
        total, headers_len, prelude_crc = struct.unpack_from(">III", self._buf, 0)
        if zlib.crc32(self._buf[:8]) != prelude_crc:
            raise EventStreamError("prelude CRC mismatch")
        if not MIN_MESSAGE_LENGTH <= total <= MAX_MESSAGE_LENGTH or headers_len > total - MIN_MESSAGE_LENGTH:
            raise EventStreamError(f"invalid message lengths (total {total}, headers {headers_len})")
        if len(self._buf) < total:
            return None
        frame = bytes(self._buf[:total])
        del self._buf[:total]
        (message_crc,) = struct.unpack_from(">I", frame, total - 4)
        if zlib.crc32(frame[:total - 4]) != message_crc:
            raise EventStreamError("message CRC mismatch")
        headers = parse_headers(frame[PRELUDE_LENGTH:PRELUDE_LENGTH + headers_len])
        return EventMessage(headers, frame[PRELUDE_LENGTH + headers_len:total - 4])


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string headers (what Bedrock sends); used by tests and fake upstreams."""
    block = b"".join(
        bytes([len(name.encode())]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode())) + value.encode()
        for name, value in headers.items())
    total = PRELUDE_LENGTH + len(block) + len(payload) + 4
    prelude = struct.pack(">II", total, len(block))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack(">I", zlib.crc32(body))
