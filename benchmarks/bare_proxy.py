"""The baseline: a bare aiohttp pass-through proxy (no auth, no billing, no logs), streaming bytes as they come."""

from __future__ import annotations

import sys

import aiohttp
from aiohttp import web

UPSTREAM = ""
SKIP = {"host", "content-length", "transfer-encoding", "connection"}


async def on_start(app: web.Application) -> None:
    app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False,
                                           timeout=aiohttp.ClientTimeout(total=None))


async def on_stop(app: web.Application) -> None:
    await app["session"].close()


async def relay(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIP}
    headers["Authorization"] = "Bearer upstream-key"
    async with request.app["session"].post(UPSTREAM + request.path, data=body, headers=headers) as up:
        response = web.StreamResponse(status=up.status)
        for k, v in up.headers.items():
            if k.lower() not in SKIP:
                response.headers[k] = v
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


if __name__ == "__main__":
    try:
        import uvloop  # the same event loop the gateway's workers use, so the comparison is fair

        uvloop.install()
    except ImportError:
        pass
    UPSTREAM = sys.argv[2]
    app = web.Application()
    app.on_startup.append(on_start)
    app.on_cleanup.append(on_stop)
    app.router.add_post("/v1/chat/completions", relay)
    app.router.add_post("/v1/messages", relay)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
