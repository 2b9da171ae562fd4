"""Tencent Cloud API 3.0 request signing (TC3-HMAC-SHA256), pure and exact."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

ALGORITHM = "TC3-HMAC-SHA256"


@dataclass(frozen=True)
class TC3Signature:
    """Every intermediate value, so tests can compare each step with the vectors."""

    date: str
    hashed_payload: str
    canonical_request: str
    credential_scope: str
    string_to_sign: str
    secret_date: bytes
    secret_service: bytes
    secret_signing: bytes
    signature: str
    signed_headers: str
    authorization: str


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_headers(host: str, content_type: str, action: str | None) -> dict[str, str]:
    """The headers that get signed, lower-cased names and values, sorted by name.

    With `action` the request signs `x-tc-action` too (One API's style); without
    it only `content-type` and `host` are signed (the official SDK's style).
    """
    headers = {"content-type": content_type.strip().lower(), "host": host.strip().lower()}
    if action:
        headers["x-tc-action"] = action.strip().lower()
    return dict(sorted(headers.items()))


def utc_date(timestamp: int) -> str:
    """The credential-scope date: the UTC calendar day, never local time."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def sign(secret_id: str, secret_key: str, *, timestamp: int, host: str, body: bytes,
         service: str, action: str | None = None,
         content_type: str = "application/json") -> TC3Signature:
    """Sign one POST to `/` with an empty query string."""
    headers = canonical_headers(host, content_type, action)
    block = "".join(f"{name}:{value}\n" for name, value in headers.items())
    signed_headers = ";".join(headers)
    hashed_payload = _sha256_hex(body)
    canonical_request = f"POST\n/\n\n{block}\n{signed_headers}\n{hashed_payload}"
    date = utc_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{_sha256_hex(canonical_request.encode('utf-8'))}"
    secret_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    secret_service = _hmac(secret_date, service)
    secret_signing = _hmac(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (f"{ALGORITHM} Credential={secret_id}/{scope}, "
                     f"SignedHeaders={signed_headers}, Signature={signature}")
    return TC3Signature(date, hashed_payload, canonical_request, scope, string_to_sign,
                        secret_date, secret_service, secret_signing, signature,
                        signed_headers, authorization)
