"""Reading a TOML data file and checking the type of every field of an entry."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

from .errors import RulesError


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; a missing file or a syntax error becomes a RulesError."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise RulesError(path, "", f"cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(path, "", f"invalid TOML: {exc}") from exc


def is_number(value: object) -> bool:
    """True for a finite int or float (TOML booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


class Entry:
    """One table of a data file, with typed getters that raise RulesError naming the entry."""

    def __init__(self, path: Path, name: str, table: object) -> None:
        self.path = path
        self.name = name
        if not isinstance(table, Mapping):
            self.fail(f"must be a table, got {type(table).__name__}")
        self.table: Mapping[str, Any] = table

    def fail(self, problem: str) -> NoReturn:
        """Raise a RulesError for this entry."""
        raise RulesError(self.path, self.name, problem)

    def only(self, allowed: Iterable[str]) -> None:
        """Reject keys outside `allowed`, so a typo in a field name is not silently ignored."""
        unknown = sorted(set(self.table) - set(allowed))
        if unknown:
            self.fail(f"unknown field(s) {', '.join(map(repr, unknown))}")

    def _get(self, key: str, default: Any, required: bool) -> Any:
        if key in self.table:
            return self.table[key]
        if required:
            self.fail(f"missing required field {key!r}")
        return default

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._get(key, default, required)
        if not isinstance(value, str):
            self.fail(f"field {key!r} must be a string, got {value!r}")
        return value

    def integer(self, key: str, default: int | None = None, *, required: bool = False) -> int:
        value = self._get(key, default, required)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"field {key!r} must be an integer, got {value!r}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._get(key, default, False)
        if not isinstance(value, bool):
            self.fail(f"field {key!r} must be true or false, got {value!r}")
        return value

    def number(self, key: str, default: float | None = None, *, required: bool = False) -> float:
        value = self._get(key, default, required)
        if not is_number(value):
            self.fail(f"field {key!r} must be a finite number, got {value!r}")
        return float(value)

    def strings(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        """A string or a list of strings, returned as a tuple."""
        value = self._get(key, [], required)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(f"field {key!r} must be a string or a list of strings, got {value!r}")
        return tuple(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self._get(key, {}, False)
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.fail(f"field {key!r} must be a table of strings, got {value!r}")
        return dict(value)

    def number_map(self, key: str, *, positive: bool = False) -> dict[str, float]:
        value = self._get(key, {}, False)
        if not isinstance(value, Mapping):
            self.fail(f"field {key!r} must be a table of numbers, got {value!r}")
        return number_table(self.path, f"{self.name}.{key}", value, positive=positive)


def number_table(
    path: Path, name: str, table: object, *, positive: bool = False
) -> dict[str, float]:
    """Check a TOML table of name -> number (a ratio table) and return it as floats."""
    if not isinstance(table, Mapping):
        raise RulesError(path, name, f"must be a table of numbers, got {type(table).__name__}")
    out: dict[str, float] = {}
    for key, value in table.items():
        if not is_number(value):
            raise RulesError(path, f"{name}.{key!r}", f"must be a finite number, got {value!r}")
        if positive and value <= 0:
            raise RulesError(path, f"{name}.{key!r}", f"must be greater than 0, got {value!r}")
        out[key] = float(value)
    return out
