"""The Anthropic Messages client dialect (Claude Code, the `anthropic` SDKs): their request to the hub (OpenAI
chat) and the hub's answer back, whole or streamed. Used only when the channel does not speak Anthropic itself
(same dialect passes through untouched), so nothing made here ever reaches an Anthropic channel.

Decisions per field (client-dialects.md §5; refused = ConversionError, a 400 before any upstream call):

* system: the `system` string or text blocks → the first `system` message (texts joined by newlines);
  `role: "system"` messages inside `messages` → `system` messages at their place. Other block types there
  (`tool_addition`/`tool_removal`) are refused.
* user blocks: text → text part; image (base64 jpeg/png/gif/webp, or url) → `image_url`; document: base64 PDF →
  chat `file` part (channels that take no files refuse it in their converter), plain-text or content document →
  text; other sources and block types refused. `tool_result` → a `tool` message per block, in block order,
  before the rest of that user message; its text joined, `is_error` prefixes "Error: "; images in a tool result
  move to the user message that follows the tool messages (after a text part naming the call), since the hub's
  `tool` message is text only; documents in a tool result are refused.
* assistant blocks: text → content, tool_use → `tool_calls` (input as JSON); `thinking` and `redacted_thinking`
  are dropped: their signatures only mean something to Anthropic, and the ones this converter made (empty
  signature) are never valid there, so an echoed block never reaches any channel. Server-tool blocks refused.
* tools: custom tools → functions (`input_schema` → `parameters`, `strict` kept); server tools (dated `type`)
  and `mcp_servers` refused. `cache_control`, `defer_loading`, `input_examples`, `eager_input_streaming` dropped.
  tool_choice auto/any/tool/none → "auto"/"required"/named/"none", and `disable_parallel_tool_use` →
  `parallel_tool_calls: false`, both only with tools (without, they change nothing and OpenAI refuses them).
* thinking: `output_config.effort` → `reasoning_effort` (xhigh and max → high, the hub's highest); else
  `thinking.budget_tokens` → low (≤ 4096), medium (≤ 16384), high; `adaptive`/`disabled` set nothing (the
  channel's default; "none" is refused by many reasoning models). A thinking block is sent back only when the
  request asked for thinking (`enabled`/`adaptive`), with `signature: ""`; otherwise reasoning text is not shown
  (still counted in the output tokens).
* `max_tokens` (required) → `max_tokens`; `stop_sequences` → `stop`; `temperature`, `top_p` kept; `top_k`
  dropped (OpenAI channels refuse it); `output_config.format` (json_schema) → `response_format`;
  `metadata.user_id` → `safety_identifier` as its SHA-256 (Claude Code's is 150 characters, the hub takes 128);
  `stream` → `stream` + `stream_options.include_usage`.
* dropped (they tune Anthropic's own service): `cache_control` anywhere, `context_management`, `container`,
  `service_tier`, `speed`, `inference_geo`, and top-level fields this converter does not know (new betas must not
  break a request; they cannot act on another provider anyway).
* answer: `reasoning_content` → thinking block, content → text block, refusal → text block with stop_reason
  `refusal`, tool_calls → tool_use blocks (arguments that are not a JSON object: a 502 ConversionError);
  finish stop/length/tool_calls/content_filter → end_turn/max_tokens/tool_use/refusal; `stop_sequence` is always
  null (the hub does not say which stop matched). Usage: input = prompt − cached − cache writes,
  `cache_read_input_tokens` = cached, `cache_creation_input_tokens` = cache writes (0 when the hub has none;
  no `cache_creation` 5m/1h split, which only Anthropic knows),
  `output_tokens` = completion (with reasoning), `output_tokens_details.thinking_tokens` = reasoning tokens.
  The `model` is the one the client asked for.
* errors: `{"type":"error","error":{type,message}}` with the hub's status (the SDKs choose their exception class
  by status); in a stream, an `error` event and nothing after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.converters.base import StreamConverter
from proxy.converters.dialects.anthropic_client_answer import error_from_openai, response_from_openai
from proxy.converters.dialects.anthropic_client_request import request_to_openai
from proxy.converters.dialects.anthropic_client_stream import AnthropicStreamFromOpenAI

__all__ = ["DIALECT", "error_from_openai", "request_to_openai", "response_from_openai", "stream_from_openai"]

DIALECT = "anthropic"


def stream_from_openai(*, request: Mapping[str, Any] | None = None) -> StreamConverter:
    """A converter of one hub stream into the Anthropic stream the client asked for with `request`."""
    return AnthropicStreamFromOpenAI(request)
