"""Login sessions: one row per login, so a session can be ended for good, on every node at once.

The session cookie (encrypted and signed) holds the user id and a random session id; the row holds
the id's SHA-256, the user and the login time (milliseconds). A request reads the user joined with its
session row in one query, the one the user lookup already cost, so ending a session (logout) or all of a
user's (password change, disable, delete, "log out everywhere") applies to the very next request
on every admin_api process and node, with no cache to go stale. Ours, not One API's: a table One
API never reads.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import BigInteger, Integer, String, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.engine import write_transaction
from store.models import Base, User

MAX_PER_USER = 50   # live sessions a user keeps; a new login beyond this ends the oldest


class LoginSession(Base):
    """One logged-in session; its id is only ever stored hashed."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[int] = mapped_column(BigInteger, index=True, default=0)   # milliseconds, so logins order


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _new_id() -> tuple[str, str]:
    """A random session id and its digest."""
    session_id = secrets.token_urlsafe(32)
    return session_id, _digest(session_id)


async def start(session: AsyncSession, user_id: int, max_age: int) -> str:
    """A new session of the user; returns its id (for the cookie).

    Sessions past `max_age` go, and the user's oldest beyond the newest MAX_PER_USER, so the table
    stays bounded however often someone logs in.
    """
    session_id, digest = _new_id()
    now = _now_ms()
    async with write_transaction(session):
        await session.execute(delete(LoginSession).where(LoginSession.created_at < now - max_age * 1000))
        older = (select(LoginSession.id).where(LoginSession.user_id == user_id, LoginSession.id != digest)
                 .order_by(LoginSession.created_at.desc()).offset(MAX_PER_USER - 1))
        surplus = list((await session.execute(older)).scalars())
        if surplus:
            await session.execute(delete(LoginSession).where(LoginSession.id.in_(surplus)))
        session.add(LoginSession(id=digest, user_id=user_id, created_at=now))
    return session_id


async def user_of(session: AsyncSession, user_id: int, session_id: str, max_age: int) -> User | None:
    """The user of a live session, or None when the session was ended, expired or is another user's."""
    stmt = (select(User).join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.id == _digest(session_id), User.id == user_id,
                   LoginSession.created_at >= _now_ms() - max_age * 1000))
    return (await session.execute(stmt)).scalars().first()


async def end(session: AsyncSession, session_id: str) -> None:
    """End one session (logout)."""
    async with write_transaction(session):
        await session.execute(delete(LoginSession).where(LoginSession.id == _digest(session_id)))


async def end_all_in_transaction(session: AsyncSession, user_id: int) -> None:
    """End every session of a user inside the caller's open transaction (with the change that asks for it)."""
    await session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


async def end_all(session: AsyncSession, user_id: int) -> None:
    """End every session of a user ("log out everywhere")."""
    async with write_transaction(session):
        await end_all_in_transaction(session, user_id)
