"""The client's address: the socket peer, or `X-Forwarded-For` only when the peer is a trusted proxy.

Loopback is always trusted (the proxy process on this machine passes every non-/v1 request on with
the address it resolved); `TRUSTED_PROXIES` adds nginx or other front ends. One API trusts anyone.
"""

from __future__ import annotations

from typing import Sequence

from aiohttp import web

from settings.network import LOOPBACK, Network, resolve_client_ip

CLIENT_IP = web.RequestKey("client_ip", str)


def resolve(peer: str, forwarded_for: str | None, networks: Sequence[Network] = ()) -> str:
    """Loopback peers (the proxy process) are always trusted here, plus TRUSTED_PROXIES."""
    return resolve_client_ip(peer, forwarded_for, (*LOOPBACK, *networks))


def client_ip(request: web.Request, networks: Sequence[Network] = ()) -> str:
    """Resolved once per request and remembered on it."""
    known = request.get(CLIENT_IP)
    if known is None:
        known = resolve(request.remote or "", request.headers.get("X-Forwarded-For"), networks)
        request[CLIENT_IP] = known
    return known
