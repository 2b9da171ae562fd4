"""Anthropic Messages client dialect ↔ hub (OpenAI chat): request, answer, stream and error vectors, the captures
Claude Code sent, and the official `anthropic` SDK parsing what the converter writes (no network: its HTTP
client gets a mock transport)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, OpenAIError
from proxy.converters.dialects import anthropic_client as dialect
from proxy.converters.registry import DIALECTS, dialect_from

CAPTURES = Path(__file__).parents[3] / "fixtures" / "captures"
ASKS_THINKING = {"model": "claude-x", "thinking": {"type": "adaptive"}}


def capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / name).read_text())["body"]
    return body


def request(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}], **fields}


# -- registry ------------------------------------------------------------------------------------------------

def test_the_registry_holds_the_anthropic_dialect() -> None:
    assert DIALECTS["anthropic"] is dialect
    assert dialect_from(dialect) == ("anthropic", dialect)


# -- requests: the captures ----------------------------------------------------------------------------------

def test_claude_code_turn_1_capture() -> None:
    body = capture("claude-1.json")
    hub = dialect.request_to_openai(body)
    system, user, mid_system = hub["messages"]
    assert system == {"role": "system", "content": "\n".join(b["text"] for b in body["system"])}
    assert user == {"role": "user", "content": [{"type": "text", "text": "<306 characters of vendor text>"},
                                                {"type": "text", "text": "Read secret.txt and tell me the magic word"}]}
    assert mid_system == {"role": "system", "content": "<6062 characters of vendor text>"}
    assert [t["function"]["name"] for t in hub["tools"]] == [t["name"] for t in body["tools"]]
    assert [t["function"]["parameters"] for t in hub["tools"]] == [t["input_schema"] for t in body["tools"]]
    assert hub["model"] == "claude-x" and hub["max_tokens"] == 32000 and hub["reasoning_effort"] == "high"
    assert hub["stream"] is True and hub["stream_options"] == {"include_usage": True}
    assert hub["safety_identifier"] == hashlib.sha256(body["metadata"]["user_id"].encode()).hexdigest()
    assert len(body["metadata"]["user_id"]) > 128 >= len(hub["safety_identifier"])
    assert set(hub) == {"model", "messages", "max_tokens", "tools", "reasoning_effort", "safety_identifier",
                        "stream", "stream_options"}
    assert b"cache_control" not in orjson.dumps(hub)


def test_claude_code_turn_2_capture_echoed_thinking_is_dropped_and_the_tool_result_follows_the_call() -> None:
    hub = dialect.request_to_openai(capture("claude-2.json"))
    assert hub["messages"][3:] == [
        {"role": "assistant", "content": "I'll read the file.", "tool_calls": [
            {"id": "toolu_mock_0001", "type": "function",
             "function": {"name": "Read", "arguments": '{"file_path":"/home/user/project/secret.txt"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_mock_0001", "content": "1\tThe magic word is: pelican\n2\t"},
    ]
    assert b"signature" not in orjson.dumps(hub) and b"thinking" not in orjson.dumps(hub)


def test_claude_code_non_stream_fallback_capture_is_not_streamed() -> None:
    hub = dialect.request_to_openai(capture("claude-4.json"))
    assert "stream" not in hub and "stream_options" not in hub


def test_model_and_stream_named_outside_the_body_win() -> None:
    hub = dialect.request_to_openai(request(stream=True), model="mapped", stream=False)
    assert hub["model"] == "mapped" and "stream" not in hub


# -- requests: vectors ---------------------------------------------------------------------------------------

def test_user_blocks_images_documents_and_tool_results() -> None:
    png = {"type": "base64", "media_type": "image/png", "data": "iVBO"}
    body = request(messages=[
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "a", "input": {}},
                                          {"type": "tool_use", "id": "t2", "name": "b", "input": {"x": [1]}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "one"},
                                                                     {"type": "image", "source": png}]},
            {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": True, "content": "boom"},
            {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
            {"type": "document", "title": "r.pdf",
             "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
        ]}])
    assert dialect.request_to_openai(body)["messages"] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
            {"id": "t2", "type": "function", "function": {"name": "b", "arguments": '{"x":[1]}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "one"},
        {"role": "tool", "tool_call_id": "t2", "content": "Error: boom"},
        {"role": "user", "content": [
            {"type": "text", "text": "(images returned by tool call t1)"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "r.pdf"}},
            {"type": "text", "text": "plain"}]},
    ]


def test_system_string_and_assistant_string() -> None:
    body = request(system="be brief", messages=[{"role": "user", "content": "q"},
                                                {"role": "assistant", "content": "a"},
                                                {"role": "system", "content": [{"type": "text", "text": "now"}]}])
    assert dialect.request_to_openai(body)["messages"] == [
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"}, {"role": "system", "content": "now"}]


def test_thinking_blocks_this_converter_made_are_dropped_when_echoed() -> None:
    """They carry `signature: ""` (or Anthropic's own): never sent on, to the hub or beyond."""
    body = request(messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "made by the gateway", "signature": ""},
        {"type": "redacted_thinking", "data": "opaque"}, {"type": "text", "text": "a"}]}])
    assert dialect.request_to_openai(body)["messages"] == [{"role": "user", "content": "q"},
                                                           {"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(("choice", "expected"), [
    ({"type": "auto"}, {"tool_choice": "auto"}),
    ({"type": "any"}, {"tool_choice": "required"}),
    ({"type": "none"}, {"tool_choice": "none"}),
    ({"type": "tool", "name": "get"}, {"tool_choice": {"type": "function", "function": {"name": "get"}}}),
    ({"type": "auto", "disable_parallel_tool_use": True}, {"tool_choice": "auto", "parallel_tool_calls": False}),
])
def test_tools_and_tool_choice(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = [{"name": "get", "description": "d", "input_schema": {"type": "object"}, "strict": True,
              "cache_control": {"type": "ephemeral"}, "type": "custom"}]
    hub = dialect.request_to_openai(request(tools=tools, tool_choice=choice))
    assert hub["tools"] == [{"type": "function", "function": {"name": "get", "parameters": {"type": "object"},
                                                              "description": "d", "strict": True}}]
    assert {k: hub[k] for k in expected} == expected
    assert "parallel_tool_calls" in hub or "parallel_tool_calls" not in expected
    assert "tool_choice" not in dialect.request_to_openai(request(tool_choice=choice))


@pytest.mark.parametrize(("fields", "effort"), [
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
    ({"thinking": {"type": "enabled", "budget_tokens": 8000}}, "medium"),
    ({"thinking": {"type": "enabled", "budget_tokens": 32000}}, "high"),
    ({"thinking": {"type": "adaptive"}}, None),
    ({"thinking": {"type": "disabled"}}, None),
    ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}}, "medium"),
    ({"output_config": {"effort": "max"}}, "high"),
    ({"output_config": {"effort": "xhigh"}}, "high"),
])
def test_thinking_and_effort(fields: dict[str, Any], effort: str | None) -> None:
    assert dialect.request_to_openai(request(**fields)).get("reasoning_effort") == effort


