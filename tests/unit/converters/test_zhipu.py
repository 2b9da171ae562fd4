"""Zhipu converter and JWT against vectors/zhipu.json."""

from __future__ import annotations

from typing import Any

import jwt
import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import zhipu
from proxy.converters.signing import zhipu_jwt
from tests.unit.converters.vectors import assert_stream, assert_subset, feed_all, load, stream_payloads

V = load("zhipu")
BASE = "https://open.bigmodel.cn"
KEY = "3f1c6a2be8d94d07a5b2c9e1f4d8a7b6.Xq7ZpL2mN9vR4sT1"
NOW = 1700000000.0


def ctx(mode: str = "chat", model: str = "glm-4-flash", **kw: Any) -> ConvertContext:
    args: dict[str, Any] = {"mode": mode, "model": model, "base_url": BASE, "key": KEY, "now": NOW}
    args.update(kw)
    return ConvertContext(**args)


def run_stream(c: ConvertContext, data: bytes, step: int | None = None) -> tuple[list[bytes], Any]:
    conv = zhipu.stream_to_openai(c)
    return feed_all(conv, data, step), conv


# --- JWT -------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("name", ["jwt_official_sdk_ttl", "jwt_one_api_ttl"])
def test_jwt_vectors(name: str) -> None:
    case = V[name]
    i = case["inputs"]
    api_id, secret = zhipu_jwt.split_key(i["api_key"])
    assert zhipu_jwt.payload_json(api_id, i["now_ms"], i["ttl_ms"]) == case["payload_json_raw"].encode()
    if "header_json_raw" in case:
        assert case["header_json_raw"].encode() == zhipu_jwt.HEADER_JSON
        assert zhipu_jwt.signing_input(api_id, i["now_ms"], i["ttl_ms"]) == case["signing_input_raw"]
        assert zhipu_jwt.token(i["api_key"], i["now_ms"], i["ttl_ms"]).rsplit(".", 1)[1] == case["signature"]
    token = zhipu_jwt.token(i["api_key"], i["now_ms"], i["ttl_ms"])
    assert token == case["token"]
    # cross-check with PyJWT, as the vector notes say
    payload = {"api_key": api_id, "exp": i["now_ms"] + i["ttl_ms"], "timestamp": i["now_ms"]}
    assert jwt.encode(payload, secret, "HS256", headers={"alg": "HS256", "sign_type": "SIGN"}) == token


@pytest.mark.parametrize("key", ["nodot", "a.b.c", ".secret", "id."])
def test_bad_key_rejected(key: str) -> None:
    with pytest.raises(ConversionError) as exc:
        zhipu.request_from_openai({"messages": []}, ctx(key=key))
    assert exc.value.status == 500


# --- requests --------------------------------------------------------------------------------

def test_v4_chat_request() -> None:
    case = V["v4_chat_request"]
    req = zhipu.request_from_openai(case["openai_request"], ctx(stream=True))
    up = case["upstream_request"]
    assert (req.method, req.url, req.headers) == (up["method"], up["url"], up["headers"])
    assert orjson.loads(req.body) == up["body"]


def test_v4_chat_request_passes_openai_fields_and_clamps() -> None:
    body = {"model": "glm-4-plus", "messages": [{"role": "user", "content": "x"}], "temperature": -1,
            "top_p": 0.5, "tools": [{"type": "web_search", "web_search": {"enable": True}}], "max_tokens": 9}
    sent = orjson.loads(zhipu.request_from_openai(body, ctx(model="glm-4-plus")).body)
    assert sent == {**body, "temperature": 0}
    assert "Accept" not in zhipu.request_from_openai(body, ctx(model="glm-4-plus")).headers


def test_v4_max_completion_tokens_becomes_max_tokens() -> None:
    body = {"messages": [], "max_completion_tokens": 77}
    assert orjson.loads(zhipu.request_from_openai(body, ctx()).body) == {"messages": [], "model": "glm-4-flash",
                                                                         "max_tokens": 77}


def test_v4_routes_non_glm_prefixed_models_too() -> None:
    req = zhipu.request_from_openai({"messages": []}, ctx(model="charglm-4"))
    assert req.url == BASE + "/api/paas/v4/chat/completions"


