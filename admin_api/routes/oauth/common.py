"""What every OAuth-style login shares: the state check, then bind to the session's user or log in/register."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp_session import get_session

from admin_api.auth import log_in, session_user
from admin_api.envelope import Refusal, ok
from admin_api.option_rules import current
from admin_api.routes.users_self import create_user
from admin_api.shapes import login_json
from admin_api.state import state_of
from store import keys, users
from store.models import USER_ENABLED, User

BAD_STATE = "state is empty or not same"
EMPTY_IDENTITY = "返回值非法，用户字段为空，请稍后重试！"


@dataclass(frozen=True)
class Identity:
    """A user as a provider describes them, and how One API names a new account made from it."""

    field: str              # users column: github_id, lark_id, oidc_id, wechat_id
    value: str
    prefix: str             # new usernames are <prefix>_<max id + 1>
    display_name: str
    email: str = ""
    username: str = ""      # a provider-suggested username (OIDC preferred_username)


async def new_state(request: web.Request) -> web.Response:
    """GET /api/oauth/state: a random 12-character state kept in the session."""
    value = keys.oauth_state()
    (await get_session(request))["oauth_state"] = value
    return ok(value)


async def check_state(request: web.Request) -> None:
    """The `state` query must equal the session's (HTTP 403 otherwise); a state is good for one callback."""
    session = await get_session(request)
    expected = session.pop("oauth_state", None)
    given = request.query.get("state", "")
    if not given or not isinstance(expected, str) or given != expected:
        raise Refusal(BAD_STATE, 403)


async def fetch_json(request: web.Request, method: str, url: str, unreachable: str, **kwargs: Any) -> Any:
    """One provider call; network trouble or a non-JSON answer becomes the provider's refusal message."""
    try:
        async with state_of(request).client().request(method, url, timeout=aiohttp.ClientTimeout(total=20),
                                                      **kwargs) as answer:
            return await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError):
        raise Refusal(unreachable) from None


async def _register(request: web.Request, identity: Identity) -> User:
    state = state_of(request)
    options = await current(state.db)
    if not options.flag("RegisterEnabled"):
        raise Refusal("管理员关闭了新用户注册")
    async with state.db.session() as s:
        name = identity.username if len(identity.username) <= 64 else ""
        if not name or await users.by_username(s, name) is not None:
            name = await users.next_auto_username(s, identity.prefix)
    new = users.NewUser(username=name, password_hash="", display_name=identity.display_name, email=identity.email,
                        identity=(identity.field, identity.value))
    return await create_user(state, options, new)


async def finish(request: web.Request, identity: Identity, taken: str, bound_message: str = "bind") -> web.Response:
    """Bind to the logged-in user, else log in the identity's user (registering one when allowed)."""
    if not identity.value:
        raise Refusal(EMPTY_IDENTITY)
    state = state_of(request)
    me = await session_user(request)
    if me is not None and me.status == USER_ENABLED:
        async with state.db.session() as s:
            if not await users.bind_identity(s, me.id, identity.field, identity.value):
                raise Refusal(taken)
        return ok(message=bound_message)
    async with state.db.session() as s:
        user = await users.by_identity(s, identity.field, identity.value)
    if user is None:
        user = await _register(request, identity)
    if user.status != USER_ENABLED:
        raise Refusal("用户已被封禁")
    await log_in(request, user)
    return ok(login_json(user))