def test_sampling_stops_format_and_dropped_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    hub = dialect.request_to_openai(request(
        temperature=0.2, top_p=0.9, top_k=5, stop_sequences=["END"], cache_control={"type": "ephemeral"},
        output_config={"format": {"type": "json_schema", "schema": schema}}, context_management={"edits": []},
        service_tier="auto", container="c", speed="fast", inference_geo="us", some_new_beta={"x": 1}))
    assert hub == {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100,
                   "temperature": 0.2, "top_p": 0.9, "stop": ["END"],
                   "response_format": {"type": "json_schema",
                                       "json_schema": {"name": "output", "schema": schema, "strict": True}}}


@pytest.mark.parametrize(("fields", "words"), [
    ({"max_tokens": None}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"model": ""}, "model"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role 'tool'"),
    ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "server tool"),
    ({"mcp_servers": [{"type": "url", "url": "https://m.test"}]}, "mcp_servers"),
    ({"tool_choice": {"type": "magic"}, "tools": [{"name": "t", "input_schema": {}}]}, "tool_choice"),
    ({"tools": [{"name": "t"}]}, "input_schema"),
    ({"output_config": {"effort": "huge"}}, "output_config.effort"),
    ({"output_config": {"format": {"type": "text"}}}, "output_config.format"),
    ({"thinking": {"type": "enabled"}}, "budget_tokens"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"system": [{"type": "image"}]}, "system"),
    ({"messages": [{"role": "system", "content": [{"type": "tool_addition", "tool": {}}]}]}, "'tool_addition'"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "base64", "media_type": "image/bmp", "data": "x"}}]}]}, "media_type"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
     "image source 'file'"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "source": {
        "type": "url", "url": "https://x.test/a.pdf"}}]}]}, "document source 'url'"),
    ({"messages": [{"role": "user", "content": [{"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf"}}]}]}, "document source 'base64'"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [
        {"type": "document", "source": {"type": "text", "data": "x"}}]}]}]}, "tool_result content block"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}, "tool_use_id"),
    ({"messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, "'search_result'"),
    ({"messages": [{"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web_search",
                                                      "input": {}}]}]}, "'server_tool_use'"),
])
def test_what_cannot_be_mapped_is_refused_before_the_upstream(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ConversionError) as err:
        dialect.request_to_openai(request(**fields))
    assert err.value.status == 400 and words in err.value.message


