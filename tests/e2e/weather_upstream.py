"""The weather conversation of the client-dialect tests (Anthropic's /v1/messages, Gemini's /v1beta, the
Responses API): the question, the `get_weather` tool, and a scripted OpenAI chat upstream that calls the tool on
the first turn and answers with text once the tool's result is in the conversation, as one JSON answer or as an
SSE stream (with usage when asked for)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.e2e.mock_providers import json_response, send_stream
from tests.e2e.mock_upstream import Recorded

MODEL = "gpt-4o-mini"
ASK = [{"role": "user", "content": "Weather in Paris?"}]   # as Anthropic's, OpenAI's and Responses' input
WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_DESCRIPTION = "The weather of a city"
ANTHROPIC_TOOL = {"name": "get_weather", "description": WEATHER_DESCRIPTION, "input_schema": WEATHER_PARAMETERS}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    """One `chat.completion.chunk` SSE event (a usage-only one when `usage` is given)."""
    obj: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
                           "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        obj["usage"] = usage
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def hub_answer(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """The first turn calls the tool; the turn that carries its result answers with text."""
    if any(m.get("role") == "tool" for m in payload["messages"]):
        return {"role": "assistant", "content": "Sunny, 21 C."}, {"prompt_tokens": 40, "completion_tokens": 6,
                                                                  "total_tokens": 46}
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}, {"prompt_tokens": 30, "completion_tokens": 9,
                                                                         "total_tokens": 39}


async def openai_chat(request: web.Request, rec: Recorded) -> web.StreamResponse:
    """The mock's `/v1/chat/completions` handler: hub_answer as JSON, or streamed in chunks."""
    payload = rec.json()
    message, usage = hub_answer(payload)
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    if not payload.get("stream"):
        return json_response({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
                              "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
    events = chunk({"role": "assistant", "content": ""})
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        events += chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                         "function": {"name": "get_weather", "arguments": ""}}]})
        events += chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
    else:
        events += chunk({"content": "Sunny, "}) + chunk({"content": "21 C."})
    events += chunk({}, finish)
    if (payload.get("stream_options") or {}).get("include_usage"):
        events += chunk({}, usage=usage)
    return await send_stream(request, events + b"data: [DONE]\n\n", "text/event-stream")


async def upstream_exploded(request: web.Request, rec: Recorded) -> web.StreamResponse:
    """A 500 with an OpenAI-shaped error body, for the tests of errors in the client's dialect."""
    return json_response({"error": {"message": "upstream exploded", "type": "server_error"}}, status=500)


async def overloaded_mid_stream(request: web.Request, rec: Recorded) -> web.StreamResponse:
    """A stream that starts with text, then reports an `overloaded` error in the stream and ends."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(chunk({"role": "assistant", "content": "Sunny"}) + chunk({"content": ", 2"}))
    await response.write(b'data: {"error": {"message": "overloaded", "type": "server_error", "code": 503}}\n\n')
    await response.write_eof()
    return response


__all__ = ["ANTHROPIC_TOOL", "ASK", "MODEL", "WEATHER_DESCRIPTION", "WEATHER_PARAMETERS", "chunk", "hub_answer", "openai_chat", "overloaded_mid_stream", "upstream_exploded"]
