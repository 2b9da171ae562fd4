"""Log routes (one-api.md §8.8): every filter, sums of consumption, search, purge; users see only their own."""

from __future__ import annotations

from aiohttp import web

from admin_api.auth import current_user
from admin_api.envelope import Refusal, ok, query_int, query_int32, query_text
from admin_api.shapes import log_json
from admin_api.state import state_of
from store import logs


def _filter(request: web.Request, own: bool) -> logs.LogFilter:
    """The query's filters; for a user's own routes the username filter is replaced by their id."""
    return logs.LogFilter(
        type=query_int32(request, "type"), start=query_int(request, "start_timestamp"),
        end=query_int(request, "end_timestamp"), token_name=query_text(request, "token_name"),
        model_name=query_text(request, "model_name"),
        username="" if own else query_text(request, "username"),
        channel=0 if own else query_int32(request, "channel"),
        user_id=current_user(request).id if own else 0)


async def list_all(request: web.Request) -> web.Response:
    """GET /api/log/?p=&type=&start_timestamp=&end_timestamp=&username=&token_name=&model_name=&channel="""
    async with state_of(request).db.log_session() as s:
        rows = await logs.page(s, _filter(request, own=False), query_int(request, "p"))
    return ok([log_json(r) for r in rows])


async def list_own(request: web.Request) -> web.Response:
    """GET /api/log/self?p=&...: the caller's rows, ids left out."""
    async with state_of(request).db.log_session() as s:
        rows = await logs.page(s, _filter(request, own=True), query_int(request, "p"))
    return ok([log_json(r, hide_id=True) for r in rows])


async def stat_all(request: web.Request) -> web.Response:
    """GET /api/log/stat: {quota} summed over matching consume rows."""
    async with state_of(request).db.log_session() as s:
        return ok({"quota": await logs.consumed_quota(s, _filter(request, own=False))})


async def stat_own(request: web.Request) -> web.Response:
    """GET /api/log/self/stat: the same, over the caller's rows."""
    async with state_of(request).db.log_session() as s:
        return ok({"quota": await logs.consumed_quota(s, _filter(request, own=True))})


async def search_all(request: web.Request) -> web.Response:
    """GET /api/log/search?keyword=: type = keyword or content prefix, newest 100."""
    async with state_of(request).db.log_session() as s:
        rows = await logs.search(s, query_text(request, "keyword"))
    return ok([log_json(r) for r in rows])


async def search_own(request: web.Request) -> web.Response:
    """GET /api/log/self/search?keyword=: the caller's rows of type = keyword, newest 100."""
    async with state_of(request).db.log_session() as s:
        rows = await logs.search_own(s, current_user(request).id, query_int32(request, "keyword"))
    return ok([log_json(r, hide_id=True) for r in rows])


async def purge(request: web.Request) -> web.Response:
    """DELETE /api/log/?target_timestamp=: rows older than the timestamp; data = count."""
    target = query_int(request, "target_timestamp")
    if target <= 0:
        raise Refusal("target timestamp is required")
    async with state_of(request).db.log_session() as s:
        return ok(await logs.delete_before(s, target))
