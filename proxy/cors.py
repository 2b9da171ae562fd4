"""CORS for the relay and billing routes: every origin, credentials allowed (as One API).

Preflights are answered by the catch-all ("*") routes only: the relay's POST and GET routes never see an
OPTIONS request (the router sends it on to a catch-all), so the hot path carries no middleware at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

_PREFIXES = ("/v1", "/dashboard")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def with_preflight(handler: Handler) -> Handler:
    """`handler`, except that a CORS preflight (OPTIONS with an Origin) on /v1 and /dashboard gets 204 at once."""
    async def handle(request: web.Request) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if request.method == "OPTIONS" and origin and request.path.startswith(_PREFIXES):
            asked = request.headers.get("Access-Control-Request-Headers")
            return web.Response(status=204, headers=_headers(origin, asked))
        return await handler(request)
    return handle


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: also covers streamed answers prepared inside handlers (a preflight has its own)."""
    origin = request.headers.get("Origin")
    if origin and request.path.startswith(_PREFIXES) and "Access-Control-Allow-Origin" not in response.headers:
        response.headers.update(_headers(origin, None))


def _headers(origin: str, requested: str | None) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Allow-Headers": requested or "*",
        "Access-Control-Max-Age": "43200",
        "Vary": "Origin",
    }
