"""`DEBUG=true` and `DEBUG_SQL=true` on the real `one-api` command: the log files get the SQL statements,
never a secret (token keys, channel keys, access tokens, password hashes), on every database."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from store import Database, hash_password
from store.models import Token, User
from tests.cluster.test_nodes import Node
from tests.e2e.mock_upstream import MockOpenAI

ACCESS_TOKEN = "AccessTok3nOfRootForDebugLogTest"   # 32 characters, as the column
CHANNEL_KEY = "sk-ChannelKeyThatMustNeverBeLogged0123456789"
PASSWORD = "Sup3r-Secret-Passw0rd"
SMTP_TOKEN = "smtp-token-that-must-never-be-logged"


async def _seed_root(db: Database) -> str:
    hashed = hash_password(PASSWORD)
    async with db.session() as s, s.begin():
        s.add(User(username="root", password=hashed, role=100, quota=10**12, access_token=ACCESS_TOKEN))
    return hashed


@pytest.mark.parametrize("backend", ["sqlite", "mysql", "postgres"], indirect=True)
async def test_debug_logs_carry_statements_but_no_secret(db: Database, backend: str, tmp_path: Path) -> None:
    from tests.conftest import backend_dsn

    hashed = await _seed_root(db)
    env = {"DEBUG": "true", "DEBUG_SQL": "true"}
    env.update({"SQLITE_PATH": str(tmp_path / "one-api.db")} if backend == "sqlite" else {"SQL_DSN": backend_dsn(backend) or ""})
    upstream = await MockOpenAI().start()
    node = Node(tmp_path / "node", env).wait()
    admin = {"Authorization": ACCESS_TOKEN}
    secrets = {"access token": ACCESS_TOKEN, "channel key": CHANNEL_KEY, "password hash": hashed, "password": PASSWORD,
               "SMTP token option": SMTP_TOKEN}
    try:
        async with aiohttp.ClientSession() as http:
            async def api(method: str, path: str, **kw: object) -> dict:
                async with http.request(method, node.url + path, headers=admin, **kw) as r:
                    return await r.json(content_type=None)

            assert (await api("POST", "/api/channel/", json={"type": 1, "name": "up", "key": CHANNEL_KEY,
                                                             "base_url": upstream.url, "models": "gpt-4o-mini",
                                                             "group": "default"}))["success"] is True
            assert (await api("POST", "/api/token/", json={"name": "t", "remain_quota": 10**9}))["success"] is True
            async with db.session() as s:
                key = (await s.execute(select(Token.key))).scalar_one()
            secrets["token key"] = key
            login = await api("POST", "/api/user/login", json={"username": "root", "password": PASSWORD})
            assert login["success"] is True, login
            fresh = await api("GET", "/api/user/token")
            assert fresh["success"] is True
            secrets["new access token"] = fresh["data"]
            admin["Authorization"] = fresh["data"]
            for _ in range(40):                                 # the new channel reaches the proxy within a second
                async with http.post(node.url + "/v1/chat/completions", headers={"Authorization": f"Bearer sk-{key}"},
                                     json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}) as r:
                    status, answer = r.status, await r.text()
                if status not in (404, 503):             # 404 model_not_found until the proxy has the channel
                    break
                await asyncio.sleep(0.25)
            assert status == 200, answer
            assert (await api("GET", "/api/log/?p=0"))["success"] is True
            codes = await api("POST", "/api/redemption/", json={"name": "gift", "quota": 1000, "count": 1})
            assert codes["success"] is True, codes
            secrets["redemption code"] = codes["data"][0]
            assert (await api("PUT", "/api/option/", json={"key": "SMTPToken", "value": SMTP_TOKEN}))["success"] is True
    finally:
        assert node.stop() == 0
        await upstream.close()
    text = "\n".join(p.read_text(errors="replace") for p in (tmp_path / "node" / "logs").glob("*.log*"))
    assert "SELECT" in text and "INSERT INTO" in text          # DEBUG_SQL still logs the statements
    leaked = [name for name, value in secrets.items() if value in text]
    assert not leaked, f"secrets in the log file: {leaked}"
