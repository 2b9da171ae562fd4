"""`one-api` prepares the database in a one-shot child while admin_api and the workers import and wait: a database
it cannot reach still stops it at once with one clear line and exit code 1, and leaves no process behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def marked(mark: str) -> list[int]:
    """Processes whose environment carries `mark` (every child of the command inherits it)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark.encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_an_unreachable_database_stops_one_api_with_one_line(tmp_path: Path) -> None:
    mark = f"ONEAPI_TEST_MARK={uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SESSION_SECRET": "x", mark.split("=")[0]: mark.split("=")[1],
           "SQL_DSN": f"oneapi:oneapi@tcp(127.0.0.1:{closed_port()})/nowhere"}
    done = subprocess.run([sys.executable, "-m", "launcher.cli", "--port", str(closed_port())], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "one-api: database start-up failed:" in done.stderr and "Traceback" not in done.stderr
    assert marked(mark) == []      # admin_api and the worker, waiting for the database, were stopped
