""""Test all" disables on the same upstream errors as the relay (rules/auto_disable.toml), on every database."""

from __future__ import annotations

from aiohttp import web

from store import channels

from .fakes import Recorder, chat_reply, serve, sweep_finished


async def test_test_all_disables_on_the_relay_phrases(api):
    """A message naming the account's balance or credit disables in "test all" as on the relay.

    Before, the sweep kept its own list without the bare "credit" and "balance", so these two channels
    stayed enabled after a test-all while a relay answer with the same error disabled them.
    """
    await api.call("PUT", "/api/option/", who="root", json={"key": "AutomaticDisableChannelEnabled", "value": "true"})
    ids = {}
    for name in ("balance", "credit", "fine"):
        _, body = await api.call("POST", "/api/channel/", who="admin", json={
            "type": 1, "key": f"sk-{name}", "name": name, "models": "gpt-4", "group": "default"})
        assert body["success"], body
    async with api.db.session() as s:
        ids = {c.name: c.id for c in await channels.for_test(s, "all")}
    messages = {ids["balance"]: "Insufficient account balance", ids["credit"]: "You have run out of credits"}

    async def answer(request: web.Request) -> web.Response:
        channel_id = int(request.headers["Authorization"].rsplit("-", 1)[1])
        if channel_id in messages:
            error = {"message": messages[channel_id], "type": "invalid_request_error", "code": ""}
            return web.json_response({"error": error}, status=402)
        return web.json_response(chat_reply())

    proxy = await serve({("POST", "/v1/chat/completions"): answer}, Recorder(), port=api.settings.port)
    try:
        _, body = await api.call("GET", "/api/channel/test?scope=all", who="admin")
        assert body == {"success": True, "message": ""}
        await sweep_finished(api)
    finally:
        await proxy.close()
    async with api.db.session() as s:
        status = {name: (await channels.get(s, cid)).status for name, cid in ids.items()}
    assert status == {"balance": 3, "credit": 3, "fine": 1}
