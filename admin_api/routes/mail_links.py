"""Mailed codes and links (one-api.md §8.10): the e-mail verification code, the password reset link and its use."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from aiohttp import web

from admin_api import codes
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok, query_text
from admin_api.mailer import MailError, send_mail
from admin_api.option_rules import Options, current
from admin_api.payload import Payload
from admin_api.routes.site import server_address
from admin_api.state import state_of
from store import hash_password, keys, users

EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def valid_email(email: str) -> bool:
    return len(email) <= 50 and EMAIL.match(email) is not None


def _domain_allowed(options: Options, email: str) -> bool:
    if not options.flag("EmailDomainRestrictionEnabled"):
        return True
    allowed = [d.strip() for d in options.text("EmailDomainWhitelist").split(",") if d.strip()]
    return any(email.endswith("@" + domain) for domain in allowed)


async def send_verification(request: web.Request) -> web.Response:
    """GET /api/verification?email=: mail a 6-character code, valid 10 minutes."""
    state = state_of(request)
    email = query_text(request, "email")
    if not valid_email(email):
        raise Refusal(INVALID_PARAMETER)
    options = await current(state.db)
    if not _domain_allowed(options, email):
        raise Refusal("管理员启用了邮箱域名白名单，您的邮箱地址的域名不在白名单中")
    async with state.db.session() as s:
        if await users.by_email(s, email) is not None:
            raise Refusal("邮箱地址已被占用")
    code = keys.verification_code()
    await state.codes.put(codes.VERIFY, email, code)
    name = options.text("SystemName") or "One API"
    html = (f"<p>您好，你正在进行{name}邮箱验证。</p><p>您的验证码为: <strong>{code}</strong></p>"
            f"<p>验证码 10 分钟内有效，如果不是本人操作，请忽略。</p>")
    await _mail(options, email, f"{name}邮箱验证邮件", html)
    return ok()


async def _mail(options: Options, to: str, subject: str, html: str) -> None:
    try:
        await send_mail(options, to, subject, html)
    except MailError as exc:
        raise Refusal(str(exc)) from None


async def send_reset_link(request: web.Request) -> web.Response:
    """GET /api/reset_password?email=: mail a reset link, valid 10 minutes."""
    state = state_of(request)
    email = query_text(request, "email")
    if not valid_email(email):
        raise Refusal(INVALID_PARAMETER)
    async with state.db.session() as s:
        if await users.by_email(s, email) is None:
            raise Refusal("该邮箱地址未注册")
    options = await current(state.db)
    token = keys.uuid_hex()
    await state.codes.put(codes.RESET, email, token)
    link = f"{server_address(request, options)}/user/reset?email={quote(email)}&token={token}"
    name = options.text("SystemName") or "One API"
    html = (f"<p>您好，你正在进行{name}密码重置。</p><p>点击 <a href='{link}'>此处</a> 进行密码重置。</p>"
            f"<p>如果链接无法点击，请将其复制到浏览器中打开：<br> {link} </p>"
            "<p>重置链接 10 分钟内有效，如果不是本人操作，请忽略。</p>")
    await _mail(options, email, f"{name}密码重置", html)
    return ok()


async def reset_password(request: web.Request) -> web.Response:
    """POST /api/user/reset {email, token}: a new random 12-character password, returned once."""
    state = state_of(request)
    body = await Payload.read(request)
    email, token = body.text("email"), body.text("token")
    if not email or not token:
        raise Refusal(INVALID_PARAMETER)
    if not await state.codes.check(codes.RESET, email, token):
        raise Refusal("重置链接非法或已过期")
    password = keys.reset_password_value()
    hashed = await asyncio.to_thread(hash_password, password)
    async with state.db.session() as s:
        user = await users.by_email(s, email)
    if user is None:
        raise Refusal("该邮箱地址未注册")
    async with state.db.session() as s:
        await users.update_fields(s, user.id, {"password": hashed})
    await state.codes.forget(codes.RESET, email)
    return ok(password)
