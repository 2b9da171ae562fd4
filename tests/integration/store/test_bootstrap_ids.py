"""Rows seeded with explicit ids leave the id sequences ahead of them (PostgreSQL does not move them itself)."""

from __future__ import annotations

from sqlalchemy import select

from store import Database, ensure_root, users
from store.models import Token, User


async def test_a_user_after_the_initial_root_token_gets_new_ids(db: Database) -> None:
    """The first POST /api/user/ after a start with INITIAL_ROOT_TOKEN (it answered "用户名已存在" on PostgreSQL)."""
    async with db.session() as s:
        assert await ensure_root(s, initial_root_token="sk-InitialRootTokenValue0123456789") is not None
    async with db.session() as s:
        alice = await users.create(s, users.NewUser("alice", "x"), users.Bonuses())
    async with db.session() as s:
        tokens = [(t.id, t.user_id, t.name) for t in (await s.execute(select(Token).order_by(Token.id))).scalars()]
        names = [u.username for u in (await s.execute(select(User).order_by(User.id))).scalars()]
    assert tokens == [(1, 1, "Initial Root Token"), (2, alice.id, "default")] and names == ["root", "alice"]
