"""Token auth exactly as One API's TokenAuth (one-api.md §2.2, §3), with the client IP from trusted proxies only."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from proxy.core.errors import RelayError
from proxy.core.flow import Flow
from proxy.gateway.cache import Caches
from proxy.gateway.gemini_calls import query_param
from proxy.gateway.messages import say
from proxy.gateway.state import RelayState
from store.models import ROLE_ADMIN, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, USER_ENABLED


def auth_error(status: int, message: str) -> RelayError:
    """Auth and distributor errors carry only message and type (One API's shape)."""
    return RelayError(status, message, type="one_api_error", full=False)


def parse_key(header: str) -> tuple[str, str | None]:
    """'Bearer sk-KEY-CHANNEL' → ('KEY', 'CHANNEL'); parts after the second are ignored."""
    key = header.removeprefix("Bearer ").removeprefix("sk-")
    parts = key.split("-")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def in_subnets(ip: str, subnets: str) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in subnets.split(","):
        cidr = cidr.strip()
        if not cidr:
            continue
        try:
            if addr in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


def unusable_status(token: Any) -> int | None:
    """The status an enabled token should have been given (expired 3, exhausted 4), or None."""
    if token.status != TOKEN_ENABLED:
        return None
    if token.expired_time != -1 and token.expired_time < time.time():
        return TOKEN_EXPIRED
    if not token.unlimited_quota and token.remain_quota <= 0:
        return TOKEN_EXHAUSTED
    return None


class TokenAuth:
    """Sets state.token, state.user, state.group and state.pinned_channel_id, or refuses."""

    def __init__(self, caches: Caches) -> None:
        self.caches = caches

    async def requestheaders(self, flow: Flow[RelayState]) -> None:
        """Before the body is read: a refused request costs no body reading or inflating."""
        state = flow.state
        key, pin = parse_key(self._credential(flow))
        if not key:
            raise auth_error(401, say("no_token"))
        token = await self.caches.token(key)
        if token is None:
            raise auth_error(401, say("invalid_token"))
        stale = unusable_status(token)
        if stale is not None:
            await self.caches.mark_token(token, stale)
        self._check_token(token)
        if token.subnet and not in_subnets(flow.request.client_ip, token.subnet):
            raise auth_error(403, say("token_subnet", subnet=token.subnet, ip=flow.request.client_ip))
        user = await self.caches.user(token.user_id)
        if user is None or user.status != USER_ENABLED:
            raise auth_error(403, say("user_banned"))
        state.token, state.user, state.group = token, user, user.group
        path_pin = flow.request.match_info.get("channelid")
        if path_pin is not None:
            pin = path_pin   # the raw proxy route; One API lets anyone use it, we require an admin
        if pin is not None:
            if user.role < ROLE_ADMIN:
                raise auth_error(403, say("pin_not_admin"))
            # ASCII digits inside a 32-bit id: '²'.isdigit() is true but int('²') raises, and 30 digits
            # overflowed the database's INTEGER (both were 500s)
            if not (pin.isascii() and pin.isdigit() and int(pin) < 2**31):
                raise auth_error(400, say("invalid_channel_id"))
            state.pinned_channel_id = int(pin)

    @staticmethod
    def _credential(flow: Flow[RelayState]) -> str:
        """A Bearer token, else the dialect's own place: Anthropic clients send x-api-key (Claude Code:
        ANTHROPIC_API_KEY), Gemini clients x-goog-api-key (Gemini CLI, google-genai) or `?key=`."""
        headers, dialect = flow.request.headers, flow.state.dialect
        header = headers.get("Authorization")
        if header:
            return header
        if dialect == "anthropic":
            return headers.get("x-api-key", "")
        if dialect == "gemini":
            return headers.get("x-goog-api-key") or query_param(flow.request.query_string, "key")
        return ""

    @staticmethod
    def _check_token(token: Any) -> None:
        if token.status == TOKEN_EXHAUSTED:
            raise auth_error(401, say("token_exhausted", name=token.name, id=token.id))
        if token.status == TOKEN_EXPIRED:
            raise auth_error(401, say("token_expired"))
        if token.status != TOKEN_ENABLED:
            raise auth_error(401, say("token_unavailable"))
        if token.expired_time != -1 and token.expired_time < time.time():
            raise auth_error(401, say("token_expired"))
        if not token.unlimited_quota and token.remain_quota <= 0:
            raise auth_error(401, say("token_quota_used"))