# -- whole answers -------------------------------------------------------------------------------------------

HUB_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-7", "object": "chat.completion", "created": 1, "model": "gpt-x-2026",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "I'll read the file.", "reasoning_content": "The user wants the file read.",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "Read", "arguments": '{"file_path": "/p/secret.txt"}'}}]}}],
    "usage": {"prompt_tokens": 200, "completion_tokens": 25, "total_tokens": 225,
              "prompt_tokens_details": {"cached_tokens": 50, "cache_write_tokens": 30},
              "completion_tokens_details": {"reasoning_tokens": 10}},
}


def test_answer_with_thinking_text_tool_use_and_every_usage_component() -> None:
    assert dialect.response_from_openai(HUB_ANSWER, request=ASKS_THINKING) == {
        "id": "msg_chatcmpl-7", "type": "message", "role": "assistant", "model": "claude-x",
        "content": [{"type": "thinking", "thinking": "The user wants the file read.", "signature": ""},
                    {"type": "text", "text": "I'll read the file."},
                    {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"file_path": "/p/secret.txt"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 120, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 50,
                  "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 0},
                  "output_tokens": 25, "output_tokens_details": {"thinking_tokens": 10}}}


def test_the_answer_has_the_shape_claude_code_accepted() -> None:
    accepted = json.loads((CAPTURES / "claude-4.answer.txt").read_text().split("\n", 1)[1])
    ours = dialect.response_from_openai(HUB_ANSWER, request=ASKS_THINKING)
    assert set(ours) <= set(accepted) | {"stop_details"}
    assert [b["type"] for b in ours["content"]] == [b["type"] for b in accepted["content"]]
    assert all(set(o) == set(a) for o, a in zip(ours["content"], accepted["content"], strict=True))


def test_no_thinking_block_unless_asked_and_the_hub_model_without_a_request() -> None:
    out = dialect.response_from_openai(HUB_ANSWER, request={"model": "claude-x"})
    assert [b["type"] for b in out["content"]] == ["text", "tool_use"]
    assert dialect.response_from_openai(HUB_ANSWER)["model"] == "gpt-x-2026"


@pytest.mark.parametrize(("finish", "message", "stop_reason"), [
    ("stop", {"content": "hi"}, "end_turn"),
    ("length", {"content": "hi"}, "max_tokens"),
    ("content_filter", {"content": ""}, "refusal"),
    ("stop", {"content": None, "refusal": "I can't."}, "refusal"),
    ("stop", {"content": None, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": ""}}]}, "tool_use"),
    (None, {"content": "hi"}, "end_turn"),
])
def test_stop_reasons(finish: str | None, message: dict[str, Any], stop_reason: str) -> None:
    body = {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": finish,
                                                  "message": {"role": "assistant", **message}}]}
    out = dialect.response_from_openai(body)
    assert out["stop_reason"] == stop_reason and out["stop_sequence"] is None
    assert out["usage"] == {"input_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                            "output_tokens": 0}


@pytest.mark.parametrize("arguments", ['{"a": ', "[1]"])
def test_tool_arguments_that_are_not_a_json_object_are_a_502(arguments: str) -> None:
    body = {"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": arguments}}]}}]}
    with pytest.raises(ConversionError) as err:
        dialect.response_from_openai(body)
    assert err.value.status == 502 and "'f'" in err.value.message


