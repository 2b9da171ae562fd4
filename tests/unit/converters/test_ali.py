"""Ali DashScope native converter against vectors/ali.json plus edge cases."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import ali
from tests.unit.converters.vectors import assert_exact, feed_all, load, stream_payloads

VEC = load("ali")
KEY = "sk-0123456789abcdef0123456789abcdef"
BASE = "https://dashscope.aliyuncs.com"


def make_ctx(model: str = "qwen-plus", *, mode: str = "chat", stream: bool = False, include_usage: bool = False,
             base_url: str = BASE, config: dict[str, str] | None = None) -> ConvertContext:
    return ConvertContext(mode=mode, model=model, base_url=base_url, key=KEY, config=config or {},
                          stream=stream, include_usage=include_usage, now=1715224800.0)


def check_request(exp: dict[str, Any], req: Any) -> None:
    assert (req.method, req.url) == (exp["method"], exp["url"])
    assert req.headers == exp["headers"]
    if "body" in exp:
        assert_exact(exp["body"], orjson.loads(req.body))


def run_stream(ctx: ConvertContext, data: bytes, step: int | None = None) -> tuple[Any, list[Any]]:
    conv = ali.stream_to_openai(ctx)
    return conv, stream_payloads(feed_all(conv, data, step))


# ---------------------------------------------------------------- vector cases

def test_chat_request_stream() -> None:
    case = VEC["chat_request_stream"]
    req = ali.request_from_openai(case["openai_request"], make_ctx(stream=True, include_usage=True))
    check_request(case["upstream_request"], req)


def test_chat_request_nonstream_omits_sse() -> None:
    body = {**VEC["chat_request_stream"]["openai_request"], "stream": False}
    body.pop("stream_options")
    req = ali.request_from_openai(body, make_ctx())
    assert "X-DashScope-SSE" not in req.headers and "Accept" not in req.headers
    assert "incremental_output" not in orjson.loads(req.body)["parameters"]


def test_chat_response() -> None:
    case = VEC["chat_response"]
    up = case["upstream_response"]
    got = ali.response_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert got.error is None
    assert_exact(case["openai_response"]["body"], got.body)


def test_finish_reason_map() -> None:
    upstream = VEC["chat_response"]["upstream_response"]["body"]
    for raw, expected in VEC["chat_response"]["finish_reason_map"].items():
        choice = {**upstream["output"]["choices"][0], "finish_reason": raw}
        body = {**upstream, "output": {"choices": [choice]}}
        got = ali.response_to_openai(200, orjson.dumps(body), make_ctx())
        assert got.body["choices"][0]["finish_reason"] == expected, raw


@pytest.mark.parametrize("step", [None, 1, 11])
def test_chat_stream(step: int | None) -> None:
    case = VEC["chat_stream"]
    conv, payloads = run_stream(make_ctx(stream=True, include_usage=True), case["upstream_transcript_raw"].encode(), step)
    assert_exact(case["openai_chunks"], payloads)
    assert (conv.usage.prompt_tokens, conv.usage.completion_tokens) == (20, 9)


@pytest.mark.parametrize("step", [None, 1])
def test_stream_error_mid_stream(step: int | None) -> None:
    case = VEC["stream_error_mid_stream"]
    conv, payloads = run_stream(make_ctx(stream=True), case["upstream_transcript_raw"].encode(), step)
    assert_exact(case["openai_chunks"], payloads)
    assert conv.error.code == "DataInspectionFailed" and conv.error.status == 400


def test_error() -> None:
    case = VEC["error"]
    up = case["upstream_response"]
    err = ali.error_to_openai(up["status"], orjson.dumps(up["body"]), make_ctx())
    assert err.status == case["openai_error"]["status"]
    assert_exact(case["openai_error"]["body"], err.to_body())


def test_embeddings() -> None:
    case = VEC["embeddings"]
    ctx = make_ctx("text-embedding-v1", mode="embeddings")
    check_request(case["upstream_request"], ali.request_from_openai(case["openai_request"], ctx))
    up = case["upstream_response"]
    got = ali.response_to_openai(up["status"], orjson.dumps(up["body"]), ctx)
    assert_exact(case["openai_response"]["body"], got.body)
    assert got.usage.prompt_tokens == 2


def test_image_generation_wanx() -> None:
    case = VEC["image_generation_wanx"]
    ctx = make_ctx("wanx-v1", mode="images")
    check_request(case["create_task_request"], ali.request_from_openai(case["openai_request"], ctx))
    submit = case["create_task_response"]
    poll = ali.task_poll_request(submit["status"], orjson.dumps(submit["body"]), ctx)
    check_request(case["poll_request"], poll)
    running, done = case["poll_responses"]
    again = ali.task_poll_request(running["status"], orjson.dumps(running["body"]), ctx)
    check_request(case["poll_request"], again)
    assert ali.task_poll_request(done["status"], orjson.dumps(done["body"]), ctx) is None
    got = ali.response_to_openai(done["status"], orjson.dumps(done["body"]), ctx)
    assert got.error is None
    assert_exact(case["openai_response"]["body"], got.body)


def test_task_statuses() -> None:
    case = VEC["image_generation_wanx"]
    ctx = make_ctx("wanx-v1", mode="images")
    for state in case["non_terminal_statuses"]:
        body = orjson.dumps({"output": {"task_id": "t1", "task_status": state}})
        assert ali.task_poll_request(200, body, ctx).url == f"{BASE}/api/v1/tasks/t1"
    for state in case["terminal_statuses"]:
        body = orjson.dumps({"output": {"task_id": "t1", "task_status": state}})
        assert ali.task_poll_request(200, body, ctx) is None


# ---------------------------------------------------------------- extra cases

def test_internet_suffix_plugin_header_and_mirror() -> None:
    body = {"messages": [{"role": "User", "content": "news?"}], "top_p": 0.5}
    ctx = make_ctx("qwen-max-internet", base_url="http://127.0.0.1:9000", config={"plugin": '{"pdf_extracter":{}}'})
    req = ali.request_from_openai(body, ctx)
    assert req.url == "http://127.0.0.1:9000/api/v1/services/aigc/text-generation/generation"
    assert req.headers["X-DashScope-Plugin"] == '{"pdf_extracter":{}}'
    sent = orjson.loads(req.body)
    assert sent["model"] == "qwen-max"
    assert sent["parameters"] == {"result_format": "message", "top_p": 0.5, "enable_search": True}
    assert sent["input"]["messages"] == [{"role": "user", "content": "news?"}]


def test_tools_passed_and_tool_messages_kept() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    body = {"messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"}], "tools": tools, "tool_choice": "auto"}
    sent = orjson.loads(ali.request_from_openai(body, make_ctx()).body)
    assert sent["parameters"]["tools"] == tools and sent["parameters"]["tool_choice"] == "auto"
    assert sent["input"]["messages"][2] == {"role": "tool", "content": "sunny", "tool_call_id": "c1"}


def test_images_in_chat_rejected() -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}
    with pytest.raises(ConversionError):
        ali.request_from_openai(body, make_ctx())


def test_http200_error_body() -> None:
    body = b'{"code":"Throttling.RateQuota","message":"Requests rate limit exceeded","request_id":"r"}'
    got = ali.response_to_openai(200, body, make_ctx())
    assert got.body is None
    assert (got.error.status, got.error.type, got.error.code) == (429, "ali_error", "Throttling.RateQuota")


def test_tool_call_response_and_stream() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":"}}
    body = {"output": {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "", "tool_calls": [call]}}]}, "usage": {"input_tokens": 5, "output_tokens": 3},
        "request_id": "r1"}
    got = ali.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body["choices"][0]["finish_reason"] == "tool_calls"
    more = {"index": 0, "id": "", "type": "function", "function": {"arguments": "\"Paris\"}"}}
    events = [
        {"output": {"choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [{"index": 0, **call}]},
                                 "finish_reason": "null"}]}, "request_id": "r2"},
        {"output": {"choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [more]},
                                 "finish_reason": "tool_calls"}]}, "request_id": "r2"},
    ]
    raw = b"".join(b"event:result\ndata:" + orjson.dumps(e) + b"\n\n" for e in events)
    _, payloads = run_stream(make_ctx(stream=True), raw, 7)
    assert payloads[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert payloads[2]["choices"][0]["delta"]["tool_calls"][0] == {"index": 0, "function": {"arguments": "\"Paris\"}"}}
    assert payloads[3]["choices"][0]["finish_reason"] == "tool_calls" and payloads[-1] == "[DONE]"


def test_stream_unicode_split_and_missing_final_event() -> None:
    raw = 'id:1\nevent:result\ndata:{"output":{"choices":[{"message":{"content":"通义","role":"assistant"},"finish_reason":"null"}]},"request_id":"r3"}\n\n'
    conv, payloads = run_stream(make_ctx(stream=True), raw.encode(), 1)
    assert payloads[0]["choices"][0]["delta"] == {"role": "assistant", "content": "通义"} and payloads[0]["id"] == "r3"
    assert payloads[1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert payloads[2] == "[DONE]" and len(payloads) == 3


def test_empty_content_response() -> None:
    body = {"output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": ""}}]},
            "usage": {"input_tokens": 1, "output_tokens": 0}, "request_id": "r"}
    got = ali.response_to_openai(200, orjson.dumps(body), make_ctx())
    assert got.body["choices"][0]["message"]["content"] == ""


def test_image_request_options_and_failures() -> None:
    ctx = make_ctx("ali-stable-diffusion-xl", mode="images")
    req = ali.request_from_openai({"prompt": "cat", "size": "512x512", "style": "<sketch>", "seed": 7,
                                   "negative_prompt": "dog"}, ctx)
    assert orjson.loads(req.body) == {"model": "stable-diffusion-xl",
                                      "input": {"prompt": "cat", "negative_prompt": "dog"},
                                      "parameters": {"size": "512*512", "style": "<sketch>", "seed": 7}}
    for bad in ({"prompt": "cat", "response_format": "b64_json"}, {"prompt": "cat", "style": "vivid"}, {}):
        with pytest.raises(ConversionError):
            ali.request_from_openai(bad, ctx)
    failed = {"output": {"task_id": "t", "task_status": "FAILED", "code": "InvalidParameter",
                         "message": "prompt too long"}}
    got = ali.response_to_openai(200, orjson.dumps(failed), ctx)
    assert got.body is None and (got.error.status, got.error.code, got.error.message) == (
        400, "InvalidParameter", "prompt too long")
    submit_error = b'{"code":"InvalidApiKey","message":"Invalid API-key provided."}'
    assert ali.task_poll_request(401, submit_error, ctx) is None


def test_non_json_error() -> None:
    err = ali.error_to_openai(500, b"upstream exploded", make_ctx())
    assert (err.status, err.message, err.type) == (500, "bad response status code 500", "server_error")
