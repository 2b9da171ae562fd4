"""Admin routes on redemption codes (one-api.md §8.7), plus an export of keys as plain text."""

from __future__ import annotations

from aiohttp import web

from admin_api.auth import current_user
from admin_api.envelope import INVALID_PARAMETER, Refusal, ok, path_id, query_int, query_int32, query_text
from admin_api.payload import INT32, QUOTA, Payload
from admin_api.shapes import redemption_json
from admin_api.state import state_of
from store import redemptions
from store.models import REDEMPTION_DISABLED, REDEMPTION_ENABLED, REDEMPTION_USED

NOT_FOUND = "兑换码不存在"


def _check_name(name: str) -> None:
    if not 1 <= len(name.encode("utf-8")) <= 20:
        raise Refusal("兑换码名称长度必须在1-20之间")


async def list_codes(request: web.Request) -> web.Response:
    """GET /api/redemption/?p=: a page of codes, newest first, keys included."""
    async with state_of(request).db.session() as s:
        found = await redemptions.list_page(s, query_int(request, "p"))
    return ok([redemption_json(r) for r in found])


async def search_codes(request: web.Request) -> web.Response:
    """GET /api/redemption/search?keyword=: by id or name prefix."""
    async with state_of(request).db.session() as s:
        found = await redemptions.search(s, query_text(request, "keyword"))
    return ok([redemption_json(r) for r in found])


async def export_codes(request: web.Request) -> web.Response:
    """GET /api/redemption/export?keyword=&status=: keys of matching codes, one per line (text/plain)."""
    status = query_int32(request, "status")
    async with state_of(request).db.session() as s:
        found = await redemptions.export_keys(s, query_text(request, "keyword"), status or None)
    return web.Response(text="".join(key + "\n" for key in found), content_type="text/plain")


async def get_code(request: web.Request) -> web.Response:
    """GET /api/redemption/:id: one code."""
    async with state_of(request).db.session() as s:
        code = await redemptions.get(s, path_id(request))
    if code is None:
        raise Refusal(NOT_FOUND)
    return ok(redemption_json(code))


async def create(request: web.Request) -> web.Response:
    """POST /api/redemption/ {name, quota, count}: 1–100 codes at once; data = their keys."""
    body = await Payload.read(request)
    name, count, quota = body.text("name"), body.integer("count", 0, INT32), body.integer("quota", 100, QUOTA)
    _check_name(name)
    if count <= 0:
        raise Refusal("兑换码个数必须大于0")
    if count > 100:
        raise Refusal("一次兑换码批量生成的个数不能大于 100")
    if quota < 0:
        raise Refusal("额度不能为负数")
    async with state_of(request).db.session() as s:
        created = await redemptions.create_batch(s, current_user(request).id, name, quota, count)
    return ok(created)


async def update(request: web.Request) -> web.Response:
    """PUT /api/redemption/ {id, name, quota} or ?status_only= {id, status}; a used code stays used."""
    body = await Payload.read(request)
    async with state_of(request).db.session() as s:
        code = await redemptions.get(s, body.integer("id", 0, INT32))
    if code is None:
        raise Refusal(NOT_FOUND)
    if request.query.get("status_only"):
        status = body.integer("status", 0, INT32)
        if status not in (REDEMPTION_ENABLED, REDEMPTION_DISABLED):
            raise Refusal(INVALID_PARAMETER)
        if code.status == REDEMPTION_USED:
            raise Refusal("该兑换码已被使用")
        values: dict[str, object] = {"status": status}
    else:
        values = {"name": body.text("name"), "quota": body.integer("quota", 0, QUOTA)}
        _check_name(str(values["name"]))
    async with state_of(request).db.session() as s:
        await redemptions.update_fields(s, code.id, values)
    for name, value in values.items():
        setattr(code, name, value)
    return ok(redemption_json(code))


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/redemption/:id: hard delete."""
    async with state_of(request).db.session() as s:
        if not await redemptions.delete_one(s, path_id(request)):
            raise Refusal(NOT_FOUND)
    return ok()
