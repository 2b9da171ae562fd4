"""Local servers speaking provider wire formats the vector replayer cannot: several routes on one base
URL (OAuth token + chat, task submit + poll), WebSocket conversations, binary event streams.

Each mock also checks the credentials it receives the way the provider would (signatures recomputed
from the bytes that actually arrived), so a test proves what was signed is what was sent.
Written from the providers' public documentation; independent of the converters' own helpers.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.e2e.mock_upstream import Recorded

Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]


class ProviderMock:
    """One aiohttp server on 127.0.0.1; handlers registered per (method, path). Requests are recorded;
    a handler that raises is recorded in `failures` and answered with HTTP 599 (never a silent pass)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.hits: Counter[str] = Counter()
        self.failures: list[str] = []
        self.ws_messages: list[Any] = []
        self._routes: dict[tuple[str, str], Handler] = {}
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.server = TestServer(app, host="127.0.0.1")

    def route(self, method: str, path: str, handler: Handler) -> ProviderMock:
        self._routes[(method.upper(), path)] = handler
        return self

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    async def start(self) -> ProviderMock:
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        rec = Recorded(request.method, request.path, request.query_string, dict(request.headers), body)
        rec.raw_path = request.raw_path          # type: ignore[attr-defined]  # as sent on the wire (signing)
        self.requests.append(rec)
        self.hits[request.path] += 1
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            self.failures.append(f"unexpected {request.method} {request.path}")
            return web.json_response({"message": f"no route {request.method} {request.path}"}, status=404)
        try:
            return await handler(request, rec)
        except Exception as e:  # noqa: BLE001 - report to the test, whatever it is
            self.failures.append(f"{request.method} {request.path}: {e!r}\n{traceback.format_exc()}")
            return web.json_response({"message": f"mock check failed: {e}"}, status=599)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json",
                        headers=headers)


async def send_stream(request: web.Request, data: bytes, content_type: str, piece: int = 37) -> web.StreamResponse:
    """The body in odd-sized pieces (converters must cope with any split)."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    for i in range(0, len(data), piece):
        await response.write(data[i:i + piece])
    await response.write_eof()
    return response


# ---------------------------------------------------------------- credential checks

def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def _auth_fields(value: str, prefix: str) -> dict[str, str]:
    assert value.startswith(prefix + " "), f"Authorization does not start with {prefix}: {value!r}"
    fields = {}
    for part in value[len(prefix) + 1:].split(","):
        name, _, val = part.strip().partition("=")
        fields[name] = val
    return fields


def check_sigv4(rec: Recorded, access_key: str, secret_key: str, region: str, service: str) -> None:
    """AWS Signature V4 as the service verifies it: canonical request rebuilt from the received request."""
    headers = {k.lower(): v for k, v in rec.headers.items()}
    fields = _auth_fields(headers.get("authorization", ""), "AWS4-HMAC-SHA256")
    date = headers["x-amz-date"]
    scope = f"{date[:8]}/{region}/{service}/aws4_request"
    assert fields["Credential"] == f"{access_key}/{scope}", fields["Credential"]
    signed = fields["SignedHeaders"].split(";")
    assert {"host", "x-amz-date"} <= set(signed), signed
    raw_path, _, query = rec.raw_path.partition("?")      # type: ignore[attr-defined]
    uri = "/".join(quote(seg, safe="-_.~") for seg in raw_path.split("/"))
    canon_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                           for k, v in sorted(parse_qsl(query, keep_blank_values=True)))
    block = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    canonical = "\n".join([rec.method, uri, canon_query, block, ";".join(signed),
                           hashlib.sha256(rec.body).hexdigest()])
    to_sign = f"AWS4-HMAC-SHA256\n{date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = ("AWS4" + secret_key).encode()
    for part in (date[:8], region, service, "aws4_request"):
        key = _hmac256(key, part)
    assert hmac.compare_digest(fields["Signature"], hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()), \
        "SigV4 signature does not match the request received"
    assert abs(time.time() - calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))) < 300, date


def check_tc3(rec: Recorded, secret_id: str, secret_key: str, service: str) -> None:
    """Tencent Cloud API 3.0 TC3-HMAC-SHA256 over the received headers and body (POST /, empty query)."""
    headers = {k.lower(): v for k, v in rec.headers.items()}
    fields = _auth_fields(headers.get("authorization", ""), "TC3-HMAC-SHA256")
    timestamp = int(headers["x-tc-timestamp"])
    assert abs(time.time() - timestamp) < 300
    day = time.strftime("%Y-%m-%d", time.gmtime(timestamp))
    scope = f"{day}/{service}/tc3_request"
    assert fields["Credential"] == f"{secret_id}/{scope}", fields["Credential"]
    signed = fields["SignedHeaders"].split(";")
    assert {"content-type", "host"} <= set(signed), signed
    block = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed)
    canonical = f"{rec.method}\n{rec.path}\n{rec.query}\n{block}\n{';'.join(signed)}\n{hashlib.sha256(rec.body).hexdigest()}"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac256(_hmac256(_hmac256(("TC3" + secret_key).encode(), day), service), "tc3_request")
    assert hmac.compare_digest(fields["Signature"], hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()), \
        "TC3 signature does not match the request received"


def check_spark_url(request: web.Request, api_key: str, api_secret: str) -> None:
    """iFlytek's WebSocket auth: authorization/date/host query parameters, HMAC-SHA256 with the APISecret
    over `host`, `date` and the request line."""
    query = request.query
    assert {"authorization", "date", "host"} <= set(query), dict(query)
    assert query["host"] == request.host, (query["host"], request.host)
    sent = parsedate_to_datetime(query["date"]).timestamp()
    assert abs(time.time() - sent) < 300, query["date"]
    origin = base64.b64decode(query["authorization"]).decode()
    fields = {}
    for part in origin.split(","):
        name, _, val = part.strip().partition("=")
        fields[name.split()[-1]] = val.strip('"')
    assert fields.get("api_key", fields.get("username")) == api_key, origin
    assert fields["algorithm"] == "hmac-sha256" and fields["headers"] == "host date request-line", origin
    text = f"host: {query['host']}\ndate: {query['date']}\nGET {request.path} HTTP/1.1"
    expected = base64.b64encode(_hmac256(api_secret.encode(), text)).decode()
    assert hmac.compare_digest(fields["signature"], expected), "Spark URL signature does not verify"


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def check_hs256_jwt(token: str, secret: str) -> dict[str, Any]:
    """Zhipu's API-key JWT: HS256 with the key's secret; returns the claims."""
    head, claims, sig = token.split(".")
    header = orjson.loads(_b64url_decode(head))
    assert header["alg"] == "HS256" and header.get("sign_type") == "SIGN", header
    expected = hmac.new(secret.encode(), f"{head}.{claims}".encode(), hashlib.sha256).digest()
    assert hmac.compare_digest(_b64url_decode(sig), expected), "JWT signature does not verify"
    return orjson.loads(_b64url_decode(claims))


def check_rs256_jwt(token: str, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """A service-account assertion: RS256 (PKCS#1 v1.5, SHA-256); returns the claims."""
    head, claims, sig = token.split(".")
    assert orjson.loads(_b64url_decode(head))["alg"] == "RS256"
    public_key.verify(_b64url_decode(sig), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return orjson.loads(_b64url_decode(claims))
