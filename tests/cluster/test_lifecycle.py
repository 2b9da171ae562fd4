"""The real `one-api` process tree under a stop and under dying workers: SIGTERM ends cut streams with an
error event within SHUTDOWN_GRACE; a SIGKILLed worker is started again while requests go on; a worker that
dies at every start stops the gateway after a few tries, saying why."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from launcher.restarts import MAX_QUICK_DEATHS
from store import Database
from tests.cluster.launcher_logs import log_text, wait_log
from tests.cluster.test_nodes import BODY, Node, _seed_root
from tests.e2e.harness import add_account, add_channel, balances
from tests.e2e.mock_upstream import MockOpenAI


def _sqlite_env(db: Database, **extra: str) -> dict[str, str]:
    return {"SQLITE_PATH": str(db.url.url).split("///", 1)[1], **extra}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_sigterm_cuts_a_stream_after_the_grace_with_an_error_event(db: Database, upstream: MockOpenAI,
                                                                        tmp_path: Path) -> None:
    """A stream still running SHUTDOWN_GRACE (3 s) after SIGTERM gets `data: {"error": ...}` and its end,
    the whole gateway is gone in about the grace (aiohttp alone waited it twice, then cut the stream mute),
    and the delivered part is settled."""
    await _seed_root(db)
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    cid = await add_channel(db, base_url=upstream.url)
    upstream.script.content = "word " * 100
    upstream.script.chunks = 100
    upstream.script.chunk_delay = 0.15       # a 15 s stream
    node = Node(tmp_path, _sqlite_env(db, SHUTDOWN_GRACE="3")).wait()
    try:
        async with aiohttp.ClientSession() as http, \
                http.post(node.url + "/v1/chat/completions", json={**BODY, "stream": True},
                          headers={"Authorization": acct.key}) as r:
                assert r.status == 200
                first = await r.content.readuntil(b"\n\n")
                node.proc.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                rest = await asyncio.wait_for(r.content.read(), 10)
                ended = time.monotonic() - signalled
        exit_code = await asyncio.to_thread(node.proc.wait, 30)
        stopped = time.monotonic() - signalled
    finally:
        node.stop(signal.SIGKILL)
    assert first.startswith(b"data: ")
    events = [e for e in rest.split(b"\n\n") if e]
    assert b'"shutting_down"' in events[-1] and events[-1].startswith(b'data: {"error"'), events[-1]
    assert 2.8 < ended < 4.5, ended
    assert exit_code == 0 and stopped < 5.0, stopped            # about the grace, not twice it (6 s)
    b = await balances(db, acct, cid)
    assert b["token_used"] > 0 and b["token_used"] == b["channel_used"]   # what was delivered is paid


async def _count_outcomes(url: str, key: str, stop: asyncio.Event) -> list[tuple[float, bool]]:
    """Requests one after another, each on a new connection, until `stop`: (time, served?) for each."""
    outcomes: list[tuple[float, bool]] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while not stop.is_set():
            try:
                async with http.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": key},
                                     timeout=aiohttp.ClientTimeout(total=5)) as r:
                    await r.read()
                    outcomes.append((time.monotonic(), r.status == 200))
            except (TimeoutError, aiohttp.ClientError):
                outcomes.append((time.monotonic(), False))
                await asyncio.sleep(0.02)
    return outcomes


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_killed_worker_is_started_again_and_requests_keep_being_served(
        db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    await _seed_root(db)
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    await add_channel(db, base_url=upstream.url)
    node = Node(tmp_path, _sqlite_env(db), "--workers", "2").wait()
    try:
        [pid] = await wait_log(tmp_path, r"started proxy-0 \(pid (\d+)\)")
        for n in (0, 1):     # both up before the kill (else proxy-0's second "listening" would be its first)
            await wait_log(tmp_path, rf" proxy-{n} \[-\] startup\.serve: listening")
        stop = asyncio.Event()
        load = asyncio.create_task(_count_outcomes(node.url, acct.key, stop))
        await asyncio.sleep(0.5)
        os.kill(int(pid), signal.SIGKILL)
        killed = time.monotonic()
        await wait_log(tmp_path, r"started proxy-0 \(pid \d+\)", count=2, timeout=10)
        await wait_log(tmp_path, r" proxy-0 \[-\] startup\.serve: listening", count=2, timeout=30)
        await asyncio.sleep(0.5)
        stop.set()
        outcomes = await load
        assert node.proc.poll() is None                      # the gateway is still up
    finally:
        assert node.stop() == 0
    after = [served for at, served in outcomes if at > killed]
    assert len(after) > 10 and sum(not s for s in after) <= 1, after   # at most the one request in flight in it
    assert "proxy-0 exited with code -9" in log_text(tmp_path)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_worker_that_dies_at_every_start_stops_the_gateway(db: Database, tmp_path: Path) -> None:
    """Its port is taken: the worker can never listen. After a few tries the gateway exits 1 and says why."""
    blocker = socket.socket()
    blocker.bind(("0.0.0.0", 0))
    blocker.listen()
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "s", **_sqlite_env(db)}
    try:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "launcher.cli", "--port", str(blocker.getsockname()[1]), "--log-dir",
            str(tmp_path / "logs"), cwd=tmp_path, env=env, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            code = await asyncio.wait_for(proc.wait(), 90)
        finally:
            if proc.returncode is None:
                proc.kill()
        took = time.monotonic() - started
    finally:
        blocker.close()
    text = log_text(tmp_path)
    assert code == 1
    assert len(re.findall(r"started proxy-0 \(pid", text)) == MAX_QUICK_DEATHS
    assert f"proxy-0 exited with code 1, {MAX_QUICK_DEATHS} times in a row soon after starting: a crash loop; " \
           "stopping" in text
    assert took < 60


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_killed_admin_api_is_started_again(db: Database, tmp_path: Path) -> None:
    await _seed_root(db)
    node = Node(tmp_path, _sqlite_env(db)).wait()
    try:
        [pid] = await wait_log(tmp_path, r"started admin_api \(pid (\d+)\)")
        os.kill(int(pid), signal.SIGKILL)
        killed = time.monotonic()
        await wait_log(tmp_path, r"started admin_api \(pid \d+\)", count=2, timeout=10)
        async with aiohttp.ClientSession() as http:
            while True:
                assert time.monotonic() - killed < 20, "/api/status never came back"
                try:
                    async with http.get(node.url + "/api/status") as r:
                        if r.status == 200 and (await r.json())["success"]:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        assert node.proc.poll() is None
    finally:
        assert node.stop() == 0
