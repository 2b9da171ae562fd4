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

from proxy.addons.reservation import max_tokens_of
from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway import modes
from proxy.gateway.records import TokenRecord, UserRecord
from proxy.gateway.state import RelayState
from proxy.limits.policy import GROUP_OPTION, GroupLimits, Scope, parse_group_limits, scopes_for
from proxy.limits.windows import LimitExceeded, Windows

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

    async def rewrite(self, flow: Flow[RelayState]) -> None:
        state = flow.state
        if state.limit_ticket is not None or state.token is None or state.user is None or state.mode == modes.PROXY:
            return   # a retry keeps the first attempt's place
        scopes = self._scopes(state.token, state.user, state.group, state.requested_model)
        if not scopes:
            return
        tokens = 0
        if any(s.limit.tpm for s in scopes):
            tokens = state.prompt_tokens + (state.output_cap or max_tokens_of(state.body or {}))
        try:
            state.limit_ticket = await self.windows.acquire(scopes, tokens)
        except LimitExceeded as e:
            state.limit_refused_by = e.source
            flow.response_headers = {**e.headers, "Retry-After": str(e.refusal.retry_after)}
            raise RelayError(429, e.refusal.message(), type=KIND_TYPE[e.refusal.kind],
                             code="rate_limit_exceeded") from None
        flow.response_headers = state.limit_ticket.headers


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


__all__ = ["RateLimits", "RateRelease"]
