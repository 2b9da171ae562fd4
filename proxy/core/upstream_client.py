"""A lean keep-alive HTTP/1.1 client for upstream calls: asyncio protocols and httptools' llhttp parser.

Why not aiohttp's client here: per request it builds a URL object, a request and a response object,
a writer, a timer, trace hooks and a cookie pass, and that costs more CPU than the whole gateway
pipeline around it. This client does only what a relay needs: write one request, parse the answer
with llhttp (C), hand the body out piece by piece as it arrives, and keep the connection for the
next request. aiohttp still serves everything else (proxies, WebSockets, URLs it would re-quote).

Failures raise aiohttp's exception types and the response (proxy/core/upstream_response.py) offers
the part of aiohttp's `ClientResponse` the forwarder uses, so callers handle both clients alike.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from typing import Any

import aiohappyeyeballs
import aiohttp
import httptools
from multidict import CIMultiDict

from proxy.core.http1 import IDEMPOTENT, Target, request_head
from proxy.core.upstream_response import ResponseBody, UpstreamResponse

IDLE_PER_HOST = 256    # idle connections kept per upstream host
DNS_TTL = 300.0
MAX_HEAD = 1 << 16     # bytes of response headers accepted (aiohttp allows 8190 a line; llhttp has no limit)
AddrInfo = tuple[Any, Any, int, str, tuple[Any, ...]]   # one getaddrinfo result


class UpstreamTimeout(asyncio.TimeoutError):
    """A time limit of the exchange ran out; the message says which."""


class _Connection(asyncio.Protocol):
    """One upstream connection: one exchange at a time, parsed by llhttp."""

    def __init__(self, pool: UpstreamClient, key: tuple[bool, str, int]) -> None:
        self.pool = pool
        self.key = key
        self.loop = pool.loop
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.head: asyncio.Future[UpstreamResponse] | None = None
        self.body = ResponseBody(self, self.loop)
        self.names: list[tuple[str, str]] = []
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.head_size = 0
        self.reason = ""
        self.in_body = False
        self.complete = False
        self.keep_alive = False
        self.paused = False
        self.closed = False
        self.exchanging = False   # between send() and finish()
        self.reused = False
        self.idle_since = 0.0
        self.max_idle = pool.keepalive   # shorter when the upstream says it closes idle connections sooner
        self.timer: asyncio.TimerHandle | None = None    # the exchange's total deadline
        self.quiet: asyncio.TimerHandle | None = None    # the first-byte limit, then the idle one
        self.first_byte: float | None = None
        self.idle: float | None = None
        self.seen = 0.0        # loop time of the last bytes from the upstream
        self.sent_at = 0.0
        self.got_body = False

    # the exchange
    def send(self, data: list[bytes], timeout: float | None, first_byte: float | None = None,
             idle: float | None = None) -> asyncio.Future[UpstreamResponse]:
        """`timeout`: the whole exchange; `first_byte`: until the first body byte (or a bodiless end);
        `idle`: between two pieces of the body after that."""
        assert self.transport is not None
        self.head = self.loop.create_future()
        self.body = ResponseBody(self, self.loop)
        self.names = []
        self.head_size = 0
        self.in_body = self.complete = self.keep_alive = self.got_body = False
        self.exchanging = True
        self.first_byte, self.idle = first_byte, idle
        if timeout is not None:
            self.timer = self.loop.call_later(timeout, self._timed_out)
        if first_byte or idle:
            # one timer for both limits, set to the shorter: most exchanges end before it and cost one
            # timer; when it fires it checks which limit applies and sets itself again for what is left
            self.sent_at = self.loop.time()
            self.quiet = self.loop.call_later(min(x for x in (first_byte, idle) if x), self._check_quiet)
        self.transport.writelines(data)
        return self.head

    def finish(self) -> None:
        if not self.exchanging:   # released twice: once is what counts
            return
        self.exchanging = False
        self._stop_timer()
        if self.complete and self.keep_alive and not self.closed:
            self.resume()
            self.pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()   # never half-read: the connection can't be reused anyway
            self._fail(aiohttp.ServerDisconnectedError("upstream connection closed"))

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.quiet is not None:
            self.quiet.cancel()
            self.quiet = None

    def _timed_out(self) -> None:
        self.timer = None
        self._give_up(UpstreamTimeout("upstream did not finish within the total time limit of the relay"))

    def _check_quiet(self) -> None:
        """Before the first body byte the first-byte limit applies, after it the idle one (paused reading
        is our silence, not the upstream's)."""
        self.quiet = None
        if self.complete or self.closed or not self.exchanging:
            return
        now, never = self.loop.time(), float("inf")
        if self.got_body:
            if not self.idle:
                return
            left = self.idle if self.paused else self.seen + self.idle - now
        else:
            left = self.sent_at + self.first_byte - now if self.first_byte else never
        if left <= 0.001:
            self._give_up(UpstreamTimeout(f"upstream sent nothing for {self.idle:g}s" if self.got_body
                                          else f"upstream sent no answer within {self.first_byte:g}s"))
            return
        self.quiet = self.loop.call_later(min(left, self.idle or never), self._check_quiet)

    def _give_up(self, exc: BaseException) -> None:
        self._fail(exc)
        self.close()

    def _fail(self, exc: BaseException) -> None:
        head = self.head
        if head is not None and not head.done():
            head.set_exception(exc)
        elif self.in_body and not self.complete:
            self.body.end(exc)

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.head is None:   # nothing asked: an upstream talking out of turn can't be trusted
            self.close()
            return
        self.seen = self.loop.time()
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as e:   # no upgrade was asked for
            error = aiohttp.ClientPayloadError if self.in_body else aiohttp.ClientConnectionError
            self._fail(error(f"invalid upstream response: {e.__cause__ or e.__context__ or e}"))
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed, self.closed = self.closed, True
        self.pool.forget(self)
        self._stop_timer()
        if was_closed or self.complete:
            return
        if self.in_body and self._ends_at_close():
            self.complete = True
            self.body.end()
        elif self.in_body:
            self.body.end(aiohttp.ClientPayloadError(f"upstream body cut short: {exc or 'connection closed'}"))
        else:
            self._fail(aiohttp.ServerDisconnectedError(f"upstream closed the connection: {exc or 'no answer'}"))

    def _ends_at_close(self) -> bool:
        """A body with neither a length nor chunks ends where the connection does."""
        headers = self.headers
        return "Content-Length" not in headers and "chunked" not in headers.get("Transfer-Encoding", "").lower()

    # llhttp callbacks
    def on_message_begin(self) -> None:
        if self.complete:   # a second answer to one request: raising here makes data_received close
            raise ValueError("an answer nobody asked for")

    def on_status(self, status: bytes) -> None:
        self.reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_size += len(name) + len(value)
        if self.head_size > MAX_HEAD:   # raising here makes data_received close the connection
            raise ValueError(f"response headers over {MAX_HEAD} bytes")
        self.names.append((name.decode("latin-1"), value.decode("utf-8", "replace")))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:   # 1xx: an interim answer; the real one follows
            self.names = []
            return
        self.in_body = True
        self.keep_alive = self.parser.should_keep_alive()   # read here: llhttp resets it once the message ends
        self.headers = headers = CIMultiDict(self.names)
        if "Keep-Alive" in headers:
            self.max_idle = min(self.pool.keepalive, idle_allowed(headers["Keep-Alive"]))
        head = self.head
        if head is not None and not head.done():
            head.set_result(UpstreamResponse(self, self.body, status, self.reason, headers))

    def on_body(self, body: bytes) -> None:
        self.got_body = True
        self.body.feed(body)

    def on_message_complete(self) -> None:
        if not self.in_body:
            return   # the end of a 1xx
        self.complete = True
        self.head = None
        self._stop_timer()
        self.body.end()


class UpstreamClient:
    """Keep-alive connections per upstream host, reused most recent first."""

    def __init__(self, connect_timeout: float = 30.0, keepalive: float = 60.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.idle: dict[tuple[bool, str, int], list[_Connection]] = {}
        self.busy: set[_Connection] = set()
        self.addresses: dict[tuple[str, int], tuple[float, list[AddrInfo]]] = {}
        self.closing = False

    async def request(self, method: str, target: Target, headers: CIMultiDict[str], body: bytes,
                      timeout: float | None, first_byte: float | None = None,
                      idle: float | None = None) -> UpstreamResponse:
        """Send one request; the answer once its status line and headers are in.

        `timeout` bounds the whole exchange, `first_byte` the wait for the first body byte, `idle` each
        gap in the body after it (None or 0: no limit); each raises UpstreamTimeout naming itself."""
        head = request_head(method, target, headers, body)
        data = [head, body] if body else [head]
        deadline = None if timeout is None else self.loop.time() + timeout
        limits = (first_byte, idle)
        conn = self._idle_connection(target) or await self._connect(target, timeout)
        try:
            return await self._exchange(conn, data, deadline, limits)
        except aiohttp.ServerDisconnectedError:
            # a kept connection the upstream had just closed: once more on a new one, when a repeat is
            # harmless (RFC 9112 §9.3.1: idempotent methods only, as aiohttp)
            if not conn.reused or method not in IDEMPOTENT:
                raise
        conn = await self._connect(target, self._left(deadline))
        return await self._exchange(conn, data, deadline, limits)

    def _left(self, deadline: float | None) -> float | None:
        """Seconds until the deadline (a hair above zero once past it), None without one."""
        return None if deadline is None else max(deadline - self.loop.time(), 0.001)

    async def _exchange(self, conn: _Connection, data: list[bytes], deadline: float | None,
                        limits: tuple[float | None, float | None]) -> UpstreamResponse:
        self.busy.add(conn)
        try:
            return await conn.send(data, self._left(deadline), *limits)
        except BaseException:
            conn.close()
            raise

    def _idle_connection(self, target: Target) -> _Connection | None:
        idle = self.idle.get(target.key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < conn.max_idle and conn.transport is not None \
                    and not conn.transport.is_closing():
                conn.reused = True
                return conn
            conn.close()
        return None

    async def _connect(self, target: Target, timeout: float | None) -> _Connection:
        """A new connection: the host's addresses raced as RFC 8305 says (aiohappyeyeballs, as aiohttp)."""
        limit = self.connect_timeout if timeout is None else min(timeout, self.connect_timeout)
        conn = _Connection(self, target.key)
        try:
            async with asyncio.timeout(limit):
                infos = await self._resolve(target.host, target.port)
                sock = await aiohappyeyeballs.start_connection(infos, happy_eyeballs_delay=0.25, interleave=1)
                # the transport owns the socket from here, and closes it itself if this fails (TLS, time):
                # closing it here too could close an unrelated connection that got the same descriptor
                await self.loop.create_connection(lambda: conn, sock=sock, ssl=self.ssl_context if target.ssl else None,
                                                  server_hostname=target.host if target.ssl else None)
                return conn
        except BaseException as e:
            self.addresses.pop((target.host, target.port), None)   # the next try asks DNS again (a failover)
            if isinstance(e, TimeoutError):
                raise aiohttp.ConnectionTimeoutError(f"connecting to {target.host}:{target.port} timed out") from None
            if isinstance(e, ssl.SSLError):
                raise aiohttp.ClientConnectionError(f"TLS with {target.host}:{target.port} failed: {e}") from None
            if isinstance(e, OSError):
                raise aiohttp.ClientOSError(e.errno, f"Cannot connect to host {target.host}:{target.port} "
                                                     f"[{e.strerror or e}]") from None
            raise

    async def _resolve(self, host: str, port: int) -> list[AddrInfo]:
        """A host's addresses, remembered for DNS_TTL seconds (aiohttp's connector caches them likewise)."""
        now = time.monotonic()
        known = self.addresses.get((host, port))
        if known is not None and known[0] > now:
            return known[1]
        infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        self.addresses[(host, port)] = (now + DNS_TTL, infos)
        return infos

    def put_back(self, conn: _Connection) -> None:
        self.busy.discard(conn)
        idle = self.idle.setdefault(conn.key, [])
        if self.closing or len(idle) >= IDLE_PER_HOST:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        self.busy.discard(conn)
        idle = self.idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def close(self) -> None:
        self.closing = True
        for conn in [*self.busy, *(c for idle in self.idle.values() for c in idle)]:
            conn.close()
        self.idle.clear()
        self.busy.clear()


def idle_allowed(keep_alive: str) -> float:
    """Seconds a connection may sit idle by the upstream's `Keep-Alive: timeout=N`, a second early so a
    request never meets the upstream's close halfway (a POST can't be sent again)."""
    for part in keep_alive.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "timeout" and value.strip().isdigit():
            return max(int(value) - 1.0, 0.0)
    return float("inf")
