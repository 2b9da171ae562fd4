"""Build the web console on start, from a source checkout, when it is missing or older than its sources.

The first build installs the npm packages and runs vite (a minute or two on a small machine): the operator is
told that it is building before it starts and how long it took after, so a quiet terminal is never a mystery.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger("one-api")
BUILD = Path(__file__).resolve().parent.parent / "scripts" / "build-web"
UP_TO_DATE = 0   # `scripts/build-web --check`: web/dist is current (3: a build is needed)


def ensure_web_console(build: Path = BUILD) -> None:
    """Run scripts/build-web when web/dist is missing or stale; never stops the gateway from starting."""
    if not build.exists():                 # an installed package: the console shipped in it, or not at all
        return
    if shutil.which("npm") is None:
        log.warning("web console not built: install Node.js 20+ and npm, then run scripts/build-web "
                    "(the API works without it)")
        return
    if subprocess.run([str(build), "--check"], capture_output=True).returncode == UP_TO_DATE:
        return
    log.info("web console: building web/dist with scripts/build-web (the first build installs its npm "
                "packages: a minute or two; later ones only when web/ changed)...")
    started = time.monotonic()
    result = subprocess.run([str(build)], capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        log.error("scripts/build-web failed after %.1f s; /api works, / says how to build:\n%s", seconds,
                  result.stderr[-2000:])
        return
    log.info("web console: built in %.1f s", seconds)
