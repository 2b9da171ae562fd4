"""Scripted upstreams of every channel family for Responses clients (the openai SDK, Codex CLI): the first turn
calls the offered tool, the turn that carries the tool's output answers with text quoting it, anything else
gets a greeting. Each speaks its provider's own wire format (written from the public API references, not with
the gateway's converters): OpenAI Responses, OpenAI chat, Anthropic Messages, Gemini generateContent."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.e2e.mock_providers import json_response, send_stream
from tests.e2e.mock_upstream import Recorded

Handler = Callable[[web.Request, Recorded], Awaitable[web.StreamResponse]]
ANSWER_PREFIX = "The tool said: "


@dataclass
class Script:
    """The tool the model calls and with what; usage per turn as (prompt, completion)."""

    tool: str = "get_weather"
    arguments: dict[str, Any] = field(default_factory=lambda: {"city": "Paris"})
    call_usage: tuple[int, int] = (30, 9)
    text_usage: tuple[int, int] = (40, 6)

    def reply(self, offered: set[str], output: str | None) -> tuple[str | None, str]:
        """(tool to call or None, text): the text quotes the tool's output once there is one."""
        if output is not None:
            return None, ANSWER_PREFIX + output
        if self.tool in offered:
            return self.tool, ""
        return None, "Hello from the upstream."


def _sse(name: str | None, obj: dict[str, Any]) -> bytes:
    head = b"event: " + name.encode() + b"\n" if name else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


# ---------------------------------------------------------------- OpenAI Responses (native)

def _responses_output(body: dict[str, Any]) -> str | None:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    outputs = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
    return str(outputs[-1]["output"]) if outputs else None


