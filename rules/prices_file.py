"""Reading and validating prices.toml into plain checked values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import RulesError
from .images import ImageRule, parse_image_rule
from .tomlfile import Entry, number_table, read_toml

_TOP_FIELDS = frozenset({
    "fallback", "strip_internet_suffix", "model_ratio", "model_ratio_added", "completion_ratio",
    "completion_rule", "group_ratio", "image", "audio",
})
_RULE_CONDITIONS = ("exact", "prefix", "suffix", "glob")
_FALLBACKS = ("model_ratio", "completion_ratio", "group_ratio")


@dataclass
class RawPrices:
    """prices.toml after validation, before it becomes a PriceDefaults."""

    fallback: dict[str, float]
    strip_internet: dict[str, tuple[str, ...]]
    model_ratio: dict[str, float]
    completion_ratio: dict[str, float]
    completion_rules: list[dict[str, Any]]
    group_ratio: dict[str, float]
    image_rules: dict[str, ImageRule]
    single_charge_channel_types: list[int]
    audio: dict[str, Any]


def _required_table(path: Path, data: dict[str, Any], name: str) -> Any:
    if name not in data:
        raise RulesError(path, name, "missing table")
    return data[name]


def _model_ratio(path: Path, data: dict[str, Any]) -> dict[str, float]:
    """One API's table merged with the entries we add; a name in both is an error."""
    table = number_table(path, "model_ratio", _required_table(path, data, "model_ratio"))
    added = number_table(path, "model_ratio_added", data.get("model_ratio_added", {}))
    for name in added:
        if name in table:
            raise RulesError(path, f"model_ratio_added.{name!r}", "already priced in [model_ratio]")
    return {**table, **added}


def _completion_rules(path: Path, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise RulesError(path, "completion_rule", "must be an array of tables ([[completion_rule]])")
    rules = []
    for index, table in enumerate(raw, start=1):
        entry = Entry(path, f"completion_rule #{index}", table)
        entry.only({"ratio", *_RULE_CONDITIONS})
        if not any(key in entry.table for key in _RULE_CONDITIONS):
            entry.fail(f"needs at least one condition ({', '.join(_RULE_CONDITIONS)})")
        rules.append({
            "ratio": entry.number("ratio", required=True),
            "exact": frozenset(entry.strings("exact")),
            "prefix": entry.string("prefix", ""),
            "suffix": entry.string("suffix", ""),
            "glob": entry.string("glob", ""),
        })
    return rules


def _images(path: Path, raw: Any) -> tuple[dict[str, ImageRule], list[int]]:
    entry = Entry(path, "image", raw)
    entry.only({"single_charge_channel_types", "models"})
    single = entry.table.get("single_charge_channel_types", [])
    if not isinstance(single, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in single):
        entry.fail(f"field 'single_charge_channel_types' must be a list of channel type ids, got {single!r}")
    models = Entry(path, "image.models", entry.table.get("models", {}))
    rules = {model: parse_image_rule(path, model, table) for model, table in models.table.items()}
    return rules, single


def _audio(path: Path, raw: Any) -> dict[str, Any]:
    entry = Entry(path, "audio", raw)
    entry.only({"speech_max_input_bytes", "transcription_billing_model"})
    limit = entry.integer("speech_max_input_bytes", required=True)
    if limit < 1:
        entry.fail(f"field 'speech_max_input_bytes' must be at least 1, got {limit}")
    return {
        "speech_max_input_bytes": limit,
        "transcription_billing_model": entry.string("transcription_billing_model", required=True),
    }


def parse_prices(path: Path, data: dict[str, Any]) -> RawPrices:
    """Validate the parsed contents of a prices file."""
    Entry(path, "", data).only(_TOP_FIELDS)
    fallback = Entry(path, "fallback", _required_table(path, data, "fallback"))
    fallback.only(_FALLBACKS)
    strip = Entry(path, "strip_internet_suffix", data.get("strip_internet_suffix", {}))
    strip.only({"model_ratio", "completion_ratio"})
    image_rules, single_charge = _images(path, data.get("image", {}))
    return RawPrices(
        fallback={key: fallback.number(key, required=True) for key in _FALLBACKS},
        strip_internet={key: strip.strings(key) for key in ("model_ratio", "completion_ratio")},
        model_ratio=_model_ratio(path, data),
        completion_ratio=number_table(path, "completion_ratio", data.get("completion_ratio", {})),
        completion_rules=_completion_rules(path, data.get("completion_rule", [])),
        group_ratio=number_table(path, "group_ratio", _required_table(path, data, "group_ratio")),
        image_rules=image_rules,
        single_charge_channel_types=single_charge,
        audio=_audio(path, _required_table(path, data, "audio")),
    )


def parse_prices_file(path: Path) -> RawPrices:
    """Read and validate one prices file."""
    return parse_prices(path, read_toml(path))