def test_v3_chat_request() -> None:
    case = V["v3_chat_request"]
    c = ctx(model="chatglm_turbo")
    req = zhipu.request_from_openai(case["openai_request"], c)
    up = case["upstream_request"]
    assert (req.method, req.url, req.headers) == (up["method"], up["url"], up["headers"])
    assert orjson.loads(req.body) == up["body"]
    stream_req = zhipu.request_from_openai({**case["openai_request"], "stream": True}, c)
    assert stream_req.url == case["stream_url"]
    assert stream_req.headers["Accept"] == "text/event-stream"
    assert stream_req.headers["Authorization"] == up["headers"]["Authorization"]


def test_v3_system_becomes_user_and_rejects_images_and_tools() -> None:
    c = ctx(model="chatglm_pro")
    body = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    assert orjson.loads(zhipu.request_from_openai(body, c).body)["prompt"] == [
        {"role": "user", "content": "s"}, {"role": "user", "content": "ab"}]
    with pytest.raises(ConversionError):
        zhipu.request_from_openai({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]}, c)
    with pytest.raises(ConversionError):
        zhipu.request_from_openai({"messages": [], "tools": [{"type": "function"}]}, c)


def test_embeddings_request() -> None:
    case = V["embeddings_v4"]
    req = zhipu.request_from_openai(case["openai_request"], ctx("embeddings", "embedding-2"))
    up = case["upstream_request"]
    assert (req.method, req.url) == (up["method"], up["url"])
    assert orjson.loads(req.body) == up["body"]
    assert req.headers["Authorization"].startswith("Bearer ")
    req3 = zhipu.request_from_openai({"input": ["a", "b"], "dimensions": 256}, ctx("embeddings", "embedding-3"))
    assert orjson.loads(req3.body) == {"model": "embedding-3", "input": ["a", "b"], "dimensions": 256}
    with pytest.raises(ConversionError):
        zhipu.request_from_openai({"input": [[1, 2, 3]]}, ctx("embeddings", "embedding-3"))


def test_images_request_and_response() -> None:
    c = ctx("images", "cogview-3-plus")
    req = zhipu.request_from_openai({"prompt": "a cat", "size": "1024x1024", "user": "user-123456"}, c)
    assert req.url == BASE + "/api/paas/v4/images/generations"
    assert orjson.loads(req.body) == {"model": "cogview-3-plus", "prompt": "a cat", "size": "1024x1024",
                                      "user_id": "user-123456"}
    up = {"created": 1715224840, "data": [{"url": "https://aigc-files.bigmodel.cn/x.png"}]}
    conv = zhipu.response_to_openai(200, orjson.dumps(up), c)
    assert conv.body == up
    for bad in ({"prompt": "x", "n": 2}, {"prompt": "x", "response_format": "b64_json"}):
        with pytest.raises(ConversionError):
            zhipu.request_from_openai(bad, c)


def test_base_url_override() -> None:
    req = zhipu.request_from_openai({"messages": []}, ctx(base_url="http://127.0.0.1:9000"))
    assert req.url == "http://127.0.0.1:9000/api/paas/v4/chat/completions"


def test_unsupported_mode() -> None:
    with pytest.raises(ConversionError):
        zhipu.request_from_openai({}, ctx("audio_speech"))


# --- responses -------------------------------------------------------------------------------

def test_v3_response() -> None:
    case = V["v3_response"]
    up = case["upstream_response"]
    conv = zhipu.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx(model="chatglm_turbo"))
    assert conv.error is None
    assert_subset(case["openai_response"]["body"], conv.body)
    assert conv.usage.total_tokens == 13


def test_v3_error_inside_200() -> None:
    case = V["v3_error"]
    raw = orjson.dumps(case["upstream_response"]["body"])
    conv = zhipu.response_to_openai(200, raw, ctx(model="chatglm_turbo"))
    assert conv.body is None
    assert (conv.error.status, conv.error.to_body()) == (case["openai_error"]["status"], case["openai_error"]["body"])
    err = zhipu.error_to_openai(200, raw, ctx(model="chatglm_turbo"))
    assert (err.status, err.to_body()) == (case["openai_error"]["status"], case["openai_error"]["body"])


