"""First start: the root account and, when asked, the initial root token (one-api.md §9.2)."""

from __future__ import annotations

import time
from typing import cast

import bcrypt
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import keys
from store.models import ROLE_ROOT, TOKEN_ENABLED, USER_ENABLED, Token, User
from store.sequences import advance_id_sequence

ROOT_QUOTA = 500_000_000_000_000


def hash_password(password: str) -> str:
    """bcrypt at the default cost, the same hashes One API (Go's bcrypt) writes and reads."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(10)).decode("ascii")


def check_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode("utf-8"), hashed.encode("ascii"))
    except ValueError:
        return False


async def ensure_root(session: AsyncSession, *, initial_root_token: str = "",
                      initial_root_access_token: str = "") -> User | None:
    """Create root / 123456 when the users table is empty; return it, or None if users exist."""
    async with session.begin():
        if (await session.execute(select(func.count()).select_from(User))).scalar_one():
            return None
        root = User(username="root", password=hash_password("123456"), role=ROLE_ROOT, status=USER_ENABLED,
                    display_name="Root User", quota=ROOT_QUOTA,
                    access_token=initial_root_access_token or keys.access_token())
        session.add(root)
        await session.flush()
        if initial_root_token:
            key = initial_root_token.removeprefix("sk-")
            session.add(Token(id=1, user_id=root.id, key=key, status=TOKEN_ENABLED, name="Initial Root Token",
                              created_time=int(time.time()), accessed_time=int(time.time()),
                              expired_time=-1, remain_quota=ROOT_QUOTA, unlimited_quota=True))
            await session.flush()
            # id 1 as One API gives it; the next token gets 2
            await advance_id_sequence(session, cast(Table, Token.__table__))
    return root