def responses_answer(script: Script, body: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The output items and usage of a Responses answer (usage with cached and reasoning token details)."""
    offered = {str(t.get("name")) for t in body.get("tools") or [] if isinstance(t, dict)}
    tool, text = script.reply(offered, _responses_output(body))
    prompt, completion = script.text_usage if text and _responses_output(body) is not None else script.call_usage
    usage = {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 8},
             "output_tokens": completion, "output_tokens_details": {"reasoning_tokens": 2},
             "total_tokens": prompt + completion}
    if tool:
        return [{"id": "fc_up_1", "type": "function_call", "status": "completed", "name": tool,
                 "call_id": "call_up_1", "arguments": orjson.dumps(script.arguments).decode()}], usage
    return [{"id": "msg_up_1", "type": "message", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": text, "annotations": []}]}], usage


def responses_object(body: dict[str, Any], status: str, output: list[dict[str, Any]],
                     usage: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": "resp_up_1", "object": "response", "created_at": 1_800_000_000, "status": status,
            "model": body.get("model"), "output": output, "usage": usage, "error": None, "incomplete_details": None,
            "instructions": None, "tools": [], "tool_choice": "auto", "parallel_tool_calls": True, "store": False,
            "metadata": {}}


def responses_stream(body: dict[str, Any], output: list[dict[str, Any]], usage: dict[str, Any]) -> bytes:
    events: list[dict[str, Any]] = []
    start = responses_object(body, "in_progress", [], None)
    events += [{"type": "response.created", "response": start}, {"type": "response.in_progress", "response": start}]
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "arguments": ""}})
            half = len(item["arguments"]) // 2
            for piece in (item["arguments"][:half], item["arguments"][half:]):
                events.append({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                               "output_index": index, "delta": piece})
            events.append({"type": "response.function_call_arguments.done", "item_id": item["id"],
                           "output_index": index, "arguments": item["arguments"]})
        else:
            text = item["content"][0]["text"]
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "content": []}})
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append({"type": "response.content_part.added", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "part": part})
            events.append({"type": "response.output_text.delta", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "delta": text, "logprobs": []})
            events.append({"type": "response.output_text.done", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "text": text, "logprobs": []})
            events.append({"type": "response.content_part.done", "item_id": item["id"], "output_index": index,
                           "content_index": 0, "part": {**part, "text": text}})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": responses_object(body, "completed", output, usage)})
    return b"".join(_sse(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events))


def openai_responses(script: Script) -> Handler:
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        body = rec.json()
        output, usage = responses_answer(script, body)
        if body.get("stream"):
            return await send_stream(request, responses_stream(body, output, usage), "text/event-stream")
        return json_response(responses_object(body, "completed", output, usage))
    return handle


# ---------------------------------------------------------------- OpenAI chat (DeepSeek, Azure, any compatible)

def _chat_output(body: dict[str, Any]) -> str | None:
    results = [m for m in body.get("messages") or [] if m.get("role") == "tool"]
    return str(results[-1]["content"]) if results else None


def openai_chat(script: Script, model: str = "") -> Handler:
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        body = rec.json()
        offered = {str(t.get("function", {}).get("name")) for t in body.get("tools") or []}
        output = _chat_output(body)
        tool, text = script.reply(offered, output)
        prompt, completion = script.text_usage if output is not None else script.call_usage
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        call = {"id": "call_up_1", "type": "function",
                "function": {"name": tool, "arguments": orjson.dumps(script.arguments).decode()}}
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool:
            message["tool_calls"] = [call]
        finish = "tool_calls" if tool else "stop"
        base = {"id": "chatcmpl-up", "created": 1, "model": model or body.get("model")}
        if not body.get("stream"):
            return json_response({**base, "object": "chat.completion", "usage": usage,
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
        chunk = {**base, "object": "chat.completion.chunk"}
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        if tool:
            deltas.append({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                           "function": {"name": tool, "arguments": ""}}]})
            deltas.append({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
        else:
            deltas += [{"content": text[:5]}, {"content": text[5:]}]
        events = [_sse(None, {**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}) for d in deltas]
        events.append(_sse(None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(_sse(None, {**chunk, "choices": [], "usage": usage}))
        return await send_stream(request, b"".join(events) + b"data: [DONE]\n\n", "text/event-stream")
    return handle


# ---------------------------------------------------------------- Anthropic Messages

def _anthropic_output(body: dict[str, Any]) -> str | None:
    last = body["messages"][-1]["content"] if body.get("messages") else None
    results = [b for b in last if isinstance(b, dict) and b.get("type") == "tool_result"] \
        if isinstance(last, list) else []
    if not results:
        return None
    content = results[-1].get("content")
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content)


def anthropic_answer(script: Script, body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A whole Messages answer and the same as stream events."""
    output = _anthropic_output(body)
    tool, text = script.reply({str(t.get("name")) for t in body.get("tools") or []}, output)
    prompt, completion = script.text_usage if output is not None else script.call_usage
    block: dict[str, Any] = {"type": "tool_use", "id": "toolu_up_1", "name": tool, "input": script.arguments} \
        if tool else {"type": "text", "text": text}
    stop = "tool_use" if tool else "end_turn"
    message = {"id": "msg_up", "type": "message", "role": "assistant", "model": body.get("model", ""),
               "stop_reason": stop, "stop_sequence": None}
    whole = {**message, "content": [block], "usage": {"input_tokens": prompt, "output_tokens": completion}}
    empty = {**block, "input": {}} if tool else {"type": "text", "text": ""}
    delta = {"type": "input_json_delta", "partial_json": orjson.dumps(script.arguments).decode()} if tool \
        else {"type": "text_delta", "text": text}
    events = [{"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                    "usage": {"input_tokens": prompt, "output_tokens": 1}}},
              {"type": "content_block_start", "index": 0, "content_block": empty},
              {"type": "content_block_delta", "index": 0, "delta": delta},
              {"type": "content_block_stop", "index": 0},
              {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
               "usage": {"output_tokens": completion}},
              {"type": "message_stop"}]
    return whole, events


def anthropic_messages(script: Script) -> Handler:
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        body = rec.json()
        whole, events = anthropic_answer(script, body)
        if not body.get("stream"):
            return json_response(whole)
        return await send_stream(request, b"".join(_sse(e["type"], e) for e in events), "text/event-stream")
    return handle


# ---------------------------------------------------------------- AWS Bedrock (Anthropic bodies, event-stream frames)

def _frame_header(name: str, value: str) -> bytes:
    """One string header of AWS's event-stream encoding (type 7)."""
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def eventstream_frame(payload: bytes) -> bytes:
    """An `application/vnd.amazon.eventstream` message: prelude (lengths, CRC), headers, payload, CRC."""
    headers = b"".join(_frame_header(n, v) for n, v in ((":event-type", "chunk"),
                                                         (":content-type", "application/json"),
                                                         (":message-type", "event")))
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock(script: Script) -> Handler:
    """InvokeModel answers a whole Messages body; InvokeModelWithResponseStream each event base64'd in a frame."""
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        whole, events = anthropic_answer(script, rec.json())
        if not request.path.endswith("/invoke-with-response-stream"):
            return json_response(whole)
        frames = b"".join(eventstream_frame(orjson.dumps({"bytes": base64.b64encode(orjson.dumps(e)).decode()}))
                          for e in events)
        return await send_stream(request, frames, "application/vnd.amazon.eventstream", piece=29)
    return handle


# ---------------------------------------------------------------- Gemini generateContent

def _gemini_output(body: dict[str, Any]) -> str | None:
    responses = [p["functionResponse"] for c in body.get("contents") or [] for p in c.get("parts") or []
                 if "functionResponse" in p]
    return orjson.dumps(responses[-1].get("response")).decode() if responses else None


def gemini(script: Script, model: str) -> Handler:
    async def handle(request: web.Request, rec: Recorded) -> web.StreamResponse:
        body = rec.json()
        offered = {str(f.get("name")) for t in body.get("tools") or [] for f in t.get("functionDeclarations") or []}
        output = _gemini_output(body)
        tool, text = script.reply(offered, output)
        prompt, completion = script.text_usage if output is not None else script.call_usage
        part = {"functionCall": {"name": tool, "args": script.arguments}} if tool else {"text": text}
        answer = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                  "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": completion,
                                    "totalTokenCount": prompt + completion}, "modelVersion": model}
        if request.path.endswith(":streamGenerateContent"):
            return await send_stream(request, b"data: " + orjson.dumps(answer) + b"\r\n\r\n", "text/event-stream")
        return json_response(answer)
    return handle


__all__ = ["ANSWER_PREFIX", "Script", "anthropic_answer", "anthropic_messages", "bedrock", "eventstream_frame", "gemini", "openai_chat", "openai_responses",
           "responses_answer", "responses_object", "responses_stream"]
