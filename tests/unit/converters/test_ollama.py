"""Ollama native converter against vectors/ollama.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import ollama
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

V = load("ollama")
CASES = V["cases"]
BASE = "http://localhost:11434"


def make_ctx(model: str = "llama3.2", mode: str = "chat", **kw: Any) -> ConvertContext:
    kw.setdefault("base_url", BASE)
    kw.setdefault("key", "")
    return ConvertContext(mode=mode, model=model, now=1734012823.0, **kw)


def ctx_for(req: dict[str, Any]) -> ConvertContext:
    return make_ctx(req["model"], "embeddings" if "input" in req else "chat", stream=bool(req.get("stream")),
                    include_usage=bool((req.get("stream_options") or {}).get("include_usage")))


def replay(conv: Any, data: bytes, step: int | None) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(data), step or len(data)):
        out += conv.feed(data[i:i + (step or len(data))])
    return out + conv.flush()


REQUEST_CASES = [n for n, c in CASES.items() if "upstream_request" in c]
RESPONSE_CASES = [n for n, c in CASES.items() if "expected_openai_response" in c]
STREAM_CASES = [n for n, c in CASES.items() if "expected_openai_stream" in c]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_vectors(name: str) -> None:
    case = CASES[name]
    up = ollama.request_from_openai(case["openai_request"], ctx_for(case["openai_request"]))
    want = case["upstream_request"]
    assert (up.method, up.url) == (want["method"], want["url"])
    body = orjson.loads(up.body)
    assert_subset(want["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))
    if up.url.endswith("/api/chat"):
        assert body["stream"] is bool(case["openai_request"].get("stream"))
    assert "Authorization" not in up.headers


@pytest.mark.parametrize("name", RESPONSE_CASES)
def test_response_vectors(name: str) -> None:
    case = CASES[name]
    resp = case["upstream_response"]
    mode = "embeddings" if name == "embed" else "chat"
    model = resp["body"]["model"]
    got = ollama.response_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx(model, mode))
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)
    assert got.usage.total_tokens == case["expected_openai_response"]["usage"]["total_tokens"]


@pytest.mark.parametrize("step", [None, 1, 9])
@pytest.mark.parametrize("name", STREAM_CASES)
def test_stream_vectors(name: str, step: int | None) -> None:
    case = CASES[name]
    conv = ollama.stream_to_openai(ctx_for(case["openai_request"]) if "openai_request" in case else make_ctx())
    events = replay(conv, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events, case.get("optional_trailing_done", False))
    assert (conv.error is not None) == (name == "stream_midstream_error")


def test_error_vector() -> None:
    case = CASES["error_model_not_found"]
    resp = case["upstream_response"]
    err = ollama.error_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx())
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


def test_base_url_and_bearer_key() -> None:
    up = ollama.request_from_openai({"messages": [{"role": "user", "content": "x"}]},
                                    make_ctx(base_url="http://127.0.0.1:5", key="sk-1"))
    assert up.url == "http://127.0.0.1:5/api/chat"
    assert up.headers["Authorization"] == "Bearer sk-1"


def test_tool_history_and_format() -> None:
    body = {"messages": [
        {"role": "developer", "content": "d"}, {"role": "user", "content": [{"type": "text", "text": "a"},
                                                                          {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{\"q\":1}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "top_k": 4, "stop": "Z", "max_completion_tokens": 7, "num_ctx": 4096,
        "tools": [{"type": "function", "function": {"name": "w"}}], "tool_choice": "auto"}
    out = orjson.loads(ollama.request_from_openai(body, make_ctx()).body)
    assert out["messages"] == [
        {"role": "system", "content": "d"}, {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "w", "arguments": {"q": 1}}}]},
        {"role": "tool", "content": "sunny", "tool_name": "w"}]
    assert out["format"] == {"type": "object"}
    assert out["options"] == {"top_k": 4, "stop": ["Z"], "num_predict": 7, "num_ctx": 4096}
    assert out["tools"] == body["tools"]


def test_tool_choice_none_drops_tools_and_required_refused() -> None:
    base = {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "w"}}]}
    assert "tools" not in orjson.loads(ollama.request_from_openai({**base, "tool_choice": "none"}, make_ctx()).body)
    with pytest.raises(ConversionError, match="tool_choice"):
        ollama.request_from_openai({**base, "tool_choice": "required"}, make_ctx())


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
    {"messages": [{"role": "user", "content": "x"}], "n": 2},
    {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}]}]},
])
def test_unsupported_requests_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        ollama.request_from_openai(body, make_ctx())


def test_json_object_and_embed_dimensions() -> None:
    out = orjson.loads(ollama.request_from_openai(
        {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}, make_ctx()).body)
    assert out["format"] == "json"
    out = orjson.loads(ollama.request_from_openai({"input": "a", "dimensions": 3}, make_ctx("m", "embeddings")).body)
    assert out == {"model": "m", "input": "a", "dimensions": 3}
    with pytest.raises(ConversionError):
        ollama.request_from_openai({"input": [[1, 2]]}, make_ctx("m", "embeddings"))


def test_thinking_and_empty_content() -> None:
    body = {"message": {"role": "assistant", "content": "", "thinking": "hmm"}, "done": True, "done_reason": "stop"}
    got = ollama.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body["choices"][0]["message"] == {"role": "assistant", "content": "", "reasoning_content": "hmm"}
    assert got.body["created"] == 1734012823
    assert got.usage.total_tokens == 0


def test_error_inside_200() -> None:
    got = ollama.response_to_openai(200, b'{"error":"boom"}', make_ctx())
    assert got.body is None and (got.error.message, got.error.type) == ("boom", "server_error")


def ndjson(*objs: Any) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


def test_stream_unicode_split_and_missing_done() -> None:
    data = ndjson({"message": {"role": "assistant", "content": "héllo 世界"}, "done": False})
    payloads = stream_payloads(replay(ollama.stream_to_openai(make_ctx()), data, 1))
    assert payloads[1]["choices"][0]["delta"] == {"content": "héllo 世界"}
    assert payloads[2]["choices"][0]["finish_reason"] == "stop" and payloads[3] == "[DONE]"


def test_stream_tool_calls_length_and_last_line_without_newline() -> None:
    data = ndjson({"message": {"role": "assistant", "thinking": "t"}, "done": False},
                  {"message": {"role": "assistant", "content": "", "tool_calls": [
                      {"function": {"name": "a", "arguments": {"x": 1}}},
                      {"function": {"name": "b", "arguments": {}}}]}, "done": False})
    data += orjson.dumps({"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                          "prompt_eval_count": 5, "eval_count": 6})
    conv = ollama.stream_to_openai(make_ctx(include_usage=True))
    payloads = stream_payloads(replay(conv, data, 4))
    assert payloads[1]["choices"][0]["delta"] == {"reasoning_content": "t"}
    calls = [p["choices"][0]["delta"]["tool_calls"][0] for p in payloads[2:4]]
    assert [(c["index"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (0, "a", "{\"x\":1}"), (1, "b", "{}")]
    assert payloads[4]["choices"][0]["finish_reason"] == "tool_calls"
    assert payloads[5]["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    assert payloads[6] == "[DONE]" and len(payloads) == 7
    assert conv.flush() == []


def test_stream_length_finish() -> None:
    data = ndjson({"message": {"content": "a"}, "done": False},
                  {"message": {"content": ""}, "done": True, "done_reason": "length", "eval_count": 1})
    payloads = stream_payloads(replay(ollama.stream_to_openai(make_ctx()), data, None))
    assert payloads[-2]["choices"][0]["finish_reason"] == "length"


def test_ndjson_decoder_handles_crlf_and_blank_lines() -> None:
    dec = ollama.NDJSONDecoder()
    assert dec.feed(b'{"a":1}\r\n\r\n{"b"') == ['{"a":1}']
    assert dec.feed(b":2}") == []
    assert dec.flush() == ['{"b":2}']
