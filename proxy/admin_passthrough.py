"""Every path the proxy does not serve goes to admin_api, so one port serves everything (as One API).

admin_api listens on a unix socket in a private directory, never on a TCP port: it believes the
X-Forwarded-For set here because only the proxy (or nginx on the host, when pointed there) can reach it.
"""

from __future__ import annotations

from collections.abc import Callable

import aiohttp
from aiohttp import web

from proxy.client_ip import client_ip
from proxy.core.hop import end_to_end

ADMIN_ORIGIN = "http://admin"    # the Host admin_api sees; the connection itself goes to the unix socket


def unavailable() -> web.Response:
    return web.json_response({"success": False, "message": "admin service unavailable"}, status=502)


def admin_session(socket_path: str) -> aiohttp.ClientSession:
    """Keep-alive connections to admin_api's socket (without a path there is no admin_api: answers are 502).

    No cookie jar: the session is shared by every client of the proxy, so a jar would keep one user's
    session cookie and send it with everyone's requests (aiohttp stores cookies of the name "admin").
    """
    connector = aiohttp.UnixConnector(path=socket_path, limit=256) if socket_path else aiohttp.TCPConnector(limit=1)
    return aiohttp.ClientSession(connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar(),
                                 timeout=aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=300))


class AdminPassthrough:
    """Streams the request to admin_api and its answer back, bodies never buffered whole."""

    def __init__(self, socket_path: str, session: Callable[[], aiohttp.ClientSession]) -> None:
        self.base_url = ADMIN_ORIGIN if socket_path else ""
        self.session = session   # a getter: the session exists only once the application has started

    async def handle(self, request: web.Request) -> web.StreamResponse:
        headers = end_to_end(request.headers, drop=("host", "content-length", "x-forwarded-for"))
        headers["X-Forwarded-For"] = client_ip(request)
        headers["X-Forwarded-Proto"] = request.headers.get("X-Forwarded-Proto", request.scheme)
        body = request.content if request.body_exists else None
        if not self.base_url:
            return unavailable()
        try:
            async with self.session().request(request.method, self.base_url + request.path_qs, headers=headers,
                                            data=body, allow_redirects=False) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in end_to_end(upstream.headers.items(), drop=("content-length",)).items():
                    response.headers.add(name, value)
                if upstream.content_length is not None and "Content-Encoding" not in upstream.headers:
                    response.content_length = upstream.content_length
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except aiohttp.ClientError:
            return unavailable()
