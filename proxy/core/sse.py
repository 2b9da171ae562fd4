"""Incremental Server-Sent Events decoding: feed bytes in any split, get events out.

Never buffers more than one unfinished event. Used by the relay's usage taps and
by converters of providers that stream SSE.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = ""
    id: str = ""


class SSEDecoder:
    """`feed(bytes) -> list[SSEEvent]`, `flush() -> list[SSEEvent]`.

    Follows the WHATWG rules that matter here: lines end with LF, CRLF or CR;
    `data:` lines of one event are joined with LF; one leading space after the
    colon is dropped; comment lines (starting with ':') are ignored. Bytes are
    decoded as UTF-8 only once a whole line is present, so a multi-byte
    character split across chunks survives.
    """

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._id = ""
        self._pending_cr = False

    @property
    def idle(self) -> bool:
        """Between events: nothing of an unfinished one held (a reader may then skip whole events unread)."""
        return not (self._buf or self._data or self._event or self._pending_cr)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._pending_cr = False
        buf = self._buf + chunk if self._buf else chunk
        events: list[SSEEvent] = []
        if b"\r" not in buf:                  # the usual stream: LF only, split in C
            lines = buf.split(b"\n")
            self._buf = lines.pop()
            self._lf_lines(lines, events)
            return events
        start = 0
        n = len(buf)
        # each search runs once per line ending found, never again over the same bytes: a buffer of many
        # lines without a CR was scanned to its end for every line (quadratic: a 16 MiB piece took seconds)
        lf = cr = -2                           # -2: not searched yet; -1: none in the rest of buf
        while start < n:
            if lf != -1 and lf < start:
                lf = buf.find(b"\n", start)
            if cr != -1 and cr < start:
                cr = buf.find(b"\r", start)
            if lf < 0 and cr < 0:
                break
            if cr >= 0 and (lf < 0 or cr < lf):
                end, nxt = cr, cr + 1
                if nxt < n and buf[nxt:nxt + 1] == b"\n":
                    nxt += 1
                elif nxt == n:
                    self._pending_cr = True
            else:
                end, nxt = lf, lf + 1
            self._line(buf[start:end].decode("utf-8", "replace"), events)
            start = nxt
        self._buf = buf[start:]
        return events

    def _lf_lines(self, lines: list[bytes], events: list[SSEEvent]) -> None:
        """_line for each line, with the two lines of nearly every event (`data: ...`, then a blank one) done
        inline: a 45 MB stream has 450,000 of them."""
        data = self._data
        for line in lines:
            if not line:
                if data or self._event:
                    events.append(SSEEvent("\n".join(data), self._event, self._id))
                    data = self._data = []
                    self._event = ""
            elif line.startswith(b"data:"):
                data.append(line[6 if line.startswith(b"data: ") else 5:].decode("utf-8", "replace"))
            else:
                self._line(line.decode("utf-8", "replace"), events)
                data = self._data

    def flush(self) -> list[SSEEvent]:
        """End of stream: a trailing event without its blank line still counts."""
        events: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace"), events)
            self._buf = b""
        self._line("", events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event:
                events.append(SSEEvent("\n".join(self._data), self._event, self._id))
            self._data, self._event = [], ""
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value


def encode_data(payload: bytes) -> bytes:
    """One `data:` event as OpenAI sends it."""
    return b"data: " + payload + b"\n\n"


def encode_event(name: str, payload: bytes) -> bytes:
    """One named event (`event:` then `data:`), as Anthropic's streams send every event."""
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"


class JsonOrSSE:
    """A body that is either an SSE stream or one JSON document (providers answer errors as JSON
    where a stream was asked for): the first non-blank byte decides."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.json: bytes | None = None     # the whole body, once it is known to be JSON
        self._head: bytes | None = b""    # leading bytes until the first non-blank one

    def feed(self, data: bytes) -> list[SSEEvent]:
        if self.json is not None:
            self.json += data
            return []
        if self._head is not None:
            self._head += data
            if not self._head.strip():
                return []
            data, self._head = self._head, None
            if data.lstrip().startswith(b"{"):
                self.json = data
                return []
        return self.decoder.feed(data)

    def flush(self) -> list[SSEEvent]:
        return [] if self.json is not None else self.decoder.flush()
