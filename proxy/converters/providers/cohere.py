"""Cohere: OpenAI chat → /v2/chat (default) or /v1/chat, embeddings → /v2/embed, and back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, Converted, OpenAIError, UpstreamRequest, Usage
from proxy.converters.chunks import completion_body
from proxy.converters.errors import generic_error, parse_json
from proxy.converters.providers.cohere_stream import CohereStream, finish_reason, inline_error, usage_from_cohere
from proxy.converters.text import text_parts_of

__all__ = ["request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai", "api_version"]

PROVIDES = Provides(modes=frozenset({"chat", "embeddings"}))

INTERNET_SUFFIX = "-internet"  # One API's convention: v1 with the web-search connector
_PARAMS = {"temperature": "temperature", "seed": "seed", "frequency_penalty": "frequency_penalty",
           "presence_penalty": "presence_penalty", "top_p": "p", "top_k": "k"}
_V1_ROLES = {"user": "USER", "assistant": "CHATBOT"}
_V2_TOOL_CHOICE = {"required": "REQUIRED", "none": "NONE"}  # auto = omitted


def api_version(ctx: ConvertContext) -> str:
    """Channel config api_version (v1/v2); else v2, the current API, except One API's -internet models."""
    configured = str((ctx.config or {}).get("api_version") or "").lower().lstrip("v")
    if configured in ("1", "2"):
        return "v" + configured
    return "v1" if ctx.model.endswith(INTERNET_SUFFIX) else "v2"


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    if ctx.mode == "embeddings":
        path, payload = "/v2/embed", _embed_body(body, ctx)
    elif ctx.mode == "chat":
        if (body.get("n") or 1) > 1:
            raise ConversionError("Cohere returns one choice per request: n must be 1")
        version = api_version(ctx)
        path, payload = f"/{version}/chat", (_v1_body if version == "v1" else _v2_body)(body, ctx)
        if ctx.stream:
            payload["stream"] = True
    else:
        raise ConversionError(f"Cohere channels do not support the {ctx.mode!r} endpoint")
    headers = {"Authorization": f"Bearer {ctx.key}", "Content-Type": "application/json"}
    return UpstreamRequest("POST", f"{ctx.base_url}{path}", headers, orjson.dumps(payload))


