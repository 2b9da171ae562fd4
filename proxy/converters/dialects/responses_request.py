"""A Responses API request (Codex CLI) → an OpenAI chat request, the hub every channel speaks.

The decisions per field are listed in proxy.converters.dialects.responses_client; what cannot be said in chat
raises ConversionError (400) before any upstream call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import ConversionError

__all__ = ["CUSTOM_INPUT", "NAMESPACE_SEPARATOR", "flat_name", "request_to_openai"]

# a namespace member `m` of namespace `ns` is the hub function `ns__m`; the answer splits it back
NAMESPACE_SEPARATOR = "__"
# a custom (free-text) tool is a hub function taking this one string parameter
CUSTOM_INPUT = "input"
# hosted tools Codex declares on every request: they cannot run on another provider, so they are left out
DROPPED_TOOLS = frozenset({"web_search", "web_search_preview", "web_search_2025_08_26",
                           "web_search_preview_2025_03_11"})
# server-side state only OpenAI holds
REFUSED_FIELDS = ("previous_response_id", "conversation", "prompt", "max_tool_calls")
PASSED_FIELDS = ("temperature", "top_p", "parallel_tool_calls", "prompt_cache_key", "safety_identifier", "user")


def flat_name(name: str, namespace: str | None) -> str:
    """The hub's name of a (namespace, function) pair."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name


def _refuse(message: str, param: str = "") -> ConversionError:
    suffix = f" ({param})" if param else ""
    return ConversionError(f"{message}{suffix}: not supported by this channel's API, only by OpenAI channels",
                           code="unsupported_parameter")


def request_to_openai(body: Mapping[str, Any], *, model: str = "", stream: bool | None = None) -> dict[str, Any]:
    """The hub request of a Responses request; raises ConversionError for what chat cannot carry. `model` and
    `stream` override the body's (the relay's model mapping; a Responses body says both itself)."""
    for name in REFUSED_FIELDS:
        if body.get(name) is not None:
            raise _refuse(f"'{name}' keeps state on OpenAI's servers", name)
    if body.get("background"):
        raise _refuse("'background' responses are stored and polled on OpenAI's servers", "background")
    out: dict[str, Any] = {"model": model or body.get("model", "")}
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    messages.extend(_messages(body.get("input")))
    out["messages"] = messages
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    for name in PASSED_FIELDS:
        if body.get(name) is not None:
            out[name] = body[name]
    if not tools:   # chat refuses these without tools (Codex's web_search alone leaves none); they change nothing
        out.pop("parallel_tool_calls", None)
        if out.get("tool_choice") in ("auto", "none"):
            del out["tool_choice"]
    if body.get("max_output_tokens") is not None:
        out["max_completion_tokens"] = body["max_output_tokens"]
    if body.get("top_logprobs"):
        out["logprobs"], out["top_logprobs"] = True, body["top_logprobs"]
    reasoning = body.get("reasoning")
    if isinstance(reasoning, Mapping) and reasoning.get("effort") is not None:
        out["reasoning_effort"] = reasoning["effort"]
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        out["response_format"] = response_format
    if body.get("stream") if stream is None else stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


# ---------------------------------------------------------------- input items

