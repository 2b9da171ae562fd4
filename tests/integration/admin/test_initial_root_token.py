"""A start with INITIAL_ROOT_TOKEN, then the first user an admin creates (PostgreSQL answered 用户名已存在)."""

from __future__ import annotations

from store import ensure_root

from .conftest import make_settings, start_api


async def test_the_first_post_api_user_after_an_initial_root_token(db) -> None:
    async with db.session() as s:
        assert await ensure_root(s, initial_root_token="sk-InitialRootTokenValue0123456789") is not None
    api = await start_api(db, make_settings())
    try:
        _, body = await api.call("POST", "/api/user/", who="root", json={"username": "eve", "password": "password123"})
        assert body == {"success": True, "message": ""}, body
        _, body = await api.call("GET", "/api/user/search?keyword=eve", who="root")
        assert [u["username"] for u in body["data"]] == ["eve"]
    finally:
        await api.close()
        await api.server.close()
