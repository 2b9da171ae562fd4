"""admin_api never imports the proxy, and option validation holds for any input (property-based)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from admin_api.option_rules import ALL_DEFAULTS, KNOWN_KEYS, Options, validate
from rules import COMPONENT_OPTIONS, TIER_OPTION, ratio_table, tier_table

ROOT = Path(__file__).resolve().parents[3]


def test_admin_api_never_imports_the_proxy():
    for path in (ROOT / "admin_api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "proxy" or n.startswith("proxy.") for n in names), path


@settings(max_examples=300, deadline=None)
@given(key=st.one_of(st.sampled_from(sorted(KNOWN_KEYS)), st.text(max_size=20)),
       value=st.one_of(st.text(max_size=40), st.sampled_from(["true", "false", "1", "-1", "{}", "{\"a\": 1}",
                                                              "{\"a\": \"x\"}", "NaN", "1e999", "http://x"])))
def test_option_validation_accepts_only_usable_values(key, value):
    problem = validate(key, value, Options(dict(ALL_DEFAULTS)))
    if problem is not None:
        assert isinstance(problem, str) and problem
        return
    assert key in KNOWN_KEYS and "\x00" not in value
    if key.endswith("Enabled"):
        assert value in ("true", "false")
    if key in ("ModelRatio", "GroupRatio", "CompletionRatio"):
        parsed = orjson.loads(value)
        assert isinstance(parsed, dict) and all(math.isfinite(v) for v in parsed.values())
    if key in ("QuotaForNewUser", "RetryTimes", "PreConsumedQuota"):
        assert int(value) >= 0
    if key in COMPONENT_OPTIONS.values():      # part prices (#16): the proxy's parser takes what was saved
        assert isinstance(ratio_table(orjson.loads(value)), dict)
    if key == TIER_OPTION:
        assert isinstance(tier_table(orjson.loads(value)), dict)
