"""iFlytek Spark WebSocket auth: the HMAC-SHA256 signed URL, pure and byte-exact."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from urllib.parse import urlencode, urlsplit, urlunsplit

# The origin string the signature is wrapped in: iFlytek's documented form, and One API's literal
# form (both accepted by the server).
_ORIGINS = {
    "official": 'api_key="{key}", algorithm="hmac-sha256", headers="host date request-line", signature="{sig}"',
    "one_api": 'hmac username="{key}", algorithm="hmac-sha256", headers="host date request-line", signature="{sig}"',
}


def rfc1123_date(now: float) -> str:
    """`Thu, 09 May 2024 03:20:39 GMT`; the server accepts it within 300 s of its clock."""
    return email.utils.formatdate(now, usegmt=True)


def signature_origin(host: str, date: str, path: str) -> str:
    return f"host: {host}\ndate: {date}\nGET {path} HTTP/1.1"


def signature(api_secret: str, origin: str) -> str:
    digest = hmac.new(api_secret.encode("utf-8"), origin.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_origin(api_key: str, sig: str, style: str = "official") -> str:
    return _ORIGINS[style].format(key=api_key, sig=sig)


def authorization(api_key: str, sig: str, style: str = "official") -> str:
    return base64.b64encode(authorization_origin(api_key, sig, style).encode("utf-8")).decode("ascii")


def signed_url(url: str, api_key: str, api_secret: str, date: str, style: str = "official") -> str:
    """`url` (ws[s]://host/path) with `authorization`, `date` and `host` query parameters.

    The HMAC key is the APISecret; the origin names the APIKey. Form escaping (space as `+`)
    is what iFlytek's guide and Go's url.Values produce.
    """
    parts = urlsplit(url)
    sig = signature(api_secret, signature_origin(parts.netloc, date, parts.path))
    query = urlencode({"authorization": authorization(api_key, sig, style), "date": date, "host": parts.netloc})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
