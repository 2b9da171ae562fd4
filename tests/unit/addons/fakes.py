"""A fake flow and fake shared state, so each addon is tested alone (no server, no database)."""

from __future__ import annotations

from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.core.flow import ClientRequest, Flow
from proxy.gateway.cache import ChannelIndex
from proxy.gateway.records import ChannelRecord, TokenRecord, UserRecord
from proxy.gateway.state import RelayState


def make_flow(path: str = "/v1/chat/completions", body: Any = None, headers: dict[str, str] | None = None,
              raw: bytes | None = None, client_ip: str = "127.0.0.1", match_info: dict[str, str] | None = None,
              **state: Any) -> Flow[RelayState]:
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    hdrs = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json", **(headers or {})}))
    return Flow(ClientRequest("POST", path, "", hdrs, data, client_ip, match_info or {}), "req-1", RelayState(**state))


def token(**kw: Any) -> TokenRecord:
    base = dict(id=1, user_id=1, key="k" * 48, status=1, name="t", expired_time=-1, remain_quota=1000,
                unlimited_quota=False, used_quota=0, models=None, subnet="")
    return TokenRecord(**{**base, **kw})


def user(**kw: Any) -> UserRecord:
    base = dict(id=1, username="alice", role=1, status=1, group="default", quota=10_000, used_quota=0)
    return UserRecord(**{**base, **kw})


def channel(**kw: Any) -> ChannelRecord:
    base = dict(id=1, type=1, key="sk-up", status=1, name="c", weight=0, base_url="http://up.test",
                models=("gpt-4o-mini",), groups=("default",), model_mapping={}, priority=0, config={},
                system_prompt="")
    return ChannelRecord(**{**base, **kw})


class FakeCaches:
    def __init__(self, tokens: list[TokenRecord] = (), users: list[UserRecord] = (),
                 channels: list[ChannelRecord] = ()) -> None:
        self._tokens = {t.key: t for t in tokens}
        self._users = {u.id: u for u in users}
        self.channels = {c.id: c for c in channels}
        self.index = ChannelIndex([(g, m, c) for c in channels if c.status == 1 for g in c.groups for m in c.models],
                                  frozenset((g, m) for c in channels for g in c.groups for m in c.models))
        self.options: dict[str, str] = {}
        self.marked: list[tuple[int, int]] = []

    async def token(self, key: str) -> TokenRecord | None:
        return self._tokens.get(key)

    async def mark_token(self, token: TokenRecord, status: int) -> None:
        self.marked.append((token.id, status))

    async def user(self, user_id: int) -> UserRecord | None:
        return self._users.get(user_id)

    async def channel(self, channel_id: int) -> ChannelRecord | None:
        return self.channels.get(channel_id)


class FakeLedger:
    def __init__(self, token_balance: int = 10**9, user_balance: int = 10**9) -> None:
        self.token_balance, self.user_balance = token_balance, user_balance
        self.events: list[tuple[str, Any]] = []

    async def reserve(self, token: TokenRecord, user_id: int, amount: int, holds: Any = None) -> None:
        from store import InsufficientQuota

        if amount > self.token_balance:
            raise InsufficientQuota("token")
        if amount > self.user_balance:
            raise InsufficientQuota("user")
        self.token_balance -= amount
        self.user_balance -= amount
        self.events.append(("reserve", amount))

    def settle(self, token: TokenRecord, user_id: int, channel_id: int | None, reserved: int, actual: int,
               holds: Any = None) -> None:
        self.events.append(("settle", (reserved, actual)))

    def refund(self, token: TokenRecord, user_id: int, amount: int, holds: Any = None) -> None:
        self.events.append(("refund", amount))

    async def user_quota(self, user_id: int) -> int:
        return self.user_balance

    async def token_remain(self, token: TokenRecord) -> int:
        return self.token_balance
