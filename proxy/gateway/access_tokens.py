"""Provider authentication: the auxiliary access tokens some providers want first (Baidu, Vertex AI), cached.

The converter says how to ask for a token and how to read the answer (its AccessTokenStep, pure); this does
the I/O and keeps each token per (base URL, key) until a minute before it expires, or until an answer says it
died (`drop`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from proxy.converters.abilities import AccessTokenStep
from proxy.converters.base import ConversionError, ConvertContext
from proxy.core.errors import RelayError, UpstreamError

__all__ = ["AccessTokens"]

TOKEN_REQUEST_TIMEOUT = 30   # seconds for the whole token request
REFRESH_MARGIN = 60          # seconds before expiry a token is fetched anew


class AccessTokens:
    """Auxiliary tokens per (base URL, key), refreshed a minute before they expire."""

    def __init__(self, session: Callable[[], aiohttp.ClientSession]) -> None:
        self.session = session
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    async def token(self, step: AccessTokenStep, ctx: ConvertContext) -> str:
        """The cached token for the channel of `ctx`, else a fresh one from the provider's token endpoint."""
        cached = self._cached(ctx)
        return cached or await self._fetch(step, ctx)

    def drop(self, ctx: ConvertContext) -> None:
        """The token was refused: the next call fetches a fresh one."""
        self._tokens.pop((ctx.base_url, ctx.key), None)

    def _cached(self, ctx: ConvertContext) -> str:
        token, expires = self._tokens.get((ctx.base_url, ctx.key), ("", 0.0))
        return token if expires - REFRESH_MARGIN > ctx.now else ""

    async def _fetch(self, step: AccessTokenStep, ctx: ConvertContext) -> str:
        req = step.auth_token_request(ctx)
        try:
            async with self.session().request(req.method, req.url, headers=req.headers, data=req.body or None,
                                              timeout=aiohttp.ClientTimeout(total=TOKEN_REQUEST_TIMEOUT)) as resp:
                status, body = resp.status, await resp.read()
            token, expires = step.parse_auth_token(status, body, time.time())
        except ConversionError as e:
            raise RelayError(502, f"access token request failed: {e.message}", code="get_access_token_failed",
                             ) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            raise UpstreamError(502, f"access token request failed: {e}", type="one_api_error",
                                code="get_access_token_failed") from None
        self._tokens[(ctx.base_url, ctx.key)] = (token, expires)
        return token
