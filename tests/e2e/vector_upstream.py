"""A local server that answers like a provider, replaying a reference vector case (any path)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.e2e.mock_upstream import Recorded

_STREAM_TYPES = {"ndjson": "application/x-ndjson", "sse": "text/event-stream"}


class VectorUpstream:
    def __init__(self, case: dict[str, Any], stream_format: str = "sse") -> None:
        self.case = case
        self.stream_format = stream_format
        self.requests: list[Recorded] = []
        self.token_answer: tuple[int, bytes] | None = None   # for providers that fetch an access token first
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app, host="127.0.0.1")

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    async def start(self) -> VectorUpstream:
        await self.server.start_server()
        return self

    async def close(self) -> None:
        await self.server.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, request.query_string, dict(request.headers), body))
        if self.token_answer and ("token" in request.path):
            status, data = self.token_answer
            return web.Response(status=status, body=data, content_type="application/json")
        lines = self.case.get("upstream_stream")
        if lines is not None:
            data = "".join(line + "\n" for line in lines).encode()
            response = web.StreamResponse(headers={"Content-Type": _STREAM_TYPES[self.stream_format]})
            await response.prepare(request)
            for i in range(0, len(data), 37):     # odd-sized pieces: converters must handle any split
                await response.write(data[i:i + 37])
            await response.write_eof()
            return response
        answer = self.case["upstream_response"]
        raw = answer.get("body")
        data = raw.encode() if isinstance(raw, str) else orjson.dumps(raw)
        headers = {k: v for k, v in (answer.get("headers") or {}).items() if k.lower() != "content-length"}
        headers.setdefault("Content-Type", "application/json")
        return web.Response(status=answer.get("status", 200), body=data, headers=headers)
