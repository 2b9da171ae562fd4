"""Baidu ERNIE legacy converter against vectors/baidu.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import baidu
from tests.unit.converters.vectors import assert_exact, feed_all, load, stream_payloads

VEC = load("baidu")
TOKEN = VEC["oauth"]["upstream_response"]["body"]["access_token"]
KEY = VEC["oauth"]["inputs"]["channel_key"]


def make_ctx(model: str = "ERNIE-3.5-8K", *, mode: str = "chat", stream: bool = False,
             include_usage: bool = False, base_url: str = "https://aip.baidubce.com",
             token: str = TOKEN) -> ConvertContext:
    return ConvertContext(mode=mode, model=model, base_url=base_url, key=KEY, stream=stream,
                          include_usage=include_usage, now=1715224800.0, access_token=token)


def run_stream(ctx: ConvertContext, data: bytes, step: int | None = None) -> tuple[Any, list[Any]]:
    conv = baidu.stream_to_openai(ctx)
    return conv, stream_payloads(feed_all(conv, data, step))


# ---------------------------------------------------------------- oauth

def test_oauth_request() -> None:
    exp = VEC["oauth"]["upstream_request"]
    req = baidu.auth_token_request(make_ctx(token=""))
    assert (req.method, req.url, req.headers, req.body) == (exp["method"], exp["url"], exp["headers"],
                                                            exp["body_raw"].encode())


def test_oauth_token_url_follows_base_url() -> None:
    req = baidu.auth_token_request(make_ctx(base_url="http://127.0.0.1:7000"))
    assert req.url.startswith("http://127.0.0.1:7000/oauth/2.0/token?grant_type=client_credentials&")


def test_oauth_parse_success() -> None:
    case = VEC["oauth"]
    body = orjson.dumps(case["upstream_response"]["body"])
    token, expiry = baidu.parse_auth_token(200, body, 1000.0)
    assert token == case["expected_cache_entry"]["access_token"]
    assert expiry == 1000.0 + case["expected_cache_entry"]["expires_in_seconds"]


@pytest.mark.parametrize("status", [401, 200])
def test_oauth_parse_failure(status: int) -> None:
    case = VEC["oauth"]
    with pytest.raises(ConversionError) as info:
        baidu.parse_auth_token(status, orjson.dumps(case["upstream_error_response"]["body"]), 1000.0)
    assert info.value.message == case["expected_error_message"]


@pytest.mark.parametrize("key", ["only-one-part", "a|b|c", "|secret"])
def test_bad_channel_key(key: str) -> None:
    ctx = ConvertContext(mode="chat", model="ERNIE-3.5-8K", base_url="https://aip.baidubce.com", key=key)
    with pytest.raises(ConversionError):
        baidu.auth_token_request(ctx)


# ---------------------------------------------------------------- chat

def test_chat_request() -> None:
    case = VEC["chat_request"]
    req = baidu.request_from_openai(case["openai_request"], make_ctx())
    exp = case["upstream_request"]
    assert (req.method, req.url) == (exp["method"], exp["url"])
    assert req.headers == exp["headers"]   # no Authorization header: the secret stays out of headers
    assert_exact(exp["body"], orjson.loads(req.body))


def test_model_to_url_suffix() -> None:
    for model, suffix in VEC["model_to_url_suffix"].items():
        if model.startswith("<"):
            continue
        assert baidu.endpoint_suffix(model) == suffix, model
    assert baidu.endpoint_suffix("ERNIE-4.0-Turbo-8K") == "chat/ernie-4.0-turbo-8k"
    assert baidu.endpoint_suffix("My-Embedder", "embeddings") == "embeddings/my-embedder"


def test_chat_response() -> None:
    case = VEC["chat_response"]
    up = case["upstream_response"]
    got = baidu.response_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert got.error is None
    assert_exact(case["openai_response"]["body"], got.body)
    assert (got.usage.prompt_tokens, got.usage.completion_tokens) == (7, 9)


def test_finish_reason_map() -> None:
    upstream = VEC["chat_response"]["upstream_response"]["body"]
    for raw, expected in VEC["chat_response"]["finish_reason_map"].items():
        body = {**upstream, "finish_reason": raw}
        if raw == "function_call":
            body["function_call"] = {"name": "f", "arguments": "{}"}
        got = baidu.response_to_openai(200, orjson.dumps(body), make_ctx())
        assert got.body["choices"][0]["finish_reason"] == expected, raw


@pytest.mark.parametrize("step", [None, 1, 13])
def test_chat_stream(step: int | None) -> None:
    case = VEC["chat_stream"]
    ctx = make_ctx(stream=True, include_usage=True)
    req = baidu.request_from_openai(case["openai_request"], ctx)
    assert_exact(case["upstream_request_body"], orjson.loads(req.body))
    conv, payloads = run_stream(ctx, case["upstream_transcript_raw"].encode(), step)
    assert_exact(case["openai_chunks"], payloads)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (7, 9)


def test_error_in_http200() -> None:
    case = VEC["error"]
    raw = orjson.dumps(case["upstream_response"]["body"])
    exp = case["openai_error"]
    got = baidu.response_to_openai(200, raw, make_ctx())
    assert got.body is None
    assert got.error.status == exp["status"]
    assert_exact(exp["body"], got.error.to_body())
    assert got.error.code in baidu.AUTH_EXPIRED_CODES
    err = baidu.error_to_openai(200, raw, make_ctx())
    assert err.status == exp["status"] and err.to_body() == exp["body"]
    # In stream mode the same body arrives as application/json: one error event, nothing else.
    conv, payloads = run_stream(make_ctx(stream=True), raw, 3)
    assert payloads == [exp["body"]] and conv.error.code == 110


def test_embeddings() -> None:
    case = VEC["embeddings"]
    ctx = make_ctx("Embedding-V1", mode="embeddings")
    req = baidu.request_from_openai(case["openai_request"], ctx)
    assert req.url == case["upstream_request"]["url"]
    assert_exact(case["upstream_request"]["body"], orjson.loads(req.body))
    up = case["upstream_response"]
    got = baidu.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert_exact(case["openai_response"]["body"], got.body)
    assert got.usage.prompt_tokens == 2


# ---------------------------------------------------------------- extra cases

def test_request_needs_access_token() -> None:
    with pytest.raises(ConversionError):
        baidu.request_from_openai({"messages": [{"role": "user", "content": "hi"}]}, make_ctx(token=""))


def test_clamping_merging_and_stop() -> None:
    body = {"messages": [{"role": "system", "content": "a"}, {"role": "system", "content": "b"},
                         {"role": "user", "content": "x"}, {"role": "user", "content": "y"}],
            "temperature": 0, "max_tokens": 1, "frequency_penalty": 0.5, "stop": "END"}
    sent = orjson.loads(baidu.request_from_openai(body, make_ctx()).body)
    assert sent == {"system": "a\nb", "messages": [{"role": "user", "content": "x\ny"}],
                    "temperature": 0.01, "max_output_tokens": 2, "stop": ["END"]}


def test_tools_and_function_history() -> None:
    body = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                                                    "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}
    sent = orjson.loads(baidu.request_from_openai(body, make_ctx()).body)
    assert sent["messages"][1] == {"role": "assistant", "content": "",
                                   "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    assert sent["messages"][2] == {"role": "function", "name": "get_weather", "content": "sunny"}
    assert sent["functions"] == [{"name": "get_weather", "description": "d", "parameters": {"type": "object"}}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]},
    {"messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]},
    {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}},
    {"messages": [{"role": "user", "content": "x"}], "n": 2},
])
def test_unsupported_requests_raise(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        baidu.request_from_openai(body, make_ctx())


def test_function_call_and_safety_block_responses() -> None:
    body = {"id": "as-1", "created": 1, "result": "", "finish_reason": "function_call",
            "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}", "thoughts": "t"},
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
    got = baidu.response_to_openai(200, orjson.dumps(body), make_ctx())
    msg = got.body["choices"][0]["message"]
    assert msg["content"] is None and msg["tool_calls"][0]["function"]["name"] == "get_weather"
    blocked = {"id": "as-2", "created": 1, "result": "canned", "finish_reason": "normal", "need_clear_history": True}
    got = baidu.response_to_openai(200, orjson.dumps(blocked), make_ctx())
    assert got.body["choices"][0]["finish_reason"] == "content_filter"


def test_stream_unicode_split_and_missing_end() -> None:
    data = 'data: {"id":"as-9","created":5,"result":"你好","is_end":false}\n\n'.encode()
    conv, payloads = run_stream(make_ctx(stream=True), data, 1)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "你好"}
    assert payloads[0]["id"] == "as-9"
    assert payloads[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[2] == "[DONE]" and len(payloads) == 3


def test_stream_mid_stream_error() -> None:
    data = (b'data: {"id":"as-9","created":5,"result":"Hi","is_end":false}\n\n'
            b'data: {"error_code":336501,"error_msg":"Rate limit reached for RPM"}\n\n')
    conv, payloads = run_stream(make_ctx(stream=True), data)
    assert payloads[-1] == {"error": {"message": "Rate limit reached for RPM", "type": "baidu_error",
                                      "param": None, "code": 336501}}
    assert conv.error.status == 429 and "[DONE]" not in payloads


def test_non_json_and_non_200_errors() -> None:
    err = baidu.error_to_openai(502, b"Bad Gateway", make_ctx())
    assert (err.status, err.message) == (502, "bad response status code 502")
    err = baidu.error_to_openai(500, b'{"error_code":336100,"error_msg":"try again later"}', make_ctx())
    assert (err.status, err.code, err.type) == (500, 336100, "baidu_error")
