"""A real nginx (Debian's package) with nginx/nginx.conf in front of the real `one-api` command, over HTTPS.

One module-scoped stack: a self-signed certificate (openssl), a scripted mock OpenAI upstream (in a
thread with its own event loop), the `one-api` command in a subprocess on a free port with
TRUSTED_PROXIES=127.0.0.1/32 and its own SQLite database, and two nginx instances rendered from the
shipped template with the test's ports, certificate and a temp prefix: layout A (everything to the
gateway port) and layout B (non-/v1 paths straight to admin_api's loopback port).

The client connects from 127.0.0.2 (any 127/8 address is local on Linux) while nginx connects to the
gateway from 127.0.0.1, so "the address the gateway sees" tells the client's apart from nginx's.

Without the nginx or openssl binary the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import aiohttp
import orjson
import pytest

from store import Database, sqlite_url
from tests.e2e.harness import Account, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI, Script
from tests.nginx.deploy_files import dockerfile_healthcheck

REPO = Path(__file__).resolve().parents[2]
CLIENT_ADDR = "127.0.0.2"        # the "real client"; nginx reaches the gateway from 127.0.0.1
SPOOFED = "10.9.9.9"


def _load_renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oneapi_nginx_render", REPO / "nginx" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_renderer()


def _binary(name: str) -> str:
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)
    if found:
        return found
    reason = f"{name} binary not found (scripts/services start installs Debian's nginx; openssl comes with the OS)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the nginx tests")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ThreadedMock:
    """The e2e mock upstream on its own event loop, so it outlives each test's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mock-upstream", daemon=True)
        self.thread.start()
        self.mock: MockOpenAI = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    @staticmethod
    async def _start() -> MockOpenAI:
        return await MockOpenAI().start()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.mock.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Nginx:
    prefix: Path
    https_port: int
    http_port: int
    proc: subprocess.Popen

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def error_log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted((self.prefix / "logs").glob("*.log"))
                       if p.name != "access.log")

    def access_log(self) -> list[str]:
        path = self.prefix / "logs" / "access.log"
        return path.read_text().splitlines() if path.exists() else []


@dataclass
class Stack:
    tmp: Path
    cert: Path
    port: int                     # the gateway (proxy) port
    admin_socket: str             # admin_api's unix socket (ADMIN_SOCKET), where layout B points nginx
    gateway: subprocess.Popen
    upstream: ThreadedMock
    accounts: dict[str, Account]
    ssl: ssl.SSLContext
    nginx: dict[str, Nginx] = field(default_factory=dict)

    @property
    def mock(self) -> MockOpenAI:
        return self.upstream.mock


