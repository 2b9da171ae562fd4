"""Upstream error → OpenAI error envelope, the rules of providers-global.md §0.2."""

from __future__ import annotations

from typing import Any

import orjson

from proxy.converters.base import OpenAIError

_TYPE_BY_STATUS = {
    400: "invalid_request_error", 413: "invalid_request_error", 422: "invalid_request_error",
    401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    408: "timeout_error", 504: "timeout_error", 429: "rate_limit_error",
}

# Where providers without an OpenAI-shaped error put their message, in order.
_MESSAGE_PATHS: tuple[tuple[str, ...], ...] = (
    ("message",), ("msg",), ("err",), ("error_msg",), ("header", "message"),
    ("response", "error", "message"), ("error",),
)


def type_for_status(status: int) -> str:
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def parse_json(body: bytes | str) -> Any:
    try:
        return orjson.loads(body)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None


def _dig(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def find_message(obj: Any) -> str:
    """First non-empty string among the usual message fields."""
    for path in _MESSAGE_PATHS:
        value = _dig(obj, path)
        if isinstance(value, str) and value:
            return value
    return ""


def generic_error(status: int, body: bytes) -> OpenAIError:
    """Any upstream: keep an OpenAI-style `error` object, else find a message, else One API's fallback."""
    obj = parse_json(body)
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"]:
        return OpenAIError(status=status, message=err["message"],
                           type=err.get("type") or type_for_status(status),
                           code=err.get("code"), param=err.get("param"))
    message = find_message(obj) or f"bad response status code {status}"
    return OpenAIError(status=status, message=message, type=type_for_status(status))
