"""A price list file (docs/admin-api.md "Price import") turned into option edits, and the diff they make.

The file names each model's list prices in USD per million tokens; the gateway keeps ratios, so they are
converted exactly (in decimal): ModelRatio = input × QuotaPerUnit / 1,000,000, CompletionRatio = output / input,
a part's ratio = its price / input, a tier's input and output = its prices / the base input and output prices.
A part given as null drops the model's own entry (the shipped default, if any, applies again); a part left out
is not touched. Models the file does not name are not touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .components import COMPONENT_OPTIONS, TIER_OPTION, Tier, tier_table, tiers_json
from .gojson import go_json_object
from .price_list import PRICE_PARTS, part_ratios, table_from_options
from .prices import PriceTable

PRICE_OPTIONS = ("ModelRatio", "CompletionRatio", *COMPONENT_OPTIONS.values(), TIER_OPTION)
_TOP_FIELDS = frozenset({"models", "source"})
_MODEL_FIELDS = frozenset({"input", "output", "tiers", *COMPONENT_OPTIONS})
MAX_MODELS = 5000


class PriceFileError(ValueError):
    """What is wrong with a price file, said so an operator can fix it."""


@dataclass(frozen=True)
class ListedTier:
    above: int
    input: Decimal
    output: Decimal


@dataclass(frozen=True)
class ListedPrice:
    """One model's list prices in USD per 1M tokens; `parts` None means "drop the model's own entry"."""

    input: Decimal
    output: Decimal
    parts: Mapping[str, Decimal | None] = field(default_factory=dict)
    tiers: tuple[ListedTier, ...] | None = None
    drop_tiers: bool = False


def _number(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int) or not Decimal(value).is_finite() \
            or value < 0:
        raise PriceFileError(f"{where}: must be a non-negative number (USD per 1M tokens), got {value!r}")
    return Decimal(value)


def _tiers(raw: Any, where: str) -> tuple[ListedTier, ...]:
    if not isinstance(raw, list) or not raw:
        raise PriceFileError(f"{where}: must be a non-empty list of {{above, input, output}}")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"above", "input", "output"}:
            raise PriceFileError(f"{where}[{i}]: needs exactly the fields above, input and output")
        above = item["above"]
        if isinstance(above, bool) or not isinstance(above, int) or above < 0:
            raise PriceFileError(f"{where}[{i}].above: must be a non-negative integer, got {above!r}")
        out.append(ListedTier(above, _number(item["input"], f"{where}[{i}].input"),
                              _number(item["output"], f"{where}[{i}].output")))
    if len({t.above for t in out}) != len(out):
        raise PriceFileError(f"{where}: two tiers have the same threshold")
    return tuple(sorted(out, key=lambda t: t.above))


def _model(name: str, raw: Any) -> ListedPrice:
    where = f"models.{name}"
    if not name.strip() or len(name) > 255:
        raise PriceFileError(f"{where}: a model name must be 1 to 255 characters")
    if not isinstance(raw, dict):
        raise PriceFileError(f"{where}: must be an object of prices")
    unknown = sorted(set(raw) - _MODEL_FIELDS)
    if unknown:
        raise PriceFileError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(_MODEL_FIELDS))})")
    if "input" not in raw or "output" not in raw:
        raise PriceFileError(f"{where}: input and output are required")
    price_in, price_out = _number(raw["input"], f"{where}.input"), _number(raw["output"], f"{where}.output")
    parts = {part: None if raw[part] is None else _number(raw[part], f"{where}.{part}")
             for part in COMPONENT_OPTIONS if part in raw}
    tiers = None if raw.get("tiers") is None else _tiers(raw["tiers"], f"{where}.tiers")
    if price_in == 0 and (price_out or any(parts.values()) or tiers):
        raise PriceFileError(f"{where}: with input 0 every other price must be 0 too (each is kept as a multiple "
                             "of the input price)")
    if price_out == 0 and tiers and any(t.output for t in tiers):
        raise PriceFileError(f"{where}.tiers: an output price needs a base output price above 0")
    return ListedPrice(price_in, price_out, parts, tiers, "tiers" in raw and raw["tiers"] is None)


