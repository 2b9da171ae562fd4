"""Local stand-ins on 127.0.0.1: the proxy's public port, providers' balance and OAuth endpoints, Turnstile, SMTP."""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Recorder:
    """Requests a fake received: (method, path with query, headers, body text)."""

    seen: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)

    def wrap(self, handler: Handler) -> Handler:
        async def recorded(request: web.Request) -> web.StreamResponse:
            self.seen.append((request.method, request.path_qs, dict(request.headers), await request.text()))
            return await handler(request)
        return recorded


async def serve(routes: dict[tuple[str, str], Handler], recorder: Recorder, port: int | None = None) -> TestServer:
    app = web.Application()
    for (method, path), handler in routes.items():
        app.router.add_route(method, path, recorder.wrap(handler))
    server = TestServer(app, port=port) if port else TestServer(app)
    await server.start_server()
    return server


def replying(body: Any, status: int = 200) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(body, status=status)
    return handler


def chat_reply(content: str = "gpt-4o-mini") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}}


class SmtpInbox:
    """An aiosmtpd handler keeping every message it receives (served by the `smtp` fixture in conftest)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


async def sweep_finished(api: Any) -> None:
    """Wait until the channel sweep ("test all") that a request started has finished."""
    from admin_api.state import STATE

    state = api.server.app[STATE]
    for _ in range(200):
        if not state.running:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("test-all did not finish")
