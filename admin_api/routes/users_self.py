"""A user's own routes (one-api.md §8.4): register, login, logout, self, dashboard, tokens, aff, top-up."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp_session import get_session

from admin_api import audit, codes
from admin_api.auth import current_user, has_session, log_in, log_out, log_out_everywhere
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok
from admin_api.limits import with_limits
from admin_api.option_rules import Options, current
from admin_api.payload import Payload
from admin_api.shapes import login_json, user_json
from admin_api.state import AdminState, state_of
from admin_api.validation import INVALID_INPUT, check_user_fields
from store import check_password, hash_password, logs, redemptions, users
from store.models import LOG_SYSTEM, LOG_TOPUP, ROLE_ROOT, USER_ENABLED, User

BAD_LOGIN = "用户名或密码错误，或用户已被封禁"
# Checked against when the user does not exist, so both answers take a bcrypt's time (no name probing).
_DUMMY_HASH = hash_password("not-a-real-password")
USERNAME_TAKEN = "用户名已存在"


def bonuses(options: Options) -> users.Bonuses:
    return users.Bonuses(new_user=options.integer("QuotaForNewUser"), invitee=options.integer("QuotaForInvitee"),
                         inviter=options.integer("QuotaForInviter"))


async def create_user(state: AdminState, options: Options, new: users.NewUser) -> User:
    """Insert a user with One API's bonuses and write the system log rows they earn."""
    try:
        async with state.db.session() as s:
            user = await users.create(s, new, bonuses(options))
    except users.UsernameTaken:
        raise Refusal(USERNAME_TAKEN) from None
    granted = bonuses(options)
    if granted.new_user > 0:
        await audit.record(state, user.id, LOG_SYSTEM, f"新用户注册赠送 {options.quota_text(granted.new_user)}")
    if new.inviter_id and granted.invitee > 0:
        await audit.record(state, user.id, LOG_SYSTEM, f"使用邀请码赠送 {options.quota_text(granted.invitee)}")
    if new.inviter_id and granted.inviter > 0:
        await audit.record(state, new.inviter_id, LOG_SYSTEM, f"邀请用户赠送 {options.quota_text(granted.inviter)}")
    return user


async def _check_email_code(state: AdminState, options: Options, body: Payload) -> str:
    if not options.flag("EmailVerificationEnabled"):
        return ""
    email, code = body.text("email"), body.text("verification_code")
    if not email or not code:
        raise Refusal("管理员开启了邮箱验证，请输入邮箱地址和验证码")
    if not await state.codes.check(codes.VERIFY, email, code):
        raise Refusal("验证码错误或已过期")
    return email


async def register(request: web.Request) -> web.Response:
    """POST /api/user/register: a password account, with email code and invite bonuses when configured."""
    state = state_of(request)
    options = await current(state.db)
    if not options.flag("RegisterEnabled"):
        raise Refusal("管理员关闭了新用户注册")
    if not options.flag("PasswordRegisterEnabled"):
        raise Refusal("管理员关闭了通过密码进行注册，请使用第三方账户验证的形式进行注册")
    body = await Payload.read(request)
    username, password = body.text("username"), body.text("password")
    if not username or not password:
        raise Refusal(INVALID_INPUT)
    check_user_fields(username, password, body.text("display_name"), body.text("email"))
    email = await _check_email_code(state, options, body)
    async with state.db.session() as s:
        inviter = await users.by_aff_code(s, body.text("aff_code"))
    hashed = await asyncio.to_thread(hash_password, password)
    await create_user(state, options, users.NewUser(username=username, password_hash=hashed, display_name=username,
                                                    email=email, inviter_id=inviter.id if inviter else 0))
    if email:
        await state.codes.forget(codes.VERIFY, email)
    return ok()


