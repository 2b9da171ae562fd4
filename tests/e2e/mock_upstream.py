"""A real HTTP server on 127.0.0.1 that speaks OpenAI's wire format, scripted per test.

It records every request it gets and the exact bytes it sends back, so tests can
compare them with what the gateway's client received.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Script:
    """What the next answers look like."""

    status: int = 200
    content: str = "Hello there!"
    usage: dict[str, int] | None = field(default_factory=lambda: {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})
    stream_usage: bool | None = None        # None: send a usage chunk only if the client asked
    chunks: int = 5                          # stream: content split into this many pieces
    error_body: bytes = b'{"error":{"message":"upstream exploded","type":"server_error","param":null,"code":null}}'
    delay: float = 0.0                       # before answering
    chunk_delay: float = 0.0                 # between stream chunks
    reset_after_chunks: int | None = None    # stream: drop the connection after N chunks
    tool_call: bool = False
    set_cookie: str | None = None            # a Set-Cookie header on JSON answers


def chat_completion(model: str, content: str, usage: dict[str, int] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "chatcmpl-mock123", "object": "chat.completion", "created": 1700000000, "model": model,
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                         "logprobs": None, "finish_reason": "stop"}],
                            "system_fingerprint": "fp_mock"}
    if usage is not None:
        body["usage"] = usage
    return body


def _object(body: bytes) -> dict[str, Any]:
    """The JSON object the gateway forwarded; {} for anything else (fuzz runs send anything)."""
    try:
        payload = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}


class MockOpenAI:
    def __init__(self) -> None:
        self.script = Script()
        self.requests: list[Recorded] = []
        self.sent: list[bytes] = []          # exact bytes of each answer body
        self.server: TestServer | None = None
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.app = app

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> MockOpenAI:
        self.server = TestServer(self.app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, request.query_string, dict(request.headers), body))
        s = self.script
        if s.delay:
            await asyncio.sleep(s.delay)
        if s.status != 200:
            self.sent.append(s.error_body)
            return web.Response(status=s.status, body=s.error_body, content_type="application/json")
        payload = _object(body) if request.content_type == "application/json" else {}
        special = self._special(request.path, payload)
        if special is not None:
            return special
        if request.path.endswith("/responses") and payload.get("stream"):
            return await self._responses_stream(request)
        if request.path.endswith("/embeddings"):
            return self._json({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}],
                               "model": payload.get("model"), "usage": {"prompt_tokens": 5, "total_tokens": 5}})
        if payload.get("stream"):
            return await self._stream(request, payload)
        return self._json(chat_completion(payload.get("model", ""), s.content, s.usage))

    def _special(self, path: str, payload: dict[str, Any]) -> web.StreamResponse | None:
        """Non-chat endpoints, answered the way OpenAI answers them."""
        if path.endswith("/responses") and not payload.get("stream"):
            return self._json({"id": "resp_1", "object": "response", "status": "completed", "model": payload.get("model"),
                               "output": [{"type": "message", "role": "assistant",
                                           "content": [{"type": "output_text", "text": "Hi from responses"}]}],
                               "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}})
        if path.endswith("/images/generations"):
            return self._json({"created": 1700000000, "data": [{"url": "https://img.test/1.png"}]})
        if path.endswith("/audio/speech"):
            data = b"ID3" + bytes(range(256)) * 4
            self.sent.append(data)
            return web.Response(body=data, content_type="audio/mpeg")
        if path.endswith(("/audio/transcriptions", "/audio/translations")):
            return self._json({"text": "hello world from audio"})
        if path.endswith("/completions") and not path.endswith("/chat/completions"):
            return self._json({"id": "cmpl-1", "object": "text_completion", "created": 1700000000,
                               "model": payload.get("model"), "choices": [{"text": " there", "index": 0,
                                                                            "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}})
        if path.endswith("/moderations"):
            return self._json({"id": "modr-1", "model": "text-moderation-007",
                               "results": [{"flagged": False, "categories": {}, "category_scores": {}}]})
        if path.endswith("/status"):            # the raw proxy route's test target
            return self._json({"echo": path})
        return None

    async def _responses_stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        events = [("response.created", {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}),
                  ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Hi "}),
                  ("response.output_text.delta", {"type": "response.output_text.delta", "delta": "there"}),
                  ("response.completed", {"type": "response.completed", "response": {
                      "id": "resp_1", "status": "completed",
                      "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}}})]
        sent = b"".join(f"event: {name}\ndata: ".encode() + orjson.dumps(obj) + b"\n\n" for name, obj in events)
        await response.write(sent)
        await response.write_eof()
        self.sent.append(sent)
        return response

    def _json(self, obj: Any) -> web.Response:
        data = orjson.dumps(obj)
        self.sent.append(data)
        response = web.Response(body=data, content_type="application/json")
        if self.script.set_cookie:
            response.headers["Set-Cookie"] = self.script.set_cookie
        return response

    async def _stream(self, request: web.Request, payload: dict[str, Any]) -> web.StreamResponse:
        s = self.script
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        sent = bytearray()
        model = payload.get("model", "")
        pieces = self._pieces(s.content, s.chunks)
        events = [self._chunk(model, {"role": "assistant", "content": ""}, None)]
        events += [self._chunk(model, {"content": p}, None) for p in pieces]
        events.append(self._chunk(model, {}, "stop"))
        options = payload.get("stream_options")   # any JSON a fuzz run sends: only an object asks for usage
        wants_usage = s.stream_usage if s.stream_usage is not None else \
            isinstance(options, dict) and bool(options.get("include_usage"))
        if wants_usage and s.usage:
            events.append({"id": "chatcmpl-mock123", "object": "chat.completion.chunk", "created": 1700000000,
                           "model": model, "choices": [], "usage": s.usage})
        for i, event in enumerate(events):
            if s.reset_after_chunks is not None and i >= s.reset_after_chunks:
                self.sent.append(bytes(sent))
                assert request.transport is not None
                request.transport.abort()
                return response
            data = b"data: " + orjson.dumps(event) + b"\n\n"
            sent += data
            await response.write(data)
            if s.chunk_delay:
                await asyncio.sleep(s.chunk_delay)
        sent += b"data: [DONE]\n\n"
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        self.sent.append(bytes(sent))
        return response

    @staticmethod
    def _pieces(text: str, n: int) -> list[str]:
        size = max(1, -(-len(text) // max(1, n)))
        return [text[i:i + size] for i in range(0, len(text), size)]

    @staticmethod
    def _chunk(model: str, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {"id": "chatcmpl-mock123", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "system_fingerprint": "fp_mock", "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                              "finish_reason": finish}]}


__all__ = ["MockOpenAI", "Recorded", "Script", "chat_completion"]
