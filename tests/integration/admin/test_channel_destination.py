"""Where a channel's key goes: a non-root admin cannot point a channel's stored key at a server of theirs.

Changing `base_url`, `type` or the config `region` of an existing channel sends its key elsewhere, so
a non-root admin must re-enter the key in the same request (403 otherwise, channel unchanged); root
may. Every such change is a manage log row. The test runs the real proxy, so "test the channel" and
"update its balance" really go to the upstreams.
"""

from __future__ import annotations

from typing import Any

import orjson

from admin_api.state import STATE
from store import channels, logs
from store.models import LOG_MANAGE
from tests.e2e.harness import Gateway

from .fakes import Recorder, chat_reply, replying, serve

ROOT_KEY = "sk-root-secret-upstream-key"
SUBSCRIPTION = {"has_payment_method": True, "hard_limit_usd": 100}
USAGE = {"total_usage": 50}


async def _upstream(recorder: Recorder) -> Any:
    return await serve({("POST", "/v1/chat/completions"): replying(chat_reply("hello")),
                        ("GET", "/v1/dashboard/billing/subscription"): replying(SUBSCRIPTION),
                        ("GET", "/v1/dashboard/billing/usage"): replying(USAGE)}, recorder)


def _keys_seen(recorder: Recorder) -> set[str]:
    return {headers.get("Authorization", "") for _, _, headers, _ in recorder.seen}


async def _root_channel(api, base_url: str) -> int:
    payload = {"type": 1, "key": ROOT_KEY, "name": "root-ch", "models": "gpt-4o-mini", "group": "default",
               "base_url": base_url, "config": '{"region": "us-east-1"}'}
    _, body = await api.call("POST", "/api/channel/", who="root", json=payload)
    assert body["success"], body
    _, body = await api.call("GET", "/api/channel/", who="root")
    return body["data"][0]["id"]


async def _channel(api, channel_id: int) -> dict[str, Any]:
    _, body = await api.call("GET", f"/api/channel/{channel_id}", who="root")
    return body["data"]


async def _manage_rows(api) -> list[Any]:
    async with api.db.log_session() as s:
        return await logs.page(s, logs.LogFilter(type=LOG_MANAGE), 0)


async def test_admin_cannot_redirect_a_stored_key(api):
    legit, evil = Recorder(), Recorder()
    legit_server, evil_server = await _upstream(legit), await _upstream(evil)
    legit_url, evil_url = str(legit_server.make_url("")).rstrip("/"), str(evil_server.make_url("")).rstrip("/")
    gateway = await Gateway(api.db).start()
    state = api.server.app[STATE]
    state.settings = state.settings.with_(port=gateway.server.port)   # channel tests go through this proxy
    try:
        channel_id = await _root_channel(api, legit_url)
        before = await _channel(api, channel_id)
        for change in ({"base_url": evil_url}, {"base_url": evil_url, "key": "   "}, {"type": 8},
                       {"config": '{"region": "evil.example#"}'}, {"base_url": ""}):
            status, body = await api.call("PUT", "/api/channel/", who="admin", json={"id": channel_id, **change})
            assert status == 403 and body["success"] is False and "密钥" in body["message"], (change, body)
        assert await _channel(api, channel_id) == before
        assert await _manage_rows(api) == []

        _, body = await api.call("GET", f"/api/channel/test/{channel_id}", who="admin")
        assert body["success"], body
        _, body = await api.call("GET", f"/api/channel/update_balance/{channel_id}", who="admin")
        assert body["success"] and body["balance"] == 99.5, body
        assert evil.seen == [] and _keys_seen(legit) == {f"Bearer {ROOT_KEY}"}

        # the same form saved again (base_url unchanged) or other fields changed: no key needed
        status, body = await api.call("PUT", "/api/channel/", who="admin",
                                      json={"id": channel_id, "base_url": legit_url, "type": 1, "name": "renamed",
                                            "config": '{"region": "us-east-1"}'})
        assert status == 200 and body["success"] and body["data"]["name"] == "renamed", body
        assert await _manage_rows(api) == []

        # with a key of their own the admin may move the channel: root's key never goes there
        status, body = await api.call("PUT", "/api/channel/", who="admin",
                                      json={"id": channel_id, "base_url": evil_url, "key": "sk-admin-own"})
        assert status == 200 and body["success"] and body["data"]["base_url"] == evil_url, body
        await gateway.reload()
        _, body = await api.call("GET", f"/api/channel/test/{channel_id}", who="admin")
        assert body["success"], body
        assert _keys_seen(evil) == {"Bearer sk-admin-own"}

        # root may change where the key goes without re-entering it
        status, body = await api.call("PUT", "/api/channel/", who="root", json={"id": channel_id, "base_url": legit_url})
        assert status == 200 and body["success"], body
    finally:
        await gateway.close()
        await legit_server.close()
        await evil_server.close()

    rows = sorted(await _manage_rows(api), key=lambda row: row.id)
    assert [(row.user_id, row.channel_id) for row in rows] == [(api.people["admin"].id, channel_id),
                                                               (api.people["root"].id, channel_id)]
    assert rows[0].username == "admin" and legit_url in rows[0].content and evil_url in rows[0].content
    assert "密钥" in rows[0].content
    assert rows[1].username == "root" and rows[1].content.index(evil_url) < rows[1].content.index(legit_url)