def test_an_answer_without_a_message_is_a_502() -> None:
    with pytest.raises(ConversionError) as err:
        dialect.response_from_openai({"choices": []})
    assert err.value.status == 502


# -- errors --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "hub_type", "anthropic_type"), [
    (400, "invalid_request_error", "invalid_request_error"), (401, "authentication_error", "authentication_error"),
    (402, "insufficient_quota", "billing_error"), (403, "permission_error", "permission_error"),
    (404, "invalid_request_error", "not_found_error"), (413, "invalid_request_error", "request_too_large"),
    (422, "invalid_request_error", "invalid_request_error"), (429, "insufficient_quota", "rate_limit_error"),
    (500, "server_error", "api_error"), (502, "upstream_error", "api_error"),
    (503, "overloaded_error", "overloaded_error"), (504, "timeout_error", "timeout_error"),
    (529, "overloaded_error", "overloaded_error"),
])
def test_errors_in_anthropic_shape(status: int, hub_type: str, anthropic_type: str) -> None:
    got_status, body = dialect.error_from_openai(OpenAIError(status=status, message="no", type=hub_type))
    assert got_status == status
    assert orjson.loads(body) == {"type": "error", "error": {"type": anthropic_type, "message": "no"}}


# -- streams -------------------------------------------------------------------------------------------------

def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": choices,
            **extra}


def sse(*items: dict[str, Any] | str) -> bytes:
    return b"".join(b"data: " + (i.encode() if isinstance(i, str) else orjson.dumps(i)) + b"\n\n" for i in items)


def tool(index: int, args: str, call_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": args}}
    if call_id:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return {"tool_calls": [call]}


USAGE = {"prompt_tokens": 200, "completion_tokens": 25, "total_tokens": 225,
         "prompt_tokens_details": {"cached_tokens": 50}, "completion_tokens_details": {"reasoning_tokens": 10}}
# Claude Code's turn 1 answer (claude-1.answer.txt) as a hub would stream it, with split UTF-8 to come
TOOL_TURN = sse(
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "The user wants the file read."}),
    chunk({"content": "I'll read"}), chunk({"content": " the file — ✓ 世界 🌍"}),
    chunk(tool(0, "", "call_1", "Read")), chunk(tool(0, '{"file_pat')), chunk(tool(0, 'h": "/home/use')),
    chunk(tool(0, 'r/project/secret.txt"}')),
    chunk({}, "tool_calls"), chunk(usage=USAGE), "[DONE]")


def run(data: bytes, request: Mapping[str, Any] | None = ASKS_THINKING, pieces: Iterator[bytes] | None = None,
        ) -> tuple[bytes, Any]:
    stream = dialect.stream_from_openai(request=request)
    out: list[bytes] = []
    for piece in pieces if pieces is not None else [data]:
        out += stream.feed(piece)
    out += stream.flush()
    return b"".join(out), stream


def events(raw: bytes) -> list[dict[str, Any]]:
    """The events, checking each is `event: <type>` + `data: <json with that type>`."""
    out = []
    for block in raw.split(b"\n\n")[:-1]:
        name, data = block.split(b"\n")
        payload = orjson.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + payload["type"].encode()
        out.append(payload)
    assert raw.endswith(b"\n\n")
    return out


def test_a_text_stream_event_by_event() -> None:
    raw, stream = run(sse(chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
                          chunk({"content": "lo"}), chunk({}, "stop"),
                          chunk(usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}), "[DONE]"),
                      request={"model": "claude-x"})
    assert events(raw) == [
        {"type": "message_start", "message": {
            "id": "msg_chatcmpl-9", "type": "message", "role": "assistant", "model": "claude-x", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"input_tokens": 9, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                   "output_tokens": 2}},
        {"type": "message_stop"},
    ]
    assert raw.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert (stream.usage.prompt_tokens, stream.usage.completion_tokens, stream.error) == (9, 2, None)