def test_v4_error() -> None:
    case = V["v4_error"]
    up = case["upstream_response"]
    err = zhipu.error_to_openai(up["status"], orjson.dumps(up["body"]), ctx())
    assert (err.status, err.to_body()) == (case["openai_error"]["status"], case["openai_error"]["body"])


@pytest.mark.parametrize("code,status", [("1002", 401), ("1113", 429), ("1112", 403), ("1211", 400),
                                         ("1302", 429), ("1301", 400), ("9999", 500), (None, 500)])
def test_error_code_table_for_200_bodies(code: Any, status: int) -> None:
    raw = orjson.dumps({"error": {"code": code, "message": "m"}})
    assert zhipu.error_to_openai(200, raw, ctx()).status == status


def test_non_json_error() -> None:
    err = zhipu.error_to_openai(503, b"upstream down", ctx())
    assert (err.status, err.message) == (503, "bad response status code 503")


def test_v4_response() -> None:
    up = {"id": "r1", "request_id": "q", "created": 1715224840, "model": "glm-4-flash",
          "choices": [{"index": 0, "finish_reason": "sensitive", "message": {"role": "assistant", "content": ""}}],
          "usage": {"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6,
                    "prompt_tokens_details": {"cached_tokens": 2}}}
    conv = zhipu.response_to_openai(200, orjson.dumps(up), ctx())
    assert conv.body == {"id": "r1", "object": "chat.completion", "created": 1715224840, "model": "glm-4-flash",
                         "choices": [{"index": 0, "finish_reason": "content_filter",
                                      "message": {"role": "assistant", "content": ""}}],
                         "usage": {"prompt_tokens": 6, "completion_tokens": 0, "total_tokens": 6,
                                   "prompt_tokens_details": {"cached_tokens": 2}}}


def test_v4_response_tool_calls_and_network_error() -> None:
    call = {"id": "call_1", "index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    up = {"id": "r", "created": 1, "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None, "tool_calls": [call]}}], "usage": {}}
    conv = zhipu.response_to_openai(200, orjson.dumps(up), ctx())
    assert conv.body["choices"][0]["message"]["tool_calls"] == [call]
    assert conv.body["choices"][0]["finish_reason"] == "tool_calls"
    up["choices"][0]["finish_reason"] = "network_error"
    conv = zhipu.response_to_openai(200, orjson.dumps(up), ctx())
    assert conv.body is None and conv.error.code == "network_error"


def test_embeddings_response() -> None:
    case = V["embeddings_v4"]
    conv = zhipu.response_to_openai(200, orjson.dumps(case["upstream_response"]["body"]),
                                    ctx("embeddings", "embedding-2"))
    assert conv.body == case["openai_response"]["body"]


# --- streams ---------------------------------------------------------------------------------

@pytest.mark.parametrize("step", [None, 1, 5])
def test_v4_stream(step: int | None) -> None:
    case = V["v4_stream"]
    out, conv = run_stream(ctx(stream=True), case["upstream_transcript_raw"].encode(), step)
    assert_stream(case["openai_chunks"], out)
    payloads = stream_payloads(out)
    assert "usage" not in payloads[0] and "usage" not in payloads[1]
    assert conv.usage.total_tokens == 15


def test_v4_stream_include_usage_also_sends_usage_chunk() -> None:
    case = V["v4_stream"]
    out, _ = run_stream(ctx(stream=True, include_usage=True), case["upstream_transcript_raw"].encode(), 3)
    payloads = stream_payloads(out)
    assert payloads[-2]["choices"] == [] and payloads[-2]["usage"] == case["openai_chunks"][2]["usage"]
    assert payloads[-3]["usage"] == case["openai_chunks"][2]["usage"]
    assert payloads[0]["usage"] is None


