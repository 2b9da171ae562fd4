"""The per-request quota arithmetic in integers gives exactly what the written decimal ratios mean."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Context, Decimal

from hypothesis import given
from hypothesis import strategies as st

from rules.exact import dec, product, rational, text_quota, tokens_quota

_CTX = Context(prec=200)
# ratios as operators write them: One API's table values, thirds, float artefacts, zero, tiny and large ones
RATIOS = st.sampled_from([0.075, 0.07, 1, 2.5, 0.0001, 15, 0.1 + 0.2, 1 / 3, 30, 0, 0.00069, 1e-7, 123.456, 4])
TOKENS = st.integers(min_value=0, max_value=10**9)


@given(RATIOS, RATIOS, RATIOS, TOKENS, TOKENS)
def test_settlement_is_the_exact_decimal_ceiling(mr: float, gr: float, cr: float, prompt: int, completion: int) -> None:
    ratio, completion_ratio = product(mr, gr), dec(cr)
    exact = _CTX.multiply(_CTX.add(Decimal(prompt), _CTX.multiply(Decimal(completion), completion_ratio)), ratio)
    want = int(exact.to_integral_value(rounding=ROUND_CEILING, context=_CTX))
    assert text_quota(prompt, completion, rational(completion_ratio), rational(ratio)) == want


@given(RATIOS, RATIOS, st.integers(min_value=-10**6, max_value=10**9))
def test_reservation_truncates_toward_zero(mr: float, gr: float, tokens: int) -> None:
    ratio = product(mr, gr)
    want = int(_CTX.multiply(Decimal(tokens), ratio).to_integral_value(rounding=ROUND_DOWN, context=_CTX))
    assert tokens_quota(tokens, rational(ratio)) == want


def test_the_float_edge_case_one_api_overcharges() -> None:
    """100 prompt tokens of deepseek-chat (ratio 0.07): float64 gives 7.000000000000001, Go's ceil charges 8."""
    assert text_quota(100, 0, rational(dec(1)), rational(dec(0.07))) == 7
    assert tokens_quota(100, rational(dec(0.07))) == 7
