"""The Responses dialect (Codex CLI) through the hub: request vectors (Codex's captured requests and our own),
answer vectors, stream vectors split at every byte, and openai-python's own Responses parser as a check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from proxy.converters.base import ConversionError, OpenAIError, StreamConverter
from proxy.converters.dialects import responses_client as rc
from proxy.converters.registry import DIALECTS, dialect_from
from proxy.core.sse import SSEDecoder

try:   # openai-python's HTTP client: httpx2 from openai 3, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

CAPTURES = Path(__file__).parents[3] / "fixtures" / "captures"


def _capture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((CAPTURES / f"{name}.json").read_text())["body"]
    return body


def _capture_events(name: str) -> list[dict[str, Any]]:
    return _events((CAPTURES / f"{name}.answer.txt").read_bytes())


# ---------------------------------------------------------------- hub streams and their parsing

def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, usage: Any = None,
           choices: bool = True) -> dict[str, Any]:
    obj: dict[str, Any] = {"id": "chatcmpl-abc", "object": "chat.completion.chunk", "created": 1700000000,
                           "model": "upstream-model"}
    obj["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage is not None:
        obj["usage"] = usage
    return obj


def _sse(*events: dict[str, Any] | str) -> bytes:
    return b"".join(b"data: " + (e.encode() if isinstance(e, str) else orjson.dumps(e)) + b"\n\n" for e in events)


USAGE = {"prompt_tokens": 200, "completion_tokens": 30, "total_tokens": 230,
         "prompt_tokens_details": {"cached_tokens": 64}, "completion_tokens_details": {"reasoning_tokens": 10}}
RESPONSES_USAGE = {"input_tokens": 200, "input_tokens_details": {"cached_tokens": 64}, "output_tokens": 30,
                   "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 230}

TEXT_STREAM = _sse(_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hello from"}),
                   _chunk({"content": " the mock. ✓ 🐍"}), _chunk(finish="stop"), _chunk(usage=USAGE, choices=False),
                   "[DONE]")
TOOL_STREAM = _sse(
    _chunk({"role": "assistant", "content": ""}),
    _chunk({"reasoning_content": "**Running a command**\n\n"}), _chunk({"reasoning_content": "I will run echo."}),
    _chunk({"tool_calls": [{"index": 0, "id": "call_mock_0001", "type": "function",
                            "function": {"name": "exec_command", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\": "}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"echo hi\"}"}}]}),
    _chunk(finish="tool_calls"), _chunk(usage=USAGE, choices=False), "[DONE]")


def _events(data: bytes) -> list[dict[str, Any]]:
    """The Responses events of a stream, checking each has an `event:` line naming its type."""
    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.flush()
    out = []
    for event in events:
        obj = json.loads(event.data)
        assert event.event == obj["type"]
        out.append(obj)
    return out


def _convert(stream: bytes, request: dict[str, Any] | None = None, split: int | None = None) -> bytes:
    converter = rc.stream_from_openai(request=request)
    out: list[bytes] = []
    if split is None:
        out += converter.feed(stream)
    else:
        out += converter.feed(stream[:split])
        out += converter.feed(stream[split:])
    return b"".join(out + converter.flush())


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def _grammar(events: list[dict[str, Any]]) -> list[str]:
    """The event types with runs of one delta type counted once (fragments split differently)."""
    types = _types(events)
    return [t for i, t in enumerate(types) if not (t.endswith(".delta") and i and types[i - 1] == t)]


# ---------------------------------------------------------------- openai-python as the client

def _sdk(answer: bytes, content_type: str) -> openai.OpenAI:
    """openai-python over a transport that answers every request with `answer` (no network)."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=answer, headers={"content-type": content_type})
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test/v1", max_retries=0,
                         http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def _sdk_stream(answer: bytes) -> tuple[list[Any], Any]:
    """Every event openai-python's `responses.stream()` yields, and its final response."""
    with _sdk(answer, "text/event-stream").responses.stream(model="gpt-x", input="hi") as stream:
        events = list(stream)
        return events, stream.get_final_response()


