"""Gemini `generateContent` clients (Gemini CLI, google-genai) → the hub (OpenAI chat); answers in
proxy.converters.dialects.gemini_client_answer and _stream.

Per field, what happens to a GenerateContentRequest (client-dialects.md §4.2, §5.1, §5.5), its field names read in
camelCase or snake_case as the API does (gemini_client_names):
- model: from the URL path (`model=`), else the body's `model` ("models/" dropped); none is refused.
  `stream=True` (the :streamGenerateContent endpoint) asks the hub for a stream with its usage chunk.
- systemInstruction (any role, Gemini CLI sends "user"): its text parts, joined, become the first system
  message; a non-text part is refused.
- contents: role user → user, model → assistant ("function" is taken as user). Parts: text; `thought: true`
  parts dropped (thought summaries are never sent back as input); inlineData image/* → image_url data URL,
  audio wav/mp3 → input_audio, application/pdf → file, any other type refused; fileData with an http(s)
  image URI → image_url, gs:// and Files API URIs (and other files) refused; functionCall (model turns) →
  tool_calls (id = functionCall.id or `call_<turn>_<n>`, args → JSON); functionResponse (user turns) → a
  tool message placed before the turn's other parts, matched by id, else by name in call order, its
  `response` object as JSON text; an unmatched response is refused. executableCode, codeExecutionResult,
  videoMetadata and multimodal functionResponse parts are refused.
- thoughtSignature: a real one on a functionCall travels as the hub's
  `extra_content.google.thought_signature` (the Gemini provider and Google's OpenAI surface use it; Gemini 3
  refuses replayed calls without it); the gateway's own sentinel and signatures on other parts are dropped.
- tools: functionDeclarations → functions; `parameters` (OpenAPI subset) as JSON Schema (types lowercased,
  `nullable` → a "null" type), `parametersJsonSchema` as is but for Gemini's upper-case type names (OBJECT),
  lowercased as in responseJsonSchema (Gemini CLI's classifier sends them); `response`/`responseJsonSchema`/`behavior`
  dropped (no chat field; they do not change what the model may call). A name OpenAI cannot take (not
  [A-Za-z0-9_-]{1,64}) is refused; googleSearch, codeExecution, urlContext and every other tool kind too.
- toolConfig.functionCallingConfig: AUTO/VALIDATED/unset → auto, NONE → none, ANY → required, ANY with one
  allowed name → that function; other allowedFunctionNames → allowed_tools (mode auto or required); other
  toolConfig keys are refused.
- generationConfig: temperature, topP → top_p, candidateCount → n (refused above 1 on a stream),
  maxOutputTokens → max_tokens, stopSequences → stop, presence/frequency penalties, seed;
  responseMimeType application/json (+ responseJsonSchema or responseSchema) → response_format;
  thinkingConfig: includeThoughts is read by the answer converters, thinkingBudget 0 → reasoning_effort
  none, -1 → the model's default, else low (≤ 1024) / medium (≤ 8192) / high; thinkingLevel → effort
  (XHIGH → high). topK is dropped (OpenAI refuses it; Gemini CLI always sends 64), mediaResolution too;
  responseModalities other than TEXT, responseLogprobs, speechConfig and unknown keys are refused.
- safetySettings and labels are dropped (the channel's own policy applies); cachedContent and any other
  unknown top-level field are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from proxy.converters.base import ConversionError
from proxy.converters.dialects.gemini_client_answer import (  # noqa: F401  (re-exported: the module is the dialect)
    SYNTHETIC_SIGNATURE,
    error_from_openai,
    response_from_openai,
)
from proxy.converters.dialects.gemini_client_names import camel_case
from proxy.converters.dialects.gemini_client_stream import stream_from_openai  # noqa: F401  (re-exported)

__all__ = ["DIALECT", "error_from_openai", "request_to_openai", "response_from_openai", "stream_from_openai"]

DIALECT = "gemini"

_TOP_LEVEL = frozenset({"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
                        "safetySettings", "labels"})
_SAMPLING = {"temperature": "temperature", "topP": "top_p", "presencePenalty": "presence_penalty",
             "frequencyPenalty": "frequency_penalty", "seed": "seed", "maxOutputTokens": "max_tokens"}
_GENERATION_OTHER = frozenset({"topK", "mediaResolution", "candidateCount", "stopSequences", "responseMimeType",
                               "responseSchema", "responseJsonSchema", "responseModalities", "thinkingConfig"})
_TOOL_MODES = {"AUTO": "auto", "VALIDATED": "auto", "MODE_UNSPECIFIED": "auto", "NONE": "none", "ANY": "required"}
_LEVELS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high", "XHIGH": "high"}
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mp3": "mp3",
                  "audio/mpeg": "mp3"}
_OPENAI_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def request_to_openai(body: Mapping[str, Any], *, model: str = "", stream: bool | None = None) -> dict[str, Any]:
    """A GenerateContentRequest as an OpenAI chat request; ConversionError names what cannot be carried."""
    body = camel_case(body)
    unknown = sorted(set(body) - _TOP_LEVEL)
    if unknown:
        raise ConversionError(f"{unknown[0]} is not supported: this model is served by a channel that does not "
                              "speak Gemini")
    name = model or str(body.get("model") or "").removeprefix("models/")
    if not name:
        raise ConversionError("the model is missing: call /v1beta/models/{model}:generateContent")
    messages = _system(body.get("systemInstruction")) + _messages(_list(body.get("contents"), "contents"))
    if not any(m["role"] != "system" for m in messages):
        raise ConversionError("contents must hold at least one part")
    hub: dict[str, Any] = {"model": name, "messages": messages}
    hub.update(_generation(_dict(body.get("generationConfig"), "generationConfig"), bool(stream)))
    tools = [fn for tool in _list(body.get("tools"), "tools") for fn in _functions(tool)]
    if tools:
        hub["tools"] = tools
    choice = _tool_choice(_dict(body.get("toolConfig"), "toolConfig"))
    if choice is not None:
        hub["tool_choice"] = choice
    if stream:
        hub["stream"] = True
        hub["stream_options"] = {"include_usage": True}
    return hub


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConversionError(f"{field} must be a list")
    return value


def _dict(value: Any, field: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConversionError(f"{field} must be an object")
    return value


# ---- system instruction and contents ---------------------------------------------------------

def _system(instruction: Any) -> list[dict[str, Any]]:
    if isinstance(instruction, str):   # the SDKs accept a bare string; tolerate it on the wire too
        return [{"role": "system", "content": instruction}] if instruction else []
    texts = []
    for part in _list(_dict(instruction, "systemInstruction").get("parts"), "systemInstruction.parts"):
        if not isinstance(part, dict) or set(part) - {"text", "thoughtSignature"}:
            raise ConversionError("systemInstruction may only hold text parts")
        if part.get("text"):
            texts.append(str(part["text"]))
    return [{"role": "system", "content": "\n".join(texts)}] if texts else []


class _Calls:
    """The calls of the model turns so far, to give each functionResponse its call's id."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []   # (id, name) not answered yet, in call order

    def add(self, call_id: str, name: str) -> None:
        self.pending.append((call_id, name))

    def answer(self, call_id: Any, name: Any) -> str:
        """By id; a response whose id matches no call (or that has none) takes the first call of its name."""
        ids = [pending_id for pending_id, _ in self.pending]
        for i, (pending_id, pending_name) in enumerate(self.pending):
            if pending_id == call_id or (call_id not in ids and pending_name == name):
                del self.pending[i]
                return pending_id
        raise ConversionError(f"functionResponse {name!r} answers no earlier functionCall"
                              + (f" with id {call_id!r}" if call_id else ""))


