"""Cloudflare Turnstile on register, verification and reset (one-api.md §9.4)."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp_session import get_session

from admin_api.client_address import client_ip
from admin_api.envelope import Refusal
from admin_api.option_rules import current
from admin_api.state import state_of

EMPTY = "Turnstile token 为空"
FAILED = "Turnstile 校验失败，请刷新重试！"


async def check(request: web.Request) -> None:
    """Pass when disabled or already passed in this session; else verify the `turnstile` query value."""
    state = state_of(request)
    options = await current(state.db)
    if not options.flag("TurnstileCheckEnabled"):
        return
    session = await get_session(request)
    if session.get("turnstile") is True:
        return
    response = request.query.get("turnstile", "")
    if not response:
        raise Refusal(EMPTY)
    form = {"secret": options.text("TurnstileSecretKey"), "response": response,
            "remoteip": client_ip(request, state.settings.trusted_proxies)}
    try:
        async with state.client().post(options.text("TurnstileVerifyEndpoint"), data=form) as answer:
            verdict = await answer.json(content_type=None)
    except (aiohttp.ClientError, ValueError, TimeoutError):
        raise Refusal(FAILED) from None
    if not isinstance(verdict, dict) or verdict.get("success") is not True:
        raise Refusal(FAILED)
    session["turnstile"] = True
