"""Root's channel notices: a local fake Message Pusher, email fallback to a local SMTP server, once across nodes."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp.test_utils import unused_port
from sqlalchemy import select

from store import channel_notices, channels, relay_queries, users
from store.channel_notices import ChannelNotice
from store.models import CHANNEL_AUTO_DISABLED

from .conftest import eventually, fast_jobs, make_settings, start_api
from .fakes import Recorder, chat_reply, replying, serve


@pytest.fixture
async def api(db):
    """admin_api with short job timings (notices drained every 0.1 s)."""
    api = await start_api(db, make_settings(), fast_jobs)
    try:
        yield api
    finally:
        await api.close()
        await api.server.close()


async def _set(api, **options: str) -> None:
    for key, value in options.items():
        _, body = await api.call("PUT", "/api/option/", who="root", json={"key": key, "value": value})
        assert body["success"], body


async def _channel(db, name: str, status: int = 1) -> int:
    async with db.session() as s:
        (channel_id,) = await channels.create_many(
            s, {"type": 1, "name": name, "models": "gpt-4", "group": "default", "status": status}, ["sk-x"])
    return channel_id


async def _notices(db) -> list[ChannelNotice]:
    async with db.session() as s:
        return list((await s.execute(select(ChannelNotice).order_by(ChannelNotice.id))).scalars())


async def _proxy_disables(db, channel_id: int) -> bool:
    """What the proxy's health addon does on a fatal upstream error."""
    async with db.session() as s:
        return await relay_queries.set_channel_status(s, channel_id, CHANNEL_AUTO_DISABLED)


async def test_proxy_disables_reach_message_pusher_once_across_two_nodes_and_restarts(db):
    recorder = Recorder()
    pusher = await serve({("POST", "/push/root"): replying({"success": True, "message": "ok"})}, recorder)
    settings = make_settings()
    first = await start_api(db, settings, fast_jobs)
    await _set(first, MessagePusherAddress=str(pusher.make_url("/push/root")), MessagePusherToken="mp-secret")
    await first.close()
    await first.server.close()
    # admin_api is down while the proxy disables a channel (twice at once: one change, one notice)
    early = await _channel(db, "early")
    assert sorted(await asyncio.gather(_proxy_disables(db, early), _proxy_disables(db, early))) == [False, True]
    nodes = [await start_api(db, settings, fast_jobs), await start_api(db, settings, fast_jobs)]
    try:
        await eventually(lambda: len(recorder.seen) == 1)
        late = await _channel(db, "late")
        assert await _proxy_disables(db, late)
        await eventually(lambda: len(recorder.seen) == 2)
        await asyncio.sleep(0.5)   # both nodes keep draining: nothing is sent twice
        assert len(recorder.seen) == 2
    finally:
        for api in nodes:
            await api.close()
            await api.server.close()
        await pusher.close()
    sent = [orjson.loads(body) for _, _, _, body in recorder.seen]
    assert [set(s) for s in sent] == [{"title", "description", "content", "url", "channel", "token"}] * 2
    assert all(s["title"] == "渠道状态变更提醒" and s["token"] == "mp-secret" and s["url"] == s["channel"] == ""
               for s in sent)
    assert f"渠道「early」（#{early}）已被自动禁用" in sent[0]["description"]
    assert f"渠道「late」（#{late}）" in sent[1]["content"] and "禁用原因" in sent[1]["content"]
    assert [(n.kind, n.outcome, n.attempts) for n in await _notices(db)] == [("disabled", "message-pusher", 1)] * 2


async def test_email_when_message_pusher_fails_and_test_all_notices(api, smtp):
    pusher = await serve({("POST", "/push"): replying({"success": False, "message": "quota exceeded"})}, Recorder())
    proxy = await serve({("POST", "/v1/chat/completions"): replying(chat_reply())}, Recorder(),
                        port=api.settings.port)
    async with api.db.session() as s:
        await users.update_fields(s, api.people["root"].id, {"email": "root@example.com"})
    await _set(api, MessagePusherAddress=str(pusher.make_url("/push")), SMTPServer="127.0.0.1",
               SMTPPort=str(smtp.port), SMTPFrom="gateway@example.com", AutomaticEnableChannelEnabled="true")
    recovered = await _channel(api.db, "recovered", status=CHANNEL_AUTO_DISABLED)
    try:
        _, body = await api.call("GET", "/api/channel/test?scope=all", who="root")
        assert body == {"success": True, "message": ""}
        await eventually(lambda: len(smtp.messages) == 2, seconds=10)
    finally:
        await pusher.close()
        await proxy.close()
    by_subject = {m["Subject"]: m for m in smtp.messages}
    assert set(by_subject) == {"渠道状态变更提醒", "渠道测试完成"}
    enabled = by_subject["渠道状态变更提醒"]
    assert enabled["To"] == "root@example.com" and "gateway@example.com" in enabled["From"]
    assert f"渠道「recovered」（#{recovered}）测试通过，已被重新启用" in enabled.get_body(("html",)).get_content()
    assert "共测试 1 个渠道，成功 1 个" in by_subject["渠道测试完成"].get_body(("html",)).get_content()

    async def outcomes() -> set[tuple[str, str]]:
        rows = await _notices(api.db)   # the mail arrives just before the row is marked
        return {(n.kind, n.outcome) for n in rows} if all(n.delivered_at for n in rows) else set()
    assert await eventually(outcomes) == {("enabled", "email"), ("tested", "email")}


async def test_undeliverable_and_retried_notices(api):
    gone = await _channel(api.db, "gone")
    assert await _proxy_disables(api.db, gone)   # nothing configured: set aside, not retried forever
    await eventually(lambda: _notices(api.db), seconds=5)

    async def settled() -> bool:
        return all(n.delivered_at for n in await _notices(api.db))
    await eventually(settled)
    assert [n.outcome for n in await _notices(api.db)] == ["undeliverable: SMTP 服务器未配置"]

    await _set(api, MessagePusherAddress=f"http://127.0.0.1:{unused_port()}/down")
    async with api.db.session() as s:
        await channel_notices.add(s, channel_notices.TESTED, 0, "done")

    async def postponed() -> ChannelNotice | None:
        last = (await _notices(api.db))[-1]
        return last if last.outcome else None   # claimed (attempts 1), then the failure recorded
    last = await eventually(postponed)
    assert last.attempts == 1 and last.delivered_at == 0 and last.outcome.startswith("failed: message pusher:")
    assert last.next_attempt_at > last.created_at + 50   # tried again in a minute
