"""The `one-api` command on a fresh directory: SQLite, root account, /api/status through the proxy port, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, deadline: float) -> dict:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return json.loads(resp.read())
        except Exception as e:   # not up yet
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{url} never answered: {last}")


def descendants(pid: int) -> dict[int, bytes]:
    """The command lines of `pid`'s descendants, from /proc."""
    parents: dict[int, int] = {}
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit():
                parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child in [p for p, pp in parents.items() if pp == parent]:
            try:
                found[child] = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            todo.append(child)
    return found


def test_one_api_command_starts_and_stops(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "test-secret"}
    env.pop("SQL_DSN", None)
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port), "--log-dir", str(tmp_path / "logs")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = wait_for(f"http://127.0.0.1:{port}/api/status", time.monotonic() + 60)
        assert status["success"] is True
        assert status["data"]["system_name"] == "One API" and status["data"]["quota_per_unit"] == 500000
        # the supervisor, admin_api and one worker (the database preparation has exited): no resource tracker
        tree = descendants(proc.pid)
        assert len(tree) == 2 and not [c for c in tree.values() if b"resource_tracker" in c], tree
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/models"), timeout=5) as r:
            raise AssertionError(f"/v1/models without a key must fail, got {r.status}")
    except urllib.error.HTTPError as e:
        assert e.code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    db = sqlite3.connect(tmp_path / "one-api.db")
    [(username, role, quota)] = db.execute("select username, role, quota from users").fetchall()
    assert (username, role, quota) == ("root", 100, 500_000_000_000_000)
    assert list((tmp_path / "logs").glob("oneapi-*.log"))
