"""The proxy aiohttp application: /v1 and /dashboard go through the relay, the rest to admin_api."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
from aiohttp import web

from proxy.admin_passthrough import AdminPassthrough
from proxy.client_ip import TRUSTED_KEY
from settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
ADMIN_SESSION_KEY = web.AppKey("admin_session", aiohttp.ClientSession)


def invalid_url(request: web.Request) -> web.Response:
    """One API's answer for unknown /v1 and /api paths."""
    return web.json_response({"error": {"message": f"Invalid URL ({request.method} {request.path})",
                                        "type": "invalid_request_error", "param": "", "code": ""}}, status=404)


async def _admin_session(app: web.Application) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=30)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=300))
    app[ADMIN_SESSION_KEY] = session
    yield
    await session.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[SETTINGS_KEY] = settings
    app[TRUSTED_KEY] = settings.trusted_proxies
    app.cleanup_ctx.append(_admin_session)

    async def to_admin(request: web.Request) -> web.StreamResponse:
        passthrough = AdminPassthrough(f"http://127.0.0.1:{settings.internal_admin_port}", app[ADMIN_SESSION_KEY])
        return await passthrough.handle(request)

    async def v1_unknown(request: web.Request) -> web.Response:
        return invalid_url(request)

    app.router.add_route("*", "/v1/{tail:.*}", v1_unknown)
    app.router.add_route("*", "/{tail:.*}", to_admin)
    return app