def test_the_tool_turn_has_the_grammar_claude_code_accepted() -> None:
    def shape(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["type"], e.get("index"), (e.get("delta") or e.get("content_block") or {}).get("type"))
                for e in items]

    raw, stream = run(TOOL_TURN)
    accepted = events((CAPTURES / "claude-1.answer.txt").read_bytes())
    # what a converter cannot or need not make: Anthropic's signature_delta, the empty first input_json_delta
    accepted = [e for e in accepted if e.get("delta", {}).get("type") != "signature_delta"
                and e.get("delta", {}).get("partial_json") != ""]
    assert shape(events(raw)) == shape(accepted)
    delta = events(raw)[-2]
    assert delta["delta"]["stop_reason"] == "tool_use"
    assert delta["usage"] == {"input_tokens": 150, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 50,
                              "output_tokens": 25, "output_tokens_details": {"thinking_tokens": 10}}
    assert (stream.usage.cached_tokens, stream.usage.reasoning_tokens) == (50, 10)


def splits(data: bytes) -> Iterator[list[bytes]]:
    yield [data[i:i + 1] for i in range(len(data))]
    for i in range(1, len(data)):
        yield [data[:i], data[i:]]


def test_any_split_of_the_hub_stream_gives_the_same_bytes() -> None:
    """Split events and split UTF-8 (the text has 2-, 3- and 4-byte characters) at every byte."""
    whole, _ = run(TOOL_TURN)
    assert "— ✓ 世界 🌍".encode() in whole
    for pieces in splits(TOOL_TURN):
        assert run(TOOL_TURN, pieces=iter(pieces))[0] == whole


def test_interleaved_parallel_tool_calls_are_held_until_the_open_block_stops() -> None:
    raw, _ = run(sse(chunk(tool(0, "", "call_a", "Read")), chunk(tool(1, '{"q"', "call_b", "Grep")),
                     chunk(tool(0, '{"file_path": "a"}')), chunk(tool(1, ': "x"}')), chunk({}, "tool_calls"),
                     "[DONE]"))
    assert [(e["type"], e.get("index")) for e in events(raw)] == [
        ("message_start", None), ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1), ("message_delta", None),
        ("message_stop", None)]
    blocks = [e["content_block"] for e in events(raw) if e["type"] == "content_block_start"]
    assert [(b["id"], b["name"]) for b in blocks] == [("call_a", "Read"), ("call_b", "Grep")]
    assert [e["delta"]["partial_json"] for e in events(raw) if e["type"] == "content_block_delta"] == [
        '{"file_path": "a"}', '{"q": "x"}']


