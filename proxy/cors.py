"""CORS for the relay and billing routes: every origin, credentials allowed (as One API)."""

from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

_PREFIXES = ("/v1", "/dashboard")


@web.middleware
async def cors_middleware(request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Answers preflight requests; other answers get their headers in `add_cors_headers`."""
    if request.method == "OPTIONS" and request.path.startswith(_PREFIXES) and request.headers.get("Origin"):
        return web.Response(status=204, headers=_headers(request.headers["Origin"],
                                                         request.headers.get("Access-Control-Request-Headers")))
    return await handler(request)


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: also covers streamed answers prepared inside handlers."""
    origin = request.headers.get("Origin")
    if origin and request.path.startswith(_PREFIXES):
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
