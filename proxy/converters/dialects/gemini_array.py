"""Gemini's `:streamGenerateContent` without `?alt=sse`: the stream as one JSON array written as it goes
(`[{…}` then `,\\r\\n{…}` per chunk, then `]`, Content-Type application/json), as Google writes it
(client-dialects.md §4). The gateway reads every Gemini stream as SSE (a converted one is written so, a
passed-through one is asked for with `alt=sse`); this rewrites each SSE event's data as the array's next element,
so the same chunks, usage and billing serve both forms. A bare JSON object line (how the converted stream writes
an error, proxy.converters.dialects.gemini_client_stream) is an element too.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.converters.base import OpenAIError

__all__ = ["JsonArrayStream", "as_sse"]

OPEN, NEXT, CLOSE = b"[", b",\r\n", b"]"


class JsonArrayStream:
    """SSE bytes in (any split), the JSON array's bytes out; `fail` ends the array with an error element (how
    Google reports an error after the stream started)."""

    def __init__(self, error_body: Callable[[OpenAIError], bytes]) -> None:
        self._pending = b""              # an unfinished line
        self._data: list[bytes] = []     # the current event's data lines
        self._error_body = error_body   # an error as the Gemini error object's bytes
        self._started = False
        self._closed = False

    def feed(self, data: bytes) -> list[bytes]:
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        return self._elements([p for line in lines if (p := self._line(line.rstrip(b"\r"))) is not None])

    def flush(self) -> list[bytes]:
        ends = [self._line(self._pending.rstrip(b"\r")), self._line(b"")]
        self._pending = b""
        return self._elements([p for p in ends if p is not None]) + self._close()

    def _line(self, line: bytes) -> bytes | None:
        """The payload an SSE line completes (a blank line ends an event), or None."""
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
            return None
        if line.startswith(b"{") and not self._data:
            return line
        if line or not self._data:
            return None
        payload, self._data = b"\n".join(self._data), []
        return payload

    def fail(self, error: OpenAIError) -> list[bytes]:
        if self._closed:
            return []
        return [self._element(self._error_body(error))] + self._close()

    def _elements(self, payloads: list[bytes]) -> list[bytes]:
        if self._closed:
            return []
        return [self._element(p) for p in payloads if p.strip() and p.strip() != b"[DONE]"]

    def _element(self, payload: bytes) -> bytes:
        lead = NEXT if self._started else OPEN
        self._started = True
        return lead + payload

    def _close(self) -> list[bytes]:
        if self._closed:
            return []
        self._closed = True
        return [CLOSE if self._started else OPEN + CLOSE]


def as_sse(piece: bytes) -> bytes:
    """One piece JsonArrayStream wrote (each is one element with its lead, or the closing bracket) as the SSE
    event it was: what the usage tap reads, so an answer without usage is counted as the SSE form is."""
    if piece in (CLOSE, OPEN + CLOSE):
        return b""
    for lead in (OPEN, NEXT):
        if piece.startswith(lead):
            return b"data: " + piece[len(lead):] + b"\r\n\r\n"
    return b""
