"""Cohere converter (v1 and v2) against vectors/cohere.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import cohere
from proxy.converters.providers.cohere_stream import finish_reason
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

CASES = load("cohere")["cases"]
BASE = "https://api.cohere.com"


def make_ctx(model: str = "command-a-03-2025", mode: str = "chat", **kw: Any) -> ConvertContext:
    kw.setdefault("base_url", BASE)
    return ConvertContext(mode=mode, model=model, key="co-test-key", now=1700000000.0, **kw)


def ctx_for(name: str, req: dict[str, Any]) -> ConvertContext:
    # The v1 vectors model a channel configured for the v1 API; v2 is the default.
    config = {"api_version": "v1"} if name.startswith("v1") else {}
    return make_ctx(req["model"], stream=bool(req.get("stream")), config=config,
                    include_usage=bool((req.get("stream_options") or {}).get("include_usage")))


def replay(conv: Any, data: bytes, step: int | None) -> list[bytes]:
    out: list[bytes] = []
    n = step or len(data)
    for i in range(0, len(data), n):
        out += conv.feed(data[i:i + n])
    return out + conv.flush()


REQUEST_CASES = [n for n, c in CASES.items() if "upstream_request" in c]
RESPONSE_CASES = [n for n, c in CASES.items() if "expected_openai_response" in c]
STREAM_CASES = [n for n, c in CASES.items() if "expected_openai_stream" in c]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_vectors(name: str) -> None:
    case = CASES[name]
    up = cohere.request_from_openai(case["openai_request"], ctx_for(name, case["openai_request"]))
    want = case["upstream_request"]
    assert (up.method, up.url) == (want["method"], want["url"])
    assert_subset(want["headers"], up.headers)
    body = orjson.loads(up.body)
    assert_subset(want["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))


@pytest.mark.parametrize("name", RESPONSE_CASES)
def test_response_vectors(name: str) -> None:
    case = CASES[name]
    resp = case["upstream_response"]
    got = cohere.response_to_openai(resp["status"], orjson.dumps(resp["body"]), ctx_for(name, case["openai_request"]))
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)


@pytest.mark.parametrize("step", [None, 1, 11])
@pytest.mark.parametrize("name", STREAM_CASES)
def test_stream_vectors(name: str, step: int | None) -> None:
    case = CASES[name]
    conv = cohere.stream_to_openai(ctx_for(name, case["openai_request"]))
    events = replay(conv, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (12, 2)
    assert conv.error is None


def test_error_vector() -> None:
    case = CASES["error_auth"]
    resp = case["upstream_response"]
    err = cohere.error_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx())
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


def test_finish_reason_table() -> None:
    for raw, want in CASES["finish_reason_table"].items():
        assert finish_reason(raw) == want


# ---- version selection and requests ---------------------------------------------------------

@pytest.mark.parametrize("model,config,want", [
    ("command-r", {}, "v2"), ("command-r-internet", {}, "v1"),
    ("command-r", {"api_version": "v1"}, "v1"), ("command-r-internet", {"api_version": "2"}, "v2"),
])
def test_api_version(model: str, config: dict, want: str) -> None:
    assert cohere.api_version(make_ctx(model, config=config)) == want


def test_internet_suffix_adds_connector() -> None:
    up = cohere.request_from_openai({"messages": [{"role": "user", "content": "news?"}]},
                                    make_ctx("command-r-internet", base_url="http://127.0.0.1:3"))
    assert up.url == "http://127.0.0.1:3/v1/chat"
    assert orjson.loads(up.body) == {"model": "command-r", "message": "news?", "connectors": [{"id": "web-search"}]}


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}]},
    {"messages": [{"role": "tool", "content": "x", "tool_call_id": "a"}]},
])
def test_v1_refusals(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        cohere.request_from_openai(body, make_ctx("command-r", config={"api_version": "v1"}))


def test_n_refused() -> None:
    with pytest.raises(ConversionError, match="n must be 1"):
        cohere.request_from_openai({"messages": [{"role": "user", "content": "x"}], "n": 3}, make_ctx())


def test_v2_named_tool_choice_images_and_json_schema() -> None:
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}} for n in ("a", "b")]
    body = {"messages": [{"role": "developer", "content": "sys"},
                         {"role": "user", "content": [{"type": "text", "text": "see"},
                                                      {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}],
            "tools": tools, "tool_choice": {"type": "function", "function": {"name": "b"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
            "stop": "END", "max_completion_tokens": 9}
    out = orjson.loads(cohere.request_from_openai(body, make_ctx()).body)
    image = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    assert out["messages"] == [{"role": "system", "content": "sys"},
                               {"role": "user", "content": [{"type": "text", "text": "see"}, image]}]
    assert [t["function"]["name"] for t in out["tools"]] == ["b"] and out["tool_choice"] == "REQUIRED"
    assert out["response_format"] == {"type": "json_object", "json_schema": {"type": "object"}}
    assert (out["stop_sequences"], out["max_tokens"]) == (["END"], 9)


def test_v2_tool_choice_auto_and_none() -> None:
    tools = [{"type": "function", "function": {"name": "a"}}]
    base = {"messages": [{"role": "user", "content": "x"}], "tools": tools}
    auto = orjson.loads(cohere.request_from_openai({**base, "tool_choice": "auto"}, make_ctx()).body)
    assert "tool_choice" not in auto
    none = orjson.loads(cohere.request_from_openai({**base, "tool_choice": "none"}, make_ctx()).body)
    assert none["tool_choice"] == "NONE"
    with pytest.raises(ConversionError):
        cohere.request_from_openai({**base, "tool_choice": {"function": {"name": "zz"}}}, make_ctx())


def test_embeddings() -> None:
    ctx = make_ctx("embed-v4.0", "embeddings")
    up = cohere.request_from_openai({"input": ["a", "b"], "dimensions": 256}, ctx)
    assert up.url == f"{BASE}/v2/embed"
    assert orjson.loads(up.body) == {"model": "embed-v4.0", "texts": ["a", "b"], "input_type": "search_document",
                                     "embedding_types": ["float"], "output_dimension": 256}
    answer = {"id": "e", "embeddings": {"float": [[0.1], [0.2]]}, "meta": {"billed_units": {"input_tokens": 2}}}
    got = cohere.response_to_openai(200, orjson.dumps(answer), ctx)
    assert [d["index"] for d in got.body["data"]] == [0, 1] and got.body["usage"]["prompt_tokens"] == 2


# ---- responses ------------------------------------------------------------------------------

def test_v2_thinking_text_and_tokens_fallback() -> None:
    answer = {"id": "x", "finish_reason": "MAX_TOKENS",
              "message": {"role": "assistant", "content": [
                  {"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "A"}, {"type": "text", "text": "B"}]},
              "usage": {"tokens": {"input_tokens": 5, "output_tokens": 6}}}
    got = cohere.response_to_openai(200, orjson.dumps(answer), make_ctx())
    assert got.body["choices"][0]["message"] == {"role": "assistant", "content": "AB", "reasoning_content": "hm"}
    assert got.body["choices"][0]["finish_reason"] == "length"
    assert got.usage.total_tokens == 11


def test_v2_empty_content() -> None:
    answer = {"id": "x", "finish_reason": "COMPLETE", "message": {"role": "assistant", "content": []}}
    got = cohere.response_to_openai(200, orjson.dumps(answer), make_ctx())
    assert got.body["choices"][0]["message"]["content"] == ""


def test_error_inside_200() -> None:
    got = cohere.response_to_openai(200, b'{"message":"internal error"}', make_ctx())
    assert got.body is None and got.error.message == "internal error"


# ---- streams --------------------------------------------------------------------------------

def sse(*objs: Any) -> bytes:
    return b"".join(b"event: " + o["type"].encode() + b"\ndata: " + orjson.dumps(o) + b"\n\n" for o in objs)


def call_delta(fragment: str) -> dict[str, Any]:
    return {"type": "tool-call-delta", "index": 0,
            "delta": {"message": {"tool_calls": {"function": {"arguments": fragment}}}}}


def test_v2_stream_tool_calls() -> None:
    data = sse({"type": "message-start", "id": "m", "delta": {"message": {"role": "assistant"}}},
               {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "plan"}}},
               {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                   "id": "t1", "type": "function", "function": {"name": "w", "arguments": ""}}}}},
               call_delta("{\"c\":"), call_delta("1}"),
               {"type": "tool-call-end", "index": 0},
               {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL",
                                                 "usage": {"billed_units": {"input_tokens": 1, "output_tokens": 2}}}})
    payloads = stream_payloads(replay(cohere.stream_to_openai(make_ctx()), data, 5))
    deltas = [p["choices"][0]["delta"] for p in payloads[:-2]]
    assert deltas == [{"role": "assistant", "content": ""}, {"reasoning_content": "plan"},
                      {"tool_calls": [{"index": 0, "id": "t1", "type": "function",
                                       "function": {"name": "w", "arguments": ""}}]},
                      {"tool_calls": [{"index": 0, "function": {"arguments": "{\"c\":"}}]},
                      {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}]
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls" and payloads[-1] == "[DONE]"


def test_v2_stream_unicode_split_and_missing_end() -> None:
    data = sse({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "héllo 世界"}}}})
    payloads = stream_payloads(replay(cohere.stream_to_openai(make_ctx()), data, 1))
    assert payloads[1]["choices"][0]["delta"] == {"content": "héllo 世界"}
    assert payloads[2]["choices"][0]["finish_reason"] == "stop" and payloads[3] == "[DONE]"


def test_v2_stream_error_in_message_end() -> None:
    data = sse({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "a"}}}},
               {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "model crashed"}})
    conv = cohere.stream_to_openai(make_ctx())
    payloads = stream_payloads(replay(conv, data, None))
    assert payloads[-1] == {"error": {"message": "model crashed", "type": "server_error", "param": None, "code": None}}
    assert conv.error is not None


def test_v1_stream_unicode_split_without_stream_end() -> None:
    lines = [orjson.dumps({"is_finished": False, "event_type": "text-generation", "text": "日本"})]
    conv = cohere.stream_to_openai(make_ctx("command-r", config={"api_version": "v1"}))
    payloads = stream_payloads(replay(conv, b"\n".join(lines), 1))
    assert payloads[1]["choices"][0]["delta"] == {"content": "日本"}
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop" and payloads[-1] == "[DONE]"


def test_v1_stream_max_tokens_and_error_line() -> None:
    end = {"is_finished": True, "event_type": "stream-end", "finish_reason": "MAX_TOKENS",
           "response": {"meta": {"tokens": {"input_tokens": 3, "output_tokens": 4}}}}
    conv = cohere.stream_to_openai(make_ctx("command-r", config={"api_version": "v1"}, include_usage=True))
    payloads = stream_payloads(replay(conv, orjson.dumps(end) + b"\n", None))
    assert payloads[1]["choices"][0]["finish_reason"] == "length"
    assert payloads[2]["usage"]["total_tokens"] == 7
    conv = cohere.stream_to_openai(make_ctx("command-r", config={"api_version": "v1"}))
    payloads = stream_payloads(replay(conv, b'{"message":"too many tokens"}\n', None))
    assert payloads == [{"error": {"message": "too many tokens", "type": "server_error", "param": None, "code": None}}]
