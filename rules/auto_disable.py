"""Which upstream errors disable a channel, from rules/auto_disable.toml (one list for relay and tests)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .tomlfile import Entry, read_toml

AUTO_DISABLE_PATH = Path(__file__).with_name("auto_disable.toml")


@dataclass(frozen=True)
class AutoDisable:
    """The statuses, error types, error codes and message phrases that mean "this account is unusable"."""

    statuses: frozenset[int]
    types: frozenset[str]
    codes: frozenset[str]
    phrases: tuple[str, ...]

    def matches(self, status: int | None, type: object, code: object, message: str) -> bool:
        """Whether an upstream error disables its channel; `status` None when there is none (a test)."""
        if status in self.statuses or type in self.types or code in self.codes:
            return True
        low = message.lower()
        return any(phrase in low for phrase in self.phrases)


def _statuses(entry: Entry) -> frozenset[int]:
    value = entry.table.get("statuses", [])
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599
                                              for v in value):
        entry.fail(f"field 'statuses' must be a list of HTTP statuses (100-599), got {value!r}")
    return frozenset(value)


def parse_auto_disable(path: Path, data: object) -> AutoDisable:
    """Validate the parsed contents of an auto-disable file."""
    entry = Entry(path, "", data)
    entry.only({"statuses", "types", "codes", "phrases"})
    phrases = entry.strings("phrases", required=True)
    if not all(phrases) or any(p != p.lower() for p in phrases):
        entry.fail("every phrase must be non-empty and lower case (messages are lower-cased before matching)")
    return AutoDisable(_statuses(entry), frozenset(entry.strings("types")), frozenset(entry.strings("codes")), phrases)


def load_auto_disable(path: Path | None = None) -> AutoDisable:
    """Load and validate an auto-disable file; the shipped one (path None) is loaded once."""
    if path is None:
        return _default()
    return parse_auto_disable(path, read_toml(path))


@lru_cache(maxsize=1)
def _default() -> AutoDisable:
    return parse_auto_disable(AUTO_DISABLE_PATH, read_toml(AUTO_DISABLE_PATH))


__all__ = ["AutoDisable", "load_auto_disable"]