def parse_price_file(body: bytes) -> dict[str, ListedPrice]:
    """The models of a price file; PriceFileError says what is wrong with it."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, InvalidOperation) as exc:
        raise PriceFileError(f"not valid JSON: {exc}") from None
    except RecursionError:   # json's decoder recurses per level: a hostile file of nested arrays
        raise PriceFileError("not valid JSON: nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise PriceFileError('must be a JSON object with a "models" object: {"models": {"name": {"input": …}}}')
    unknown = sorted(set(data) - _TOP_FIELDS)
    if unknown:
        raise PriceFileError(f"unknown top-level field {unknown[0]!r} (known: models, source)")
    if not data["models"]:
        raise PriceFileError('"models" names no model')
    if len(data["models"]) > MAX_MODELS:
        raise PriceFileError(f'"models" names more than {MAX_MODELS} models')
    return {name: _model(name, raw) for name, raw in data["models"].items()}


def _ratio(value: Decimal) -> float:
    return float(value.normalize())


def _objects(options: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in PRICE_OPTIONS:
        try:
            parsed = json.loads(options.get(key) or "{}")
        except ValueError:
            parsed = {}
        out[key] = parsed if isinstance(parsed, dict) else {}
    return out


def option_edits(options: Mapping[str, str], models: Mapping[str, ListedPrice],
                 quota_per_unit: float) -> dict[str, str]:
    """The new text of every price option the file changes (options it leaves as they are are left out)."""
    tables = _objects(options)
    unit = Decimal(repr(quota_per_unit)) / 1_000_000
    for name, price in models.items():
        tables["ModelRatio"][name] = _ratio(price.input * unit)
        if price.input:
            tables["CompletionRatio"][name] = _ratio(price.output / price.input)
        for part, value in price.parts.items():
            table = tables[COMPONENT_OPTIONS[part]]
            if value is None:
                table.pop(name, None)
            elif price.input:
                table[name] = _ratio(value / price.input)
        if price.drop_tiers:
            tables[TIER_OPTION].pop(name, None)
        elif price.tiers is not None:
            tables[TIER_OPTION][name] = [
                Tier(t.above, _ratio(t.input / price.input),
                     _ratio(t.output / price.output) if price.output else 1.0).to_json() for t in price.tiers]
    out = {}
    for key in PRICE_OPTIONS:
        if key == TIER_OPTION:
            parsed = tier_table(tables[key])
            text = tiers_json(parsed) if isinstance(parsed, dict) else options.get(key, "")
        else:
            text = go_json_object({k: float(v) for k, v in tables[key].items()
                                   if isinstance(v, int | float) and not isinstance(v, bool)})
        if text != options.get(key):
            out[key] = text
    return out


def _usd(table: PriceTable, model: str, quota_per_unit: float) -> dict[str, Any]:
    """A model's list prices (group ratio 1) in USD per 1M tokens, tiers included, for comparing."""
    per_token = Decimal(repr(table.model_ratio(model))) * Decimal(1_000_000) / Decimal(repr(quota_per_unit))
    ratios = part_ratios(table, model)
    out: dict[str, Any] = {}
    for part in PRICE_PARTS:
        ratio = ratios[part][0]
        out[part] = float((Decimal(ratio.numerator) * per_token / Decimal(ratio.denominator)).normalize())
    def scaled(multiple: float, base: float) -> float:
        return float((Decimal(repr(multiple)) * Decimal(repr(base))).normalize())
    out["tiers"] = [{"above": t.above, "input": scaled(t.input, out["input"]),
                     "output": scaled(t.output, out["output"])} for t in table.component_ratios(model).tiers]
    return out


def price_diff(prices: PriceTable, options: Mapping[str, str], edits: Mapping[str, str],
               models: Mapping[str, ListedPrice], quota_per_unit: float) -> list[dict[str, Any]]:
    """Per model of the file: added (no price before) / changed / unchanged, and each changed part old → new
    (USD per 1M tokens at group ratio 1, as the gateway will bill them)."""
    before = table_from_options(prices, options)
    after = table_from_options(prices, {**options, **edits})
    rows = []
    for name in sorted(models):
        old, new = _usd(before, name, quota_per_unit), _usd(after, name, quota_per_unit)
        changes = {part: {"old": old[part], "new": new[part]} for part in (*PRICE_PARTS, "tiers")
                   if old[part] != new[part]}
        status = "added" if before.find_model_ratio(name) is None else "changed" if changes else "unchanged"
        dropped = sorted(part for part, value in models[name].parts.items() if value is None)
        if models[name].drop_tiers:
            dropped.append("tiers")
        rows.append({"model": name, "status": status, "changes": changes, "removed": dropped})
    return rows
