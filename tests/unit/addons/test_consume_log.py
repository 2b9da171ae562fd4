"""ConsumeLog alone, with a fake flow and writer: one row for a billed request, none when logging is off."""

from __future__ import annotations

from proxy.addons.consume_log import ConsumeLog
from proxy.converters.base import Usage
from proxy.core.flow import Flow
from proxy.gateway.logwriter import LogRow
from proxy.gateway.state import RelayState
from rules import load_prices
from store.models import LOG_CONSUME
from tests.unit.addons.fakes import channel, make_flow, token, user


class Rows:
    def __init__(self) -> None:
        self.rows: list[LogRow] = []

    def add(self, row: LogRow) -> None:
        self.rows.append(row)


def billed_flow() -> Flow[RelayState]:
    return make_flow(billed=True, user=user(id=7), token=token(name="t1"), channel=channel(id=3), mode="chat",
                     model="gpt-4o-mini", quota=42, usage=Usage(10, 5), usage_source="upstream", stream=True)


def test_a_billed_request_writes_one_row() -> None:
    rows = Rows()
    ConsumeLog(rows, load_prices, lambda: {}).done(billed_flow())  # type: ignore[arg-type]
    [row] = rows.rows
    assert (row.user_id, row.type, row.username, row.token_name, row.model_name, row.quota) == (
        7, LOG_CONSUME, "alice", "t1", "gpt-4o-mini", 42)
    assert (row.prompt_tokens, row.completion_tokens, row.channel_id, row.is_stream) == (10, 5, 3, True)
    assert row.usage_source == "upstream" and row.request_id == "req-1"


def test_no_row_when_logging_is_off_or_nothing_was_billed() -> None:
    rows = Rows()
    ConsumeLog(rows, load_prices, lambda: {"LogConsumeEnabled": "false"}).done(billed_flow())  # type: ignore[arg-type]
    ConsumeLog(rows, load_prices, lambda: {}).done(make_flow(billed=False, user=user(), token=token()))  # type: ignore[arg-type]
    assert rows.rows == []



def test_the_breakdown_prices_every_part_exactly() -> None:
    """Every row carries its parts' prices (the console shows them, plain answers' too): per part its tokens, ratio,
    list price and quota, the exact sum's parts rounded for display only; cache reads and a tier show as such."""
    import orjson

    from proxy.addons.consume_log import detail
    from rules.charge import ComponentRatios, Parts, Tier, charge

    ratios = ComponentRatios(cache_read=0.1, tiers=(Tier(above=200_000, input=2.0, output=1.5),))
    plain = orjson.loads(detail(Usage(11, 7), charge(Parts(11, 7), 0.075, 1.0, 4.0, ratios), 0) or "")
    assert plain == {"parts": {"input": {"tokens": 11, "ratio": 1.0, "usd_per_mtok": 0.15, "quota": 0.825},
                               "output": {"tokens": 7, "ratio": 4.0, "usd_per_mtok": 0.6, "quota": 2.1}},
                     "model_ratio": 0.075, "group_ratio": 1.0}
    cached = charge(Parts(110, 7, cache_read=100), 0.075, 1.0, 4.0, ratios)
    shown = orjson.loads(detail(Usage(110, 7, cached_tokens=100), cached, 5) or "")
    assert shown["usage"] == {"cached": 100} and shown["unpaid"] == 5
    assert shown["parts"]["cache_read"] == {"tokens": 100, "ratio": 0.1, "usd_per_mtok": 0.015, "quota": 0.75}
    tiered = charge(Parts(300_000, 7), 0.075, 1.0, 4.0, ratios)
    assert orjson.loads(detail(Usage(300_000, 7), tiered, 0) or "")["parts"]["input"]["ratio"] == 2.0
