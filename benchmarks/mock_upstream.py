"""A fast OpenAI-style upstream for benchmarks: a fixed JSON answer, or a 20-chunk stream with usage."""

from __future__ import annotations

import sys

import orjson
from aiohttp import web

ANSWER = orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the bench!"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}})
CHUNK = b"data: " + orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "tok "},
                                                                       "finish_reason": None}]}) + b"\n\n"
USAGE = b"data: " + orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": "gpt-4o-mini", "choices": [],
                                  "usage": {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}}) + b"\n\n"
STREAM = CHUNK * 20 + USAGE + b"data: [DONE]\n\n"


async def chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    if not body.get("stream"):
        return web.Response(body=ANSWER, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i in range(0, 20):
        await response.write(CHUNK)
    await response.write(USAGE + b"data: [DONE]\n\n")
    await response.write_eof()
    return response


if __name__ == "__main__":
    try:
        import uvloop  # the same event loop the gateway's workers use, so the comparison is fair

        uvloop.install()
    except ImportError:
        pass
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