async def login(request: web.Request) -> web.Response:
    """POST /api/user/login {username, password}: the name may also be an email."""
    state = state_of(request)
    if not (await current(state.db)).flag("PasswordLoginEnabled"):
        raise Refusal("管理员关闭了密码登录")
    body = await Payload.read(request)
    name, password = body.text("username"), body.text("password")
    if not name or not password:
        raise Refusal(INVALID_PARAMETER)
    async with state.db.session() as s:
        user = await users.by_login(s, name)
    matches = await asyncio.to_thread(check_password, password, user.password if user else _DUMMY_HASH)
    if user is None or not matches or user.status != USER_ENABLED:
        raise Refusal(BAD_LOGIN)
    await log_in(request, user)
    return ok(login_json(user))


async def logout(request: web.Request) -> web.Response:
    """GET /api/user/logout: end the session for good (a copy of the cookie stops working too)."""
    await log_out(request)
    return ok()


async def logout_everywhere(request: web.Request) -> web.Response:
    """POST /api/user/logout_all: end every login session of the caller, on every browser and node."""
    await log_out_everywhere(request, current_user(request))
    return ok()


async def get_self(request: web.Request) -> web.Response:
    """GET /api/user/self: the caller, without password hash or access token; with its limits and budgets."""
    user = current_user(request)
    return ok((await with_limits(state_of(request).db, [user_json(user)], [user], int(time.time())))[0])


async def update_self(request: web.Request) -> web.Response:
    """PUT /api/user/self {username?, password?, display_name?}: non-empty fields are changed."""
    state, user = state_of(request), current_user(request)
    body = await Payload.read(request)
    username, password, display = body.text("username"), body.text("password"), body.text("display_name")
    check_user_fields(username, password, display)
    values: dict[str, object] = {k: v for k, v in (("username", username), ("display_name", display)) if v}
    if password:
        values["password"] = await asyncio.to_thread(hash_password, password)
    try:
        async with state.db.session() as s:
            await users.update_fields(s, user.id, values)
    except users.UsernameTaken:
        raise Refusal(USERNAME_TAKEN) from None
    if users.ends_sessions(values) and has_session(await get_session(request)):
        await log_in(request, user)   # every session ended with the old password; this browser gets a new one
    return ok()


async def delete_self(request: web.Request) -> web.Response:
    """DELETE /api/user/self: soft delete; the root user cannot delete itself."""
    state, user = state_of(request), current_user(request)
    if user.role >= ROLE_ROOT:
        raise Refusal("不能删除超级管理员账户")
    async with state.db.session() as s:
        await users.soft_delete(s, user.id)
    await log_out(request)
    return ok()


async def dashboard(request: web.Request) -> web.Response:
    """GET /api/user/dashboard: own consumption of the last 7 UTC days by day and model."""
    state, user = state_of(request), current_user(request)
    since = int(time.time()) // 86400 * 86400 - 6 * 86400
    async with state.db.log_session() as s:
        return ok(await logs.daily_usage(s, user.id, since))


async def generate_access_token(request: web.Request) -> web.Response:
    """GET /api/user/token: replace the caller's system access token and return the new one."""
    async with state_of(request).db.session() as s:
        return ok(await users.new_access_token(s, current_user(request).id))


async def get_aff_code(request: web.Request) -> web.Response:
    """GET /api/user/aff: the caller's invite code, created on first use."""
    async with state_of(request).db.session() as s:
        return ok(await users.ensure_aff_code(s, current_user(request)))


async def redeem(request: web.Request) -> web.Response:
    """POST /api/user/topup {key}: redeem a code; data = the quota added."""
    state, user = state_of(request), current_user(request)
    key = (await Payload.read(request)).text("key").strip()
    if not key:
        raise Refusal("未提供兑换码")
    try:
        async with state.db.session() as s:
            quota = await redemptions.redeem(s, key, user.id)
    except redemptions.RedeemError as exc:
        raise Refusal(f"兑换失败，{exc}") from None
    options = await current(state.db)
    await audit.record(state, user.id, LOG_TOPUP, f"通过兑换码充值 {options.quota_text(quota)}", quota=quota)
    return ok(quota)


async def available_models(request: web.Request) -> web.Response:
    """GET /api/user/available_models: enabled models of the caller's group."""
    async with state_of(request).db.session() as s:
        return ok(await users.available_models(s, current_user(request).group))
