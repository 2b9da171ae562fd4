"""Queries on users: lookups, pages, search, creation with its default token and bonuses, updates."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store import events, keys, sessions
from store.engine import write_transaction
from store.models import ROLE_COMMON, ROLE_ROOT, USER_DELETED, USER_DISABLED, USER_ENABLED, Ability, Token, User
from store.patterns import page_bounds, starts_with
from store.results import rowcount

IDENTITY_FIELDS = frozenset({"github_id", "wechat_id", "lark_id", "oidc_id"})
_ORDERS = {"quota": User.quota.desc(), "used_quota": User.used_quota.desc(),
           "request_count": User.request_count.desc()}


class UsernameTaken(Exception):
    """The username belongs to another user already."""


@dataclass(frozen=True)
class NewUser:
    """What a registration path knows about a user it is about to create."""

    username: str
    password_hash: str
    display_name: str = ""
    email: str = ""
    role: int = ROLE_COMMON
    inviter_id: int = 0
    identity: tuple[str, str] | None = None   # e.g. ("github_id", "octocat")


@dataclass(frozen=True)
class Bonuses:
    """The options QuotaForNewUser, QuotaForInvitee and QuotaForInviter at creation time."""

    new_user: int = 0
    invitee: int = 0
    inviter: int = 0


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def by_access_token(session: AsyncSession, token: str) -> User | None:
    if not token:
        return None
    return (await session.execute(select(User).where(User.access_token == token))).scalars().first()


async def by_username(session: AsyncSession, username: str) -> User | None:
    return (await session.execute(select(User).where(User.username == username))).scalars().first()


async def by_email(session: AsyncSession, email: str) -> User | None:
    """The live (not deleted) user with this email."""
    stmt = select(User).where(User.email == email, User.status != USER_DELETED).order_by(User.id)
    return (await session.execute(stmt)).scalars().first()


async def by_login(session: AsyncSession, name: str) -> User | None:
    """The login form's name: a username first, then an email (One API's order)."""
    return await by_username(session, name) or (await by_email(session, name) if name else None)


async def by_identity(session: AsyncSession, field: str, value: str) -> User | None:
    if field not in IDENTITY_FIELDS or not value:
        return None
    column = getattr(User, field)
    return (await session.execute(select(User).where(column == value).order_by(User.id))).scalars().first()


async def by_aff_code(session: AsyncSession, code: str) -> User | None:
    if not code:
        return None
    return (await session.execute(select(User).where(User.aff_code == code))).scalars().first()


async def first_root(session: AsyncSession) -> User | None:
    stmt = select(User).where(User.role >= ROLE_ROOT, User.status == USER_ENABLED).order_by(User.id)
    return (await session.execute(stmt)).scalars().first()


async def list_page(session: AsyncSession, page: int, order: str = "") -> list[User]:
    """Live users, `order` one of quota/used_quota/request_count (descending), else newest first."""
    offset, limit = page_bounds(page)
    stmt = select(User).where(User.status != USER_DELETED)
    stmt = stmt.order_by(_ORDERS.get(order, User.id.desc()), User.id.desc()).offset(offset).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def search(session: AsyncSession, keyword: str) -> list[User]:
    """`id = keyword` or a username/email/display-name prefix; deleted users included (as One API)."""
    conditions = [starts_with(User.username, keyword), starts_with(User.email, keyword),
                  starts_with(User.display_name, keyword)]
    if keyword.isascii() and keyword.isdigit() and len(keyword) < 10:
        conditions.append(User.id == int(keyword))
    stmt = select(User).where(or_(*conditions)).order_by(User.id.desc())
    return list((await session.execute(stmt)).scalars())


async def next_auto_username(session: AsyncSession, prefix: str) -> str:
    """`<prefix>_<max id + 1>`, One API's name for users created by an OAuth login."""
    top = (await session.execute(select(func.max(User.id)))).scalar_one() or 0
    return f"{prefix}_{top + 1}"