# ---------------------------------------------------------------- registry

def test_the_registry_lists_the_responses_dialect() -> None:
    assert dialect_from(rc) == ("responses", rc)
    assert DIALECTS["responses"] is rc


# ---------------------------------------------------------------- requests: Codex's captures

def test_codex_first_turn_request() -> None:
    body = _capture("codex-2")
    hub = rc.request_to_openai(body)
    assert hub["model"] == "gpt-x" and hub["stream"] is True and hub["stream_options"] == {"include_usage": True}
    assert [m["role"] for m in hub["messages"]] == ["system", "system", "user", "user"]
    assert hub["messages"][1]["content"] == "<2141 characters of vendor text>\n\n<341 characters of vendor text>"
    assert hub["messages"][3] == {"role": "user", "content": "Run echo hi in the shell and tell me what it printed"}
    names = [t["function"]["name"] for t in hub["tools"]]
    members = [t["name"] for t in body["tools"] if t["type"] == "namespace" for t in t["tools"]]
    assert [f"multi_agent_v1__{m}" for m in members] == [n for n in names if n.startswith("multi_agent_v1__")]
    assert len(names) == 7 + len(members)   # seven functions, the namespace's members; web_search left out
    exec_command = next(t for t in hub["tools"] if t["function"]["name"] == "exec_command")
    source = next(t for t in body["tools"] if t.get("name") == "exec_command")
    assert exec_command == {"type": "function", "function": {"name": "exec_command",
                                                             "description": source["description"],
                                                             "parameters": source["parameters"], "strict": False}}
    assert hub["tool_choice"] == "auto" and hub["parallel_tool_calls"] is True
    assert hub["prompt_cache_key"] == body["prompt_cache_key"]
    for dropped in ("input", "store", "include", "client_metadata", "reasoning", "instructions"):
        assert dropped not in hub
    assert "reasoning_effort" not in hub   # Codex asks for a summary only


def test_codex_second_turn_request_carries_the_call_and_its_output() -> None:
    hub = rc.request_to_openai(_capture("codex-3"))
    assert hub["messages"][-3:] == [
        {"role": "user", "content": "Run echo hi in the shell and tell me what it printed"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_mock_0001", "type": "function",
             "function": {"name": "exec_command", "arguments": "{\"cmd\": \"echo hi\"}"}}]},
        {"role": "tool", "tool_call_id": "call_mock_0001",
         "content": "Chunk ID: ed55ef\nWall time: 0.0000 seconds\nProcess exited with code 0\n"
                    "Original token count: 1\nOutput:\nhi\n"}]   # the reasoning item (encrypted) is dropped


def test_codex_text_request() -> None:
    hub = rc.request_to_openai(_capture("codex-1"), model="mapped-model")
    assert hub["model"] == "mapped-model"
    assert [m["role"] for m in hub["messages"]] == ["system", "system", "user", "user"]


# ---------------------------------------------------------------- requests: our own vectors

def test_request_vector_every_mapped_field() -> None:
    body = {
        "model": "m", "instructions": "Be brief.", "stream": False, "temperature": 0.2, "top_p": 0.9,
        "max_output_tokens": 500, "reasoning": {"effort": "high", "summary": "auto"}, "user": "u1",
        "safety_identifier": "s1", "top_logprobs": 2, "parallel_tool_calls": False, "store": False,
        "metadata": {"k": "v"}, "truncation": "auto", "include": ["reasoning.encrypted_content"],
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True},
                 "verbosity": "low"},
        "tools": [{"type": "function", "name": "get", "description": "d", "parameters": {"type": "object"}},
                  {"type": "namespace", "name": "ns", "description": "group",
                   "tools": [{"type": "function", "name": "put", "parameters": {"type": "object"}}]}],
        "tool_choice": {"type": "allowed_tools", "mode": "required",
                        "tools": [{"type": "function", "name": "get"}]},
        "input": [
            {"role": "system", "content": "sys"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}]},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Calling.", "annotations": []}]},
            {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "put", "namespace": "ns", "arguments": "{\"a\":1}"},
            {"type": "function_call_output", "call_id": "c1", "output": "one"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "ok"}]}
    assert rc.request_to_openai(body) == {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}]},
            {"role": "assistant", "content": "Calling.", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "ns__put", "arguments": "{\"a\":1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": None, "refusal": "No."},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "ok"}],
        "tools": [{"type": "function", "function": {"name": "get", "description": "d",
                                                    "parameters": {"type": "object"}}},
                  {"type": "function", "function": {"name": "ns__put", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {
            "mode": "required", "tools": [{"type": "function", "function": {"name": "get"}}]}},
        "temperature": 0.2, "top_p": 0.9, "parallel_tool_calls": False, "safety_identifier": "s1", "user": "u1",
        "max_completion_tokens": 500, "logprobs": True, "top_logprobs": 2, "reasoning_effort": "high",
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True}}}


