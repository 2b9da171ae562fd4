"""Channel tests through a stand-in for the proxy's public port, and balances from fake providers."""

from __future__ import annotations

import orjson
from aiohttp import web

from store import channels, logs, tokens
from store.models import LOG_TEST

from .fakes import Recorder, chat_reply, replying, serve, sweep_finished


async def _channel(api, **fields) -> int:
    payload = {"type": 1, "key": "sk-upstream", "name": "ch", "models": "gpt-4,gpt-4o", "group": "default", **fields}
    _, body = await api.call("POST", "/api/channel/", who="admin", json=payload)
    assert body["success"], body
    _, body = await api.call("GET", "/api/channel/", who="admin")
    return body["data"][0]["id"]


def _pinned_id(request: web.Request) -> int:
    return int(request.headers["Authorization"].rsplit("-", 1)[1])


async def test_single_test_goes_through_the_proxy_port(api):
    recorder = Recorder()
    proxy = await serve({("POST", "/v1/chat/completions"): replying(chat_reply("I am gpt-4"))}, recorder,
                        port=api.settings.port)
    try:
        channel_id = await _channel(api)
        _, body = await api.call("GET", f"/api/channel/test/{channel_id}?model=gpt-4", who="admin")
        assert body["success"] and body["message"] == "I am gpt-4" and body["modelName"] == "gpt-4"
        assert body["time"] >= 0
        _, body = await api.call("GET", f"/api/channel/test/{channel_id}?model=claude", who="admin")
        assert body["success"]
    finally:
        await proxy.close()
    async with api.db.session() as s:
        owned = await tokens.list_page(s, api.people["root"].id, 0)
        channel = await channels.get(s, channel_id)
    system = [t for t in owned if t.name == "channel-test"]
    assert len(system) == 1 and system[0].unlimited_quota and system[0].expired_time == -1
    (method, path, headers, text), second = recorder.seen
    assert path == "/v1/chat/completions" and headers["Authorization"] == f"Bearer sk-{system[0].key}-{channel_id}"
    request = orjson.loads(text)
    assert request["model"] == "gpt-4" and request["stream"] is False
    assert request["messages"] == [{"role": "user", "content": api.settings.test_prompt}]
    assert orjson.loads(second[3])["model"] == "gpt-4"   # "claude" is not in the channel's list: its first model
    assert channel.test_time > 0
    async with api.db.log_session() as s:
        rows = await logs.page(s, logs.LogFilter(type=LOG_TEST), 0)
    assert rows[0].channel_id == channel_id and rows[0].content == "渠道 ch 测试成功，响应：I am gpt-4"


async def test_failed_test_reports_the_error(api):
    error = {"error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}}
    proxy = await serve({("POST", "/v1/chat/completions"): replying(error, 401)}, Recorder(), port=api.settings.port)
    try:
        channel_id = await _channel(api)
        _, body = await api.call("GET", f"/api/channel/test/{channel_id}", who="admin")
    finally:
        await proxy.close()
    assert body["success"] is False
    assert body["message"] == "http status code 401, error message: Incorrect API key"
    _, body = await api.call("GET", f"/api/channel/test/{channel_id}", who="admin")   # proxy down
    assert body["success"] is False and body["message"].startswith("请求代理失败")


async def test_test_all_disables_and_re_enables_by_the_rules(api):
    for key in ("AutomaticDisableChannelEnabled", "AutomaticEnableChannelEnabled"):
        await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": "true"})
    broken = await _channel(api, name="broken")
    recovered = await _channel(api, name="recovered", status=3)
    manual = await _channel(api, name="manual", status=2)

    async def answer(request: web.Request) -> web.Response:
        if _pinned_id(request) == broken:
            return web.json_response({"error": {"message": "no", "type": "insufficient_quota"}}, status=429)
        return web.json_response(chat_reply())

    proxy = await serve({("POST", "/v1/chat/completions"): answer}, Recorder(), port=api.settings.port)
    try:
        _, body = await api.call("GET", "/api/channel/test?scope=all", who="admin")
        assert body == {"success": True, "message": ""}
        _, again = await api.call("GET", "/api/channel/test", who="admin")
        await sweep_finished(api)
    finally:
        await proxy.close()
    assert again in ({"success": False, "message": "测试已在运行中"}, {"success": True, "message": ""})
    async with api.db.session() as s:
        status = {cid: (await channels.get(s, cid)).status for cid in (broken, recovered, manual)}
        abilities = {cid: {a.enabled for a in await channels.abilities_of(s, cid)} for cid in (broken, recovered)}
    assert status == {broken: 3, recovered: 1, manual: 2}
    assert abilities == {broken: {False}, recovered: {True}}


async def test_balances_from_fake_providers(api):
    recorder = Recorder()
    routes = {
        ("GET", "/v1/dashboard/billing/subscription"): replying({"has_payment_method": True, "hard_limit_usd": 120}),
        ("GET", "/v1/dashboard/billing/usage"): replying({"total_usage": 2050}),
        ("GET", "/user/balance"): replying({"is_available": True, "balance_infos": [
            {"currency": "USD", "total_balance": "1"}, {"currency": "CNY", "total_balance": "110.50"}]}),
        ("GET", "/v1/credits"): replying({"data": {"total_credits": 50, "total_usage": 12.5}}),
        ("GET", "/sb-api/user/status"): replying({"data": {"credit": "7.25"}}),
    }
    provider = await serve(routes, recorder)
    base = str(provider.make_url("")).rstrip("/")
    try:
        expected = {1: 99.5, 36: 110.5, 20: 37.5, 5: 7.25}
        for channel_type, value in expected.items():
            channel_id = await _channel(api, type=channel_type, base_url=base, key="secret-key")
            _, body = await api.call("GET", f"/api/channel/update_balance/{channel_id}", who="admin")
            assert body == {"success": True, "message": "", "balance": value}, (channel_type, body)
            _, body = await api.call("GET", f"/api/channel/{channel_id}", who="admin")
            assert body["data"]["balance"] == value and body["data"]["balance_updated_time"] > 0
        unsupported = await _channel(api, type=14, base_url=base)
        _, body = await api.call("GET", f"/api/channel/update_balance/{unsupported}", who="admin")
        assert body == {"success": False, "message": "尚未实现"}
        _, body = await api.call("GET", "/api/channel/update_balance", who="admin")
        assert body == {"success": True, "message": ""}
        await sweep_finished(api)
    finally:
        await provider.close()
    paths = [p for _, p, _, _ in recorder.seen]
    assert any(p.startswith("/v1/dashboard/billing/usage?start_date=") for p in paths)
    assert "/sb-api/user/status?api_key=secret-key" in paths
    assert all(h.get("Authorization") == "Bearer secret-key" for _, p, h, _ in recorder.seen if p == "/user/balance")