async def test_config_secrets_are_write_only_and_move_only_when_replaced(api):
    """AWS keeps `sk` (Vertex AI its service account) in config: never shown, kept when left blank,
    and re-entered along with the key before a non-root admin may move the channel."""
    config = {"ak": "AKIAROOT", "sk": "root-secret-sk", "region": "us-east-1"}
    payload = {"type": 33, "key": "AKIAROOT|root-secret-sk|us-east-1", "name": "aws", "models": "claude-3-haiku",
               "group": "default", "config": orjson.dumps(config).decode(), "base_url": "https://bedrock.example/"}
    _, body = await api.call("POST", "/api/channel/", who="root", json=payload)
    assert body["success"], body
    _, listed = await api.call("GET", "/api/channel/", who="admin")
    channel_id = listed["data"][0]["id"]
    _, one = await api.call("GET", f"/api/channel/{channel_id}", who="admin")
    _, found = await api.call("GET", "/api/channel/search?keyword=aws", who="admin")
    for shown in (listed["data"][0], one["data"], found["data"][0]):
        assert "root-secret-sk" not in orjson.dumps(shown).decode()
        assert orjson.loads(shown["config"]) == {"ak": "AKIAROOT", "sk": "", "region": "us-east-1"}

    async def stored() -> dict[str, Any]:
        async with api.db.session() as s:
            return orjson.loads((await channels.get(s, channel_id)).config)

    # the console sends the form back: blank sk, base URL without its trailing slash -> nothing moved
    form = {"id": channel_id, "name": "aws-renamed", "base_url": "https://bedrock.example",
            "config": one["data"]["config"]}
    status, body = await api.call("PUT", "/api/channel/", who="admin", json=form)
    assert status == 200 and body["success"], body
    assert await stored() == config
    moved = {"ak": "AKIAROOT", "sk": "", "region": "eu-west-1"}
    status, body = await api.call("PUT", "/api/channel/", who="admin",
                                  json={"id": channel_id, "key": "anything", "config": orjson.dumps(moved).decode()})
    assert status == 403 and body["success"] is False, body
    assert await stored() == config
    mine = {"ak": "AKIAADMIN", "sk": "admin-sk", "region": "eu-west-1"}
    status, body = await api.call("PUT", "/api/channel/", who="admin",
                                  json={"id": channel_id, "key": "AKIAADMIN|admin-sk|eu-west-1",
                                        "config": orjson.dumps(mine).decode()})
    assert status == 200 and body["success"], body
    assert await stored() == mine
