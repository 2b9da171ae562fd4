"""Per-component price ratios (cache read, cache writes, audio) and long-context tiers: their data and options.

Every ratio here is a multiple of the model's input price (its model ratio), as CompletionRatio is: a cache read
ratio of 0.1 bills a cached token at a tenth of an input token. A tier multiplies the input side (the model ratio)
and the output side of a request whose whole prompt (cache reads and writes included) is above its threshold.
Defaults come from component_prices.toml (each model with its source); options of the same names replace them per
model, looked up in One API's order (§7.1: M(T) current, M(T) default, M current, M default).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import RulesError
from .gojson import go_float
from .tomlfile import Entry, is_number, read_toml

DEFAULT_COMPONENTS_PATH = Path(__file__).with_name("component_prices.toml")

# component -> the option holding its per-model ratios (a JSON object like ModelRatio)
COMPONENT_OPTIONS: Mapping[str, str] = MappingProxyType({
    "cache_read": "CacheReadRatio",
    "cache_write_5m": "CacheWrite5mRatio",
    "cache_write_1h": "CacheWrite1hRatio",
    "audio_input": "AudioInputRatio",
    "audio_output": "AudioOutputRatio",
})
TIER_OPTION = "LongContextRatio"
_MODEL_FIELDS = frozenset({"model_ratio", "completion_ratio", "source", "tiers", *COMPONENT_OPTIONS})


@dataclass(frozen=True)
class Tier:
    """Prices of a request whose whole prompt is above `above` tokens: input side × `input`, output × `output`."""

    above: int
    input: float
    output: float

    def to_json(self) -> dict[str, Any]:
        return {"above": self.above, "input": self.input, "output": self.output}


Tiers = tuple[Tier, ...]   # ascending by threshold


@dataclass(frozen=True)
class ComponentDefaults:
    """component_prices.toml: new models' base ratios, component ratios and tiers, and where each came from."""

    model_ratio: Mapping[str, float]
    completion_ratio: Mapping[str, float]
    ratios: Mapping[str, Mapping[str, float]]     # component -> model -> ratio
    tiers: Mapping[str, Tiers]
    sources: Mapping[str, str]


def tiers_from(raw: Any) -> Tiers | str:
    """A model's tiers from `[{above, input, output}, ...]`, or what is wrong with them."""
    if not isinstance(raw, list) or not raw:
        return "must be a non-empty list of {above, input, output}"
    out: list[Tier] = []
    for item in raw:
        if not isinstance(item, Mapping) or set(item) != {"above", "input", "output"}:
            return "each tier needs exactly the fields above, input and output"
        above = item["above"]
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            return f"above must be a non-negative integer, got {above!r}"
        if not all(is_number(item[k]) and item[k] >= 0 for k in ("input", "output")):
            return "input and output must be non-negative numbers"
        out.append(Tier(above, float(item["input"]), float(item["output"])))
    out.sort(key=lambda t: t.above)
    if len({t.above for t in out}) != len(out):
        return "two tiers have the same threshold"
    return tuple(out)


def tier_table(raw: Any) -> dict[str, Tiers] | str:
    """Option LongContextRatio parsed: `{"model": [{"above": 200000, "input": 2, "output": 1.5}]}`."""
    if not isinstance(raw, Mapping):
        return "must be a JSON object from model names to lists of tiers"
    table: dict[str, Tiers] = {}
    for model, value in raw.items():
        tiers = tiers_from(value)
        if isinstance(tiers, str):
            return f"{model}: {tiers}"
        table[str(model)] = tiers
    return table


def tiers_json(table: Mapping[str, Tiers]) -> str:
    """Option LongContextRatio's text for a tier table (models sorted, as Go writes a map)."""
    body = ",".join(f"{json.dumps(model)}:[" + ",".join(
        f'{{"above":{t.above},"input":{go_float(t.input)},"output":{go_float(t.output)}}}' for t in tiers) + "]"
        for model, tiers in sorted(table.items()))
    return "{" + body + "}"


def ratio_table(raw: Any) -> dict[str, float] | str:
    """A component option parsed: a JSON object from model names to non-negative finite numbers."""
    if not isinstance(raw, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
            for v in raw.values()):
        return "must be a JSON object from model names to non-negative numbers"
    return {str(k): float(v) for k, v in raw.items()}


def _model(path: Path, name: str, table: Any, out: dict[str, Any]) -> None:
    entry = Entry(path, f"models.{name!r}", table)
    entry.only(_MODEL_FIELDS)
    out["sources"][name] = entry.string("source", required=True)
    for key in ("model_ratio", "completion_ratio"):
        if key in entry.table:
            out[key][name] = entry.number(key)
    for component in COMPONENT_OPTIONS:
        if component in entry.table:
            value = entry.number(component)
            if value < 0:
                entry.fail(f"field {component!r} must not be negative")
            out["ratios"][component][name] = value
    if "tiers" in entry.table:
        tiers = tiers_from(entry.table["tiers"])
        if isinstance(tiers, str):
            entry.fail(f"field 'tiers' {tiers}")
        out["tiers"][name] = tiers


def load_components(path: Path = DEFAULT_COMPONENTS_PATH) -> ComponentDefaults:
    """Read and validate component_prices.toml."""
    data = read_toml(path)
    Entry(path, "", data).only({"models"})
    models = Entry(path, "models", data.get("models", {}))
    out: dict[str, Any] = {"model_ratio": {}, "completion_ratio": {}, "sources": {}, "tiers": {},
                           "ratios": {component: {} for component in COMPONENT_OPTIONS}}
    for name, table in models.table.items():
        _model(path, name, table, out)
    return ComponentDefaults(
        model_ratio=MappingProxyType(out["model_ratio"]), completion_ratio=MappingProxyType(out["completion_ratio"]),
        ratios=MappingProxyType({k: MappingProxyType(v) for k, v in out["ratios"].items()}),
        tiers=MappingProxyType(out["tiers"]), sources=MappingProxyType(out["sources"]))


def merge_base(path: Path, name: str, base: Mapping[str, float], added: Mapping[str, float]) -> dict[str, float]:
    """One API's table plus the new models' entries; a model priced in both is an error (its price is One API's)."""
    for model in added:
        if model in base:
            raise RulesError(path, f"models.{model!r}.{name}", "already priced in prices.toml")
    return {**base, **added}