def make_cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run([_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return cert, key


def start_nginx(binary: str, tmp: Path, name: str, cert: Path, key: Path, proxy: str, admin: str) -> Nginx:
    prefix = tmp / f"nginx-{name}"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "state").mkdir()
    https_port, http_port = free_port(), free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render.render({
        # as root the workers would otherwise run as www-data and could not enter pytest's 0700 tmp dirs
        "ONEAPI_NGINX_USER": "root" if os.geteuid() == 0 else "nobody",
        "ONEAPI_NGINX_PID": str(prefix / "nginx.pid"),
        "ONEAPI_NGINX_LOG_DIR": str(prefix / "logs"),
        "ONEAPI_NGINX_STATE_DIR": str(prefix / "state"),
        "ONEAPI_SERVER_NAME": "localhost",
        "ONEAPI_HTTP_LISTEN": f"127.0.0.1:{http_port}",
        "ONEAPI_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
        "ONEAPI_TLS_CERT": str(cert),
        "ONEAPI_TLS_KEY": str(key),
        "ONEAPI_PROXY_SERVERS": proxy,
        "ONEAPI_ADMIN_SERVERS": admin,
    }, environ={}))
    proc = subprocess.Popen([binary, "-p", str(prefix), "-e", str(prefix / "logs" / "startup.log"), "-c", str(conf),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_port(https_port, proc, f"nginx ({name})", time.monotonic() + 20)
    except AssertionError as e:
        stop(proc)
        logs = "".join(p.read_text() for p in (prefix / "logs").glob("*.log"))
        raise AssertionError(f"{e}\n{logs}") from None
    return Nginx(prefix, https_port, http_port, proc)


async def seed(path: Path, upstream_url: str) -> dict[str, Account]:
    db = Database(sqlite_url(str(path)))
    try:
        await db.create_schema()
        await add_channel(db, base_url=upstream_url, models="gpt-4o-mini,whisper-1")
        return {
            "plain": await add_account(db, username="plain"),
            "client_only": await add_account(db, username="client_only", subnet=f"{CLIENT_ADDR}/32"),
            "nginx_only": await add_account(db, username="nginx_only", subnet="127.0.0.1/32"),
            "ten_only": await add_account(db, username="ten_only", subnet="10.0.0.0/8"),
        }
    finally:
        await db.dispose()


def wait_status(url: str, proc: subprocess.Popen, deadline: float) -> None:
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"one-api exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if orjson.loads(r.read()).get("success") is True:
                    return
        except Exception as e:   # not up yet
            last = e
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered: {last}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    nginx_bin = _binary("nginx")
    tmp = tmp_path_factory.mktemp("nginx")
    cert, key = make_cert(tmp)
    upstream = ThreadedMock()
    gateway: subprocess.Popen | None = None
    started: list[Nginx] = []
    try:
        db_path = tmp / "one-api.db"
        accounts = asyncio.run(seed(db_path, upstream.mock.url))
        port, admin_socket = free_port(), str(tmp / "run" / "admin.sock")
        env = {k: v for k, v in os.environ.items()
               if k not in ("SQL_DSN", "LOG_SQL_DSN", "REDIS_CONN_STRING", "SYNC_FREQUENCY", "PORT", "NODE_TYPE")}
        env.update(PYTHONPATH=str(REPO), SQLITE_PATH=str(db_path), TRUSTED_PROXIES="127.0.0.1/32",
                   ADMIN_SOCKET=admin_socket, SESSION_SECRET="nginx-test-secret", SHUTDOWN_GRACE="5")
        with open(tmp / "gateway.out", "w") as out:
            gateway = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port),
                                        "--log-dir", str(tmp / "logs")],
                                       cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_status(f"http://127.0.0.1:{port}/api/status", gateway, time.monotonic() + 90)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{(tmp / 'gateway.out').read_text(errors='replace')[-4000:]}") from None
        stack = Stack(tmp, cert, port, admin_socket, gateway, upstream, accounts,
                      ssl.create_default_context(cafile=str(cert)))
        for name, admin in (("A", f"127.0.0.1:{port}"), ("B", f"unix:{admin_socket}")):
            started.append(start_nginx(nginx_bin, tmp, name, cert, key, f"127.0.0.1:{port}", admin))
            stack.nginx[name] = started[-1]
        yield stack
    finally:
        for n in started:
            stop(n.proc, signal.SIGQUIT, 20)     # graceful: finish requests, then exit
        if gateway is not None:
            stop(gateway)
        upstream.close()


def session(stack: Stack, local: str = CLIENT_ADDR) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=stack.ssl, local_addr=(local, 0)),
                                 timeout=aiohttp.ClientTimeout(total=120))


def bearer(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.key}"}


async def test_stream_arrives_chunk_by_chunk_over_https(stack: Stack) -> None:
    """(a) The first SSE chunk reaches the client while the upstream is still writing (~1.75 s in all)."""
    stack.mock.script = Script(content="one two three four five", chunks=5, chunk_delay=0.25)
    nginx = stack.nginx["A"]
    arrivals: list[tuple[float, bytes]] = []
    async with session(stack) as http:
        start = time.monotonic()
        async with http.post(f"{nginx.base}/v1/chat/completions", headers=bearer(stack.accounts["plain"]),
                             json={"model": "gpt-4o-mini", "stream": True,
                                   "messages": [{"role": "user", "content": "count"}]}) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert "Content-Encoding" not in resp.headers        # gzip off for /v1 (aiohttp asks for gzip)
            async for piece in resp.content.iter_any():
                arrivals.append((time.monotonic() - start, piece))
    first, last = arrivals[0][0], arrivals[-1][0]
    body = b"".join(p for _, p in arrivals)
    assert body == stack.mock.sent[-1], "nginx and the gateway must pass the stream's bytes unchanged"
    assert body.endswith(b"data: [DONE]\n\n")
    # 7 events 0.25 s apart: buffered anywhere, they would arrive together at ~1.75 s
    assert last >= 1.5, arrivals
    assert last - first >= 1.0, f"first chunk at {first:.2f}s, last at {last:.2f}s"
    assert len(arrivals) >= 5, f"only {len(arrivals)} reads: the stream was coalesced"
    assert f"ip：{CLIENT_ADDR}" not in body.decode()


