"""Hub (OpenAI chat) answer → Anthropic Messages answer: the whole message, its stop reason and usage, and errors
in Anthropic's shape with the status its SDKs map to their exception classes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import ConversionError, OpenAIError, Usage
from proxy.converters.dialects.anthropic_client_request import thinking_wanted
from proxy.converters.usage import usage_from_openai as hub_usage

__all__ = ["error_event_type", "error_from_openai", "message_id", "model_of", "response_from_openai",
           "stop_reason_from_openai", "tool_input", "usage_from_openai", "usage_to_anthropic"]

# client-dialects.md §5.3
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                 "content_filter": "refusal"}
# Anthropic's error types by HTTP status (client-dialects.md §2.10); other 4xx are invalid_request_error, other 5xx
# api_error
_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error"}
_ANTHROPIC_TYPES = frozenset(_ERROR_TYPES.values())


def _count(obj: Any, *path: str) -> int:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj if isinstance(obj, int) and not isinstance(obj, bool) and obj > 0 else 0


def usage_from_openai(raw: Any) -> tuple[Usage, int]:
    """The hub's usage object as a Usage (every part, proxy.converters.usage), and its cache-write tokens."""
    usage = hub_usage(raw) or Usage()
    return usage, usage.cache_write_tokens


def usage_to_anthropic(usage: Usage, cache_write: int) -> dict[str, Any]:
    """Anthropic's input_tokens excludes the cached parts: input = prompt − cache reads − cache writes; the writes
    are split into 5-minute and 1-hour ones as Anthropic reports them."""
    out: dict[str, Any] = {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - cache_write, 0),
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }
    if cache_write:
        hour = min(usage.cache_write_1h_tokens, cache_write)
        out["cache_creation"] = {"ephemeral_5m_input_tokens": cache_write - hour, "ephemeral_1h_input_tokens": hour}
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def stop_reason_from_openai(finish_reason: Any, has_tool_calls: bool) -> str:
    """A hub that says `stop` with tool calls in its answer means tool_use."""
    reason = _STOP_REASONS.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"
    return "tool_use" if has_tool_calls and reason == "end_turn" else reason


def message_id(hub_id: Any) -> str:
    """`msg_` + the hub's id (so logs tie them together), or a fresh one."""
    if isinstance(hub_id, str) and hub_id:
        return hub_id if hub_id.startswith("msg_") else f"msg_{hub_id}"
    return f"msg_{uuid.uuid4().hex[:24]}"


def model_of(body: Mapping[str, Any], request: Mapping[str, Any] | None) -> str:
    """The model the client asked for; the hub's (possibly mapped) name when the request is not known."""
    asked = request.get("model") if request is not None else None
    model = asked if isinstance(asked, str) and asked else body.get("model")
    return model if isinstance(model, str) else ""


def tool_input(arguments: Any, name: str) -> Any:
    """A tool call's arguments (a JSON string) as the object Anthropic's `input` holds; "" is {}."""
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    try:
        value = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError) as err:
        raise ConversionError(f"the model's call of tool {name!r} has arguments that are not JSON: {err}",
                              code="bad_response_body", status=502) from err
    if not isinstance(value, dict):
        raise ConversionError(f"the model's call of tool {name!r} has arguments that are not a JSON object",
                              code="bad_response_body", status=502)
    return value


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def _content(message: Mapping[str, Any], request: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning and thinking_wanted(request):
        # a converter-made thinking block: no signature the client could prove to Anthropic (module docstring)
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text_of(message.get("content")) or (message.get("refusal") or "")
    if text:
        blocks.append({"type": "text", "text": text})
    for i, call in enumerate(message.get("tool_calls") or []):
        function = call.get("function") if isinstance(call, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str) or not isinstance(function, Mapping):
            raise ConversionError(f"tool call {i} of the answer has no function name", code="bad_response_body",
                                  status=502)
        call_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else f"toolu_{uuid.uuid4().hex}"
        blocks.append({"type": "tool_use", "id": call_id, "name": name,
                       "input": tool_input(function.get("arguments"), name)})
    return blocks


def response_from_openai(body: Mapping[str, Any], *, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A `chat.completion` → an Anthropic `message`; a hub answer without a choice is a 502 ConversionError."""
    choices = body.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], Mapping) else None
    message = choice.get("message") if choice is not None else None
    if choice is None or not isinstance(message, Mapping):
        raise ConversionError("the upstream answer has no message", code="bad_response_body", status=502)
    content = _content(message, request)
    refused = choice.get("finish_reason") == "content_filter" or (bool(message.get("refusal"))
                                                                 and not message.get("content"))
    stop_reason = "refusal" if refused else stop_reason_from_openai(
        choice.get("finish_reason"), any(b["type"] == "tool_use" for b in content))
    usage, cache_write = usage_from_openai(body.get("usage"))
    return {"id": message_id(body.get("id")), "type": "message", "role": "assistant",
            "model": model_of(body, request), "content": content, "stop_reason": stop_reason,
            "stop_sequence": None, "usage": usage_to_anthropic(usage, cache_write)}


def error_event_type(error: OpenAIError) -> str:
    """The Anthropic error type for a hub error: by status where Anthropic has one for it (the SDKs pick their
    class by status), else its own when it already is one (an Anthropic channel's), else by status class."""
    if error.status in _ERROR_TYPES:
        return _ERROR_TYPES[error.status]
    if error.type in _ANTHROPIC_TYPES:
        return error.type
    return "api_error" if error.status >= 500 else "invalid_request_error"


def error_from_openai(error: OpenAIError) -> tuple[int, bytes]:
    """`{"type":"error","error":{type,message}}` with the hub's status: the SDKs pick their exception class from
    the status (400 BadRequestError … 529 OverloadedError), Claude Code retries 429 and 5xx."""
    status = error.status if 400 <= error.status <= 599 else 500
    body = {"type": "error", "error": {"type": error_event_type(error), "message": error.message}}
    return status, orjson.dumps(body)
