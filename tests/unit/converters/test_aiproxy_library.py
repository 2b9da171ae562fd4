"""AI Proxy library converter: cases written from One API's aiproxy adaptor wire format (no vectors file).

Wire facts: POST {base}/api/library/ask, `Authorization: Bearer <key>`, body
`{"model", "query", "libraryId", "stream"}`; answer `{"success", "answer", "documents": [{"title", "url"}],
"errCode", "message"}`; stream lines `data:{"content", "model", "documents", "finish"}`.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import aiproxy_library as aiproxy
from tests.unit.converters.vectors import assert_stream, feed_all, stream_payloads

NOW = 1715224839.0
DOCS = [{"title": "Guide", "url": "https://docs.example/guide"}, {"title": "FAQ", "url": "https://docs.example/faq"}]
DOCS_MD = "\n\n参考文档：\n1. [Guide](https://docs.example/guide)\n2. [FAQ](https://docs.example/faq)\n"


def ctx(**kw: Any) -> ConvertContext:
    args: dict[str, Any] = {"mode": "chat", "model": "gpt-3.5-turbo", "base_url": "https://api.aiproxy.io",
                            "key": "ap-key", "config": {"library_id": "lib-42"}, "now": NOW}
    args.update(kw)
    return ConvertContext(**args)


def run_stream(c: ConvertContext, data: bytes, step: int | None = None) -> tuple[list[bytes], Any]:
    conv = aiproxy.stream_to_openai(c)
    return feed_all(conv, data, step), conv


def test_request() -> None:
    body = {"model": "gpt-3.5-turbo", "messages": [{"role": "system", "content": "ignored by the library"},
                                                    {"role": "user", "content": [{"type": "text", "text": "How do I "},
                                                                                 {"type": "text", "text": "log in?"}]}]}
    req = aiproxy.request_from_openai(body, ctx())
    assert (req.method, req.url) == ("POST", "https://api.aiproxy.io/api/library/ask")
    assert req.headers == {"Authorization": "Bearer ap-key", "Content-Type": "application/json"}
    assert orjson.loads(req.body) == {"model": "gpt-3.5-turbo", "query": "How do I log in?", "libraryId": "lib-42",
                                      "stream": False}
    streamed = aiproxy.request_from_openai({**body, "stream": True}, ctx(base_url="http://127.0.0.1:7000"))
    assert streamed.url == "http://127.0.0.1:7000/api/library/ask"
    assert streamed.headers["Accept"] == "text/event-stream" and orjson.loads(streamed.body)["stream"] is True


def test_request_empty_messages_and_missing_library() -> None:
    assert orjson.loads(aiproxy.request_from_openai({"messages": []}, ctx()).body)["query"] == ""
    with pytest.raises(ConversionError) as exc:
        aiproxy.request_from_openai({"messages": []}, ctx(config={}))
    assert exc.value.status == 500


@pytest.mark.parametrize("extra,mode", [({"tools": [{"type": "function"}]}, "chat"), ({"n": 3}, "chat"),
                                        ({"response_format": {"type": "json_object"}}, "chat"),
                                        ({"messages": [{"role": "user", "content": [
                                            {"type": "image_url", "image_url": {"url": "data:x"}}]}]}, "chat"),
                                        ({}, "embeddings")])
def test_unsupported_raise(extra: dict[str, Any], mode: str) -> None:
    with pytest.raises(ConversionError):
        aiproxy.request_from_openai({"messages": [{"role": "user", "content": "q"}], **extra}, ctx(mode=mode))


def test_answer_with_documents() -> None:
    raw = orjson.dumps({"success": True, "answer": "Use the login page.", "documents": DOCS, "errCode": 0, "message": ""})
    conv = aiproxy.response_to_openai(200, raw, ctx())
    assert conv.error is None
    body = conv.body
    assert body["object"] == "chat.completion" and body["model"] == "gpt-3.5-turbo" and body["created"] == int(NOW)
    assert body["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Use the login page." + DOCS_MD},
                                "finish_reason": "stop"}]
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def test_answer_without_documents_and_empty_answer() -> None:
    conv = aiproxy.response_to_openai(200, b'{"success":true,"answer":"","documents":[]}', ctx())
    assert conv.body["choices"][0]["message"]["content"] == ""


def test_error_inside_200_and_http_errors() -> None:
    raw = b'{"success":false,"errCode":1002,"message":"library not found"}'
    conv = aiproxy.response_to_openai(200, raw, ctx())
    assert conv.body is None
    assert conv.error.to_body() == {"error": {"message": "library not found", "type": "aiproxy_error",
                                              "param": None, "code": 1002}}
    assert conv.error.status == 500
    assert aiproxy.error_to_openai(401, raw, ctx()).status == 401
    err = aiproxy.error_to_openai(502, b"gateway", ctx())
    assert (err.status, err.message) == (502, "bad response status code 502")
    err = aiproxy.error_to_openai(429, b'{"error":{"message":"slow down","type":"rate"}}', ctx())
    assert (err.message, err.type) == ("slow down", "rate")


STREAM = ('data:{"content":"Use the ","model":"gpt-3.5-turbo","documents":[],"finish":false}\n'
          'data:{"content":"登录 page.","model":"gpt-3.5-turbo","documents":[],"finish":false}\n\n'
          'data:{"content":"","model":"gpt-3.5-turbo","documents":' + orjson.dumps(DOCS).decode() + ',"finish":true}\n'
          ).encode()


@pytest.mark.parametrize("step", [None, 1, 5])
def test_stream(step: int | None) -> None:
    out, conv = run_stream(ctx(stream=True), STREAM, step)
    chunk = {"id": "<any>", "object": "chat.completion.chunk", "created": int(NOW), "model": "gpt-3.5-turbo"}
    assert_stream([
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Use the "}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "登录 page."}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": DOCS_MD}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        "[DONE]"], out)
    assert conv.error is None


def test_stream_without_final_event_and_usage_chunk() -> None:
    out, _ = run_stream(ctx(stream=True, include_usage=True), b'data:{"content":"partial"}')
    payloads = stream_payloads(out)
    assert payloads[1]["choices"][0]["delta"] == {"content": "partial"}
    assert payloads[2]["choices"][0]["finish_reason"] == "stop"
    assert payloads[3]["choices"] == [] and payloads[4] == "[DONE]"


def test_stream_error_line_and_json_body() -> None:
    data = b'data:{"content":"a"}\ndata:{"success":false,"errCode":7,"message":"quota exhausted"}\ndata:{"content":"b"}\n'
    out, conv = run_stream(ctx(stream=True), data, 2)
    payloads = stream_payloads(out)
    assert payloads[-1] == {"error": {"message": "quota exhausted", "type": "aiproxy_error", "param": None, "code": 7}}
    assert "[DONE]" not in payloads and conv.error is not None
    out, conv = run_stream(ctx(stream=True), b'{"success":false,"errCode":3,"message":"bad key"}')
    assert stream_payloads(out)[-1]["error"]["code"] == 3
