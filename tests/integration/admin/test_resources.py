"""Tokens, channels with their abilities, redemption codes, logs and options, on every backend."""

from __future__ import annotations

import asyncio
import time

from store import channels, logs
from store.models import LOG_CONSUME


async def test_token_crud_validation_and_status_rules(api):
    _, body = await api.call("POST", "/api/token/", who="alice",
                             json={"name": "ci", "remain_quota": 0, "models": " gpt-4 , gpt-4o ,", "subnet": "10.0.0.0/8"})
    token = body["data"]
    assert token["status"] == 1 and token["expired_time"] == -1 and len(token["key"]) == 48
    assert token["models"] == "gpt-4,gpt-4o"
    for payload, message in (({"name": "x" * 31}, "参数错误：令牌名称过长"),
                             ({"name": "n", "subnet": "10.0.0.1"}, "参数错误：无效的网段：invalid CIDR address: 10.0.0.1")):
        _, body = await api.call("POST", "/api/token/", who="alice", json=payload)
        assert body["message"] == message
    _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token["id"], "status": 2})
    assert body["data"]["status"] == 2
    _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token["id"], "status": 1})
    assert body["message"].startswith("令牌可用额度已用尽")
    _, body = await api.call("PUT", "/api/token/", who="alice",
                             json={"id": token["id"], "name": "ci2", "remain_quota": 10, "expired_time": 1})
    assert body["data"]["name"] == "ci2" and body["data"]["status"] == 2
    _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token["id"], "status": 1})
    assert body["message"].startswith("令牌已过期")
    await api.call("PUT", "/api/token/", who="alice",
                   json={"id": token["id"], "name": "ci2", "remain_quota": 10, "expired_time": int(time.time()) + 99})
    _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token["id"], "status": 1})
    assert body["data"]["status"] == 1
    _, body = await api.call("GET", "/api/token/search?keyword=ci", who="alice")
    assert [t["id"] for t in body["data"]] == [token["id"]]
    _, body = await api.call("GET", "/api/token/search?keyword=_", who="alice")   # `_` is literal
    assert body["data"] == []
    _, body = await api.call("GET", "/api/token/?order=remain_quota", who="alice")
    assert body["data"][0]["name"] == "default"
    _, body = await api.call("DELETE", f"/api/token/{token['id']}", who="alice")
    assert body["success"]


async def test_channel_crud_and_abilities(api):
    _, body = await api.call("POST", "/api/channel/", who="admin", json={
        "type": 1, "name": "batch", "key": "k1\n\n k2 \r\nk3", "models": "gpt-4, gpt-4o,gpt-4", "group": "default, vip",
        "priority": 5, "model_mapping": "{\"gpt-4\": \"gpt-4o\"}"})
    assert body == {"success": True, "message": ""}
    _, body = await api.call("GET", "/api/channel/?p=0", who="admin")
    made = body["data"]
    assert len(made) == 3 and all(c["key"] == "" and c["models"] == "gpt-4,gpt-4o" for c in made)
    async with api.db.session() as s:
        assert sorted([(await channels.get(s, c["id"])).key for c in made]) == ["k1", "k2", "k3"]
        rows = await channels.abilities_of(s, made[0]["id"])
    assert {(a.group, a.model, a.priority, a.enabled) for a in rows} == {
        (g, m, 5, True) for g in ("default", "vip") for m in ("gpt-4", "gpt-4o")}
    first = made[0]["id"]
    _, body = await api.call("PUT", "/api/channel/", who="admin",
                             json={"id": first, "models": "o1", "group": "svip", "status": 2, "priority": 0})
    assert body["data"]["models"] == "o1" and body["data"]["key"] == ""
    async with api.db.session() as s:
        assert [(a.group, a.model, a.enabled, a.priority) for a in await channels.abilities_of(s, first)] == [
            ("svip", "o1", False, 0)]
    for payload, message in (({"id": first, "model_mapping": "[1]"}, "模型重定向 必须是一个 JSON 对象"),
                             ({"id": first, "group": "g" * 40}, "分组名称过长（最多 32 个字符）"),
                             ({"id": first, "type": 9999}, "无效的渠道类型")):
        _, body = await api.call("PUT", "/api/channel/", who="admin", json=payload)
        assert body["message"] == message
    _, body = await api.call("GET", "/api/channel/search?keyword=bat", who="admin")
    assert len(body["data"]) == 3
    _, body = await api.call("DELETE", "/api/channel/disabled", who="admin")
    assert body["data"] == 1
    async with api.db.session() as s:
        assert await channels.abilities_of(s, first) == []
    _, body = await api.call("DELETE", f"/api/channel/{made[1]['id']}", who="admin")
    assert body["success"]
    _, body = await api.call("GET", f"/api/channel/{made[1]['id']}", who="admin")
    assert body["message"] == "渠道不存在"
    status, body = await api.call("GET", "/api/channel/models", who="admin")
    assert body["object"] == "list" and body["data"][0]["object"] == "model"
    _, body = await api.call("GET", "/api/models", who="alice")
    assert "gpt-4" in body["data"]["1"]


