"""A database outage on demand: a TCP relay in front of the real server that can be cut (every connection
aborted, the port closed: connects are refused) and restored on the same port."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.engine import make_url

from store import DatabaseURL


class CuttableRelay:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> CuttableRelay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url_of(self, url: DatabaseURL) -> DatabaseURL:
        """`url` (pointing at the real server) pointed at this relay instead."""
        return DatabaseURL(url.dialect, make_url(url.url).set(host="127.0.0.1", port=self.port)
                           .render_as_string(hide_password=False))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
