"""Admin routes on channels (one-api.md §8.6); abilities follow every change in the same transaction."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from admin_api import audit, channel_secrets
from admin_api import channel_destination as destination
from admin_api.auth import current_user
from admin_api.envelope import INVALID_PARAMETER, Refusal, json_body, ok, path_id, query_int, query_text
from admin_api.payload import INT32, INT64, Payload
from admin_api.shapes import channel_json
from admin_api.state import state_of
from rules import model_object
from store import channels
from store.models import CHANNEL_AUTO_DISABLED, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, LOG_MANAGE, Channel

NOT_FOUND = "渠道不存在"
_STRINGS = ("key", "name", "models", "group", "config")            # non-empty means "set"
_NULLABLE_STRINGS = ("base_url", "other", "model_mapping", "system_prompt")   # present means "set"
# a CR inside a key can never be sent in a header (the relay answered 500 for every request on the channel)
KEY_WITH_CR = "渠道密钥不能包含回车符（\\r）"


def _json_object(text: str, what: str, values_are_strings: bool = False) -> None:
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise Refusal(f"{what} 不是合法的 JSON") from None
    if not isinstance(parsed, dict) or (values_are_strings and not all(isinstance(v, str) for v in parsed.values())):
        raise Refusal(f"{what} 必须是一个 JSON 对象")


def _fields(body: Payload, catalog_has: Any) -> dict[str, Any]:
    """Fields to write: non-empty strings and non-zero numbers, plus nullable fields that are present."""
    values: dict[str, Any] = {name: body.text(name) for name in _STRINGS if body.text(name)}
    values.update({name: body.text(name) for name in _NULLABLE_STRINGS if body.has(name)})
    for name, bounds in (("type", INT32), ("status", INT32)):
        if body.integer(name, 0, bounds):
            values[name] = body.integer(name, 0, bounds)
    for name, bounds in (("priority", INT64), ("weight", (0, 2**31 - 1))):
        if body.has(name):
            values[name] = body.integer(name, 0, bounds)
    if "type" in values and values["type"] not in catalog_has:
        raise Refusal("无效的渠道类型")
    if values.get("status", CHANNEL_ENABLED) not in (CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED):
        raise Refusal(INVALID_PARAMETER)
    if len(channels.clean_list(values.get("group", ""))) > 32:
        raise Refusal("分组名称过长（最多 32 个字符）")
    if values.get("model_mapping"):
        if len(values["model_mapping"]) > 1024:
            raise Refusal("模型重定向过长（最多 1024 个字符）")
        _json_object(values["model_mapping"], "模型重定向", values_are_strings=True)
    if values.get("config"):
        _json_object(values["config"], "配置")
    return values


async def list_channels(request: web.Request) -> web.Response:
    """GET /api/channel/?p=: a page of channels, newest first, keys left out."""
    async with state_of(request).db.session() as s:
        found = await channels.list_page(s, query_int(request, "p"))
    return ok([channel_json(c) for c in found])


async def search_channels(request: web.Request) -> web.Response:
    """GET /api/channel/search?keyword=: by id or name prefix."""
    async with state_of(request).db.session() as s:
        found = await channels.search(s, query_text(request, "keyword"))
    return ok([channel_json(c) for c in found])


async def builtin_models(request: web.Request) -> web.Response:
    """GET /api/channel/models: the built-in model catalog as an OpenAI model list (no envelope)."""
    data = [model_object(model, owner) for model, owner in state_of(request).catalog.model_catalog()]
    return json_body({"object": "list", "data": data})


async def get_channel(request: web.Request) -> web.Response:
    """GET /api/channel/:id: one channel, key left out."""
    async with state_of(request).db.session() as s:
        channel = await channels.get(s, path_id(request))
    if channel is None:
        raise Refusal(NOT_FOUND)
    return ok(channel_json(channel))


async def create(request: web.Request) -> web.Response:
    """POST /api/channel/: one channel per non-empty line of `key`, abilities included."""
    state = state_of(request)
    body = await Payload.read(request)
    values = _fields(body, state.catalog)
    values.setdefault("type", 0)
    values.setdefault("group", "default")
    lines = [line.strip() for line in values.pop("key", "").split("\n") if line.strip()]
    if any("\r" in line for line in lines):
        raise Refusal(KEY_WITH_CR)
    async with state.db.session() as s:
        await channels.create_many(s, values, lines or [""])
    return ok()


async def update(request: web.Request) -> web.Response:
    """PUT /api/channel/ {id, ...}: changed fields only; returns the channel (key left out).

    Moving where the stored key is sent needs the key re-entered unless the caller is root (403),
    checked under the row lock; such a move is a manage log row of the caller.
    """
    state, me = state_of(request), current_user(request)
    body = await Payload.read(request)
    channel_id = body.integer("id", 0, INT32)
    values = _fields(body, state.catalog)
    if "key" in values:
        values["key"] = values["key"].replace("\r\n", "\n").strip()   # a pasted JSON credential keeps its lines
        if "\r" in values["key"]:
            raise Refusal(KEY_WITH_CR)
        if not values["key"]:
            del values["key"]   # a blank key keeps the stored one, as an absent key does
    moved: list[str] = []

    def guard(channel: Channel) -> dict[str, Any]:
        changes = destination.destination_changes(channel, values)
        if not destination.may_change(me.role, changes, channel, values):
            raise Refusal(destination.KEY_REQUIRED, 403)
        moved[:] = [destination.audit_text(channel, changes, "key" in values)] if changes else []
        if "config" not in values:
            return values
        return {**values, "config": channel_secrets.keep_stored(channel.config, values["config"])}

    async with state.db.session() as s:
        channel = await channels.update_fields(s, channel_id, values, check=guard)
    if channel is None:
        raise Refusal(NOT_FOUND)
    for text in moved:
        await audit.record(state, me.id, LOG_MANAGE, text, channel_id=channel_id)
    return ok(channel_json(channel))


async def delete(request: web.Request) -> web.Response:
    """DELETE /api/channel/:id: the channel and its abilities."""
    async with state_of(request).db.session() as s:
        if not await channels.delete_one(s, path_id(request)):
            raise Refusal(NOT_FOUND)
    return ok()


async def delete_disabled(request: web.Request) -> web.Response:
    """DELETE /api/channel/disabled: every manually or automatically disabled channel; data = count."""
    async with state_of(request).db.session() as s:
        return ok(await channels.delete_disabled(s))