async def test_concurrent_channel_edits_keep_abilities_consistent(api):
    await api.call("POST", "/api/channel/", who="admin",
                   json={"type": 1, "name": "race", "key": "k", "models": "m0", "group": "default"})
    _, body = await api.call("GET", "/api/channel/", who="admin")
    channel_id = body["data"][0]["id"]

    async def edit(i: int) -> None:
        models = ",".join(f"m{i}-{j}" for j in range(i % 3 + 1))
        _, answer = await api.call("PUT", "/api/channel/", who="admin",
                                   json={"id": channel_id, "models": models, "group": f"g{i % 2},default",
                                         "priority": i})
        assert answer["success"], answer

    await asyncio.gather(*(edit(i) for i in range(12)))
    async with api.db.session() as s:
        channel = await channels.get(s, channel_id)
        rows = await channels.abilities_of(s, channel_id)
    expected = {(g, m, channel.priority) for g in channel.group.split(",") for m in channel.models.split(",")}
    assert {(a.group, a.model, a.priority) for a in rows} == expected and len(rows) == len(expected)


async def test_twenty_concurrent_redemptions_of_one_code(api):
    _, body = await api.call("POST", "/api/redemption/", who="admin", json={"name": "race", "quota": 1000, "count": 1})
    code = body["data"][0]
    for who in ("alice", "bob"):
        await api.call("GET", "/api/user/self", who=who)
    callers = ["alice", "bob"] * 10
    results = await asyncio.gather(*(api.call("POST", "/api/user/topup", who=w, json={"key": code}) for w in callers))
    wins = [b for _, b in results if b["success"]]
    assert len(wins) == 1 and wins[0]["data"] == 1000
    assert {b["message"] for _, b in results if not b["success"]} == {"兑换失败，该兑换码已被使用"}
    quotas = [(await api.call("GET", "/api/user/self", who=w))[1]["data"]["quota"] for w in ("alice", "bob")]
    assert sorted(quotas) == [0, 1000]


async def test_redemption_routes(api):
    for payload, message in (({"name": "", "count": 1}, "兑换码名称长度必须在1-20之间"),
                             ({"name": "a", "count": 0}, "兑换码个数必须大于0"),
                             ({"name": "a", "count": 101}, "一次兑换码批量生成的个数不能大于 100")):
        _, body = await api.call("POST", "/api/redemption/", who="admin", json=payload)
        assert body["message"] == message
    _, body = await api.call("POST", "/api/redemption/", who="admin", json={"name": "promo", "quota": 5, "count": 3})
    keys = body["data"]
    assert len(set(keys)) == 3 and all(len(k) == 32 for k in keys)
    _, text = await api.call("GET", "/api/redemption/export?keyword=promo&status=1", who="admin")
    assert text.split() == keys
    _, body = await api.call("GET", "/api/redemption/search?keyword=pro", who="admin")
    code = body["data"][0]
    _, body = await api.call("PUT", "/api/redemption/?status_only=1", who="admin", json={"id": code["id"], "status": 2})
    assert body["data"]["status"] == 2
    _, body = await api.call("POST", "/api/user/topup", who="alice", json={"key": code["key"]})
    assert body["message"] == "兑换失败，该兑换码已被使用"
    _, body = await api.call("POST", "/api/user/topup", who="alice", json={"key": "nope"})
    assert body["message"] == "兑换失败，无效的兑换码"
    _, body = await api.call("PUT", "/api/redemption/", who="admin", json={"id": code["id"], "name": "renamed", "quota": 9})
    assert body["data"]["name"] == "renamed" and body["data"]["quota"] == 9
    _, body = await api.call("GET", f"/api/redemption/{code['id']}", who="admin")
    assert body["data"]["name"] == "renamed"
    _, body = await api.call("GET", "/api/redemption/?p=0", who="admin")
    assert len(body["data"]) == 3
    _, body = await api.call("DELETE", f"/api/redemption/{code['id']}", who="admin")
    assert body["success"]