async def create(session: AsyncSession, new: NewUser, bonuses: Bonuses) -> User:
    """Insert the user, its `default` token and the invite bonuses in one transaction."""
    now = int(time.time())
    try:
        async with write_transaction(session):
            if await by_username(session, new.username) is not None:
                raise UsernameTaken(new.username)
            user = User(username=new.username, password=new.password_hash,
                        display_name=new.display_name or new.username, email=new.email, role=new.role,
                        status=USER_ENABLED, quota=bonuses.new_user, access_token=keys.access_token(),
                        aff_code=keys.aff_code(), inviter_id=new.inviter_id, group="default")
            if new.identity is not None:
                setattr(user, new.identity[0], new.identity[1])
            if new.inviter_id:
                user.quota += bonuses.invitee
            session.add(user)
            await session.flush()
            session.add(Token(user_id=user.id, key=keys.token_key(), status=1, name="default", created_time=now,
                              accessed_time=now, expired_time=-1, remain_quota=-1, unlimited_quota=True))
            if new.inviter_id and bonuses.inviter:
                await session.execute(update(User).where(User.id == new.inviter_id)
                                      .values(quota=User.quota + bonuses.inviter))
                events.record(session, events.USER, new.inviter_id)
            events.record(session, events.USER, user.id)
    except IntegrityError:
        raise UsernameTaken(new.username) from None
    return user


def ends_sessions(values: dict[str, Any]) -> bool:
    """A new password, a disable or a delete ends every login session of the user."""
    return "password" in values or values.get("status") in (USER_DISABLED, USER_DELETED)


async def update_fields(session: AsyncSession, user_id: int, values: dict[str, Any]) -> bool:
    """Write the given columns of one user; False if there is no such user.

    Sessions the change ends (see `ends_sessions`) end in the same transaction.
    """
    if not values:
        return await get(session, user_id) is not None
    try:
        async with write_transaction(session):
            result = await session.execute(update(User).where(User.id == user_id).values(**values))
            if ends_sessions(values):
                await sessions.end_all_in_transaction(session, user_id)
            events.record(session, events.USER, user_id)
    except IntegrityError:
        if "username" in values:
            raise UsernameTaken(str(values["username"])) from None
        raise
    return bool(rowcount(result))


async def soft_delete(session: AsyncSession, user_id: int) -> bool:
    """Status 3 and a freed username `deleted_<uuid>`, as One API; its access token stops working."""
    return await update_fields(session, user_id, {"status": USER_DELETED,
                                                  "username": f"deleted_{keys.uuid_hex()}"})


async def new_access_token(session: AsyncSession, user_id: int) -> str:
    token = keys.access_token()
    await update_fields(session, user_id, {"access_token": token})
    return token


async def ensure_aff_code(session: AsyncSession, user: User) -> str:
    if user.aff_code:
        return user.aff_code
    code = keys.aff_code()
    await update_fields(session, user.id, {"aff_code": code})
    return code


async def add_quota(session: AsyncSession, user_id: int, amount: int) -> bool:
    async with write_transaction(session):
        result = await session.execute(update(User).where(User.id == user_id).values(quota=User.quota + amount))
        events.record(session, events.USER, user_id)
    return bool(rowcount(result))


async def bind_identity(session: AsyncSession, user_id: int, field: str, value: str) -> bool:
    """Attach an external identity; False when another user holds it already."""
    if field not in IDENTITY_FIELDS:
        raise ValueError(field)
    column = getattr(User, field)
    async with write_transaction(session):
        holder = (await session.execute(select(User.id).where(column == value))).scalars().first()
        if holder is not None and holder != user_id:
            return False
        await session.execute(update(User).where(User.id == user_id).values({field: value}))
        events.record(session, events.USER, user_id)
    return True


async def available_models(session: AsyncSession, group: str) -> list[str]:
    """Distinct models with an enabled ability in the group, sorted."""
    stmt = select(Ability.model).where(Ability.group == group, Ability.enabled.is_(True)).distinct()
    return sorted((await session.execute(stmt)).scalars())
