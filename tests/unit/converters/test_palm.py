"""PaLM 2 converter against vectors/palm.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import palm
from tests.unit.converters.vectors import assert_absent, assert_stream, assert_subset, load, stream_payloads

CASES = load("palm")["cases"]
BASE = "https://generativelanguage.googleapis.com"


def make_ctx(**kw: Any) -> ConvertContext:
    kw.setdefault("base_url", BASE)
    return ConvertContext(mode="chat", model="PaLM-2", key="AIza-test-key", now=1700000000.0, **kw)


def replay(conv: Any, data: bytes, step: int) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(data), step):
        out += conv.feed(data[i:i + step])
    return out + conv.flush()


def test_request_vector() -> None:
    case = CASES["chat"]
    up = palm.request_from_openai(case["openai_request"], make_ctx())
    want = case["upstream_request"]
    assert (up.method, up.url) == (want["method"], want["url"])
    assert_subset(want["headers"], up.headers)
    body = orjson.loads(up.body)
    assert_subset(want["body"], body)
    assert_absent({"body": body}, case["must_not_have"])


@pytest.mark.parametrize("name", ["chat", "blocked"])
def test_response_vectors(name: str) -> None:
    case = CASES[name]
    resp = case["upstream_response"]
    got = palm.response_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx())
    assert got.error is None
    assert_subset(case["expected_openai_response"], got.body)


@pytest.mark.parametrize("step", [1, 5, 10_000])
def test_simulated_stream_vector(step: int) -> None:
    case = CASES["simulated_stream"]
    up = palm.request_from_openai(case["openai_request"], make_ctx(stream=True))
    assert up.url.endswith(":generateMessage") and b'"stream"' not in up.body
    events = replay(palm.stream_to_openai(make_ctx(stream=True)), orjson.dumps(case["upstream_response"]["body"]), step)
    assert_stream(case["expected_openai_stream"], events)


def test_error_vector() -> None:
    case = CASES["error"]
    resp = case["upstream_response"]
    err = palm.error_to_openai(resp["status"], orjson.dumps(resp["body"]), make_ctx())
    assert err.status == case["expected_openai_error"]["status"]
    assert err.to_body() == case["expected_openai_error"]["body"]


def test_base_url_top_k_and_n() -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "top_k": 5, "n": 2, "max_tokens": 9}
    up = palm.request_from_openai(body, make_ctx(base_url="http://127.0.0.1:1"))
    assert up.url == "http://127.0.0.1:1/v1beta2/models/chat-bison-001:generateMessage"
    assert orjson.loads(up.body) == {"prompt": {"messages": [{"author": "0", "content": "x"}]},
                                     "topK": 5, "candidateCount": 2}


def test_multiple_candidates() -> None:
    body = {"candidates": [{"author": "1", "content": "A"}, {"author": "1", "content": "B"}]}
    got = palm.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert [(c["index"], c["message"]["content"]) for c in got.body["choices"]] == [(0, "A"), (1, "B")]


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}]},
    {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}},
    {"messages": [{"role": "user", "content": ""}]},
    {"messages": [{"role": "tool", "content": "x", "tool_call_id": "a"}]},
])
def test_unsupported_requests_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        palm.request_from_openai(body, make_ctx())


def test_stream_unicode_split_usage_chunk_and_single_done() -> None:
    data = orjson.dumps({"candidates": [{"author": "1", "content": "héllo 世界"}]})
    conv = palm.stream_to_openai(make_ctx(stream=True, include_usage=True))
    payloads = stream_payloads(replay(conv, data, 1) + conv.flush())
    assert payloads[1]["choices"][0]["delta"] == {"content": "héllo 世界"}
    assert payloads[3]["choices"] == [] and payloads[3]["usage"]["total_tokens"] == 0
    assert payloads.count("[DONE]") == 1


def test_stream_empty_body_still_finishes() -> None:
    payloads = stream_payloads(palm.stream_to_openai(make_ctx(stream=True)).flush())
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop" and payloads[-1] == "[DONE]"


def test_stream_error_body_and_200_error() -> None:
    err_body = orjson.dumps({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
    conv = palm.stream_to_openai(make_ctx(stream=True))
    payloads = stream_payloads(replay(conv, err_body, 3))
    assert payloads == [{"error": {"message": "slow down", "type": "rate_limit_error", "param": None,
                                   "code": "RESOURCE_EXHAUSTED"}}]
    assert conv.error is not None and conv.error.status == 429
    got = palm.response_to_openai(200, err_body, make_ctx())
    assert got.body is None and got.error.code == "RESOURCE_EXHAUSTED"