async def _seed_logs(api):
    now = int(time.time())
    async with api.db.log_session() as s:
        for who, model, quota, ts in (("alice", "gpt-4", 10, now - 100), ("alice", "o1", 20, now),
                                      ("bob", "gpt-4", 40, now)):
            await logs.add(s, user_id=api.people[who].id, username=who, type=LOG_CONSUME, content="倍率：x",
                           model_name=model, quota=quota, token_name="default", channel_id=7, created_at=ts)
        await logs.add(s, user_id=api.people["alice"].id, username="alice", type=1, content="100%_off", created_at=now)
    return now


async def test_logs_filters_stats_search_and_purge(api):
    now = await _seed_logs(api)
    _, body = await api.call("GET", "/api/log/?type=2&model_name=gpt-4", who="admin")
    assert sorted(r["username"] for r in body["data"]) == ["alice", "bob"]
    _, body = await api.call("GET", f"/api/log/?username=alice&start_timestamp={now - 10}&channel=7", who="admin")
    assert [r["model_name"] for r in body["data"]] == ["o1"]
    _, body = await api.call("GET", "/api/log/stat?username=alice&type=1", who="admin")
    assert body["data"] == {"quota": 30}
    _, body = await api.call("GET", "/api/log/self/stat?model_name=gpt-4", who="alice")
    assert body["data"] == {"quota": 10}
    _, body = await api.call("GET", "/api/log/self", who="bob")
    assert [(r["model_name"], r["id"]) for r in body["data"]] == [("gpt-4", 0)]
    _, body = await api.call("GET", "/api/log/search?keyword=100%25_", who="admin")
    assert [r["content"] for r in body["data"]] == ["100%_off"]
    _, body = await api.call("GET", "/api/log/search?keyword=%25", who="admin")
    assert body["data"] == []
    _, body = await api.call("GET", "/api/log/search?keyword=2", who="admin")
    assert len(body["data"]) == 3
    _, body = await api.call("GET", "/api/log/self/search?keyword=1", who="alice")
    assert [r["content"] for r in body["data"]] == ["100%_off"]
    _, body = await api.call("DELETE", "/api/log/", who="admin")
    assert body["message"] == "target timestamp is required"
    _, body = await api.call("DELETE", f"/api/log/?target_timestamp={now - 50}", who="admin")
    assert body["data"] == 1


async def test_options_hide_secrets_and_validate_before_saving(api):
    for key in ("TurnstileSecretKey", "SMTPToken", "GitHubClientSecret"):
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": "s3cret"})
        assert body["success"]
    _, body = await api.call("GET", "/api/option/", who="root")
    listed = {o["key"]: o["value"] for o in body["data"]}
    assert "TurnstileSecretKey" not in listed and "SMTPToken" not in listed and "s3cret" not in listed.values()
    assert listed["SystemName"] == "One API" and "ModelRatio" in listed
    bad = [({"key": "ModelRatio", "value": "{not json"}, "JSON 解析失败"),
           ({"key": "GroupRatio", "value": "[1,2]"}, "倍率必须是"),
           ({"key": "Theme", "value": "pink"}, "无效的主题"),
           ({"key": "GitHubOAuthEnabled", "value": "true"}, "无法启用 GitHub OAuth"),
           ({"key": "QuotaForNewUser", "value": "-5"}, "必须是非负整数"),
           ({"key": "NoSuchKey", "value": "1"}, "未知的配置项")]
    for payload, fragment in bad:
        _, body = await api.call("PUT", "/api/option/", who="root", json=payload)
        assert body["success"] is False and fragment in body["message"], body
    _, body = await api.call("GET", "/api/option/", who="root")
    assert {o["key"]: o["value"] for o in body["data"]}["ModelRatio"] == listed["ModelRatio"]
    status, body = await api.call("PUT", "/api/option/", who="root", data=b"{broken",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and body == {"success": False, "message": "无效的参数"}
    await api.call("PUT", "/api/option/", who="root", json={"key": "GroupRatio", "value": "{\"default\":1,\"vip\":2}"})
    _, body = await api.call("GET", "/api/group/", who="admin")
    assert body["data"] == ["default", "vip"]
    await api.call("PUT", "/api/option/", who="root", json={"key": "Notice", "value": "hello"})
    _, body = await api.call("GET", "/api/notice")
    assert body["data"] == "hello"
    for path in ("/api/about", "/api/home_page_content"):
        _, body = await api.call("GET", path)
        assert body == {"success": True, "message": "", "data": ""}
