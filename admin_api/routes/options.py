"""Root's option routes (one-api.md §8.9): secrets never listed, values validated before they are saved."""

from __future__ import annotations

from aiohttp import web

from admin_api.envelope import INVALID_PARAMETER, Refusal, ok
from admin_api.option_rules import current, is_secret, validate
from admin_api.payload import Payload
from admin_api.state import state_of
from store import option_updates


async def list_options(request: web.Request) -> web.Response:
    """GET /api/option/: [{key, value}] for every option that is not a secret, sorted by key."""
    options = await current(state_of(request).db)
    return ok([{"key": k, "value": options[k]} for k in sorted(options) if not is_secret(k)])


async def update_option(request: web.Request) -> web.Response:
    """PUT /api/option/ {key, value}: malformed JSON is HTTP 400, a bad value is refused unsaved."""
    state = state_of(request)
    body = await Payload.read(request, status=400)
    key, value = body.data.get("key"), body.data.get("value")
    if not isinstance(key, str) or not isinstance(value, str):
        raise Refusal(INVALID_PARAMETER, 400)
    problem = validate(key, value, await current(state.db))
    if problem:
        raise Refusal(problem)
    async with state.db.session() as s:
        await option_updates.put(s, key, value)
    return ok()
