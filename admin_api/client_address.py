"""The client's address: the socket peer, or `X-Forwarded-For` only when the peer is a trusted proxy.

admin_api listens on a unix socket only its own proxy (and nginx on the same host, when pointed there) can
reach: a peer on the socket is believed, its X-Forwarded-For hop taken as the client. Loopback TCP peers are
not (before, admin_api had a loopback port any local process could call with a made-up address, past the
per-IP limits). `TRUSTED_PROXIES` adds front ends behind that hop. One API trusts anyone.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from settings.network import Network, parse_address, resolve_client_ip

CLIENT_IP = web.RequestKey("client_ip", str)
UNIX_PEER = ""      # aiohttp's request.remote for a unix socket's peer


def resolve(peer: str, forwarded_for: str | None, networks: Sequence[Network] = ()) -> str:
    """A unix-socket peer's last X-Forwarded-For hop stands for the peer, then TRUSTED_PROXIES as anywhere."""
    if peer == UNIX_PEER and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        last = parse_address(hops[-1]) if hops else None
        if last is None:
            return peer
        return resolve_client_ip(str(last), ", ".join(hops[:-1]) or None, networks)
    return resolve_client_ip(peer, forwarded_for, networks)


def client_ip(request: web.Request, networks: Sequence[Network] = ()) -> str:
    """Resolved once per request and remembered on it."""
    known = request.get(CLIENT_IP)
    if known is None:
        known = resolve(request.remote or UNIX_PEER, request.headers.get("X-Forwarded-For"), networks)
        request[CLIENT_IP] = known
    return known
