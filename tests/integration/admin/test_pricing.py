"""The price page (GET /api/pricing) and root's price import from a file and from a URL (#16 item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from store import users

from .conftest import AdminApi, make_settings, start_api

# A model with its own cache and tier prices: $3 in, $15 out (ratio 1 is $2 per 1M tokens at QuotaPerUnit 500000).
OPTIONS = {
    "ModelRatio": '{"acme-claude":1.5,"acme-mini":0.075}',
    "CompletionRatio": '{"acme-claude":5,"acme-mini":4}',
    "CacheReadRatio": '{"acme-claude":0.1}',
    "CacheWrite5mRatio": '{"acme-claude":1.25}',
    "CacheWrite1hRatio": '{"acme-claude":2}',
    "LongContextRatio": '{"acme-claude":[{"above":200000,"input":2,"output":1.5}]}',
    "GroupRatio": '{"default":1,"vip":0.5}',
}


async def _put(api: AdminApi, key: str, value: str) -> None:
    _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
    assert body["success"], body


async def _options(api: AdminApi) -> dict[str, str]:
    _, body = await api.call("GET", "/api/option/", who="root")
    return {o["key"]: o["value"] for o in body["data"]}


async def _seed(api: AdminApi) -> None:
    """Prices, a channel every group uses (acme-mini) and one only vip uses (acme-claude); bob is in vip."""
    for key, value in OPTIONS.items():
        await _put(api, key, value)
    for name, models, group in (("mini", "acme-mini", "default,vip"), ("claude", "acme-claude", "vip")):
        _, body = await api.call("POST", "/api/channel/", who="root", json={
            "type": 1, "key": f"sk-{name}", "name": name, "models": models, "group": group})
        assert body["success"], body
    async with api.db.session() as s:
        await users.update_fields(s, api.people["bob"].id, {"group": "vip"})


async def test_pricing_is_refused_to_anonymous_callers_unless_public(api):
    await _seed(api)
    status, body = await api.call("GET", "/api/pricing")
    assert status == 401 and body["success"] is False and "未登录" in body["message"]
    _, body = await api.call("GET", "/api/status")
    assert body["data"]["public_pricing"] is False
    await _put(api, "PublicPricingEnabled", "true")
    status, body = await api.call("GET", "/api/pricing")
    assert status == 200 and body["success"] and body["message"] == ""
    assert body["data"]["group"] == "default" and [m["model"] for m in body["data"]["models"]] == ["acme-mini"]
    _, body = await api.call("GET", "/api/status")
    assert body["data"]["public_pricing"] is True
    _, body = await api.call("GET", "/api/pricing", headers={"Authorization": "not-a-token"})
    assert body["success"] is False                        # a wrong token is not read as anonymous
    await _put(api, "PublicPricingEnabled", "false")
    client = await api.login("alice")                       # logged-in users always see their group's page
    _, body = await api.call("GET", "/api/pricing", client=client)
    assert body["success"] and [m["model"] for m in body["data"]["models"]] == ["acme-mini"]


async def test_pricing_applies_the_group_ratio_to_every_part(api):
    await _seed(api)
    _, body = await api.call("GET", "/api/pricing", who="bob")
    data = body["data"]
    assert (data["group"], data["group_ratio"], data["quota_per_unit"]) == ("vip", 0.5, 500000)
    rows = {m["model"]: m for m in data["models"]}
    assert sorted(rows) == ["acme-claude", "acme-mini"]
    claude = rows["acme-claude"]
    # quota per token = part ratio × model ratio 1.5 × group ratio 0.5; USD per 1M = quota × 1e6 / 500000
    per_token = 1.5 * 0.5
    expected = {"input": (1, True), "output": (5, True), "cache_read": (0.1, True), "cache_write_5m": (1.25, True),
                "cache_write_1h": (2, True), "audio_input": (1, False), "audio_output": (5, False)}
    for part, (ratio, own) in expected.items():
        price = claude["parts"][part]
        assert price["quota_per_token"] == pytest.approx(ratio * per_token), part
        assert price["usd_per_mtok"] == pytest.approx(ratio * per_token * 1e6 / 500000), part
        assert price["own"] is own, part
    assert claude["parts"]["input"]["usd_per_mtok"] == 1.5 and claude["parts"]["cache_read"]["usd_per_mtok"] == 0.15
    assert claude["tiers"] == [{"above": 200000,
                                "input": {"usd_per_mtok": 3.0, "quota_per_token": 1.5},
                                "output": {"usd_per_mtok": 11.25, "quota_per_token": 5.625}}]
    _, body = await api.call("GET", "/api/pricing", who="alice")          # default group: ratio 1, full price
    mini = body["data"]["models"][0]
    assert mini["parts"]["input"]["usd_per_mtok"] == 0.15 and mini["parts"]["output"]["usd_per_mtok"] == 0.6


# The list prices of acme-claude cut to $2.50 in; acme-new priced for the first time.
PRICE_FILE: dict[str, Any] = {"source": "https://example.com/prices", "models": {
    "acme-claude": {"input": 2.5, "output": 15, "cache_read": 0.25, "cache_write_5m": 3.125, "cache_write_1h": 5,
                    "tiers": [{"above": 200000, "input": 5, "output": 22.5}]},
    "acme-new": {"input": 1, "output": 4, "cache_read": 0.25},
}}
CHANGED = {
    "ModelRatio": '{"acme-claude":1.25,"acme-mini":0.075,"acme-new":0.5}',
    "CompletionRatio": '{"acme-claude":6,"acme-mini":4,"acme-new":4}',
    "CacheReadRatio": '{"acme-claude":0.1,"acme-new":0.25}',
}


def _check_preview(data: dict[str, Any]) -> None:
    rows = {row["model"]: row for row in data["models"]}
    assert rows["acme-new"]["status"] == "added"
    claude = rows["acme-claude"]
    assert claude["status"] == "changed" and claude["removed"] == []
    # USD per 1M tokens at group ratio 1, old → new; output ($15) and the tier's prices stay as they were
    assert claude["changes"] == {"input": {"old": 3, "new": 2.5}, "cache_read": {"old": 0.3, "new": 0.25},
                                 "cache_write_5m": {"old": 3.75, "new": 3.125},
                                 "cache_write_1h": {"old": 6, "new": 5}, "audio_input": {"old": 3, "new": 2.5},
                                 "tiers": {"old": [{"above": 200000, "input": 6, "output": 22.5}],
                                           "new": [{"above": 200000, "input": 5, "output": 22.5}]}}
    assert data["options"] == ["CacheReadRatio", "CompletionRatio", "ModelRatio"]


async def _import_and_check(api: AdminApi, payload: Any) -> None:
    before = await _options(api)
    _, body = await api.call("POST", "/api/pricing/import/preview", who="root", json=payload)
    assert body["success"], body
    _check_preview(body["data"])
    assert await _options(api) == before                     # a preview writes nothing
    _, body = await api.call("POST", "/api/pricing/import", who="root", json=payload)
    assert body["success"], body
    after = await _options(api)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    assert changed == CHANGED
    _, body = await api.call("GET", "/api/pricing", who="bob")        # and the gateway bills the new prices
    claude = {m["model"]: m for m in body["data"]["models"]}["acme-claude"]
    assert claude["parts"]["input"]["usd_per_mtok"] == 1.25 and claude["parts"]["cache_read"]["usd_per_mtok"] == 0.125
    _, body = await api.call("POST", "/api/pricing/import/preview", who="root", json=payload)
    assert {r["model"]: r["status"] for r in body["data"]["models"]} == {"acme-claude": "unchanged",
                                                                       "acme-new": "unchanged"}


async def test_import_from_a_file_shows_the_diff_then_applies_exactly_it(api):
    await _seed(api)
    await _import_and_check(api, PRICE_FILE)


async def test_a_null_part_drops_the_models_own_price(api):
    await _seed(api)
    payload = {"models": {"acme-claude": {"input": 3, "output": 15, "cache_write_1h": None, "tiers": None}}}
    _, body = await api.call("POST", "/api/pricing/import", who="root", json=payload)
    row = body["data"]["models"][0]
    assert row["removed"] == ["cache_write_1h", "tiers"]
    assert row["changes"] == {"cache_write_1h": {"old": 6, "new": 3.75},   # billed at the 5-minute write price now
                              "tiers": {"old": [{"above": 200000, "input": 6, "output": 22.5}], "new": []}}
    after = await _options(api)
    assert (after["CacheWrite1hRatio"], after["LongContextRatio"]) == ("{}", "{}")


async def test_import_over_the_shipped_price_table(api):
    """The default ModelRatio (which holds a negative entry, openrouter/auto) is read, changed and kept whole."""
    before = await _options(api)
    payload = {"models": {"gpt-4o-mini": {"input": 0.3, "output": 1.2}}}
    _, body = await api.call("POST", "/api/pricing/import", who="root", json=payload)
    row = body["data"]["models"][0]
    assert row["status"] == "changed" and row["changes"]["input"] == {"old": 0.15, "new": 0.3}, body
    assert row["changes"]["output"] == {"old": 0.6, "new": 1.2}
    after = await _options(api)
    old_ratios, new_ratios = orjson.loads(before["ModelRatio"]), orjson.loads(after["ModelRatio"])
    assert new_ratios == {**old_ratios, "gpt-4o-mini": 0.15} and new_ratios["openrouter/auto"] == -500000


@pytest.fixture
async def price_server() -> AsyncIterator[TestServer]:
    """A local HTTP server answering /prices.json with PRICE_FILE, /missing with 404, /big with 5 MiB."""
    async def prices(_: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(PRICE_FILE), content_type="application/json")

    async def big(_: web.Request) -> web.Response:
        return web.Response(body=b" " * (5 * 1024 * 1024))

    app = web.Application()
    app.router.add_get("/prices.json", prices)
    app.router.add_get("/big", big)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


@pytest.fixture
async def trusting_api(db) -> AsyncIterator[AdminApi]:
    """admin_api allowed to fetch from 127.0.0.1 (IMAGE_FETCH_ALLOW_HOSTS), with root and an admin."""
    api = await start_api(db, make_settings(image_fetch_allow_hosts=("127.0.0.1",)))
    await api.add_user("admin", role=10)
    await api.add_user("bob")
    try:
        yield api
    finally:
        await api.close()
        await api.server.close()


async def test_import_from_a_url_on_an_allowed_host(trusting_api, price_server):
    api = trusting_api
    await _seed(api)
    url = str(price_server.make_url("/prices.json"))
    await _import_and_check(api, {"url": url})
    before = await _options(api)
    for path, fragment in (("/missing", "HTTP 404"), ("/big", "超过")):
        _, body = await api.call("POST", "/api/pricing/import", who="root",
                                 json={"url": str(price_server.make_url(path))})
        assert body["success"] is False and fragment in body["message"], body
    assert await _options(api) == before


async def test_a_url_on_an_internal_host_is_refused_unless_allow_listed(api, price_server):
    await _seed(api)
    before = await _options(api)
    _, body = await api.call("POST", "/api/pricing/import/preview", who="root",
                             json={"url": str(price_server.make_url("/prices.json"))})
    assert body["success"] is False and "IMAGE_FETCH_ALLOW_HOSTS" in body["message"], body
    assert await _options(api) == before


MALFORMED: list[tuple[Any, str]] = [
    (b"{not json", "not valid JSON"),
    ([1, 2], '"models" object'),
    ({"models": {}}, "names no model"),
    ({"models": {"m": {"input": 1}}}, "models.m: input and output are required"),
    ({"models": {"m": {"input": -1, "output": 1}}}, "models.m.input: must be a non-negative number"),
    ({"models": {"m": {"input": "1", "output": 1}}}, "models.m.input: must be a non-negative number"),
    ({"models": {"m": {"input": 1, "output": 1, "cache_reed": 0.1}}}, "unknown field 'cache_reed'"),
    ({"models": {"m": {"input": 0, "output": 1}}}, "with input 0 every other price must be 0"),
    ({"models": {"m": {"input": 1, "output": 1, "tiers": [{"above": 5, "input": 2}]}}},
     "models.m.tiers[0]: needs exactly the fields above, input and output"),
    ({"models": {"ok": {"input": 1, "output": 2}, "m": {"input": 1, "output": True}}}, "models.m.output"),
    ({"models": {"m": {"input": 1, "output": 1}}, "extra": 1}, "unknown top-level field 'extra'"),
    ({"url": 5}, "url"),
    ({"url": "file:///etc/passwd"}, "http://"),
]


async def test_malformed_files_are_refused_and_change_nothing(api):
    await _seed(api)
    before = await _options(api)
    for payload, fragment in MALFORMED:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        for path in ("/api/pricing/import/preview", "/api/pricing/import"):
            status, body = await api.call("POST", path, who="root", data=data)
            assert status == 200 and body["success"] is False, (payload, body)
            assert "价格文件" in body["message"] and fragment in body["message"], (payload, body)
    assert await _options(api) == before


async def test_only_root_imports_prices(api):
    await _seed(api)
    before = await _options(api)
    for who in ("admin", "alice", None):
        for path in ("/api/pricing/import/preview", "/api/pricing/import"):
            _, body = await api.call("POST", path, who=who, json=PRICE_FILE)
            assert body["success"] is False, (who, body)
    assert await _options(api) == before
