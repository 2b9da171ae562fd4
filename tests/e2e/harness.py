"""The real gateway (proxy app + runtime) on 127.0.0.1 over a real database, and seeding helpers."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer
from sqlalchemy import select

from proxy.addons.converter_upstream import ConverterUpstream
from proxy.app import create_app, relay_addons
from proxy.runtime import Runtime
from settings import Settings, load_settings
from startup.serve import SERVER_OPTIONS
from store import Database, save_option
from store.keys import token_key
from store.models import Ability, Channel, Log, Token, User


@dataclass
class Account:
    user_id: int
    token_id: int
    key: str            # "sk-..." as a client uses it


class Gateway:
    def __init__(self, db: Database, settings: Settings | None = None, *, poll_interval: float | None = None) -> None:
        """`poll_interval`: seconds between task polls (Ali wanx, Replicate); the relay's default when None."""
        self.db = db
        self.settings = settings or load_settings({}, [])
        self.runtime = Runtime(self.settings, db)
        self.poll_interval = poll_interval
        self.server: TestServer | None = None

    async def start(self) -> Gateway:
        addons = relay_addons(self.runtime)
        if self.poll_interval is not None:
            for addon in addons.addons:
                if isinstance(addon, ConverterUpstream):
                    addon.poll_interval = self.poll_interval
        app = create_app(self.settings, self.runtime, addons=addons)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server(**SERVER_OPTIONS)   # as `one-api` serves it
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()    # runs the runtime's graceful close: everything flushed

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def flush(self) -> None:
        """Write pending settlements and log rows now (what a graceful stop does)."""
        await self.runtime.ledger.close()
        self.runtime.ledger.start()
        await self.runtime.logs.flush()

    async def reload(self) -> None:
        await self.runtime.caches.reload_channels()
        self.runtime.caches.tokens.clear()
        self.runtime.caches.users.clear()
        await self.runtime.ledger.forget()


async def add_account(db: Database, *, quota: int = 10_000_000, token_quota: int = 1_000_000, unlimited: bool = False,
                      role: int = 1, username: str = "alice", models: str | None = None, subnet: str = "",
                      group: str = "default", expired_time: int = -1) -> Account:
    key = token_key()
    async with db.session() as s, s.begin():
        user = User(username=username, password="x", quota=quota, role=role, group=group, display_name=username)
        s.add(user)
        await s.flush()
        token = Token(user_id=user.id, key=key, name=f"{username}-key", remain_quota=token_quota,
                      unlimited_quota=unlimited, models=models, subnet=subnet, expired_time=expired_time,
                      created_time=int(time.time()))
        s.add(token)
        await s.flush()
        return Account(user.id, token.id, "sk-" + key)


async def add_channel(db: Database, *, base_url: str, models: str = "gpt-4o-mini,gpt-3.5-turbo", type: int = 1,
                      key: str = "sk-upstream-secret", priority: int = 0, weight: int = 0, group: str = "default",
                      name: str = "main", model_mapping: str = "", system_prompt: str | None = None,
                      config: str = "", status: int = 1) -> int:
    async with db.session() as s, s.begin():
        channel = Channel(type=type, key=key, name=name, base_url=base_url, models=models, group=group,
                          priority=priority, weight=weight, model_mapping=model_mapping, system_prompt=system_prompt,
                          config=config, status=status, created_time=int(time.time()))
        s.add(channel)
        await s.flush()
        for g in group.split(","):
            for m in models.split(","):
                s.add(Ability(group=g.strip(), model=m.strip(), channel_id=channel.id, enabled=status == 1,
                              priority=priority))
        return channel.id


async def balances(db: Database, account: Account, channel_id: int | None = None) -> dict[str, Any]:
    async with db.session() as s:
        user = await s.get(User, account.user_id)
        token = await s.get(Token, account.token_id)
        channel = await s.get(Channel, channel_id) if channel_id else None
    return {"user_quota": user.quota, "user_used": user.used_quota, "requests": user.request_count,
            "token_remain": token.remain_quota, "token_used": token.used_quota,
            "channel_used": channel.used_quota if channel else None}


async def logs(db: Database) -> list[Log]:
    async with db.log_session() as s:
        return list((await s.execute(select(Log).order_by(Log.id))).scalars())


async def set_options(db: Database, gateway: Gateway, **options: str) -> None:
    """Options saved as the admin API saves them, then read by the gateway (its caches and channels reloaded)."""
    async with db.session() as s:
        for key, value in options.items():
            await save_option(s, key, value)
    await gateway.runtime.caches.reload_options()
    await gateway.reload()


async def account_on(db: Database, gateway: Gateway, base_url: str, **channel: Any) -> Account:
    """A new account and one channel at `base_url` (`channel`: its type, key, models…), the gateway reloaded."""
    acct = await add_account(db)
    await add_channel(db, base_url=base_url, **channel)
    await gateway.reload()
    return acct
