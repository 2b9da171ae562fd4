"""An upstream answer of the lean client: status and headers at once, the body piece by piece as it arrives.

It offers the part of aiohttp's `ClientResponse` the forwarder uses (status, headers, content_type,
content_length, content.iter_any/read, read, release, `async with`).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from typing import Protocol

from multidict import CIMultiDict

from proxy.core.http1 import content_length_of, content_type_of

HIGH_WATER = 1 << 18   # buffered body bytes at which reading from the upstream pauses (slow client)


class Exchange(Protocol):
    """What a body and a response need from their connection."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def finish(self) -> None: ...


class ResponseBody:
    """The response body as it arrives: pieces, end, or the failure that cut it."""

    __slots__ = ("pieces", "size", "eof", "exc", "waiter", "conn", "loop")

    def __init__(self, conn: Exchange, loop: asyncio.AbstractEventLoop) -> None:
        self.pieces: collections.deque[bytes] = collections.deque()
        self.size = 0
        self.eof = False
        self.exc: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.conn = conn
        self.loop = loop

    def feed(self, data: bytes) -> None:
        self.pieces.append(data)
        self.size += len(data)
        if self.size >= HIGH_WATER:
            self.conn.pause()
        self._wake()

    def end(self, exc: BaseException | None = None) -> None:
        if not self.eof:
            self.eof = True
            self.exc = exc
            self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _take(self) -> bytes:
        pieces = self.pieces
        data = pieces.popleft() if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        self.size = 0
        self.conn.resume()
        return data

    async def readany(self) -> bytes:
        """Whatever has arrived (waiting for something), b"" at the end."""
        while not self.pieces:
            if self.eof:
                if self.exc is not None:
                    raise self.exc
                return b""
            self.waiter = self.loop.create_future()
            await self.waiter
        return self._take()

    async def iter_any(self) -> AsyncIterator[bytes]:
        while data := await self.readany():
            yield data

    async def read(self, limit: int = -1) -> bytes:
        """The body up to `limit` bytes (all of it when negative)."""
        out: list[bytes] = []
        got = 0
        while limit < 0 or got < limit:
            data = await self.readany()
            if not data:
                break
            out.append(data)
            got += len(data)
        data = out[0] if len(out) == 1 else b"".join(out)
        return data if limit < 0 else data[:limit]


class UpstreamResponse:
    """An upstream answer: status and headers at once, the body as it streams in."""

    __slots__ = ("status", "reason", "headers", "content", "_conn")

    def __init__(self, conn: Exchange, body: ResponseBody, status: int, reason: str, headers: CIMultiDict[str]) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content = body
        self._conn = conn

    @property
    def content_type(self) -> str:
        return content_type_of(self.headers)

    @property
    def content_length(self) -> int | None:
        return content_length_of(self.headers)

    async def read(self) -> bytes:
        return await self.content.read()

    def release(self) -> None:
        """Done with the answer: a finished exchange goes back to the pool, anything else is closed."""
        self._conn.finish()

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._conn.finish()
