"""The lean upstream client against a real server on 127.0.0.1 that answers byte by byte as scripted:
keep-alive reuse, bodies by length, chunks or close, interim answers, failures, timeouts, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from proxy.core import upstream_client, upstream_response
from proxy.core.http1 import parse_target
from proxy.core.upstream_client import UpstreamClient

Reply = Callable[[asyncio.StreamWriter, bytes], Awaitable[bool]]   # (writer, request) -> keep the connection?


RUNNING: list[Scripted] = []


class Scripted:
    """A server whose answer to each request is a coroutine; it records connections and requests."""

    def __init__(self, reply: Reply) -> None:
        RUNNING.append(self)
        self.tasks: set[asyncio.Task[None]] = set()
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                               if line.startswith(b"content-length:")), 0)
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                if not await self.reply(writer, request):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


def answer(body: bytes, extra: bytes = b"") -> Reply:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                     % (len(body), extra, body))
        await writer.drain()
        return b"connection: close" not in extra.lower()
    return reply


def raw(data: bytes, keep: bool = True) -> Reply:
    """Answer every request with these bytes, then keep the connection or close it."""
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(data)
        await writer.drain()
        return keep
    return reply


@pytest.fixture(autouse=True)
async def _stop_servers() -> AsyncIterator[None]:
    yield
    while RUNNING:
        await RUNNING.pop().stop()


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    c = UpstreamClient(connect_timeout=2)
    yield c
    await c.close()


async def post(client: UpstreamClient, url: str, body: bytes = b"{}", timeout: float | None = None,
               method: str = "POST", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    target = parse_target(url)
    assert target is not None
    response = await client.request(method, target, CIMultiDict(headers or {"Content-Type": "application/json"}),
                                    body, timeout)
    async with response:
        return response.status, await response.read()


async def test_a_connection_is_kept_and_reused(client: UpstreamClient) -> None:
    server = Scripted(answer(b'{"ok":true}'))
    base = await server.start()
    for _ in range(5):
        assert await post(client, base + "/v1/chat/completions") == (200, b'{"ok":true}')
    assert server.connections == 1 and len(server.requests) == 5


async def test_releasing_twice_keeps_the_connection_once(client: UpstreamClient) -> None:
    server = Scripted(answer(b"{}"))
    base = await server.start()
    target = parse_target(base + "/x")
    assert target is not None
    async with await client.request("POST", target, CIMultiDict(), b"{}", None) as response:
        await response.read()
        response.release()
    assert [len(idle) for idle in client.idle.values()] == [1]
    await asyncio.gather(post(client, base + "/x"), post(client, base + "/x"))
    assert server.connections == 2


async def test_connection_close_is_honoured(client: UpstreamClient) -> None:
    server = Scripted(answer(b"{}", b"Connection: close\r\n"))
    base = await server.start()
    for _ in range(3):
        assert await post(client, base + "/x") == (200, b"{}")
    assert server.connections == 3


async def test_the_request_bytes(client: UpstreamClient) -> None:
    server = Scripted(answer(b"{}"))
    base = await server.start()
    headers = CIMultiDict([("Authorization", "Bearer k"), ("X-Twice", "1"), ("X-Twice", "2"),
                           ("Content-Type", "application/json"), ("Content-Length", "999"), ("Connection", "x")])
    target = parse_target(base + "/v1/chat/completions?api-version=1")
    assert target is not None
    async with await client.request("POST", target, headers, b'{"a":1}', None):
        pass
    head, body = server.requests[0].split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat/completions?api-version=1 HTTP/1.1"
    assert lines[1] == f"Host: 127.0.0.1:{target.port}"
    assert lines[2:6] == ["Authorization: Bearer k", "X-Twice: 1", "X-Twice: 2", "Content-Type: application/json"]
    assert "Accept-Encoding: identity" in lines and "Content-Length: 7" in lines
    assert not any(line.startswith(("Connection", "Content-Length: 999")) for line in lines)
    assert body == b'{"a":1}'


async def test_a_line_break_in_a_header_is_refused(client: UpstreamClient) -> None:
    server = Scripted(answer(b"{}"))
    base = await server.start()
    with pytest.raises(ValueError):
        await post(client, base + "/x", headers={"X-Evil": "a\r\nX-Injected: 1"})
    assert server.requests == []


async def test_chunks_arrive_as_they_are_sent(client: UpstreamClient) -> None:
    go_on = asyncio.Event()

    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"7\r\ndata: 1\r\n")
        await writer.drain()
        await go_on.wait()
        writer.write(b"7\r\ndata: 2\r\n0\r\n\r\n")
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    target = parse_target(base + "/s")
    assert target is not None
    response = await client.request("POST", target, CIMultiDict(), b"{}", None)
    async with response:
        assert response.content_type == "text/event-stream" and response.content_length is None
        pieces = response.content.iter_any()
        assert await asyncio.wait_for(pieces.__anext__(), 2) == b"data: 1"   # before the rest is even sent
        go_on.set()
        assert [p async for p in pieces] == [b"data: 2"]
    assert await post(client, base + "/s") == (200, b"data: 1data: 2")     # the same connection again
    assert server.connections == 1


async def test_a_body_that_ends_with_the_connection(client: UpstreamClient) -> None:
    base = await Scripted(raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", keep=False)).start()
    assert await post(client, base + "/x") == (200, b"all of it")
    assert client.idle.get((False, "127.0.0.1", parse_target(base).port), []) == []   # type: ignore[union-attr]


async def test_a_body_cut_short_is_an_error(client: UpstreamClient) -> None:
    base = await Scripted(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", keep=False)).start()
    with pytest.raises(aiohttp.ClientPayloadError):
        await post(client, base + "/x")


async def test_no_answer_at_all(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        return False

    base = await Scripted(reply).start()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(client, base + "/x")


async def test_garbage_instead_of_http(client: UpstreamClient) -> None:
    base = await Scripted(raw(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")).start()
    with pytest.raises(aiohttp.ClientConnectionError, match="invalid upstream response"):
        await post(client, base + "/x")


async def test_an_interim_answer_is_skipped(client: UpstreamClient) -> None:
    base = await Scripted(raw(b"HTTP/1.1 100 Continue\r\n\r\n"
                              b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")).start()
    assert await post(client, base + "/x") == (201, b"ok")
    assert await post(client, base + "/x") == (201, b"ok")


async def test_a_stale_kept_connection(client: UpstreamClient) -> None:
    """The upstream drops idle connections without saying so: a repeatable request goes again on a new
    connection; a POST is not repeated (the upstream might have taken it) and fails for the caller."""
    drop = {"now": False}

    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        if drop["now"]:
            return False
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    assert await post(client, base + "/x", method="GET", body=b"") == (200, b"ok")
    drop["now"] = True
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(client, base + "/x", method="GET", body=b"")   # the retry, on a new connection, fails too
    assert server.connections == 2
    drop["now"] = False
    assert await post(client, base + "/x") == (200, b"ok")
    drop["now"] = True
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await post(client, base + "/x")
    assert server.connections == 3


async def test_an_idle_connection_closed_by_the_upstream_is_dropped(client: UpstreamClient) -> None:
    # closes after answering, without a Connection: close
    server = Scripted(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", keep=False))
    base = await server.start()
    assert await post(client, base + "/x") == (200, b"ok")
    await asyncio.sleep(0.1)
    assert sum(len(v) for v in client.idle.values()) == 0
    assert await post(client, base + "/x") == (200, b"ok")
    assert server.connections == 2


async def test_a_slow_upstream_times_out_and_its_connection_is_not_kept(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        if b"slow" in request:
            await asyncio.sleep(5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    with pytest.raises(asyncio.TimeoutError):
        await post(client, base + "/x", body=b"slow", timeout=0.2)
    assert await post(client, base + "/x", timeout=2) == (200, b"ok")
    assert server.connections == 2


async def test_a_body_that_stops_midway_times_out(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        await asyncio.sleep(5)
        return False

    base = await Scripted(reply).start()
    with pytest.raises(asyncio.TimeoutError):
        await post(client, base + "/x", timeout=0.3)


async def test_an_answer_left_half_read_closes_its_connection(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"abcdefghij")
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    target = parse_target(base + "/x")
    assert target is not None
    async with await client.request("POST", target, CIMultiDict(), b"{}", None) as response:
        assert len(await response.content.read(10)) == 10
    assert await post(client, base + "/x") == (200, b"0123456789abcdefghij")
    assert server.connections == 2


async def test_reading_pauses_while_the_consumer_is_slow(client: UpstreamClient,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_response, "HIGH_WATER", 64 * 1024)
    big = bytes(range(256)) * 8192   # 2 MiB
    server = Scripted(answer(big))
    base = await server.start()
    target = parse_target(base + "/x")
    assert target is not None
    async with await client.request("POST", target, CIMultiDict(), b"{}", None) as response:
        await asyncio.sleep(0.2)   # nobody reads: the client stops reading too
        conn = response._conn
        assert conn.paused and conn.body.size < 1024 * 1024
        got = b"".join([piece async for piece in response.content.iter_any()])
    assert got == big
    assert await post(client, base + "/x") == (200, big) and server.connections == 1


async def test_a_refused_connection(client: UpstreamClient) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(aiohttp.ClientOSError, match="Cannot connect to host 127.0.0.1"):
        await post(client, f"http://127.0.0.1:{port}/x")
    with pytest.raises(aiohttp.ClientOSError, match="Cannot connect to host localhost"):
        await post(client, f"http://localhost:{port}/x")
    assert client.addresses == {}   # a failed host is looked up again next time (it may have moved)


async def test_many_at_once_on_one_host(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        await asyncio.sleep(0.01)
        body = request.split(b"\r\n\r\n", 1)[1]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    for _ in range(3):
        results = await asyncio.gather(*(post(client, base + "/x", body=b"%d" % i) for i in range(50)))
        assert results == [(200, b"%d" % i) for i in range(50)]
    assert server.connections == 50   # the second and third rounds rode the kept connections


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    return server, trusting


async def test_tls_with_a_verified_certificate(tmp_path: Path) -> None:
    server_ctx, trusting = _self_signed(tmp_path)
    server = Scripted(answer(b"secret"))
    base = (await server.start(server_ctx)).replace("127.0.0.1", "localhost")
    client = UpstreamClient(connect_timeout=2, ssl_context=trusting)
    try:
        assert await post(client, base + "/x") == (200, b"secret")
        assert await post(client, base + "/x") == (200, b"secret")
        assert server.connections == 1
    finally:
        await client.close()
    untrusting = UpstreamClient(connect_timeout=2)   # the system's CAs: a self-signed upstream is refused
    try:
        with pytest.raises(aiohttp.ClientConnectionError, match="TLS"):
            await post(untrusting, base + "/x")
    finally:
        await untrusting.close()


async def test_the_upstreams_keep_alive_timeout_is_respected(client: UpstreamClient) -> None:
    """A connection is kept idle at most a second less than the upstream's `Keep-Alive: timeout=N` says:
    with timeout=1 not at all (each request opens its own), with timeout=5 up to 4 s."""
    server = Scripted(answer(b"{}", b"Keep-Alive: timeout=1, max=100\r\n"))
    base = await server.start()
    assert await post(client, base + "/x") == (200, b"{}")
    assert await post(client, base + "/x") == (200, b"{}")
    assert server.connections == 2
    lenient = Scripted(answer(b"{}", b"Keep-Alive: timeout=5\r\n"))
    base = await lenient.start()
    for _ in range(3):
        assert await post(client, base + "/x") == (200, b"{}")
    assert lenient.connections == 1


def test_idle_allowed() -> None:
    assert upstream_client.idle_allowed("timeout=5, max=1000") == 4.0
    assert upstream_client.idle_allowed("max=3,  Timeout = 10") == 9.0
    assert upstream_client.idle_allowed("timeout=1") == 0.0
    assert upstream_client.idle_allowed("max=5") == float("inf")
    assert upstream_client.idle_allowed("timeout=soon") == float("inf")


async def test_a_second_answer_to_one_request_closes_the_connection(client: UpstreamClient) -> None:
    server = Scripted(raw(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                          b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"))
    base = await server.start()
    assert await post(client, base + "/x") == (200, b"ok")
    assert await post(client, base + "/x") == (200, b"ok")
    assert server.connections == 2


async def test_an_upgrade_nobody_asked_for(client: UpstreamClient) -> None:
    base = await Scripted(raw(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\n\r\n")).start()
    with pytest.raises(aiohttp.ClientConnectionError, match="invalid upstream response"):
        await post(client, base + "/x")


async def test_endless_headers_are_cut_off(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for i in range(2000):
            writer.write(b"X-Filler-%d: %s\r\n" % (i, b"y" * 100))
            await writer.drain()
        writer.write(b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        return True

    base = await Scripted(reply).start()
    with pytest.raises(aiohttp.ClientConnectionError, match="headers over"):
        await post(client, base + "/x")


async def test_answers_without_a_body_do_not_wait_for_one(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        status = b"204 No Content" if request.startswith(b"DELETE") else b"304 Not Modified"
        writer.write(b"HTTP/1.1 %s\r\nETag: \"x\"\r\n\r\n" % status)
        await writer.drain()
        return True

    server = Scripted(reply)
    base = await server.start()
    assert await asyncio.wait_for(post(client, base + "/x", method="DELETE", body=b""), 2) == (204, b"")
    assert await asyncio.wait_for(post(client, base + "/x", method="GET", body=b""), 2) == (304, b"")
    assert server.connections == 1


async def _limited(client: UpstreamClient, url: str, first_byte: float | None, idle: float | None,
                   wait_before_reading: float = 0.0) -> bytes:
    target = parse_target(url)
    assert target is not None
    response = await client.request("POST", target, CIMultiDict({"Content-Type": "application/json"}), b"{}", None,
                                    first_byte, idle)
    async with response:
        await asyncio.sleep(wait_before_reading)
        return await response.read()


async def test_headers_alone_do_not_meet_the_first_byte_limit(client: UpstreamClient) -> None:
    """A stream's headers come at once; its first token may take minutes: the limit waits for body bytes."""
    base = await Scripted(raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")).start()
    with pytest.raises(upstream_client.UpstreamTimeout, match="no answer within 0.3s"):
        await _limited(client, base + "/x", first_byte=0.3, idle=5)


async def test_a_silence_past_the_idle_limit_ends_the_body_and_the_connection(client: UpstreamClient) -> None:
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        await asyncio.sleep(5)
        return False

    server = Scripted(reply)
    base = await server.start()
    started = time.monotonic()
    with pytest.raises(upstream_client.UpstreamTimeout, match="sent nothing for 0.3s"):
        await _limited(client, base + "/x", first_byte=5, idle=0.3)
    assert time.monotonic() - started < 1.0
    await asyncio.sleep(0.05)                                   # the aborted transport reports its loss
    assert not client.busy and not any(client.idle.values())   # closed, not pooled


async def test_a_reader_that_holds_the_upstream_back_is_not_idle(client: UpstreamClient) -> None:
    """Back-pressure (the body's buffer full, reading paused) is our silence, not the upstream's."""
    body = b"x" * (4 * upstream_response.HIGH_WATER)
    base = await Scripted(answer(body)).start()
    assert await _limited(client, base + "/x", first_byte=5, idle=0.2, wait_before_reading=0.8) == body


async def test_an_idle_limit_alone_leaves_the_first_byte_unbounded_and_a_slow_start_is_fine(
        client: UpstreamClient) -> None:
    """idle=0.2 with no first-byte limit: a first byte after 0.5 s is fine, and so are gaps under 0.2 s."""
    async def reply(writer: asyncio.StreamWriter, request: bytes) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await asyncio.sleep(0.5)
        for piece in (b"a", b"b", b"c"):
            writer.write(b"1\r\n%s\r\n" % piece)
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")
        return True

    base = await Scripted(reply).start()
    assert await _limited(client, base + "/x", first_byte=None, idle=0.2) == b"abc"
    assert await _limited(client, base + "/x", first_byte=0.8, idle=0.2) == b"abc"   # the timer re-set for both
