"""The client address of a relay request: the socket peer, or X-Forwarded-For from TRUSTED_PROXIES only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from settings.network import resolve_client_ip

TRUSTED_KEY = web.AppKey("trusted_proxies", tuple)


def client_ip(request: web.Request) -> str:
    trusted: tuple[Any, ...] = request.app.get(TRUSTED_KEY, ())
    return resolve_client_ip(request.remote or "", request.headers.get("X-Forwarded-For"), trusted)
