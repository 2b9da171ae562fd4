"""The lean upstream client against a real HTTP server: Debian's nginx as the upstream, over HTTP and
HTTPS. nginx ends a kept connection after `keepalive_requests` answers (with `Connection: close`) and
closes idle ones silently; it compresses on the fly into chunks; its access log names the connection
each request came on."""

from __future__ import annotations

import asyncio
import gzip
import os
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from multidict import CIMultiDict

from proxy.core.http1 import parse_target
from proxy.core.upstream_client import UpstreamClient
from tests.nginx.test_nginx import _binary, free_port, make_cert, stop, wait_port

CONF = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 256; }}
http {{
    log_format conn '$connection $request_method $uri $status';
    access_log {prefix}/logs/access.log conn;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    keepalive_requests 3;
    keepalive_timeout 30s;
    server {{
        listen 127.0.0.1:{http};
        listen 127.0.0.1:{https} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location = /v1/chat/completions {{ default_type application/json; return 200 '{{"ok":true}}'; }}
        location = /short {{ keepalive_timeout 1s; default_type text/plain; return 200 'short'; }}
        location /files/ {{
            alias {prefix}/files/;
            default_type application/octet-stream;
            gzip on; gzip_types application/octet-stream; gzip_min_length 1;
        }}
    }}
}}
"""


@dataclass
class Upstream:
    prefix: Path
    http: str
    https: str
    trusting: ssl.SSLContext
    blob: bytes

    def connections(self, uri: str) -> list[str]:
        """The connection number of each logged request to `uri`, in order."""
        log = (self.prefix / "logs" / "access.log").read_text().splitlines()
        return [line.split()[0] for line in log if line.split()[2] == uri]


async def logged(nginx: Upstream, uri: str, count: int) -> list[str]:
    """The connections of the requests to `uri` once `count` are in the access log (nginx writes each
    line after its answer went out, so a client can be a moment ahead of it)."""
    for _ in range(50):
        used = nginx.connections(uri)
        if len(used) >= count:
            return used
        await asyncio.sleep(0.05)
    return nginx.connections(uri)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    binary = _binary("nginx")
    prefix = tmp_path_factory.mktemp("nginx-upstream")
    for sub in ("logs", "tmp", "files"):
        (prefix / sub).mkdir()
    blob = os.urandom(1 << 20).hex().encode()   # 2 MiB that gzip can shrink
    (prefix / "files" / "blob.bin").write_bytes(blob)
    cert, key = make_cert(prefix)
    http, https = free_port(), free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(CONF.format(user="user root;" if os.geteuid() == 0 else "", prefix=prefix, http=http,
                                https=https, cert=cert, key=key))
    proc = subprocess.Popen([binary, "-p", str(prefix), "-e", str(prefix / "logs" / "startup.log"), "-c", str(conf),
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_port(https, proc, "nginx", time.monotonic() + 20)
        yield Upstream(prefix, f"http://127.0.0.1:{http}", f"https://127.0.0.1:{https}",
                       ssl.create_default_context(cafile=str(cert)), blob)
    finally:
        stop(proc)


@pytest.fixture
async def client(nginx: Upstream) -> AsyncIterator[UpstreamClient]:
    c = UpstreamClient(connect_timeout=5, ssl_context=nginx.trusting)
    yield c
    await c.close()


async def fetch(client: UpstreamClient, url: str, method: str = "POST",
                headers: dict[str, str] | None = None) -> tuple[int, CIMultiDict[str], bytes]:
    target = parse_target(url)
    assert target is not None
    body = b'{"model":"gpt-4o-mini"}' if method == "POST" else b""
    async with await client.request(method, target, CIMultiDict(headers or {}), body, 10) as response:
        return response.status, response.headers, await response.read()


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_kept_connections_follow_keepalive_requests(nginx: Upstream, client: UpstreamClient, scheme: str) -> None:
    base = nginx.http if scheme == "http" else nginx.https
    before = len(nginx.connections("/v1/chat/completions"))
    for _ in range(7):
        status, _, body = await fetch(client, base + "/v1/chat/completions")
        assert (status, body) == (200, b'{"ok":true}')
    used = (await logged(nginx, "/v1/chat/completions", before + 7))[before:]
    assert len(used) == 7
    assert [used.count(c) for c in dict.fromkeys(used)] == [3, 3, 1]   # nginx closes after 3 answers


async def test_a_connection_nginx_closed_while_idle_is_not_used(nginx: Upstream, client: UpstreamClient) -> None:
    assert (await fetch(client, nginx.http + "/short"))[2] == b"short"
    await asyncio.sleep(1.6)   # past keepalive_timeout 1s: nginx has closed it, saying nothing
    assert (await fetch(client, nginx.http + "/short"))[2] == b"short"   # a POST, so no second try was possible
    used = await logged(nginx, "/short", 2)
    assert len(set(used[-2:])) == 2


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_a_large_body_plain_and_compressed_into_chunks(nginx: Upstream, client: UpstreamClient,
                                                             scheme: str) -> None:
    base = nginx.http if scheme == "http" else nginx.https
    status, headers, body = await fetch(client, base + "/files/blob.bin", method="GET")
    assert status == 200 and headers["Content-Length"] == str(len(nginx.blob)) and body == nginx.blob
    status, headers, body = await fetch(client, base + "/files/blob.bin", method="GET",
                                        headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and "Content-Length" not in headers
    assert headers["Transfer-Encoding"] == "chunked"
    assert len(body) < len(nginx.blob) and gzip.decompress(body) == nginx.blob
