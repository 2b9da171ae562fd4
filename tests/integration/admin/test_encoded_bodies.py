"""admin_api as `one-api` serves it takes no Content-Encoding: a gzip body is not inflated (One API's /api
does not decode gzip either), so a gzip bomb is refused as an invalid body with no memory spent on it."""

from __future__ import annotations

import gzip

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from admin_api import create_app
from startup.serve import SERVER_OPTIONS
from store import Database
from tests.e2e.test_gzip_bodies import gzip_bomb, rss_mib

from .conftest import make_settings


@pytest.mark.parametrize("backend", ["sqlite"])   # about bodies, not the database
async def test_a_gzip_bomb_to_the_admin_api_is_not_inflated(db: Database) -> None:
    server = TestServer(create_app(make_settings(), db))
    await server.start_server(**SERVER_OPTIONS)
    try:
        async with aiohttp.ClientSession() as http:
            url = str(server.make_url("/api/user/login"))
            headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            for body in (gzip_bomb(), gzip.compress(b'{"username": "root", "password": "123456"}')):
                before = rss_mib()
                async with http.post(url, data=body, headers=headers) as r:
                    status, answer = r.status, await r.json()
                assert status == 200 and answer == {"success": False, "message": "无效的参数"}
                assert rss_mib() - before < 8
    finally:
        await server.close()
