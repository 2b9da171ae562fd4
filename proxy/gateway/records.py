"""Immutable snapshots of the rows the relay needs, as held in the caches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from rules.rate_limits import Budget, Limit, parse_budgets
from store.models import Channel, Token, User


@dataclass(frozen=True)
class TokenRecord:
    id: int
    user_id: int
    key: str
    status: int
    name: str
    expired_time: int
    remain_quota: int
    unlimited_quota: bool
    used_quota: int
    models: tuple[str, ...] | None   # None = every model
    subnet: str
    limit: Limit = Limit()           # #17: rpm_limit, tpm_limit, max_parallel_requests (0 = unlimited)
    budgets: tuple[Budget, ...] = ()

    @classmethod
    def from_row(cls, t: Token) -> TokenRecord:
        models = tuple(t.models.split(",")) if t.models else None
        return cls(t.id, t.user_id, t.key, t.status, t.name or "", t.expired_time if t.expired_time is not None else -1,
                   t.remain_quota or 0, bool(t.unlimited_quota), t.used_quota or 0, models, t.subnet or "",
                   Limit.of(t), parse_budgets(t.budgets))


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    role: int
    status: int
    group: str
    quota: int
    used_quota: int
    limit: Limit = Limit()           # #17: rpm_limit, tpm_limit, max_parallel_requests (0 = unlimited)
    budgets: tuple[Budget, ...] = ()

    @classmethod
    def from_row(cls, u: User) -> UserRecord:
        return cls(u.id, u.username, u.role or 1, u.status or 1, u.group or "default", u.quota or 0, u.used_quota or 0,
                   Limit.of(u), parse_budgets(u.budgets))


def _json_map(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}   # One API ignores invalid mapping/config JSON
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class ChannelRecord:
    id: int
    type: int
    key: str
    status: int
    name: str
    weight: int
    base_url: str
    models: tuple[str, ...]
    groups: tuple[str, ...]
    model_mapping: Mapping[str, str]
    priority: int
    config: Mapping[str, str]
    system_prompt: str
    other: str = ""

    @classmethod
    def from_row(cls, c: Channel) -> ChannelRecord:
        mapping = {str(k): str(v) for k, v in _json_map(c.model_mapping).items() if isinstance(v, str) and v}
        config = {str(k): str(v) for k, v in _json_map(c.config).items() if v not in (None, "")}
        return cls(c.id, c.type or 0, c.key or "", c.status or 0, c.name or "", c.weight or 0,
                   (c.base_url or "").rstrip("/"), tuple(m.strip() for m in (c.models or "").split(",") if m.strip()),
                   tuple(g.strip() for g in (c.group or "default").split(",") if g.strip()),
                   mapping, c.priority or 0, config, c.system_prompt or "", c.other or "")
