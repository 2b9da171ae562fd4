"""InfoAnswers alone, with a fake flow, caches and ledger: the models a token may use, one model, the billing
compatibility figures, and 501 for what One API does not implement."""

from __future__ import annotations

import orjson

from proxy.addons.info import InfoAnswers
from rules import load_catalog
from tests.unit.addons.fakes import FakeCaches, FakeLedger, channel, make_flow, token, user


def answers(options: dict[str, str] | None = None) -> InfoAnswers:
    caches = FakeCaches([token(used_quota=250_000)], [user()], [channel(models=("gpt-4o-mini", "my-own-model"))])
    return InfoAnswers(load_catalog(), caches, FakeLedger(token_balance=250_000), lambda: options or {})  # type: ignore[arg-type]


async def test_models_are_the_tokens_allow_list_else_the_groups() -> None:
    flow = make_flow("/v1/models", token=token(models=("gpt-4o-mini",)), user=user())
    await answers().request(flow)
    assert flow.response is not None and flow.response.status == 200
    assert [m["id"] for m in orjson.loads(flow.response.body)["data"]] == ["gpt-4o-mini"]
    flow = make_flow("/v1/models", token=token(), user=user())
    await answers().request(flow)
    listed = {m["id"]: m["owned_by"] for m in orjson.loads(flow.response.body)["data"]}  # type: ignore[union-attr]
    assert listed["my-own-model"] == "custom" and set(listed) == {"gpt-4o-mini", "my-own-model"}


async def test_an_unknown_model_is_a_200_error_object_as_in_one_api() -> None:
    flow = make_flow("/v1/models/nope", match_info={"model": "nope"}, token=token(), user=user())
    await answers().request(flow)
    assert flow.response is not None and flow.response.status == 200
    assert orjson.loads(flow.response.body)["error"]["code"] == "model_not_found"


async def test_the_subscription_shows_the_tokens_remain_plus_used_in_dollars() -> None:
    flow = make_flow("/dashboard/billing/subscription", token=token(), user=user())
    await answers().request(flow)
    assert flow.response is not None   # remain from the ledger, used from the token's fresh record
    assert orjson.loads(flow.response.body)["hard_limit_usd"] == 1.0   # (250 000 + 250 000) / 500 000


async def test_what_one_api_does_not_implement_is_a_501() -> None:
    flow = make_flow("/v1/files", token=token(), user=user())
    await answers().request(flow)
    assert flow.response is not None and flow.response.status == 501
    assert orjson.loads(flow.response.body)["error"]["code"] == "api_not_implemented"
