"""The hub's (OpenAI chat) whole answer and errors → Gemini `generateContent` (client-dialects.md §4.4, §4.7, §5.2-5.4).

- message.content (and a refusal) → a text part; reasoning_content → a `thought: true` text part, only when the
  request asked for thoughts (`thinkingConfig.includeThoughts`), as Gemini does.
- tool_calls → whole functionCall parts {id, name, args}; the call's `extra_content.google.thought_signature`
  becomes its thoughtSignature, else the first call gets SYNTHETIC_SIGNATURE, the sentinel Gemini CLI itself
  puts on calls without one (a Gemini channel then skips the check). Arguments that are not a JSON object
  drop the call and end the candidate with MALFORMED_FUNCTION_CALL, Gemini's own word for it (Gemini CLI
  retries).
- finish_reason: stop, tool_calls → STOP; length → MAX_TOKENS; content_filter → SAFETY; none → STOP (Gemini
  CLI refuses a text answer without one); anything else → OTHER.
- usage: promptTokenCount = prompt_tokens (cache reads and writes are inside, as in Gemini), cachedContentTokenCount
  = cached_tokens, thoughtsTokenCount = reasoning_tokens, candidatesTokenCount = completion_tokens − reasoning
  (Gemini counts thoughts outside the candidates), totalTokenCount. Gemini has no field for cache writes.
- model → modelVersion, id → responseId; each choice is a candidate with its index.
- errors: `{"error": {"code", "message", "status"}}` with the google.rpc status of the HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from proxy.converters.base import OpenAIError, Usage
from proxy.converters.dialects.gemini_client_names import field
from proxy.converters.usage import usage_from_openai as hub_usage

__all__ = ["SYNTHETIC_SIGNATURE", "error_from_openai", "finish_reason", "function_call_part", "response_from_openai",
           "usage_from_openai", "usage_metadata", "wants_thoughts"]

# Gemini CLI's own stand-in for a missing signature (geminiChat.ts); Gemini accepts it and skips the check
SYNTHETIC_SIGNATURE = "skip_thought_signature_validator"

_FINISH = {"stop": "STOP", "tool_calls": "STOP", "function_call": "STOP", "length": "MAX_TOKENS",
           "content_filter": "SAFETY"}
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           409: "ABORTED", 413: "INVALID_ARGUMENT", 422: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED",
           499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_RPC_CODES = frozenset(_STATUS.values()) | {"FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS", "DATA_LOSS",
                                            "UNKNOWN"}


def wants_thoughts(request: Mapping[str, Any] | None) -> bool:
    """Whether the client asked for thought parts (Gemini sends none unless includeThoughts)."""
    return bool(field(field(field(request, "generationConfig"), "thinkingConfig"), "includeThoughts"))


def finish_reason(reason: Any) -> str:
    return "STOP" if reason is None else _FINISH.get(str(reason), "OTHER")


def usage_from_openai(usage: Any) -> Usage:
    """The hub's usage object as numbers, every part (zero when absent)."""
    return hub_usage(usage) or Usage()


def usage_metadata(usage: Usage, total: Any = None) -> dict[str, Any]:
    """Gemini's usageMetadata: thoughts are outside candidatesTokenCount, cache reads inside promptTokenCount."""
    out: dict[str, Any] = {"promptTokenCount": usage.prompt_tokens,
                           "candidatesTokenCount": max(usage.completion_tokens - usage.reasoning_tokens, 0),
                           "totalTokenCount": int(total) if isinstance(total, int) and total else usage.total_tokens}
    if usage.cached_tokens:
        out["cachedContentTokenCount"] = usage.cached_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    return out


def function_call_part(call: Mapping[str, Any], first: bool) -> dict[str, Any] | None:
    """A whole tool call as a functionCall part; None when its arguments are not a JSON object."""
    fn = call.get("function") or {}
    raw = fn.get("arguments") or "{}"
    try:
        args = raw if isinstance(raw, dict) else orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(args, dict):
        return None
    function_call: dict[str, Any] = {"name": fn.get("name") or "", "args": args}
    if call.get("id"):
        function_call = {"id": call["id"], **function_call}
    part: dict[str, Any] = {"functionCall": function_call}
    extra = call.get("extra_content")
    signature = ((extra.get("google") or {}).get("thought_signature") if isinstance(extra, dict) else None)
    if signature or first:
        part["thoughtSignature"] = signature or SYNTHETIC_SIGNATURE
    return part


def _text(content: Any) -> str:
    if isinstance(content, list):   # content parts in an answer: their texts
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, dict))
    return str(content or "")


def _candidate(choice: Mapping[str, Any], thoughts: bool) -> dict[str, Any]:
    message = choice.get("message") or {}
    parts: list[dict[str, Any]] = []
    if thoughts and message.get("reasoning_content"):
        parts.append({"text": str(message["reasoning_content"]), "thought": True})
    for text in (_text(message.get("content")), str(message.get("refusal") or "")):
        if text:
            parts.append({"text": text})
    finish = finish_reason(choice.get("finish_reason"))
    for call in message.get("tool_calls") or []:
        part = function_call_part(call, first=not any("functionCall" in p for p in parts))
        if part is None:
            finish = "MALFORMED_FUNCTION_CALL"
        else:
            parts.append(part)
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "finishReason": finish,
                                 "index": int(choice.get("index") or 0)}
    if finish == "MALFORMED_FUNCTION_CALL":
        candidate["finishMessage"] = "the model's function call arguments are not a JSON object"
    return candidate


def response_from_openai(body: Mapping[str, Any], *, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A `chat.completion` as a GenerateContentResponse."""
    thoughts = wants_thoughts(request)
    out: dict[str, Any] = {"candidates": [_candidate(c, thoughts) for c in body.get("choices") or []]}
    if isinstance(body.get("usage"), dict):
        out["usageMetadata"] = usage_metadata(usage_from_openai(body["usage"]), body["usage"].get("total_tokens"))
    if body.get("model"):
        out["modelVersion"] = body["model"]
    if body.get("id"):
        out["responseId"] = body["id"]
    return out


def error_body(error: OpenAIError) -> dict[str, Any]:
    """google.rpc.Status: the HTTP status as `code`, its rpc name (or the upstream's own) as `status`."""
    status = error.status if 400 <= error.status <= 599 else 500
    code = str(error.code) if error.code is not None else ""
    rpc = code if code in _RPC_CODES else _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return {"error": {"code": status, "message": error.message, "status": rpc}}


def error_from_openai(error: OpenAIError) -> tuple[int, bytes]:
    body = error_body(error)
    return body["error"]["code"], orjson.dumps(body)
