"""Coze converter against vectors/coze.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import coze
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    feed_all,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

V = load("coze")["cases"]
MODEL = "bot-7428934153870458898"
CHANNEL_USER = "<channel user_id>"


def make_ctx(*, v2: bool = False, stream: bool = False, include_usage: bool = False,
             base_url: str = "https://api.coze.com") -> ConvertContext:
    config = {"user_id": CHANNEL_USER}
    if v2:
        config["api_version"] = "v2"
    return ConvertContext(mode="chat", model=MODEL, base_url=base_url, key="pat_test_token", config=config,
                          stream=stream, include_usage=include_usage, now=1729500000.0)


def check_request(case: dict[str, Any], ctx: ConvertContext) -> dict[str, Any]:
    req = coze.request_from_openai(case["openai_request"], ctx)
    exp = case["upstream_request"]
    assert (req.method, req.url) == (exp["method"], exp["url"])
    assert_subset(exp["headers"], req.headers)
    body = orjson.loads(req.body)
    assert_subset(exp["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))
    return body


def run_stream(ctx: ConvertContext, data: bytes, step: int | None = None) -> tuple[Any, list[bytes]]:
    conv = coze.stream_to_openai(ctx)
    return conv, feed_all(conv, data, step)


# ---------------------------------------------------------------- vector cases

@pytest.mark.parametrize("step", [None, 1, 5])
def test_v3_stream(step: int | None) -> None:
    case = V["v3_stream"]
    ctx = make_ctx(stream=True, include_usage=True)
    check_request(case, ctx)
    conv, events = run_stream(ctx, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (635, 18)
    assert conv.error is None


def test_v3_nonstream_by_aggregation() -> None:
    case = V["v3_nonstream_by_aggregation"]
    ctx = make_ctx()
    body = orjson.loads(coze.request_from_openai(case["openai_request"], ctx).body)
    assert body["stream"] is True   # aggregated from the stream
    got = coze.response_to_openai(200, wire_lines_to_bytes(case["upstream_stream"]), ctx)
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)


def test_v3_chat_failed() -> None:
    case = V["v3_chat_failed"]
    conv, events = run_stream(make_ctx(stream=True), wire_lines_to_bytes(case["upstream_stream"]), 3)
    assert_stream(case["expected_openai_stream"], events, case.get("optional_trailing_done", False))
    assert conv.error is not None and conv.error.code == 5000


def test_v3_error_http200() -> None:
    case = V["v3_error_http200"]
    up = case["upstream_response"]
    exp = case["expected_openai_error"]
    raw = orjson.dumps(up["body"])
    got = coze.response_to_openai(up["status"], raw, make_ctx())
    assert got.body is None and got.error is not None
    assert got.error.status == exp["status"] and got.error.to_body() == exp["body"]
    err = coze.error_to_openai(up["status"], raw, make_ctx())
    assert err.status == exp["status"] and err.to_body() == exp["body"]
    # The same body where a stream was expected becomes a stream error.
    conv, events = run_stream(make_ctx(stream=True), raw, 4)
    assert stream_payloads(events) == [exp["body"]]
    assert conv.error.status == 401


def test_v2_nonstream_legacy() -> None:
    case = V["v2_nonstream_legacy"]
    ctx = make_ctx(v2=True)
    check_request(case, ctx)
    up = case["upstream_response"]
    got = coze.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert_subset(case["expected_openai_response"], got.body)


@pytest.mark.parametrize("step", [None, 1])
def test_v2_stream_legacy(step: int | None) -> None:
    case = V["v2_stream_legacy"]
    _, events = run_stream(make_ctx(v2=True, stream=True), wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events)


# ---------------------------------------------------------------- extra cases

def test_system_prompt_prepended_and_user_fallback() -> None:
    body = {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "Hi"}]}
    ctx = ConvertContext(mode="chat", model=MODEL, base_url="http://127.0.0.1:8080", key="k")
    req = coze.request_from_openai(body, ctx)
    assert req.url == "http://127.0.0.1:8080/v3/chat"
    sent = orjson.loads(req.body)
    assert sent["additional_messages"] == [{"role": "user", "content": "Be brief.\nHi", "content_type": "text"}]
    assert sent["user_id"] == coze.FALLBACK_USER


def test_v3_image_becomes_object_string() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}
    sent = orjson.loads(coze.request_from_openai(body, make_ctx()).body)
    msg = sent["additional_messages"][0]
    assert msg["content_type"] == "object_string"
    assert orjson.loads(msg["content"]) == [{"type": "text", "text": "What is this?"},
                                            {"type": "image", "file_url": "https://example.com/cat.png"}]


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
    {"messages": [{"role": "assistant", "content": "hi"}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]},
])
def test_unsupported_requests_raise(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        coze.request_from_openai(body, make_ctx())


def test_v2_rejects_images() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}
    with pytest.raises(ConversionError):
        coze.request_from_openai(body, make_ctx(v2=True))


def test_stream_unicode_split_and_missing_end() -> None:
    lines = ["event:conversation.chat.created", 'data:{"id":"1","status":"created"}', "",
             "event:conversation.message.delta", 'data:{"role":"assistant","type":"answer","content":"日本語"}', ""]
    conv, events = run_stream(make_ctx(stream=True, include_usage=True), wire_lines_to_bytes(lines), 1)
    payloads = stream_payloads(events)
    assert payloads[1]["choices"][0]["delta"] == {"content": "日本語"}
    assert payloads[2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[3]["choices"] == [] and payloads[4] == "[DONE]"


def test_stream_error_event() -> None:
    lines = ["event:error", 'data:{"code":4000,"msg":"bad request"}', ""]
    conv, events = run_stream(make_ctx(stream=True), wire_lines_to_bytes(lines))
    assert stream_payloads(events) == [{"error": {"message": "bad request", "type": "invalid_request_error",
                                                  "param": None, "code": 4000}}]


def test_v2_stream_error_event() -> None:
    data = b'data:{"event":"error","error_information":{"code":4100,"msg":"token invalid"}}\n\n'
    conv, events = run_stream(make_ctx(v2=True, stream=True), data)
    assert conv.error.status == 401 and stream_payloads(events)[0]["error"]["message"] == "token invalid"


def test_aggregate_empty_answer() -> None:
    lines = ["event:conversation.chat.completed", 'data:{"status":"completed","usage":{"input_count":3,"output_count":0}}',
             "", "event:done", 'data:"[DONE]"', ""]
    got = coze.response_to_openai(200, wire_lines_to_bytes(lines), make_ctx())
    assert got.body["choices"][0]["message"]["content"] == ""
    assert got.usage.prompt_tokens == 3


def test_aggregate_failed_chat_is_error() -> None:
    got = coze.response_to_openai(200, wire_lines_to_bytes(V["v3_chat_failed"]["upstream_stream"]), make_ctx())
    assert got.body is None and got.error.status == 500 and got.error.code == 5000


def test_non_2xx_error() -> None:
    err = coze.error_to_openai(429, b'{"code":4013,"msg":"rate limited"}', make_ctx())
    assert (err.status, err.type, err.code, err.message) == (429, "rate_limit_error", 4013, "rate limited")
    err = coze.error_to_openai(502, b"oops", make_ctx())
    assert err.message == "bad response status code 502"
