"""Reserve before forwarding, settle to the real cost after (one-api.md §7, made exact).

Every request reserves its estimate atomically through the ledger (no
"trusted user" bypass), and `done` settles to the real cost or refunds: a
failure before any byte reached the client costs nothing; a client gone
mid-stream pays for what was delivered.
"""

from __future__ import annotations

import functools
from typing import Any, Awaitable, Callable, Iterable, Mapping

from proxy.converters.base import Usage
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.ledger import InsufficientQuota, Ledger
from proxy.gateway.state import RelayState
from proxy.gateway.tokenizer import image_tokens_for_part, remote_image_urls
from rules import PriceTable
from store import as_int

_REFUSAL = {"token": "令牌额度不足", "user": "用户额度不足"}


def max_tokens_of(body: Mapping[str, Any]) -> int:
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 0


class Billing:
    def __init__(self, ledger: Ledger, prices: Callable[[], PriceTable], options: Callable[[], Mapping[str, str]],
                 tokenizer: Any,
                 image_sizes: Callable[[Iterable[str]], Awaitable[Mapping[str, tuple[int, int]]]] | None = None) -> None:
        self.ledger = ledger
        self.prices = prices
        self.options = options
        self.tokenizer = tokenizer
        self.image_sizes = image_sizes     # remote images' sizes, for their vision tokens (ImageProbe.sizes)

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.mode == modes.PROXY or state.token is None or state.user is None:
            return
        urls = remote_image_urls(state.mode, state.body) if self.image_sizes and state.body else None
        remote = await self.image_sizes(urls) if urls and self.image_sizes else None
        estimate = self._estimate(state, remote)
        need = estimate - state.reserved
        if need > 0:
            try:
                await self.ledger.reserve(state.token, state.user.id, need)
            except InsufficientQuota as e:
                raise RelayError(403, _REFUSAL[e.pool], code="pre_consume_token_quota_failed") from None
            state.reserved += need
        state.billed = True

    def done(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if not state.billed or state.token is None or state.user is None:
            return
        if (flow.error is not None and not flow.committed) or self._stream_failed_at_once(state):
            self.ledger.refund(state.token, state.user.id, state.reserved)
            state.billed = False
            return
        state.quota = self._actual(state)
        channel_id = state.channel.id if state.channel else None
        self.ledger.settle(state.token, state.user.id, channel_id, state.reserved, state.quota)

    @staticmethod
    def _stream_failed_at_once(state: RelayState) -> bool:
        """A converted stream whose only content was the provider's error (sent inside HTTP 200) costs nothing."""
        error = getattr(state.stream_converter, "error", None)
        return error is not None and not any(state.completion_parts) and state.usage is None

    def _ctype(self, state: RelayState) -> int | None:
        return state.channel.type if state.channel else None

    def _estimate(self, state: RelayState, remote: Mapping[str, tuple[int, int]] | None = None) -> int:
        prices, body, group = self.prices(), state.body or {}, state.group
        if state.mode == modes.IMAGES:
            return self._image_cost(state, prices, body)
        if state.mode == modes.SPEECH:
            text = body.get("input") if isinstance(body.get("input"), str) else ""
            if len(text.encode()) > prices.audio.speech_max_input_bytes:
                raise RelayError(400, "input is too long", code="text_too_long")
            return prices.speech_cost(state.model, len(text.encode()), self._ctype(state), group)
        pre_consumed = as_int(self.options().get("PreConsumedQuota"), 500)
        if state.mode in (modes.TRANSCRIPTION, modes.TRANSLATION):
            return prices.transcription_pre_consume(pre_consumed, self._ctype(state), group)
        images = functools.partial(image_tokens_for_part, model=state.model, remote=remote) if remote else None
        state.prompt_tokens = self.tokenizer.count_prompt(state.mode, body, state.model, images)
        return prices.pre_consume(state.prompt_tokens, max_tokens_of(body), pre_consumed, state.model,
                                  self._ctype(state), group)

    def _image_cost(self, state: RelayState, prices: PriceTable, body: Mapping[str, Any]) -> int:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise RelayError(400, "prompt is required", code="prompt_missing")
        size = body.get("size") if isinstance(body.get("size"), str) else "1024x1024"
        n = body.get("n") if isinstance(body.get("n"), int) else 1
        rule = prices.image_rule(state.model)
        if rule is not None:
            if not rule.allows_size(size) and state.model != "cogview-3":
                raise RelayError(400, f"size not supported for this image model: {size}", code="size_not_supported")
            if not rule.allows_prompt(len(prompt.encode())):
                raise RelayError(400, "prompt is too long", code="prompt_too_long")
            if not rule.allows_n(n):
                raise RelayError(400, f"invalid value of n: {n}", code="n_not_within_range")
        quality = body.get("quality") if isinstance(body.get("quality"), str) else ""
        return prices.image_cost(state.model, size, quality, n, state.group, self._ctype(state))

    def _actual(self, state: RelayState) -> int:
        if state.mode in (modes.IMAGES, modes.SPEECH):
            return state.reserved       # priced up front, charged in full once the upstream said yes
        text = "".join(state.completion_parts)
        if state.mode in (modes.TRANSCRIPTION, modes.TRANSLATION):
            state.usage_source = "counted"
            return self.tokenizer.count_text(text, "whisper-1")   # One API: transcript tokens, no ratio (§7.7)
        usage = self._usage(state, text)
        return self.prices().quota_for(usage.prompt_tokens, usage.completion_tokens, state.model,
                                       self._ctype(state), state.group)

    def _usage(self, state: RelayState, text: str) -> Usage:
        converter_usage = getattr(state.stream_converter, "usage", None)
        if isinstance(converter_usage, Usage) and converter_usage.total_tokens:
            state.usage, state.usage_source = converter_usage, "upstream"
        usage = state.usage
        if usage is not None and usage.total_tokens:
            if usage.prompt_tokens == 0:
                usage = Usage(state.prompt_tokens, max(0, usage.total_tokens - state.prompt_tokens))
            state.usage = usage
            return usage
        completion = self.tokenizer.count_text(text, state.model) if text else 0
        state.usage = Usage(state.prompt_tokens, completion)
        state.usage_source = "counted" if text else "estimated"
        return state.usage


__all__ = ["Billing", "max_tokens_of"]
