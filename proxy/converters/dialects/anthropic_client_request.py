"""Anthropic Messages request → hub (OpenAI chat) request; what has no hub equivalent is refused or dropped on
purpose (the list is in proxy.converters.dialects.anthropic_client's docstring)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import ConversionError

__all__ = ["request_to_openai", "thinking_wanted"]

_TOOL_CHOICE: dict[str, Any] = {"auto": "auto", "any": "required", "none": "none"}
# output_config.effort → reasoning_effort; the hub's converters take minimal/low/medium/high, so above high is high
_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# tool block types that carry no custom tool of the client (they are Anthropic's server tools)
_CUSTOM_TOOL_TYPES = (None, "custom")


def _refuse(message: str) -> ConversionError:
    return ConversionError(message)


def thinking_wanted(request: Mapping[str, Any] | None) -> bool:
    """Whether the client asked for thinking blocks (`enabled` or `adaptive`); no request known: yes."""
    if request is None:
        return True
    thinking = request.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def _text(block: Mapping[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _refuse(f"{where}: a text block needs a string text")
    return text


def _texts_only(content: Any, where: str) -> str:
    """A string or a list of text blocks (system prompts, system messages) as one text."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _refuse(f"{where}: content must be a string or a list of text blocks")
    texts = []
    for block in content:
        if not isinstance(block, Mapping) or block.get("type") != "text":
            kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
            raise _refuse(f"{where}: block type {kind!r} cannot be converted (only text)")
        texts.append(_text(block, where))
    return "\n".join(texts)


def _image_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if isinstance(source, Mapping) and source.get("type") == "base64":
        media_type, data = source.get("media_type"), source.get("data")
        if media_type not in _IMAGE_TYPES or not isinstance(data, str):
            raise _refuse(f"{where}: image media_type must be one of {sorted(_IMAGE_TYPES)} with base64 data")
        return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
    if isinstance(source, Mapping) and source.get("type") == "url" and isinstance(source.get("url"), str):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    kind = source.get("type") if isinstance(source, Mapping) else None
    raise _refuse(f"{where}: image source {kind!r} cannot be converted (base64 and url only)")


def _document_part(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A base64 PDF becomes a chat `file` part, a plain-text or content-block document its text."""
    source = block.get("source")
    kind = source.get("type") if isinstance(source, Mapping) else None
    if isinstance(source, Mapping) and kind == "base64" and source.get("media_type") == "application/pdf" \
            and isinstance(source.get("data"), str) and source["data"]:
        file: dict[str, Any] = {"file_data": f"data:application/pdf;base64,{source['data']}"}
        if isinstance(block.get("title"), str):
            file["filename"] = block["title"]
        return {"type": "file", "file": file}
    if isinstance(source, Mapping) and kind == "text" and isinstance(source.get("data"), str):
        return {"type": "text", "text": source["data"]}
    if isinstance(source, Mapping) and kind == "content":
        return {"type": "text", "text": _texts_only(source.get("content"), where)}
    raise _refuse(f"{where}: document source {kind!r} cannot be converted (base64 PDF, text and content only)")


def _tool_result(block: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `tool` message, and the images of the result (they go in the user message that follows)."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise _refuse(f"{where}: tool_result needs a tool_use_id")
    content = block.get("content")
    if content is not None and not isinstance(content, (str, list)):
        raise _refuse(f"{where}: tool_result content must be a string or a list of blocks")
    texts: list[str] = []
    images: list[dict[str, Any]] = []
    for part in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            texts.append(_text(part, where))
        elif kind == "image":
            images.append(_image_part(part, where))
        else:
            raise _refuse(f"{where}: tool_result content block {kind!r} cannot be converted (text and image only)")
    text = "\n".join(texts)
    if block.get("is_error"):
        text = f"Error: {text}"
    if images:
        images.insert(0, {"type": "text", "text": f"(images returned by tool call {call_id})"})
    return {"role": "tool", "tool_call_id": call_id, "content": text}, images


def _user_message(content: Any, where: str) -> list[dict[str, Any]]:
    """Tool results first (as `tool` messages, in block order), then the user's own blocks and any images
    those results held, in one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        raise _refuse(f"{where}: content must be a string or a list of blocks")
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, at)})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "document":
            parts.append(_document_part(block, at))
        elif kind == "tool_result":
            message, images = _tool_result(block, at)
            tools.append(message)
            parts.extend(images)
        else:
            raise _refuse(f"{at}: user block type {kind!r} cannot be converted")
    return tools + ([{"role": "user", "content": parts}] if parts or not tools else [])


