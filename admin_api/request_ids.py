"""Every admin_api answer carries `X-Oneapi-Request-Id` (One API's middleware sets it on every response): the
console's pages, /api/status, refusals and 404s included, so a user's report names a line of the server log."""

from __future__ import annotations

from aiohttp import web

from store.keys import request_id

REQUEST_ID_HEADER = "X-Oneapi-Request-Id"


async def add_request_id(_: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: a fresh id unless the answer already has one."""
    if REQUEST_ID_HEADER not in response.headers:
        response.headers[REQUEST_ID_HEADER] = request_id()
