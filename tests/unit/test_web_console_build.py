"""The first start's console build says that it is building and how long it took (issue #18 item 3)."""

from __future__ import annotations

import logging
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from launcher import web_console


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def npm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/npm" if name == "npm" else None)


def test_a_needed_build_is_announced_then_timed(tmp_path: Path, npm: None, caplog: pytest.LogCaptureFixture) -> None:
    runs = tmp_path / "runs"
    build = _script(tmp_path / "build-web", f'[ "$1" = --check ] && exit 3\necho built >> {runs}\n')
    with caplog.at_level(logging.INFO, logger="one-api"):
        web_console.ensure_web_console(build)
    messages = [r.getMessage() for r in caplog.records]
    assert runs.read_text() == "built\n"
    assert any(m.startswith("web console: building web/dist") for m in messages), messages
    assert any(m.startswith("web console: built in ") and m.endswith(" s") for m in messages), messages


def test_a_current_build_says_nothing_and_runs_nothing(tmp_path: Path, npm: None,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    runs = tmp_path / "runs"
    build = _script(tmp_path / "build-web", f'[ "$1" = --check ] && exit 0\necho built >> {runs}\n')
    with caplog.at_level(logging.INFO, logger="one-api"):
        web_console.ensure_web_console(build)
    assert not runs.exists() and not caplog.records


def test_a_failed_build_says_how_long_and_why(tmp_path: Path, npm: None, caplog: pytest.LogCaptureFixture) -> None:
    build = _script(tmp_path / "build-web", '[ "$1" = --check ] && exit 3\necho "vite: syntax error" >&2\nexit 1\n')
    with caplog.at_level(logging.INFO, logger="one-api"):
        web_console.ensure_web_console(build)
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "failed after" in failure.getMessage() and "vite: syntax error" in failure.getMessage()


def test_the_real_script_only_checks() -> None:
    """scripts/build-web --check answers 0 (current) or 3 (a build is needed) without building anything."""
    if shutil.which("npm") is None:
        pytest.skip("npm not installed")
    result = subprocess.run([str(web_console.BUILD), "--check"], capture_output=True, text=True, timeout=30)
    assert result.returncode in (0, 3) and "built" not in result.stdout
