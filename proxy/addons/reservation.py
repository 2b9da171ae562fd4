"""Hold what an answer can cost before it is forwarded (one-api.md §7.3, made exact: #14).

The hold prices the prompt and the longest answer the request allows (its `max_tokens`, else the
model's own output limit from rules/max_output.toml) at their own ratios. When the balance cannot
cover that, the request still goes ahead with what the balance can pay for: the hold takes what is
left and the request's output limit is capped to the tokens it pays for (only then is the body
changed). So no answer can cost more than was held for it, under any concurrency.

Runs before the upstream addons build the call (the cap must be in the body they encode), and
before any remote image is fetched: an image URL is only looked at once the text is paid for.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

from proxy.addons.output_meter import OutputMeter
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.messages import say
from proxy.gateway.state import RelayState
from proxy.gateway.tokenizer import PromptOverBudget, Tokenizer, image_tokens_for_part, remote_image_urls
from proxy.ledger import InsufficientQuota, Ledger, spendable
from rules import MaxOutput, PriceTable
from store import as_int

OUTPUT_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
# modes whose answers are text priced per completion token (the others are priced up front or have no answer)
ANSWER_MODES = frozenset({modes.CHAT, modes.COMPLETIONS, modes.EDITS})
PRICED_UP_FRONT = frozenset({modes.IMAGES, modes.IMAGE_EDITS, modes.SPEECH, modes.TRANSCRIPTION, modes.TRANSLATION})
BIG_PROMPT = 256 * 1024      # a body this large is checked against the balance before its prompt is counted
RACE_TRIES = 3               # a capped hold that loses a race for the balance is recomputed this often
# model families that take `max_completion_tokens` and refuse `max_tokens` (OpenAI's reasoning models)
_COMPLETION_TOKENS_FAMILIES = ("o1", "o3", "o4", "gpt-5")
T = TypeVar("T")
ImageSizes = Callable[[Iterable[str]], Awaitable[Mapping[str, tuple[int, int]]]]   # remote image URL -> (w, h)


def max_tokens_of(body: Mapping[str, Any]) -> int:
    for key in OUTPUT_LIMIT_FIELDS:
        value = body.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 0


def output_limit_fields(mode: str, body: Mapping[str, Any], model: str) -> tuple[str, ...]:
    """The body fields that carry the answer's token limit: those the client set, else the one its API reads."""
    present = tuple(key for key in OUTPUT_LIMIT_FIELDS if isinstance(body.get(key), int))
    if present:
        return present
    if mode == modes.CHAT and model.lower().rsplit("/", 1)[-1].startswith(_COMPLETION_TOKENS_FAMILIES):
        return ("max_completion_tokens",)
    return ("max_tokens",)


def _field(body: Mapping[str, Any], key: str, kind: type[T], default: T) -> T:
    """body[key] when it has the expected type, else the default (One API's zero values for absent fields)."""
    value = body.get(key)
    return value if isinstance(value, kind) else default


def refusal(pool: str) -> RelayError:
    """One API's message for a short token or user balance; a budget's refusal (#17) says itself which."""
    return RelayError(403, say(f"{pool}_quota_short") if pool in ("token", "user") else pool,
                      code="pre_consume_token_quota_failed")


