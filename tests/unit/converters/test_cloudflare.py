"""Cloudflare Workers AI converter against vectors/cloudflare.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import cloudflare
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    feed_all,
    load,
    stream_payloads,
    wire_lines_to_bytes,
)

V = load("cloudflare")["cases"]
ACCOUNT = "023e105f4ecef8ad9ca31a8372d0c353"
KEY = "cf-test-token"


def make_ctx(model: str = "@cf/meta/llama-3.1-8b-instruct", *, mode: str = "chat", native: bool = False,
             base_url: str = "https://api.cloudflare.com", stream: bool = False,
             include_usage: bool = False) -> ConvertContext:
    config = {"user_id": ACCOUNT}
    if native:
        config["api_version"] = "native"
    return ConvertContext(mode=mode, model=model, base_url=base_url, key=KEY, config=config,
                          stream=stream, include_usage=include_usage, now=1735689600.0)


def check_request(case: dict[str, Any], ctx: ConvertContext) -> None:
    req = cloudflare.request_from_openai(case["openai_request"], ctx)
    exp = case["upstream_request"]
    assert req.method == exp["method"]
    assert req.url == exp["url"]
    assert_subset(exp["headers"], req.headers)
    body = orjson.loads(req.body)
    assert_subset(exp["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))


# ---------------------------------------------------------------- vector cases

def test_openai_compatible_chat_request_and_response() -> None:
    case = V["openai_compatible_chat"]
    ctx = make_ctx()
    check_request(case, ctx)
    up = case["upstream_response"]
    got = cloudflare.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)
    assert got.usage.prompt_tokens == 20 and got.usage.completion_tokens == 3


def test_native_run_nonstream() -> None:
    case = V["native_run_nonstream"]
    ctx = make_ctx(native=True)
    check_request(case, ctx)
    up = case["upstream_response"]
    got = cloudflare.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert_subset(case["expected_openai_response"], got.body)
    assert got.usage.total_tokens == 23


@pytest.mark.parametrize("step", [None, 1, 7])
def test_native_run_stream(step: int | None) -> None:
    case = V["native_run_stream"]
    ctx = make_ctx(native=True, stream=True, include_usage=True)
    check_request(case, ctx)
    conv = cloudflare.stream_to_openai(ctx)
    events = feed_all(conv, wire_lines_to_bytes(case["upstream_stream"]), step)
    assert_stream(case["expected_openai_stream"], events)
    assert conv.usage.prompt_tokens == 20 and conv.usage.completion_tokens == 3
    assert conv.error is None


def test_native_embeddings() -> None:
    case = V["native_embeddings"]
    ctx = make_ctx("@cf/baai/bge-small-en-v1.5", mode="embeddings", native=True)
    check_request(case, ctx)
    up = case["upstream_response"]
    got = cloudflare.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert_subset(case["expected_openai_response"], got.body)


def test_ai_gateway_urls() -> None:
    case = V["ai_gateway_urls"]
    base = case["prefix"] + "workers-ai"
    native = cloudflare.request_from_openai(V["native_run_nonstream"]["openai_request"],
                                            make_ctx(native=True, base_url=base))
    assert native.url == case["examples"]["workers-ai native"]
    compat = cloudflare.request_from_openai(V["openai_compatible_chat"]["openai_request"], make_ctx(base_url=base))
    assert compat.url == case["examples"]["workers-ai openai-compatible"]
    # A gateway base without the provider segment gets `/workers-ai` appended.
    bare = cloudflare.request_from_openai(V["openai_compatible_chat"]["openai_request"],
                                          make_ctx(base_url=case["prefix"].rstrip("/")))
    assert bare.url == case["examples"]["workers-ai openai-compatible"]


def test_error_auth() -> None:
    case = V["error_auth"]
    up = case["upstream_response"]
    err = cloudflare.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


# ---------------------------------------------------------------- extra cases

def test_base_url_mirror_is_used() -> None:
    req = cloudflare.request_from_openai(V["openai_compatible_chat"]["openai_request"],
                                         make_ctx(base_url="http://127.0.0.1:9999"))
    assert req.url == f"http://127.0.0.1:9999/client/v4/accounts/{ACCOUNT}/ai/v1/chat/completions"


def test_missing_account_id_is_a_conversion_error() -> None:
    ctx = ConvertContext(mode="chat", model="@cf/x", base_url="https://api.cloudflare.com", key=KEY)
    with pytest.raises(ConversionError):
        cloudflare.request_from_openai({"messages": [{"role": "user", "content": "hi"}]}, ctx)


def test_native_rejects_images() -> None:
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]}
    with pytest.raises(ConversionError):
        cloudflare.request_from_openai(body, make_ctx(native=True))


def test_compat_embeddings_url() -> None:
    req = cloudflare.request_from_openai({"model": "m", "input": "a"}, make_ctx("@cf/baai/bge", mode="embeddings"))
    assert req.url.endswith("/ai/v1/embeddings")
    assert orjson.loads(req.body) == {"model": "@cf/baai/bge", "input": "a"}


def test_images_not_supported() -> None:
    with pytest.raises(ConversionError):
        cloudflare.request_from_openai({"prompt": "cat"}, make_ctx(mode="images"))


def test_native_empty_content_and_200_error_body() -> None:
    ctx = make_ctx(native=True)
    got = cloudflare.response_to_openai(200, b'{"result":{"response":""},"success":true,"errors":[]}', ctx)
    assert got.body["choices"][0]["message"]["content"] == ""
    bad = b'{"success":false,"errors":[{"code":5007,"message":"No such model"}],"result":null}'
    got = cloudflare.response_to_openai(200, bad, ctx)
    assert got.body is None and got.error is not None
    assert got.error.message == "No such model" and got.error.code == 5007 and got.error.status == 500


def test_native_tool_calls_nonstream() -> None:
    body = b'{"result":{"response":null,"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]},"success":true}'
    got = cloudflare.response_to_openai(200, body, make_ctx(native=True))
    choice = got.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_stream_unicode_split_and_missing_end() -> None:
    data = 'data: {"response":"你好"}\n\ndata: {"response":"，世界"}\n\n'.encode()
    conv = cloudflare.stream_to_openai(make_ctx(native=True, stream=True))
    payloads = stream_payloads(feed_all(conv, data, 1))
    texts = [p["choices"][0]["delta"].get("content") for p in payloads[1:3]]
    assert texts == ["你好", "，世界"]
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-1] == "[DONE]"


def test_stream_no_usage_chunk_without_include_usage() -> None:
    conv = cloudflare.stream_to_openai(make_ctx(native=True, stream=True))
    payloads = stream_payloads(feed_all(conv, wire_lines_to_bytes(V["native_run_stream"]["upstream_stream"])))
    assert all(p == "[DONE]" or p["choices"] for p in payloads)
    assert conv.usage.total_tokens == 23


def test_compat_stream_reemitted() -> None:
    lines = [
        'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}',
        "",
        'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        "",
        'data: {"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}',
        "",
        "data: [DONE]",
        "",
    ]
    conv = cloudflare.stream_to_openai(make_ctx(stream=True, include_usage=True))
    payloads = stream_payloads(feed_all(conv, wire_lines_to_bytes(lines), 3))
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert payloads[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert payloads[2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[3]["usage"]["total_tokens"] == 6
    assert payloads[4] == "[DONE]" and len(payloads) == 5


def test_stream_mid_stream_error() -> None:
    data = b'data: {"response":"a"}\n\ndata: {"errors":[{"code":3040,"message":"Capacity temporarily exceeded"}]}\n\n'
    conv = cloudflare.stream_to_openai(make_ctx(native=True, stream=True))
    payloads = stream_payloads(feed_all(conv, data))
    assert payloads[-1]["error"]["message"] == "Capacity temporarily exceeded"
    assert conv.error is not None and conv.error.code == 3040


def test_completions_mode_native() -> None:
    ctx = make_ctx(mode="completions")
    req = cloudflare.request_from_openai({"model": "m", "prompt": "Once", "max_tokens": 5}, ctx)
    assert req.url.endswith("/ai/run/@cf/meta/llama-3.1-8b-instruct")
    assert orjson.loads(req.body) == {"prompt": "Once", "max_tokens": 5}
    got = cloudflare.response_to_openai(200, b'{"result":{"response":" upon"},"success":true}', ctx)
    assert got.body["object"] == "text_completion" and got.body["choices"][0]["text"] == " upon"
    conv = cloudflare.stream_to_openai(make_ctx(mode="completions", stream=True))
    payloads = stream_payloads(feed_all(conv, b'data: {"response":" upon"}\n\ndata: [DONE]\n\n'))
    assert payloads[0]["choices"][0]["text"] == " upon"
    assert payloads[1]["choices"][0]["finish_reason"] == "stop" and payloads[-1] == "[DONE]"


def test_non_json_error() -> None:
    err = cloudflare.error_to_openai(502, b"<html>bad gateway</html>", make_ctx())
    assert err.status == 502 and err.message == "bad response status code 502" and err.type == "server_error"


def test_a_stream_event_whose_errors_is_not_a_list_is_not_an_error() -> None:
    """`errors` that is not a non-empty list of objects is no v4 envelope: before, it crashed the stream (None
    passed as the error)."""
    from proxy.converters.base import ConvertContext
    from proxy.converters.providers.cloudflare import CloudflareStream

    conv = CloudflareStream(ConvertContext(mode="chat", model="@cf/x", base_url="https://api.cloudflare.com", key=KEY,
                                           stream=True))
    out = conv.feed(b'data: {"errors": "oops"}\n\ndata: {"response": "hi"}\n\ndata: [DONE]\n\n') + conv.flush()
    assert conv.error is None and b'"hi"' in b"".join(out)
