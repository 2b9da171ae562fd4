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
from typing import Any

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
    own = Limit.of(token)
    if own:
        scopes.append(Scope(_scope_key("t", token.id), "token", own))
    spec = groups.get(group)
    person = Limit.of(user).tighter(spec.default) if spec else Limit.of(user)
    if person:
        scopes.append(Scope(_scope_key("u", user.id), "user", person))
    per_model = spec.models.get(model) if spec else None
    if per_model:
        scopes.append(Scope(_scope_key("m", user.id, model), f"model {model}", per_model))
    return scopes


@dataclass(frozen=True, slots=True)
class Window:
    """A scope's window before this request (the backends' view, whatever holds it)."""

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


def _frees_in_ms(window: Window, now_ms: int) -> int:
    """Until the oldest request of the window leaves it (the whole window when it holds none)."""
    return WINDOW_MS if window.oldest_ms is None else min(WINDOW_MS, max(0, window.oldest_ms + WINDOW_MS - now_ms))


def decide(scopes: Sequence[Scope], windows: Sequence[Window], tokens: int, now_ms: int) -> Refusal | None:
    """None when the request fits every scope; else the first limit it would break."""
    for scope, w in zip(scopes, windows, strict=True):
        lim = scope.limit
        if lim.parallel and w.parallel + 1 > lim.parallel:
            return Refusal(scope, "parallel", lim.parallel, w.parallel, 1, 1)
        retry = max(1, math.ceil(_frees_in_ms(w, now_ms) / 1000))
        if lim.rpm and w.requests + 1 > lim.rpm:
            return Refusal(scope, "requests", lim.rpm, w.requests, 1, retry)
        if lim.tpm and w.tokens + tokens > lim.tpm:
            return Refusal(scope, "tokens", lim.tpm, w.tokens, tokens, retry)
    return None


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
    """x-ratelimit-* of the tightest scope per kind, counting this request when it was admitted."""
    out: dict[str, str] = {}
    for kind, limit_of, used_of in (("requests", _rpm, _requests_used), ("tokens", _tpm, _tokens_used)):
        best: tuple[int, int, int] | None = None    # remaining, limit, reset ms
        for scope, w in zip(scopes, windows, strict=True):
            limit = limit_of(scope.limit)
            if not limit:
                continue
            used = used_of(w) + ((1 if kind == "requests" else tokens) if admitted else 0)
            reset = _frees_in_ms(w, now_ms) if w.oldest_ms is not None or not admitted else WINDOW_MS
            candidate = (max(0, limit - used), limit, reset)
            if best is None or candidate[0] < best[0]:
                best = candidate
        if best is not None:
            out[f"x-ratelimit-limit-{kind}"] = str(best[1])
            out[f"x-ratelimit-remaining-{kind}"] = str(best[0])
            out[f"x-ratelimit-reset-{kind}"] = duration(best[2])
    return out


def _rpm(limit: Limit) -> int:
    return limit.rpm


def _tpm(limit: Limit) -> int:
    return limit.tpm


def _requests_used(w: Window) -> int:
    return w.requests


def _tokens_used(w: Window) -> int:
    return w.tokens


__all__ = ["GROUP_OPTION", "WINDOW_MS", "GroupLimits", "Limit", "Refusal", "Scope", "Window", "decide", "duration",
           "headers", "parse_group_limits", "scopes_for"]
