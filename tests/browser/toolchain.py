"""Finding Node.js, Chromium and a current build of web/ for the browser tests; skip (or fail under CI) without them."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
SCREENSHOTS = Path(__file__).with_name("screenshots")


def _unavailable(reason: str) -> None:
    """Skip locally; under CI the browser tests must run, so a missing tool fails them."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs chromium and runs scripts/build-web)")
    pytest.skip(reason)


@functools.lru_cache(maxsize=1)
def _build() -> str | None:
    """Run scripts/build-web once per session (it returns at once when web/dist is current); the error, if any."""
    result = subprocess.run([str(REPO / "scripts" / "build-web")], capture_output=True, text=True, timeout=600)
    return None if result.returncode == 0 else (result.stdout + result.stderr)[-2000:]


def web_build_or_skip() -> str:
    """The node binary, with web/node_modules installed and web/dist built from the current sources."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        _unavailable("Node.js/npm not installed (needed to build and drive the web console)")
    problem = _build()
    if problem:
        pytest.fail(f"scripts/build-web failed:\n{problem}")
    return str(node)


def browser_tools_or_skip() -> tuple[str, str]:
    """(node, chromium) for the browser flow."""
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        _unavailable("Chromium not installed (Debian: apt-get install chromium chromium-driver)")
    node = web_build_or_skip()
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        pytest.fail("web/node_modules/playwright-core missing after scripts/build-web")
    return node, chromium
