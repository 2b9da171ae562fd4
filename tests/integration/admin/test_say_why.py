"""Issue #18 item 4 on the admin API, every backend: token statuses as One API accepts them, failed channel tests
recorded, and a request id on every answer."""

from __future__ import annotations

from store import channels

from .fakes import Recorder, replying, serve

REQUEST_ID = "X-Oneapi-Request-Id"


async def test_status_only_accepts_one_apis_expired_and_exhausted(api):
    _, body = await api.call("POST", "/api/token/", who="alice", json={"name": "t", "unlimited_quota": True})
    token_id = body["data"]["id"]
    for status in (3, 4, 2):   # expired, exhausted (as One API's console and scripts set them), disabled
        _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token_id, "status": status})
        assert body["success"] and body["data"]["status"] == status, body
        _, body = await api.call("GET", f"/api/token/{token_id}", who="alice")
        assert body["data"]["status"] == status
    for bad in (0, 5):
        _, body = await api.call("PUT", "/api/token/?status_only=1", who="alice", json={"id": token_id, "status": bad})
        assert body["success"] is False


async def test_a_failed_channel_test_records_its_test_time_and_no_response_time(api):
    _, body = await api.call("POST", "/api/channel/", who="admin",
                             json={"type": 1, "key": "sk-upstream", "name": "ch", "models": "gpt-4", "group": "default"})
    _, body = await api.call("GET", "/api/channel/", who="admin")
    channel_id = body["data"][0]["id"]
    async with api.db.session() as s:
        await channels.record_test(s, channel_id, 420, 1)   # an earlier test that worked
    error = {"error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}}
    proxy = await serve({("POST", "/v1/chat/completions"): replying(error, 401)}, Recorder(), port=api.settings.port)
    try:
        _, body = await api.call("GET", f"/api/channel/test/{channel_id}", who="admin")
    finally:
        await proxy.close()
    assert body["success"] is False and "Incorrect API key" in body["message"]
    _, body = await api.call("GET", f"/api/channel/{channel_id}", who="admin")
    # One API's record of a failure: response time 0 with the test's time (the console shows it as failed)
    assert body["data"]["response_time"] == 0 and body["data"]["test_time"] > 1


async def test_every_admin_answer_carries_a_request_id(api):
    client = await api.client()
    for method, path in (("GET", "/api/status"), ("GET", "/api/no/such"), ("GET", "/api/user/self"),
                         ("POST", "/api/user/login"), ("GET", "/api/openapi.json"), ("GET", "/")):
        async with client.request(method, path) as r:
            assert len(r.headers.get(REQUEST_ID, "")) >= 20, (method, path, r.status)
