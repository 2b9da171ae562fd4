"""A user's API tokens (one-api.md §8.5): every query is scoped to the caller, admins included."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from aiohttp import web

from admin_api.auth import current_user
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok, path_id, query_int, query_text
from admin_api.limits import limit_fields, with_limits
from admin_api.payload import INT32, QUOTA, Payload
from admin_api.settle_wait import after_pending_settlements
from admin_api.shapes import token_json
from admin_api.state import state_of
from store import tokens
from store.channels import clean_list
from store.models import TOKEN_DISABLED, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, Token

NOT_FOUND = "令牌不存在"


def check_subnets(subnet: str) -> None:
    """Comma-separated CIDRs, as One API's network.IsValidSubnets."""
    for part in subnet.split(","):
        part = part.strip()
        try:
            if "/" not in part:
                raise ValueError(f"invalid CIDR address: {part}")
            ipaddress.ip_network(part, strict=False)
        except ValueError as exc:
            raise Refusal(f"参数错误：无效的网段：{exc}") from None


def _fields(body: Payload) -> dict[str, Any]:
    """The editable fields of a create or full update; absent ones take their zero value (One API)."""
    name = body.text("name")
    if len(name.encode("utf-8")) > 30:
        raise Refusal("参数错误：令牌名称过长")
    subnet = body.text("subnet")
    if subnet:
        check_subnets(subnet)
    models = body.data.get("models")
    if models is not None and not isinstance(models, str):
        raise Refusal(INVALID_PARAMETER)
    return {"name": name, "expired_time": body.integer("expired_time", -1),
            "remain_quota": body.integer("remain_quota", 0, QUOTA),
            "unlimited_quota": body.flag("unlimited_quota"), "models": clean_list(models) if models else models,
            "subnet": ",".join(p.strip() for p in subnet.split(",")) if subnet else subnet, **limit_fields(body)}


async def _shown(request: web.Request, rows: list[Token]) -> list[dict[str, Any]]:
    """Tokens as One API shows them, with their rate limits and budgets (#17)."""
    return await with_limits(state_of(request).db, [token_json(t) for t in rows], rows, int(time.time()))


async def list_tokens(request: web.Request) -> web.Response:
    """GET /api/token/?p=&order=: a page of the caller's tokens."""
    async with state_of(request).db.session() as s:
        found = await tokens.list_page(s, current_user(request).id, query_int(request, "p"),
                                       query_text(request, "order"))
    return ok(await _shown(request, found))


async def search_tokens(request: web.Request) -> web.Response:
    """GET /api/token/search?keyword=: the caller's tokens whose name starts with the keyword."""
    async with state_of(request).db.session() as s:
        found = await tokens.search(s, current_user(request).id, query_text(request, "keyword"))
    return ok(await _shown(request, found))


async def _own(request: web.Request, token_id: int) -> Token:
    async with state_of(request).db.session() as s:
        token = await tokens.get(s, current_user(request).id, token_id)
    if token is None:
        raise Refusal(NOT_FOUND)
    return token


async def get_token(request: web.Request) -> web.Response:
    """GET /api/token/:id: one of the caller's tokens."""
    return ok((await _shown(request, [await _own(request, path_id(request))]))[0])


async def create(request: web.Request) -> web.Response:
    """POST /api/token/: a new token with a generated key (expired_time defaults to -1, never)."""
    values = _fields(await Payload.read(request))
    async with state_of(request).db.session() as s:
        token = await tokens.create(s, current_user(request).id, values)
    return ok((await _shown(request, [token]))[0])


def _refuse_enabling(token: Token) -> None:
    """One API refuses to enable a token that is past its expiry or out of quota."""
    if token.expired_time != -1 and token.expired_time <= int(time.time()):
        raise Refusal("令牌已过期，无法启用，请先修改令牌过期时间，或者设置为永不过期")
    if not token.unlimited_quota and token.remain_quota <= 0:
        raise Refusal("令牌可用额度已用尽，无法启用，请先修改令牌剩余额度，或者设置为无限额度")


async def update(request: web.Request) -> web.Response:
    """PUT /api/token/ (?status_only= changes only the status: 1 enabled, 2 disabled, 3 expired, 4 exhausted,
    as One API accepts them; enabling is refused while the token is past its expiry or out of quota)."""
    body = await Payload.read(request)
    token = await _own(request, body.integer("id", 0, INT32))
    if request.query.get("status_only"):
        status = body.integer("status", 0, INT32)
        if status not in (TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED):
            raise Refusal(INVALID_PARAMETER)
        if status == TOKEN_ENABLED:
            _refuse_enabling(token)
        values: dict[str, Any] = {"status": status}
    else:
        values = _fields(body)
    if values.get("remain_quota", token.remain_quota) != token.remain_quota:
        await after_pending_settlements(state_of(request).settings)   # the quota set is the balance from now on
    async with state_of(request).db.session() as s:
        await tokens.update_fields(s, token.user_id, token.id, values)
    for name, value in values.items():
        setattr(token, name, value)
    return ok((await _shown(request, [token]))[0])


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/token/:id: hard delete of one of the caller's tokens."""
    async with state_of(request).db.session() as s:
        if not await tokens.delete_one(s, current_user(request).id, path_id(request)):
            raise Refusal(NOT_FOUND)
    return ok()
