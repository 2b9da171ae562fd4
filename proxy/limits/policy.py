"""Which limits apply to a request, whether it fits its windows, and what the client is told (pure, #17).

A request counts in up to three scopes: its token (the token's own limits), its user (the user's own limits,
tightened by the group's default for every member) and its user's model (the group's limit for that model).
Each scope has its own sliding 60-second window and concurrency count; a request is admitted only when it fits
every scope, so the tightest applicable limit wins.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from rules.rate_limits import GROUP_OPTION, GroupLimits, Limit, parse_group_limits

WINDOW_MS = 60_000          # RPM and TPM: a sliding window of one minute
SCOPE_KEY_MAX = 191         # the scope column's size


@dataclass(frozen=True, slots=True)
class Scope:
    key: str        # the window's identity, shared by every worker and node
    name: str       # named in a refusal: "token", "user", "model gpt-5"
    limit: Limit


def _scope_key(prefix: str, *parts: object) -> str:
    key = ":".join((prefix, *map(str, parts)))
    if len(key) <= SCOPE_KEY_MAX:
        return key
    return f"{prefix}:{parts[0]}:#" + hashlib.sha256(key.encode()).hexdigest()


def scopes_for(token: Any, user: Any, group: str, model: str, groups: Mapping[str, GroupLimits]) -> list[Scope]:
    """The limited scopes of a request (none: the request is not limited at all)."""
    scopes = []
    own = token.limit
    if own:
        scopes.append(Scope(_scope_key("t", token.id), "token", own))
    spec = groups.get(group)
    person = user.limit.tighter(spec.default) if spec else user.limit
    if person:
        scopes.append(Scope(_scope_key("u", user.id), "user", person))
    per_model = spec.models.get(model) if spec else None
    if per_model:
        scopes.append(Scope(_scope_key("m", user.id, model), f"model {model}", per_model))
    return scopes


class Window(NamedTuple):
    """A scope's window before this request (the backends' view, whatever holds it). A tuple: one is made per
    scope and request, and a frozen dataclass costs several times as much to build."""

    requests: int
    tokens: int
    parallel: int
    oldest_ms: int | None


@dataclass(frozen=True, slots=True)
class Refusal:
    scope: Scope
    kind: str            # "requests" | "tokens" | "parallel"
    limit: int
    used: int
    requested: int
    retry_after: int     # seconds

    def message(self) -> str:
        what = {"requests": "requests per minute (RPM)", "tokens": "tokens per minute (TPM)",
                "parallel": "concurrent requests"}[self.kind]
        return (f"Rate limit reached for {what} on {self.scope.name}: limit {self.limit}, used {self.used}, "
                f"requested {self.requested}. Please try again in {self.retry_after}s.")


def frees_in_ms(window: Window, now_ms: int) -> int:
    """Until the oldest request of the window leaves it (the whole window when it holds none)."""
    return WINDOW_MS if window.oldest_ms is None else min(WINDOW_MS, max(0, window.oldest_ms + WINDOW_MS - now_ms))


def decide(scopes: Sequence[Scope], windows: Sequence[Window], tokens: int, now_ms: int) -> Refusal | None:
    """None when the request fits every scope; else the first limit it would break."""
    for scope, w in zip(scopes, windows, strict=True):
        lim = scope.limit
        if lim.parallel and w.parallel + 1 > lim.parallel:
            return Refusal(scope, "parallel", lim.parallel, w.parallel, 1, 1)
        if lim.rpm and w.requests + 1 > lim.rpm:
            return Refusal(scope, "requests", lim.rpm, w.requests, 1, _retry_after(w, now_ms))
        if lim.tpm and w.tokens + tokens > lim.tpm:
            return Refusal(scope, "tokens", lim.tpm, w.tokens, tokens, _retry_after(w, now_ms))
    return None


def _retry_after(w: Window, now_ms: int) -> int:
    return max(1, math.ceil(frees_in_ms(w, now_ms) / 1000))


def duration(ms: int) -> str:
    """OpenAI's reset format: "20ms", "1s", "6m0s"."""
    if ms < 1000:
        return f"{ms}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest}s"


def headers(scopes: Sequence[Scope], windows: Sequence[Window], tokens: int, now_ms: int,
            admitted: bool) -> dict[str, str]:
    """x-ratelimit-* of the tightest scope per kind, counting this request when it was admitted (on every answer
    of a limited token: written for speed, one pass over the scopes)."""
    out: dict[str, str] = {}
    rpm_best = tpm_best = None   # (remaining, limit, window)
    for scope, w in zip(scopes, windows, strict=True):
        lim = scope.limit
        if lim.rpm:
            left = lim.rpm - w.requests - admitted
            if rpm_best is None or left < rpm_best[0]:
                rpm_best = (left, lim.rpm, w)
        if lim.tpm:
            left = lim.tpm - w.tokens - (tokens if admitted else 0)
            if tpm_best is None or left < tpm_best[0]:
                tpm_best = (left, lim.tpm, w)
    if rpm_best is not None:
        left, limit, w = rpm_best
        out["x-ratelimit-limit-requests"] = str(limit)
        out["x-ratelimit-remaining-requests"] = str(left if left > 0 else 0)
        out["x-ratelimit-reset-requests"] = duration(frees_in_ms(w, now_ms))
    if tpm_best is not None:
        left, limit, w = tpm_best
        out["x-ratelimit-limit-tokens"] = str(limit)
        out["x-ratelimit-remaining-tokens"] = str(left if left > 0 else 0)
        out["x-ratelimit-reset-tokens"] = duration(frees_in_ms(w, now_ms))
    return out


__all__ = ["GROUP_OPTION", "WINDOW_MS", "GroupLimits", "Limit", "Refusal", "Scope", "Window", "decide", "duration",
           "frees_in_ms", "headers", "parse_group_limits", "scopes_for"]
