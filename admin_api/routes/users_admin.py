"""Admin routes on users (one-api.md §8.4) with One API's role rules; listings never carry secrets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from admin_api import audit
from admin_api.auth import current_user
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok, path_id, query_int, query_text
from admin_api.limits import limit_fields, with_limits
from admin_api.option_rules import current
from admin_api.payload import INT32, QUOTA, Payload
from admin_api.routes.users_self import USERNAME_TAKEN, create_user
from admin_api.settle_wait import after_pending_settlements
from admin_api.shapes import user_json
from admin_api.state import state_of
from admin_api.validation import INVALID_INPUT, check_user_fields
from store import hash_password, users
from store.models import (
    LOG_MANAGE,
    LOG_TOPUP,
    ROLE_ADMIN,
    ROLE_COMMON,
    ROLE_ROOT,
    USER_DELETED,
    USER_DISABLED,
    USER_ENABLED,
    User,
)

NO_RIGHT_UPDATE = "无权更新同权限等级或更高权限等级的用户信息"
# A deleted user keeps its password and tokens in the row: enabling it again would bring them back to life
DELETED_USER = "用户已被删除，不能再启用、禁用或更改权限"


async def list_users(request: web.Request) -> web.Response:
    """GET /api/user/?p=&order=: a page of live users."""
    async with state_of(request).db.session() as s:
        found = await users.list_page(s, query_int(request, "p"), query_text(request, "order"))
    return ok([user_json(u) for u in found])


async def search_users(request: web.Request) -> web.Response:
    """GET /api/user/search?keyword=: by id or username/email/display-name prefix."""
    async with state_of(request).db.session() as s:
        found = await users.search(s, query_text(request, "keyword"))
    return ok([user_json(u) for u in found])


async def _target(request: web.Request, user_id: int) -> User:
    async with state_of(request).db.session() as s:
        user = await users.get(s, user_id)
    if user is None:
        raise Refusal("用户不存在")
    return user


async def get_user(request: web.Request) -> web.Response:
    """GET /api/user/:id: lower roles only, unless the caller is root."""
    me, target = current_user(request), await _target(request, path_id(request))
    if target.role >= me.role and me.role != ROLE_ROOT:
        raise Refusal("无权获取同级或更高等级用户的信息")
    return ok((await with_limits(state_of(request).db, [user_json(target)], [target], int(time.time())))[0])


async def create(request: web.Request) -> web.Response:
    """POST /api/user/ {username, password, display_name?, role?}: always a common user."""
    state, me = state_of(request), current_user(request)
    body = await Payload.read(request)
    username, password, display = body.text("username"), body.text("password"), body.text("display_name")
    if not username or not password:
        raise Refusal(INVALID_PARAMETER)
    check_user_fields(username, password, display)
    if body.integer("role", 0, INT32) >= me.role:
        raise Refusal("无法创建权限大于等于自己的用户")
    hashed = await asyncio.to_thread(hash_password, password)
    new = users.NewUser(username=username, password_hash=hashed, display_name=display or username)
    await create_user(state, await current(state.db), new)
    return ok()


def _managed(me: User, target: User, action: str) -> dict[str, Any]:
    """The columns `action` changes on `target`, or a Refusal by One API's rules."""
    if me.role <= target.role and me.role != ROLE_ROOT:
        raise Refusal(NO_RIGHT_UPDATE)
    if target.status == USER_DELETED and action != "delete":
        raise Refusal(DELETED_USER)
    if action in ("disable", "delete", "demote") and target.role == ROLE_ROOT:
        raise Refusal({"disable": "无法禁用超级管理员用户", "delete": "无法删除超级管理员用户",
                       "demote": "无法降级超级管理员用户"}[action])
    if action == "delete":
        return {"status": USER_DELETED}
    if action == "disable":
        return {"status": USER_DISABLED}
    if action == "enable":
        return {"status": USER_ENABLED}
    if action == "promote":
        if me.role != ROLE_ROOT:
            raise Refusal("普通管理员用户无法提升其他用户为管理员")
        if target.role >= ROLE_ADMIN:
            raise Refusal("该用户已经是管理员")
        return {"role": ROLE_ADMIN}
    if action == "demote":
        if target.role == ROLE_COMMON:
            raise Refusal("该用户已经是普通用户")
        return {"role": ROLE_COMMON}
    raise Refusal(INVALID_PARAMETER)