async def test_20mb_audio_upload_reaches_upstream_intact(stack: Stack) -> None:
    """(b) A 20 MB multipart transcription upload goes through nginx unbuffered and arrives byte for byte."""
    stack.mock.script = Script()
    audio = os.urandom(20 * 1024 * 1024)
    boundary = "oneapi-nginx-test-" + os.urandom(8).hex()
    body = b"".join([
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n".encode(),
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"speech.mp3\"\r\n"
        f"Content-Type: audio/mpeg\r\n\r\n".encode(), audio, f"\r\n--{boundary}--\r\n".encode()])
    nginx = stack.nginx["A"]
    seen = len(stack.mock.requests)
    async with session(stack) as http:
        start = time.monotonic()
        async with http.post(f"{nginx.base}/v1/audio/transcriptions", data=body,
                             headers={**bearer(stack.accounts["plain"]),
                                      "Content-Type": f"multipart/form-data; boundary={boundary}"}) as resp:
            text = await resp.text()
            assert resp.status == 200, text
        elapsed = time.monotonic() - start
    assert orjson.loads(text)["text"] == "hello world from audio"
    [recorded] = stack.mock.requests[seen:]
    assert recorded.path == "/v1/audio/transcriptions"
    assert len(recorded.body) == len(body)
    assert hashlib.sha256(recorded.body).hexdigest() == hashlib.sha256(body).hexdigest()
    assert hashlib.sha256(audio).digest() == hashlib.sha256(
        recorded.body[recorded.body.index(b"audio/mpeg\r\n\r\n") + 14:][:len(audio)]).digest()
    # proxy_request_buffering off: nginx streamed the body instead of spooling it to disk first
    assert "buffered to a temporary file" not in nginx.error_log()
    assert elapsed < 30


async def test_gateway_sees_the_client_address_nginx_sets(stack: Stack) -> None:
    """(c) X-Forwarded-For is nginx's view of the client: not nginx's own address, not a client's claim."""
    nginx = stack.nginx["A"]
    models = f"{nginx.base}/v1/models"

    async def status_and_message(local: str, account: str, extra: dict[str, str] | None = None,
                                 url: str = models) -> tuple[int, str]:
        headers = {**bearer(stack.accounts[account]), **(extra or {})}
        async with session(stack, local) as http, http.get(url, headers=headers) as resp:
            data = orjson.loads(await resp.read())
            message = (data.get("error") or {}).get("message", "")
            seen = re.search(r"当前 ip：(\S+)", message)      # One API's wording: "current ip: X"
            return resp.status, seen.group(1) if seen else message

    # From 127.0.0.2 through nginx (whose own connection comes from 127.0.0.1): the gateway uses the header.
    assert (await status_and_message(CLIENT_ADDR, "client_only"))[0] == 200
    assert await status_and_message(CLIENT_ADDR, "nginx_only") == (403, CLIENT_ADDR)

    # A client's own X-Forwarded-For is replaced, not appended to. The sharp case is a client nginx
    # sees as 127.0.0.1, itself a trusted hop: "10.9.9.9, 127.0.0.1" would make the gateway skip the
    # trusted hop and believe 10.9.9.9.
    for local in ("127.0.0.1", CLIENT_ADDR):
        assert await status_and_message(local, "ten_only", {"X-Forwarded-For": SPOOFED}) == (403, local)

    # Control: straight to the gateway from the trusted 127.0.0.1, the same spoof IS believed. So the
    # refusals above are nginx's doing, and this test would see an appending config.
    direct = f"http://127.0.0.1:{stack.port}/v1/models"
    assert (await status_and_message("127.0.0.1", "ten_only", {"X-Forwarded-For": SPOOFED}, direct))[0] == 200


