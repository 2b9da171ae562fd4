"""scripts/test says what to install when the test extra is missing, before it starts any service (issue #18
item 3). Run on a copy of the scripts whose `services` is a stub that only records being called."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _repo_copy(to: Path) -> Path:
    (to / "scripts").mkdir(parents=True)
    for name in ("test", "check-test-deps"):
        shutil.copy2(REPO / "scripts" / name, to / "scripts" / name)
    shutil.copy2(REPO / "pyproject.toml", to / "pyproject.toml")
    stub = to / "scripts" / "services"
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> {to / 'services-called'}\nexit 1\n")
    stub.chmod(0o755)
    return to


def test_without_the_test_extra_it_says_what_to_install_and_starts_nothing(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path / "repo")
    venv.create(tmp_path / "bare", with_pip=False)   # an interpreter with nothing installed
    python = tmp_path / "bare" / "bin" / "python"
    result = subprocess.run([str(repo / "scripts" / "test")], cwd=repo, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHON": str(python), "PYTHONPATH": ""})
    assert result.returncode == 2, result.stderr
    assert "pytest" in result.stderr and "-m pip install -e '.[test]'" in result.stderr
    assert not (repo / "services-called").exists()


def test_with_everything_installed_the_check_passes() -> None:
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "check-test-deps")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == ""
