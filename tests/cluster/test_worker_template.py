"""Real `one-api --workers 2`: the workers are forked from the template process (their modules and tokenizer
tables shared, not built again in each), stay the supervisor's children, are forked again when killed, outlive a
killed template (which is started again and forks the later restarts), and SIGTERM leaves no process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from store import Database
from tests.cluster.launcher_logs import log_text, wait_log
from tests.e2e.harness import add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
FORKED = r"started {} \(pid (\d+)\), forked from the template"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: [0] state, [1] parent, [3] session."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _kib(pid: int, field: str) -> int:
    line = next(x for x in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines() if x.startswith(field))
    return int(line.split()[1])


def _session(sid: int) -> list[int]:
    """The live (not zombie) processes of session `sid`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and int((fields := _stat(int(proc.name)))[3]) == sid and fields[0] != "Z":
                found.append(int(proc.name))
        except (OSError, IndexError):
            continue
    return found


async def _chat(url: str, key: str) -> int:
    async with aiohttp.ClientSession() as http, \
            http.post(url + "/v1/chat/completions", json=BODY, headers={"Authorization": key},
                      timeout=aiohttp.ClientTimeout(total=10)) as r:
        await r.read()
        return r.status


async def _served(url: str, key: str, timeout: float = 30) -> None:
    """Wait until a chat request is answered 200 (workers listening again after a restart)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await _chat(url, key) == 200:
                return
        except (aiohttp.ClientError, TimeoutError):
            pass
        assert time.monotonic() < deadline, "no 200 from the gateway"
        await asyncio.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_workers_forked_from_the_template_restart_and_stop(db: Database, upstream: MockOpenAI,
                                                                tmp_path: Path) -> None:
    acct = await add_account(db, quota=10**9, token_quota=10**8)
    await add_channel(db, base_url=upstream.url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "s", "SHUTDOWN_GRACE": "3",
           "SQLITE_PATH": str(db.url.url).split("///", 1)[1]}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port), "--workers", "2",
                             "--log-dir", str(tmp_path / "logs")], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        [template] = map(int, await wait_log(tmp_path, r"started template \(pid (\d+)\)"))
        workers = [int((await wait_log(tmp_path, FORKED.format(f"proxy-{n}")))[0]) for n in (0, 1)]
        for n in (0, 1):
            await wait_log(tmp_path, rf" proxy-{n} \[-\] startup\.serve: listening")
        await _served(url, acct.key)

        # forked, not spawned: a fork keeps the template's command line; each is the supervisor's own child
        # (reparented through the middle process); the template forked with one thread and no event loop
        for role in ("admin_api", "ledger"):      # they share the template's imports too
            [pid] = map(int, await wait_log(tmp_path, FORKED.format(role)))
            assert int(_stat(pid)[1]) == proc.pid and _alive(pid)
        for pid in workers:
            assert int(_stat(pid)[1]) == proc.pid
            assert Path(f"/proc/{pid}/cmdline").read_bytes() == Path(f"/proc/{template}/cmdline").read_bytes()
            assert Path(f"/proc/{pid}/comm").read_text().strip() in ("proxy-0", "proxy-1")
        assert len(os.listdir(f"/proc/{template}/task")) == 1
        # the imports and the encodings' tables are pages shared with the template and the other worker:
        # a spawned worker's PSS is about 87 % of its RSS, a forked one's well under 60 %
        for pid in workers:
            rss, pss = _kib(pid, "Rss:"), _kib(pid, "Pss:")
            assert pss < 0.6 * rss, (pid, rss, pss)

        # a killed worker is forked again from the template and serves
        os.kill(workers[0], signal.SIGKILL)
        [_, again] = map(int, await wait_log(tmp_path, FORKED.format("proxy-0"), count=2, timeout=15))
        await wait_log(tmp_path, r" proxy-0 \[-\] startup\.serve: listening", count=2, timeout=30)
        assert int(_stat(again)[1]) == proc.pid
        assert "proxy-0 exited with code -9" in log_text(tmp_path)
        await _served(url, acct.key)

        # a killed template is started again; the workers run on; the next worker restart comes from the new one
        os.kill(template, signal.SIGKILL)
        [_, template2] = map(int, await wait_log(tmp_path, r"started template \(pid (\d+)\)", count=2, timeout=15))
        assert _alive(again) and _alive(workers[1])
        await _served(url, acct.key)
        os.kill(workers[1], signal.SIGKILL)
        [_, again1] = map(int, await wait_log(tmp_path, FORKED.format("proxy-1"), count=2, timeout=30))
        await wait_log(tmp_path, r" proxy-1 \[-\] startup\.serve: listening", count=2, timeout=30)
        assert Path(f"/proc/{again1}/cmdline").read_bytes() == Path(f"/proc/{template2}/cmdline").read_bytes()
        assert int(_stat(again1)[1]) == proc.pid
        await _served(url, acct.key)
        assert proc.poll() is None

        # SIGTERM: everything stops within the grace (3 s) and a little, nothing of the tree is left
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = await asyncio.to_thread(proc.wait, 30)
        assert code == 0 and time.monotonic() - signalled < 10
        deadline = time.monotonic() + 5
        while left := _session(proc.pid):
            assert time.monotonic() < deadline, f"left behind: {left}"
            await asyncio.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


@pytest.mark.parametrize("backend", ["mysql"], indirect=True)
async def test_forked_workers_wait_for_the_database_and_serve_on_mysql(db: Database, upstream: MockOpenAI,
                                                                      tmp_path: Path) -> None:
    """Without a ledger owner the workers are forked before the database is ready and wait on the signal the
    template passed on to them."""
    from tests.conftest import backend_dsn

    acct = await add_account(db, quota=10**9, token_quota=10**8)
    await add_channel(db, base_url=upstream.url)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "s", "SQL_DSN": backend_dsn("mysql") or ""}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port), "--workers", "2",
                             "--log-dir", str(tmp_path / "logs")], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for n in (0, 1):
            await wait_log(tmp_path, FORKED.format(f"proxy-{n}"))
            await wait_log(tmp_path, rf" proxy-{n} \[-\] startup\.serve: listening")
        await _served(f"http://127.0.0.1:{port}", acct.key)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
