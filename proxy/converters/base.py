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
    """What an answer used, normalised once to OpenAI's convention whatever the provider reported.

    `prompt_tokens` is the whole prompt: cache reads, cache writes and audio/image input are parts of it (Anthropic
    reports them beside `input_tokens`, so its converter adds them in). `completion_tokens` is the whole output,
    reasoning and audio output inside it (Gemini reports thoughts beside candidates, so its converter adds them).
    Every other field is a part of one of those two, never an addition to them.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0            # cache reads, inside prompt_tokens
    reasoning_tokens: int = 0         # inside completion_tokens
    cache_write_5m_tokens: int = 0    # cache writes with a 5-minute life (or the one write rate), inside the prompt
    cache_write_1h_tokens: int = 0    # 1-hour cache writes (Anthropic), inside the prompt
    audio_input_tokens: int = 0       # inside prompt_tokens
    audio_output_tokens: int = 0      # inside completion_tokens
    image_input_tokens: int = 0       # inside prompt_tokens (a part, priced as input)
    image_output_tokens: int = 0      # inside completion_tokens (a part, priced as output)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    def to_openai(self) -> dict[str, Any]:
        """The hub's usage object: OpenAI's fields, the cache writes as `cache_write_tokens` (OpenAI's Responses name)
        with their 5m/1h split in `cache_creation` (as Qwen/DashScope's OpenAI-compatible API writes it), so a
        client dialect can carry every part on."""
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        prompt: dict[str, Any] = {}
        if self.cached_tokens:
            prompt["cached_tokens"] = self.cached_tokens
        if self.cache_write_tokens:
            prompt["cache_write_tokens"] = self.cache_write_tokens
            prompt["cache_creation"] = {"ephemeral_5m_input_tokens": self.cache_write_5m_tokens,
                                        "ephemeral_1h_input_tokens": self.cache_write_1h_tokens}
        if self.audio_input_tokens:
            prompt["audio_tokens"] = self.audio_input_tokens
        if self.image_input_tokens:
            prompt["image_tokens"] = self.image_input_tokens
        completion: dict[str, Any] = {}
        if self.reasoning_tokens:
            completion["reasoning_tokens"] = self.reasoning_tokens
        if self.audio_output_tokens:
            completion["audio_tokens"] = self.audio_output_tokens
        if self.image_output_tokens:
            completion["image_tokens"] = self.image_output_tokens
        if prompt:
            out["prompt_tokens_details"] = prompt
        if completion:
            out["completion_tokens_details"] = completion
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

