"""Everything a proxy worker shares between requests, created at start and closed at stop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp
import orjson

from proxy.core.upstream_client import UpstreamClient
from proxy.gateway.cache import Caches
from proxy.gateway.change_listener import ChangeListener
from proxy.gateway.logwriter import LogWriter
from proxy.gateway.tokenizer import Tokenizer
from proxy.ledger import Ledger, RemoteLedger, RemoteWindows, ledger_for
from proxy.limits import Windows, windows_for
from proxy.limits.budgets import BudgetBook, BudgetLedger
from proxy.limits.redis_refusals import TIMEOUT_S as LIMITS_TIMEOUT_S
from rules import (
    COMPONENT_OPTIONS,
    TIER_OPTION,
    Catalog,
    PriceTable,
    load_catalog,
    load_prices,
    ratio_table,
    tier_table,
)
from settings import Settings
from startup.database import database_for
from startup.guarded_fetch import GuardedFetch
from startup.url_guard import FetchPolicy
from store import DEFAULT_OPTIONS, Database, as_bool, events
from store.change_counter import open_counter
from store.redis_client import connect_redis

log = logging.getLogger(__name__)
T = TypeVar("T")


def option_defaults(prices: PriceTable) -> dict[str, str]:
    return {**DEFAULT_OPTIONS, "ModelRatio": prices.default_model_ratio_json(),
            "CompletionRatio": prices.default_completion_ratio_json(), "GroupRatio": prices.default_group_ratio_json(),
            **prices.default_component_options()}


def _parsed(raw: str | None, name: str, parse: Callable[[Any], T | str]) -> T | None:
    """An option's JSON through its parser; None (the defaults) when unset or invalid, the problem logged."""
    if not raw:
        return None
    try:
        result = parse(orjson.loads(raw))
    except orjson.JSONDecodeError:
        result = "not valid JSON"
    if isinstance(result, str):
        log.error("option %s: %s; using the defaults", name, result)
        return None
    return result


def _ratio_map(raw: str | None, name: str) -> dict[str, float] | None:
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.error("option %s is not valid JSON; using the defaults", name)
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float))}


class Runtime:
    def __init__(self, settings: Settings, db: Database, ledger_owner: str | None = None) -> None:
        """`ledger_owner`: the ledger owner process's socket (SQLite with several workers)."""
        self.settings = settings
        self.db = db
        self.catalog: Catalog = load_catalog()
        self.default_prices: PriceTable = load_prices()
        self.prices: PriceTable = self.default_prices
        # auto (None): nothing now; the encodings of the channels' models once they are read (`start`)
        self.tokenizer = Tokenizer(settings.tiktoken_cache_dir, preload=settings.tiktoken_preload or ())
        # with Redis, pub/sub nudges make changes immediate and polling is only the safety net
        self.caches = Caches(db, option_defaults(self.default_prices), settings.sync_frequency,
                             on_options=self._apply_options, on_change=self._on_change,
                             poll_interval=5.0 if settings.redis_enabled else 0.5,
                             counter=open_counter(settings.change_counter))
        self.changes: ChangeListener | None = None
        if settings.redis_enabled:
            redis = connect_redis(settings.redis_conn_string, settings.redis_password, settings.redis_master_name)
            self.changes = ChangeListener(redis, self.caches.refresh_now)
        quota = ledger_for(db, sqlite=db.url.is_sqlite, workers=settings.workers,
                           interval=settings.settle_interval, owner=ledger_owner)
        # budgets that reset (#17) ride on every hold and settlement of the quota ledger
        self.budgets = BudgetBook(db)
        self.ledger: Ledger = BudgetLedger(quota, self.budgets, self.caches.user, self.caches.users.get)
        # rate limits (#17): in memory when this worker is the only one, else in the shared database (refusals
        # remembered in Redis when configured: its own client, short timeout and no retries, see redis_refusals)
        self.limits: Windows = RemoteWindows(quota) if isinstance(quota, RemoteLedger) else \
            windows_for(db, sqlite=db.url.is_sqlite, workers=settings.workers, redis=self._limits_redis)
        self.logs = LogWriter(db)
        self.session: aiohttp.ClientSession | None = None
        self.upstreams: UpstreamClient | None = None
        # users' image URLs: never to internal addresses unless allow-listed (One API's user-content proxy)
        self.user_content = GuardedFetch(FetchPolicy.allowing(settings.image_fetch_allow_hosts),
                                         settings.user_content_request_proxy or settings.relay_proxy or None,
                                         settings.user_content_request_timeout)

    def _limits_redis(self) -> Any:
        """The rate limits' Redis client (None without Redis)."""
        s = self.settings
        if not s.redis_enabled:
            return None
        return connect_redis(s.redis_conn_string, s.redis_password, s.redis_master_name, timeout=LIMITS_TIMEOUT_S,
                             retry=False)

    @classmethod
    def from_settings(cls, settings: Settings, ledger_owner: str | None = None) -> Runtime:
        return cls(settings, database_for(settings), ledger_owner)

    def options(self) -> Mapping[str, str]:
        return self.caches.options

    def current_prices(self) -> PriceTable:
        return self.prices

    async def announce_change(self) -> None:
        """After this worker changed shared state (a channel disabled): nudge the others."""
        if self.changes is not None:
            await self.changes.publish()

    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None, "runtime not started"
        return self.session

    def upstream_client(self) -> UpstreamClient | None:
        """The lean client for plain HTTP/1.1 upstream calls (None before start)."""
        return self.upstreams

    def _apply_options(self, options: Mapping[str, str]) -> None:
        self.prices = self.default_prices.with_overrides(
            model_ratio=_ratio_map(options.get("ModelRatio"), "ModelRatio"),
            completion_ratio=_ratio_map(options.get("CompletionRatio"), "CompletionRatio"),
            group_ratio=_ratio_map(options.get("GroupRatio"), "GroupRatio"),
            components={component: _parsed(options.get(name), name, ratio_table)
                        for component, name in COMPONENT_OPTIONS.items()},
            tiers=_parsed(options.get(TIER_OPTION), TIER_OPTION, tier_table))
        self.tokenizer.approximate = as_bool(options.get("ApproximateTokenEnabled"))

    async def _on_change(self, kinds: set[str]) -> None:
        if events.USER in kinds or events.TOKEN in kinds:
            await self.ledger.forget(users=events.USER in kinds, tokens=events.TOKEN in kinds)

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=60)
        # auto_decompress off: response bytes reach the client exactly as the upstream sent them
        # no cookie jar: a cookie one user's upstream answer set must never ride along another user's request
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                             cookie_jar=aiohttp.DummyCookieJar(),
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=30))
        self.upstreams = UpstreamClient(connect_timeout=30, keepalive=60)
        await self.user_content.start()
        await self.caches.start()
        if self.settings.tiktoken_preload is None:    # auto: before the first request, on this loop (none waits yet)
            self.tokenizer.preload_for(self.caches.served_models())
        if self.changes is not None:
            self.changes.start()
        self.ledger.start()
        self.logs.start()

    async def close(self) -> None:
        """Graceful stop: everything settled and logged reaches the database."""
        await self.caches.stop()
        if self.changes is not None:
            await self.changes.close()
        await self.limits.close()
        await self.ledger.close()
        await self.logs.close()
        if self.session is not None:
            await self.session.close()
        if self.upstreams is not None:
            await self.upstreams.close()
        await self.user_content.close()
        await self.db.dispose()