def test_reasoning_is_not_shown_unless_thinking_was_asked() -> None:
    raw, _ = run(sse(chunk({"reasoning_content": "hmm"}), chunk({"content": "hi"}), chunk({}, "stop"), "[DONE]"),
                 request={"model": "claude-x", "thinking": {"type": "disabled"}})
    starts = [e for e in events(raw) if e["type"] == "content_block_start"]
    assert starts == [{"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]


@pytest.mark.parametrize(("error", "kind"), [
    ({"message": "upstream overloaded", "type": "overloaded_error"}, "overloaded_error"),
    ({"message": "slow down", "type": "rate_limit_exceeded", "code": 429}, "rate_limit_error"),
    ({"message": "boom", "type": "server_error"}, "api_error"),
])
def test_an_upstream_error_mid_stream_is_an_error_event_and_the_end(error: dict[str, Any], kind: str) -> None:
    raw, stream = run(sse(chunk({"content": "par"}), {"error": error}, chunk({"content": "ignored"}), "[DONE]"))
    got = events(raw)
    assert [e["type"] for e in got] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert got[-1] == {"type": "error", "error": {"type": kind, "message": error["message"]}}
    assert stream.error is not None and stream.error.message == error["message"]


def test_arguments_for_a_tool_block_already_stopped_end_the_stream_with_an_error_and_nothing_after() -> None:
    two_calls = {"tool_calls": [{"index": 0, "function": {"arguments": "}"}},
                                {"index": 1, "id": "call_b", "type": "function", "function": {"name": "b"}}]}
    raw, stream = run(sse(chunk(tool(0, '{"a": 1', "call_a", "a")), chunk({"content": "text"}), chunk(two_calls),
                          chunk({}, "tool_calls"), "[DONE]"))
    assert [(e["type"], e.get("index")) for e in events(raw)] == [
        ("message_start", None), ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("error", None)]
    assert stream.error is not None and "'a'" in stream.error.message


def test_a_refusal_streams_as_text_with_stop_reason_refusal() -> None:
    raw, _ = run(sse(chunk({"refusal": "I can't help with that."}), chunk({}, "stop"), "[DONE]"))
    got = events(raw)
    assert got[2]["delta"] == {"type": "text_delta", "text": "I can't help with that."}
    assert got[-2]["delta"]["stop_reason"] == "refusal"


@pytest.mark.parametrize("data", [sse(chunk({"content": "cut"})), b"", sse("[DONE]")])
def test_a_stream_that_ends_unfinished_ends_with_an_error_event(data: bytes) -> None:
    raw, stream = run(data)
    assert events(raw)[-1]["type"] == "error" and stream.error is not None
    assert b"message_stop" not in raw


def test_a_stream_without_done_after_its_finish_reason_ends_normally() -> None:
    raw, stream = run(sse(chunk({"content": "ok"}), chunk({}, "length")))
    assert [e["type"] for e in events(raw)][-2:] == ["message_delta", "message_stop"]
    assert events(raw)[-2]["delta"]["stop_reason"] == "max_tokens" and stream.error is None


# -- the official SDK parses what the converter writes ------------------------------------------------------

def sdk_client(answer: Callable[[], tuple[int, bytes, str]]) -> Any:
    anthropic = pytest.importorskip("anthropic")
    httpx = pytest.importorskip("httpx2")

    def handle(_: Any) -> Any:
        status, body, content_type = answer()
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    return anthropic.Anthropic(api_key="k", base_url="http://sdk.test", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handle)))


def test_the_sdk_accumulates_the_converted_stream() -> None:
    raw, _ = run(TOOL_TURN)
    client = sdk_client(lambda: (200, raw, "text/event-stream"))
    with client.messages.stream(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
        message = s.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use"]
    assert message.content[1].text == "I'll read the file — ✓ 世界 🌍"
    assert message.content[2].input == {"file_path": "/home/user/project/secret.txt"}
    assert (message.stop_reason, message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.output_tokens) == ("tool_use", 150, 50, 25)


def test_the_sdk_parses_the_converted_answer() -> None:
    body = orjson.dumps(dialect.response_from_openai(HUB_ANSWER, request=ASKS_THINKING))
    client = sdk_client(lambda: (200, body, "application/json"))
    message = client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert message.content[2].input == {"file_path": "/p/secret.txt"}
    assert message.usage.output_tokens_details.thinking_tokens == 10


def test_the_sdk_raises_on_the_mid_stream_error_event() -> None:
    anthropic = pytest.importorskip("anthropic")
    raw, _ = run(sse(chunk({"content": "par"}), {"error": {"message": "overloaded", "type": "overloaded_error"}}))
    client = sdk_client(lambda: (200, raw, "text/event-stream"))
    with pytest.raises(anthropic.APIStatusError, match="overloaded"), client.messages.stream(
            model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
        s.get_final_message()


@pytest.mark.parametrize(("status", "exception"), [
    (400, "BadRequestError"), (401, "AuthenticationError"), (403, "PermissionDeniedError"), (404, "NotFoundError"),
    (429, "RateLimitError"), (500, "InternalServerError"), (529, "OverloadedError"),
])
def test_the_sdk_raises_the_class_of_the_status(status: int, exception: str) -> None:
    anthropic = pytest.importorskip("anthropic")
    got_status, body = dialect.error_from_openai(OpenAIError(status=status, message="nope", type="x"))
    client = sdk_client(lambda: (got_status, body, "application/json"))
    with pytest.raises(getattr(anthropic, exception), match="nope"):
        client.messages.create(model="claude-x", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