def _common(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    out.update({dst: body[src] for src, dst in _PARAMS.items() if body.get(src) is not None})
    stop = body.get("stop")
    if stop:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        out["max_tokens"] = max_tokens


def _response_format(fmt: Any, schema_key: str) -> dict[str, Any] | None:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return None
    if kind not in ("json_object", "json_schema"):
        raise ConversionError(f"response_format type {kind!r} is not supported by Cohere")
    out: dict[str, Any] = {"type": "json_object"}
    schema = (fmt.get("json_schema") or {}).get("schema") if kind == "json_schema" else None
    if schema:
        out[schema_key] = schema
    return out


def _text(content: Any, what: str) -> str:
    return text_parts_of(content, f"{what} may only contain text for Cohere")


# ---- v1 -----------------------------------------------------------------------------------

def _v1_body(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    if body.get("tools") or body.get("functions"):
        raise ConversionError("tools need the Cohere v2 chat API (set the channel api_version to v2)")
    preamble, history, message = _v1_messages(body.get("messages") or [])
    model = ctx.model.removesuffix(INTERNET_SUFFIX)
    out: dict[str, Any] = {"model": model, "message": message}
    if history:
        out["chat_history"] = history
    if preamble:
        out["preamble"] = preamble
    _common(body, out)
    fmt = _response_format(body.get("response_format"), "schema")
    if fmt:
        out["response_format"] = fmt
    if model != ctx.model:
        out["connectors"] = [{"id": "web-search"}]
    return out


def _v1_messages(messages: list[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]], str]:
    """(preamble, chat_history, message): the last user turn is the message, nothing is lost."""
    preamble: list[str] = []
    history: list[dict[str, str]] = []
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            preamble.append(_text(msg.get("content"), "system messages"))
        elif role in _V1_ROLES:
            text = _text(msg.get("content"), "v1 messages (images need v2)")
            if text:
                history.append({"role": _V1_ROLES[role], "message": text})
        else:
            raise ConversionError(f"message role {role!r} needs the Cohere v2 chat API")
    if not history or history[-1]["role"] != "USER":
        raise ConversionError("the last message must be a non-empty user message for Cohere v1")
    return "\n".join(p for p in preamble if p), history[:-1], history[-1]["message"]


# ---- v2 -----------------------------------------------------------------------------------

def _v2_body(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    out: dict[str, Any] = {"model": ctx.model, "messages": [_v2_message(m) for m in body.get("messages") or []]}
    tools = [_v2_tool(t) for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    if tools and choice is not None:
        tools = _apply_tool_choice(choice, tools, out)
    if tools:
        out["tools"] = tools
    _common(body, out)
    fmt = _response_format(body.get("response_format"), "json_schema")
    if fmt:
        out["response_format"] = fmt
    return out


def _v2_message(msg: Mapping[str, Any]) -> dict[str, Any]:
    role = "system" if msg.get("role") == "developer" else msg.get("role")
    content = msg.get("content")
    if role == "system":
        return {"role": "system", "content": _text(content, "system messages")}
    if role == "user":
        return {"role": "user", "content": content if isinstance(content, str) else _v2_parts(content or [])}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        text = _text(content, "assistant messages")
        if text:
            out["content"] = text
        if msg.get("tool_calls"):
            out["tool_calls"] = [{"id": c.get("id"), "type": "function",
                                  "function": {"name": (c.get("function") or {}).get("name"),
                                               "arguments": (c.get("function") or {}).get("arguments") or "{}"}}
                                 for c in msg["tool_calls"]]
        return out
    if role == "tool":
        return {"role": "tool", "tool_call_id": msg.get("tool_call_id"), "content": _text(content, "tool messages")}
    raise ConversionError(f"message role {role!r} is not supported by Cohere")


def _v2_parts(parts: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for part in parts if isinstance(parts, list) else [None]:
        if not isinstance(part, dict):
            raise ConversionError("content parts must be objects")
        if part.get("type") == "text":
            out.append({"type": "text", "text": part.get("text") or ""})
        elif part.get("type") == "image_url":  # vision models take data: and http(s) URLs
            image = part.get("image_url")
            out.append({"type": "image_url", "image_url": image if isinstance(image, dict) else {"url": image}})
        else:
            raise ConversionError(f"content part type {part.get('type')!r} is not supported by Cohere")
    return out


def _v2_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    fn = tool.get("function")
    if tool.get("type", "function") != "function" or not isinstance(fn, dict):
        raise ConversionError(f"tool type {tool.get('type')!r} is not supported by Cohere (functions only)")
    out = {"name": fn.get("name"), "description": fn.get("description", "")}
    if fn.get("parameters"):
        out["parameters"] = fn["parameters"]
    return {"type": "function", "function": out}


def _apply_tool_choice(choice: Any, tools: list[dict[str, Any]], out: dict[str, Any]) -> list[dict[str, Any]]:
    """Cohere only knows REQUIRED/NONE: a named function becomes REQUIRED with that one tool."""
    if isinstance(choice, str):
        if choice in _V2_TOOL_CHOICE:
            out["tool_choice"] = _V2_TOOL_CHOICE[choice]
        elif choice != "auto":
            raise ConversionError(f"unknown tool_choice {choice!r}")
        return tools
    name = ((choice or {}).get("function") or {}).get("name")
    chosen = [t for t in tools if t["function"]["name"] == name]
    if not chosen:
        raise ConversionError(f"tool_choice names a function {name!r} that is not in tools")
    out["tool_choice"] = "REQUIRED"
    return chosen


def _embed_body(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    value = body.get("input")
    texts = [value] if isinstance(value, str) else list(value or [])
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ConversionError("input must be a string or a list of strings (token arrays are not supported)")
    out: dict[str, Any] = {"model": ctx.model, "texts": texts, "input_type": "search_document",
                           "embedding_types": ["float"]}
    if body.get("dimensions"):
        out["output_dimension"] = body["dimensions"]
    return out


# ---- responses ----------------------------------------------------------------------------

def _v1_response(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    usage = usage_from_cohere(obj.get("meta"))
    message = {"role": "assistant", "content": obj.get("text") or ""}
    return Converted(completion_body(ctx.model, message, finish_reason(obj.get("finish_reason")), usage,
                                     created=int(ctx.now)), usage)


def _v2_response(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    raw = obj.get("message") or {}
    content = raw.get("content") or []
    texts = [c.get("text") or "" for c in content if c.get("type") == "text"]
    thinking = [c.get("thinking") or "" for c in content if c.get("type") == "thinking"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if raw.get("tool_calls"):
        message["tool_calls"] = [{"id": c.get("id"), "type": "function",
                                  "function": {"name": (c.get("function") or {}).get("name"),
                                               "arguments": (c.get("function") or {}).get("arguments") or "{}"}}
                                 for c in raw["tool_calls"]]
        message["content"] = message["content"] or None
    reasoning = "".join(thinking) or raw.get("tool_plan")
    if reasoning:
        message["reasoning_content"] = reasoning
    usage = usage_from_cohere(obj.get("usage"))
    return Converted(completion_body(ctx.model, message, finish_reason(obj.get("finish_reason")), usage,
                                     created=int(ctx.now)), usage)


def _embed_response(obj: Mapping[str, Any], ctx: ConvertContext) -> Converted:
    vectors = (obj.get("embeddings") or {}).get("float") or []
    usage = usage_from_cohere(obj.get("meta"))
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return Converted({"object": "list", "data": data, "model": ctx.model,
                      "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}}, usage)


def _builder(ctx: ConvertContext) -> Callable[[Mapping[str, Any], ConvertContext], Converted]:
    if ctx.mode == "embeddings":
        return _embed_response
    return _v1_response if api_version(ctx) == "v1" else _v2_response


def response_to_openai(status: int, body: bytes, ctx: ConvertContext) -> Converted:
    obj = parse_json(body)
    if not isinstance(obj, dict):
        return Converted(None, Usage(), inline_error("invalid JSON in the upstream response"))
    if isinstance(obj.get("message"), str) and "text" not in obj:  # an error object inside a 200
        return Converted(None, Usage(), inline_error(obj["message"]))
    return _builder(ctx)(obj, ctx)


def stream_to_openai(ctx: ConvertContext) -> CohereStream:
    return CohereStream(ctx, api_version(ctx))


def error_to_openai(status: int, body: bytes, ctx: ConvertContext) -> OpenAIError:
    """`{"message": "invalid api token"}` (v2 may add an id): message kept, code null."""
    return generic_error(status, body)