def _messages(contents: list[Any]) -> list[dict[str, Any]]:
    calls = _Calls()
    out: list[dict[str, Any]] = []
    for turn, content in enumerate(contents):
        content = _dict(content, "contents[]")
        role = content.get("role") or "user"
        parts = _list(content.get("parts"), "parts")
        if role == "model":
            out.extend(_model_turn(parts, turn, calls))
        elif role in ("user", "function"):
            out.extend(_user_turn(parts, calls))
        else:
            raise ConversionError(f"content role {role!r} is not supported (user or model)")
    return out


def _model_turn(parts: list[Any], turn: int, calls: _Calls) -> list[dict[str, Any]]:
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for part in parts:
        part = _dict(part, "parts[]")
        if part.get("thought"):
            continue
        if "functionCall" in part:
            tool_calls.append(_tool_call(part, f"call_{turn}_{len(tool_calls)}"))
            calls.add(tool_calls[-1]["id"], tool_calls[-1]["function"]["name"])
        elif "text" in part:
            texts.append(str(part["text"] or ""))
        elif set(part) - {"thoughtSignature"}:
            raise ConversionError(f"model part {_kind(part)!r} is not supported")
    if not texts and not tool_calls:
        return []
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return [message]


def _tool_call(part: Mapping[str, Any], fallback_id: str) -> dict[str, Any]:
    call = _dict(part["functionCall"], "functionCall")
    if not call.get("name"):
        raise ConversionError("functionCall needs a name")
    args = call.get("args") if call.get("args") is not None else {}
    if not isinstance(args, dict):
        raise ConversionError(f"functionCall {call['name']!r} args must be an object")
    out: dict[str, Any] = {"id": str(call.get("id") or fallback_id), "type": "function",
                           "function": {"name": call["name"], "arguments": orjson.dumps(args).decode()}}
    signature = part.get("thoughtSignature")
    if signature and signature != SYNTHETIC_SIGNATURE:
        out["extra_content"] = {"google": {"thought_signature": signature}}
    return out


