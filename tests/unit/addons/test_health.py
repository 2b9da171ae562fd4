"""ChannelHealth alone, with a fake flow, on every real database: a fatal upstream error disables the channel
(row, abilities, this worker's routing) when the option is on, and a poor success rate does too."""

from __future__ import annotations

import time

from proxy.addons.health import ChannelHealth
from proxy.core.errors import UpstreamError
from proxy.core.flow import Flow
from proxy.gateway.state import RelayState
from store import Database
from store.models import CHANNEL_AUTO_DISABLED, Ability, Channel
from tests.unit.addons.fakes import FakeCaches, channel, make_flow


class Caches(FakeCaches):
    def forget_channel(self, channel_id: int) -> None:
        self.channels.pop(channel_id, None)


async def add_channel(db: Database) -> int:
    async with db.session() as s, s.begin():
        row = Channel(type=1, key="sk-up", name="c", base_url="", models="gpt-4o-mini", group="default", status=1,
                      created_time=int(time.time()))
        s.add(row)
        await s.flush()
        s.add(Ability(group="default", model="gpt-4o-mini", channel_id=row.id, enabled=True, priority=0))
        return row.id


async def status_of(db: Database, channel_id: int) -> tuple[int, bool]:
    async with db.session() as s:
        row = await s.get(Channel, channel_id)
        ability = await s.get(Ability, ("default", "gpt-4o-mini", channel_id))
        assert row is not None and ability is not None
        return row.status, bool(ability.enabled)


def failed(channel_id: int, error: UpstreamError) -> Flow[RelayState]:
    flow = make_flow(channel=channel(id=channel_id))
    flow.error = error
    return flow


async def test_a_fatal_error_disables_the_channel_when_the_option_is_on(db: Database) -> None:
    cid = await add_channel(db)
    caches = Caches(channels=[channel(id=cid)])
    off = ChannelHealth(db, caches, lambda: {})  # type: ignore[arg-type]
    off.upstream_error(failed(cid, UpstreamError(401, "Incorrect API key provided")))
    await off.close()
    assert await status_of(db, cid) == (1, True) and cid in caches.channels
    on = ChannelHealth(db, caches, lambda: {"AutomaticDisableChannelEnabled": "true"})  # type: ignore[arg-type]
    on.upstream_error(failed(cid, UpstreamError(503, "overloaded")))
    await on.close()
    assert await status_of(db, cid) == (1, True)          # not a fatal error: the channel stays
    on.upstream_error(failed(cid, UpstreamError(401, "Incorrect API key provided")))
    assert cid not in caches.channels                      # this worker stops routing there at once
    await on.close()
    assert await status_of(db, cid) == (CHANNEL_AUTO_DISABLED, False)


async def test_a_success_rate_under_the_threshold_disables_the_channel(db: Database) -> None:
    cid = await add_channel(db)
    health = ChannelHealth(db, Caches(channels=[channel(id=cid)]), lambda: {}, metric_enabled=True,  # type: ignore[arg-type]
                           queue_size=4, threshold=0.5)
    ok = make_flow(channel=channel(id=cid))
    ok.attempts = 1
    for _ in range(2):
        health.done(ok)
    health.upstream_error(failed(cid, UpstreamError(503, "overloaded")))
    await health.close()
    assert await status_of(db, cid) == (1, True)          # 2 of 3: the window is not full yet
    health.upstream_error(failed(cid, UpstreamError(503, "overloaded")))
    health.upstream_error(failed(cid, UpstreamError(503, "overloaded")))
    await health.close()
    assert await status_of(db, cid) == (CHANNEL_AUTO_DISABLED, False)
