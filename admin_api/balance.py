"""Channel balance queries (one-api.md §6.5): where each type reports it is rules/channel_types.toml.

Every URL is derived from the channel's base URL when set.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from admin_api.state import AdminState
from rules import Catalog
from store import channels
from store.models import Channel

Reader = Callable[[Any], float]


class BalanceError(Exception):
    """The provider could not be asked, or answered something unusable."""


def _dig(body: Any, *path: str) -> Any:
    for name in path:
        if not isinstance(body, dict) or name not in body:
            raise BalanceError(f"余额响应缺少字段 {'.'.join(path)}")
        body = body[name]
    return body


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BalanceError(f"无法解析余额：{value!r}") from None


def _deepseek(body: Any) -> float:
    for info in _dig(body, "balance_infos") or []:
        if isinstance(info, dict) and info.get("currency") == "CNY":
            return _number(info.get("total_balance"))
    raise BalanceError("余额响应中没有 CNY 余额")


def _siliconflow(body: Any) -> float:
    if _dig(body, "code") != 20000:
        raise BalanceError(f"code: {_dig(body, 'code')}, message: {body.get('message', '')}")
    return _number(_dig(body, "data", "totalBalance"))


def _openrouter(body: Any) -> float:
    return _number(_dig(body, "data", "total_credits")) - _number(_dig(body, "data", "total_usage"))


def _field(path: str) -> Reader:
    """A reader taking the number at a dotted path of the answer (e.g. "data.credit")."""
    names = path.split(".")
    return lambda body: _number(_dig(body, *names))


#: The provider-specific readers that rules/channel_types.toml names (reader "openai" asks two paths).
READERS: dict[str, Reader] = {"deepseek": _deepseek, "siliconflow": _siliconflow, "openrouter": _openrouter}


def supported(catalog: Catalog, channel_type: int) -> bool:
    """Whether channels of this type can report a balance."""
    return channel_type in catalog and catalog.get(channel_type).balance


async def _get_json(state: AdminState, url: str, key: str, auth: str = "bearer") -> Any:
    headers = {"Api-Key": key} if auth == "api-key" else {"Authorization": f"Bearer {key}"}
    params = {"api_key": key} if auth == "query" else None
    try:
        async with state.client().get(url, headers=headers, params=params,
                                      timeout=aiohttp.ClientTimeout(total=30)) as answer:
            if answer.status != 200:
                raise BalanceError(f"status code: {answer.status}")
            return await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise BalanceError(str(exc) or type(exc).__name__) from None


async def _openai(state: AdminState, base: str, key: str) -> float:
    subscription = await _get_json(state, f"{base}/v1/dashboard/billing/subscription", key)
    today = datetime.datetime.now(datetime.UTC).date()
    start = today.replace(day=1) if _dig(subscription, "has_payment_method") else today - datetime.timedelta(days=100)
    usage = await _get_json(state, f"{base}/v1/dashboard/billing/usage?start_date={start}&end_date={today}", key)
    return _number(_dig(subscription, "hard_limit_usd")) - _number(_dig(usage, "total_usage")) / 100


async def query(state: AdminState, channel: Channel) -> float:
    """Ask the provider, store the balance and its time, and return it."""
    ctype = state.catalog.get(channel.type) if channel.type in state.catalog else None
    source = ctype.balance_source if ctype else None
    if ctype is None or source is None:
        raise BalanceError("尚未实现")
    base = (channel.base_url or source.base or ctype.base_url).rstrip("/")
    if source.reader == "openai":
        value = await _openai(state, base, channel.key)
    else:
        read = _field(source.field) if source.reader == "field" else READERS[source.reader]
        value = read(await _get_json(state, base + source.path, channel.key, source.auth))
    async with state.db.session() as s:
        await channels.record_balance(s, channel.id, value, int(time.time()))
    return value
