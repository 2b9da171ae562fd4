"""FRONTEND_BASE_URL on a slave node: every unmatched path is redirected there (One API §1.1); a master ignores it."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from admin_api.app import create_app as create_admin
from settings import load_settings
from store import Database
from tests.e2e.harness import Gateway

ENV = {"FRONTEND_BASE_URL": "https://console.example.com/", "NODE_TYPE": "slave"}


async def test_slave_redirects_unmatched_paths(db: Database) -> None:
    settings = load_settings(ENV, [])
    admin = TestServer(create_admin(settings, db), host="127.0.0.1")
    await admin.start_server()
    gw = await Gateway(db, settings).start()
    try:
        async with aiohttp.ClientSession() as http:
            for url in (str(admin.make_url("/channel?p=1")), str(admin.make_url("/api/nope")), gw.url + "/v1/nope?x=1"):
                async with http.get(url, allow_redirects=False) as r:
                    assert r.status == 301
                    path = url.split("://", 1)[1].split("/", 1)[1]
                    assert r.headers["Location"] == "https://console.example.com/" + path
            async with http.get(str(admin.make_url("/api/status"))) as r:
                assert r.status == 200 and (await r.json())["success"] is True    # routes still answer
    finally:
        await gw.close()
        await admin.close()


async def test_master_ignores_it(db: Database) -> None:
    settings = load_settings({**ENV, "NODE_TYPE": "master"}, [])
    gw = await Gateway(db, settings).start()
    try:
        async with aiohttp.ClientSession() as http, http.get(gw.url + "/v1/nope", allow_redirects=False) as r:
            assert r.status == 404
    finally:
        await gw.close()
