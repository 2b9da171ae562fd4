"""The client's address: the socket peer, or `X-Forwarded-For` only when the peer is a trusted proxy.

Loopback is always trusted (the proxy process on this machine passes every non-/v1 request on with
the address it resolved); `TRUSTED_PROXIES` adds nginx or other front ends. One API trusts anyone.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
CLIENT_IP = web.RequestKey("client_ip", str)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Sequence[Network]) -> bool:
    return any(address in net for net in (*LOOPBACK, *networks))


def resolve(peer: str, forwarded_for: str | None, networks: Sequence[Network] = ()) -> str:
    """Walk X-Forwarded-For from the right, past trusted hops, when the peer itself is trusted."""
    peer_ip = _parse(peer)
    if peer_ip is None or not forwarded_for or not _trusted(peer_ip, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_ip = _parse(hop)
        if hop_ip is None:
            return peer
        if not _trusted(hop_ip, networks):
            return str(hop_ip)
    first = _parse(hops[0]) if hops else None
    return str(first) if first is not None else peer


def client_ip(request: web.Request, networks: Sequence[Network] = ()) -> str:
    """Resolved once per request and remembered on it."""
    known = request.get(CLIENT_IP)
    if known is None:
        known = resolve(request.remote or "", request.headers.get("X-Forwarded-For"), networks)
        request[CLIENT_IP] = known
    return known
