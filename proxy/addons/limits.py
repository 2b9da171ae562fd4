"""Rate limits (#17): a limited request takes its place in its RPM/TPM/concurrency windows before it is forwarded,
or is refused with a 429 naming the limit; it gives the place back when it ends, however it ends.

Two addons: `RateLimits` is listed right after Reservation, so it admits once the prompt is counted (the TPM
estimate is the prompt plus the output limit the request pays for) and before any upstream call is built;
`RateRelease` is listed after Billing, so its `done` knows the real tokens. A refused request is never
forwarded, and Billing refunds its hold (nothing is billed, no consume log row, as for any refusal). A request
with no limit set anywhere does nothing here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

from proxy.addons.reservation import max_tokens_of
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.records import TokenRecord, UserRecord
from proxy.gateway.state import RelayState
from proxy.limits.policy import GROUP_OPTION, GroupLimits, Scope, parse_group_limits, scopes_for
from proxy.limits.windows import LimitExceeded, MemoryWindows, Ticket, Windows

KIND_TYPE = {"requests": "requests", "tokens": "tokens", "parallel": "requests"}
MEMO_SIZE = 4096
_Memo = tuple[TokenRecord, UserRecord, dict[str, GroupLimits], list[Scope]]


class RateLimits:
    def __init__(self, windows: Windows, options: Callable[[], Mapping[str, str]]) -> None:
        self.windows = windows
        self.options = options
        self._raw: str | None = None
        self._groups: dict[str, GroupLimits] = {}
        self._memo: dict[tuple[int, int, str, str], _Memo] = {}

    def _group_limits(self) -> dict[str, GroupLimits]:
        """The GroupRateLimits option, parsed again only when it changed."""
        raw = self.options().get(GROUP_OPTION)
        if raw != self._raw:
            self._raw, self._groups = raw, parse_group_limits(raw)
        return self._groups

    def _scopes(self, token: TokenRecord, user: UserRecord, group: str, model: str) -> list[Scope]:
        """The request's scopes, remembered per token, user, group and model for as long as their records and
        the option stay the same objects (a change replaces them): no keys built per request."""
        groups = self._group_limits()
        key = (token.id, user.id, group, model)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is token and hit[1] is user and hit[2] is groups:
            return hit[3]
        scopes = scopes_for(token, user, group, model, groups)
        if len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
        self._memo[key] = (token, user, groups, scopes)
        return scopes

    def _wanted(self, flow: Flow[RelayState]) -> tuple[list[Scope], int] | None:
        """The request's scopes and its TPM estimate; None when it takes no place in any window."""
        state = flow.state
        if state.limit_ticket is not None or state.token is None or state.user is None or state.mode == modes.PROXY:
            return None   # a retry keeps the first attempt's place
        scopes = self._scopes(state.token, state.user, state.group, state.requested_model)
        if not scopes:
            return None
        tokens = 0
        if any(s.limit.tpm for s in scopes):
            tokens = state.prompt_tokens + (state.output_cap or max_tokens_of(state.body or {}))
        return scopes, tokens

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        wanted = self._wanted(flow)
        if wanted is not None:
            try:
                _admitted(flow, await self.windows.acquire(*wanted))
            except LimitExceeded as e:
                _refuse(flow, e)


class LocalRateLimits(RateLimits):
    """RateLimits over windows held in this process: the check-and-take is a plain call, so the hook is plain
    too (no coroutine per request)."""

    def __init__(self, windows: MemoryWindows, options: Callable[[], Mapping[str, str]]) -> None:
        super().__init__(windows, options)
        self.local = windows

    def rewrite(self, flow: Flow[RelayState]) -> None:  # type: ignore[override]
        wanted = self._wanted(flow)
        if wanted is not None:
            try:
                _admitted(flow, self.local.try_acquire(*wanted))
            except LimitExceeded as e:
                _refuse(flow, e)


def rate_limits(windows: Windows, options: Callable[[], Mapping[str, str]]) -> RateLimits:
    """The admitting addon for these windows."""
    if isinstance(windows, MemoryWindows):
        return LocalRateLimits(windows, options)
    return RateLimits(windows, options)


def _admitted(flow: Flow[RelayState], ticket: Ticket) -> None:
    flow.state.limit_ticket = ticket
    flow.response_headers = ticket.headers


def _refuse(flow: Flow[RelayState], e: LimitExceeded) -> NoReturn:
    flow.state.limit_refused_by = e.source
    flow.response_headers = {**e.headers, "Retry-After": str(e.refusal.retry_after)}
    raise RelayError(429, e.refusal.message(), type=KIND_TYPE[e.refusal.kind], code="rate_limit_exceeded") from None


class RateRelease:
    def __init__(self, windows: Windows) -> None:
        self.windows = windows

    def done(self, flow: Flow[RelayState]) -> None:
        """The real tokens replace the estimate in the TPM windows (0 when nothing was billed); the slot is free.
        Plain, never waiting: a cancellation arriving in `done` cannot leave the slot taken."""
        state = flow.state
        ticket = state.limit_ticket
        if ticket is None:
            return
        tokens = state.usage.total_tokens if state.billed and state.usage is not None else 0
        self.windows.finish(ticket, tokens)


__all__ = ["LocalRateLimits", "RateLimits", "RateRelease", "rate_limits"]
