"""GETs made on a user's behalf (remote vision images) or an operator's (a price list URL) that only ever connect to
addresses the policy allows. In startup so the proxy and admin_api both use it (they never import each other).

A session of their own, apart from the upstream session (upstreams may rightly live on loopback or a
private network): its connector resolves names through GuardedResolver, so the addresses checked are
the very addresses connected to and no second lookup (DNS rebinding) can slip between check and
connect; literal addresses, which aiohttp never hands to a resolver, are checked before each request;
redirects are followed here, every hop checked. Through a proxy, which would resolve the name again
itself, the name is resolved and checked here and the proxy is handed the checked address.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from startup.url_guard import FetchPolicy, normal_host, parse_address

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchRefused(OSError):
    """A URL, or an address its host resolved to, that a user may not make the gateway reach.

    An OSError so that, raised inside aiohttp's connector by the resolver, it ends the request as a
    connection error does."""


class GuardedResolver(AbstractResolver):
    """Resolves as usual, then refuses the name if any of its addresses is refused."""

    def __init__(self, policy: FetchPolicy, inner: AbstractResolver, trusted: frozenset[str] = frozenset()) -> None:
        self.policy = policy
        self.inner = inner
        self.trusted = trusted       # the proxy's own host: the operator's configuration, not a user's URL

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if normal_host(host) not in self.trusted:
            for result in results:
                address = parse_address(result["host"])
                reason = self.policy.refusal(host, address) if address else f"{result['host']!r} is no address"
                if reason:
                    raise FetchRefused(f"{host}: {reason}")
        return results

    async def close(self) -> None:
        await self.inner.close()


class GuardedFetch:
    """The gateway's client for user-supplied URLs; started and closed with the worker's runtime."""

    def __init__(self, policy: FetchPolicy, proxy: str | None = None, timeout: float = 30, max_redirects: int = 3,
                 lookup: Callable[[], AbstractResolver] = DefaultResolver) -> None:
        """`lookup` makes the resolver that answers before the guard checks (tests give names answers)."""
        self.policy = policy
        self.lookup = lookup
        self.proxy = proxy or None
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.resolver: GuardedResolver | None = None
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        proxy_host = URL(self.proxy).raw_host if self.proxy else None
        self.resolver = GuardedResolver(self.policy, self.lookup(),
                                        frozenset({normal_host(proxy_host)}) if proxy_host else frozenset())
        connector = aiohttp.TCPConnector(resolver=self.resolver, limit=64, limit_per_host=8, ttl_dns_cache=60,
                                         keepalive_timeout=30)
        # no cookie jar: one user's image host must not set cookies that ride along another user's fetch
        self.session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                             timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        if self.resolver is not None:
            await self.resolver.close()     # passed in, so the connector leaves it open

    @asynccontextmanager
    async def get(self, url: str) -> AsyncIterator[aiohttp.ClientResponse]:
        """The first answer to `url` that is not a redirect. Raises FetchRefused for a hop the policy
        refuses (before connecting), aiohttp's errors for the rest."""
        response = await self._follow(URL(url))
        try:
            yield response
        finally:
            response.release()

    async def _follow(self, target: URL) -> aiohttp.ClientResponse:
        for _ in range(self.max_redirects + 1):
            reason = self.policy.url_refusal(target.scheme, target.raw_host)
            if reason:
                raise FetchRefused(f"{target}: {reason}")
            response = await self._send(target)
            location = response.headers.get("Location")
            if response.status not in REDIRECTS or not location:
                return response
            response.release()
            target = target.join(URL(location))
        raise FetchRefused(f"{target}: more than {self.max_redirects} redirects")

    async def _send(self, target: URL) -> aiohttp.ClientResponse:
        assert self.session is not None and self.resolver is not None, "GuardedFetch not started"
        host = target.raw_host
        if self.proxy is None or host is None or parse_address(host) is not None:
            return await self.session.get(target, proxy=self.proxy, allow_redirects=False)
        results = await self.resolver.resolve(host, target.port or 0, socket.AF_UNSPEC)
        pinned = target.with_host(results[0]["host"].split("%", 1)[0])
        headers = {"Host": host if target.is_default_port() else f"{host}:{target.port}"}
        return await self.session.get(pinned, proxy=self.proxy, headers=headers, allow_redirects=False,
                                      server_hostname=host if target.scheme == "https" else None)
