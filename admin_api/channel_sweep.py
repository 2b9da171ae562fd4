"""Testing every channel in turn (one-api.md §6.4 "test all"), with the auto-disable and auto-enable rules.

Differences from One API: only channels it disabled itself (status 3) are re-enabled, never ones an
admin disabled. The errors that disable are rules/auto_disable.toml, the relay's list too. Each
change is written with root's notice (store.channel_notices), delivered by admin_api.notices.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from admin_api.channel_probe import probe
from admin_api.option_rules import current
from admin_api.state import AdminState
from rules import load_auto_disable
from store import channels, relay_queries
from store.models import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, Channel

log = logging.getLogger(__name__)


def should_disable(error: dict[str, Any] | None) -> bool:
    """Whether a test's upstream error says the account is unusable (rules/auto_disable.toml; no status)."""
    if not error:
        return False
    return load_auto_disable().matches(None, error.get("type"), error.get("code"), str(error.get("message") or ""))


@dataclass
class SweepSummary:
    """What a test-all run did, for the log and root's "test finished" notice."""

    tested: int = 0
    passed: int = 0
    disabled: int = 0
    enabled: int = 0

    def text(self) -> str:
        return (f"渠道测试完成：共测试 {self.tested} 个渠道，成功 {self.passed} 个，"
                f"失败 {self.tested - self.passed} 个；"
                f"自动禁用 {self.disabled} 个，重新启用 {self.enabled} 个。")


async def _set_status(state: AdminState, channel: Channel, status: int, reason: str) -> bool:
    """Change the status with the change event and root's notice; False if it already had it."""
    async with state.db.session() as s:
        changed = await relay_queries.set_channel_status(s, channel.id, status, reason)
    if changed:
        log.warning("channel %s (#%d) %s: %s", channel.name, channel.id,
                    "enabled" if status == CHANNEL_ENABLED else "disabled", reason)
    return changed


async def _judge(state: AdminState, channel: Channel, threshold: float, auto_disable: bool,
                 auto_enable: bool, summary: SweepSummary) -> None:
    result = await probe(state, channel, "")
    summary.tested += 1
    summary.passed += result.ok
    if channel.status == CHANNEL_ENABLED:
        if auto_disable and 0 < threshold < result.seconds:
            summary.disabled += await _set_status(state, channel, CHANNEL_AUTO_DISABLED,
                                                  f"响应时间 {result.seconds:.2f}s 超过阈值 {threshold:.2f}s")
        elif auto_disable and should_disable(result.error):
            summary.disabled += await _set_status(state, channel, CHANNEL_AUTO_DISABLED, result.message)
    elif channel.status == CHANNEL_AUTO_DISABLED and auto_enable and result.ok:
        summary.enabled += await _set_status(state, channel, CHANNEL_ENABLED, "测试通过")


async def test_all(state: AdminState, scope: str) -> SweepSummary:
    """Test each channel of the scope sequentially, POLLING_INTERVAL seconds apart."""
    options = await current(state.db)
    async with state.db.session() as s:
        todo = await channels.for_test(s, scope)
    summary = SweepSummary()
    for index, channel in enumerate(todo):
        if index and state.settings.polling_interval:
            await asyncio.sleep(state.settings.polling_interval)
        try:
            await _judge(state, channel, options.number("ChannelDisableThreshold", 5.0),
                         options.flag("AutomaticDisableChannelEnabled"), options.flag("AutomaticEnableChannelEnabled"),
                         summary)
        except Exception:   # one broken channel must not stop the sweep
            log.exception("testing channel #%d failed", channel.id)
    log.info("%s", summary.text())
    return summary
