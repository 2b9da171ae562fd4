"""DeepL converter against vectors/deepl.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import deepl
from tests.unit.converters.vectors import (
    assert_absent,
    assert_stream,
    assert_subset,
    load,
    stream_payloads,
)

V = load("deepl")["cases"]
KEY = "279a2e9d-83b3-c416-7e2d-f721593e42a0:fx"


def make_ctx(model: str, *, stream: bool = False, include_usage: bool = False,
             base_url: str = "https://api-free.deepl.com") -> ConvertContext:
    return ConvertContext(mode="chat", model=model, base_url=base_url, key=KEY, stream=stream,
                          include_usage=include_usage, now=1700000000.0)


def check_request(case: dict[str, Any], ctx: ConvertContext) -> None:
    req = deepl.request_from_openai(case["openai_request"], ctx)
    exp = case["upstream_request"]
    assert (req.method, req.url) == (exp["method"], exp["url"])
    assert_subset(exp["headers"], req.headers)
    body = orjson.loads(req.body)
    assert_subset(exp["body"], body)
    assert_absent({"body": body}, case.get("must_not_have", []))


@pytest.mark.parametrize("name", ["translate_zh", "translate_cjk_usage"])
def test_translate_nonstream(name: str) -> None:
    case = V[name]
    ctx = make_ctx(case["openai_request"]["model"])
    check_request(case, ctx)
    up = case["upstream_response"]
    got = deepl.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx, request=case["openai_request"])
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)


@pytest.mark.parametrize("step", [None, 1])
def test_simulated_stream(step: int | None) -> None:
    case = V["simulated_stream"]
    ctx = make_ctx("deepl-ja", stream=True)
    check_request(case, ctx)
    conv = deepl.stream_to_openai(ctx, request=case["openai_request"])
    raw = orjson.dumps(case["upstream_response"]["body"])
    out: list[bytes] = []
    for piece in ([raw] if step is None else [raw[i:i + step] for i in range(len(raw))]):
        out += conv.feed(piece)
    out += conv.flush()
    assert_stream(case["expected_openai_stream"], out)
    assert conv.usage.prompt_tokens == len("Thank you") and conv.error is None


def test_model_to_target_lang() -> None:
    for model, lang in V["model_to_target_lang"].items():
        assert deepl.target_lang_from_model(model) == lang, model


@pytest.mark.parametrize("name", ["error_quota_456", "error_bad_target"])
def test_errors(name: str) -> None:
    case = V[name]
    up = case["upstream_response"]
    err = deepl.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx("deepl-zh"))
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


# ---------------------------------------------------------------- extra cases

def test_billed_characters_preferred() -> None:
    body = b'{"translations":[{"detected_source_language":"EN","text":"Hallo","billed_characters":5}]}'
    got = deepl.response_to_openai(200, body, make_ctx("deepl-de"))
    assert got.usage.prompt_tokens == 5 and got.usage.completion_tokens == 0


def test_usage_zero_without_request_or_billing() -> None:
    got = deepl.response_to_openai(200, b'{"translations":[{"text":"Hallo"}]}', make_ctx("deepl-de"))
    assert got.usage.total_tokens == 0


def test_base_url_and_text_parts() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    req = deepl.request_from_openai(body, make_ctx("deepl-en-gb", base_url="http://127.0.0.1:1234"))
    assert req.url == "http://127.0.0.1:1234/v2/translate"
    assert orjson.loads(req.body) == {"text": ["a\nb"], "target_lang": "EN-GB"}


def test_empty_content_sent_as_empty_text() -> None:
    req = deepl.request_from_openai({"messages": [{"role": "user", "content": ""}]}, make_ctx("deepl-zh"))
    assert orjson.loads(req.body)["text"] == [""]


@pytest.mark.parametrize("body", [
    {"messages": []},
    {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
])
def test_unsupported_requests_raise(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        deepl.request_from_openai(body, make_ctx("deepl-zh"))


def test_http200_body_with_message_is_error() -> None:
    got = deepl.response_to_openai(200, b'{"message":"Something odd"}', make_ctx("deepl-zh"))
    assert got.body is None and got.error.code == "deepl_error" and got.error.message == "Something odd"
    conv = deepl.stream_to_openai(make_ctx("deepl-zh", stream=True))
    conv.feed(b'{"message":"Something odd"}')
    payloads = stream_payloads(conv.flush())
    assert payloads == [{"error": {"message": "Something odd", "type": "server_error", "param": None,
                                   "code": "deepl_error"}}]


def test_stream_unicode_split_with_usage_chunk() -> None:
    raw = '{"translations":[{"text":"こんにちは"}]}'.encode()
    conv = deepl.stream_to_openai(make_ctx("deepl-ja", stream=True, include_usage=True),
                                  request={"messages": [{"role": "user", "content": "Hello"}]})
    for i in range(len(raw)):
        assert conv.feed(raw[i:i + 1]) == []
    payloads = stream_payloads(conv.flush())
    assert payloads[1]["choices"][0]["delta"] == {"content": "こんにちは"}
    assert payloads[-2]["usage"] == {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}
    assert payloads[-1] == "[DONE]"


def test_non_json_error_and_403() -> None:
    err = deepl.error_to_openai(503, b"Service Unavailable", make_ctx("deepl-zh"))
    assert (err.status, err.message, err.type) == (503, "bad response status code 503", "server_error")
    err = deepl.error_to_openai(403, b'{"message":"Wrong endpoint"}', make_ctx("deepl-zh"))
    assert (err.status, err.type, err.message) == (403, "permission_error", "Wrong endpoint")
