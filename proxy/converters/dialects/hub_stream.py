"""The reading side of a client-dialect stream converter: SSE in, in any split (the hub's OpenAI chat
stream, or an Anthropic channel's own stream passed through).

Each complete event's data goes to the dialect's `_event`, and `_final` runs once the stream ends;
`usage` and `error` are what the upstream reported, for billing (the StreamConverter Protocol).
"""

from __future__ import annotations

from proxy.converters.base import OpenAIError, Usage
from proxy.core.sse import SSEDecoder


class HubStream:
    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._usage = Usage()
        self._error: OpenAIError | None = None

    @property
    def usage(self) -> Usage:
        return self._usage

    @property
    def error(self) -> OpenAIError | None:
        return self._error

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for event in self._decoder.feed(data):
            out += self._event(event.data)
        return out

    def _read_marked(self, data: bytes, markers: tuple[bytes, ...]) -> None:
        """For readers that pass bytes through: decode only the events holding one of `markers`. When `data` is
        whole events (no event half-read before it, a blank line at its end) the others are skipped unread;
        otherwise all of it is decoded, as `feed` does."""
        if not (self._decoder.idle and data.endswith(b"\n\n")):
            HubStream.feed(self, data)
        elif any(marker in data for marker in markers):
            for event in data.split(b"\n\n"):
                if any(marker in event for marker in markers):
                    HubStream.feed(self, event + b"\n\n")

    def flush(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._decoder.flush():
            out += self._event(event.data)
        return out + self._final()

    def _event(self, data: str) -> list[bytes]:
        """The dialect's bytes for one hub event's data."""
        raise NotImplementedError

    def _final(self) -> list[bytes]:
        """What the dialect sends once the hub stream has ended."""
        return []


class UsageReader(HubStream):
    """A StreamConverter whose output is its input (a channel's stream in the client's own dialect): `feed`
    returns the bytes as they came; the dialect's `_event` only reads the usage and error among them."""

    markers: tuple[bytes, ...] = ()   # when set: only events holding one of these are decoded (_read_marked)

    def feed(self, data: bytes) -> list[bytes]:
        if self.markers:
            self._read_marked(data, self.markers)
        else:
            super().feed(data)
        return [data]


__all__ = ["HubStream", "UsageReader"]
