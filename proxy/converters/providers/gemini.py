"""Google Gemini API: OpenAI requests → generateContent / batchEmbedContents / Imagen requests."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.abilities import Provides
from proxy.converters.base import ConversionError, ConvertContext, UpstreamRequest
from proxy.converters.providers.gemini_schema import schema_from_json_schema
from proxy.converters.providers.gemini_stream import (  # noqa: F401  (re-exported: the module is the converter)
    GeminiStream,
    error_to_openai,
    response_to_openai,
    stream_to_openai,
)
from proxy.converters.text import text_parts_of

__all__ = [
    "request_from_openai", "response_to_openai", "stream_to_openai", "error_to_openai",
    "generate_content_from_openai", "api_version", "GeminiStream",
]

PROVIDES = Provides(modes=frozenset({"chat", "embeddings", "images"}), other_config="api_version")

SAFETY_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY",
)

# One API switches these families to v1beta whatever GEMINI_VERSION says; every later family
# needs v1beta for systemInstruction, tools and response schemas too.
_BETA_MODELS = re.compile(r"gemini-(1\.5|[2-9])|gemini-exp|learnlm")

_GENERATION_FIELDS = {
    "temperature": "temperature", "top_p": "topP", "top_k": "topK", "n": "candidateCount",
    "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty", "seed": "seed",
}

_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}

# Google's own OpenAI-compatible surface maps effort to these budgets (Gemini 2.5) ...
_THINKING_BUDGET = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
# ... and Gemini 3 takes a level instead (only low/high on every model).
_THINKING_LEVEL = {"none": "low", "minimal": "low", "low": "low", "medium": "high", "high": "high"}

_DATA_URL = re.compile(r"data:([^;,]+)(?:;[^,;]+)*;base64,(.*)", re.DOTALL)

_IMAGE_ASPECT = {
    "256x256": "1:1", "512x512": "1:1", "1024x1024": "1:1", "1792x1024": "16:9",
    "1024x1792": "9:16", "1536x1024": "3:2", "1024x1536": "2:3",
}


def api_version(ctx: ConvertContext) -> str:
    """config api_version, else v1beta for current families, else GEMINI_VERSION, else v1beta."""
    configured = ctx.config.get("api_version") if ctx.config else None
    if configured:
        return str(configured)
    if _BETA_MODELS.search(ctx.model):
        return "v1beta"
    return ctx.options.get("GEMINI_VERSION") or "v1beta"


def request_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> UpstreamRequest:
    builder = _BUILDERS.get(ctx.mode)
    if builder is None:
        raise ConversionError(f"Gemini channels do not support the {ctx.mode!r} endpoint")
    action, payload = builder(body, ctx)
    version = "v1beta" if ctx.mode == "images" and not ctx.config.get("api_version") else api_version(ctx)
    url = f"{ctx.base_url}/{version}/models/{ctx.model}:{action}"
    headers = {"x-goog-api-key": ctx.key, "Content-Type": "application/json"}
    return UpstreamRequest("POST", url, headers, orjson.dumps(payload))


def _chat(body: Mapping[str, Any], ctx: ConvertContext) -> tuple[str, dict[str, Any]]:
    if ctx.stream and (body.get("n") or 1) > 1:
        raise ConversionError("n > 1 is not supported together with stream for Gemini")
    action = "streamGenerateContent?alt=sse" if ctx.stream else "generateContent"
    return action, generate_content_from_openai(body, ctx)


def generate_content_from_openai(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    """The GenerateContentRequest body (shared with Vertex AI)."""
    system, contents = _contents_from_messages(body.get("messages") or [])
    if not contents and system:
        contents, system = [{"role": "user", "parts": system}], []
    if not contents:
        raise ConversionError("messages must contain at least one non-empty user or assistant message")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    config = _generation_config(body, ctx)
    if config:
        out["generationConfig"] = config
    if body.get("tools"):
        out["tools"] = [{"functionDeclarations": [_function_declaration(t) for t in body["tools"]]}]
    if body.get("tool_choice") is not None:
        out["toolConfig"] = {"functionCallingConfig": _calling_config(body["tool_choice"])}
    out["safetySettings"] = safety_settings(ctx)
    return out


def safety_settings(ctx: ConvertContext) -> list[dict[str, str]]:
    threshold = ctx.options.get("GEMINI_SAFETY_SETTING") or "BLOCK_NONE"
    return [{"category": c, "threshold": threshold} for c in SAFETY_CATEGORIES]


# ---- messages ---------------------------------------------------------------------------

def _contents_from_messages(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents) with same-role turns merged so roles alternate."""
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}
    for msg in messages:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.extend({"text": t} for t in [_plain_text(msg.get("content"), role)] if t)
            continue
        turn = _TURN_BUILDERS.get(role)  # type: ignore[arg-type]
        if turn is None:
            raise ConversionError(f"unsupported message role {role!r}")
        gemini_role, parts = turn(msg, call_names)
        if not parts:
            continue
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return system, contents