@pytest.mark.parametrize("layout", ["A", "B"])
async def test_admin_api_status_through_nginx(stack: Stack, layout: str) -> None:
    """(d) /api/status over HTTPS; layout A reaches admin_api via the proxy port, B directly."""
    nginx = stack.nginx[layout]
    async with session(stack) as http:
        async with http.get(f"{nginx.base}/api/status") as resp:
            assert resp.status == 200
            data = orjson.loads(await resp.read())
        assert data["success"] is True and data["data"]["quota_per_unit"] == 500000
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
        async with http.get(f"{nginx.base}/v1/models", headers=bearer(stack.accounts["plain"])) as resp:
            assert resp.status == 200
        async with http.get(f"{nginx.base}/metrics") as resp:
            assert resp.status == 404               # not exposed at the public front
        async with http.get(f"http://127.0.0.1:{nginx.http_port}/api/status", allow_redirects=False) as resp:
            assert resp.status == 308 and resp.headers["Location"] == "https://127.0.0.1/api/status"
    expected = {"A": f"127.0.0.1:{stack.port}", "B": f"unix:{stack.admin_socket}"}[layout]
    [status_line] = [line for line in nginx.access_log() if '"GET /api/status HTTP/1.1" 200' in line]
    assert f"up={expected} " in status_line, status_line
    models_line = [line for line in nginx.access_log() if '"GET /v1/models ' in line][-1]
    assert f"up=127.0.0.1:{stack.port} " in models_line and " rid=" in models_line, models_line
    assert models_line.startswith(f"{CLIENT_ADDR} ")


def test_template_renders_only_its_own_placeholders(tmp_path: Path) -> None:
    """No ${ONEAPI_*} left, nginx's $variables untouched, typos refused; envsubst gives the same text."""
    text = render.render(environ={})
    assert not render.PLACEHOLDER.search(text) and "$remote_addr" in text and "$upstream_addr" in text
    assert "server 127.0.0.1:3000 max_fails=3 fail_timeout=10s;" in text
    with pytest.raises(render.RenderError, match="ONEAPI_PROXY_SERVER"):
        render.render({"ONEAPI_PROXY_SERVER": "x:1"}, environ={})
    with pytest.raises(render.RenderError, match="bad value"):
        render.render({"ONEAPI_SERVER_NAME": "a; } server {"}, environ={})
    envsubst = shutil.which("envsubst")
    if envsubst:
        env = {**render.DEFAULTS, "ONEAPI_PROXY_SERVERS": "server 127.0.0.1:3000;",
               "ONEAPI_ADMIN_SERVERS": "server unix:/run/one-api/admin.sock;", "PATH": os.environ.get("PATH", "")}
        names = " ".join(f"${{{n}}}" for n in render.DEFAULTS)
        out = subprocess.run([envsubst, names], input=render.TEMPLATE.read_text(), env=env, text=True,
                             capture_output=True, check=True).stdout
        assert out == render.render({"ONEAPI_PROXY_SERVERS": "server 127.0.0.1:3000;",
                                     "ONEAPI_ADMIN_SERVERS": "server unix:/run/one-api/admin.sock;"}, environ={})


def test_container_healthcheck_passes_against_the_gateway(stack: Stack) -> None:
    """The Dockerfile's HEALTHCHECK (restated in docker-compose.yml) run against the live gateway, and a dead port."""
    command = dockerfile_healthcheck()
    assert command.startswith("python ")
    command = sys.executable + command[len("python"):]
    for port, expected in ((stack.port, 0), (free_port(), 1)):
        done = subprocess.run(["sh", "-c", command], env={**os.environ, "PORT": str(port)}, capture_output=True,
                              text=True, timeout=30)
        assert (done.returncode == 0) == (expected == 0), (port, done.returncode, done.stderr[-500:])