@pytest.mark.parametrize(("body", "expected"), [
    ({"model": "m", "input": "hi"}, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    ({"model": "m", "input": "hi", "text": {"format": {"type": "json_object"}}, "tool_choice": "none",
      "tools": [{"type": "function", "name": "f"}]},
     {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tool_choice": "none",
      "tools": [{"type": "function", "function": {"name": "f"}}], "response_format": {"type": "json_object"}}),
    ({"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "auto",
      "parallel_tool_calls": True},
     {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    ({"model": "m", "input": "hi", "text": {"format": {"type": "text"}}, "parallel_tool_calls": True,
      "tools": [{"type": "web_search", "external_web_access": False}],
      "tool_choice": {"type": "function", "name": "f"}, "background": False, "stream": True},
     {"model": "m", "messages": [{"role": "user", "content": "hi"}],
      "tool_choice": {"type": "function", "function": {"name": "f"}}, "stream": True,
      "stream_options": {"include_usage": True}}),
])
def test_request_small_vectors(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert rc.request_to_openai(body) == expected


@pytest.mark.parametrize(("body", "words"), [
    ({"previous_response_id": "resp_1"}, "previous_response_id"),
    ({"conversation": "conv_1"}, "conversation"),
    ({"background": True}, "background"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt"),
    ({"max_tool_calls": 3}, "max_tool_calls"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "item_reference"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]}, "file_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "needs an image_url"),
    ({"input": [{"role": "user", "content": None}]}, "content"),
    ({"input": "hi", "tools": {"type": "function"}}, "'tools' must be a list"),
    ({"input": {"role": "user"}}, "'input'"),
    ({"input": ["hi"]}, "input[0]"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "call_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]}, "input_file"),
    ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input_audio"),
    ({"input": [{"type": "function_call_output", "call_id": "c",
                 "output": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]}]}, "text only"),
    ({"input": [{"type": "compaction", "encrypted_content": "x"}]}, "compaction"),
    ({"input": [{"role": "tool", "content": "x"}]}, "role"),
    ({"tools": [{"type": "custom", "name": "p", "format": {"type": "regex"}}]}, "'regex'"),
    ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "'file_search'"),
    ({"tools": [{"type": "mcp", "server_label": "x"}]}, "'mcp'"),
    ({"tools": [{"type": "namespace", "name": "n", "tools": [{"type": "web_search"}]}]}, "namespace"),
    ({"tools": [{"type": "function", "name": "a__b"},
                {"type": "namespace", "name": "a", "tools": [{"type": "function", "name": "b"}]}]}, "same name"),
    ({"tool_choice": {"type": "web_search"}}, "tool_choice"),
    ({"tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "mcp"}]}}, "allowed_tools"),
    ({"text": {"format": {"type": "grammar"}}}, "text.format"),
])
def test_what_chat_cannot_carry_is_refused_before_the_upstream(body: dict[str, Any], words: str) -> None:
    with pytest.raises(ConversionError) as err:
        rc.request_to_openai({"model": "m", "input": "hi", **body})
    assert err.value.status == 400 and words in err.value.message


# ---------------------------------------------------------------- whole answers

def _completion(message: dict[str, Any], finish: str = "stop", usage: Any = USAGE) -> dict[str, Any]:
    return {"id": "chatcmpl-abc", "object": "chat.completion", "created": 1700000000, "model": "upstream-model",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": usage}


def _base_response(**fields: Any) -> dict[str, Any]:
    return {"id": "resp_abc", "object": "response", "created_at": 1700000000, "status": "completed", "error": None,
            "incomplete_details": None, "instructions": None, "max_output_tokens": None, "model": "gpt-x",
            "output": [], "parallel_tool_calls": True, "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None}, "store": False, "temperature": None, "top_p": None,
            "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "truncation": "disabled",
            "usage": RESPONSES_USAGE, "metadata": {}, **fields}


NS_REQUEST = {"model": "gpt-x", "input": "hi", "tools": [
    {"type": "function", "name": "exec_command"},
    {"type": "namespace", "name": "multi_agent_v1", "tools": [{"type": "function", "name": "spawn_agent"}]}]}


def test_answer_vector_text() -> None:
    answer = rc.response_from_openai(_completion({"content": "Hello ✓"}), request={"model": "gpt-x"})
    assert answer == _base_response(output=[
        {"id": "msg_abc_0", "type": "message", "status": "completed", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello ✓", "annotations": [], "logprobs": []}]}])
    parsed = _sdk(orjson.dumps(answer), "application/json").responses.create(model="gpt-x", input="hi")
    assert parsed.output_text == "Hello ✓" and parsed.usage is not None
    assert parsed.usage.input_tokens_details.cached_tokens == 64
    assert parsed.usage.output_tokens_details.reasoning_tokens == 10


def test_answer_vector_reasoning_and_tool_calls_with_a_namespace() -> None:
    usage = {**USAGE, "prompt_tokens_details": {"cached_tokens": 64, "cache_write_tokens": 16}}
    hub = _completion({"content": None, "reasoning_content": "Thinking.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
        {"id": "call_2", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent",
                                                          "arguments": "{}"}}]}, "tool_calls", usage)
    answer = rc.response_from_openai(hub, request=NS_REQUEST)
    assert answer["output"] == [
        {"id": "rs_abc_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking."}]},
        {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "call_1", "name": "exec_command",
         "arguments": "{\"cmd\":\"ls\"}"},
        {"id": "fc_2", "type": "function_call", "status": "completed", "call_id": "call_2", "name": "spawn_agent",
         "namespace": "multi_agent_v1", "arguments": "{}"}]
    assert answer["status"] == "completed"
    assert answer["usage"]["input_tokens_details"] == {"cached_tokens": 64, "cache_write_tokens": 16}
    parsed = _sdk(orjson.dumps(answer), "application/json").responses.create(model="gpt-x", input="hi")
    assert [o.type for o in parsed.output] == ["reasoning", "function_call", "function_call"]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_answer_cut_short_is_incomplete(finish: str, reason: str) -> None:
    answer = rc.response_from_openai(_completion({"content": "Hel"}, finish), request={"model": "gpt-x"})
    assert answer["status"] == "incomplete" and answer["incomplete_details"] == {"reason": reason}
    assert answer["output"][0]["status"] == "incomplete"


def test_answer_refusal_and_missing_usage() -> None:
    answer = rc.response_from_openai(_completion({"content": None, "refusal": "I can't."}, usage=None))
    assert answer["output"][0]["content"] == [{"type": "refusal", "refusal": "I can't."}]
    assert answer["usage"] is None and answer["model"] == "upstream-model"


def test_answer_usage_integers_without_details() -> None:
    answer = rc.response_from_openai(_completion({"content": "x"}, usage={"prompt_tokens": 5, "completion_tokens": 2}))
    assert answer["usage"] == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 2,
                               "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 7}


def test_errors_keep_openais_envelope_and_status() -> None:
    status, body = rc.error_from_openai(OpenAIError(429, "slow down", "rate_limit_error", code="rate_limit_exceeded"))
    assert status == 429 and orjson.loads(body) == {"error": {"message": "slow down", "type": "rate_limit_error",
                                                              "param": None, "code": "rate_limit_exceeded"}}
    failed = rc.response_from_openai({"error": {"message": "boom", "type": "server_error"}})
    assert failed["status"] == "failed" and failed["error"] == {"code": "server_error", "message": "boom"}


# ---------------------------------------------------------------- streams

def test_stream_text_has_the_grammar_codex_accepted() -> None:
    out = _convert(TEXT_STREAM, {"model": "gpt-x", "stream": True})
    events = _events(out)
    assert _grammar(events) == _grammar(_capture_events("codex-1")) == _grammar(_capture_events("codex-3"))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta") == \
        "Hello from the mock. ✓ 🐍"
    completed = events[-1]["response"]
    assert completed["id"] == events[0]["response"]["id"] == "resp_abc"
    assert completed["usage"] == RESPONSES_USAGE and completed["model"] == "gpt-x"
    assert completed["output"] == [events[-2]["item"]]
    assert events[-2]["item"]["content"][0]["text"] == "Hello from the mock. ✓ 🐍"


def test_stream_reasoning_and_tool_call_have_the_grammar_codex_accepted() -> None:
    events = _events(_convert(TOOL_STREAM, {"model": "gpt-x"}))
    captured = _capture_events("codex-2")
    assert _grammar(events) == _grammar(captured)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    want = [e["item"] for e in captured if e["type"] == "response.output_item.done"]
    assert done[0]["summary"] == want[0]["summary"]   # no encrypted_content: only OpenAI can make it
    assert {k: done[1][k] for k in ("type", "status", "name", "call_id", "arguments")} == \
        {k: want[1][k] for k in ("type", "status", "name", "call_id", "arguments")}
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == ["{\"cmd\": ", "\"echo hi\"}"]
    assert events[-1]["response"]["usage"] == captured[-1]["response"]["usage"]


@pytest.mark.parametrize("stream", [TEXT_STREAM, TOOL_STREAM], ids=["text", "tool"])
def test_stream_split_at_every_byte_gives_the_same_events(stream: bytes) -> None:
    """Split events and split UTF-8 characters (✓, 🐍 and the event framing itself) change nothing."""
    whole = _convert(stream, NS_REQUEST)
    for split in range(1, len(stream)):
        assert _convert(stream, NS_REQUEST, split) == whole, split


def test_stream_byte_by_byte() -> None:
    converter = rc.stream_from_openai(request={"model": "gpt-x"})
    out = [b for i in range(len(TEXT_STREAM)) for b in converter.feed(TEXT_STREAM[i:i + 1])]
    assert b"".join(out + converter.flush()) == _convert(TEXT_STREAM, {"model": "gpt-x"})


def test_stream_is_read_by_openai_python() -> None:
    events, final = _sdk_stream(_convert(TOOL_STREAM, NS_REQUEST))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert [o.type for o in final.output] == ["reasoning", "function_call"]
    assert final.output[1].arguments == "{\"cmd\": \"echo hi\"}" and final.output[1].call_id == "call_mock_0001"
    assert final.usage is not None and final.usage.total_tokens == 230
    events, final = _sdk_stream(_convert(TEXT_STREAM))
    assert final.output_text == "Hello from the mock. ✓ 🐍"
    assert [e.snapshot for e in events if e.type == "response.output_text.delta"] == \
        ["Hello from", "Hello from the mock. ✓ 🐍"]


def test_stream_parallel_tool_calls_interleaved_keep_their_own_arguments() -> None:
    stream = _sse(
        _chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{\"x\""}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                                "function": {"name": "exec_command", "arguments": "{\"cmd\""}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
        _chunk({"tool_calls": [{"index": 1, "function": {"arguments": ":\"ls\"}"}}]}),
        _chunk(finish="tool_calls"), "[DONE]")
    out = _convert(stream, NS_REQUEST)
    events = _events(out)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(d["call_id"], d["name"], d.get("namespace"), d["arguments"]) for d in done] == [
        ("call_a", "spawn_agent", "multi_agent_v1", "{\"x\":1}"), ("call_b", "exec_command", None, "{\"cmd\":\"ls\"}")]
    first_done = _types(events).index("response.output_item.done")
    assert first_done > max(i for i, e in enumerate(events) if e["type"].endswith("arguments.delta"))
    assert events[-1]["response"]["usage"] is None   # the hub gave none: Codex accepts a missing usage
    _, final = _sdk_stream(out)
    assert [o.arguments for o in final.output] == ["{\"x\":1}", "{\"cmd\":\"ls\"}"]


def test_stream_usage_in_the_finish_chunk_and_text_after_reasoning() -> None:
    stream = _sse(_chunk({"reasoning_content": "hmm"}), _chunk({"content": "ok"}), _chunk(finish="stop", usage=USAGE))
    converter = rc.stream_from_openai(request={"model": "gpt-x"})
    events = _events(b"".join(converter.feed(stream) + converter.flush()))   # no [DONE]: flush ends it
    assert _types(events)[-1] == "response.completed"
    assert [o["type"] for o in events[-1]["response"]["output"]] == ["reasoning", "message"]
    assert events[-1]["response"]["usage"] == RESPONSES_USAGE
    assert (converter.usage.prompt_tokens, converter.usage.completion_tokens, converter.usage.cached_tokens,
            converter.usage.reasoning_tokens) == (200, 30, 64, 10)
    assert isinstance(converter, StreamConverter) and converter.error is None


def test_stream_refusal_is_a_refusal_part() -> None:
    events = _events(_convert(_sse(_chunk({"content": "Sorry, "}), _chunk({"refusal": "no."}), _chunk(finish="stop"),
                                   "[DONE]")))
    item = events[-2]["item"]
    assert item["content"] == [{"type": "output_text", "text": "Sorry, ", "annotations": [], "logprobs": []},
                               {"type": "refusal", "refusal": "no."}]
    assert "response.refusal.delta" in _types(events) and "response.refusal.done" in _types(events)
    _, final = _sdk_stream(_convert(_sse(_chunk({"refusal": "no."}), _chunk(finish="stop"), "[DONE]")))
    assert final.output[0].content[0].type == "refusal"


def test_stream_length_is_an_incomplete_response() -> None:
    events = _events(_convert(_sse(_chunk({"content": "Hel"}), _chunk(finish="length"), "[DONE]")))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert events[-2]["item"]["status"] == "incomplete"


def test_stream_error_midway_is_response_failed() -> None:
    stream = _sse(_chunk({"content": "Hel"}),
                  {"error": {"message": "context too long", "type": "invalid_request_error",
                             "code": "context_length_exceeded"}},
                  _chunk({"content": "ignored"}), "[DONE]")
    converter = rc.stream_from_openai(request={"model": "gpt-x"})
    events = _events(b"".join(converter.feed(stream) + converter.flush()))
    assert _types(events) == ["response.created", "response.in_progress", "response.output_item.added",
                              "response.content_part.added", "response.output_text.delta", "response.failed"]
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["id"] == events[0]["response"]["id"]
    assert failed["error"] == {"code": "context_length_exceeded", "message": "context too long"}
    assert failed["output"] == []   # the half-written message is not handed over as done
    assert converter.error is not None and converter.error.message == "context too long"
    with pytest.raises(RuntimeError, match="response.completed"):   # openai-python sees a failed response
        _sdk_stream(_convert(stream))


def test_stream_error_first_and_rate_limit_code() -> None:
    events = _events(_convert(_sse({"error": {"message": "busy", "type": "rate_limit_error"}})))
    assert _types(events) == ["response.created", "response.in_progress", "response.failed"]
    assert events[-1]["response"]["error"] == {"code": "rate_limit_exceeded", "message": "busy"}


def test_stream_cut_before_the_finish_fails() -> None:
    converter = rc.stream_from_openai()
    events = _events(b"".join(converter.feed(_sse(_chunk({"content": "Hel"}))) + converter.flush()))
    assert events[-1]["type"] == "response.failed" and events[-1]["response"]["error"]["code"] == "server_error"
    assert converter.error is not None


def test_stream_after_done_ignores_everything_and_flush_adds_nothing() -> None:
    converter = rc.stream_from_openai()
    first = converter.feed(TEXT_STREAM)
    assert converter.feed(_sse(_chunk({"content": "late"}))) == [] and converter.flush() == []
    assert _types(_events(b"".join(first)))[-1] == "response.completed"


# ---------------------------------------------------------------- custom (free-text) tools

CUSTOM_REQUEST = {"model": "gpt-x", "input": "patch it", "tools": [
    {"type": "custom", "name": "apply_patch", "description": "Edit files.",
     "format": {"type": "grammar", "syntax": "lark", "definition": "start: \"*** Begin Patch\""}},
    {"type": "namespace", "name": "ns", "tools": [{"type": "custom", "name": "note"}]}],
    "tool_choice": {"type": "custom", "name": "apply_patch"}}
PATCH = "*** Begin Patch\n+héllo ✓\n*** End Patch"


def test_custom_tools_are_functions_of_one_string() -> None:
    body = {**CUSTOM_REQUEST, "input": [
        {"role": "user", "content": "patch it"},
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": PATCH},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done."}]}
    hub = rc.request_to_openai(body)
    schema = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"],
              "additionalProperties": False}
    assert hub["tools"] == [
        {"type": "function", "function": {"name": "apply_patch", "parameters": schema, "description":
                                          "Edit files.\n\nThe `input` string must match this lark grammar:\n"
                                          "start: \"*** Begin Patch\""}},
        {"type": "function", "function": {"name": "ns__note", "parameters": schema}}]
    assert hub["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    assert hub["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "apply_patch",
                                                          "arguments": orjson.dumps({"input": PATCH}).decode()}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "Done."}]


