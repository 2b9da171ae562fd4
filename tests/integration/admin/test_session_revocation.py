"""Sessions end for good: a copied session cookie stops working after logout, a password change, a
disable, a delete or "log out everywhere", on every backend."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

from admin_api.auth import NOT_LOGGED_IN
from store import sessions
from store.models import ROLE_ADMIN

from .conftest import PASSWORD, start_api


def _cookie(client: TestClient) -> str:
    """The session cookie as an attacker would copy it."""
    (value,) = [c.value for c in client.session.cookie_jar if c.key == "session"]
    return value


async def _self(api, cookie: str) -> tuple[int, dict]:
    """GET /api/user/self with nothing but the copied cookie."""
    return await api.call("GET", "/api/user/self", headers={"Cookie": f"session={cookie}"})


async def _refused(api, cookie: str) -> None:
    status, body = await _self(api, cookie)
    assert (status, body) == (401, {"success": False, "message": NOT_LOGGED_IN})


async def _accepted(api, cookie: str, username: str) -> None:
    status, body = await _self(api, cookie)
    assert status == 200 and body["data"]["username"] == username, body


async def test_logout_ends_that_session_only(api):
    laptop, phone = await api.login("alice"), await api.login("alice")
    copied = _cookie(laptop)
    await _accepted(api, copied, "alice")
    _, body = await api.call("GET", "/api/user/logout", client=laptop)
    assert body["success"]
    await _refused(api, copied)
    status, _ = await api.call("GET", "/api/user/self", client=laptop)
    assert status == 401
    await _accepted(api, _cookie(phone), "alice")


async def test_password_change_ends_every_other_session(api):
    browser, other = await api.login("alice"), await api.login("alice")
    copied, other_cookie = _cookie(browser), _cookie(other)
    _, body = await api.call("PUT", "/api/user/self", client=browser, json={"password": "brand-new-pass"})
    assert body["success"], body
    await _refused(api, copied)
    await _refused(api, other_cookie)
    await _accepted(api, _cookie(browser), "alice")   # the browser that changed it got a new session
    await api.login("alice", "brand-new-pass")
    _, body = await api.call("POST", "/api/user/login", json={"username": "alice", "password": PASSWORD})
    assert body["success"] is False


async def test_password_set_by_an_admin_ends_the_users_sessions(api):
    copied = _cookie(await api.login("alice"))
    _, body = await api.call("PUT", "/api/user/", who="root",
                             json={"id": api.people["alice"].id, "password": "set-by-admin1"})
    assert body["success"], body
    await _refused(api, copied)


async def test_disable_ends_sessions_and_enable_does_not_revive_them(api):
    copied = _cookie(await api.login("alice"))
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "disable"})
    assert body["success"], body
    await _refused(api, copied)
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "enable"})
    assert body["success"], body
    await _refused(api, copied)
    await api.login("alice")
    copied = _cookie(await api.login("bob"))
    _, body = await api.call("PUT", "/api/user/", who="root", json={"id": api.people["bob"].id, "status": 2})
    assert body["success"], body
    await _refused(api, copied)


async def test_delete_ends_sessions(api):
    alice, bob = _cookie(await api.login("alice")), _cookie(await api.login("bob"))
    _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": "alice", "action": "delete"})
    assert body["success"], body
    await _refused(api, alice)
    _, body = await api.call("DELETE", f"/api/user/{api.people['bob'].id}", who="root")
    assert body["success"], body
    await _refused(api, bob)


async def test_log_out_everywhere(api):
    first, second = await api.login("admin"), await api.login("admin")
    copies = [_cookie(first), _cookie(second)]
    bob = _cookie(await api.login("bob"))
    _, body = await api.call("POST", "/api/user/logout_all", client=second)
    assert body == {"success": True, "message": ""}
    for copied in copies:
        await _refused(api, copied)
    await _accepted(api, bob, "bob")
    _, body = await api.call("POST", "/api/user/logout_all", who="bob")   # by access token too
    assert body["success"]
    await _refused(api, bob)


async def test_a_cookie_without_a_login_session_is_refused(api):
    """A cookie of the old shape (user id only) or whose session row is gone is not a login."""
    client = await api.login("admin")
    copied = _cookie(client)
    async with api.db.session() as s:
        await sessions.end_all(s, api.people["admin"].id)
    await _refused(api, copied)
    async with api.db.session() as s:
        assert await sessions.user_of(s, api.people["admin"].id, "made-up", 3600) is None
    await api.add_user("carol", role=ROLE_ADMIN)
    await _accepted(api, _cookie(await api.login("carol")), "carol")


async def test_logout_on_one_node_ends_the_session_on_another(api):
    """Two admin_api processes on one database (two nodes with the same SESSION_SECRET)."""
    other = await start_api(api.db, api.settings)
    try:
        other.people = api.people
        copied = _cookie(await api.login("alice"))
        await _accepted(other, copied, "alice")
        _, body = await api.call("GET", "/api/user/logout", headers={"Cookie": f"session={copied}"})
        assert body["success"]
        await _refused(other, copied)
        await _refused(api, copied)
    finally:
        await other.close()
        await other.server.close()


async def test_a_user_keeps_at_most_the_newest_sessions(api, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_PER_USER", 3)
    cookies = [_cookie(await api.login("alice")) for _ in range(5)]
    bob = _cookie(await api.login("bob"))
    for old in cookies[:2]:
        await _refused(api, old)
    for kept in cookies[2:]:
        await _accepted(api, kept, "alice")
    await _accepted(api, bob, "bob")


async def test_password_reset_by_mail_ends_sessions(api, smtp):
    for key, value in {"SMTPServer": "127.0.0.1", "SMTPPort": str(smtp.port), "SMTPFrom": "noreply@example.com",
                       "ServerAddress": "https://gw.example.com"}.items():
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
        assert body["success"], body
    _, body = await api.call("PUT", "/api/user/", who="root",
                             json={"id": api.people["alice"].id, "email": "alice@example.com"})
    assert body["success"], body
    copied = _cookie(await api.login("alice"))
    _, body = await api.call("GET", "/api/reset_password?email=alice@example.com")
    assert body["success"], body
    html = next(p for p in smtp.messages[-1].walk() if p.get_content_type() == "text/html")
    token = re.search(r"token=(\w{32})", html.get_payload(decode=True).decode("utf-8")).group(1)
    _, body = await api.call("POST", "/api/user/reset", json={"email": "alice@example.com", "token": token})
    assert body["success"], body
    await _refused(api, copied)
