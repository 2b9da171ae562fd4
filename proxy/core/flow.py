"""The Flow: one client request as it moves through the addons, and what came back.

Generic: it knows HTTP, bytes and timings, not keys, channels or prices. The
gateway keeps its own typed state in `flow.state` (proxy.gateway.state.RelayState).

This file and RelayState are the whole contract between the core and the addons: everything
one module hands to another is a typed field of one of them. `metadata` is scratch space an
addon keeps for itself (no other module reads it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.core.errors import RelayError

if TYPE_CHECKING:
    from aiohttp import web

    from proxy.core.opener import UpstreamAnswer

S = TypeVar("S")


@dataclass(slots=True)
class ClientRequest:
    method: str
    path: str
    query_string: str
    headers: CIMultiDictProxy[str]
    body: bytes
    client_ip: str
    match_info: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class UpstreamCall:
    """What the forwarder sends: set by the rewrite addons for each attempt."""

    method: str
    url: str
    headers: CIMultiDict[str]
    body: bytes = b""
    timeout: float | None = None   # total seconds; None = no limit (streams)


@dataclass(slots=True)
class LocalResponse:
    """An answer produced without (or instead of) the upstream one."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})


# A transform turns upstream body bytes into client bytes (converters); None = pass through.
@dataclass(slots=True)
class BodyTransform:
    feed: Callable[[bytes], list[bytes]]
    flush: Callable[[], list[bytes]]


@dataclass(slots=True)
class Timings:
    start: float = field(default_factory=time.monotonic)
    upstream_headers: float | None = None
    first_byte_to_client: float | None = None
    end: float | None = None

    def elapsed_ms(self) -> int:
        return int(((self.end or time.monotonic()) - self.start) * 1000)


@dataclass(slots=True)
class Flow(Generic[S]):
    request: ClientRequest
    request_id: str
    state: S
    upstream: UpstreamCall | None = None
    response: LocalResponse | None = None      # set by an addon to answer locally
    upstream_status: int | None = None
    upstream_headers: CIMultiDict[str] | None = None
    stream: bool = False                       # the client gets an event stream
    transform: BodyTransform | None = None     # set when the body must be converted
    # a non-HTTP upstream (WebSocket, polled task); None: flow.upstream over HTTP, by the pipeline's Opener
    opener: Callable[[], Awaitable[UpstreamAnswer]] | None = None
    stream_may_be_json: bool = False           # set by rewrite: a JSON answer to a stream request is no error
    buffer_response: bool = False              # read the whole upstream body before answering (non-stream conversion)
    stream_content_type: str = ""              # a converted stream's Content-Type when not SSE ("": text/event-stream)
    bytes_to_client: int = 0
    response_started: bool = False             # the status and headers went out: no second answer is possible
    client_disconnected: bool = False
    attempts: int = 0
    error: RelayError | None = None            # the error that ends the flow (or this failed attempt), if any
    upstream_error_body: bytes | None = None   # this attempt's error answer's body (for upstream_error)
    stream_response: web.StreamResponse | None = None   # the client's answer once prepared: an error event goes there
    # awaited before each piece goes to the client; raising a RelayError ends the answer there (with an
    # error event on a stream): how a budget that cannot pay for more stops an answer
    gate: Callable[[bytes], Awaitable[None]] | None = None
    timings: Timings = field(default_factory=Timings)
    # headers an addon adds to whatever answer the client gets (success, local or error): rate-limit state
    response_headers: dict[str, str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)   # one addon's private scratch, never read by another

    @property
    def committed(self) -> bool:
        """Whether the answer started (its headers or any byte went out): after that no retry, no error status."""
        return self.response_started or self.bytes_to_client > 0
