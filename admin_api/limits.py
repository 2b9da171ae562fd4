"""Rate limits and budgets on tokens and users (#17): reading them from a request body, showing them with each
budget's current use, and `GET /api/user/limits`.

On a token or a user, `rpm_limit`, `tpm_limit` and `max_parallel_requests` (0 = unlimited) and `budgets` (a list
of {"period": "5h" | "day" | "week" | "month", "quota": N}). A field left out of an update keeps its value (a One
API client that does not know them changes none). Read back, each budget also has `used` (in its current window)
and `resets_at` (Unix seconds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from admin_api.auth import current_user
from admin_api.envelope import Refusal, ok
from admin_api.option_rules import current
from admin_api.payload import INT32, Payload
from admin_api.state import state_of
from rules.rate_limits import (
    FIELDS,
    GROUP_OPTION,
    budgets_error,
    encode_budgets,
    parse_budgets,
    resets_at,
    window_start,
)
from store import Database, tokens
from store.budgets import budgets_of
from store.models import Token, User

TPM_MAX = (0, 2**53)


def limit_fields(body: Payload) -> dict[str, Any]:
    """The limit fields present in the body, checked; absent ones are not changed."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        if body.has(name):
            values[name] = body.integer(name, 0, TPM_MAX if name == "tpm_limit" else (0, INT32[1])) or None
    if "budgets" in body.data:
        raw = body.data["budgets"]
        problem = budgets_error(raw)
        if problem:
            raise Refusal(f"参数错误：{problem}")
        values["budgets"] = encode_budgets(raw)
    return values


def _scope(kind: str, row_id: int, period: str) -> str:
    """The budget's key as the proxy writes it (proxy.limits.budgets.budget_scopes)."""
    return f"{kind}:{row_id}:{period}"


async def limits_of(db: Database, rows: Sequence[Token | User], now: int) -> list[dict[str, Any]]:
    """Each row's limits and budgets, with the budgets' current use (one query for every row)."""
    kind = "t" if rows and isinstance(rows[0], Token) else "u"
    budgets = {row.id: parse_budgets(row.budgets) for row in rows}
    keys = [_scope(kind, row_id, b.period) for row_id, bs in budgets.items() for b in bs]
    async with db.session() as s:
        found = await budgets_of(s, keys)
    out = []
    for row in rows:
        shown = []
        for b in budgets[row.id]:
            start, used = found.get(_scope(kind, row.id, b.period), (0, 0))
            start_now = window_start(b.period, now, start)
            shown.append({"period": b.period, "quota": b.quota, "used": used if start_now == start else 0,
                          "resets_at": resets_at(b.period, start_now)})
        out.append({"rpm_limit": row.rpm_limit or 0, "tpm_limit": row.tpm_limit or 0,
                    "max_parallel_requests": row.max_parallel_requests or 0, "budgets": shown})
    return out


async def with_limits(db: Database, shown: list[dict[str, Any]], rows: Sequence[Token | User],
                      now: int) -> list[dict[str, Any]]:
    """The JSON shapes of `rows` with their limits added."""
    for item, limits in zip(shown, await limits_of(db, rows, now), strict=True):
        item.update(limits)
    return shown


async def user_limits(request: web.Request) -> web.Response:
    """GET /api/user/limits: the caller's own limits and budgets, their group's, and each of their tokens'."""
    state, user = state_of(request), current_user(request)
    now = int(time.time())
    async with state.db.session() as s:
        own_tokens = await tokens.list_all(s, user.id)
    groups = orjson.loads((await current(state.db)).text(GROUP_OPTION) or "{}")
    group = groups.get(user.group) if isinstance(groups, dict) else None
    [mine] = await limits_of(state.db, [user], now)
    listed = await limits_of(state.db, own_tokens, now)
    shown = [{"id": t.id, "name": t.name or "", **lim} for t, lim in zip(own_tokens, listed, strict=True)]
    return ok({"user": mine, "group": {"name": user.group, **(group if isinstance(group, dict) else {})},
               "tokens": shown})


__all__ = ["limit_fields", "limits_of", "user_limits", "with_limits"]
