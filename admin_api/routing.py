"""A route of the admin API with its guard, and the middlewares every /api request goes through."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.exc import DataError, IntegrityError

from admin_api import turnstile
from admin_api.auth import Access, authenticate, session_user
from admin_api.client_address import client_ip
from admin_api.envelope import Refusal, fail, json_body
from admin_api.option_rules import current
from admin_api.state import state_of
from store.outage import UNAVAILABLE, is_outage

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    """One row of the route table: who may call it, and whether the critical limit and Turnstile apply."""

    method: str
    path: str
    handler: Handler
    access: Access
    critical: bool = False
    turnstile: bool = False
    public_if: str = ""     # an option that, when true, lets callers who are not logged in through


def guarded(route: Route) -> Handler:
    """The handler behind its checks, in One API's order: critical limit, login, Turnstile."""
    async def handle(request: web.Request) -> web.StreamResponse:
        state = state_of(request)
        if route.critical:
            ip = client_ip(request, state.settings.trusted_proxies)
            if not await state.limiter.allow(state.critical_limit, ip):
                return web.Response(status=429)
        if route.access is not Access.PUBLIC and not (route.public_if and await _anonymous_allowed(request, route)):
            await authenticate(request, route.access)
        if route.turnstile:
            await turnstile.check(request)
        return await route.handler(request)

    handle.__name__ = route.handler.__name__
    handle.__doc__ = route.handler.__doc__
    return handle


async def _anonymous_allowed(request: web.Request, route: Route) -> bool:
    """A caller with neither an access token nor a login, on a route its option currently makes public."""
    if request.headers.get("Authorization"):
        return False
    return (await current(state_of(request).db)).flag(route.public_if) and await session_user(request) is None


def _invalid_url(request: web.Request) -> web.Response:
    message = f"Invalid URL ({request.method} {request.path})"
    return json_body({"error": {"message": message, "type": "invalid_request_error", "param": "", "code": ""}},
                     status=404)


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals become envelopes; unknown routes One API's 404 body; bad data never a 500."""
    try:
        return await handler(request)
    except Refusal as refusal:
        return fail(refusal.message, refusal.status)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return _invalid_url(request)
    except (DataError, IntegrityError) as exc:
        log.warning("%s %s: database refused the data: %s", request.method, request.path, exc.orig)
        return fail("数据库拒绝了该数据，请检查输入")
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.error("%s %s: database unavailable: %r", request.method, request.path, exc)
        return fail(UNAVAILABLE, 503)   # was a 500 "OperationalError"


@web.middleware
async def api_rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """GLOBAL_API_RATE_LIMIT per client IP over 180 s on every /api request; a bare 429 beyond it."""
    state = state_of(request)
    if request.path.startswith("/api"):
        ip = client_ip(request, state.settings.trusted_proxies)
        if not await state.limiter.allow(state.api_limit, ip):
            return web.Response(status=429)
    return await handler(request)
