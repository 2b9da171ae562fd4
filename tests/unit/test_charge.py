"""The charge as the sum of its parts (rules.charge through PriceTable), against formulas written out here."""

from __future__ import annotations

from math import ceil

import pytest

from rules import Parts, PriceTable, load_prices
from rules.charge import ComponentRatios, charge


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return load_prices()


def test_claude_code_turn_with_cache_reads_and_a_one_hour_write(prices: PriceTable) -> None:
    # prices-2026 §9.1: sonnet 4.6 at $3 in, $0.30 read, $6 1h write, $15 out → mr 1.5, read 0.1, 1h 2, cr 5
    parts = Parts(prompt=1_200 + 48_000 + 2_500, completion=800, cache_read=48_000, cache_write_1h=2_500)
    charge = prices.charge(parts, "claude-sonnet-4-6", None, "default")
    assert charge.quota == ceil((1_200 + 48_000 * 0.1 + 2_500 * 2 + 800 * 5) * 1.5) == 22_500   # $0.045
    assert charge.to_json()["parts"]["cache_write_1h"] == {"tokens": 2_500, "ratio": 2.0, "usd_per_mtok": 6.0,
                                                            "quota": 7_500.0}


def test_openai_cached_tokens_are_inside_the_prompt(prices: PriceTable) -> None:
    # §9.2: gpt-5.4, 120,000 prompt of which 100,000 cached, 4,000 output (reasoning inside)
    charge = prices.charge(Parts(120_000, 4_000, cache_read=100_000), "gpt-5.4", None, "default")
    assert charge.quota == (20_000 + 100_000 * 0.1 + 4_000 * 6) * 1.25 == 67_500


def test_long_context_tier_prices_the_whole_request(prices: PriceTable) -> None:
    # gpt-5.4 above 272K: input 2×, output 1.5× (read keeps its 0.1 of the doubled input)
    charge = prices.charge(Parts(300_000, 4_000, cache_read=100_000), "gpt-5.4", None, "default")
    assert charge.quota == (200_000 * 2 + 100_000 * 0.1 * 2 + 4_000 * 6 * 1.5) * 1.25 == 570_000
    assert charge.to_json()["tier"] == {"above": 272_000, "input": 2.0, "output": 1.5}
    # exactly at the threshold is still the base price ("above")
    assert prices.charge(Parts(272_000, 0), "gpt-5.4", None, "default").quota == 272_000 * 1.25


def test_a_part_without_a_price_is_billed_as_one_api_bills_it(prices: PriceTable) -> None:
    plain = prices.quota_for(1_000, 100, "doubao-seed-2.0-pro", None, "default")
    charge = prices.charge(Parts(1_000, 100, cache_read=600), "doubao-seed-2.0-pro", None, "default")
    assert charge.quota == plain
    assert charge.to_json()["priced_as_input_or_output"] == ["cache_read"]


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4", "claude-3-5-sonnet-20241022", "deepseek-chat", "o3-mini"])
def test_answers_without_parts_cost_what_they_cost_before(prices: PriceTable, model: str) -> None:
    custom = prices.with_overrides(model_ratio={model: 0.37}, completion_ratio={model: 2.9}, group_ratio={"vip": 0.8})
    for table in (prices, custom):
        mr, gr, cr = table.model_ratio(model), table.group_ratio("vip"), table.completion_ratio(model)
        for prompt, completion in ((1, 0), (7, 3), (1_000, 250), (123_457, 9_876)):
            before = table.quota_for(prompt, completion, model, None, "vip")
            assert table.charge(Parts(prompt, completion), model, None, "vip").quota == before
            # the general sum of parts (no shortcut) agrees with One API's formula to the unit
            assert charge(Parts(prompt, completion), mr, gr, cr, ComponentRatios()).quota == before


def test_options_replace_part_prices_and_tiers(prices: PriceTable) -> None:
    custom = prices.with_overrides(components={"cache_read": {"gpt-4o-mini": 0.25}},
                                   tiers={"gpt-4o-mini": prices.component_ratios("gpt-5.4").tiers})
    parts = Parts(400_000, 0, cache_read=200_000)
    assert custom.charge(parts, "gpt-4o-mini", None, "default").quota == ceil(
        (200_000 * 2 + 200_000 * 0.25 * 2) * 0.075)


def test_the_hold_covers_the_dearest_part_and_the_reachable_tier(prices: PriceTable) -> None:
    # a Claude prompt may be written to a 1-hour cache: held at 2× the input price
    assert prices.hold(1_000, 100, 500, "claude-sonnet-4-6", None, "default") == (1_500 * 2 + 100 * 5) * 1.5
    # counted 250,000 (under 272K) but within a quarter of it: held at the tier price
    held = prices.hold(250_000, 1_000, 0, "gpt-5.4", None, "default")
    assert held == (250_000 * 2 + 1_000 * 6 * 1.5) * 1.25
    # never below the settlement of any answer the hold allows
    for parts in (Parts(250_000, 1_000), Parts(250_000, 1_000, cache_read=250_000)):
        assert prices.charge(parts, "gpt-5.4", None, "default").quota <= held
    # models without dearer parts keep One API's exact hold
    assert prices.hold(1_000, 100, 500, "gpt-4", None, "default") == ceil((1_500 + 100 * 2) * 15)


def test_affordable_answer_and_prompt_under_a_dearer_hold(prices: PriceTable) -> None:
    budget = 10_000
    tokens = prices.affordable_completion(budget, 1_000, 500, "claude-sonnet-4-6", None, "default", 10**6)
    assert prices.hold(1_000, tokens, 500, "claude-sonnet-4-6", None, "default") <= budget
    assert prices.hold(1_000, tokens + 1, 500, "claude-sonnet-4-6", None, "default") > budget
    prompt = prices.affordable_prompt(budget, 500, "claude-sonnet-4-6", None, "default")
    assert prices.hold(prompt, 0, 500, "claude-sonnet-4-6", None, "default") <= budget
    assert prices.hold(prompt + 1, 0, 500, "claude-sonnet-4-6", None, "default") > budget
