"""What a model costs per part, as a price page shows it: USD per million tokens and quota per token.

Every part is priced as the charge prices it (rules.charge): a part with no price of its own costs what the
charge bills it at (an input-side part the input price, audio output the output price, a 1-hour cache write the
5-minute one), and says so (`own: false`). Quota per token = part ratio × model ratio × group ratio; USD per 1M
tokens = quota per token × 1,000,000 / QuotaPerUnit (500,000 by default, so a ratio of 1 is $2 per 1M tokens).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from .charge import exact
from .components import COMPONENT_OPTIONS, TIER_OPTION, Tier, ratio_table, tier_table
from .prices import PriceTable

PRICE_PARTS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h", "audio_input", "audio_output")
MILLION = 1_000_000


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _floats(text: str | None) -> dict[str, float] | None:
    """A part-price option: non-negative numbers (as PUT /api/option/ checks them)."""
    parsed = ratio_table(_json(text))
    return parsed if isinstance(parsed, dict) else None


def _numbers(text: str | None) -> dict[str, float] | None:
    """ModelRatio, CompletionRatio, GroupRatio: any finite numbers, as One API keeps them (its default ModelRatio
    holds openrouter/auto at -500000)."""
    parsed = _json(text)
    if not isinstance(parsed, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in parsed.values()):
        return None
    return {str(k): float(v) for k, v in parsed.items()}


def table_from_options(prices: PriceTable, options: Mapping[str, str]) -> PriceTable:
    """`prices` with the price options' current values (a value that does not parse keeps the defaults)."""
    tiers = tier_table(_json(options.get(TIER_OPTION)))
    return prices.with_overrides(
        model_ratio=_numbers(options.get("ModelRatio")),
        completion_ratio=_numbers(options.get("CompletionRatio")),
        group_ratio=_numbers(options.get("GroupRatio")),
        components={component: _floats(options.get(name)) for component, name in COMPONENT_OPTIONS.items()},
        tiers=tiers if isinstance(tiers, dict) else None)


def part_ratios(table: PriceTable, model: str) -> dict[str, tuple[Fraction, bool]]:
    """Each part's price as a multiple of the input price, and whether the model has a price of its own for it."""
    parts = table.component_ratios(model)
    completion = exact(table.completion_ratio(model))

    def own(value: float | None, fallback: Fraction) -> tuple[Fraction, bool]:
        return (exact(value), True) if value is not None else (fallback, False)

    write_5m = own(parts.cache_write_5m, Fraction(1))
    return {
        "input": (Fraction(1), True),
        "output": (completion, True),
        "cache_read": own(parts.cache_read, Fraction(1)),
        "cache_write_5m": write_5m,
        "cache_write_1h": own(parts.cache_write_1h, write_5m[0]),
        "audio_input": own(parts.audio_input, Fraction(1)),
        "audio_output": own(parts.audio_output, completion),
    }


def _price(ratio: Fraction, per_token: Fraction, quota_per_unit: Fraction) -> dict[str, float]:
    quota = ratio * per_token
    usd = quota * MILLION / quota_per_unit if quota_per_unit else Fraction(0)
    return {"usd_per_mtok": round(float(usd), 9), "quota_per_token": round(float(quota), 12)}


def model_prices(table: PriceTable, model: str, group_ratio: float, quota_per_unit: float) -> dict[str, Any]:
    """One row of the price page: every part's price at `group_ratio`, and the long-context tiers'."""
    per_token = exact(table.model_ratio(model)) * exact(group_ratio)
    unit = exact(quota_per_unit)
    ratios = part_ratios(table, model)
    parts = {part: {**_price(ratio, per_token, unit), "ratio": float(ratio), "own": own}
             for part, (ratio, own) in ratios.items()}
    tiers = [_tier(tier, ratios, per_token, unit) for tier in table.component_ratios(model).tiers]
    return {"model": model, "model_ratio": table.model_ratio(model), "completion_ratio": table.completion_ratio(model),
            "priced": table.find_model_ratio(model) is not None, "parts": parts, "tiers": tiers}


def _tier(tier: Tier, ratios: Mapping[str, tuple[Fraction, bool]], per_token: Fraction,
          unit: Fraction) -> dict[str, Any]:
    """A tier's input and output prices (every input-side part and audio output scale the same way)."""
    return {"above": tier.above,
            "input": _price(exact(tier.input), per_token, unit),
            "output": _price(ratios["output"][0] * exact(tier.output), per_token, unit)}
