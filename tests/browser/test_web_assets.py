"""admin_api/web_assets.py: One API's cache headers, the app fallback, /api 404s, the not-built page, no escape."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from admin_api.app import create_app
from admin_api.routing import refusals
from admin_api.state import STATE, AdminState
from admin_api.web_assets import add_web_console
from settings import load_settings
from store import Database, sqlite_url

INDEX = '<!doctype html><html><head><meta name="one-api-theme" content="default" /></head><body>app</body></html>'
SCRIPT = b"console.log('one api');" * 100


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (root / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


async def _status(_: web.Request) -> web.Response:
    return web.json_response({"success": True})


async def _client(dist: Path, env: dict[str, str] | None = None) -> TestClient:
    app = web.Application(middlewares=[refusals])
    app[STATE] = AdminState(settings=load_settings(env or {}, []), db=None)  # type: ignore[arg-type]
    app.router.add_get("/api/status", _status)
    add_web_console(app, dist)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[TestClient]:
    c = await _client(dist, {"THEME": "air"})
    yield c
    await c.close()


async def test_root_and_app_routes_get_index_without_cache(client: TestClient) -> None:
    for path in ("/", "/index.html", "/token/edit/3", "/user/reset?email=a@b.c&token=x"):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.content_type == "text/html"
        assert '<meta name="one-api-theme" content="air"' in await response.text()


async def test_assets_are_cached_a_week_and_sent_gzipped(client: TestClient) -> None:
    response = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Cache-Control"] == "max-age=604800"
    assert response.headers["Content-Encoding"] == "gzip"
    assert await response.read() == SCRIPT   # the client decodes it
    plain = await client.get("/assets/index-abc123.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and await plain.read() == SCRIPT


async def test_unknown_api_paths_keep_one_apis_404(client: TestClient) -> None:
    for method, path in (("GET", "/api/nope"), ("GET", "/api"), ("GET", "/v1/nope"), ("POST", "/some/page")):
        response = await client.request(method, path)
        assert response.status == 404, path
        body = await response.json()
        assert body["error"] == {"message": f"Invalid URL ({method} {path})", "type": "invalid_request_error",
                                 "param": "", "code": ""}
    assert (await client.get("/api/status")).status == 200


async def test_head_and_no_escape_from_dist(client: TestClient) -> None:
    assert (await client.head("/")).status == 200
    for path in ("/assets/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt"):
        response = await client.get(path)
        assert "do not serve" not in await response.text(), path


async def test_missing_build_serves_a_clear_page(tmp_path: Path) -> None:
    c = await _client(tmp_path / "no-dist")
    try:
        response = await c.get("/dashboard")
        assert response.status == 200 and response.headers["Cache-Control"] == "no-cache"
        assert "web console not built" in await response.text() and "scripts/build-web" in await response.text()
        assert (await c.get("/api/nope")).status == 404
    finally:
        await c.close()


async def test_global_web_rate_limit_applies_to_pages(dist: Path) -> None:
    c = await _client(dist, {"GLOBAL_WEB_RATE_LIMIT": "3"})
    try:
        statuses = [(await c.get("/")).status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert (await c.get("/api/status")).status == 200   # the API has its own limit
    finally:
        await c.close()


async def test_create_app_serves_the_console_after_every_api_route(tmp_path: Path) -> None:
    db = Database(sqlite_url(str(tmp_path / "one-api.db")))
    await db.create_schema()
    client = TestClient(TestServer(create_app(load_settings({}, []), db)))
    await client.start_server()
    try:
        status = await client.get("/api/status")
        assert (await status.json())["success"] is True
        page = await client.get("/channel")
        assert page.status == 200 and page.headers["Cache-Control"] == "no-cache"
        assert page.content_type == "text/html"
        assert (await client.get("/api/nope")).status == 404
    finally:
        await client.close()
        await db.dispose()
