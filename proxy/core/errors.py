"""One error hierarchy for the relay; every error becomes an OpenAI-style JSON answer."""

from __future__ import annotations

from typing import Any

import orjson


class RelayError(Exception):
    """Raised by an addon to stop the flow with an error answer."""

    def __init__(self, status: int, message: str, *, type: str = "one_api_error", code: Any = None,
                 param: Any = None, full: bool = True, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.full = full            # all four keys (relay stage) or only message/type (auth stage)
        self.retryable = retryable  # another channel may succeed

    def body(self, request_id: str = "") -> bytes:
        message = f"{self.message} (request id: {request_id})" if request_id else self.message
        error: dict[str, Any] = {"message": message, "type": self.type}
        if self.full:
            error["param"] = self.param
            error["code"] = self.code
        return orjson.dumps({"error": error})

    def stream_event(self, request_id: str = "") -> bytes:
        """The error as an event inside a stream that already started (OpenAI's: a `data:` line)."""
        return b"data: " + self.body(request_id) + b"\n\n"


class UpstreamError(RelayError):
    """The upstream answered with an error (or could not be reached)."""

    def __init__(self, status: int, message: str, *, type: str = "upstream_error", code: Any = None,
                 param: Any = None, retryable: bool = True) -> None:
        super().__init__(status, message, type=type, code=code, param=param, retryable=retryable)
