"""How TRUSTED_PROXIES is applied: the client address behind trusted proxies, for both processes."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
LOOPBACK: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def resolve_client_ip(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The socket peer, or — when the peer is a trusted proxy — the first untrusted hop of X-Forwarded-For,
    walking from the right. One API believes anyone's header; we don't."""
    if not forwarded_for or not trusted:
        return peer
    peer_ip = parse_address(peer)
    if peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_ip = parse_address(hop)
        if hop_ip is None:
            return peer
        if not any(hop_ip in net for net in trusted):
            return str(hop_ip)
    first = parse_address(hops[0]) if hops else None
    return str(first) if first is not None else peer
