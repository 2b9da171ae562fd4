"""The seam between the pipeline and whatever answers upstream: an `Opener` turns a flow into an `UpstreamAnswer`.

Three things answer today and all fit these protocols structurally: aiohttp's `ClientResponse`, the lean
client's `UpstreamResponse` and the transports' `SyntheticResponse` (WebSocket, polled task). Tests plug in
an in-memory one (proxy.core.testing.MemoryUpstream), as httpx's MockTransport does, with no socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Protocol

from multidict import MultiMapping

if TYPE_CHECKING:
    from proxy.core.flow import Flow


class AnswerBody(Protocol):
    """An answer's body as it arrives, piece by piece (pieces keep the upstream's boundaries where it has any)."""

    def iter_any(self) -> AsyncIterator[bytes]: ...


class UpstreamAnswer(Protocol):
    """The part of an HTTP response the pipeline and the forwarder use; `async with` releases it."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> MultiMapping[str]: ...
    @property
    def content_type(self) -> str: ...
    @property
    def content_length(self) -> int | None: ...
    @property
    def content(self) -> AnswerBody: ...

    async def read(self) -> bytes: ...
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: Any) -> Any: ...


class Opener(Protocol):
    """Sends `flow.upstream` and returns the answer once its status and headers are in; a network failure
    is raised as an UpstreamError (retryable), never as a transport exception."""

    async def open(self, flow: Flow[Any]) -> UpstreamAnswer: ...
