"""A deleted user stays deleted: no admin action brings back its old credentials."""

from __future__ import annotations

from store import users
from store.models import USER_DELETED

REFUSED = {"success": False, "message": "用户已被删除，不能再启用、禁用或更改权限"}


async def test_a_deleted_user_cannot_be_enabled_again(api) -> None:
    ghost = api.people["ghost"]
    async with api.db.session() as s:
        gone = await users.get(s, ghost.id)
    assert gone is not None and gone.username.startswith("deleted_")
    for action in ("enable", "disable", "promote", "demote"):
        _, body = await api.call("POST", "/api/user/manage", who="root", json={"username": gone.username,
                                                                                "action": action})
        assert body == REFUSED, (action, body)
    _, body = await api.call("PUT", "/api/user/", who="root", json={"id": ghost.id, "status": 1})
    assert body == REFUSED
    async with api.db.session() as s:
        after = await users.get(s, ghost.id)
    assert after is not None and (after.status, after.role, after.username) == (USER_DELETED, 1, gone.username)
    _, body = await api.call("GET", "/api/user/self", who="ghost")     # its old access token stays dead
    assert body == {"success": False, "message": "无权进行此操作，access token 无效"}


async def test_a_deleted_user_can_still_be_edited_otherwise(api) -> None:
    """Only the status is closed: root may still correct its quota (e.g. to take it back)."""
    ghost = api.people["ghost"]
    _, body = await api.call("PUT", "/api/user/", who="root", json={"id": ghost.id, "quota": 0})
    assert body["success"], body
