"""Refusals remembered in Redis (#17) on real databases and a real Redis: two nodes (two engines on one
database) admit exactly the limit, later refusals come from Redis, a finish clears what it frees, and a Redis
that errors or dies sends every request to the database (never "unlimited"), skipped a few seconds."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.limits import DatabaseWindows, LimitExceeded, RedisRefusals, Ticket
from proxy.limits.policy import Limit, Scope
from proxy.limits.redis_refusals import SKIP_S, key_of
from store import Database
from store.redis_client import connect_redis
from tests.redis_helpers import own_redis_server, shared_redis_url


def _redis_url() -> str:
    return shared_redis_url()


def _client(url: str) -> Any:
    """As the runtime's, with a timeout a loaded test machine cannot exceed (a timeout would skip Redis: the
    limits stay exact, but the refusals these tests expect from Redis would come from the database)."""
    return connect_redis(url, timeout=10, retry=False)


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def redis() -> AsyncIterator[Any]:
    client = _client(_redis_url())
    yield client
    await client.aclose()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own (the shared one is never stopped)."""
    with own_redis_server(tmp_path) as (port, proc):
        yield f"redis://127.0.0.1:{port}/0", proc


def _scope(limit: Limit) -> Scope:
    return Scope(f"t:test-{uuid.uuid4().hex}", "token", limit)   # a fresh window and key per test


async def _try(windows: RedisRefusals, scopes: list[Scope], tokens: int = 0) -> Ticket | LimitExceeded:
    try:
        return await windows.acquire(scopes, tokens)
    except LimitExceeded as e:
        return e


def _sources(results: list[Ticket | LimitExceeded]) -> Counter[str]:
    return Counter(r.source if isinstance(r, LimitExceeded) else "admitted" for r in results)


@pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)
async def test_two_nodes_admit_exactly_the_limit_and_refuse_from_redis(db: Database, redis: Any) -> None:
    other = Database(db.url)
    second = _client(_redis_url())
    nodes = [RedisRefusals(DatabaseWindows(db), redis), RedisRefusals(DatabaseWindows(other), second)]
    scopes = [_scope(Limit(rpm=10))]
    try:
        results = await asyncio.gather(*(_try(nodes[i % 2], scopes) for i in range(100)))
        assert _sources(results)["admitted"] == 10
        for r in results:
            if isinstance(r, LimitExceeded):
                assert r.headers["x-ratelimit-limit-requests"] == "10"
                assert r.headers["x-ratelimit-remaining-requests"] == "0" and 1 <= r.refusal.retry_after <= 60
        await asyncio.gather(nodes[0].flush(), nodes[1].flush())
        assert 0 < await redis.pttl(key_of(scopes[0].key)) <= 60_000     # expires when the oldest leaves
        later = await asyncio.gather(*(_try(nodes[i % 2], scopes) for i in range(10)))
        assert _sources(later) == {"redis": 10}                          # the database not asked again
        first = next(r for r in results if isinstance(r, LimitExceeded) and r.source == "database")
        same = first.refusal.message().split(" Please")[0]              # the wait counts down between the two
        assert isinstance(later[0], LimitExceeded) and later[0].refusal.message().startswith(same)
    finally:
        await asyncio.gather(nodes[0].close(), nodes[1].close())
        await other.dispose()


@pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)
async def test_redis_killed_mid_burst_still_exactly_the_limit(db: Database,
                                                            own_redis: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, proc = own_redis
    other = Database(db.url)
    nodes = [RedisRefusals(DatabaseWindows(db), _client(url)), RedisRefusals(DatabaseWindows(other), _client(url))]
    scopes = [_scope(Limit(rpm=10))]
    try:
        results: list[Ticket | LimitExceeded] = []
        for i, answer in enumerate(asyncio.as_completed([_try(nodes[i % 2], scopes) for i in range(100)])):
            results.append(await answer)
            if i == 20:
                proc.kill()                                # Redis dies with 79 requests still under way
        proc.wait(timeout=10)
        later = await asyncio.gather(*(_try(nodes[i % 2], scopes) for i in range(10)))
        assert _sources(results + later)["admitted"] == 10
        assert _sources(later) == {"database": 10}          # skipped or failing: the database refuses
        assert not nodes[0].usable() and not nodes[1].usable()
    finally:
        await asyncio.gather(nodes[0].close(), nodes[1].close())
        await other.dispose()


@pytest.mark.parametrize("backend", ["mysql", "postgres"], indirect=True)
async def test_a_finish_frees_a_parallel_slot_at_once(db: Database, redis: Any) -> None:
    node = RedisRefusals(DatabaseWindows(db), redis)
    scopes = [_scope(Limit(parallel=3))]
    try:
        held = [await node.acquire(scopes, 0) for _ in range(3)]
        fourth = await _try(node, scopes)
        assert isinstance(fourth, LimitExceeded) and fourth.source == "database" and fourth.refusal.kind == "parallel"
        await node.flush()
        fifth = await _try(node, scopes)
        assert isinstance(fifth, LimitExceeded) and fifth.source == "redis"
        assert fifth.refusal.message() == fourth.refusal.message()
        node.finish(held[0], 0)
        await node.flush()
        assert await redis.exists(key_of(scopes[0].key)) == 0          # the finish deleted the refusal
        assert isinstance(await _try(node, scopes), Ticket)              # admitted at once, not after the hold
    finally:
        await node.close()


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_tokens_given_back_clear_the_refusal(db: Database, redis: Any) -> None:
    node = RedisRefusals(DatabaseWindows(db), redis)
    scopes = [_scope(Limit(tpm=1000))]
    try:
        big = await node.acquire(scopes, 900)
        refused = await _try(node, scopes, 200)
        assert isinstance(refused, LimitExceeded) and refused.source == "database"
        await node.flush()
        again = await _try(node, scopes, 200)
        assert isinstance(again, LimitExceeded) and again.source == "redis" and again.refusal.kind == "tokens"
        small = await node.acquire(scopes, 100)                          # still fits: the database admits it
        node.finish(small, 100)                                          # no tokens given back: the key stays
        await node.flush()
        assert await redis.exists(key_of(scopes[0].key)) == 1
        node.finish(big, 50)                                             # 850 given back
        await node.flush()
        assert await redis.exists(key_of(scopes[0].key)) == 0
        assert isinstance(await _try(node, scopes, 200), Ticket)
    finally:
        await node.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_redis_error_falls_back_to_the_database_and_skips_redis_a_while(db: Database, redis: Any) -> None:
    now = [100.0]
    dead = _client(f"redis://127.0.0.1:{_unused_port()}/0")
    node = RedisRefusals(DatabaseWindows(db), dead, monotonic=lambda: now[0])
    scopes = [_scope(Limit(rpm=10))]
    try:
        results = [await _try(node, scopes) for _ in range(12)]
        assert _sources(results) == {"admitted": 10, "database": 2}      # never unlimited
        assert node.skip_until == now[0] + SKIP_S
        # Redis works again and remembers a refusal for a scope whose window is empty
        fresh = [_scope(Limit(rpm=10))]
        node.redis = redis
        value = (b'{"u": %d, "w": {"%s": [10, 0, 0, %d]}}'
                 % (int(time.time() * 1000) + 30_000, fresh[0].key.encode(), int(time.time() * 1000) - 30_000))
        await redis.set(key_of(fresh[0].key), value, px=30_000)
        now[0] += SKIP_S - 0.1
        assert isinstance(await _try(node, fresh), Ticket)               # still skipped: Redis not read
        now[0] += 0.1
        tried = await _try(node, fresh)
        assert isinstance(tried, LimitExceeded) and tried.source == "redis"   # tried again after the pause
    finally:
        await node.close()
        await dead.aclose()