def _user_turn(parts: list[Any], calls: _Calls) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    for part in parts:
        part = _dict(part, "parts[]")
        if part.get("thought"):
            continue
        if "functionResponse" in part:
            tools.append(_tool_result(_dict(part["functionResponse"], "functionResponse"), calls))
            continue
        if _kind(part) == "empty":   # a lone thoughtSignature
            continue
        builder = _USER_PARTS.get(_kind(part))
        if builder is None:
            raise ConversionError(f"user part {_kind(part)!r} is not supported")
        item = builder(part)
        if item is not None:
            content.append(item)
    if not content:
        return tools
    if all(p["type"] == "text" for p in content):
        return tools + [{"role": "user", "content": "\n".join(p["text"] for p in content)}]
    return tools + [{"role": "user", "content": content}]


def _tool_result(response: Mapping[str, Any], calls: _Calls) -> dict[str, Any]:
    if response.get("parts"):
        raise ConversionError("functionResponse parts (media in a tool result) are not supported")
    call_id = calls.answer(response.get("id"), response.get("name"))
    result = response.get("response") if response.get("response") is not None else {}
    return {"role": "tool", "tool_call_id": call_id, "content": orjson.dumps(result).decode()}


def _kind(part: Mapping[str, Any]) -> str:
    """The part's data field (text, inlineData, ...), ignoring its metadata."""
    keys = sorted(set(part) - {"thought", "thoughtSignature", "partMetadata"})
    return keys[0] if keys else "empty"


def _text_part(part: Mapping[str, Any]) -> dict[str, Any] | None:
    return {"type": "text", "text": str(part["text"])} if part.get("text") else None


def _inline_part(part: Mapping[str, Any]) -> dict[str, Any]:
    blob = _dict(part["inlineData"], "inlineData")
    mime, data = str(blob.get("mimeType") or ""), str(blob.get("data") or "")
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
    if mime in _AUDIO_FORMATS:
        return {"type": "input_audio", "input_audio": {"data": data, "format": _AUDIO_FORMATS[mime]}}
    if mime == "application/pdf":
        return {"type": "file", "file": {"filename": "document.pdf", "file_data": f"data:{mime};base64,{data}"}}
    raise ConversionError(f"inlineData of type {mime!r} is not supported (images, wav/mp3 audio and PDF are)")


def _file_part(part: Mapping[str, Any]) -> dict[str, Any]:
    ref = _dict(part["fileData"], "fileData")
    uri, mime = str(ref.get("fileUri") or ""), str(ref.get("mimeType") or "")
    files_api = "generativelanguage.googleapis.com" in uri
    if uri.startswith(("http://", "https://")) and not files_api and mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": uri}}
    raise ConversionError(f"fileData {uri!r} is not supported: only http(s) image URLs are (send other files "
                          "as inlineData)")


_USER_PARTS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any] | None]] = {
    "text": _text_part, "inlineData": _inline_part, "fileData": _file_part,
}


# ---- tools -----------------------------------------------------------------------------------

def _functions(tool: Any) -> list[dict[str, Any]]:
    tool = _dict(tool, "tools[]")
    other = sorted(set(tool) - {"functionDeclarations"})
    if other:
        raise ConversionError(f"the {other[0]} tool is not supported (only functionDeclarations)")
    return [_function(_dict(d, "functionDeclarations[]"))
            for d in _list(tool.get("functionDeclarations"), "functionDeclarations")]


def _function(declaration: Mapping[str, Any]) -> dict[str, Any]:
    name = str(declaration.get("name") or "")
    if not _OPENAI_NAME.fullmatch(name):
        raise ConversionError(f"function name {name!r} is not supported: letters, digits, _ and - (at most 64)")
    if "parametersJsonSchema" in declaration:
        parameters = json_schema_case(declaration["parametersJsonSchema"])
    elif "parameters" in declaration:
        parameters = _json_schema(declaration["parameters"])
    else:
        parameters = {"type": "object", "properties": {}}
    fn: dict[str, Any] = {"name": name, "parameters": parameters}
    if declaration.get("description"):
        fn["description"] = declaration["description"]
    return {"type": "function", "function": fn}


_JSON_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
# JSON Schema keywords whose value is a schema, a list of schemas, or a name → schema map
_SUBSCHEMA = frozenset({"items", "additionalProperties", "not", "if", "then", "else", "contains",
                        "propertyNames", "additionalItems", "unevaluatedItems", "unevaluatedProperties"})
