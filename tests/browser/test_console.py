"""The web console in headless Chromium against the real `one-api` command (SQLite) and a mock OpenAI upstream.

The browser part is tests/browser/console_flow.mjs (playwright-core driving Debian's /usr/bin/chromium);
this test builds the console when needed, starts the gateway and the upstream, runs the script and
checks the database agrees with what the browser saw. Screenshots land in tests/browser/screenshots/.
Without Chromium or Node.js it skips, except under CI, where a missing tool is a failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.browser.toolchain import REPO, SCREENSHOTS, browser_tools_or_skip
from tests.e2e.mock_upstream import MockOpenAI

FLOW = Path(__file__).with_name("console_flow.mjs")
FLOW_TIMEOUT = 150   # seconds; the whole flow takes about 30 s on the CI machine


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_ready(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200 and (await response.json())["success"]:
                        return
            except (aiohttp.ClientError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{url} never answered")
            await asyncio.sleep(0.2)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """`one-api --port <free>` in an empty directory: SQLite, root/123456, console served from web/dist."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "SESSION_SECRET": "browser-test"}
    for name in ("SQL_DSN", "LOG_SQL_DSN", "REDIS_CONN_STRING", "SYNC_FREQUENCY", "THEME"):
        env.pop(name, None)
    log = (tmp_path / "gateway.out").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "launcher.cli", "--port", str(port), "--log-dir", str(tmp_path / "logs"),
        cwd=tmp_path, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT)
    try:
        await _wait_ready(f"http://127.0.0.1:{port}/api/status", time.monotonic() + 60)
        yield f"http://127.0.0.1:{port}", tmp_path / "one-api.db"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 40)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        log.close()


async def test_console_end_to_end(gateway: tuple[str, Path], upstream: MockOpenAI) -> None:
    node, chromium = browser_tools_or_skip()
    base, db_path = gateway
    # a big enough answer that the balance moves at two decimals: (200k + 100k × 4) × 0.075 = 45 000 quota = $0.09
    upstream.script.usage = {"prompt_tokens": 200_000, "completion_tokens": 100_000, "total_tokens": 300_000}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        node, str(FLOW), cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "BASE_URL": base, "UPSTREAM_URL": upstream.url, "SHOTS_DIR": str(SCREENSHOTS),
             "CHROMIUM": chromium})
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), FLOW_TIMEOUT)
    except TimeoutError:
        proc.kill()
        out, _ = await proc.communicate()
        pytest.fail(f"browser flow did not finish in {FLOW_TIMEOUT} s:\n{out.decode(errors='replace')}")
    text = out.decode(errors="replace")
    print(text)
    assert proc.returncode == 0, f"browser flow failed (screenshots in {SCREENSHOTS}):\n{text}"
    print(f"browser flow: {time.monotonic() - started:.1f} s")

    # What the browser did is what the database holds.
    db = sqlite3.connect(db_path)
    assert db.execute("select name, status, response_time > 0 from channels").fetchall() == [("mock-openai", 1, 1)]
    assert db.execute("select count(*), sum(status = 3) from redemptions").fetchone() == (5, 1)
    (quota, used, requests), = db.execute("select quota, used_quota, request_count from users where username = 'alice'")
    assert (requests, used, quota) == (1, 45_000, 5_000_000 - 45_000)
    assert db.execute("select value from options where key = 'SystemName'").fetchone() == ("Acme Gateway",)
    chat_calls = [r for r in upstream.requests if r.path == "/v1/chat/completions"]
    assert len(chat_calls) >= 2   # the channel test, then the user's request
