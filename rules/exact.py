"""Exact quota arithmetic: ratios as the decimals they were written as, rounding done once.

One API multiplies float64 ratios and then rounds (ceil for settlement, truncation toward zero
for pre-consumption, images and speech). Float products can land a hair off an integer: 100
prompt tokens of deepseek-chat (ratio 0.07) give 7.000000000000001 in float64, which Go's ceil
charges as 8. Here every ratio is taken as the shortest decimal that round-trips its float
(repr), products and sums are computed exactly (with Decimal; the per-request text quota with the
same decimals as integer fractions), and only the final result is rounded, so it is the quota the
written ratios mean. It equals Go's result except in such edge cases, where it is one unit lower
(ceil) or higher (truncation).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Context, Decimal
from functools import lru_cache

# Enough digits that products of a few 17-digit ratios and token counts are never rounded.
_CTX = Context(prec=120)


@lru_cache(maxsize=4096)   # the same few ratios on every request
def dec(value: float | int) -> Decimal:
    """The decimal a ratio stands for: an int exactly, a float by its shortest repr."""
    if isinstance(value, int):
        return Decimal(value)
    return Decimal(repr(value))


def product(*factors: float | int | Decimal) -> Decimal:
    """Exact product of ratios and counts."""
    result = Decimal(1)
    for factor in factors:
        result = _CTX.multiply(result, factor if isinstance(factor, Decimal) else dec(factor))
    return result


Rational = tuple[int, int]   # (numerator, denominator > 0): a decimal ratio, exactly


def rational(value: Decimal) -> Rational:
    """A decimal as an exact fraction, for the per-request arithmetic in plain integers."""
    return value.as_integer_ratio()


def text_quota(prompt: int, completion: int, completion_ratio: Rational, ratio: Rational) -> int:
    """ceil((prompt + completion × completion_ratio) × ratio), exactly, in integers: the settlement of every
    text request (the same value Decimal gives, at a fraction of its cost per request)."""
    (cn, cd), (rn, rd) = completion_ratio, ratio
    return -(-((prompt * cd + completion * cn) * rn) // (cd * rd))


def tokens_quota(tokens: int, ratio: Rational) -> int:
    """tokens × ratio truncated toward zero, exactly: the reservation of every text request."""
    n, d = ratio
    scaled = tokens * n
    return scaled // d if scaled >= 0 else -(-scaled // d)


def trunc_int(value: Decimal) -> int:
    """`value` with its fraction dropped, toward zero (Go's int64(float64))."""
    return int(value.to_integral_value(rounding=ROUND_DOWN, context=_CTX))