_SUBSCHEMAS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def _type_name(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.lower() in _JSON_TYPES else value


def json_schema_case(schema: Any) -> Any:
    """A JSON Schema (`parametersJsonSchema`, `responseJsonSchema`) with Gemini's upper-case type names
    (OBJECT, STRING: Gemini takes them, Gemini CLI sends them) lowercased for JSON Schema readers; nothing else
    changes (a property named "type" stays a property)."""
    if isinstance(schema, list):
        return [json_schema_case(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type":
            out[key] = [_type_name(v) for v in value] if isinstance(value, list) else _type_name(value)
        elif key in _SUBSCHEMA or key in _SUBSCHEMAS:
            out[key] = json_schema_case(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: json_schema_case(sub) for name, sub in value.items()}
        else:
            out[key] = value
    return out


def _json_schema(schema: Any) -> Any:
    """Gemini's OpenAPI `Schema` as JSON Schema, recursively: type names lowercased (OBJECT → object), `nullable`
    as a "null" type, `propertyOrdering` (an ordering hint JSON Schema has no word for) left out."""
    if isinstance(schema, list):
        return [_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            out[key] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _json_schema(v) for k, v in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _json_schema(value)
        elif key not in ("nullable", "propertyOrdering"):
            out[key] = value
    if schema.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _tool_choice(config: Mapping[str, Any]) -> Any:
    if set(config) - {"functionCallingConfig"}:
        raise ConversionError(f"toolConfig.{sorted(set(config) - {'functionCallingConfig'})[0]} is not supported")
    calling = _dict(config.get("functionCallingConfig"), "functionCallingConfig")
    if not calling:
        return None
    mode = str(calling.get("mode") or "AUTO").upper()
    if mode not in _TOOL_MODES:
        raise ConversionError(f"functionCallingConfig mode {mode!r} is not supported")
    names = _list(calling.get("allowedFunctionNames"), "allowedFunctionNames")
    if mode == "NONE" or not names:
        return _TOOL_MODES[mode]
    if mode == "ANY" and len(names) == 1:
        return {"type": "function", "function": {"name": names[0]}}
    return {"type": "allowed_tools", "allowed_tools": {   # only these functions; ANY: one of them must be called
        "mode": _TOOL_MODES[mode], "tools": [{"type": "function", "function": {"name": n}} for n in names]}}


# ---- generation config -----------------------------------------------------------------------

def _generation(config: Mapping[str, Any], stream: bool) -> dict[str, Any]:
    unknown = sorted(set(config) - set(_SAMPLING) - _GENERATION_OTHER - {"responseLogprobs"})
    if unknown or config.get("responseLogprobs"):
        raise ConversionError(f"generationConfig.{(unknown or ['responseLogprobs'])[0]} is not supported")
    out = {dst: config[src] for src, dst in _SAMPLING.items() if config.get(src) is not None}
    count = config.get("candidateCount")
    if count is not None and count != 1:
        if stream:
            raise ConversionError("candidateCount above 1 is not supported with streamGenerateContent")
        out["n"] = count
    if config.get("stopSequences"):
        out["stop"] = list(_list(config["stopSequences"], "stopSequences"))
    modalities = [str(m).upper() for m in _list(config.get("responseModalities"), "responseModalities")]
    if any(m != "TEXT" for m in modalities):
        raise ConversionError("responseModalities other than TEXT are not supported")
    out.update(_response_format(config))
    effort = _effort(_dict(config.get("thinkingConfig"), "thinkingConfig"))
    if effort:
        out["reasoning_effort"] = effort
    return out


def _response_format(config: Mapping[str, Any]) -> dict[str, Any]:
    mime = config.get("responseMimeType") or "text/plain"
    schema = json_schema_case(config.get("responseJsonSchema"))
    if schema is None and config.get("responseSchema") is not None:
        schema = _json_schema(config["responseSchema"])
    if mime == "text/plain" and schema is None:
        return {}
    if mime != "application/json":
        raise ConversionError(f"responseMimeType {mime!r} is not supported (text/plain or application/json)")
    if schema is None:
        return {"response_format": {"type": "json_object"}}
    return {"response_format": {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}}


def _effort(thinking: Mapping[str, Any]) -> str | None:
    unknown = sorted(set(thinking) - {"includeThoughts", "thinkingBudget", "thinkingLevel"})
    if unknown:
        raise ConversionError(f"thinkingConfig.{unknown[0]} is not supported")
    level = thinking.get("thinkingLevel")
    if level is not None:
        if str(level).upper() not in _LEVELS:
            raise ConversionError(f"thinkingLevel {level!r} is not supported")
        return _LEVELS[str(level).upper()]
    budget = thinking.get("thinkingBudget")
    if budget is None or budget == -1:
        return None
    if not isinstance(budget, int) or budget < -1:
        raise ConversionError(f"thinkingBudget {budget!r} must be -1, 0 or a positive number of tokens")
    return "none" if budget == 0 else "low" if budget <= 1024 else "medium" if budget <= 8192 else "high"
