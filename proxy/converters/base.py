"""The contract every provider converter implements: pure functions, no I/O.

The relay gives a converter a `ConvertContext` (what it knows about the channel
and the request) and gets back plain data: an `UpstreamRequest` to send, an
OpenAI-shaped answer, a stream converter fed with upstream bytes, or an
`OpenAIError`. Anything that needs I/O (an OAuth token, a polled task) is
expressed as an extra `UpstreamRequest` the relay performs, with a pure parser
for its answer. What a provider implements is declared in proxy.converters.abilities and
checked by proxy.converters.registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class ConversionError(Exception):
    """The request cannot be expressed for this upstream (becomes an HTTP 400)."""

    def __init__(self, message: str, code: str = "convert_request_failed", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ConvertContext:
    """What a converter may know about the channel and the call."""

    mode: str                       # "chat", "completions", "embeddings", "images", ...
    model: str                      # the upstream model (after model mapping)
    base_url: str                   # channel base URL, or the type's default; no trailing "/"
    key: str                        # the channel key as stored
    # channel config JSON (region, ak, sk, user_id, api_version, ...)
    config: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False     # client asked for stream_options.include_usage
    request_id: str = ""
    now: float = 0.0                # unix time, passed in so signing stays pure
    # process settings a converter may read (GEMINI_SAFETY_SETTING, GEMINI_VERSION, ...)
    options: Mapping[str, str] = field(default_factory=dict)
    access_token: str = ""          # an auxiliary token the relay already fetched (Baidu, Vertex), if any


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens:
            out["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        if self.reasoning_tokens:
            out["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return out


@dataclass(frozen=True)
class OpenAIError:
    status: int
    message: str
    type: str
    code: Any = None
    param: Any = None

    def to_body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass
class Converted:
    """A whole upstream answer turned into OpenAI's shape."""

    body: dict[str, Any] | None
    usage: Usage
    error: OpenAIError | None = None   # providers that report errors inside HTTP 200


@runtime_checkable
class StreamConverter(Protocol):
    """Incremental: feed upstream bytes in any split, get OpenAI SSE event bytes out. `usage` is what the
    upstream reported so far (zero when none), `error` an upstream error met inside the stream (None when none)."""

    @property
    def usage(self) -> Usage: ...

    @property
    def error(self) -> OpenAIError | None: ...

    def feed(self, data: bytes) -> list[bytes]:
        """Return complete `data: {...}\\n\\n` events produced by this piece."""

    def flush(self) -> list[bytes]:
        """End of upstream: emit the finish chunk, optional usage chunk and `data: [DONE]`."""

