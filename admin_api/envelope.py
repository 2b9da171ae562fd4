"""The `{success, message, data}` envelope, the refusal exception handlers raise, and query parsing."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

INVALID_PARAMETER = "无效的参数"
_MISSING: Any = object()


class Refusal(Exception):
    """A request refused with One API's message; HTTP 200 unless One API uses another status."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def json_body(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def ok(data: Any = _MISSING, message: str = "", **extra: Any) -> web.Response:
    """Success; `data` is left out when not given (One API's bare `{success, message}` answers)."""
    body: dict[str, Any] = {"success": True, "message": message}
    if data is not _MISSING:
        body["data"] = data
    body.update(extra)
    return json_body(body)


def fail(message: str, status: int = 200, **extra: Any) -> web.Response:
    return json_body({"success": False, "message": message, **extra}, status=status)


def query_text(request: web.Request, name: str, default: str = "") -> str:
    value = request.query.get(name, default)
    if "\x00" in value:
        raise Refusal(INVALID_PARAMETER)
    return value


def query_int(request: web.Request, name: str, default: int = 0) -> int:
    """Like Go's strconv.Atoi with the error ignored: anything unparsable (or out of range) is 0."""
    raw = request.query.get(name, "")
    try:
        value = int(raw.strip()) if raw.strip() else default
    except ValueError:
        return 0
    return value if -(2**63) <= value < 2**63 else 0


def query_int32(request: web.Request, name: str) -> int:
    """query_int for a 32-bit column: a value no such column can hold is refused, not sent to the database."""
    value = query_int(request, name)
    if not -(2**31) <= value < 2**31:
        raise Refusal(INVALID_PARAMETER)
    return value


def path_id(request: web.Request, name: str = "id") -> int:
    """An id path segment (ids are 32-bit); anything else is refused with 无效的参数."""
    raw = request.match_info.get(name, "")
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 11 or not -(2**31) <= int(raw) < 2**31:
        raise Refusal(INVALID_PARAMETER)
    return int(raw)
