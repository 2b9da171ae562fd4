"""A fast upstream for benchmarks: OpenAI chat (`/v1/chat/completions`) and Anthropic messages (`/v1/messages`),
each a fixed JSON answer or a 20-delta stream with usage; a chat request with `"bench_long": <bytes>` gets a stream
of that many bytes of chunks ending with 600,000 completion tokens.

A bare asyncio protocol (HTTP/1.1 keep-alive, Content-Length bodies) rather than an aiohttp app: the
mock shares the machine's two cores with the proxy under test, so the less CPU it needs per request,
the more the figures measure the proxy. Enough HTTP for the gateway's and the bare proxy's clients,
nothing more.
"""

from __future__ import annotations

import asyncio
import sys

import orjson

ANSWER = orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
                       "model": "gpt-4o-mini",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the bench!"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}})
CHUNK = b"data: " + orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"content": "tok "},
                                                                       "finish_reason": None}]}) + b"\n\n"
USAGE = b"data: " + orjson.dumps({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                                  "model": "gpt-4o-mini", "choices": [],
                                  "usage": {"prompt_tokens": 12, "completion_tokens": 20,
                                            "total_tokens": 32}}) + b"\n\n"
STREAM = CHUNK * 20 + USAGE + b"data: [DONE]\n\n"

LONG_CHUNK = CHUNK.replace(b'"tok "', b'"lorem ipsum dolor sit amet, "')
LONG_USAGE = USAGE.replace(b'"completion_tokens":20,"total_tokens":32',
                           b'"completion_tokens":600000,"total_tokens":600012')
_LONG: dict[int, bytes] = {}


def long_stream(size: int) -> bytes:
    """About `size` bytes of chat chunks, the usage chunk and [DONE] (built once per size)."""
    if size not in _LONG:
        _LONG[size] = LONG_CHUNK * max(1, size // len(LONG_CHUNK)) + LONG_USAGE + b"data: [DONE]\n\n"
    return _LONG[size]


CLAUDE = "claude-3-5-haiku-20241022"
MESSAGE = orjson.dumps({"id": "msg_bench", "type": "message", "role": "assistant", "model": CLAUDE,
                        "content": [{"type": "text", "text": "Hello from the bench!"}], "stop_reason": "end_turn",
                        "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 6}})


def _event(name: str, data: object) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (name.encode(), orjson.dumps(data))


MESSAGE_HEAD = _event("message_start", {"type": "message_start", "message": {
    "id": "msg_bench", "type": "message", "role": "assistant", "model": CLAUDE, "content": [], "stop_reason": None,
    "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 1}}}) + _event(
    "content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
MESSAGE_DELTA = _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": "tok "}})
MESSAGE_TAIL = _event("content_block_stop", {"type": "content_block_stop", "index": 0}) + _event(
    "message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                      "usage": {"output_tokens": 20}}) + _event("message_stop", {"type": "message_stop"})

WHOLE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ANSWER)) + ANSWER
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
WHOLE_MESSAGE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                 % len(MESSAGE)) + MESSAGE
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line[15:])
    return 0


class Upstream(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        if head.startswith(b"post /v1/messages"):
            self._message(orjson.loads(body).get("stream"))
        elif not head.startswith(b"post /v1/chat/completions"):
            self.transport.write(NOT_FOUND)
        elif not (request := orjson.loads(body)).get("stream"):
            self.transport.write(WHOLE)
        elif request.get("bench_long"):
            self.transport.write(STREAM_HEAD + _chunked(long_stream(int(request["bench_long"]))) + b"0\r\n\r\n")
        else:
            self.transport.write(STREAM_HEAD)
            for _ in range(20):
                self.transport.write(_chunked(CHUNK))
            self.transport.write(_chunked(USAGE + b"data: [DONE]\n\n") + b"0\r\n\r\n")


    def _message(self, stream: bool) -> None:
        if not stream:
            self.transport.write(WHOLE_MESSAGE)
            return
        self.transport.write(STREAM_HEAD + _chunked(MESSAGE_HEAD))
        for _ in range(20):
            self.transport.write(_chunked(MESSAGE_DELTA))
        self.transport.write(_chunked(MESSAGE_TAIL) + b"0\r\n\r\n")


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop  # the same event loop the gateway's workers use

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1])))
