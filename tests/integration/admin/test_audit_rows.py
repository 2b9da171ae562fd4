"""Log rows the admin API writes are fitted to the columns too: a top-up is never left without its row."""

from __future__ import annotations

from sqlalchemy import select

from store.models import LOG_TOPUP, Log, User


async def test_a_top_up_remark_the_columns_cannot_hold(api) -> None:
    alice = api.people["alice"]
    remark = "gift" + "é" * 40_000          # 80 004 bytes: MySQL's TEXT holds 65 535
    status, body = await api.call("POST", "/api/topup", who="root",
                                  json={"user_id": alice.id, "quota": 100, "remark": remark})
    assert (status, body["success"]) == (200, True), body
    async with api.db.session() as s:
        assert (await s.get(User, alice.id)).quota == 100
    async with api.db.log_session() as s:
        rows = list((await s.execute(select(Log).where(Log.type == LOG_TOPUP))).scalars())
    assert len(rows) == 1 and rows[0].quota == 100 and rows[0].content.startswith("giftéé")
    assert len(rows[0].content.encode()) <= 65_535 and "content 80004 bytes → 65535" in rows[0].content