def _user_turn(msg: Mapping[str, Any], _names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    return "user", _content_parts(msg.get("content"))


def _assistant_turn(msg: Mapping[str, Any], names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    parts = _content_parts(msg.get("content"))
    for call in msg.get("tool_calls") or []:
        parts.append(_function_call_part(call))
        names[call.get("id", "")] = (call.get("function") or {}).get("name", "")
    if msg.get("function_call"):  # legacy single function call
        parts.append(_function_call_part({"function": msg["function_call"]}))
    return "model", parts


def _tool_turn(msg: Mapping[str, Any], names: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    call_id = msg.get("tool_call_id")
    name = names.get(call_id or "") or msg.get("name")
    if not name:
        raise ConversionError(f"tool message refers to an unknown tool_call_id {call_id!r}")
    text = _plain_text(msg.get("content"), "tool")
    return "user", [{"functionResponse": {"name": name, "response": _tool_result(text)}}]


_TURN_BUILDERS: dict[str, Callable[[Mapping[str, Any], dict[str, str]], tuple[str, list[dict[str, Any]]]]] = {
    "user": _user_turn, "assistant": _assistant_turn, "tool": _tool_turn, "function": _tool_turn,
}


def _tool_result(text: str) -> dict[str, Any]:
    """functionResponse.response must be an object: keep a JSON object, wrap anything else."""
    try:
        parsed = orjson.loads(text) if text.lstrip().startswith("{") else None
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"content": text}


def _function_call_part(call: Mapping[str, Any]) -> dict[str, Any]:
    fn = call.get("function") or {}
    name = fn.get("name")
    if not name:
        raise ConversionError("assistant tool_calls entries need function.name")
    part: dict[str, Any] = {"functionCall": {"name": name, "args": _arguments(fn.get("arguments"), name)}}
    # Gemini 3 rejects replayed calls without the signature we handed out in extra_content.
    signature = ((call.get("extra_content") or {}).get("google") or {}).get("thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(raw: Any, name: str) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        parsed = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        raise ConversionError(f"arguments of tool call {name!r} are not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ConversionError(f"arguments of tool call {name!r} must be a JSON object")
    return parsed


def _plain_text(content: Any, role: str) -> str:
    """Text of a message that may only hold text (system, tool)."""
    return text_parts_of(content, f"{role} messages may only contain text parts for Gemini")


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise ConversionError("message content must be a string or a list of parts")
    parts = []
    for item in content:
        kind = item.get("type") if isinstance(item, dict) else None
        builder = _PART_BUILDERS.get(kind)
        if builder is None:
            raise ConversionError(f"content part type {kind!r} is not supported by Gemini")
        part = builder(item)
        if part:
            parts.append(part)
    return parts


def _text_part(item: Mapping[str, Any]) -> dict[str, Any] | None:
    text = item.get("text")
    return {"text": text} if text else None


def _image_part(item: Mapping[str, Any]) -> dict[str, Any]:
    image = item.get("image_url")
    url = image.get("url", "") if isinstance(image, dict) else str(image or "")
    return media_part_from_url(url)


def _audio_part(item: Mapping[str, Any]) -> dict[str, Any]:
    audio = item.get("input_audio") or {}
    return {"inlineData": {"mimeType": f"audio/{audio.get('format', 'wav')}", "data": audio.get("data", "")}}


def _file_part(item: Mapping[str, Any]) -> dict[str, Any]:
    data = (item.get("file") or {}).get("file_data")
    if not data:
        raise ConversionError("file parts need file_data (a data: URL) for Gemini; file_id is not supported")
    return media_part_from_url(data)


_PART_BUILDERS: dict[Any, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "text": _text_part, "image_url": _image_part, "input_audio": _audio_part, "file": _file_part,
}


def media_part_from_url(url: str) -> dict[str, Any]:
    """data: URL → inlineData; gs:// or Files API URI → fileData; other http(s) URLs refused."""
    match = _DATA_URL.match(url)
    if match:
        return {"inlineData": {"mimeType": match.group(1), "data": match.group(2)}}
    if url.startswith("gs://") or ("generativelanguage.googleapis.com/" in url and "/files/" in url):
        part: dict[str, Any] = {"fileUri": url}
        mime = mimetypes.guess_type(url)[0]
        if mime:
            part["mimeType"] = mime
        return {"fileData": part}
    raise ConversionError("Gemini needs inline image bytes: only data: URLs (or gs:// / Files API URIs) "
                          "are supported for image_url")


# ---- generation config, tools -------------------------------------------------------------

def _generation_config(body: Mapping[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    out = {dst: body[src] for src, dst in _GENERATION_FIELDS.items() if body.get(src) is not None}
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens:
        out["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        out["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    out.update(_response_format(body.get("response_format")))
    effort = body.get("reasoning_effort")
    if effort:
        out["thinkingConfig"] = _thinking_config(str(effort), ctx.model)
    return out


def _response_format(fmt: Any) -> dict[str, Any]:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in (None, "text"):
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if schema:
            out["responseSchema"] = schema_from_json_schema(schema)
        return out
    raise ConversionError(f"response_format type {kind!r} is not supported by Gemini")


def _thinking_config(effort: str, model: str) -> dict[str, Any]:
    if effort not in _THINKING_BUDGET:
        raise ConversionError(f"unknown reasoning_effort {effort!r}")
    if "gemini-3" in model:
        return {"thinkingLevel": _THINKING_LEVEL[effort]}
    return {"thinkingBudget": _THINKING_BUDGET[effort]}


def _function_declaration(tool: Mapping[str, Any]) -> dict[str, Any]:
    if tool.get("type", "function") != "function" or not tool.get("function"):
        raise ConversionError(f"tool type {tool.get('type')!r} is not supported by Gemini (functions only)")
    fn = tool["function"]
    out = {"name": fn.get("name"), "description": fn.get("description", "")}
    params = fn.get("parameters")
    # An OBJECT schema without properties is rejected ("should be non-empty for OBJECT type").
    if isinstance(params, dict) and (params.get("properties") or params.get("type") not in (None, "object")):
        out["parameters"] = schema_from_json_schema(params)
    return out


def _calling_config(choice: Any) -> dict[str, Any]:
    if isinstance(choice, str):
        if choice not in _TOOL_MODES:
            raise ConversionError(f"unknown tool_choice {choice!r}")
        return {"mode": _TOOL_MODES[choice]}
    name = ((choice or {}).get("function") or {}).get("name")
    if not name:
        raise ConversionError("tool_choice object needs function.name")
    return {"mode": "ANY", "allowedFunctionNames": [name]}


# ---- embeddings, images -------------------------------------------------------------------

def embedding_inputs(body: Mapping[str, Any]) -> list[str]:
    value = body.get("input")
    items = [value] if isinstance(value, str) else list(value or [])
    if not items or not all(isinstance(i, str) for i in items):
        raise ConversionError("input must be a string or a list of strings (token arrays are not supported)")
    return items


def _embeddings(body: Mapping[str, Any], ctx: ConvertContext) -> tuple[str, dict[str, Any]]:
    requests = []
    for text in embedding_inputs(body):
        item: dict[str, Any] = {"model": f"models/{ctx.model}", "content": {"parts": [{"text": text}]}}
        if body.get("dimensions"):
            item["outputDimensionality"] = body["dimensions"]
        requests.append(item)
    return "batchEmbedContents", {"requests": requests}


def _images(body: Mapping[str, Any], ctx: ConvertContext) -> tuple[str, dict[str, Any]]:
    if body.get("response_format") == "url":
        raise ConversionError("Imagen returns image bytes only: use response_format b64_json")
    if not body.get("prompt"):
        raise ConversionError("prompt is required")
    params: dict[str, Any] = {"sampleCount": body.get("n") or 1}
    size = body.get("size")
    if size:
        if size not in _IMAGE_ASPECT:
            raise ConversionError(f"size {size!r} is not supported by Imagen")
        params["aspectRatio"] = _IMAGE_ASPECT[size]
    return "predict", {"instances": [{"prompt": body["prompt"]}], "parameters": params}


_BUILDERS: dict[str, Callable[[Mapping[str, Any], ConvertContext], tuple[str, dict[str, Any]]]] = {
    "chat": _chat, "embeddings": _embeddings, "images": _images,
}
