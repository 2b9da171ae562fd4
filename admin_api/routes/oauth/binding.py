"""Binding routes for a logged-in user: a WeChat account, or an email address proved by a mailed code."""

from __future__ import annotations

from aiohttp import web

from admin_api import codes
from admin_api.auth import current_user
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok, query_text
from admin_api.option_rules import current
from admin_api.routes.mail_links import valid_email
from admin_api.routes.oauth.providers import wechat_id
from admin_api.state import state_of
from store import users


async def bind_wechat(request: web.Request) -> web.Response:
    """GET /api/oauth/wechat/bind?code=: attach a WeChat account to the caller."""
    state, me = state_of(request), current_user(request)
    value = await wechat_id(request, await current(state.db))
    async with state.db.session() as s:
        if not await users.bind_identity(s, me.id, "wechat_id", value):
            raise Refusal("该微信账号已被绑定")
    return ok()


async def bind_email(request: web.Request) -> web.Response:
    """GET /api/oauth/email/bind?email=&code=: set the caller's email once the mailed code matches."""
    state, me = state_of(request), current_user(request)
    email, code = query_text(request, "email"), query_text(request, "code")
    if not valid_email(email) or not code:
        raise Refusal(INVALID_PARAMETER)
    if not await state.codes.check(codes.VERIFY, email, code):
        raise Refusal("验证码错误或已过期")
    async with state.db.session() as s:
        await users.update_fields(s, me.id, {"email": email})
    await state.codes.forget(codes.VERIFY, email)
    return ok()
