"""Everything the handlers share, held under one typed application key."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from admin_api.codes import Codes, MemoryCodes
from admin_api.jobs.runner import JobRunner, JobTiming
from admin_api.ratelimit import Limit, Limiter, MemoryLimiter, limits_for
from rules import Catalog, load_catalog
from settings import Settings
from startup.guarded_fetch import GuardedFetch
from store import Database
from store.change_counter import ChangeCounter


@dataclass
class AdminState:
    """Built by create_app; `http`, Redis-backed parts and `jobs` are set when the app starts.

    `job_timing` may be changed before the app starts (tests shorten the leases).
    """

    settings: Settings
    db: Database
    catalog: Catalog = field(default_factory=load_catalog)
    limiter: Limiter = field(default_factory=MemoryLimiter)
    codes: Codes = field(default_factory=MemoryCodes)
    started: int = 0
    http: aiohttp.ClientSession | None = None
    redis: Any = None
    job_timing: JobTiming = field(default_factory=JobTiming)
    jobs: JobRunner | None = None
    running: set[str] = field(default_factory=set)   # one-off runs started by this process, by job name
    change_counter: ChangeCounter | None = None   # bumped after a write, read by this node's proxy workers
    price_fetch: GuardedFetch | None = None   # price list URLs root names (SSRF-guarded like image URLs)

    @property
    def api_limit(self) -> Limit:
        return limits_for(self.settings.global_api_rate_limit, self.settings.debug)[0]

    @property
    def critical_limit(self) -> Limit:
        return limits_for(self.settings.global_api_rate_limit, self.settings.debug)[1]

    def client(self) -> aiohttp.ClientSession:
        if self.http is None:
            raise RuntimeError("admin_api HTTP client used before start-up")
        return self.http

    def job_runner(self) -> JobRunner:
        if self.jobs is None:
            raise RuntimeError("admin_api job runner used before start-up")
        return self.jobs


STATE = web.AppKey("admin_state", AdminState)
ROUTES_KEY = web.AppKey("routes", tuple)


def state_of(request: web.Request) -> AdminState:
    return request.app[STATE]
