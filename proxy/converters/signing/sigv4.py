"""AWS Signature Version 4 for request headers, as pure functions (time passed in)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str = ""


def amz_date(now: float) -> str:
    """`YYYYMMDD'T'HHMMSS'Z'` in UTC."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def host_of(url: str) -> str:
    """The Host header an HTTP client sends for this URL (port only when not the default)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_uri(path: str) -> str:
    """Each segment of the path as sent is encoded again (non-S3 rule: `%3A` → `%253A`)."""
    return "/".join(_uri_encode(segment) for segment in (path or "/").split("/")) or "/"


def canonical_query(query: str) -> str:
    pairs = [(_uri_encode(k), _uri_encode(v)) for k, v in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """(canonical header block, signed header list) over lowercase names, trimmed values."""
    normal = {name.lower().strip(): " ".join(str(value).split()) for name, value in headers.items()}
    names = sorted(normal)
    block = "".join(f"{name}:{normal[name]}\n" for name in names)
    return block, ";".join(names)


def canonical_request(method: str, url: str, headers: Mapping[str, str], payload_hash: str) -> tuple[str, str]:
    """(canonical request, signed headers); `headers` must already include host and x-amz-date."""
    parts = urlsplit(url)
    block, signed = _canonical_headers(headers)
    text = "\n".join([method.upper(), canonical_uri(parts.path), canonical_query(parts.query),
                      block, signed, payload_hash])
    return text, signed


def credential_scope(date: str, region: str, service: str) -> str:
    return f"{date[:8]}/{region}/{service}/aws4_request"


def string_to_sign(date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def sign_headers(method: str, url: str, headers: Mapping[str, str], body: bytes, creds: Credentials,
                 region: str, service: str, now: float) -> dict[str, str]:
    """`headers` plus X-Amz-Date, [X-Amz-Security-Token] and Authorization; every header is signed."""
    date = amz_date(now)
    out = dict(headers)
    out["X-Amz-Date"] = date
    if creds.session_token:
        out["X-Amz-Security-Token"] = creds.session_token
    to_sign = dict(out)
    if not any(name.lower() == "host" for name in to_sign):
        to_sign["host"] = host_of(url)
    canonical, signed = canonical_request(method, url, to_sign, hashlib.sha256(body).hexdigest())
    scope = credential_scope(date, region, service)
    key = signing_key(creds.secret_access_key, date, region, service)
    signature = hmac.new(key, string_to_sign(date, scope, canonical).encode("utf-8"), hashlib.sha256).hexdigest()
    out["Authorization"] = (f"{ALGORITHM} Credential={creds.access_key_id}/{scope}, "
                            f"SignedHeaders={signed}, Signature={signature}")
    return out
