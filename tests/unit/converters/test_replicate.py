"""Replicate converter: cases written from Replicate's documented HTTP API (no vectors file exists).

Wire facts used: POST /v1/models/{owner}/{name}/predictions with `{"input": {...}}` answers 201 with a
prediction (`id`, `status` starting|processing|succeeded|failed|canceled, `urls.get`, `urls.stream`,
`output`, `error`, `metrics`); GET urls.get polls it; language models give `output` as a list of
tokens and `metrics.input_token_count/output_token_count`; flux models give a list of file URLs;
the stream URL speaks SSE with events output/logs/error/done; API errors are problem+json
`{"title", "detail", "status"}` (replicate/replicate-python tests/cassettes, replicate.com/docs).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from proxy.converters.base import ConversionError, ConvertContext
from proxy.converters.providers import replicate
from tests.unit.converters.vectors import assert_stream, feed_all, stream_payloads

MODEL = "meta/meta-llama-3-8b-instruct"
NOW = 1715224839.0


def ctx(mode: str = "chat", model: str = MODEL, **kw: Any) -> ConvertContext:
    args: dict[str, Any] = {"mode": mode, "model": model, "base_url": "https://api.replicate.com/v1/models",
                            "key": "r8_testkey", "now": NOW}
    args.update(kw)
    return ConvertContext(**args)


def prediction(status: str, **extra: Any) -> dict[str, Any]:
    pid = "gm3qorzdhgbfurvjtvhg6dckhu"
    obj = {"id": pid, "model": MODEL, "version": "dp-8e0c4d1e", "input": {"prompt": "user: Hello\n", "max_tokens": 500},
           "logs": "", "output": None, "error": None, "status": status, "created_at": "2024-05-09T03:20:39.765994657Z",
           "urls": {"get": f"https://api.replicate.com/v1/predictions/{pid}",
                    "cancel": f"https://api.replicate.com/v1/predictions/{pid}/cancel",
                    "stream": f"https://stream.replicate.com/v1/files/{pid}"}}
    obj.update(extra)
    return obj


def run_stream(c: ConvertContext, data: bytes, step: int | None = None) -> tuple[list[bytes], Any]:
    conv = replicate.stream_to_openai(c)
    return feed_all(conv, data, step), conv


# --- create ----------------------------------------------------------------------------------

def test_chat_create_request() -> None:
    body = {"model": MODEL, "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
            "temperature": 0.6, "top_p": 0.9, "stop": ["<end>", "<stop>"], "stream": False}
    req = replicate.request_from_openai(body, ctx())
    assert req.method == "POST"
    assert req.url == "https://api.replicate.com/v1/models/meta/meta-llama-3-8b-instruct/predictions"
    assert req.headers == {"Authorization": "Bearer r8_testkey", "Content-Type": "application/json"}
    assert orjson.loads(req.body) == {"input": {"prompt": "system: Be brief.\nuser: Hello\n", "max_tokens": 500,
                                                "temperature": 0.6, "top_p": 0.9, "stop_sequences": "<end>,<stop>"}}


@pytest.mark.parametrize("base,url", [
    ("https://api.replicate.com/v1/models", "https://api.replicate.com/v1/models/a/b/predictions"),
    ("https://api.replicate.com", "https://api.replicate.com/v1/models/a/b/predictions"),
    ("https://api.replicate.com/v1", "https://api.replicate.com/v1/models/a/b/predictions"),
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1/models/a/b/predictions"),
    ("https://mirror.example/replicate", "https://mirror.example/replicate/v1/models/a/b/predictions"),
    ("", "https://api.replicate.com/v1/models/a/b/predictions"),
])
def test_create_url_from_base(base: str, url: str) -> None:
    req = replicate.request_from_openai({"messages": [], "max_tokens": 64}, ctx(model="a/b", base_url=base))
    assert req.url == url
    assert orjson.loads(req.body)["input"]["max_tokens"] == 64


@pytest.mark.parametrize("extra", [{"n": 2}, {"tools": [{"type": "function", "function": {"name": "f"}}]},
                                   {"response_format": {"type": "json_object"}},
                                   {"messages": [{"role": "user", "content": [
                                       {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]}])
def test_chat_unsupported_features_raise(extra: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        replicate.request_from_openai({"messages": [{"role": "user", "content": "hi"}], **extra}, ctx())


def test_bad_model_and_mode_raise() -> None:
    with pytest.raises(ConversionError):
        replicate.request_from_openai({"messages": []}, ctx(model="llama3"))
    with pytest.raises(ConversionError):
        replicate.request_from_openai({"input": "x"}, ctx("embeddings"))


def test_image_create_request() -> None:
    c = ctx("images", "black-forest-labs/flux-schnell")
    req = replicate.request_from_openai({"prompt": "a red fox", "size": "1792x1024", "n": 2, "seed": 1}, c)
    assert req.url == "https://api.replicate.com/v1/models/black-forest-labs/flux-schnell/predictions"
    assert orjson.loads(req.body) == {"input": {"prompt": "a red fox", "aspect_ratio": "16:9",
                                                "num_outputs": 2, "seed": 1}}
    plain = replicate.request_from_openai({"prompt": "x", "size": "1024x1024"}, c)
    assert orjson.loads(plain.body) == {"input": {"prompt": "x", "aspect_ratio": "1:1"}}


@pytest.mark.parametrize("body", [{"prompt": "x", "response_format": "b64_json"}, {"prompt": ""},
                                  {"prompt": "x", "size": "1000x300"}, {"prompt": "x", "size": "big"}])
def test_image_unsupported_raise(body: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        replicate.request_from_openai(body, ctx("images", "black-forest-labs/flux-pro"))


# --- polling ---------------------------------------------------------------------------------

def test_poll_follows_urls_get_until_finished() -> None:
    req = replicate.task_poll_request(201, orjson.dumps(prediction("starting")), ctx())
    assert (req.method, req.url) == ("GET", "https://api.replicate.com/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu")
    assert req.headers == {"Authorization": "Bearer r8_testkey"}
    assert replicate.task_poll_request(200, orjson.dumps(prediction("processing")), ctx()).url == req.url
    for state in ("succeeded", "failed", "canceled"):
        assert replicate.task_poll_request(200, orjson.dumps(prediction(state)), ctx()) is None


def test_poll_url_moves_onto_channel_base_url() -> None:
    req = replicate.task_poll_request(201, orjson.dumps(prediction("starting")), ctx(base_url="http://127.0.0.1:8765"))
    assert req.url == "http://127.0.0.1:8765/v1/predictions/gm3qorzdhgbfurvjtvhg6dckhu"


def test_poll_stops_on_errors_and_falls_back_to_id() -> None:
    assert replicate.task_poll_request(422, b'{"detail":"bad"}', ctx()) is None
    assert replicate.task_poll_request(200, b"not json", ctx()) is None
    req = replicate.task_poll_request(201, orjson.dumps({"id": "abc", "status": "starting"}), ctx())
    assert req.url == "https://api.replicate.com/v1/predictions/abc"


# --- final answers ---------------------------------------------------------------------------

def test_chat_final_answer() -> None:
    done = prediction("succeeded", output=["", "Hello", "!", " How", " can", " I", " help", "?"],
                      completed_at="2024-05-09T03:20:41.1Z",
                      metrics={"predict_time": 0.3, "input_token_count": 12, "output_token_count": 8})
    conv = replicate.response_to_openai(200, orjson.dumps(done), ctx())
    assert conv.error is None
    assert conv.body == {"id": "chatcmpl-gm3qorzdhgbfurvjtvhg6dckhu", "object": "chat.completion",
                         "created": 1715224841, "model": MODEL,
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help?"},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20}}


def test_chat_final_answer_string_output_empty_and_length() -> None:
    conv = replicate.response_to_openai(200, orjson.dumps(prediction("succeeded", output="plain")), ctx())
    assert conv.body["choices"][0]["message"]["content"] == "plain"
    assert conv.body["created"] == int(NOW)
    conv = replicate.response_to_openai(200, orjson.dumps(prediction("succeeded", output=[])), ctx())
    assert conv.body["choices"][0]["message"]["content"] == ""
    capped = prediction("succeeded", output=["a"], metrics={"output_token_count": 500})
    conv = replicate.response_to_openai(200, orjson.dumps(capped), ctx())
    assert conv.body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("state,message", [("failed", "CUDA out of memory"), ("canceled", "Replicate prediction canceled")])
def test_failed_or_canceled_prediction_is_an_error_inside_200(state: str, message: str) -> None:
    body = prediction(state, error="CUDA out of memory" if state == "failed" else None)
    conv = replicate.response_to_openai(200, orjson.dumps(body), ctx())
    assert conv.body is None
    assert (conv.error.status, conv.error.message, conv.error.code) == (500, message, f"prediction_{state}")


def test_unfinished_prediction_is_a_timeout() -> None:
    conv = replicate.response_to_openai(200, orjson.dumps(prediction("processing")), ctx())
    assert (conv.error.status, conv.error.type) == (504, "timeout_error")


def test_image_final_answer() -> None:
    urls = ["https://replicate.delivery/xezq/a.webp", "https://replicate.delivery/xezq/b.webp"]
    conv = replicate.response_to_openai(200, orjson.dumps(prediction("succeeded", output=urls,
                                                                     completed_at="2024-05-09T03:20:45Z")),
                                        ctx("images", "black-forest-labs/flux-schnell"))
    assert conv.body == {"created": 1715224845, "data": [{"url": urls[0]}, {"url": urls[1]}]}
    single = replicate.response_to_openai(200, orjson.dumps(prediction("succeeded", output=urls[0])),
                                          ctx("images", "black-forest-labs/flux-pro"))
    assert single.body["data"] == [{"url": urls[0]}]
    empty = replicate.response_to_openai(200, orjson.dumps(prediction("succeeded")), ctx("images", "x/y"))
    assert empty.error.status == 502


# --- errors ----------------------------------------------------------------------------------

def test_problem_json_errors() -> None:
    err = replicate.error_to_openai(401, b'{"title":"Unauthenticated","detail":"You did not pass a valid '
                                         b'authentication token","status":401}\n', ctx())
    assert err.to_body() == {"error": {"message": "You did not pass a valid authentication token",
                                       "type": "authentication_error", "param": None, "code": None}}
    assert err.status == 401
    err = replicate.error_to_openai(422, orjson.dumps({"title": "Input validation failed", "status": 422,
                                                       "detail": [{"loc": ["prompt"], "msg": "field required"}]}), ctx())
    assert (err.status, err.message, err.type) == (422, "field required", "invalid_request_error")
    err = replicate.error_to_openai(404, orjson.dumps({"title": "Not found", "status": 404}), ctx())
    assert (err.message, err.type) == ("Not found", "not_found_error")
    err = replicate.error_to_openai(502, b"<html>", ctx())
    assert err.message == "bad response status code 502"


# --- streams ---------------------------------------------------------------------------------

SSE = ("event: output\nid: 1690212292:0\ndata: Hello\n\n"
       "event: output\nid: 1690212292:1\ndata: ! 你好\n\n"
       "event: logs\nid: 1690212292:2\ndata: step 2\n\n"
       "event: output\nid: 1690212292:3\ndata: line one\ndata: line two\n\n"
       "event: done\nid: 1690212292:4\ndata: {}\n\n").encode()


@pytest.mark.parametrize("step", [None, 1, 6])
def test_sse_stream(step: int | None) -> None:
    out, conv = run_stream(ctx(stream=True), SSE, step)
    chunk = {"object": "chat.completion.chunk", "model": MODEL, "id": "<any>", "created": int(NOW)}
    assert_stream([
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "! 你好"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {"content": "line one\nline two"}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        "[DONE]"], out)
    assert conv.error is None


def test_sse_stream_without_done_and_with_usage_chunk() -> None:
    out, _ = run_stream(ctx(stream=True, include_usage=True), b"event: output\ndata: Hi\n\n")
    payloads = stream_payloads(out)
    assert payloads[-3]["choices"][0]["finish_reason"] == "stop"
    assert payloads[-2]["choices"] == [] and payloads[-2]["usage"]["total_tokens"] == 0
    assert payloads[-1] == "[DONE]"


def test_sse_error_and_canceled() -> None:
    out, conv = run_stream(ctx(stream=True), b'event: output\ndata: Hi\n\nevent: error\ndata: {"detail":"boom"}\n\n'
                                             b'event: done\ndata: {"reason":"error"}\n\n', 3)
    payloads = stream_payloads(out)
    assert payloads[-1] == {"error": {"message": "boom", "type": "server_error", "param": None,
                                      "code": "prediction_failed"}}
    assert "[DONE]" not in payloads and conv.error is not None
    out, _ = run_stream(ctx(stream=True), b'event: done\ndata: {"reason":"canceled"}\n\n')
    assert stream_payloads(out)[-1]["error"]["message"] == "Replicate prediction ended: canceled"


def test_stream_fed_with_the_final_prediction_json() -> None:
    done = prediction("succeeded", output=["Hel", "lo 世界"], metrics={"input_token_count": 3, "output_token_count": 2})
    out, conv = run_stream(ctx(stream=True, include_usage=True), b"\n" + orjson.dumps(done), 1)
    payloads = stream_payloads(out)
    assert [p["choices"][0]["delta"] for p in payloads[:3]] == [{"role": "assistant", "content": ""},
                                                               {"content": "Hello 世界"}, {}]
    assert payloads[3]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert payloads[4] == "[DONE]" and conv.usage.total_tokens == 5
    out, conv = run_stream(ctx(stream=True), orjson.dumps(prediction("failed", error="oops")))
    assert stream_payloads(out)[-1]["error"]["message"] == "oops" and conv.error.status == 500
