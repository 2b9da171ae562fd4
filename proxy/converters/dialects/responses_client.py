"""The OpenAI Responses dialect (Codex CLI) on any channel: its request to the hub (OpenAI chat) and back.

Stateless only: `input` carries the whole history (client-dialects.md §3, §5). Decisions per field:

Request → hub (proxy.converters.dialects.responses_request):
- `instructions` → the first `system` message; `developer` and `system` input messages → `system` messages in
  place (their text parts joined with a blank line); user `input_text` → text, `input_image` (URL or data URL,
  `detail`) → `image_url`, `input_file` with inline `file_data` → chat `file` part; assistant `output_text` →
  content, `refusal` → `refusal`.
- `function_call` items join the assistant message before them as `tool_calls` (id = `call_id`);
  `function_call_output` → a `tool` message (a list output → text parts; an image or file there is refused:
  chat's tool results are text). `custom_tool_call` / `custom_tool_call_output` the same, the free text as the
  arguments `{"input": "<text>"}`.
- `reasoning` items are dropped, `encrypted_content` included: only OpenAI can read it, and the hub's
  providers cannot take reasoning back. (Chat reasoning sent back by DeepSeek-style tool loops is therefore lost.)
- tools: `function` → chat's nested function (`strict` kept); `namespace` members → functions named
  `<namespace>__<name>`, split back into `name` + `namespace` in the answer; the hosted `web_search` tool Codex
  declares on every request is left out (it cannot run elsewhere, and refusing it would break every Codex
  request, client-dialects.md §0.8); every other hosted tool is refused. A `custom` (free-text) tool → a
  function of one string parameter `input`; its grammar, which the hub cannot enforce, is appended to the
  description (lossy, said here), and its calls come back as `custom_tool_call` items. Two tools with one
  joined name are refused.
- `tool_choice`: none/auto/required as is, a named function or custom tool → that function, `allowed_tools`
  (functions, custom tools) → chat's `allowed_tools`; a hosted tool choice is refused. `parallel_tool_calls`,
  `temperature`, `top_p`, `user`, `safety_identifier`, `prompt_cache_key` pass; `top_logprobs` → `logprobs` +
  `top_logprobs`.
- `max_output_tokens` → `max_completion_tokens`; `reasoning.effort` → `reasoning_effort` (`summary` has no
  chat equivalent: the answer carries the hub's reasoning as a summary whenever there is one).
- `text.format`: `json_schema` → `response_format` `{"type":"json_schema","json_schema":{name, schema, strict,
  description}}`, `json_object` as is, `text` → nothing; `text.verbosity` is ignored.
- `stream` → `stream` + `stream_options.include_usage` (billing needs the usage chunk).
- Refused (400, before any upstream call): `previous_response_id`, `conversation`, `prompt` (templates) and
  `background: true` (state on OpenAI's servers), `item_reference` items, file ids, `file_url`, `max_tool_calls`
  (no chat equivalent), any other item, part or tool type.
- Ignored: `store`, `include`, `metadata`, `client_metadata`, `truncation`, `service_tier`,
  `prompt_cache_retention`, `stream_options`, and unknown top-level fields (as OpenAI-compatible servers do).

Hub → answer: reasoning (`reasoning_content`/`reasoning`) → a `reasoning` item with one `summary_text` and no
`encrypted_content`; content → a `message` item (`output_text`, `refusal`); each tool call → a `function_call`
item (`fc_…` id, `call_id`, name split from its namespace), or a `custom_tool_call` (`input` = the `input`
argument; the raw arguments when the model wrote something else). `stop`/`tool_calls` → `completed`; `length` →
`incomplete` (`max_output_tokens`), `content_filter` → `incomplete` (`content_filter`). `model` is the one the
client asked for. Usage: `input_tokens` = prompt (cached included), `input_tokens_details.cached_tokens` (and
`cache_write_tokens` when the hub has it), `output_tokens` = completion (reasoning included),
`output_tokens_details.reasoning_tokens`, `total_tokens`, all integers. A hub error → OpenAI's error envelope
with its status (HTTP) or `response.failed` (in a stream; proxy.converters.dialects.responses_stream).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import OpenAIError, StreamConverter
from proxy.converters.dialects.responses_output import (
    Names,
    as_mapping,
    call_item,
    failure,
    message_item,
    output_text,
    reasoning_item,
    response_base,
    response_object,
    status_of,
    usage_of,
)
from proxy.converters.dialects.responses_request import request_to_openai
from proxy.converters.dialects.responses_stream import ResponsesStream
from proxy.converters.errors import type_for_status

__all__ = ["DIALECT", "error_from_openai", "request_to_openai", "response_from_openai", "stream_from_openai"]

DIALECT = "responses"


def response_from_openai(body: Mapping[str, Any], *, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A whole hub answer (`chat.completion`) as a Responses `response` object."""
    base = response_base(body.get("id"))
    created = body["created"] if isinstance(body.get("created"), int) else int(time.time())
    model = body["model"] if isinstance(body.get("model"), str) else ""
    if isinstance(body.get("error"), Mapping):
        err = body["error"]
        code: int = err["status"] if isinstance(err.get("status"), int) else 500
        error = OpenAIError(code, str(err.get("message") or "upstream error"),
                            str(err.get("type") or type_for_status(code)), code=err.get("code"))
        return response_object(request, response_id=f"resp_{base}", created_at=created, model=model,
                               status="failed", output=[], usage=None, error=failure(error))
    choices = body.get("choices")
    choice = as_mapping(choices[0] if isinstance(choices, list) and choices else None)
    status, reason = status_of(choice.get("finish_reason"))
    item_status = "incomplete" if status == "incomplete" else "completed"
    output = _output(as_mapping(choice.get("message")), base, item_status, Names(request))
    return response_object(request, response_id=f"resp_{base}", created_at=created, model=model, status=status,
                           output=output, usage=usage_of(body.get("usage")), incomplete_reason=reason)


def _output(message: Mapping[str, Any], base: str, status: str, names: Names) -> list[dict[str, Any]]:
    """Reasoning, then the message, then the tool calls, as a model answers them."""
    out: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        out.append(reasoning_item(f"rs_{base}_{len(out)}", reasoning))
    parts: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    if text:
        parts.append(output_text(text))
    if isinstance(message.get("refusal"), str) and message["refusal"]:
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        out.append(message_item(f"msg_{base}_{len(out)}", parts, status))
    calls = [c for c in message.get("tool_calls") or [] if isinstance(c, Mapping)]
    if isinstance(message.get("function_call"), Mapping):
        calls.append({"id": f"call_{base}_fn", "function": message["function_call"]})
    for i, call in enumerate(calls):
        function = as_mapping(call.get("function"))
        call_id = call["id"] if isinstance(call.get("id"), str) and call["id"] else f"call_{base}_{i}"
        arguments = str(function.get("arguments") or "")
        out.append(call_item(call_id, str(function.get("name") or ""), arguments, status, names))
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def stream_from_openai(*, request: Mapping[str, Any] | None = None) -> StreamConverter:
    """The incremental converter of a hub chat stream into Responses events."""
    return ResponsesStream(request)


def error_from_openai(error: OpenAIError) -> tuple[int, bytes]:
    """An error before the answer starts: Responses clients read OpenAI's own error envelope."""
    return error.status, orjson.dumps(error.to_body())
