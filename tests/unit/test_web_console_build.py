"""The console build at start says what it does as it goes (issue #19: the first start's build is never silent)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from launcher import web_console


def script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "build-web"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(autouse=True)
def npm_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_console.shutil, "which", lambda name: "/usr/bin/" + name)


def test_the_scripts_own_lines_reach_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(web_console, "BUILD", script(tmp_path, 'echo "scripts/build-web: building web/dist (npm)"\n'
                                                                'echo "npm noise"\necho "scripts/build-web: built"\n'))
    with caplog.at_level(logging.INFO, logger="one-api"):
        web_console.ensure_web_console()
    assert [r.getMessage() for r in caplog.records] == ["scripts/build-web: building web/dist (npm)",
                                                        "scripts/build-web: built"]


def test_a_failed_build_logs_its_output_and_start_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(web_console, "BUILD", script(tmp_path, 'echo "vite: syntax error in App.tsx" >&2\nexit 3\n'))
    with caplog.at_level(logging.INFO, logger="one-api"):
        web_console.ensure_web_console()
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "vite: syntax error in App.tsx" in record.getMessage()