async def manage(request: web.Request) -> web.Response:
    """POST /api/user/manage {username, action}: disable, enable, delete, promote or demote."""
    state, me = state_of(request), current_user(request)
    body = await Payload.read(request)
    username, action = body.text("username"), body.text("action")
    if not username:
        raise Refusal(INVALID_PARAMETER)
    async with state.db.session() as s:
        target = await users.by_username(s, username)
    if target is None:
        raise Refusal("用户不存在")
    if action == "delete":
        _managed(me, target, action)
        async with state.db.session() as s:
            await users.soft_delete(s, target.id)
        return ok({"role": target.role, "status": USER_DELETED})
    values = _managed(me, target, action)
    async with state.db.session() as s:
        await users.update_fields(s, target.id, values)
    return ok({"role": values.get("role", target.role), "status": values.get("status", target.status)})


def _edits(body: Payload) -> dict[str, Any]:
    """Fields an admin may set through PUT /api/user/: non-empty strings; quota, role, status when given."""
    values: dict[str, Any] = {}
    for name in ("username", "display_name", "group", "email"):
        if body.text(name):
            values[name] = body.text(name)
    for name in ("quota", "role", "status"):
        if body.has(name):
            values[name] = body.integer(name, 0, (0, QUOTA[1]) if name == "quota" else INT32)
    if values.get("role", ROLE_COMMON) not in (ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT):
        raise Refusal(INVALID_INPUT)
    if values.get("status", USER_ENABLED) not in (USER_ENABLED, USER_DISABLED):
        raise Refusal(INVALID_INPUT)
    if len(values.get("group", "")) > 32:
        raise Refusal(INVALID_INPUT)
    values.update(limit_fields(body))   # rate limits and budgets (#17): only those given
    return values


async def update(request: web.Request) -> web.Response:
    """PUT /api/user/: edit a user of lower role (any user for root); a quota change is logged."""
    state, me = state_of(request), current_user(request)
    body = await Payload.read(request)
    user_id, password = body.integer("id", 0, INT32), body.text("password")
    if user_id == 0:
        raise Refusal(INVALID_PARAMETER)
    values = _edits(body)
    check_user_fields(values.get("username", ""), password, values.get("display_name", ""), values.get("email", ""))
    origin = await _target(request, user_id)
    if me.role <= origin.role and me.role != ROLE_ROOT:
        raise Refusal(NO_RIGHT_UPDATE)
    if origin.status == USER_DELETED and ("status" in values or "role" in values):
        raise Refusal(DELETED_USER)
    if me.role <= values.get("role", 0) and me.role != ROLE_ROOT:
        raise Refusal("无权将其他用户权限等级提升到大于等于自己的权限等级")
    if origin.role == ROLE_ROOT and (values.get("role", ROLE_ROOT) != ROLE_ROOT
                                     or values.get("status", USER_ENABLED) != USER_ENABLED):
        raise Refusal("无法禁用或降级超级管理员用户")
    if password:
        values["password"] = await asyncio.to_thread(hash_password, password)
    if values.get("quota", origin.quota) != origin.quota:
        await after_pending_settlements(state.settings)   # the quota set is the balance from now on
    try:
        async with state.db.session() as s:
            await users.update_fields(s, user_id, values)
    except users.UsernameTaken:
        raise Refusal(USERNAME_TAKEN) from None
    if "quota" in values and values["quota"] != origin.quota:
        o = await current(state.db)
        text = f"管理员将用户额度从 {o.quota_text(origin.quota)}修改为 {o.quota_text(values['quota'])}"
        await audit.record(state, user_id, LOG_MANAGE, text)
    return ok()


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/user/:id: soft delete of a user of lower role."""
    me, target = current_user(request), await _target(request, path_id(request))
    if me.role <= target.role:
        raise Refusal("无权删除同权限等级或更高权限等级的用户")
    async with state_of(request).db.session() as s:
        await users.soft_delete(s, target.id)
    return ok()


async def admin_top_up(request: web.Request) -> web.Response:
    """POST /api/topup {user_id, quota, remark}: add quota to a user and log it."""
    state = state_of(request)
    body = await Payload.read(request)
    user_id, quota, remark = body.integer("user_id", 0, INT32), body.integer("quota", 0, QUOTA), body.text("remark")
    if quota < 0:
        raise Refusal("quota 不能为负数！")
    async with state.db.session() as s:
        if user_id <= 0 or not await users.add_quota(s, user_id, quota):
            raise Refusal("用户不存在")
    options = await current(state.db)
    await audit.record(state, user_id, LOG_TOPUP, remark or f"通过 API 充值 {options.quota_text(quota)}", quota=quota)
    return ok()
