"""Who is calling (one-api.md §9.1): a session cookie or a system access token, checked on every request.

Improvement over One API: the session holds only the user id and a login session id, and the user
row is read with its session row on every request (store.sessions, one query), so a role change, a
ban or a deletion applies to existing sessions and access tokens at once, on every node; a deleted
user's access token stops working; and a session ended by logout, a password change, a disable, a
delete or "log out everywhere" is refused from the next request on, even from a copied cookie.
"""

from __future__ import annotations

import hashlib
import os
from enum import IntEnum

from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from admin_api.envelope import Refusal
from admin_api.state import state_of
from store import sessions, users
from store.models import ROLE_ADMIN, ROLE_COMMON, ROLE_ROOT, USER_DELETED, USER_ENABLED, User

SESSION_MAX_AGE = 30 * 24 * 3600   # the 30 days of One API's cookie store
NOT_LOGGED_IN = "无权进行此操作，未登录且未提供 access token"
BAD_ACCESS_TOKEN = "无权进行此操作，access token 无效"
BANNED = "用户已被封禁"
NO_PERMISSION = "无权进行此操作，权限不足"

USER_KEY = web.RequestKey("user", User)


class Access(IntEnum):
    """The guard of a route: the lowest role that passes (PUBLIC: no login needed)."""

    PUBLIC = -1
    USER = ROLE_COMMON
    ADMIN = ROLE_ADMIN
    ROOT = ROLE_ROOT


def session_storage(secret: str) -> EncryptedCookieStorage:
    """The `session` cookie, encrypted and signed with a key derived from SESSION_SECRET.

    With no secret a random key is drawn per start, as One API does (restarts log everyone out).
    """
    key = hashlib.sha256(secret.encode("utf-8")).digest() if secret else os.urandom(32)
    return EncryptedCookieStorage(key, cookie_name="session", max_age=SESSION_MAX_AGE, httponly=True,
                                  samesite="Strict")


async def session_user(request: web.Request) -> User | None:
    """The live user of a live login session; an ended session, or one of a deleted user, is dropped."""
    session = await get_session(request)
    user_id, session_id = session.get("id"), session.get("sid")
    if not isinstance(user_id, int) or not isinstance(session_id, str):
        return None
    async with state_of(request).db.session() as s:
        user = await sessions.user_of(s, user_id, session_id, SESSION_MAX_AGE)
    if user is None or user.status == USER_DELETED:
        session.invalidate()
        return None
    return user


async def _token_user(request: web.Request) -> User:
    header = request.headers.get("Authorization", "")
    if not header:
        raise Refusal(NOT_LOGGED_IN, 401)
    token = header.removeprefix("Bearer ").strip()
    async with state_of(request).db.session() as s:
        user = await users.by_access_token(s, token)
    if user is None or user.status == USER_DELETED:
        raise Refusal(BAD_ACCESS_TOKEN)
    return user


async def authenticate(request: web.Request, access: Access) -> User:
    """The caller, if enabled and of at least `access`'s role; otherwise a Refusal."""
    user = await session_user(request)
    if user is None:
        user = await _token_user(request)
    if user.status != USER_ENABLED:
        (await get_session(request)).invalidate()
        raise Refusal(BANNED)
    if user.role < access:
        raise Refusal(NO_PERMISSION)
    request[USER_KEY] = user
    return user


def current_user(request: web.Request) -> User:
    """The authenticated caller of a guarded route."""
    return request[USER_KEY]


async def log_in(request: web.Request, user: User) -> None:
    """A fresh session (no fixation) that holds nothing but the user id and its login session id."""
    async with state_of(request).db.session() as s:
        session_id = await sessions.start(s, user.id, SESSION_MAX_AGE)
    session = await new_session(request)
    session["id"] = user.id
    session["sid"] = session_id


def has_session(session: Session) -> bool:
    """Whether the request came with a login session (rather than an access token or nothing)."""
    return isinstance(session.get("sid"), str)


async def log_out(request: web.Request) -> None:
    """End the request's login session for good (a copy of the cookie stops working too)."""
    session = await get_session(request)
    session_id = session.get("sid")
    if isinstance(session_id, str):
        async with state_of(request).db.session() as s:
            await sessions.end(s, session_id)
    session.invalidate()


async def log_out_everywhere(request: web.Request, user: User) -> None:
    """End every login session of the user, on every node, this request's included."""
    async with state_of(request).db.session() as s:
        await sessions.end_all(s, user.id)
    (await get_session(request)).invalidate()
