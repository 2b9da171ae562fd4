"""Which channel types speak a client dialect natively is a fact of rules/channel_types.toml (`dialects`), not code:
OpenAI answers Responses clients itself, Anthropic its own Messages clients; an unknown dialect is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from rules import RulesError, load_catalog

_TYPE = '[[type]]\nid = 1\nname = "X"\napi_style = "openai"\n'


def test_the_shipped_catalog() -> None:
    catalog = load_catalog()
    assert catalog.get(1).speaks("responses") and not catalog.get(1).speaks("anthropic")
    assert catalog.get(14).speaks("anthropic") and not catalog.get(14).speaks("responses")
    assert not any(catalog.get(t).speaks("responses") for t in (3, 8, 36, 24))   # Azure, custom, DeepSeek, Gemini
    assert not catalog.get(1).speaks("")


def test_dialects_are_checked(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(_TYPE + 'dialects = ["responses", "gemini"]\n')
    assert load_catalog(good).get(1).dialects == frozenset({"responses", "gemini"})
    bad = tmp_path / "bad.toml"
    bad.write_text(_TYPE + 'dialects = ["responses", "cohere"]\n')
    with pytest.raises(RulesError, match="cohere"):
        load_catalog(bad)
