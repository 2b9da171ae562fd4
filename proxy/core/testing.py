"""An in-memory upstream for tests, as httpx's MockTransport: scripted answers, recorded calls, no socket.

`MemoryUpstream` is an `Opener`: give it to a `Pipeline` (or to `create_app(opener=...)`) and every upstream call
is answered from the script, in order (the last answer repeats), or by a function of the call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from multidict import CIMultiDict

from proxy.core.errors import RelayError
from proxy.core.flow import Flow, UpstreamCall
from proxy.core.http1 import content_length_of, content_type_of


@dataclass(frozen=True)
class Scripted:
    """One upstream answer: status, headers, the body in pieces (each arrives as one read), and how it ends."""

    status: int = 200
    headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),)
    pieces: Sequence[bytes] = ()
    cut: BaseException | None = None     # raised by the body after its pieces (a connection lost mid-body)
    refuse: RelayError | None = None     # raised by open() instead of answering (the upstream cannot be reached)

    @classmethod
    def json(cls, body: bytes, status: int = 200) -> Scripted:
        """A whole JSON answer with its Content-Length."""
        return cls(status, (("Content-Type", "application/json"), ("Content-Length", str(len(body)))), (body,))

    @classmethod
    def sse(cls, *events: bytes, cut: BaseException | None = None) -> Scripted:
        """An event stream, one piece per event."""
        return cls(200, (("Content-Type", "text/event-stream"),), events, cut)


class MemoryBody:
    def __init__(self, pieces: Sequence[bytes], cut: BaseException | None) -> None:
        self._pieces, self._cut = pieces, cut

    async def iter_any(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece
        if self._cut is not None:
            raise self._cut


class MemoryAnswer:
    """An `UpstreamAnswer` from a script; `released` tells whether the pipeline let it go."""

    def __init__(self, script: Scripted) -> None:
        self.status = script.status
        self.headers: CIMultiDict[str] = CIMultiDict(script.headers)
        self.content = MemoryBody(script.pieces, script.cut)
        self.released = False

    @property
    def content_type(self) -> str:
        return content_type_of(self.headers)

    @property
    def content_length(self) -> int | None:
        return content_length_of(self.headers)

    async def read(self) -> bytes:
        return b"".join([piece async for piece in self.content.iter_any()])

    async def __aenter__(self) -> MemoryAnswer:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.released = True


@dataclass
class MemoryUpstream:
    """An `Opener` answering from `script` (in order, the last repeats) or from `handler(call)` when given."""

    script: Sequence[Scripted] = (Scripted(),)
    handler: Callable[[UpstreamCall], Scripted] | None = None
    calls: list[UpstreamCall] = field(default_factory=list)      # what was sent, a copy per attempt
    answers: list[MemoryAnswer] = field(default_factory=list)

    async def open(self, flow: Flow[Any]) -> MemoryAnswer:
        call = flow.upstream
        assert call is not None, "the rewrite addons set no flow.upstream"
        self.calls.append(replace(call, headers=CIMultiDict(call.headers)))
        if self.handler is not None:
            script = self.handler(call)
        else:
            script = self.script[min(len(self.calls), len(self.script)) - 1]
        if script.refuse is not None:
            raise script.refuse
        answer = MemoryAnswer(script)
        self.answers.append(answer)
        return answer
