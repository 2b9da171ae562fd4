"""An existing One API database (GORM's own DDL, rows as One API writes them) opens and works unchanged."""

from __future__ import annotations

import bcrypt
from sqlalchemy import select

from store import Database, check_password, ensure_root, reserve, settle
from store.models import Ability, Channel, Log, Option, Token, User
from tests.one_api_ddl import load_one_api_schema

GO_HASH = bcrypt.hashpw(b"123456", bcrypt.gensalt(10, prefix=b"2a")).decode()   # Go's bcrypt writes $2a$


async def _load_one_api_database(db: Database, backend: str) -> None:
    await load_one_api_schema(db, backend)
    q = '"' if backend == "postgres" else "`"
    rows = [
        f"INSERT INTO users (id, username, password, display_name, role, status, access_token, quota, {q}group{q}, aff_code) "
        f"VALUES (1, 'root', '{GO_HASH}', 'Root User', 100, 1, 'a1b2c3d4e5f60718293a4b5c6d7e8f90', 500000000000000, 'default', 'Ab1x')",
        f"INSERT INTO tokens (id, user_id, {q}key{q}, status, name, created_time, accessed_time, expired_time, remain_quota, unlimited_quota, used_quota, models, subnet) "
        f"VALUES (1, 1, 'abcdEFGH12345678A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6', 1, 'default', 1700000000, 1700000000, -1, 5000, false, 0, 'gpt-4o,gpt-4o-mini', '')",
        f"INSERT INTO channels (id, type, {q}key{q}, status, name, weight, created_time, base_url, models, {q}group{q}, model_mapping, priority, config) "
        f"VALUES (1, 1, 'sk-upstream', 1, 'openai main', 0, 1700000000, '', 'gpt-4o,gpt-4o-mini', 'default,vip', '{{\"gpt-4\":\"gpt-4o\"}}', 5, '{{}}')",
        f"INSERT INTO abilities ({q}group{q}, model, channel_id, enabled, priority) VALUES ('default', 'gpt-4o', 1, true, 5)",
        f"INSERT INTO abilities ({q}group{q}, model, channel_id, enabled, priority) VALUES ('vip', 'gpt-4o-mini', 1, true, 5)",
        f"INSERT INTO options ({q}key{q}, value) VALUES ('SystemName', 'My Gateway')",
        "INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, "
        "completion_tokens, channel_id, request_id, elapsed_time, is_stream, system_prompt_reset) "
        "VALUES (1, 1700000001, 2, 'ratio', 'root', 'default', 'gpt-4o', 225, 1000, 500, 1, 'req1', 812, true, false)",
    ]
    async with db.engine.begin() as conn:
        for row in rows:
            await conn.exec_driver_sql(row)
        if backend == "postgres":   # rows inserted with explicit ids: move the sequences on, as GORM's would be
            for table in ("users", "tokens", "channels", "logs"):
                await conn.exec_driver_sql(f"SELECT setval('{table}_id_seq', (SELECT MAX(id) FROM {table}))")


async def test_existing_one_api_database_reads_and_works(db: Database, backend: str) -> None:
    await _load_one_api_database(db, backend)
    await db.create_schema()    # idempotent on an existing database: adds only our extra nullable column

    async with db.session() as s:
        root = (await s.execute(select(User).where(User.username == "root"))).scalar_one()
        token = await s.get(Token, 1)
        channel = await s.get(Channel, 1)
        abilities = (await s.execute(select(Ability).order_by(Ability.group))).scalars().all()
        option = await s.get(Option, "SystemName")
    assert root.role == 100 and root.status == 1 and root.quota == 500_000_000_000_000
    assert root.group == "default" and root.aff_code == "Ab1x"
    assert check_password("123456", root.password) and not check_password("1234567", root.password)
    assert token.key.startswith("abcdEFGH") and len(token.key) == 48
    assert token.expired_time == -1 and token.unlimited_quota is False and token.remain_quota == 5000
    assert token.models == "gpt-4o,gpt-4o-mini"
    assert channel.group == "default,vip" and channel.priority == 5 and channel.model_mapping == '{"gpt-4":"gpt-4o"}'
    assert [(a.group, a.model, a.channel_id, bool(a.enabled), a.priority) for a in abilities] == [
        ("default", "gpt-4o", 1, True, 5), ("vip", "gpt-4o-mini", 1, True, 5)]
    assert option.value == "My Gateway"

    async with db.session() as s:
        assert await ensure_root(s) is None   # users exist: no second root
    async with db.session() as s:
        await reserve(s, token_id=1, user_id=1, amount=1000, token_limited=True)
    async with db.session() as s:
        await settle(s, token_id=1, user_id=1, channel_id=1, reserved=1000, actual=225, token_limited=True)
    async with db.log_session() as s, s.begin():
        s.add(Log(user_id=1, created_at=1700000002, type=2, username="root", model_name="gpt-4o", quota=225,
                  usage_source="upstream", usage_detail='{"usage":{"cached":800}}'))
    async with db.session() as s:
        token = await s.get(Token, 1)
        channel = await s.get(Channel, 1)
        user = await s.get(User, 1)
        new_user = User(username="bob", password="x")
        s.add(new_user)
        await s.commit()
    async with db.log_session() as s:
        logs = (await s.execute(select(Log).order_by(Log.id))).scalars().all()
    assert token.remain_quota == 5000 - 225 and token.used_quota == 225
    assert channel.used_quota == 225 and user.request_count == 1
    assert [(row.quota, row.usage_source, bool(row.is_stream)) for row in logs] == [(225, None, True), (225, "upstream", False)]
    assert [row.usage_detail for row in logs] == [None, '{"usage":{"cached":800}}']   # our column, added
    assert new_user.id == 2


async def test_root_bootstrap(db: Database) -> None:
    async with db.session() as s:
        root = await ensure_root(s, initial_root_token="sk-InitialRootTokenValue0123456789", initial_root_access_token="f" * 32)
    assert root is not None
    async with db.session() as s:
        user = (await s.execute(select(User))).scalar_one()
        token = (await s.execute(select(Token))).scalar_one()
    assert (user.username, user.role, user.status, user.display_name) == ("root", 100, 1, "Root User")
    assert user.quota == 500_000_000_000_000 and user.access_token == "f" * 32
    assert user.password.startswith("$2") and check_password("123456", user.password)
    assert (token.id, token.key, token.name, token.unlimited_quota, token.expired_time) == (
        1, "InitialRootTokenValue0123456789", "Initial Root Token", True, -1)
    async with db.session() as s:
        assert await ensure_root(s) is None
