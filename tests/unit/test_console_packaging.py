"""A plain (non-editable) install serves the web console: setup.py packages web/dist as admin_api/console, and
admin_api finds it there (issue #18 item 3). Built from a copy of the sources, offline, without Node.js."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("admin_api", "proxy", "store", "rules", "settings", "startup", "launcher")


def _copy_sources(to: Path) -> None:
    for name in ("setup.py", "pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy2(REPO / name, to / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, to / package, ignore=shutil.ignore_patterns("__pycache__", "console"))


def _build(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", "out"], cwd=src,
                          capture_output=True, text=True, timeout=120)


def _console_dist(site: Path) -> str:
    """Where the installed admin_api serves the console from (imported from `site` only, not the checkout)."""
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = "from admin_api.web_assets import console_dist; print(console_dist())"
    return subprocess.run([sys.executable, "-c", code], cwd=site, env=env, capture_output=True, text=True,
                          timeout=60, check=True).stdout.strip()


def test_the_built_package_carries_web_dist_and_serves_it(tmp_path: Path) -> None:
    _copy_sources(tmp_path)
    result = _build(tmp_path)   # no web/dist yet: a package without a console, and the build says so
    assert result.returncode == 0, result.stderr
    assert "web/dist is not built, so this package has no web console" in result.stdout
    assert not (tmp_path / "out" / "admin_api" / "console").exists()

    (tmp_path / "web" / "dist" / "assets").mkdir(parents=True)
    (tmp_path / "web" / "dist" / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "web" / "dist" / "assets" / "app.js").write_text("console.log(1)")
    result = _build(tmp_path)
    assert result.returncode == 0, result.stderr
    console = tmp_path / "out" / "admin_api" / "console"
    assert (console / "index.html").read_text().endswith("<title>console</title>")
    assert (console / "assets" / "app.js").is_file()
    assert _console_dist(tmp_path / "out") == str(console)
