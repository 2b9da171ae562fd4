"""Google service-account key → signed RS256 JWT and the OAuth JWT-bearer token exchange (pure)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from proxy.converters.base import ConversionError
from proxy.converters.errors import parse_json

TOKEN_URL = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LIFETIME = 3600  # Google accepts assertions valid for at most one hour


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key: str
    private_key_id: str = ""
    project_id: str = ""
    token_uri: str = TOKEN_URL


def service_account_from_json(raw: str | bytes | Mapping[str, Any]) -> ServiceAccount:
    """Parse the key file JSON a channel stores; a pasted key with literal "\\n" is repaired."""
    obj = raw if isinstance(raw, Mapping) else parse_json(raw.encode() if isinstance(raw, str) else raw)
    if not isinstance(obj, Mapping) or not obj.get("client_email") or not obj.get("private_key"):
        raise ConversionError("the Vertex AI credentials must be a service-account JSON key "
                              "with client_email and private_key", code="invalid_channel_credentials")
    key = str(obj["private_key"])
    if "\n" not in key:
        key = key.replace("\\n", "\n")
    return ServiceAccount(client_email=str(obj["client_email"]), private_key=key,
                          private_key_id=str(obj.get("private_key_id") or ""),
                          project_id=str(obj.get("project_id") or ""),
                          token_uri=str(obj.get("token_uri") or TOKEN_URL))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_header(sa: ServiceAccount) -> dict[str, str]:
    header = {"alg": "RS256", "typ": "JWT"}
    if sa.private_key_id:
        header["kid"] = sa.private_key_id
    return header


def token_claims(sa: ServiceAccount, now: float, scope: str = CLOUD_PLATFORM_SCOPE) -> dict[str, Any]:
    """Claims of the assertion exchanged at the token endpoint (aud = the key's token_uri)."""
    iat = int(now)
    return {"iss": sa.client_email, "scope": scope, "aud": sa.token_uri, "iat": iat, "exp": iat + LIFETIME}


def self_signed_claims(sa: ServiceAccount, now: float, audience: str) -> dict[str, Any]:
    """Claims of a JWT used directly as the bearer token (no token call, no scope)."""
    iat = int(now)
    return {"iss": sa.client_email, "sub": sa.client_email, "aud": audience, "iat": iat, "exp": iat + LIFETIME}


def sign_jwt(sa: ServiceAccount, claims: Mapping[str, Any]) -> str:
    """base64url(header).base64url(claims).base64url(RSASSA-PKCS1-v1_5 SHA-256 signature)."""
    signing_input = f"{_b64url(orjson.dumps(jwt_header(sa)))}.{_b64url(orjson.dumps(dict(claims)))}"
    try:
        key = serialization.load_pem_private_key(sa.private_key.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConversionError(f"the service-account private_key cannot be loaded: {exc}",
                              code="invalid_channel_credentials") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConversionError("the service-account private_key must be an RSA key", code="invalid_channel_credentials")
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def token_request_body(assertion: str) -> bytes:
    """application/x-www-form-urlencoded body of the JWT-bearer grant."""
    return urlencode({"grant_type": JWT_BEARER_GRANT, "assertion": assertion}).encode("ascii")


def parse_token_response(status: int, body: bytes, now: float) -> tuple[str, float]:
    """(access_token, absolute expiry); ConversionError carrying Google's error on failure."""
    obj = parse_json(body)
    if 200 <= status < 300 and isinstance(obj, dict) and obj.get("access_token"):
        return str(obj["access_token"]), now + float(obj.get("expires_in") or LIFETIME)
    reason = ""
    if isinstance(obj, dict):
        reason = ": ".join(str(obj[k]) for k in ("error", "error_description") if obj.get(k))
    raise ConversionError(f"Google token request failed ({status}){': ' + reason if reason else ''}",
                          code="access_token_failed", status=status if status >= 400 else 500)
