"""How many output tokens a model can produce at most, from rules/max_output.toml (longest prefix wins)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

from .errors import RulesError
from .tomlfile import read_toml

MAX_OUTPUT_PATH = Path(__file__).with_name("max_output.toml")


class MaxOutput:
    """Longest-prefix lookup of a model's output limit, memoised per model name."""

    def __init__(self, default: int, by_prefix: Mapping[str, int]) -> None:
        self.default = default
        self._prefixes = sorted(by_prefix.items(), key=lambda kv: len(kv[0]), reverse=True)
        self._memo: dict[str, int] = {}

    def tokens(self, model: str) -> int:
        found = self._memo.get(model)
        if found is None:
            name = model.lower().rsplit("/", 1)[-1]       # "openai/gpt-4o" prices like "gpt-4o"
            found = next((limit for prefix, limit in self._prefixes if name.startswith(prefix)), self.default)
            if len(self._memo) < 4096:
                self._memo[model] = found
        return found


def _positive(path: Path, entry: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise RulesError(path, entry, "must be a positive integer")
    return value


def load_max_output(path: Path | None = None) -> MaxOutput:
    """Load and validate a max-output file; the shipped one (path None) is loaded once."""
    if path is None:
        return _default()
    raw = read_toml(path)
    models = raw.get("models", {})
    if not isinstance(models, dict):
        raise RulesError(path, "models", "must be a table")
    table = {str(k).lower(): _positive(path, f"models.{k}", v) for k, v in models.items()}
    return MaxOutput(_positive(path, "default", raw.get("default")), MappingProxyType(table))


@lru_cache(maxsize=1)
def _default() -> MaxOutput:
    return load_max_output(MAX_OUTPUT_PATH)


__all__ = ["MaxOutput", "load_max_output"]
