"""What a running `one-api` wrote to its log folder, and waiting for a line to appear there."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path


def log_text(workdir: Path) -> str:
    """Every log file under `workdir/logs`, concatenated."""
    return "".join(p.read_text() for p in (workdir / "logs").glob("*.log*"))


async def wait_log(workdir: Path, pattern: str, count: int = 1, timeout: float = 60) -> list[str]:
    """The matches of `pattern` once there are `count` of them; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while len(found := re.findall(pattern, log_text(workdir))) < count:
        assert time.monotonic() < deadline, f"never logged {count}× {pattern!r}"
        await asyncio.sleep(0.1)
    return found