class Reservation:
    def __init__(self, ledger: Ledger, prices: Callable[[], PriceTable], options: Callable[[], Mapping[str, str]],
                 tokenizer: Tokenizer, max_output: MaxOutput,
                 image_sizes: ImageSizes | None = None) -> None:
        self.ledger = ledger
        self.prices = prices
        self.options = options
        self.tokenizer = tokenizer
        self.max_output = max_output
        self.image_sizes = image_sizes     # remote images' sizes, for their vision tokens (ImageProbe.sizes)

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.mode == modes.PROXY or state.token is None or state.user is None:
            return
        if state.mode in PRICED_UP_FRONT:
            pool = await self._take(state, self._fixed_cost(state))
            if pool is not None:
                raise refusal(pool)
        else:
            await self.tokenizer.load_for(state.model)   # an encoding not loaded yet: off the loop, once
            await self._hold_answer(flow, await self._prompt_tokens(flow, None))
            urls = remote_image_urls(state.mode, state.body) if self.image_sizes and state.body else None
            if urls and self.image_sizes:     # fetched only now that the text is paid for
                remote = await self.image_sizes(urls)
                if remote:
                    await self._hold_answer(flow, await self._prompt_tokens(flow, remote))
        state.billed = True
        self._apply_cap(flow)
        if state.output_cap and state.stream:
            flow.gate = self._meter(flow)

    # -- the hold ---------------------------------------------------------------------------------

    async def _take(self, state: RelayState, amount: int) -> str | None:
        """Raise the hold to `amount`; the pool that refused ("token" or "user"), or None when held."""
        need = amount - state.reserved
        if need > 0:
            assert state.token is not None and state.user is not None
            try:
                await self.ledger.reserve(state.token, state.user.id, need, state.budget_holds)
            except InsufficientQuota as e:
                return str(e.pool)
            state.reserved += need
        return None

    async def _hold_answer(self, flow: Flow[RelayState], prompt_tokens: int) -> None:
        """Hold prompt + the longest allowed answer; failing that, what the balance affords, capping the answer."""
        state = flow.state
        state.prompt_tokens = prompt_tokens
        args = (self._pre_consumed(), state.model, self._ctype(state), state.group)
        limit = 0
        if state.mode in ANSWER_MODES:
            limit = state.output_cap or max_tokens_of(state.body or {}) or self.max_output.tokens(state.model)
        pool = await self._take(state, self.prices().hold(prompt_tokens, limit, *args))
        if pool is None:
            return
        for _ in range(RACE_TRIES if limit else 0):
            budget = state.reserved + await self._available(state)
            tokens = self.prices().affordable_completion(budget, prompt_tokens, *args, ceiling=limit)
            if tokens < 1:
                break
            pool = await self._take(state, self.prices().hold(prompt_tokens, tokens, *args))
            if pool is None:
                state.output_cap = tokens
                return
        raise refusal(pool)

    def _apply_cap(self, flow: Flow[RelayState]) -> None:
        """Put the capped output limit into the body the upstream addons will encode (this attempt's changes)."""
        state = flow.state
        if not state.output_cap or state.body is None:
            return
        changes = state.body_changes
        for key in output_limit_fields(state.mode, state.body, state.model):
            changes[key] = state.output_cap

    def _meter(self, flow: Flow[RelayState]) -> OutputMeter:
        """Counts a capped stream as it goes out, growing its hold first (an upstream may ignore the cap)."""
        state = flow.state
        prices, args = self.prices(), (self._pre_consumed(), state.model, self._ctype(state), state.group)
        prompt = state.prompt_tokens
        return OutputMeter(flow, functools.partial(self.tokenizer.count_text, model=state.model),
                           lambda tokens: prices.hold(prompt, tokens, *args), self._take)

    async def _available(self, state: RelayState) -> int:
        assert state.token is not None and state.user is not None
        return await spendable(self.ledger, state.token, state.user.id)

    async def _short_pool(self, state: RelayState) -> str:
        """Which balance cannot pay: the token's when it is the smaller one (One API's two messages)."""
        assert state.token is not None and state.user is not None
        if state.token.unlimited_quota:
            return "user"
        token = await self.ledger.token_remain(state.token)
        return "token" if token <= await self.ledger.user_quota(state.user.id) else "user"

    # -- what the request costs ---------------------------------------------------------------------

    def _pre_consumed(self) -> int:
        return as_int(self.options().get("PreConsumedQuota"), 500)

    def _ctype(self, state: RelayState) -> int | None:
        return state.channel.type if state.channel else None

    async def _prompt_tokens(self, flow: Flow[RelayState], remote: Mapping[str, tuple[int, int]] | None) -> int:
        """The prompt's tokens; a big body is first bounded by what the balance can pay for, and counted off
        the event loop so one huge prompt cannot stall every other request."""
        state = flow.state
        body = state.body or {}
        images = functools.partial(image_tokens_for_part, model=state.model, remote=remote) if remote else None
        if len(flow.request.body) < BIG_PROMPT:
            return int(self.tokenizer.count_prompt(state.mode, body, state.model, images))
        budget = state.reserved + await self._available(state)
        limit = self.prices().affordable_prompt(budget, self._pre_consumed(), state.model, self._ctype(state),
                                                state.group)
        count = functools.partial(self.tokenizer.count_prompt_within, state.mode, body, state.model, limit, images)
        try:
            return int(await asyncio.to_thread(count))
        except PromptOverBudget:
            raise refusal(await self._short_pool(state)) from None

    def _fixed_cost(self, state: RelayState) -> int:
        """Requests priced before they run: images, speech, transcription and translation."""
        prices, body, group = self.prices(), state.body or {}, state.group
        if state.mode == modes.IMAGES:
            return self._image_cost(state, prices, body)
        if state.mode == modes.IMAGE_EDITS:     # priced as generations (One API's image ratio), from the form
            form = state.form
            fields = {"prompt": form.get("prompt"), "size": form.get("size") or "1024x1024",
                      "n": int(form.get("n", "1").strip() or "1"), "quality": form.get("quality", "")}
            return self._image_cost(state, prices, fields)
        if state.mode == modes.SPEECH:
            text = _field(body, "input", str, "")
            if len(text.encode()) > prices.audio.speech_max_input_bytes:
                raise RelayError(400, "input is too long", code="text_too_long")
            return prices.speech_cost(state.model, len(text.encode()), self._ctype(state), group)
        return prices.transcription_pre_consume(self._pre_consumed(), self._ctype(state), group)

    def _image_cost(self, state: RelayState, prices: PriceTable, body: Mapping[str, Any]) -> int:
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            raise RelayError(400, "prompt is required", code="prompt_missing")
        size = _field(body, "size", str, "1024x1024")
        n = _field(body, "n", int, 1)
        rule = prices.image_rule(state.model)
        if rule is not None:
            if not rule.allows_size(size) and state.model != "cogview-3":
                raise RelayError(400, f"size not supported for this image model: {size}", code="size_not_supported")
            if not rule.allows_prompt(len(prompt.encode())):
                raise RelayError(400, "prompt is too long", code="prompt_too_long")
            if not rule.allows_n(n):
                raise RelayError(400, f"invalid value of n: {n}", code="n_not_within_range")
        quality = _field(body, "quality", str, "")
        return prices.image_cost(state.model, size, quality, n, state.group, self._ctype(state))


__all__ = ["Reservation", "max_tokens_of", "output_limit_fields"]