def test_v4_stream_without_final_event_and_unicode_split() -> None:
    data = ('data: {"id":"1","created":2,"model":"glm-4","choices":[{"index":0,"delta":{"role":"assistant",'
            '"content":"智谱清言"}}]}\n\n').encode()
    out, _ = run_stream(ctx(stream=True), data, 1)
    payloads = stream_payloads(out)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "智谱清言"}
    assert payloads[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert "usage" not in payloads[1]
    assert payloads[2] == "[DONE]"


def test_v4_stream_reasoning_and_tools() -> None:
    chunks = [
        {"id": "1", "created": 2, "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "hm"}}]},
        {"id": "1", "created": 2, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"id": "call_x", "index": 0, "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}]},
        {"id": "1", "created": 2, "choices": [{"index": 0, "finish_reason": "tool_calls", "delta": {
            "role": "assistant", "content": ""}}], "usage": {"prompt_tokens": 1, "completion_tokens": 2}}]
    data = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    payloads = stream_payloads(run_stream(ctx(stream=True), data, 2)[0])
    deltas = [p["choices"][0]["delta"] for p in payloads[:-1]]
    assert deltas == [{"role": "assistant", "content": ""}, {"reasoning_content": "hm"},
                      {"tool_calls": [{"index": 0, "id": "call_x", "type": "function",
                                       "function": {"name": "f", "arguments": ""}}]},
                      {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}, {}]
    assert payloads[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_v4_stream_network_error_and_error_object() -> None:
    data = (b'data: {"id":"1","created":2,"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n'
            b'data: {"id":"1","created":2,"choices":[{"index":0,"finish_reason":"network_error","delta":{}}]}\n\n')
    out, conv = run_stream(ctx(stream=True), data)
    payloads = stream_payloads(out)
    assert payloads[-1]["error"]["code"] == "network_error" and "[DONE]" not in payloads
    out, conv = run_stream(ctx(stream=True), b'data: {"error":{"code":"1302","message":"busy"}}\n\n')
    assert stream_payloads(out) == [{"error": {"message": "busy", "type": "zhipu_error", "param": None,
                                               "code": "1302"}}]
    assert conv.error.status == 429


@pytest.mark.parametrize("step", [None, 1, 4])
def test_v3_stream(step: int | None) -> None:
    case = V["v3_stream"]
    c = ctx(model="chatglm_turbo", stream=True, include_usage=True)
    out, conv = run_stream(c, case["upstream_transcript_raw"].encode(), step)
    assert_stream(case["openai_chunks"], out)
    assert conv.usage.total_tokens == 13


def test_v3_stream_keeps_leading_spaces_crlf_and_unicode() -> None:
    data = "event:add\r\nid:1\r\ndata: 你好\r\n\r\nevent:add\r\ndata:  world\r\n\r\n".encode()
    payloads = stream_payloads(run_stream(ctx(model="chatglm_std", stream=True), data, 1)[0])
    assert [p["choices"][0]["delta"].get("content") for p in payloads[:-1]] == [" 你好", "  world", None]
    assert payloads[-2]["choices"][0]["finish_reason"] == "stop"


def test_v3_stream_without_finish_and_interrupted() -> None:
    out, _ = run_stream(ctx(model="chatglm_std", stream=True), b"event:add\ndata:Hi")
    payloads = stream_payloads(out)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert payloads[1]["choices"][0]["finish_reason"] == "stop" and payloads[2] == "[DONE]"
    out, _ = run_stream(ctx(model="chatglm_std", stream=True), b"event:add\ndata:Hi\n\nevent:interrupted\ndata:stop\n\n")
    assert stream_payloads(out)[-2]["choices"][0]["finish_reason"] == "content_filter"


def test_v3_stream_error_event_and_json_body() -> None:
    out, conv = run_stream(ctx(model="chatglm_std", stream=True), b"event:add\ndata:Hi\n\nevent:error\ndata:boom\n\n")
    payloads = stream_payloads(out)
    assert payloads[-1]["error"]["message"] == "boom" and conv.error is not None
    raw = orjson.dumps(V["v3_error"]["upstream_response"]["body"])
    out, conv = run_stream(ctx(model="chatglm_std", stream=True), b"  " + raw, 3)
    assert stream_payloads(out) == [V["v3_error"]["openai_error"]["body"]]
    assert conv.error.status == 400
