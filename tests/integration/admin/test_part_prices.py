"""The part-price options (#16) through /api/option/, and the usage breakdown through /api/log/."""

from __future__ import annotations

import time

from rules import COMPONENT_OPTIONS, TIER_OPTION
from store import logs
from store.models import LOG_CONSUME


async def _options(api) -> dict[str, str]:
    _, body = await api.call("GET", "/api/option/", who="root")
    return {o["key"]: o["value"] for o in body["data"]}


async def test_part_price_options_are_listed_saved_and_validated(api):
    listed = await _options(api)
    for name in (*COMPONENT_OPTIONS.values(), TIER_OPTION):
        assert name in listed, name                                    # editable like ModelRatio
    assert '"claude-sonnet-4-6":0.1' in listed["CacheReadRatio"]     # the defaults, with their values
    assert '"gpt-5.4":[{"above":272000,"input":2,"output":1.5}]' in listed[TIER_OPTION]
    good = [("CacheReadRatio", '{"my-model":0.25}'), (TIER_OPTION, '{"my-model":[{"above":100000,"input":2,"output":2}]}')]
    for key, value in good:
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
        assert body["success"], body
    bad = [("CacheWrite1hRatio", "{not json", "JSON 解析失败"),
           ("CacheReadRatio", '{"m":-0.1}', "non-negative numbers"),
           ("AudioOutputRatio", '{"m":"2"}', "non-negative numbers"),
           (TIER_OPTION, '{"m":{"above":1}}', "m: must be a non-empty list"),
           (TIER_OPTION, '{"m":[{"above":-1,"input":2,"output":2}]}', "above must be a non-negative integer"),
           (TIER_OPTION, '{"m":[{"above":5,"input":2}]}', "exactly the fields above, input and output"),
           (TIER_OPTION, '{"m":[{"above":5,"input":2,"output":1},{"above":5,"input":3,"output":1}]}',
            "same threshold")]
    for key, value, fragment in bad:
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
        assert body["success"] is False and fragment in body["message"] and key in body["message"], body
    after = await _options(api)
    assert after["CacheReadRatio"] == '{"my-model":0.25}'                 # the refused values changed nothing
    assert after[TIER_OPTION] == '{"my-model":[{"above":100000,"input":2,"output":2}]}'
    assert after["CacheWrite1hRatio"] == listed["CacheWrite1hRatio"]


async def test_log_rows_return_their_breakdown(api):
    alice = api.people["alice"].id
    detail = '{"usage":{"cached":48000},"parts":{"cache_read":{"tokens":48000,"ratio":0.1}}}'
    async with api.db.log_session() as s:
        await logs.add(s, user_id=alice, username="alice", type=LOG_CONSUME, content="倍率：x", model_name="m",
                       quota=22500, usage_source="upstream", usage_detail=detail, created_at=int(time.time()))
        await logs.add(s, user_id=alice, username="alice", type=LOG_CONSUME, content="倍率：y", model_name="m",
                       quota=1, created_at=int(time.time()))   # a row as One API writes it
    for path, who in (("/api/log/", "admin"), ("/api/log/self", "alice")):
        _, body = await api.call("GET", path, who=who)
        rows = sorted(body["data"], key=lambda r: r["content"])
        assert [(r["usage_source"], r["usage_detail"]) for r in rows] == [
            ("upstream", {"usage": {"cached": 48000}, "parts": {"cache_read": {"tokens": 48000, "ratio": 0.1}}}),
            ("", None)]
