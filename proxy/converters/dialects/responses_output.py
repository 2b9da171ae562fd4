"""The pieces of a Responses API answer built from the hub's (OpenAI chat): ids, output items, usage, status and
the response object, shared by the whole-answer and the stream converters."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import OpenAIError, Usage
from proxy.converters.dialects.responses_request import CUSTOM_INPUT, flat_name
from proxy.converters.usage import usage_from_openai as hub_usage

__all__ = ["Names", "as_mapping", "call_item", "custom_input", "failure", "message_item", "output_text",
           "reasoning_item", "response_base", "response_object", "status_of", "usage_of", "usage_totals"]

# Codex stops retrying on these codes; every other code of a failed response is retried (client-dialects.md §3.7)
_CODE_BY_TYPE = {"insufficient_quota": "insufficient_quota", "rate_limit_error": "rate_limit_exceeded",
                 "requests": "rate_limit_exceeded", "tokens": "rate_limit_exceeded"}


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is an object, else an empty one (hub answers are read defensively)."""
    return value if isinstance(value, Mapping) else {}


class Names:
    """The client's tool names: a hub function `ns__m` made from a namespace member is `m` in namespace `ns`;
    a hub function made from a custom tool answers as a custom tool call."""

    def __init__(self, request: Mapping[str, Any] | None) -> None:
        self._split: dict[str, tuple[str, str]] = {}
        self._custom: set[str] = set()
        tools = request.get("tools") if request else None
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, Mapping):
                continue
            if tool.get("type") == "custom" and isinstance(tool.get("name"), str):
                self._custom.add(tool["name"])
            if tool.get("type") == "namespace" and isinstance(tool.get("tools"), list):
                for member in tool["tools"]:
                    if isinstance(member, Mapping) and isinstance(member.get("name"), str):
                        flat = flat_name(member["name"], tool["name"])
                        self._split[flat] = (member["name"], tool["name"])
                        if member.get("type") == "custom":
                            self._custom.add(flat)

    def is_custom(self, hub_name: str) -> bool:
        return hub_name in self._custom

    def fields(self, hub_name: str) -> dict[str, str]:
        """`name` (and `namespace`) of a function_call item."""
        if hub_name in self._split:
            name, namespace = self._split[hub_name]
            return {"name": name, "namespace": namespace}
        return {"name": hub_name}


def response_base(hub_id: Any) -> str:
    """The id suffix every id of one answer shares, taken from the hub's id so logs can join them."""
    if isinstance(hub_id, str) and hub_id:
        return hub_id.removeprefix("chatcmpl-").removeprefix("chatcmpl_")
    return uuid.uuid4().hex[:24]


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def usage_totals(usage: Any) -> Usage:
    """The hub's usage as the gateway's Usage, every part (zero when absent)."""
    return hub_usage(usage) or Usage()


def usage_of(usage: Any) -> dict[str, Any] | None:
    """Responses usage from the hub's: integers everywhere, both detail objects present (Codex requires their
    inner fields once the object is there); cache writes (`cache_write_tokens`, OpenAI's Responses name) and audio
    counts are carried when the hub gave them."""
    if not isinstance(usage, Mapping):
        return None
    totals = usage_totals(usage)
    input_details: dict[str, int] = {"cached_tokens": totals.cached_tokens}
    if totals.cache_write_tokens:
        input_details["cache_write_tokens"] = totals.cache_write_tokens
    if totals.audio_input_tokens:
        input_details["audio_tokens"] = totals.audio_input_tokens
    output_details: dict[str, int] = {"reasoning_tokens": totals.reasoning_tokens}
    if totals.audio_output_tokens:
        output_details["audio_tokens"] = totals.audio_output_tokens
    total = _int(usage.get("total_tokens")) or totals.total_tokens
    return {"input_tokens": totals.prompt_tokens, "input_tokens_details": input_details,
            "output_tokens": totals.completion_tokens, "output_tokens_details": output_details,
            "total_tokens": total}


def status_of(finish_reason: Any) -> tuple[str, str | None]:
    """(status, incomplete reason) of a hub finish_reason (client-dialects.md §5.3)."""
    if finish_reason == "length":
        return "incomplete", "max_output_tokens"
    if finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def failure(error: OpenAIError) -> dict[str, Any]:
    """A failed response's `error`: the hub's string code when it has one, else one Codex understands."""
    code = error.code if isinstance(error.code, str) and error.code else _CODE_BY_TYPE.get(error.type)
    if code is None:
        code = "rate_limit_exceeded" if error.status == 429 else "server_error"
    return {"code": code, "message": error.message}


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": parts}


def custom_input(arguments: str) -> str:
    """A custom tool's free text from the hub's arguments `{"input": "..."}`; what the model wrote otherwise."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    value = parsed.get(CUSTOM_INPUT) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else arguments


def call_item(call_id: str, hub_name: str, arguments: str, status: str, names: Names) -> dict[str, Any]:
    """A `function_call` item, or a `custom_tool_call` one when the hub's function stands for a custom tool."""
    suffix = call_id.removeprefix("call_")
    if names.is_custom(hub_name):
        return {"id": "ctc_" + suffix, "type": "custom_tool_call", "call_id": call_id, **names.fields(hub_name),
                "input": custom_input(arguments) if arguments else ""}
    return {"id": "fc_" + suffix, "type": "function_call", "status": status, "call_id": call_id,
            **names.fields(hub_name), "arguments": arguments}


def response_object(request: Mapping[str, Any] | None, *, response_id: str, created_at: int, model: str,
                    status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None,
                    incomplete_reason: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `response` object, echoing the request's settings as OpenAI does, except its `tools` and `instructions`:
    Codex sends some 40 KB of tools, and a stream carries this object three times."""
    req: Mapping[str, Any] = request or {}
    reasoning, text = as_mapping(req.get("reasoning")), as_mapping(req.get("text"))
    return {
        "id": response_id, "object": "response", "created_at": created_at or int(time.time()), "status": status,
        "error": error, "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": None, "max_output_tokens": req.get("max_output_tokens"),
        "model": req.get("model") or model, "output": output,
        "parallel_tool_calls": req.get("parallel_tool_calls", True), "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": False, "temperature": req.get("temperature"), "top_p": req.get("top_p"),
        "text": {"format": text.get("format") or {"type": "text"}}, "tool_choice": req.get("tool_choice", "auto"),
        "tools": [], "truncation": "disabled", "usage": usage, "metadata": {},
    }

