"""Writes One API's consume log row (one-api.md §7.5) plus how the usage was obtained and how its charge adds up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.base import Usage
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.logwriter import LogRow, LogWriter
from proxy.gateway.state import RelayState
from rules import Charge, PriceTable
from store import as_bool
from store.models import LOG_CONSUME

_NO_COMPLETION_RATIO = frozenset({modes.IMAGES, modes.IMAGE_EDITS, modes.SPEECH, modes.TRANSCRIPTION,
                                  modes.TRANSLATION})


_PARTS = ("cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "reasoning_tokens", "audio_input_tokens",
          "audio_output_tokens", "image_input_tokens", "image_output_tokens")


def detail(usage: Usage | None, charge: Charge | None, unpaid: int) -> str | None:
    """The row's usage_detail JSON: the usage parts that are not zero, the charge's breakdown (rules.Charge) and
    what no balance could pay; None when there is nothing to say (no usage, no charge). The console shows every
    row's part prices from it, plain answers' too."""
    out: dict[str, Any] = {}
    if usage is not None:
        parts = {name.removesuffix("_tokens"): getattr(usage, name) for name in _PARTS if getattr(usage, name)}
        if parts:
            out["usage"] = parts
    if charge is not None:
        out.update(charge.to_json())
    if unpaid:
        out["unpaid"] = unpaid
    return orjson.dumps(out).decode() if out else None


class ConsumeLog:
    def __init__(self, writer: LogWriter, prices: Callable[[], PriceTable],
                 options: Callable[[], Mapping[str, str]]) -> None:
        self.writer = writer
        self.prices = prices
        self.options = options

    def done(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if not state.billed or state.user is None or state.token is None:
            return
        if not as_bool(self.options().get("LogConsumeEnabled", "true")):
            return
        usage = state.usage
        audio = state.mode in (modes.SPEECH, modes.TRANSCRIPTION, modes.TRANSLATION)
        prompt = state.quota if audio else (usage.prompt_tokens if usage else 0)   # One API's audio quirk
        completion = 0 if audio else (usage.completion_tokens if usage else 0)
        # positional: sixteen keyword arguments cost more than the row itself
        self.writer.add(LogRow(
            state.user.id, int(time.time()), LOG_CONSUME, self._content(state), state.user.username,
            state.token.name, state.model, state.quota, prompt, completion, state.channel.id if state.channel else 0,
            flow.request_id, flow.timings.elapsed_ms(), state.stream, state.system_prompt_reset,
            state.usage_source or None, None if audio else detail(usage, state.charge, state.unpaid)))

    def _content(self, state: RelayState) -> str:
        ctype = state.channel.type if state.channel else None
        return self.prices().ratio_note(state.model, ctype, state.group, state.mode not in _NO_COMPLETION_RATIO)
