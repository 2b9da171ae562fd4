"""Concurrency slots across a SIGTERM'd worker (#17): a token with max_parallel_requests=3 has three streams
running when the worker processes serving them are stopped; once the supervisor has started them again, exactly
three new streams are admitted and the fourth refused. Slots freed none → everything refused; freed twice
(by the request's own finish and again by its lost connection or lease) → a fourth gets in.

On SQLite with two workers the ledger owner holds the windows (a worker's lost connection frees what it
still held); on MariaDB every worker holds its requests' events in `rate_events`."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import update

from store import Database
from store.models import Token
from tests.cluster.launcher_logs import log_text, wait_log
from tests.cluster.test_nodes import BODY, Node, _seed_root
from tests.conftest import backend_dsn
from tests.e2e.harness import add_account, add_channel
from tests.e2e.held_streams import HeldStreams

DEADLINE = 30.0


@pytest.fixture
async def held() -> AsyncIterator[HeldStreams]:
    async with HeldStreams(wait=60) as upstream:
        yield upstream


async def _open(http: aiohttp.ClientSession, url: str, key: str) -> aiohttp.ClientResponse:
    r = await http.post(url + "/v1/chat/completions", json={**BODY, "stream": True}, headers={"Authorization": key})
    if r.status == 200:
        await asyncio.wait_for(r.content.readuntil(b"\n\n"), DEADLINE)   # the first chunk: the stream runs
    return r


async def _four_streams(http: aiohttp.ClientSession, url: str, key: str) -> list[aiohttp.ClientResponse]:
    """Three streams held open, then a fourth (each on its own connection, so both workers serve some)."""
    return [await _open(http, url, key) for _ in range(4)]


@pytest.mark.parametrize("backend", ["sqlite", "mysql"], indirect=True)
async def test_a_sigtermed_worker_frees_its_streams_slots_exactly_once(db: Database, backend: str, held: HeldStreams,
                                                                       tmp_path: Path) -> None:
    await _seed_root(db)
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    async with db.session() as s, s.begin():
        await s.execute(update(Token).where(Token.id == acct.token_id).values(max_parallel_requests=3))
    await add_channel(db, base_url=held.url)
    env = {"SQLITE_PATH": str(db.url.url).split("///", 1)[1]} if backend == "sqlite" else \
        {"SQL_DSN": backend_dsn(backend) or ""}
    node = Node(tmp_path, {**env, "SHUTDOWN_GRACE": "1"}, "--workers", "2").wait()
    connector = aiohttp.TCPConnector(force_close=True)
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            for n in (0, 1):
                await wait_log(tmp_path, rf" proxy-{n} \[-\] startup\.serve: listening", timeout=DEADLINE)
            pids = [int(p) for p in await wait_log(tmp_path, r"started proxy-\d \(pid (\d+)\)", 2)]
            first = await _four_streams(http, node.url, acct.key)
            assert [r.status for r in first] == [200, 200, 200, 429]
            for pid in pids:                        # the workers serving the three streams stop
                os.kill(pid, signal.SIGTERM)
            for r in first[:3]:                     # cut after SHUTDOWN_GRACE with an error event
                rest = await asyncio.wait_for(r.content.read(), DEADLINE)
                assert b'"shutting_down"' in rest
                r.close()
            for n in (0, 1):                        # the supervisor starts them again
                await wait_log(tmp_path, rf" proxy-{n} \[-\] startup\.serve: listening", 2, timeout=DEADLINE)
            second = await _four_streams(http, node.url, acct.key)
            assert [r.status for r in second] == [200, 200, 200, 429], [r.status for r in second]
            assert b"concurrent requests on token: limit 3" in await second[3].read()
            held.release.set()
            for r in second[:3]:
                assert (await asyncio.wait_for(r.content.read(), DEADLINE)).endswith(b"data: [DONE]\n\n")
                r.close()
        assert node.proc.poll() is None and "proxy-0 exited with code 0" in log_text(tmp_path)
    finally:
        assert node.stop() == 0
