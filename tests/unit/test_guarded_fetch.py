"""GuardedFetch against local servers: names are checked on the addresses the lookup gave (which are the
addresses connected to), literals before any connection, every redirect hop, and through a proxy the checked
address is what the proxy is asked for. A fake lookup gives names their answers; the servers are real."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from startup.guarded_fetch import FetchRefused, GuardedFetch
from startup.url_guard import FetchPolicy


class Lookup(AbstractResolver):
    """Answers names from a table, as a DNS server the attacker controls would."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
                for address in self.table[host]]

    async def close(self) -> None:
        pass


class Counting:
    """A server that answers 200 to everything (/loop redirects to itself) and records the request lines."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.seen: list[str] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host=host)

    async def _handle(self, request: web.Request) -> web.Response:
        self.seen.append(f"{request.method} {request.raw_path} Host={request.headers.get('Host')}")
        if request.path == "/loop":
            raise web.HTTPFound("/loop")
        return web.Response(text="ok")

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port


@pytest.fixture
async def counting() -> AsyncIterator[Counting]:
    server = Counting()
    await server.server.start_server()
    yield server
    await server.server.close()


async def fetcher(allow: tuple[str, ...] = (), proxy: str | None = None,
                  table: dict[str, list[str]] | None = None) -> GuardedFetch:
    fetch = GuardedFetch(FetchPolicy.allowing(allow), proxy, timeout=5, lookup=lambda: Lookup(table or {}))
    await fetch.start()
    return fetch


async def status(fetch: GuardedFetch, url: str) -> int:
    async with fetch.get(url) as response:
        return response.status


async def test_a_name_answering_loopback_is_refused_and_never_connected(counting: Counting) -> None:
    fetch = await fetcher(table={"images.example": ["127.0.0.1"], "mixed.example": ["127.0.0.2", "127.0.0.1"]})
    try:
        for host in ("images.example", "mixed.example"):
            with pytest.raises(OSError) as raised:
                await status(fetch, f"http://{host}:{counting.port}/a.png")
            assert isinstance(raised.value.__cause__, FetchRefused)
        assert counting.seen == []
    finally:
        await fetch.close()
    # the same name, allow-listed: the connection goes to the very address the lookup gave
    fetch = await fetcher(allow=("images.example",), table={"images.example": ["127.0.0.1"]})
    try:
        assert await status(fetch, f"http://images.example:{counting.port}/a.png") == 200
        assert counting.seen == [f"GET /a.png Host=images.example:{counting.port}"]
    finally:
        await fetch.close()


@pytest.mark.parametrize("url", ["http://10.0.0.1/a.png", "http://169.254.169.254/latest/meta-data/",
                                 "http://[fd00::1]/a.png", "http://[::ffff:a9fe:a9fe]/", "http://0.0.0.0/",
                                 "https://100.100.100.200/", "http://2852039166/", "file:///etc/passwd"])
async def test_internal_literals_are_refused_before_connecting(url: str) -> None:
    fetch = await fetcher()
    try:
        with pytest.raises(FetchRefused):        # raised by the guard itself, not by a failed connection
            await status(fetch, url)
    finally:
        await fetch.close()


async def test_redirects_are_checked_and_bounded(counting: Counting) -> None:
    fetch = await fetcher(allow=("127.0.0.1",))
    try:
        with pytest.raises(FetchRefused, match="redirects"):
            await status(fetch, f"http://127.0.0.1:{counting.port}/loop")
        assert len(counting.seen) == 4          # the first request and three redirects
    finally:
        await fetch.close()


async def test_through_a_proxy_the_proxy_gets_the_checked_address(counting: Counting) -> None:
    """The proxy (named `localhost`: the operator's own host is trusted) answers itself, as a caching proxy
    may; what it is asked for shows what the gateway handed over."""
    table = {"localhost": ["127.0.0.1"], "images.example": ["93.184.216.34"], "evil.example": ["169.254.169.254"]}
    fetch = await fetcher(proxy=f"http://localhost:{counting.port}", table=table)
    try:
        assert await status(fetch, "http://images.example/a.png") == 200
        assert await status(fetch, "http://8.8.8.8:8080/b.png") == 200
        for url in ("http://evil.example/c.png", "http://169.254.169.254/d.png"):
            with pytest.raises(FetchRefused):
                await status(fetch, url)
        assert counting.seen == ["GET http://93.184.216.34/a.png Host=images.example",
                                 "GET http://8.8.8.8:8080/b.png Host=8.8.8.8:8080"]
    finally:
        await fetch.close()
