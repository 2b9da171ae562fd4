"""The quota of a text answer as the sum of its parts, each at its own price, rounded once (exactly).

quota = ceil((input side × tier input + output side × tier output) × model ratio × group ratio), where
  input side  = uncached input + cache reads × read ratio + 5m writes × 5m ratio + 1h writes × 1h ratio
                + audio input × audio-in ratio     (uncached input = prompt − reads − writes − audio input)
  output side = text output × completion ratio + audio output × audio-out ratio   (reasoning is output)
A part whose price is unknown is billed as One API bills it: input-side parts as input, audio output as output.
With no parts and no tier this is exactly One API's ceil((prompt + completion × cr) × mr × gr).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .components import Tier, Tiers
from .exact import dec

ONE = Fraction(1)


@lru_cache(maxsize=4096)   # the same few ratios on every request
def exact(value: float) -> Fraction:
    """A ratio as the decimal it was written as (rules.exact.dec), as a fraction."""
    return Fraction(dec(value))


@dataclass(frozen=True)
class Parts:
    """Token counts of one answer. `prompt` and `completion` are the whole counts; the others are parts of them."""

    prompt: int
    completion: int
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    audio_input: int = 0
    audio_output: int = 0

    @property
    def plain(self) -> bool:
        """Nothing but input and output (One API's whole usage shape)."""
        return not (self.cache_read or self.cache_write_5m or self.cache_write_1h or self.audio_input
                    or self.audio_output)


@dataclass(frozen=True)
class ComponentRatios:
    """A model's part prices as multiples of its input price; None where no price is known."""

    cache_read: float | None = None
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None
    audio_input: float | None = None
    audio_output: float | None = None
    tiers: Tiers = ()

    def tier_for(self, prompt: int) -> Tier | None:
        """The tier a prompt of this many tokens falls in (the highest threshold it is above)."""
        found = None
        for tier in self.tiers:
            if prompt > tier.above:
                found = tier
        return found


@dataclass(frozen=True)
class Line:
    """One priced part: its tokens, its price as a multiple of the input price (tier included), and whether it was
    billed as input or output for want of its own price."""

    part: str
    tokens: int
    ratio: Fraction
    priced_as: str = ""


@dataclass(frozen=True)
class Charge:
    quota: int
    lines: tuple[Line, ...]
    model_ratio: float
    group_ratio: float
    tier: Tier | None

    def to_json(self) -> dict[str, Any]:
        """The breakdown a log row keeps: per part tokens, ratio, list price in USD per 1M tokens (ratio 1 = $2)
        and quota before rounding; then the model and group ratio, the tier, and the parts billed as another."""
        parts = {}
        for line in self.lines:
            if line.tokens:
                ratio, usd, per_token = _line_prices(line.ratio, self.model_ratio, self.group_ratio)
                parts[line.part] = {"tokens": line.tokens, "ratio": ratio, "usd_per_mtok": usd,
                                    "quota": round(float(line.tokens * per_token), 6)}
        out: dict[str, Any] = {"parts": parts, "model_ratio": self.model_ratio, "group_ratio": self.group_ratio}
        if self.tier is not None:
            out["tier"] = self.tier.to_json()
        unpriced = [line.part for line in self.lines if line.tokens and line.priced_as]
        if unpriced:
            out["priced_as_input_or_output"] = unpriced
        return out


@lru_cache(maxsize=4096)   # a handful of (part price, model, group) triples serve every request
def _line_prices(ratio: Fraction, model_ratio: float, group_ratio: float) -> tuple[float, float, Fraction]:
    """A part's price as its log row shows it: the ratio, USD per 1M tokens (ratio 1 = $2), the quota per token
    (exact: the row's quota per part is tokens × this, rounded for display only)."""
    return (float(ratio), round(float(ratio * exact(model_ratio) * 2), 6),
            ratio * exact(model_ratio) * exact(group_ratio))


def _or(ratio: float | None, fallback: Fraction) -> tuple[Fraction, str]:
    return (exact(ratio), "") if ratio is not None else (fallback, "input" if fallback == ONE else "output")


def lines_for(parts: Parts, completion_ratio: Fraction, ratios: ComponentRatios, tier: Tier | None) -> list[Line]:
    """Every part with its price (a multiple of the input price, tier applied)."""
    im, om = (exact(tier.input), exact(tier.output)) if tier else (ONE, ONE)
    read = min(parts.cache_read, parts.prompt)
    w5 = min(parts.cache_write_5m, parts.prompt - read)
    w1h = min(parts.cache_write_1h, parts.prompt - read - w5)
    audio_in = min(parts.audio_input, parts.prompt - read - w5 - w1h)
    audio_out = min(parts.audio_output, parts.completion)
    r5, r5_as = _or(ratios.cache_write_5m, ONE)
    # a 1-hour write on a model with one write rate costs that rate
    r1h, r1h_as = _or(ratios.cache_write_1h if ratios.cache_write_1h is not None else ratios.cache_write_5m, ONE)
    rr, rr_as = _or(ratios.cache_read, ONE)
    rai, rai_as = _or(ratios.audio_input, ONE)
    rao, rao_as = _or(ratios.audio_output, completion_ratio)
    return [
        Line("input", parts.prompt - read - w5 - w1h - audio_in, im),
        Line("cache_read", read, rr * im, rr_as),
        Line("cache_write_5m", w5, r5 * im, r5_as),
        Line("cache_write_1h", w1h, r1h * im, r1h_as),
        Line("audio_input", audio_in, rai * im, rai_as),
        Line("output", parts.completion - audio_out, completion_ratio * om),
        Line("audio_output", audio_out, rao * om, rao_as),
    ]


def charge(parts: Parts, model_ratio: float, group_ratio: float, completion_ratio: float,
           ratios: ComponentRatios) -> Charge:
    """The quota of `parts`: the sum of every part at its price, ceil once; at least 1 when anything was used on a
    model that is not free, 0 when nothing was."""
    tier = ratios.tier_for(parts.prompt)
    lines = tuple(lines_for(parts, exact(completion_ratio), ratios, tier))
    weighted = sum((line.tokens * line.ratio for line in lines if line.tokens), Fraction(0))
    per_quota = exact(model_ratio) * exact(group_ratio)
    total = weighted * per_quota
    quota = -(-total.numerator // total.denominator)
    if parts.prompt + parts.completion == 0:
        quota = 0
    elif per_quota != 0 and quota <= 0:
        quota = 1
    return Charge(quota, lines, model_ratio, group_ratio, tier)


def hold_factors(completion_ratio: float, ratios: ComponentRatios, prompt: int) -> tuple[Fraction, Fraction]:
    """(prompt factor, completion factor) of a conservative hold: a prompt token at the dearest input-side price
    (an input, a cache write or audio), an answer token at the dearest output-side price, both at the tier the
    prompt may reach (its counted size plus a quarter: upstream tokenizers count more than ours)."""
    tier = ratios.tier_for(prompt + prompt // 4)
    im, om = (exact(tier.input), exact(tier.output)) if tier else (ONE, ONE)
    dearest_in = max([ONE] + [exact(r) for r in (ratios.cache_write_5m, ratios.cache_write_1h, ratios.audio_input)
                              if r is not None])
    cr = exact(completion_ratio)
    dearest_out = max([cr] + ([exact(ratios.audio_output)] if ratios.audio_output is not None else []))
    return dearest_in * im, dearest_out * om
