"""Upstream answers that do not come from one HTTP exchange: a WebSocket conversation, a polled task.

They are presented to the forwarder with the small surface of an aiohttp
response it uses (status, headers, content.iter_any/read, read, release), so
the pipeline, the taps and the transforms work unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from multidict import CIMultiDict

from proxy.core.errors import UpstreamError


class _Content:
    def __init__(self, pieces: AsyncIterator[bytes]) -> None:
        self._pieces = pieces

    def iter_any(self) -> AsyncIterator[bytes]:
        return self._pieces

    async def read(self, limit: int = -1) -> bytes:
        out = bytearray()
        async for piece in self._pieces:
            out.extend(piece)
            if 0 <= limit <= len(out):
                break
        return bytes(out)


class SyntheticResponse:
    def __init__(self, status: int, content_type: str, pieces: AsyncIterator[bytes],
                 close: Callable[[], Awaitable[object]] | None = None) -> None:
        self.status = status
        self.reason = "OK"
        self.content_type = content_type
        self.content_length: int | None = None
        self.headers: CIMultiDict[str] = CIMultiDict({"Content-Type": content_type})
        self.content = _Content(pieces)
        self._close = close

    async def read(self) -> bytes:
        return await self.content.read()

    async def __aenter__(self) -> SyntheticResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._close is not None:
            await self._close()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def single_body(status: int, body: bytes, content_type: str = "application/json") -> SyntheticResponse:
    return SyntheticResponse(status, content_type, _once(body))


async def open_websocket(session: aiohttp.ClientSession, url: str, headers: dict[str, str], first: bytes,
                         timeout: float | None, proxy: str | None) -> SyntheticResponse:
    """Connect, send the first message, then hand out every received message as one piece."""
    try:
        ws = await session.ws_connect(url, headers=headers, proxy=proxy, autoping=True,
                                      timeout=aiohttp.ClientWSTimeout(ws_receive=timeout, ws_close=10))
    except aiohttp.WSServerHandshakeError as e:
        raise UpstreamError(e.status or 502, f"websocket handshake failed: {e.message}",
                            code="bad_response_status_code", param=str(e.status)) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as e:
        raise UpstreamError(500, f"do request failed: {e}", type="one_api_error", code="do_request_failed") from None
    await ws.send_str(first.decode("utf-8"))

    async def messages() -> AsyncIterator[bytes]:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    yield msg.data.encode("utf-8")
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    yield msg.data
                else:
                    break
        except TimeoutError:   # aiohttp's says nothing; the client's error should
            raise TimeoutError(f"upstream sent nothing for {timeout:g}s") from None

    return SyntheticResponse(200, "application/x-websocket-messages", messages(), ws.close)


async def run_task(session: aiohttp.ClientSession, first: Callable[[], Awaitable[tuple[int, bytes]]],
                   next_call: Callable[[int, bytes], Awaitable[tuple[int, bytes]] | None],
                   interval: float = 1.0, deadline: float = 600.0) -> tuple[int, bytes]:
    """Submit, then poll while `next_call` gives another request; the last answer is the result."""
    status, body = await first()
    loop = asyncio.get_running_loop()
    stop = loop.time() + deadline
    while 200 <= status < 300:
        step = next_call(status, body)
        if step is None:
            break
        if loop.time() > stop:
            raise UpstreamError(504, "upstream task did not finish in time", type="one_api_error", code="task_timeout")
        await asyncio.sleep(interval)
        status, body = await step
    return status, body