def _assistant_message(content: Any, where: str) -> list[dict[str, Any]]:
    """Text and tool_use blocks; thinking blocks are dropped (their signatures mean something to Anthropic only)."""
    if isinstance(content, str):
        return [{"role": "assistant", "content": content}]
    if not isinstance(content, list):
        raise _refuse(f"{where}: content must be a string or a list of blocks")
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            texts.append(_text(block, at))
        elif kind == "tool_use":
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not isinstance(call_id, str):
                raise _refuse(f"{at}: tool_use needs a string id and name")
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
        elif kind not in ("thinking", "redacted_thinking"):
            raise _refuse(f"{at}: assistant block type {kind!r} cannot be converted")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return [message]


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _refuse("messages: a non-empty list is required")
    out: list[dict[str, Any]] = []
    system = body.get("system")
    if system is not None and (text := _texts_only(system, "system")):
        out.append({"role": "system", "content": text})
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        if role == "user":
            out.extend(_user_message(content, where))
        elif role == "assistant":
            out.extend(_assistant_message(content, where))
        elif role == "system":
            out.append({"role": "system", "content": _texts_only(content, where)})
        else:
            raise _refuse(f"{where}: role {role!r} must be user, assistant or system")
    return out


def _tool(tool: Any, where: str) -> dict[str, Any]:
    if not isinstance(tool, Mapping) or tool.get("type") not in _CUSTOM_TOOL_TYPES:
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        raise _refuse(f"{where}: tool type {kind!r} is an Anthropic server tool and cannot run on this channel")
    name, schema = tool.get("name"), tool.get("input_schema")
    if not isinstance(name, str) or not name or not isinstance(schema, Mapping):
        raise _refuse(f"{where}: a tool needs a name and an input_schema object")
    function: dict[str, Any] = {"name": name, "parameters": dict(schema)}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _copy_tools(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if body.get("mcp_servers"):
        raise _refuse("mcp_servers: MCP servers run by Anthropic cannot be used on this channel")
    if tools is not None and not isinstance(tools, list):
        raise _refuse("tools: must be a list")
    if tools:
        out["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(tools)]
    choice = body.get("tool_choice")
    if choice is None or not tools:
        return  # without tools a choice changes nothing, and OpenAI refuses one
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "tool" and isinstance(choice, Mapping) and isinstance(choice.get("name"), str):
        out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in _TOOL_CHOICE:
        out["tool_choice"] = _TOOL_CHOICE[kind]
    else:
        raise _refuse(f"tool_choice: type {kind!r} must be auto, any, tool (with a name) or none")
    if isinstance(choice, Mapping) and choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _effort(body: Mapping[str, Any]) -> str | None:
    """output_config.effort first, else a thinking budget in buckets; adaptive and disabled leave the default."""
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, Mapping) else None
    if effort is not None:
        if effort not in _EFFORT:
            raise _refuse(f"output_config.effort: {effort!r} must be one of {sorted(_EFFORT)}")
        return _EFFORT[effort]
    thinking = body.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise _refuse("thinking.budget_tokens: an integer is required when thinking is enabled")
        return "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"
    return None


def _response_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, Mapping) else None
    if fmt is None:
        return None
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), Mapping):
        raise _refuse("output_config.format: only {\"type\": \"json_schema\", \"schema\": {...}} can be converted")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": dict(fmt["schema"]), "strict": True}}


def _copy_sampling(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _refuse(f"{name}: must be a number")
            out[name] = value
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _refuse("stop_sequences: must be a list of strings")
        if stops:
            out["stop"] = list(stops)


def _user_id(body: Mapping[str, Any]) -> str | None:
    """metadata.user_id, hashed: Claude Code's is 150 characters of JSON, the hub's field takes 128."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    return hashlib.sha256(user_id.encode()).hexdigest() if isinstance(user_id, str) and user_id else None


def request_to_openai(body: Mapping[str, Any], *, model: str = "", stream: bool | None = None) -> dict[str, Any]:
    """The hub's chat request; ConversionError (400) for what cannot be expressed, before any upstream call.
    `model` and `stream`, when given, override the body's (the route may say them)."""
    if not isinstance(body, Mapping):
        raise _refuse("the request body must be a JSON object")
    name = model or body.get("model")
    if not isinstance(name, str) or not name:
        raise _refuse("model: a model name is required")
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _refuse("max_tokens: a positive integer is required")
    out: dict[str, Any] = {"model": name, "messages": _messages(body), "max_tokens": max_tokens}
    _copy_sampling(body, out)
    _copy_tools(body, out)
    if (effort := _effort(body)) is not None:
        out["reasoning_effort"] = effort
    if (response_format := _response_format(body)) is not None:
        out["response_format"] = response_format
    if (user := _user_id(body)) is not None:
        out["safety_identifier"] = user
    if body.get("stream") if stream is None else stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out
