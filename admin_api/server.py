"""The admin_api process: serves /api/* and the web console on a unix socket, never on a TCP port.

Only who can reach the socket's directory can call it: the proxy (which passes every non-/v1 path on, with
the client address it resolved) and, when an operator points it there, nginx on the same host. A local
process cannot bypass the proxy's address resolution and the per-IP limits by calling it directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from settings import Settings
from startup.database import database_for
from startup.logs import setup_logging
from startup.serve import run_forever, serve

log = logging.getLogger(__name__)


def preload() -> None:
    """What the template process (launcher.template) imports for the admin_api it forks: its application."""
    import admin_api.app  # noqa: F401


def run(settings: Settings, log_path: Path | None = None, database_ready: Callable[[], object] | None = None) -> None:
    """`log_path`: the launcher's log file; `database_ready`: blocks until the launcher has prepared the database
    (the imports are done first, meanwhile)."""
    setup_logging(settings, path=log_path)
    if not settings.admin_socket:   # `one-api` always chooses one; never fall back to a TCP port
        raise SystemExit("admin_api: no unix socket path (ADMIN_SOCKET)")

    async def main() -> None:
        from admin_api.app import create_app

        db = database_for(settings)
        app = create_app(settings, db)
        if database_ready is not None:
            database_ready()     # nothing runs on this loop yet: blocking here holds up no request
        try:
            await serve(app, "", 0, shutdown_timeout=10, unix_path=settings.admin_socket)
        finally:
            await db.dispose()

    run_forever(main)
