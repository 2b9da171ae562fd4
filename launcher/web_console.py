"""Build the web console on start, from a source checkout, when it is missing or older than its sources."""

from __future__ import annotations

import collections
import logging
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger("one-api")
BUILD = Path(__file__).resolve().parent.parent / "scripts" / "build-web"
PREFIX = "scripts/build-web:"   # the script's own lines (what it does, before and after); npm's go to the tail


def ensure_web_console() -> None:
    """Run scripts/build-web (a no-op when web/dist is current); never stops the gateway from starting. The script's
    own lines reach the log as they come, so a first build (a minute of npm) says so before it starts."""
    if not BUILD.exists():                 # an installed package without the web/ sources
        return
    if shutil.which("npm") is None:
        log.warning("web console not built: install Node.js 20+ and npm, then run scripts/build-web")
        return
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=60)
    with subprocess.Popen([str(BUILD)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            if line.startswith(PREFIX):
                log.info("%s", line.rstrip())
    if proc.returncode != 0:
        log.error("scripts/build-web failed after %.1fs; /api works, / says how to build:\n%s",
                  time.monotonic() - started, "".join(tail)[-2000:])
