"""Run one aiohttp application in this process until SIGTERM/SIGINT, then stop gracefully."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

# aiohttp's parser must not inflate request bodies: it would do so before any handler ran, so before any key
# was checked, and in slices as large as the body limit. The proxy inflates gzip itself, after authentication,
# within the limit (proxy/core/request_body.py); admin_api takes no encoded bodies, as One API's /api.
SERVER_OPTIONS: dict[str, Any] = {"auto_decompress": False}


async def serve(app: web.Application, host: str, port: int, *, reuse_port: bool = False,
                shutdown_timeout: float = 30.0, ready: Callable[[], Awaitable[None]] | None = None,
                unix_path: str = "") -> None:
    """Listen (on `unix_path` instead of TCP when given), wait for a stop signal, then stop accepting and let
    in-flight requests finish."""
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout,
                           **SERVER_OPTIONS)
    await runner.setup()
    if unix_path:
        await _unix_site(runner, unix_path)
    else:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port or None, backlog=1024).start()
        log.info("listening on %s:%d", host, port)
    if ready is not None:
        await ready()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: no new connections (in-flight requests: the app's own drain, then up to %gs)",
             shutdown_timeout)
    await runner.cleanup()


async def _unix_site(runner: web.AppRunner, path: str) -> None:
    """Owner and group may connect (nginx on the host can share the group); the directory decides who reaches it."""
    await web.UnixSite(runner, path, backlog=1024).start()
    os.chmod(path, 0o660)
    log.info("listening on %s", path)


def run_forever(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Entry point body for a child process."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
