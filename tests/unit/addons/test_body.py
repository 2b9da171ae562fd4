"""RequestBody alone, with a fake flow: modes, defaults, checks, the model allow-list, multipart fields."""

from __future__ import annotations

import pytest

from proxy.addons.body import RequestBody
from proxy.core.errors import RelayError
from proxy.gateway.form_fields import form_fields
from tests.unit.addons.fakes import make_flow, token


async def test_body_modes_defaults_and_checks() -> None:
    body = RequestBody()
    flow = make_flow("/v1/engines/text-embedding-3-small/embeddings", {"input": "x"},
                     match_info={"model": "text-embedding-3-small"})
    body.request(flow)
    assert (flow.state.mode, flow.state.relay_path, flow.state.model) == ("embeddings", "/v1/embeddings",
                                                                          "text-embedding-3-small")
    flow = make_flow("/v1/moderations", {"input": "x"})
    body.request(flow)
    assert flow.state.model == "text-moderation-stable"
    flow = make_flow(body={"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True,
                           "stream_options": {"include_usage": True}})
    body.request(flow)
    assert flow.stream and flow.state.include_usage
    for bad, message in [({"model": "m", "messages": []}, "messages is required"),
                         ({"messages": [{"role": "user", "content": "x"}]}, "model is required"),
                         ({"model": "m", "messages": [1], "max_tokens": -1}, "max_tokens is invalid")]:
        with pytest.raises(RelayError) as info:
            body.request(make_flow(body=bad))
        assert (info.value.status, info.value.message, info.value.code) == (400, message, "invalid_text_request")
    with pytest.raises(RelayError) as info:
        body.request(make_flow(raw=b"{not json"))
    assert info.value.status == 400 and info.value.message.startswith("请求体不是有效的 JSON：")
    assert "Unmarshal" not in info.value.message   # no internal function names


async def test_model_allow_list() -> None:
    flow = make_flow(body={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]},
                     token=token(models=("gpt-4o-mini",)))
    with pytest.raises(RelayError) as info:
        RequestBody().request(flow)
    assert (info.value.status, info.value.message) == (403, "该令牌无权使用模型：gpt-4o")


def test_multipart_fields() -> None:
    boundary = "XyZ"
    raw = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp3\"\r\n"
           f"Content-Type: audio/mpeg\r\n\r\nID3\x00\x01\r\n--{boundary}--\r\n").encode("latin-1")
    assert form_fields(f"multipart/form-data; boundary={boundary}", raw) == {"model": "whisper-1"}
