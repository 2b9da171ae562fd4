"""The console's sources: its unit tests (Vitest) pass, and its channel-type list matches rules/channel_types.toml."""

from __future__ import annotations

import os
import re
import subprocess

from rules import load_catalog
from tests.browser.toolchain import WEB, web_build_or_skip


def test_channel_types_match_the_catalog() -> None:
    source = (WEB / "src" / "lib" / "channel-types.ts").read_text(encoding="utf-8")
    listed = {int(m[1]): m[2] for m in re.finditer(r"\{ id: (\d+), name: '([^']*)'", source)}
    expected = {t.id: t.name for t in load_catalog() if not t.placeholder}
    assert listed == expected
    for t in load_catalog():
        entry = re.search(rf"\{{ id: {t.id}, name: [^}}]*\}}", source)
        if t.placeholder:
            continue
        assert entry is not None
        assert (f"baseUrl: '{t.base_url}'" in entry[0]) == bool(t.base_url), t.id
        assert ("balance: true" in entry[0]) == t.balance, t.id
        assert ("needsBaseUrl: true" in entry[0]) == t.requires_base_url, t.id


def test_vitest_unit_tests_pass() -> None:
    web_build_or_skip()
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    result = subprocess.run(["npx", "--no-install", "vitest", "run"], cwd=WEB, capture_output=True, text=True,
                            timeout=300, env=env)
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert result.returncode == 0, output[-4000:] + result.stderr[-2000:]
    assert re.search(r"Tests\s+\d+ passed", output), output[-2000:]
