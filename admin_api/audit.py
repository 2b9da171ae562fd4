"""The log rows the admin API writes (one-api.md §7.5): top-ups, manage, system bonuses, channel tests."""

from __future__ import annotations

from typing import Any

from admin_api.state import AdminState
from store import logs, users


async def record(state: AdminState, user_id: int, log_type: int, content: str, **fields: Any) -> None:
    """One row in the log database, with the user's current username (as One API's RecordLog)."""
    if not -(2**31) <= fields.get("quota", 0) < 2**31:
        del fields["quota"]   # logs.quota is a 32-bit column here; the content still states the amount
    if user_id and "username" not in fields:
        async with state.db.session() as s:
            user = await users.get(s, user_id)
        fields["username"] = user.username if user is not None else ""
    async with state.db.log_session() as s:
        await logs.add(s, user_id=user_id, type=log_type, content=content, **fields)