def _messages(items: Any) -> list[dict[str, Any]]:
    if items is None:
        return []
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise ConversionError("'input' must be a string or a list of items")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConversionError(f"input[{i}] must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            out.append(_message(item, i))
        elif kind == "function_call":
            _add_call(out, item, i, item.get("arguments", ""))
        elif kind == "custom_tool_call":
            _add_call(out, item, i, orjson.dumps({CUSTOM_INPUT: str(item.get("input", ""))}).decode())
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append({"role": "tool", "tool_call_id": _str(item, "call_id", i),
                        "content": _tool_output(item.get("output"), i)})
        elif kind == "reasoning":
            continue   # summaries and encrypted_content mean something to OpenAI only
        elif kind == "item_reference":
            raise _refuse("'item_reference' input items point at items stored on OpenAI's servers", f"input[{i}]")
        else:
            raise ConversionError(f"input[{i}]: items of type '{kind}' cannot be converted for this channel")
    return out


def _str(item: Mapping[str, Any], key: str, i: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise ConversionError(f"input[{i}].{key} must be a non-empty string")
    return value


def _message(item: Mapping[str, Any], i: int) -> dict[str, Any]:
    role = item.get("role")
    content = item.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _joined_text(content, i, ("input_text",))}
    if role == "assistant":
        return _assistant(content, i)
    if role != "user":
        raise ConversionError(f"input[{i}].role must be user, assistant, system or developer, not {role!r}")
    if isinstance(content, str):
        return {"role": "user", "content": content}
    parts = [_user_part(part, i) for part in _parts(content, i)]
    if all(p["type"] == "text" for p in parts) and len(parts) == 1:
        return {"role": "user", "content": parts[0]["text"]}
    return {"role": "user", "content": parts}


def _parts(content: Any, i: int) -> list[Mapping[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(p, Mapping) for p in content):
        raise ConversionError(f"input[{i}].content must be a string or a list of content parts")
    return content


def _joined_text(content: Any, i: int, kinds: tuple[str, ...]) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in _parts(content, i):
        if part.get("type") not in kinds:
            raise ConversionError(f"input[{i}]: a {part.get('type')!r} part cannot stand in this message")
        texts.append(str(part.get("text", "")))
    return "\n\n".join(texts)


def _assistant(content: Any, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant"}
    if content is None or isinstance(content, str):
        out["content"] = content
        return out
    texts, refusals = [], []
    for part in _parts(content, i):
        if part.get("type") in ("output_text", "input_text"):
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "refusal":
            refusals.append(str(part.get("refusal", "")))
        else:
            raise ConversionError(f"input[{i}]: a {part.get('type')!r} part cannot stand in an assistant message")
    out["content"] = "".join(texts) if texts else None
    if refusals:
        out["refusal"] = "".join(refusals)
    return out


def _user_part(part: Mapping[str, Any], i: int) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "input_text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind == "input_image":
        if part.get("file_id"):
            raise _refuse("an input_image given by 'file_id' is stored on OpenAI's servers", f"input[{i}]")
        if not isinstance(part.get("image_url"), str) or not part["image_url"]:
            raise ConversionError(f"input[{i}]: an input_image needs an image_url")
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail") is not None:
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        if not isinstance(part.get("file_data"), str):
            raise _refuse("an input_file by 'file_id' or 'file_url' (only inline 'file_data' converts)",
                          f"input[{i}]")
        file = {"file_data": part["file_data"]}
        if part.get("filename"):
            file["filename"] = str(part["filename"])
        return {"type": "file", "file": file}
    raise ConversionError(f"input[{i}]: content parts of type {kind!r} cannot be converted for this channel")


def _add_call(out: list[dict[str, Any]], item: Mapping[str, Any], i: int, arguments: Any) -> None:
    """A function or custom tool call joins the assistant message before it (chat puts a turn's calls in one
    message)."""
    call = {"id": _str(item, "call_id", i), "type": "function",
            "function": {"name": flat_name(_str(item, "name", i), item.get("namespace")),
                         "arguments": arguments if isinstance(arguments, str) else ""}}
    last = out[-1] if out else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
        return
    out.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tool_output(output: Any, i: int) -> Any:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return [{"type": "text", "text": str(p.get("text", ""))} for p in _text_parts(output, i)]
    raise ConversionError(f"input[{i}].output must be a string or a list of input_text parts")


def _text_parts(parts: list[Any], i: int) -> list[Mapping[str, Any]]:
    for part in parts:
        if not isinstance(part, Mapping) or part.get("type") != "input_text":
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise ConversionError(f"input[{i}].output: a {kind!r} part cannot be converted (chat's tool results "
                                  f"are text only)")
    return parts


# ---------------------------------------------------------------- tools, tool choice, format

def _tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise ConversionError("'tools' must be a list")
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind in ("function", "custom"):
            out.append(_function(tool, None, f"tools[{i}]"))
        elif kind == "namespace":
            members = tool.get("tools")
            if not isinstance(members, list) or not all(isinstance(m, Mapping) and m.get("type") in
                                                        ("function", "custom") for m in members):
                raise ConversionError(f"tools[{i}]: a namespace converts only when its tools are function or "
                                      f"custom tools", code="unsupported_tool")
            out.extend(_function(m, _name(tool, f"tools[{i}]"), f"tools[{i}]") for m in members)
        elif kind in DROPPED_TOOLS:
            continue
        else:
            raise ConversionError(f"tools[{i}]: the tool type {kind!r} cannot run on this channel (only function, "
                                  f"custom and namespace tools convert)", code="unsupported_tool")
    names = [t["function"]["name"] for t in out]
    if len(names) != len(set(names)):
        raise ConversionError("two tools have the same name once namespaces are joined with "
                              f"'{NAMESPACE_SEPARATOR}'", code="unsupported_tool")
    return out


def _name(tool: Mapping[str, Any], where: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise ConversionError(f"{where}: a tool needs a name")
    return name


def _function(tool: Mapping[str, Any], namespace: str | None, where: str) -> dict[str, Any]:
    function: dict[str, Any] = {"name": flat_name(_name(tool, where), namespace)}
    if tool.get("type") == "custom":
        return {"type": "function", "function": {**function, **_custom(tool, where)}}
    for key in ("description", "parameters", "strict"):
        if tool.get(key) is not None:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _custom(tool: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A free-text tool as a function of one string; a grammar the hub cannot enforce is told in the description."""
    description = str(tool.get("description") or "")
    fmt = tool.get("format")
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "grammar" and isinstance(fmt, Mapping):
        syntax, definition = fmt.get("syntax", ""), fmt.get("definition", "")
        rule = f"The `{CUSTOM_INPUT}` string must match this {syntax} grammar:\n{definition}"
        description = f"{description}\n\n{rule}" if description else rule
    elif fmt is not None and kind != "text":
        raise ConversionError(f"{where}: a custom tool format {kind!r} cannot be converted", code="unsupported_tool")
    parameters = {"type": "object", "properties": {CUSTOM_INPUT: {"type": "string"}}, "required": [CUSTOM_INPUT],
                  "additionalProperties": False}
    return {"description": description, "parameters": parameters} if description else {"parameters": parameters}


def _tool_choice(choice: Any) -> Any:
    if choice in ("none", "auto", "required"):
        return choice
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind in ("function", "custom") and isinstance(choice, Mapping):
        return {"type": "function", "function": {"name": _name(choice, "tool_choice")}}
    if kind == "allowed_tools" and isinstance(choice, Mapping):
        listed = choice.get("tools") or []
        if not all(isinstance(t, Mapping) and t.get("type") in ("function", "custom") for t in listed):
            raise ConversionError("tool_choice.allowed_tools converts only with function and custom tools",
                                  code="unsupported_tool")
        tools = [{"type": "function", "function": {"name": _name(t, "tool_choice")}} for t in listed]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode", "auto"), "tools": tools}}
    raise ConversionError(f"tool_choice {choice!r} cannot be converted (a hosted or custom tool cannot run on "
                          f"this channel)", code="unsupported_tool")


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, Mapping) else None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and isinstance(fmt, Mapping):
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    raise ConversionError(f"text.format of type {kind!r} cannot be converted")
