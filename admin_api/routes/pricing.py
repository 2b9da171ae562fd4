"""The price page (GET /api/pricing) and root's price import from a file or a URL (#16).

Anonymous callers see the default group's prices only when option PublicPricingEnabled is on (the route's
`public_if` in admin_api.app); a logged-in caller (session or access token) always sees their own group's.
The import previews its diff and writes nothing; applying writes every price option it changes in one
transaction.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from aiohttp import web

from admin_api.auth import USER_KEY
from admin_api.envelope import Refusal, ok
from admin_api.option_rules import current
from admin_api.state import state_of
from rules import load_prices
from rules.price_import import PriceFileError, option_edits, parse_price_file, price_diff
from rules.price_list import model_prices, table_from_options
from startup.guarded_fetch import FetchRefused
from store import option_updates, users

DEFAULT_GROUP = "default"
MAX_PRICE_FILE = 4 * 1024 * 1024


async def _read_capped(stream: aiohttp.StreamReader) -> bytes:
    """At most MAX_PRICE_FILE + 1 bytes of a body (one byte more tells that it is too long)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_PRICE_FILE:
        chunk = await stream.read(MAX_PRICE_FILE + 1 - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    if len(body) > MAX_PRICE_FILE:
        raise Refusal(f"价格文件超过 {MAX_PRICE_FILE} 字节")
    return body


async def get_pricing(request: web.Request) -> web.Response:
    """GET /api/pricing: every model the caller's group can use, each part priced at the group's ratio."""
    state = state_of(request)
    options = await current(state.db)
    user = request.get(USER_KEY)     # None: an anonymous caller let through by PublicPricingEnabled (admin_api.app)
    group = user.group if user is not None else DEFAULT_GROUP
    table = table_from_options(load_prices(), options)
    unit = options.number("QuotaPerUnit", 500000.0) or 500000.0
    async with state.db.session() as s:
        models = await users.available_models(s, group)
    ratio = table.group_ratio(group)
    return ok({"group": group, "group_ratio": ratio, "quota_per_unit": unit,
               "models": [model_prices(table, model, ratio, unit) for model in models]})


async def _fetch(request: web.Request, url: str) -> bytes:
    """The price file at `url`, through the guarded client (IMAGE_FETCH_ALLOW_HOSTS decides internal hosts)."""
    fetch = state_of(request).price_fetch
    if fetch is None:
        raise RuntimeError("admin_api price fetch used before start-up")
    if not url.startswith(("http://", "https://")):
        raise Refusal("价格文件地址必须以 http:// 或 https:// 开头")
    try:
        async with fetch.get(url) as response:
            if response.status != 200:
                raise Refusal(f"获取价格文件失败：{url} 返回 HTTP {response.status}")
            return await _read_capped(response.content)
    except FetchRefused as exc:
        raise Refusal(f"不允许访问该地址：{exc}（内网地址需列入 IMAGE_FETCH_ALLOW_HOSTS）") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise Refusal(f"获取价格文件失败：{type(exc).__name__} {exc}") from None


async def _plan(request: web.Request) -> tuple[dict[str, str], dict[str, Any]]:
    """(the option edits, the preview) for the request's price file or `{"url": ...}`."""
    raw = await _read_capped(request.content)
    try:
        head = orjson.loads(raw)
    except orjson.JSONDecodeError:
        head = None
    source = "file"
    if isinstance(head, dict) and "url" in head and "models" not in head:
        if not isinstance(head["url"], str) or set(head) != {"url"}:
            raise Refusal('价格文件无效：{"url": "..."} 只能含一个字符串字段 url')
        source, raw = head["url"], await _fetch(request, head["url"])
    try:
        models = parse_price_file(raw)
    except PriceFileError as exc:
        raise Refusal(f"价格文件无效：{exc}") from None
    options = await current(state_of(request).db)
    unit = options.number("QuotaPerUnit", 500000.0) or 500000.0
    edits = option_edits(options, models, unit)
    diff = price_diff(load_prices(), options, edits, models, unit)
    return edits, {"source": source, "models": diff, "options": sorted(edits)}


async def preview_import(request: web.Request) -> web.Response:
    """POST /api/pricing/import/preview: the diff the import would make; nothing is written."""
    _, preview = await _plan(request)
    return ok(preview)


async def apply_import(request: web.Request) -> web.Response:
    """POST /api/pricing/import: write the price options the file changes, all in one transaction."""
    edits, preview = await _plan(request)
    if edits:
        async with state_of(request).db.session() as s:
            await option_updates.put_many(s, edits)
    return ok(preview)
