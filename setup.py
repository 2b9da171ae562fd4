"""Packaging hook: a wheel ships the built web console, so a plain `pip install .` serves it too.

web/dist (made by scripts/build-web) is copied into the wheel as admin_api/console; no Node.js is needed at
install time. Without web/dist the wheel has no console, and the build says so (the API works regardless).
An editable install (`pip install -e .`) serves web/dist from the checkout and copies nothing.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

WEB_DIST = Path(__file__).resolve().parent / "web" / "dist"
CONSOLE = ("admin_api", "console")   # where admin_api.web_assets looks for a packaged console


class BuildWithConsole(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib, *CONSOLE)
        shutil.rmtree(target, ignore_errors=True)
        if (WEB_DIST / "index.html").is_file():
            shutil.copytree(WEB_DIST, target)
            print(f"one-api: the web console (web/dist) is packaged as {'/'.join(CONSOLE)}")
        else:
            print("one-api: web/dist is not built, so this package has no web console: run scripts/build-web "
                  "(Node.js 20+ and npm) before `pip install .`, or install with `pip install -e .`")


setup(cmdclass={"build_py": BuildWithConsole})
