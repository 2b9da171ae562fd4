"""Build the web console on start, from a source checkout, when it is missing or older than its sources."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger("one-api")
BUILD = Path(__file__).resolve().parent.parent / "scripts" / "build-web"


def ensure_web_console() -> None:
    """Run scripts/build-web (a no-op when web/dist is current); never stops the gateway from starting."""
    if not BUILD.exists():                 # an installed package without the web/ sources
        return
    if shutil.which("npm") is None:
        log.warning("web console not built: install Node.js 20+ and npm, then run scripts/build-web")
        return
    result = subprocess.run([str(BUILD)], capture_output=True, text=True)
    if result.returncode != 0:
        log.error("scripts/build-web failed; /api works, / says how to build:\n%s", result.stderr[-2000:])
