"""Refreshing every channel's balance (one-api.md §6.5), and disabling a channel whose balance ran out.

One API has this updater (`AutomaticallyUpdateChannels`) but never starts it; here it runs
every CHANNEL_UPDATE_FREQUENCY minutes and on `GET /api/channel/update_balance`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from admin_api import balance
from admin_api.option_rules import current
from admin_api.state import AdminState
from store import channels, relay_queries
from store.models import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED

log = logging.getLogger(__name__)


@dataclass
class BalanceSummary:
    """What one refresh did."""

    updated: int = 0
    failed: int = 0
    disabled: int = 0


async def refresh_all(state: AdminState) -> BalanceSummary:
    """Every enabled channel of a supported type, POLLING_INTERVAL seconds apart.

    A balance ≤ 0 disables the channel (status 3, root notified) when AutomaticDisableChannelEnabled.
    """
    auto_disable = (await current(state.db)).flag("AutomaticDisableChannelEnabled")
    async with state.db.session() as s:
        todo = [c for c in await channels.for_test(s, "all")
                if c.status == CHANNEL_ENABLED and balance.supported(state.catalog, c.type)]
    summary = BalanceSummary()
    for index, channel in enumerate(todo):
        if index and state.settings.polling_interval:
            await asyncio.sleep(state.settings.polling_interval)
        try:
            value = await balance.query(state, channel)
        except balance.BalanceError as exc:
            summary.failed += 1
            log.info("balance of channel #%d: %s", channel.id, exc)
            continue
        except Exception:   # one broken channel must not stop the sweep
            summary.failed += 1
            log.exception("balance of channel #%d failed", channel.id)
            continue
        summary.updated += 1
        if value <= 0 and auto_disable:
            async with state.db.session() as s:
                reason = f"余额不足（{value:g}）"
                if await relay_queries.set_channel_status(s, channel.id, CHANNEL_AUTO_DISABLED, reason):
                    summary.disabled += 1
                    log.warning("channel %s (#%d) disabled: balance %s", channel.name, channel.id, value)
    return summary
