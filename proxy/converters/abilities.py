"""What a converter can do: the declaration each provider module exports, and one Protocol per ability.

A provider module says what it implements with a module-level `PROVIDES = Provides(...)`; the registry
(proxy.converters.registry) checks at import that every declared ability's functions are there with the
right parameters, and that nothing implemented is left undeclared. The relay asks the registry, never
`hasattr`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from proxy.converters.base import ConvertContext, Converted, OpenAIError, StreamConverter, UpstreamRequest

__all__ = ["CLIENT_DIALECTS", "MODES", "AccessTokenStep", "ChatConverter", "ClientDialect", "PolledTask", "Provides",
           "RequestAwareAnswers", "WebSocketTransport"]

# the relay modes a converter can serve through its request/response/stream functions
MODES = frozenset({"chat", "completions", "embeddings", "images"})
# the client dialects a ClientDialect module may name in its `DIALECT`
CLIENT_DIALECTS = frozenset({"anthropic", "responses", "gemini"})


@dataclass(frozen=True, slots=True)
class Provides:
    """A provider module's declaration (`PROVIDES`). Chat (request, response, stream, error) is always there."""

    modes: frozenset[str] = frozenset({"chat"})   # which of MODES its functions serve; others it refuses (400)
    access_token: bool = False          # an auxiliary token fetched first and cached (Baidu, Vertex AI)
    token_expired_codes: frozenset[Any] = frozenset()   # error codes meaning that token died: drop it, fetch anew
    task: bool = False                  # answers "accepted" and the result is polled (Ali images, Replicate)
    task_streams: bool = False          # streams too are served from the polled result (Replicate)
    websocket: bool = False             # the call is a WebSocket exchange of messages (iFlytek Spark)
    answers_need_request: bool = False  # response/stream converters take the client's request (DeepL bills source)
    other_config: str = ""              # the config key One API's deprecated `other` column fills when it is unset

    def __post_init__(self) -> None:
        if "chat" not in self.modes or not self.modes <= MODES:
            raise ValueError(f"modes {sorted(self.modes)} must hold chat and only {sorted(MODES)}")
        if self.token_expired_codes and not self.access_token:
            raise ValueError("token_expired_codes without access_token")
        if self.task_streams and not self.task:
            raise ValueError("task_streams without task")


class ChatConverter(Protocol):
    """The core every provider implements: OpenAI request → upstream request, and the answer back."""

    def request_from_openai(self, body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest: ...

    def response_to_openai(self, status: int, body: bytes, ctx: ConvertContext) -> Converted: ...

    def stream_to_openai(self, ctx: ConvertContext) -> StreamConverter: ...

    def error_to_openai(self, status: int, body: bytes, ctx: ConvertContext) -> OpenAIError: ...


class RequestAwareAnswers(Protocol):
    """Answer converters that read the client's request too (DeepL reports usage in source characters)."""

    def response_to_openai(self, status: int, body: bytes, ctx: ConvertContext, *,
                           request: Mapping[str, Any] | None = None) -> Converted: ...

    def stream_to_openai(self, ctx: ConvertContext, *, request: Mapping[str, Any] | None = None) -> StreamConverter: ...


class AccessTokenStep(Protocol):
    """An auxiliary token: the request that gets it, and its parser (token, unix expiry)."""

    def auth_token_request(self, ctx: ConvertContext) -> UpstreamRequest: ...

    def parse_auth_token(self, status: int, body: bytes, now: float) -> tuple[str, float]: ...


class PolledTask(Protocol):
    """The next poll of a task after an answer, or None when the answer is final."""

    def task_poll_request(self, status: int, body: bytes, ctx: ConvertContext) -> UpstreamRequest | None: ...


class WebSocketTransport(Protocol):
    """The request's URL is a WebSocket, its body the first frame; a non-stream answer is its messages."""

    def messages_to_openai(self, messages: list[bytes], ctx: ConvertContext) -> Converted: ...


class ClientDialect(Protocol):
    """A client-side dialect (Anthropic Messages, OpenAI Responses, Gemini; issue #10): the client's request to
    the hub (OpenAI chat) and the hub's answer back. Its module names the dialect in `DIALECT` (one of
    CLIENT_DIALECTS). `model` and `stream` are what the client said outside its body (Gemini's URL path and
    endpoint; "" and None when the body says it); the answer converters get the client's own `request` (the
    model it asked for, whether it wants thoughts, its tool names), since the hub's answer does not carry them."""

    def request_to_openai(self, body: Mapping[str, Any], *, model: str = "",
                          stream: bool | None = None) -> dict[str, Any]: ...

    def response_from_openai(self, body: Mapping[str, Any], *,
                             request: Mapping[str, Any] | None = None) -> dict[str, Any]: ...

    def stream_from_openai(self, *, request: Mapping[str, Any] | None = None) -> StreamConverter: ...

    def error_from_openai(self, error: OpenAIError) -> tuple[int, bytes]: ...
