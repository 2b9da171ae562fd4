"""A local OpenAI-style upstream whose streams send one chunk and then stay open until the test releases them
(or `wait` seconds pass, or the gateway leaves): concurrency slots held on purpose."""

from __future__ import annotations

import asyncio
from types import TracebackType

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer


class HeldStreams:
    def __init__(self, wait: float = 10) -> None:
        self.wait = wait
        self.release = asyncio.Event()
        self.started = 0              # streams that sent their first chunk
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def chat(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"id": "x", "object": "chat.completion.chunk", "model": "gpt-4o-mini",
                 "choices": [{"index": 0, "delta": {"content": "hello"}}]}
        await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        self.started += 1
        try:
            await asyncio.wait_for(self.release.wait(), self.wait)
            await response.write(b"data: [DONE]\n\n")
        except (TimeoutError, ConnectionResetError):
            pass
        return response

    async def __aenter__(self) -> HeldStreams:
        await self.server.start_server()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.release.set()
        await self.server.close()
