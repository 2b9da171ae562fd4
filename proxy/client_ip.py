"""The client address: the socket peer, or X-Forwarded-For only when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from typing import Sequence

from aiohttp import web

TRUSTED_KEY = web.AppKey("trusted_proxies", tuple)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def resolve_client_ip(peer: str, forwarded_for: str | None, trusted: Sequence[object]) -> str:
    """Walk X-Forwarded-For from the right, skipping trusted hops; One API trusts anyone's header, we don't."""
    peer_ip = _ip(peer)
    if peer_ip is None or not forwarded_for or not any(peer_ip in net for net in trusted):  # type: ignore[operator]
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            return peer
        if not any(ip in net for net in trusted):  # type: ignore[operator]
            return str(ip)
    return hops[0] if hops else peer


def client_ip(request: web.Request) -> str:
    peer = request.remote or ""
    trusted = request.app.get(TRUSTED_KEY, ())
    return resolve_client_ip(peer, request.headers.get("X-Forwarded-For"), trusted)
