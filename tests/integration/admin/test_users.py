"""Users: registration with bonuses, login, self service, admin management, and sessions that follow changes."""

from __future__ import annotations

from store import logs, users
from store.models import LOG_CONSUME

from .conftest import PASSWORD


async def _options(api, **values):
    for key, value in values.items():
        status, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": str(value)})
        assert body["success"], body


async def test_register_with_invite_bonuses_and_login(api):
    await _options(api, QuotaForNewUser=100, QuotaForInviter=7, QuotaForInvitee=3)
    status, body = await api.call("GET", "/api/user/aff", who="alice")
    aff = body["data"]
    assert len(aff) == 4
    _, body = await api.call("POST", "/api/user/register",
                             json={"username": "carol", "password": "password123", "aff_code": aff})
    assert body == {"success": True, "message": ""}
    _, body = await api.call("POST", "/api/user/register", json={"username": "carol", "password": "password123"})
    assert body["success"] is False and body["message"] == "用户名已存在"
    _, body = await api.call("POST", "/api/user/register", json={"username": "dave", "password": "short"})
    assert body["message"] == "无效的输入，请检查您的输入"
    client = await api.client()
    _, body = await api.call("POST", "/api/user/login", client=client,
                             json={"username": "carol", "password": "password123"})
    assert body["success"] and body["data"]["username"] == "carol" and body["data"]["quota"] == 0
    _, me = await api.call("GET", "/api/user/self", client=client)
    assert me["data"]["quota"] == 103 and me["data"]["inviter_id"] == api.people["alice"].id
    _, alice = await api.call("GET", "/api/user/self", who="alice")
    assert alice["data"]["quota"] == 7
    _, toks = await api.call("GET", "/api/token/", client=client)
    assert [t["name"] for t in toks["data"]] == ["default"] and toks["data"][0]["unlimited_quota"]
    _, own = await api.call("GET", "/api/log/self", client=client)
    assert {row["content"][:5] for row in own["data"]} == {"新用户注册", "使用邀请码"}
    _, body = await api.call("POST", "/api/user/login", json={"username": "carol", "password": "wrong-password"})
    assert body == {"success": False, "message": "用户名或密码错误，或用户已被封禁"}


async def test_registration_switches(api):
    await _options(api, RegisterEnabled="false")
    _, body = await api.call("POST", "/api/user/register", json={"username": "x1", "password": "password123"})
    assert body["message"] == "管理员关闭了新用户注册"
    await _options(api, RegisterEnabled="true", PasswordLoginEnabled="false")
    _, body = await api.call("POST", "/api/user/login", json={"username": "alice", "password": PASSWORD})
    assert body["message"] == "管理员关闭了密码登录"
    await _options(api, EmailVerificationEnabled="true")
    _, body = await api.call("POST", "/api/user/register", json={"username": "x2", "password": "password123"})
    assert body["message"] == "管理员开启了邮箱验证，请输入邮箱地址和验证码"


async def test_self_update_delete_and_access_token(api):
    client = await api.login("alice")
    _, body = await api.call("PUT", "/api/user/self", client=client,
                             json={"display_name": "Alice A", "password": "newpassword1"})
    assert body["success"]
    _, body = await api.call("PUT", "/api/user/self", client=client, json={"username": "bob"})
    assert body["message"] == "用户名已存在"
    await api.login("alice", "newpassword1")
    _, body = await api.call("GET", "/api/user/token", client=client)
    new_token = body["data"]
    assert len(new_token) == 32
    _, body = await api.call("GET", "/api/user/self", headers={"Authorization": f"Bearer {new_token}"})
    assert body["data"]["display_name"] == "Alice A"
    _, body = await api.call("GET", "/api/user/self", who="alice")   # the old token
    assert body["message"] == "无权进行此操作，access token 无效"
    _, body = await api.call("DELETE", "/api/user/self", client=client)
    assert body["success"]
    status, _ = await api.call("GET", "/api/user/self", client=client)
    assert status == 401
    _, body = await api.call("GET", "/api/user/self", headers={"Authorization": new_token})
    assert body["message"] == "无权进行此操作，access token 无效"
    _, body = await api.call("DELETE", "/api/user/self", who="root")
    assert body["message"] == "不能删除超级管理员账户"


async def test_sessions_follow_role_and_status_changes(api):
    alice, admin = await api.login("alice"), await api.login("admin")
    _, body = await api.call("GET", "/api/user/", client=admin)
    assert body["success"]
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "admin", "action": "demote"})
    assert body["data"] == {"role": 1, "status": 1}
    _, body = await api.call("GET", "/api/user/", client=admin)
    assert body["message"] == "无权进行此操作，权限不足"
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "disable"})
    assert body["data"]["status"] == 2
    status, _ = await api.call("GET", "/api/user/self", client=alice)   # disabling ended the session
    assert status == 401
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "enable"})
    bob = await api.login("bob")
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "bob", "action": "delete"})
    assert body.get("data", {}).get("status") == 3, body
    status, body = await api.call("GET", "/api/user/self", client=bob)
    assert status == 401, body


