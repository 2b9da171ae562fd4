"""OpenAI chat ↔ Anthropic Messages API (providers-global.md §2)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import (
    ConversionError,
    ConvertContext,
    Converted,
    OpenAIError,
    UpstreamRequest,
    Usage,
)
from proxy.converters.chunks import completion_body
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.providers.anthropic_stream import (
    AnthropicStream,
    error_object_to_openai,
    finish_reason_to_openai,
    usage_to_openai,
)

PROVIDES = Provides()

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # max_tokens is required by Anthropic; One API's default

_DATA_URL = re.compile(r"data:(image/[^;,]+);base64,(.*)", re.S)
_MEDIA_TYPES = {"image/jpeg": "image/jpeg", "image/jpg": "image/jpeg", "image/png": "image/png",
                "image/gif": "image/gif", "image/webp": "image/webp"}
_TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
# reasoning_effort → thinking budget_tokens (Anthropic's minimum budget is 1024)
_THINKING_BUDGET = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384}
_EMPTY_SCHEMA = {"type": "object", "properties": {}}


# -- request -------------------------------------------------------------------------------

def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode != "chat":
        raise ConversionError(f"Anthropic has no {ctx.mode} endpoint; only chat completions are supported")
    payload = body_from_openai(body, ctx, url_images=True)
    if body.get("stream") or ctx.stream:
        payload["stream"] = True
    headers = {"x-api-key": ctx.key, "anthropic-version": API_VERSION, "content-type": "application/json"}
    base = (ctx.base_url or DEFAULT_BASE_URL).rstrip("/")
    return UpstreamRequest("POST", f"{base}/v1/messages", headers, orjson.dumps(payload))


def body_from_openai(body: Mapping[str, Any], ctx: ConvertContext, *, url_images: bool) -> dict[str, Any]:
    """The Anthropic Messages body (without `stream`); Bedrock reuses it."""
    _reject_unsupported(body)
    system, messages = messages_from_openai(body.get("messages") or [], url_images=url_images)
    out: dict[str, Any] = {"model": ctx.model or body.get("model")}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 else system
    out["messages"] = messages
    out["max_tokens"] = _max_tokens(body)
    _copy_sampling(body, out)
    _copy_tools(body, out)
    if isinstance(body.get("user"), str) and body["user"]:
        out["metadata"] = {"user_id": body["user"]}
    _copy_thinking(body, out)
    return out


def _reject_unsupported(body: Mapping[str, Any]) -> None:
    n = body.get("n")
    if n not in (None, 1):
        raise ConversionError("Anthropic returns one choice per request: n must be 1")
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise ConversionError(f"response_format {fmt.get('type')!r} is not supported by Anthropic")
    if body.get("functions") or body.get("function_call"):
        raise ConversionError("legacy functions/function_call are not supported for Anthropic; use tools")


def _max_tokens(body: Mapping[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConversionError(f"{name} must be an integer")
        return value
    return DEFAULT_MAX_TOKENS


def _copy_sampling(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)):
        out["temperature"] = min(temperature, 1.0)  # Anthropic's range is 0–1, OpenAI's 0–2
    for name in ("top_p", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    stops = [s for s in stops if isinstance(s, str) and s]
    if stops:
        out["stop_sequences"] = stops


def _copy_thinking(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    effort = body.get("reasoning_effort")
    if effort is None:
        return
    if effort not in _THINKING_BUDGET:
        raise ConversionError(f"unsupported reasoning_effort {effort!r}")
    budget = _THINKING_BUDGET[effort]
    if body.get("max_completion_tokens") is None and body.get("max_tokens") is None:
        out["max_tokens"] = max(out["max_tokens"], budget + DEFAULT_MAX_TOKENS)
    budget = min(budget, out["max_tokens"] - 1)  # the budget must stay below max_tokens
    if budget < 1024:
        raise ConversionError("reasoning_effort needs max_tokens above 1024 for Anthropic extended thinking")
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}


def _copy_tools(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools:
        out["tools"] = [_tool_from_openai(tool) for tool in tools]
    choice = body.get("tool_choice")
    tool_choice = _tool_choice_from_openai(choice) if choice is not None else None
    if body.get("parallel_tool_calls") is False and tools:
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    if tool_choice is not None:
        out["tool_choice"] = tool_choice


def _tool_from_openai(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("function"), dict):
        raise ConversionError("only tools of type 'function' are supported for Anthropic")
    fn = tool["function"]
    out: dict[str, Any] = {"name": fn.get("name")}
    if fn.get("description"):
        out["description"] = fn["description"]
    params = fn.get("parameters")
    out["input_schema"] = params if isinstance(params, dict) and params else dict(_EMPTY_SCHEMA)
    return out


def _tool_choice_from_openai(choice: Any) -> dict[str, Any]:
    if isinstance(choice, str) and choice in _TOOL_CHOICE:
        return dict(_TOOL_CHOICE[choice])
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"type": "tool", "name": name}
    raise ConversionError(f"unsupported tool_choice {choice!r}")


# -- messages ------------------------------------------------------------------------------

def messages_from_openai(messages: list[Any], *, url_images: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI messages → (system text blocks, alternating Anthropic messages)."""
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for msg in messages:
        if not isinstance(msg, dict):
            raise ConversionError("each message must be an object")
        role = msg.get("role")
        if role in ("system", "developer"):
            system += [{"type": "text", "text": t} for t in _texts(msg.get("content"), role) if t]
            continue
        if role not in _BLOCKS_BY_ROLE:
            raise ConversionError(f"unsupported message role {role!r}")
        blocks = _BLOCKS_BY_ROLE[role](msg, url_images)
        anthropic_role = "assistant" if role == "assistant" else "user"
        if not blocks:
            continue  # Anthropic rejects empty content
        if turns and turns[-1]["role"] == anthropic_role:
            turns[-1]["content"] += blocks  # roles must alternate: merge
        else:
            turns.append({"role": anthropic_role, "content": blocks})
    for turn in turns:  # tool results must come first in their user turn
        turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return system, turns


