"""Every answer of the proxy port carries `X-Oneapi-Request-Id` (as One API's middleware sets on each response).

Relay answers carry their flow's id (set by the pipeline); admin_api's answers, passed through, carry admin_api's;
everything else — /metrics, unknown /v1 paths, error pages, the pass-through's own failures — gets a fresh one here.
"""

from __future__ import annotations

from aiohttp import web

from proxy.core.pipeline import REQUEST_ID_HEADER
from store.keys import request_id


async def add_request_id(_: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: an id for any answer that has none yet."""
    if REQUEST_ID_HEADER not in response.headers:
        response.headers[REQUEST_ID_HEADER] = request_id()