async def test_admin_role_rules(api):
    cases = [
        ("admin", {"username": "root", "action": "disable"}, "无权更新同权限等级或更高权限等级的用户信息"),
        ("root", {"username": "root", "action": "disable"}, "无法禁用超级管理员用户"),
        ("admin", {"username": "alice", "action": "promote"}, "普通管理员用户无法提升其他用户为管理员"),
        ("root", {"username": "admin", "action": "promote"}, "该用户已经是管理员"),
        ("root", {"username": "alice", "action": "demote"}, "该用户已经是普通用户"),
        ("root", {"username": "nobody", "action": "enable"}, "用户不存在"),
        ("root", {"username": "alice", "action": "explode"}, "无效的参数"),
    ]
    for who, payload, message in cases:
        _, body = await api.call("POST", "/api/user/manage", who=who, json=payload)
        assert body == {"success": False, "message": message}, (payload, body)
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "promote"})
    assert body["data"] == {"role": 10, "status": 1}
    _, body = await api.call("GET", f"/api/user/{api.people['alice'].id}", who="admin")
    assert body["message"] == "无权获取同级或更高等级用户的信息"
    _, body = await api.call("POST", "/api/user/", who="admin",
                             json={"username": "eve", "password": "password123", "role": 10})
    assert body["message"] == "无法创建权限大于等于自己的用户"
    _, body = await api.call("POST", "/api/user/", who="admin", json={"username": "eve", "password": "password123"})
    assert body["success"]
    _, body = await api.call("DELETE", f"/api/user/{api.people['root'].id}", who="admin")
    assert body["message"] == "无权删除同权限等级或更高权限等级的用户"


async def test_admin_listing_search_update_and_topup(api):
    _, body = await api.call("GET", "/api/user/?p=0&order=quota", who="admin")
    names = [u["username"] for u in body["data"]]
    assert "ghost" not in names and "root" in names
    assert all(u["access_token"] == "" and u["password"] == "" for u in body["data"])
    _, body = await api.call("GET", "/api/user/search?keyword=al", who="admin")
    assert [u["username"] for u in body["data"]] == ["alice"]
    _, body = await api.call("GET", "/api/user/search?keyword=%25", who="admin")   # a literal %, not a wildcard
    assert body["data"] == []
    alice_id = api.people["alice"].id
    _, body = await api.call("PUT", "/api/user/", who="admin", json={"id": alice_id, "quota": 500, "group": "vip"})
    assert body["success"]
    _, body = await api.call("POST", "/api/topup", who="admin", json={"user_id": alice_id, "quota": 25, "remark": ""})
    assert body["success"]
    _, body = await api.call("POST", "/api/topup", who="admin", json={"user_id": alice_id, "quota": -1})
    assert body["message"] == "quota 不能为负数！"
    _, body = await api.call("GET", f"/api/user/{alice_id}", who="admin")
    assert body["data"]["quota"] == 525 and body["data"]["group"] == "vip"
    _, body = await api.call("GET", "/api/log/?type=3", who="admin")
    assert body["data"][0]["content"].startswith("管理员将用户额度从")
    _, body = await api.call("PUT", "/api/user/", who="admin", json={"id": api.people["root"].id, "quota": 1})
    assert body["message"] == "无权更新同权限等级或更高权限等级的用户信息"
    _, body = await api.call("DELETE", f"/api/user/{alice_id}", who="admin")
    assert body == {"success": True, "message": ""}


async def test_dashboard_and_available_models(api):
    alice_id = api.people["alice"].id
    async with api.db.log_session() as s:
        for model, quota in (("gpt-4", 10), ("gpt-4", 5), ("claude", 1)):
            await logs.add(s, user_id=alice_id, type=LOG_CONSUME, content="", model_name=model, quota=quota,
                           prompt_tokens=2, completion_tokens=3, username="alice")
    _, body = await api.call("GET", "/api/user/dashboard", who="alice")
    rows = {r["ModelName"]: r for r in body["data"]}
    assert rows["gpt-4"]["Quota"] == 15 and rows["gpt-4"]["RequestCount"] == 2 and rows["claude"]["PromptTokens"] == 2
    _, body = await api.call("GET", "/api/user/dashboard", who="bob")
    assert body["data"] == []
    await api.call("POST", "/api/channel/", who="admin",
                   json={"type": 1, "key": "k", "name": "c", "models": "b-model, a-model", "group": "default"})
    _, body = await api.call("GET", "/api/user/available_models", who="alice")
    assert body["data"] == ["a-model", "b-model"]
    async with api.db.session() as s:
        assert (await users.get(s, alice_id)).group == "default"