def _texts(content: Any, role: str) -> list[str]:
    if content is None or isinstance(content, str):
        return [content or ""]
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
                raise ConversionError(f"{role} messages may only contain text for Anthropic")
            texts.append(str(part.get("text") or part.get("refusal") or ""))
        return texts
    raise ConversionError(f"invalid {role} message content")


def _user_blocks(msg: Mapping[str, Any], url_images: bool) -> list[dict[str, Any]]:
    content = msg.get("content")
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise ConversionError("invalid user message content")
    blocks = [_part_from_openai(part, url_images) for part in content]
    return [b for b in blocks if b is not None]


def _part_from_openai(part: Any, url_images: bool) -> dict[str, Any] | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        text = part.get("text")
        return {"type": "text", "text": text} if text else None  # empty text blocks are rejected
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        return _image_from_openai(url if isinstance(url, str) else "", url_images)
    raise ConversionError(f"content part type {kind!r} is not supported for Anthropic")


def _image_from_openai(url: str, url_images: bool) -> dict[str, Any]:
    match = _DATA_URL.match(url)
    if match:
        media = _MEDIA_TYPES.get(match.group(1).lower())
        if media is None:
            raise ConversionError(f"image type {match.group(1)} is not supported (jpeg, png, gif, webp)")
        return {"type": "image", "source": {"type": "base64", "media_type": media, "data": match.group(2)}}
    if url.startswith(("http://", "https://")) and url_images:
        return {"type": "image", "source": {"type": "url", "url": url}}
    if url.startswith(("http://", "https://")):
        raise ConversionError("only data: image URLs (base64) are supported for this channel")
    raise ConversionError("image_url must be a data: URL or an http(s) URL")


def _assistant_blocks(msg: Mapping[str, Any], url_images: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "text", "text": t} for t in _texts(msg.get("content"), "assistant") if t]
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            raise ConversionError("assistant tool_calls must carry a function")
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                       "input": _arguments(fn.get("arguments"))})
    return blocks


def _arguments(arguments: Any) -> dict[str, Any]:
    """OpenAI's arguments string → the object Anthropic wants ({} when empty or invalid)."""
    if isinstance(arguments, dict):
        return arguments
    parsed = parse_json(arguments.encode("utf-8")) if isinstance(arguments, str) and arguments else None
    return parsed if isinstance(parsed, dict) else {}


def _tool_blocks(msg: Mapping[str, Any], url_images: bool) -> list[dict[str, Any]]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": msg.get("tool_call_id")}
    content = msg.get("content")
    if isinstance(content, list):
        parts = [p for p in (_part_from_openai(part, url_images) for part in content) if p is not None]
        if parts:
            block["content"] = parts
    elif isinstance(content, str) and content:
        block["content"] = content
    return [block]


_BLOCKS_BY_ROLE = {"user": _user_blocks, "assistant": _assistant_blocks, "tool": _tool_blocks}


# -- responses -----------------------------------------------------------------------------

def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), OpenAIError(500, "invalid JSON in the upstream response", "server_error"))
    if obj.get("type") == "error":
        err = error_object_to_openai(obj.get("error"))
        return Converted(None, Usage(), err or OpenAIError(500, "upstream error", "server_error"))
    usage = usage_to_openai(obj["usage"] if isinstance(obj.get("usage"), dict) else {})
    message = message_to_openai(obj["content"] if isinstance(obj.get("content"), list) else [])
    msg_id = obj.get("id")
    completion = completion_body(
        obj.get("model") or ctx.model, message, finish_reason_to_openai(obj.get("stop_reason")), usage,
        id=f"chatcmpl-{msg_id}" if msg_id else None, created=int(ctx.now))
    return Converted(completion, usage)


def message_to_openai(content: list[Any]) -> dict[str, Any]:
    """All text blocks joined; tool_use → tool_calls; thinking → reasoning_content."""
    texts, thinking, calls = [], [], []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thinking.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode("utf-8")
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if thinking:
        message["reasoning_content"] = "".join(thinking)
    if calls:
        message["tool_calls"] = calls
    return message


def stream_to_openai(ctx: ConvertContext) -> AnthropicStream:
    return AnthropicStream(ctx)


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """`{"type":"error","error":{"type","message"}}` keeps its type, also as `code` (§2.5)."""
    obj = parse_json(body)
    err = error_object_to_openai(obj.get("error"), status) if isinstance(obj, dict) else None
    return err or generic_error(status, body)
