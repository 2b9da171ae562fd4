"""Tencent Hunyuan converter and TC3 signing against vectors/tencent.json."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import tencent
from proxy.converters.signing import tc3
from tests.unit.converters.vectors import assert_stream, assert_subset, feed_all, load, stream_payloads

V = load("tencent")
BASE = "https://hunyuan.tencentcloudapi.com"
SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
KEY = f"1300000000|{SECRET_ID}|{SECRET_KEY}"
NOW = 1715224839


def ctx(mode: str = "chat", model: str = "hunyuan-lite", **kw: Any) -> ConvertContext:
    args: dict[str, Any] = {"mode": mode, "model": model, "base_url": BASE, "key": KEY, "now": NOW}
    args.update(kw)
    return ConvertContext(**args)


def run_stream(c: ConvertContext, data: bytes, step: int | None = None) -> tuple[list[bytes], Any]:
    conv = tencent.stream_to_openai(c)
    return feed_all(conv, data, step), conv


# --- signing ---------------------------------------------------------------------------------

SIGNING_CASES = {"signing_sdk_style": None, "signing_one_api_style": "ChatCompletions",
                 "signing_date_edge_case": "ChatCompletions", "signing_embedding": "GetEmbedding"}


@pytest.mark.parametrize("name", sorted(SIGNING_CASES))
def test_signing_vectors(name: str) -> None:
    case = V[name]
    i = case["inputs"]
    sig = tc3.sign(i["secret_id"], i["secret_key"], timestamp=i["timestamp"], host=i["host"],
                   body=i["body_raw"].encode("utf-8"), service=i["service"], action=SIGNING_CASES[name])
    assert sig.date == case["date_utc"]
    assert sig.hashed_payload == case["hashed_request_payload"]
    assert sig.canonical_request == case["canonical_request_raw"]
    assert tc3._sha256_hex(sig.canonical_request.encode()) == case["hashed_canonical_request"]
    assert sig.credential_scope == case["credential_scope"]
    assert sig.string_to_sign == case["string_to_sign_raw"]
    assert sig.secret_date.hex() == case["secret_date_hex"]
    assert sig.secret_service.hex() == case["secret_service_hex"]
    assert sig.secret_signing.hex() == case["secret_signing_hex"]
    assert sig.signature == case["signature"]
    assert sig.authorization == case["authorization"]


def test_scope_date_is_utc_not_beijing() -> None:
    assert tc3.utc_date(1715187600) == "2024-05-08"
    assert tc3.utc_date(1715187599 + 7 * 3600) == "2024-05-08"
    assert tc3.utc_date(1715212800) == "2024-05-09"


# --- requests --------------------------------------------------------------------------------

def test_chat_request_exact() -> None:
    case = V["chat_request"]
    req = tencent.request_from_openai(case["openai_request"], ctx())
    up = case["upstream_request"]
    assert req.method == up["method"]
    assert req.url == up["url"]
    assert req.headers == up["headers"]
    assert req.body == up["body_raw"].encode("utf-8")


def test_stream_request_body_exact() -> None:
    case = V["chat_stream"]
    req = tencent.request_from_openai(case["openai_request"], ctx(stream=True))
    assert req.body == case["upstream_request_body_raw"].encode("utf-8")


def test_embeddings_request_exact() -> None:
    case = V["embeddings"]
    req = tencent.request_from_openai(case["openai_request"], ctx("embeddings", "hunyuan-embedding"))
    up = case["upstream_request"]
    assert (req.method, req.url, req.headers) == (up["method"], up["url"], up["headers"])
    assert req.body == up["body_raw"].encode("utf-8")


def test_embeddings_string_input_becomes_list() -> None:
    req = tencent.request_from_openai({"model": "hunyuan-embedding", "input": "hello"},
                                      ctx("embeddings", "hunyuan-embedding"))
    assert req.body == b'{"InputList":["hello"]}'


def test_base_url_override_signs_its_host() -> None:
    c = ctx(base_url="http://127.0.0.1:18080")
    body = V["chat_request"]["openai_request"]
    req = tencent.request_from_openai(body, c)
    assert req.url == "http://127.0.0.1:18080/"
    assert req.headers["Host"] == "127.0.0.1:18080"
    expected = tc3.sign(SECRET_ID, SECRET_KEY, timestamp=NOW, host="127.0.0.1:18080", body=req.body,
                        service="hunyuan", action="ChatCompletions")
    assert req.headers["Authorization"] == expected.authorization


def test_region_header_from_config() -> None:
    req = tencent.request_from_openai(V["chat_request"]["openai_request"], ctx(config={"region": "ap-guangzhou"}))
    assert req.headers["X-TC-Region"] == "ap-guangzhou"


def test_tools_images_and_tool_messages_map() -> None:
    body = {"model": "hunyuan-vision", "stop": "END", "seed": 7, "max_tokens": 99, "tool_choice": {
        "type": "function", "function": {"name": "get_weather"}},
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "w",
                                                    "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "what is this"},
                                         {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]}
    sent = orjson.loads(tencent.request_from_openai(body, ctx(model="hunyuan-vision")).body)
    tool = {"Type": "function", "Function": {"Name": "get_weather", "Description": "w",
                                             "Parameters": '{"type":"object"}'}}
    assert sent == {
        "Model": "hunyuan-vision", "Stream": False, "Seed": 7, "Stop": ["END"],
        "Tools": [tool], "ToolChoice": "custom", "CustomTool": tool,
        "Messages": [
            {"Role": "system", "Content": "be brief"},
            {"Role": "user", "Contents": [{"Type": "text", "Text": "what is this"},
                                          {"Type": "image_url", "ImageUrl": {"Url": "https://x/y.png"}}]},
            {"Role": "assistant", "Content": "", "ToolCalls": [
                {"Id": "call_1", "Type": "function", "Function": {"Name": "get_weather", "Arguments": "{}"}}]},
            {"Role": "tool", "Content": "sunny", "ToolCallId": "call_1"}]}


@pytest.mark.parametrize("extra", [{"n": 2}, {"response_format": {"type": "json_object"}},
                                   {"tool_choice": "required", "tools": [
                                       {"type": "function", "function": {"name": "f"}}]},
                                   {"tools": [{"type": "retrieval"}]}])
def test_unsupported_features_raise(extra: dict[str, Any]) -> None:
    body = {"model": "hunyuan-lite", "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(ConversionError):
        tencent.request_from_openai(body, ctx())


def test_unsupported_mode_and_bad_key_raise() -> None:
    with pytest.raises(ConversionError):
        tencent.request_from_openai({"prompt": "x"}, ctx("images"))
    with pytest.raises(ConversionError) as exc:
        tencent.request_from_openai(V["chat_request"]["openai_request"], ctx(key="only-one-part"))
    assert exc.value.status == 500


# --- responses -------------------------------------------------------------------------------

def test_chat_response() -> None:
    case = V["chat_response"]
    up = case["upstream_response"]
    conv = tencent.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx())
    assert conv.error is None
    assert_subset(case["openai_response"]["body"], conv.body)
    assert "Note" not in orjson.dumps(conv.body).decode()
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (3, 9)


@pytest.mark.parametrize("raw,expected", [("stop", "stop"), ("sensitive", "content_filter"),
                                          ("tool_calls", "tool_calls"), ("", "stop")])
def test_finish_reason_map(raw: str, expected: str) -> None:
    body = {"Response": {"Choices": [{"FinishReason": raw, "Message": {"Role": "assistant", "Content": ""}}],
                         "Id": "x", "Created": 1, "Usage": {}}}
    conv = tencent.response_to_openai(200, orjson.dumps(body), ctx())
    assert conv.body["choices"][0]["finish_reason"] == expected
    assert conv.body["choices"][0]["message"]["content"] == ""


def test_response_tool_calls() -> None:
    body = {"Response": {"Id": "x", "Created": 1, "Choices": [{"FinishReason": "tool_calls", "Message": {
        "Role": "assistant", "Content": "", "ToolCalls": [
            {"Id": "call_9", "Type": "function", "Function": {"Name": "f", "Arguments": "{\"a\":1}"}}]}}]}}
    conv = tencent.response_to_openai(200, orjson.dumps(body), ctx())
    assert conv.body["choices"][0]["message"]["tool_calls"] == [
        {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]
    assert conv.body["choices"][0]["finish_reason"] == "tool_calls"


def test_embeddings_response() -> None:
    case = V["embeddings"]
    up = case["upstream_response"]
    conv = tencent.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx("embeddings", "hunyuan-embedding"))
    assert conv.body == case["openai_response"]["body"]
    assert conv.usage.prompt_tokens == 1


def test_error_inside_200() -> None:
    case = V["error"]
    raw = orjson.dumps(case["upstream_response"]["body"])
    expected = case["openai_error"]
    conv = tencent.response_to_openai(200, raw, ctx())
    assert conv.body is None and conv.error is not None
    assert conv.error.status == expected["status"]
    assert conv.error.to_body() == expected["body"]
    err = tencent.error_to_openai(200, raw, ctx())
    assert (err.status, err.to_body()) == (expected["status"], expected["body"])


@pytest.mark.parametrize("code,status", [("InvalidParameterValue.Model", 400), ("LimitExceeded", 429),
                                         ("RequestLimitExceeded.UinLimitExceeded", 429),
                                         ("ResourceInsufficient.ChargeResourceExhaust", 403),
                                         ("FailedOperation.EngineServerError", 502), ("InternalError", 500),
                                         ("AuthFailure.SignatureExpire", 401), ("Whatever.Else", 500)])
def test_error_code_table(code: str, status: int) -> None:
    body = orjson.dumps({"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "r"}})
    assert tencent.error_to_openai(200, body, ctx()).status == status
    assert tencent.error_to_openai(503, body, ctx()).status == 503


def test_non_json_error() -> None:
    err = tencent.error_to_openai(502, b"<html>bad gateway</html>", ctx())
    assert (err.status, err.message, err.type) == (502, "bad response status code 502", "server_error")


# --- streams ---------------------------------------------------------------------------------

def transcript() -> bytes:
    return V["chat_stream"]["upstream_transcript_raw"].encode("utf-8")


@pytest.mark.parametrize("step", [None, 1, 7])
def test_stream_vector(step: int | None) -> None:
    out, conv = run_stream(ctx(stream=True), transcript(), step)
    assert_stream(V["chat_stream"]["openai_chunks"], out)
    assert conv.error is None
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (3, 9)


def test_stream_include_usage_adds_usage_chunk() -> None:
    out, _ = run_stream(ctx(stream=True, include_usage=True), transcript(), 3)
    payloads = stream_payloads(out)
    assert payloads[-1] == "[DONE]"
    assert payloads[-2]["choices"] == [] and payloads[-2]["usage"] == {
        "prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}
    assert all(p["usage"] is None for p in payloads[:-2])


def test_stream_unicode_split_across_feeds() -> None:
    data = ('data: {"Choices":[{"Delta":{"Role":"assistant","Content":"你好世界"},"FinishReason":""}],'
            '"Created":5,"Id":"u1"}\n\n').encode()
    out, _ = run_stream(ctx(stream=True), data, 1)
    payloads = stream_payloads(out)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "你好世界"}
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"


def test_stream_without_final_event_still_finishes() -> None:
    data = transcript().split(b"\n\n")[0] + b"\n\n"
    out, _ = run_stream(ctx(stream=True), data)
    payloads = stream_payloads(out)
    assert [p if p == "[DONE]" else p["choices"][0]["finish_reason"] for p in payloads] == [None, "stop", "[DONE]"]


def test_stream_mid_stream_error() -> None:
    data = transcript().split(b"\n\n")[0] + b"\n\n" + (
        'data: {"Note":"n","ErrorMsg":{"Code":2001,"Msg":"内容安全"},"Id":"x","Created":1}\n\n').encode()
    out, conv = run_stream(ctx(stream=True), data, 5)
    payloads = stream_payloads(out)
    assert payloads[-1] == {"error": {"message": "内容安全", "type": "tencent_error", "param": None, "code": 2001}}
    assert "[DONE]" not in payloads
    assert conv.error is not None


def test_stream_json_error_body() -> None:
    raw = orjson.dumps(V["error"]["upstream_response"]["body"])
    out, conv = run_stream(ctx(stream=True), raw, 4)
    assert stream_payloads(out) == [V["error"]["openai_error"]["body"]]
    assert conv.error.status == 401


def test_stream_tool_calls() -> None:
    data = (b'data: {"Id":"t","Created":1,"Choices":[{"Delta":{"Role":"assistant","Content":"","ToolCalls":'
            b'[{"Id":"call_a","Type":"function","Index":0,"Function":{"Name":"f","Arguments":"{\\"x\\":"}}]},'
            b'"FinishReason":""}]}\n\n'
            b'data: {"Id":"t","Created":1,"Choices":[{"Delta":{"Role":"assistant","Content":"","ToolCalls":'
            b'[{"Index":0,"Function":{"Arguments":"1}"}}]},"FinishReason":"tool_calls"}]}\n\n')
    out, _ = run_stream(ctx(stream=True), data, 2)
    payloads = stream_payloads(out)
    deltas = [p["choices"][0]["delta"] for p in payloads[:-1]]
    assert deltas == [{"role": "assistant", "content": ""},
                      {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                       "function": {"name": "f", "arguments": ""}}]},
                      {"tool_calls": [{"index": 0, "function": {"arguments": "{\"x\":"}}]},
                      {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]},
                      {}]
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls"
