"""Quick checks that the app answers."""

from __future__ import annotations


async def test_status_and_login(api):
    status, body = await api.call("GET", "/api/status")
    assert status == 200 and body["success"] and body["data"]["system_name"] == "One API"
    client = await api.login("alice")
    status, body = await api.call("GET", "/api/user/self", client=client)
    assert body["success"] and body["data"]["username"] == "alice"
    assert body["data"]["access_token"] == "" and body["data"]["password"] == ""
    status, body = await api.call("GET", "/api/user/self")
    assert status == 401
    status, body = await api.call("GET", "/api/nope")
    assert status == 404 and body["error"]["message"] == "Invalid URL (GET /api/nope)"


async def test_missing_trailing_slash_redirects_keeping_the_method(api):
    client = await api.client()
    async with client.get("/api/token", allow_redirects=False) as resp:
        assert resp.status == 308 and resp.headers["Location"] == "/api/token/"
    status, body = await api.call("GET", "/api/token", who="alice")
    assert status == 200 and body["data"][0]["name"] == "default"
