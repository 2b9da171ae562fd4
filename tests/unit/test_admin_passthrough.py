"""The pass-through to admin_api keeps no cookies: a browser's session cookie goes with its own requests only."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.admin_passthrough import AdminPassthrough, admin_session


async def _admin_on_socket(path: str) -> web.AppRunner:
    """A stand-in admin_api on a unix socket: /login sets a session cookie, /whoami echoes the Cookie it got."""
    async def login(request: web.Request) -> web.Response:
        response = web.json_response({"success": True})
        response.set_cookie("session", request.query["user"], httponly=True)
        return response

    async def whoami(request: web.Request) -> web.Response:
        return web.json_response({"cookie": request.headers.get("Cookie", "")})

    app = web.Application()
    app.router.add_get("/api/login", login)
    app.router.add_get("/api/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.UnixSite(runner, path).start()
    return runner


async def test_one_browsers_session_cookie_never_reaches_another(tmp_path: Path) -> None:
    """Before, the pass-through's client session kept admin_api's Set-Cookie in its jar (the host "admin" is
    a name, so aiohttp stores it) and sent it with every later request: an anonymous caller was the last
    user who logged in, and root's own cookie was overridden by that user's (root got 无权进行此操作)."""
    admin = await _admin_on_socket(str(tmp_path / "admin.sock"))
    session = admin_session(str(tmp_path / "admin.sock"))
    passthrough = AdminPassthrough(str(tmp_path / "admin.sock"), lambda: session)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", passthrough.handle)
    proxy = TestServer(app, host="127.0.0.1")
    await proxy.start_server()
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
            async with browser.get(proxy.make_url("/api/login?user=alice")) as answer:
                assert answer.status == 200 and "session=alice" in answer.headers["Set-Cookie"]
            async with browser.get(proxy.make_url("/api/whoami")) as answer:
                assert await answer.json() == {"cookie": ""}
            async with browser.get(proxy.make_url("/api/whoami"), headers={"Cookie": "session=root"}) as answer:
                assert await answer.json() == {"cookie": "session=root"}
    finally:
        await proxy.close()
        await session.close()
        await admin.cleanup()
