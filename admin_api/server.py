"""The admin_api process: serves /api/* (and later the web console) on the internal loopback port."""

from __future__ import annotations

import logging

from launcher.prepare import database_for
from launcher.serve import run_forever, serve
from settings import Settings

log = logging.getLogger(__name__)


def run(settings: Settings) -> None:
    async def main() -> None:
        from admin_api.app import create_app

        db = database_for(settings)
        app = create_app(settings, db)
        try:
            await serve(app, "127.0.0.1", settings.internal_admin_port, shutdown_timeout=10)
        finally:
            await db.dispose()

    run_forever(main)
