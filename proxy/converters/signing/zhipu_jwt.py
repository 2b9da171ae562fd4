"""Zhipu BigModel auth token: an HS256 JWT built from an `id.secret` API key, byte-exact."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from proxy.converters.base import ConversionError

# Keys in this order (sorted), compact JSON: what PyJWT and golang-jwt both produce.
HEADER_JSON = b'{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}'
OFFICIAL_TTL_MS = 210_000       # the official SDK's lifetime (it caches tokens for 180 s)
ONE_API_TTL_MS = 86_400_000     # One API's lifetime (24 h, cached as long)


def split_key(api_key: str) -> tuple[str, str]:
    """`<id>.<secret>` with exactly one dot, as the SDK and One API require."""
    parts = api_key.split(".")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ConversionError("Zhipu channel key must be <id>.<secret>", code="invalid_channel_key", status=500)
    return parts[0], parts[1]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def payload_json(api_id: str, now_ms: int, ttl_ms: int) -> bytes:
    return orjson.dumps({"api_key": api_id, "exp": now_ms + ttl_ms, "timestamp": now_ms})


def signing_input(api_id: str, now_ms: int, ttl_ms: int) -> str:
    return _b64url(HEADER_JSON) + "." + _b64url(payload_json(api_id, now_ms, ttl_ms))


def token(api_key: str, now_ms: int, ttl_ms: int = OFFICIAL_TTL_MS) -> str:
    """The JWT; timestamps are integers in milliseconds, the HMAC key is the raw secret."""
    api_id, secret = split_key(api_key)
    head = signing_input(api_id, now_ms, ttl_ms)
    signature = hmac.new(secret.encode("utf-8"), head.encode("ascii"), hashlib.sha256).digest()
    return head + "." + _b64url(signature)
