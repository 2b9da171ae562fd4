"""Rate limits across real `one-api` processes (#17): 100 concurrent requests on a 10-RPM token through two
workers on SQLite and two nodes on MariaDB and PostgreSQL, with Redis (later refusals served from it), with
Redis killed mid-burst, and without Redis: exactly 10 served in the window, the rest 429 with the headers."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update

from store import Database
from store.models import Token
from tests.cluster.test_nodes import Node, _seed_root
from tests.conftest import backend_dsn
from tests.e2e.harness import add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI
from tests.redis_helpers import own_redis_server

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own on an ephemeral port (the shared one is never stopped)."""
    with own_redis_server(tmp_path) as found:
        yield found


async def _burst(urls: list[str], key: str, n: int) -> list[tuple[int, dict[str, str]]]:
    async def post(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str]]:
        async with http.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": key}) as r:
            await r.read()
            return r.status, dict(r.headers)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
        return await asyncio.gather(*(post(http, urls[i % len(urls)]) for i in range(n)))


async def _limited_account(db: Database, upstream: MockOpenAI) -> tuple[str, int]:
    """The key of a 10-RPM token, and the token's id."""
    await _seed_root(db)
    acct = await add_account(db, quota=10**12, token_quota=10**12)
    async with db.session() as s, s.begin():
        await s.execute(update(Token).where(Token.id == acct.token_id).values(rpm_limit=10))
    await add_channel(db, base_url=upstream.url)
    return acct.key, acct.token_id


async def _refusals(urls: list[str], source: str) -> float:
    """oneapi_rate_limit_refusals_total{source=...} summed over the nodes' /metrics."""
    total = 0.0
    async with aiohttp.ClientSession() as http:
        for url in urls:
            async with http.get(url + "/metrics") as r:
                text = await r.text()
            found = re.search(r'^oneapi_rate_limit_refusals_total\{source="' + source + r'"\} (\S+)$', text, re.M)
            total += float(found.group(1)) if found else 0.0
    return total


def _exactly_ten(answers: list[tuple[int, dict[str, str]]]) -> None:
    assert Counter(status for status, _ in answers) == {200: 10, 429: len(answers) - 10}
    for status, headers in answers:
        assert headers["x-ratelimit-limit-requests"] == "10"
        if status == 429:
            assert headers["x-ratelimit-remaining-requests"] == "0" and 1 <= int(headers["Retry-After"]) <= 60


async def test_two_workers_on_sqlite(db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    key, _ = await _limited_account(db, upstream)
    node = Node(tmp_path, {"SQLITE_PATH": str(db.url.url).split("///", 1)[1]}, "--workers", "2").wait()
    try:
        answers = await _burst([node.url], key, 100)
    finally:
        assert node.stop() == 0
    _exactly_ten(answers)
    assert len(upstream.requests) == 10


def _nodes(tmp_path: Path, backend: str, redis_port: int) -> tuple[Node, Node]:
    env = {"SQL_DSN": backend_dsn(backend) or "", "REDIS_CONN_STRING": f"redis://127.0.0.1:{redis_port}/0",
           "SYNC_FREQUENCY": "60"}
    a, b = Node(tmp_path / "a", env), Node(tmp_path / "b", {**env, "NODE_TYPE": "slave"})   # both start at once
    return a.wait(), b.wait()


@pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)
async def test_two_nodes_with_redis_refuse_from_redis(db: Database, backend: str, upstream: MockOpenAI,
                                                      tmp_path: Path,
                                                      own_redis: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, _ = own_redis
    key, token_id = await _limited_account(db, upstream)
    a, b = _nodes(tmp_path, backend, port)
    try:
        answers = await _burst([a.url, b.url], key, 100)
        _exactly_ten(answers)
        # later requests are refused from Redis (a Redis timeout on a loaded machine pauses it a few seconds)
        deadline = time.monotonic() + 30
        while await _refusals([a.url, b.url], "redis") == 0:
            assert time.monotonic() < deadline, "no refusal was served from Redis"
            later = await _burst([a.url, b.url], key, 2)
            _exactly_ten(answers + later)
        assert await _refusals([a.url, b.url], "database") >= 1
        # the database's refusal is remembered until the oldest request leaves the window
        ttl = subprocess.run(["redis-cli", "-p", str(port), "pttl", f"rl:full:t:{token_id}"], capture_output=True)
        assert 0 < int(ttl.stdout) <= 60_000
    finally:
        assert a.stop() == 0 and b.stop() == 0
    assert len(upstream.requests) == 10


@pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)
async def test_two_nodes_with_redis_killed_mid_burst(db: Database, backend: str, upstream: MockOpenAI,
                                                     tmp_path: Path,
                                                     own_redis: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, redis = own_redis
    key, _ = await _limited_account(db, upstream)
    a, b = _nodes(tmp_path, backend, port)
    try:
        answers: list[tuple[int, dict[str, str]]] = []

        async def post(http: aiohttp.ClientSession, url: str) -> None:
            async with http.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": key}) as r:
                await r.read()
                answers.append((r.status, dict(r.headers)))
                if len(answers) == 20:
                    redis.kill()                          # Redis dies with 80 requests still under way
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as http:
            await asyncio.gather(*(post(http, (a.url, b.url)[i % 2]) for i in range(100)))
        redis.wait(timeout=10)
        later = await _burst([a.url, b.url], key, 10)     # still one window: never "unlimited" without Redis
        refused = [await _refusals([a.url, b.url], source) for source in ("redis", "database")]
        assert sum(refused) == 100 and refused[1] >= 10   # every refusal counted once; after the kill, the database
    finally:
        assert a.stop() == 0 and b.stop() == 0
    _exactly_ten(answers + later)
    assert len(upstream.requests) == 10


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_two_nodes_without_redis(db: Database, backend: str, upstream: MockOpenAI, tmp_path: Path) -> None:
    key, _ = await _limited_account(db, upstream)
    env = {"SQL_DSN": backend_dsn(backend) or ""}
    a = Node(tmp_path / "a", env).wait()
    b = Node(tmp_path / "b", {**env, "NODE_TYPE": "slave"}).wait()
    try:
        answers = await _burst([a.url, b.url], key, 100)
    finally:
        assert a.stop() == 0 and b.stop() == 0
    _exactly_ten(answers)
