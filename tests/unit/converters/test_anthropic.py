"""Anthropic converter against vectors/anthropic.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import anthropic
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    feed_all,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

VECTORS = load("anthropic")["cases"]
NOW = 1_735_689_600.0


def make_ctx(request: dict[str, Any] | None = None, **over: Any) -> ConvertContext:
    request = request or {}
    fields: dict[str, Any] = dict(
        mode="chat", model=request.get("model", "claude-3-5-haiku-20241022"),
        base_url="https://api.anthropic.com", key="sk-ant-test", stream=bool(request.get("stream")),
        include_usage=bool((request.get("stream_options") or {}).get("include_usage")), now=NOW)
    fields.update(over)
    return ConvertContext(**fields)


def normalise_arguments(obj: Any) -> Any:
    """Non-stream function.arguments are compared after JSON-parsing (vector conventions)."""
    if isinstance(obj, dict):
        out = {k: normalise_arguments(v) for k, v in obj.items()}
        if isinstance(out.get("arguments"), str):
            out["arguments"] = orjson.loads(out["arguments"])
        return out
    if isinstance(obj, list):
        return [normalise_arguments(v) for v in obj]
    return obj


def chat(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-3-5-haiku-20241022", "messages": messages, **extra}


def upstream_body(request: dict[str, Any], **ctx_over: Any) -> dict[str, Any]:
    return orjson.loads(anthropic.request_from_openai(request, make_ctx(request, **ctx_over)).body)


# -- vector cases --------------------------------------------------------------------------

REQUEST_CASES = [name for name, case in VECTORS.items() if "upstream_request" in case]


@pytest.mark.parametrize("name", REQUEST_CASES)
def test_request_vector(name: str) -> None:
    case = VECTORS[name]
    req = anthropic.request_from_openai(case["openai_request"], make_ctx(case["openai_request"]))
    expected = case["upstream_request"]
    body = orjson.loads(req.body)
    assert req.method == expected["method"]
    assert req.url == expected["url"]
    assert_subset(expected["headers"], req.headers)
    assert_subset(expected["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))
    assert all(m["role"] != "system" for m in body["messages"])


RESPONSE_CASES = [name for name, case in VECTORS.items() if "expected_openai_response" in case]


@pytest.mark.parametrize("name", RESPONSE_CASES)
def test_response_vector(name: str) -> None:
    case = VECTORS[name]
    up = case["upstream_response"]
    got = anthropic.response_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx(case["openai_request"]))
    assert got.error is None
    assert_subset(normalise_arguments(case["expected_openai_response"]), normalise_arguments(got.body))
    assert got.usage.to_openai() == got.body["usage"]


STREAM_CASES = [name for name, case in VECTORS.items() if "upstream_stream" in case]


@pytest.mark.parametrize("step", [None, 1, 7])
@pytest.mark.parametrize("name", STREAM_CASES)
def test_stream_vector(name: str, step: int | None) -> None:
    case = VECTORS[name]
    conv = anthropic.stream_to_openai(make_ctx(case["openai_request"]))
    events = feed_all(conv, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events, case.get("optional_trailing_done", False))


ERROR_CASES = [name for name, case in VECTORS.items() if "expected_openai_error" in case]


@pytest.mark.parametrize("name", ERROR_CASES)
def test_error_vector(name: str) -> None:
    case = VECTORS[name]
    up = case["upstream_response"]
    err = anthropic.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


@pytest.mark.parametrize("stop_reason,finish", sorted(VECTORS["stop_reason_table"].items()))
def test_stop_reason_table(stop_reason: str, finish: str) -> None:
    body = {"id": "msg_1", "model": "m", "content": [{"type": "text", "text": "x"}],
            "stop_reason": stop_reason, "usage": {"input_tokens": 1, "output_tokens": 1}}
    got = anthropic.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body["choices"][0]["finish_reason"] == finish


def test_stream_usage_is_cumulative_not_summed() -> None:
    case = VECTORS["stream_text_with_usage"]
    conv = anthropic.stream_to_openai(make_ctx(case["openai_request"]))
    feed_all(conv, wire_lines_to_bytes(case["upstream_stream"]))
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (12, 6)
    assert conv.error is None


def test_stream_without_include_usage_still_counts() -> None:
    case = VECTORS["stream_tool_use"]
    conv = anthropic.stream_to_openai(make_ctx(case["openai_request"]))
    feed_all(conv, wire_lines_to_bytes(case["upstream_stream"]))
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (50, 30)


def test_midstream_error_sets_error_and_stops() -> None:
    case = VECTORS["stream_midstream_error"]
    conv = anthropic.stream_to_openai(make_ctx(case["openai_request"]))
    events = conv.feed(wire_lines_to_bytes(case["upstream_stream"]))
    assert conv.error is not None and conv.error.status == 529
    assert conv.feed(b'event: ping\ndata: {"type":"ping"}\n\n') == []
    assert conv.flush() == []
    assert stream_payloads(events)[-1] == "[DONE]"


# -- requests: extra cases -----------------------------------------------------------------

def test_base_url_and_stream_flag() -> None:
    request = chat([{"role": "user", "content": "hi"}], stream=True)
    req = anthropic.request_from_openai(request, make_ctx(request, base_url="http://127.0.0.1:9999"))
    assert req.url == "http://127.0.0.1:9999/v1/messages"
    assert orjson.loads(req.body)["stream"] is True


@pytest.mark.parametrize("mode", ["embeddings", "images", "completions"])
def test_other_modes_rejected(mode: str) -> None:
    with pytest.raises(ConversionError):
        anthropic.request_from_openai(chat([{"role": "user", "content": "hi"}]), make_ctx(mode=mode))


def test_defaults_and_drops() -> None:
    body = upstream_body(chat([{"role": "user", "content": "hi"}], stop="END", temperature=1.7,
                              frequency_penalty=1, presence_penalty=1, seed=3, logit_bias={"1": 2},
                              stream_options={"include_usage": True}, n=1, top_k=5))
    assert body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS
    assert body["stop_sequences"] == ["END"]
    assert body["temperature"] == 1.0
    assert body["top_k"] == 5
    for dropped in ("frequency_penalty", "presence_penalty", "seed", "logit_bias", "stream_options", "n", "stream"):
        assert dropped not in body


def test_max_completion_tokens_wins() -> None:
    body = upstream_body(chat([{"role": "user", "content": "hi"}], max_completion_tokens=77, max_tokens=5))
    assert body["max_tokens"] == 77


@pytest.mark.parametrize("extra,message", [
    ({"n": 2}, "n must be 1"),
    ({"response_format": {"type": "json_object"}}, "response_format"),
    ({"functions": [{"name": "f"}]}, "functions"),
    ({"tools": [{"type": "code_interpreter"}]}, "function"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"max_tokens": "many"}, "integer"),
])
def test_unsupported_request_fields(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        upstream_body(chat([{"role": "user", "content": "hi"}], **extra))


def test_images_http_url_and_bad_types() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    body = upstream_body(chat([{"role": "user", "content": [part]}]))
    source = {"type": "url", "url": "https://example.com/cat.jpg"}
    assert body["messages"][0]["content"] == [{"type": "image", "source": source}]
    jpg = {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,AAAA"}}
    block = upstream_body(chat([{"role": "user", "content": [jpg]}]))["messages"][0]["content"][0]
    assert block["source"]["media_type"] == "image/jpeg"
    for url in ("data:image/bmp;base64,AAAA", "ftp://x/y.png"):
        bad = {"type": "image_url", "image_url": {"url": url}}
        with pytest.raises(ConversionError):
            upstream_body(chat([{"role": "user", "content": [bad]}]))
    with pytest.raises(ConversionError, match="input_audio"):
        upstream_body(chat([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]))


def test_empty_content_merging_and_ordering() -> None:
    body = upstream_body(chat([
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": ""},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "not json"}}]},
        {"role": "user", "content": "c"},
        {"role": "tool", "tool_call_id": "t1", "content": [{"type": "text", "text": "ok"}]},
        {"role": "system", "content": ""},
    ]))
    assert "system" not in body
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "ok"}]},
            {"type": "text", "text": "c"}]},
    ]


def test_tool_choice_variants() -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    named = {"type": "function", "function": {"name": "f"}}
    body = upstream_body(chat([{"role": "user", "content": "x"}], tools=tools, tool_choice=named))
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    assert body["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    body = upstream_body(chat([{"role": "user", "content": "x"}], tools=tools, parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    body = upstream_body(chat([{"role": "user", "content": "x"}], tools=tools, tool_choice="none",
                              parallel_tool_calls=False))
    assert body["tool_choice"] == {"type": "none"}


def test_reasoning_effort_to_thinking() -> None:
    body = upstream_body(chat([{"role": "user", "content": "x"}], reasoning_effort="medium"))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert body["max_tokens"] > 4096
    body = upstream_body(chat([{"role": "user", "content": "x"}], reasoning_effort="high", max_tokens=3000))
    assert body["thinking"]["budget_tokens"] == 2999
    with pytest.raises(ConversionError):
        upstream_body(chat([{"role": "user", "content": "x"}], reasoning_effort="low", max_tokens=500))


# -- responses: extra cases ----------------------------------------------------------------

def test_response_empty_content_and_multiple_text_blocks() -> None:
    empty = {"id": "msg_e", "model": "m", "content": [], "stop_reason": "max_tokens", "usage": {}}
    got = anthropic.response_to_openai(200, orjson.dumps(empty), make_ctx())
    assert got.body["choices"][0]["message"] == {"role": "assistant", "content": ""}
    assert got.body["choices"][0]["finish_reason"] == "length"
    assert got.body["id"] == "chatcmpl-msg_e" and got.body["created"] == int(NOW)
    many = {"id": "msg_m", "model": "m", "stop_reason": "end_turn", "usage": {},
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    message = anthropic.response_to_openai(200, orjson.dumps(many), make_ctx()).body["choices"][0]["message"]
    assert message == {"role": "assistant", "content": "ab", "reasoning_content": "hmm"}


def test_response_tool_only_has_null_content() -> None:
    body = {"id": "msg_t", "model": "m", "stop_reason": "tool_use", "usage": {},
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    message = anthropic.response_to_openai(200, orjson.dumps(body), make_ctx()).body["choices"][0]["message"]
    assert message["content"] is None and message["tool_calls"][0]["function"]["arguments"] == "{}"


def test_200_body_carrying_an_error() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    got = anthropic.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body is None and got.error is not None
    assert (got.error.status, got.error.type, got.error.code) == (529, "overloaded_error", "overloaded_error")
    assert anthropic.response_to_openai(200, b"<html>", make_ctx()).error is not None


def test_error_without_json() -> None:
    err = anthropic.error_to_openai(502, b"<html>bad gateway</html>", make_ctx())
    assert (err.status, err.message, err.type) == (502, "bad response status code 502", "server_error")


# -- streams: extra cases ------------------------------------------------------------------

def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


START = {"type": "message_start", "message": {"id": "msg_x", "model": "claude-x", "usage": {
    "input_tokens": 5, "cache_creation_input_tokens": 10, "cache_read_input_tokens": 20, "output_tokens": 1}}}


def text_delta(text: str) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}


def test_stream_unicode_split_across_feeds() -> None:
    data = sse(START, text_delta("héllo 你好 🎉"), {"type": "message_stop"})
    conv = anthropic.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, data, 1))
    chunks = [p for p in payloads if isinstance(p, dict) and p["choices"]]
    text = "".join(p["choices"][0]["delta"].get("content", "") for p in chunks)
    assert text == "héllo 你好 🎉"


def test_stream_ends_without_final_event() -> None:
    conv = anthropic.stream_to_openai(make_ctx(include_usage=True))
    payloads = stream_payloads(feed_all(conv, sse(START, text_delta("partial"))))
    assert payloads[-3]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[-2]["usage"] == {"prompt_tokens": 35, "completion_tokens": 1, "total_tokens": 36,
                                     "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 10, "cache_creation": {
                                             "ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0}}}
    assert payloads[-1] == "[DONE]"


def test_empty_stream_still_finishes() -> None:
    payloads = stream_payloads(anthropic.stream_to_openai(make_ctx()).flush())
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert payloads[1]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-1] == "[DONE]"


def test_stream_thinking_and_cache_usage() -> None:
    thinking = {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}}
    signature = {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "x"}}
    delta = {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
             "usage": {"input_tokens": 5, "cache_read_input_tokens": 20, "output_tokens": 9}}
    conv = anthropic.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, sse(START, thinking, signature, delta, {"type": "message_stop"})))
    assert payloads[0]["id"] == "chatcmpl-msg_x" and payloads[0]["model"] == "claude-x"
    assert payloads[1]["choices"][0]["delta"] == {"reasoning_content": "hm"}
    assert payloads[2]["choices"][0]["finish_reason"] == "length"
    assert conv.usage.to_openai() == {"prompt_tokens": 35, "completion_tokens": 9, "total_tokens": 44,
                                      "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 10, "cache_creation": {
                                             "ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 0}}}


def test_two_tool_calls_get_indices_0_and_1() -> None:
    def tool_start(index: int, call_id: str) -> dict[str, Any]:
        return {"type": "content_block_start", "index": index,
                "content_block": {"type": "tool_use", "id": call_id, "name": "f", "input": {}}}

    def args(index: int, fragment: str) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": fragment}}

    data = sse(START, tool_start(3, "a"), args(3, "{}"), tool_start(5, "b"), args(5, "{}"),
               {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
               {"type": "message_stop"})
    payloads = stream_payloads(feed_all(anthropic.stream_to_openai(make_ctx()), data))
    calls = [p["choices"][0]["delta"]["tool_calls"][0] for p in payloads[1:5]]
    assert [c["index"] for c in calls] == [0, 0, 1, 1]
    assert payloads[5]["choices"][0]["finish_reason"] == "tool_calls"  # stop with tool calls → tool_calls


def test_error_event_before_message_start() -> None:
    data = b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":"boom"}}\n\n'
    conv = anthropic.stream_to_openai(make_ctx())
    payloads = stream_payloads(feed_all(conv, data))
    assert payloads[0] == {"error": {"message": "boom", "type": "api_error", "param": None, "code": "api_error"}}
    assert conv.error is not None and conv.error.status == 500
