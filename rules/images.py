"""Per-model image-generation rules: accepted sizes and their cost ratios, n range, prompt limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .tomlfile import Entry

_IMAGE_RULE_FIELDS = frozenset({"sizes", "n", "prompt_limit", "hd", "hd_default", "upstream_name"})


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ImageRule:
    """What one image model accepts and how its size and quality scale the price (§5.6, §7.6)."""

    model: str
    size_ratios: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    n_min: int = 1
    n_max: int | None = None
    prompt_limit: int | None = None
    hd_multipliers: Mapping[str, float] = field(default_factory=lambda: _frozen({}))
    hd_multiplier_default: float = 1.0
    upstream_name: str = ""

    def allows_size(self, size: str) -> bool:
        """A model with a size table accepts only its sizes; one without accepts any."""
        return not self.size_ratios or size in self.size_ratios

    def allows_n(self, n: int) -> bool:
        return n >= self.n_min and (self.n_max is None or n <= self.n_max)

    def allows_prompt(self, prompt_bytes: int) -> bool:
        """Prompt length is measured in UTF-8 bytes, as One API's len(prompt)."""
        return self.prompt_limit is None or prompt_bytes <= self.prompt_limit

    def size_ratio(self, size: str) -> float:
        return self.size_ratios.get(size, 1.0)

    def quality_multiplier(self, size: str, quality: str) -> float:
        """Extra factor for quality "hd" (dall-e-3: ×2 at 1024x1024, ×1.5 otherwise); 1 otherwise."""
        if quality != "hd":
            return 1.0
        return self.hd_multipliers.get(size, self.hd_multiplier_default)


def _n_range(entry: Entry) -> tuple[int, int | None]:
    raw = entry.table.get("n")
    if raw is None:
        return 1, None
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    ):
        entry.fail(f"field 'n' must be [min, max] integers, got {raw!r}")
    low, high = raw
    if low < 1 or high < low:
        entry.fail(f"field 'n' must satisfy 1 <= min <= max, got {raw!r}")
    return low, high


def parse_image_rule(path: Path, model: str, raw: Any) -> ImageRule:
    """Validate one [image.models.<model>] table."""
    entry = Entry(path, f"image.models.{model!r}", raw)
    entry.only(_IMAGE_RULE_FIELDS)
    n_min, n_max = _n_range(entry)
    prompt_limit = entry.table.get("prompt_limit")
    if prompt_limit is not None:
        prompt_limit = entry.integer("prompt_limit")
        if prompt_limit < 1:
            entry.fail(f"field 'prompt_limit' must be at least 1, got {prompt_limit!r}")
    hd_default = entry.number("hd_default", 1.0)
    if hd_default <= 0:
        entry.fail(f"field 'hd_default' must be greater than 0, got {hd_default!r}")
    return ImageRule(
        model=model,
        size_ratios=_frozen(entry.number_map("sizes", positive=True)),
        n_min=n_min,
        n_max=n_max,
        prompt_limit=prompt_limit,
        hd_multipliers=_frozen(entry.number_map("hd", positive=True)),
        hd_multiplier_default=hd_default,
        upstream_name=entry.string("upstream_name", ""),
    )