def test_custom_tool_calls_come_back_as_custom_tool_calls() -> None:
    arguments = orjson.dumps({"input": PATCH}).decode()
    answer = rc.response_from_openai(_completion({"content": None, "tool_calls": [
        {"id": "call_p", "type": "function", "function": {"name": "apply_patch", "arguments": arguments}},
        {"id": "call_n", "type": "function", "function": {"name": "ns__note", "arguments": "not json"}}]},
        "tool_calls"), request=CUSTOM_REQUEST)
    assert answer["output"] == [
        {"id": "ctc_p", "type": "custom_tool_call", "call_id": "call_p", "name": "apply_patch", "input": PATCH},
        {"id": "ctc_n", "type": "custom_tool_call", "call_id": "call_n", "name": "note", "namespace": "ns",
         "input": "not json"}]
    parsed = _sdk(orjson.dumps(answer), "application/json").responses.create(model="gpt-x", input="hi")
    assert [o.type for o in parsed.output] == ["custom_tool_call", "custom_tool_call"]
    stream = _sse(
        _chunk({"tool_calls": [{"index": 0, "id": "call_p", "type": "function",
                                "function": {"name": "apply_patch", "arguments": arguments[:20]}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[20:]}}]}),
        _chunk(finish="tool_calls"), "[DONE]")
    out = _convert(stream, CUSTOM_REQUEST)
    assert all(_convert(stream, CUSTOM_REQUEST, split) == out for split in range(1, len(stream)))
    events = _events(out)
    assert _types(events)[2:] == ["response.output_item.added", "response.custom_tool_call_input.delta",
                                  "response.custom_tool_call_input.done", "response.output_item.done",
                                  "response.completed"]
    assert events[-2]["item"] == answer["output"][0]
    _, final = _sdk_stream(out)
    assert final.output[0].type == "custom_tool_call" and final.output[0].input == PATCH
