"""Settle to the real cost after the answer (one-api.md §7, made exact); the hold is proxy.addons.reservation.

`done` settles to the real cost or refunds: a failure before any byte reached the client costs nothing;
a client gone mid-stream pays for what was delivered. An answer that cost more than its hold (an
upstream counting more prompt tokens than we did) takes the difference from the balance as far as it
goes and never further: what no balance could pay is recorded as unpaid, so no key or user ever
spends beyond its balance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from proxy.converters.base import Usage
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.state import RelayState
from proxy.gateway.tokenizer import Tokenizer
from proxy.ledger import InsufficientQuota, Ledger, spendable
from rules import Parts, PriceTable

log = logging.getLogger(__name__)
BIG_TEXT = 256 * 1024   # characters of answer text counted off the event loop


def parts_of(usage: Usage) -> Parts:
    """The parts of an answer that have prices of their own (reasoning and image tokens are priced as output and
    input: no provider prices them apart)."""
    return Parts(usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.cache_write_5m_tokens,
                 usage.cache_write_1h_tokens, usage.audio_input_tokens, usage.audio_output_tokens)


class Billing:
    def __init__(self, ledger: Ledger, prices: Callable[[], PriceTable], options: Callable[[], Mapping[str, str]],
                 tokenizer: Tokenizer) -> None:
        self.ledger = ledger
        self.prices = prices
        self.options = options
        self.tokenizer = tokenizer

    async def done(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if not state.billed or state.token is None or state.user is None:
            return
        # nothing delivered (an error before the first byte, even after the headers went out) costs nothing
        if (flow.error is not None and flow.bytes_to_client == 0) or self._stream_failed_at_once(state):
            self.ledger.refund(state.token, state.user.id, state.reserved, state.budget_holds)
            state.billed = False
            return
        actual = await self._actual(state)
        if actual > state.reserved:
            await self._top_up(state, actual - state.reserved)
        state.quota = min(actual, state.reserved)
        state.unpaid = actual - state.quota
        if state.unpaid:
            log.warning("request %s cost %d beyond every balance (held %d): not charged", flow.request_id,
                        state.unpaid, state.reserved)
        channel_id = state.channel.id if state.channel else None
        self.ledger.settle(state.token, state.user.id, channel_id, state.reserved, state.quota, state.budget_holds)

    async def _top_up(self, state: RelayState, extra: int) -> None:
        """Add `extra` to the hold, or as much of it as the balances still have."""
        assert state.token is not None and state.user is not None
        for _ in range(3):
            try:
                await self.ledger.reserve(state.token, state.user.id, extra, state.budget_holds)
            except InsufficientQuota:
                left = await spendable(self.ledger, state.token, state.user.id)
                if left <= 0:
                    return
                extra = min(extra, left)
                continue
            state.reserved += extra
            return

    @staticmethod
    def _stream_failed_at_once(state: RelayState) -> bool:
        """A converted stream whose only content was the provider's error (sent inside HTTP 200) costs nothing."""
        converter = state.stream_converter
        failed = converter is not None and converter.error is not None
        return failed and not any(state.completion_parts) and not _let_go(state) and state.usage is None

    def _ctype(self, state: RelayState) -> int | None:
        return state.channel.type if state.channel else None

    async def _count(self, text: str, model: str) -> int:
        """Tokens of delivered text; a long answer's count runs off the event loop (45 MB of text took the
        tokenizer seconds, during which every other client of the worker waited)."""
        await self.tokenizer.load_for(model)    # loaded by the reservation already, unless it was skipped
        if len(text) < BIG_TEXT:
            return self.tokenizer.count_text(text, model)
        return await asyncio.to_thread(self.tokenizer.count_text, text, model)

    async def _actual(self, state: RelayState) -> int:
        if state.mode in (modes.IMAGES, modes.IMAGE_EDITS, modes.SPEECH):
            return state.reserved       # priced up front, charged in full once the upstream said yes
        text = "".join(state.completion_parts)
        if state.mode in (modes.TRANSCRIPTION, modes.TRANSLATION):
            state.usage_source = "counted"
            return await self._count(text, "whisper-1")   # One API: transcript tokens, no ratio (§7.7)
        usage = await self._usage(state, text)
        state.charge = self.prices().charge(parts_of(usage), state.model, self._ctype(state), state.group)
        return state.charge.quota

    async def _usage(self, state: RelayState, text: str) -> Usage:
        converter_usage = state.stream_converter.usage if state.stream_converter is not None else None
        if converter_usage is not None and converter_usage.total_tokens:
            state.usage, state.usage_source = converter_usage, "upstream"
        usage = state.usage
        if usage is not None and usage.total_tokens:
            if usage.prompt_tokens == 0:
                usage = Usage(state.prompt_tokens, max(0, usage.total_tokens - state.prompt_tokens))
            state.usage = usage
            return usage
        completion = await self._count(text, state.model) if text else 0
        if _let_go(state):     # a long stream's text counted in pieces as it went (proxy.addons.usage_tap)
            completion += state.completion_counted + sum(await asyncio.gather(*state.completion_counting))
        state.usage = Usage(state.prompt_tokens, completion)
        state.usage_source = "counted" if text or _let_go(state) else "estimated"
        return state.usage


def _let_go(state: RelayState) -> bool:
    """Whether text of the answer was counted and let go while it streamed."""
    return bool(state.completion_counted or state.completion_counting)


__all__ = ["Billing"]
