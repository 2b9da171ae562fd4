"""The web console: web/dist served at `/` with One API's cache headers (§1.1), index.html for app routes."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from admin_api.client_address import client_ip
from admin_api.ratelimit import Limit
from admin_api.state import state_of

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"   # a source checkout's (or the image's) build
PACKAGED = Path(__file__).resolve().parent / "console"             # the copy a wheel ships (setup.py)
NO_CACHE = {"Cache-Control": "no-cache"}
ASSET_CACHE = {"Cache-Control": "max-age=604800"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]   # what @web.middleware makes
THEME_TAG = '<meta name="one-api-theme" content="default"'
WEB_WINDOW = 180   # seconds, One API's GLOBAL_WEB_RATE_LIMIT window

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>web console not built</h1>
<p>Run <code>scripts/build-web</code> in the source checkout (needs Node.js and npm), then reload this page.
Installed with a plain <code>pip install .</code>? Build first, then install again: the package carries the
console only when <code>web/dist</code> was built.</p>
<p>The API works without it: <a href="/api/status">/api/status</a>.</p>
</body></html>
"""


def _asset(dist: Path, path: str) -> Path | None:
    """The file under `dist` that `path` names, never one outside it; None when there is none."""
    relative = path.lstrip("/")
    if not relative or relative == "index.html":
        return None
    try:
        candidate = (dist / relative).resolve()
        if not candidate.is_relative_to(dist.resolve()) or not candidate.is_file():
            return None
    except (ValueError, OSError):   # a NUL in the path, a name too long for the file system: no such asset
        return None
    return candidate


def _index(dist: Path, theme: str) -> web.Response:
    """index.html with the THEME setting written into its meta tag, never cached."""
    try:
        page = (dist / "index.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        return web.Response(text=NOT_BUILT.format(name="One API"), content_type="text/html", headers=NO_CACHE)
    page = page.replace(THEME_TAG, f'<meta name="one-api-theme" content="{html.escape(theme, quote=True)}"', 1)
    return web.Response(text=page, content_type="text/html", headers=NO_CACHE)


def console_middleware(dist: Path = DIST) -> Middleware:
    """Answers GET/HEAD of paths no route matched: an asset, or the app's index.html; /api and /v1 keep their 404."""
    @web.middleware
    async def web_console(request: web.Request, handler: Handler) -> web.StreamResponse:
        unmatched = isinstance(request.match_info.http_exception, web.HTTPNotFound)
        path = request.path
        state = state_of(request)
        frontend = frontend_redirect(state.settings)
        if unmatched and frontend:   # a slave with FRONTEND_BASE_URL serves no console: every unmatched path goes there
            raise web.HTTPMovedPermanently(frontend + request.path_qs)
        if not unmatched or request.method not in ("GET", "HEAD") or _api_path(path):
            return await handler(request)   # unknown /api paths: `refusals` answers One API's 404 JSON
        limit = Limit("GW", 0 if state.settings.debug else state.settings.global_web_rate_limit, WEB_WINDOW)
        if not await state.limiter.allow(limit, client_ip(request, state.settings.trusted_proxies)):
            return web.Response(status=429)
        asset = _asset(dist, path)
        if asset is not None:
            return web.FileResponse(asset, headers=ASSET_CACHE)   # sends the built .gz twin when gzip is accepted
        return _index(dist, state.settings.theme)

    return web_console


def frontend_redirect(settings: Any) -> str:
    """One API honours FRONTEND_BASE_URL on slave nodes only (a master logs that it ignores it)."""
    if settings.frontend_base_url and not settings.is_master:
        return str(settings.frontend_base_url).rstrip("/")
    return ""


def _api_path(path: str) -> bool:
    return path in ("/api", "/v1") or path.startswith(("/api/", "/v1/"))


def console_dist() -> Path:
    """web/dist beside the packages when it is built (a source checkout, the image), else the console a wheel
    ships; neither: web/dist, whose absence `/` explains."""
    for dist in (DIST, PACKAGED):
        if (dist / "index.html").is_file():
            return dist
    return DIST


def add_web_console(app: web.Application, dist: Path | None = None) -> None:
    """Serve the console from a middleware, not a route: the route table stays exactly the /api contract."""
    app.middlewares.append(console_middleware(dist or console_dist()))   # type: ignore[arg-type]  # aiohttp types it as a Protocol
