"""admin_api's outgoing client keeps no cookies: what one channel's provider set never rides along another key."""

from __future__ import annotations

from aiohttp import web

from .fakes import Recorder, serve


async def test_a_providers_cookie_is_not_sent_with_the_next_channels_balance_query(api):
    """Two DeepSeek channels on one provider host: before, the first answer's Set-Cookie went out with the
    second channel's key (aiohttp's default jar keeps cookies of a host name such as localhost)."""
    async def balance(request: web.Request) -> web.Response:
        response = web.json_response({"balance_infos": [{"currency": "CNY", "total_balance": "1.5"}]})
        response.set_cookie("provider_session", "of-the-first-key")
        return response

    recorder = Recorder()
    provider = await serve({("GET", "/user/balance"): balance}, recorder)
    base = f"http://localhost:{provider.port}"
    try:
        for key in ("sk-first", "sk-second"):
            _, body = await api.call("POST", "/api/channel/", who="admin", json={
                "type": 36, "key": key, "name": key, "models": "deepseek-chat", "group": "default", "base_url": base})
            assert body["success"], body
        _, body = await api.call("GET", "/api/channel/", who="admin")
        for channel in sorted(body["data"], key=lambda c: c["id"]):
            _, answer = await api.call("GET", f"/api/channel/update_balance/{channel['id']}", who="admin")
            assert answer == {"success": True, "message": "", "balance": 1.5}, answer
    finally:
        await provider.close()
    assert [h["Authorization"] for _, _, h, _ in recorder.seen] == ["Bearer sk-first", "Bearer sk-second"]
    assert [h.get("Cookie") for _, _, h, _ in recorder.seen] == [None, None]
