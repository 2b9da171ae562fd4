"""Redis for tests: the shared test server's URL (skipped without it, failed in CI), and a redis-server of a
test's own that it may stop (the shared one is never stopped)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def shared_redis_url() -> str:
    url = os.environ.get("ONEAPI_TEST_REDIS_URL", "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("ONEAPI_TEST_REDIS_URL is not set")
        pytest.skip("ONEAPI_TEST_REDIS_URL not set")
    return url


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def own_redis_server(folder: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """(port, process) of a fresh redis-server on an ephemeral port, killed afterwards if still running."""
    port = _unused_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(folder)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
