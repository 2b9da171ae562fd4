"""Errors a client reads carry no channel key and no address behind the gateway; the server log has them whole."""

from __future__ import annotations

import logging
import socket

import aiohttp
import orjson
import pytest

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel
from tests.e2e.mock_upstream import MockOpenAI

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
KEY = "upstream-key-0123456789abcdef"


async def _chat(gateway: Gateway, key: str, body: dict = CHAT) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http, http.post(gateway.url + "/v1/chat/completions", json=body,
                                                          headers={"Authorization": f"Bearer {key}"}) as r:
        return r.status, await r.read(), r.headers.get("X-Oneapi-Request-Id", "")


async def test_an_upstream_401_echoing_the_key_reaches_the_client_redacted(
        db: Database, gateway: Gateway, upstream: MockOpenAI, caplog: pytest.LogCaptureFixture) -> None:
    account = await add_account(db)
    await add_channel(db, base_url=upstream.url, key=KEY)
    await gateway.reload()
    upstream.script.status = 401
    upstream.script.error_body = orjson.dumps({"error": {
        "message": f"Incorrect API key provided: {KEY}. Also tried sk-proj-OtherKeyAbcdef0123 from {upstream.url}.",
        "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
    with caplog.at_level(logging.WARNING, logger="proxy.addons.error_scrub"):
        status, body, request_id = await _chat(gateway, account.key)
    assert status == 401
    message = orjson.loads(body)["error"]["message"]
    assert message.startswith("Incorrect API key provided: [redacted]. Also tried [redacted] from http://[redacted]."), message
    port = upstream.url.rsplit(":", 1)[1]
    for secret in (KEY, "sk-proj-OtherKeyAbcdef0123", "127.0.0.1", port):
        assert secret not in body.decode()
    logged = [r.getMessage() for r in caplog.records if request_id in r.getMessage()]
    scrubbed = [m for m in logged if m.startswith("upstream error: ")]   # the one warning line of the failure
    assert len(scrubbed) == 1 and KEY not in scrubbed[0]
    assert any(KEY in m for m in logged)        # the operator still reads the whole text


async def test_a_refused_connection_does_not_name_the_internal_host(db: Database, gateway: Gateway) -> None:
    with socket.socket() as s:        # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    account = await add_account(db)
    await add_channel(db, base_url=f"http://127.0.0.1:{port}", key=KEY)
    await gateway.reload()
    status, body, _ = await _chat(gateway, account.key)
    assert status == 500
    error = orjson.loads(body)["error"]
    assert error["code"] == "do_request_failed" and "[redacted]" in error["message"], error
    assert "127.0.0.1" not in body.decode() and str(port) not in body.decode()


async def test_a_stream_cut_by_the_upstream_reports_no_address(db: Database, gateway: Gateway,
                                                               upstream: MockOpenAI) -> None:
    account = await add_account(db)
    await add_channel(db, base_url=upstream.url, key=KEY)
    await gateway.reload()
    upstream.script.reset_after_chunks = 2
    status, body, _ = await _chat(gateway, account.key, {**CHAT, "stream": True})
    assert status == 200
    assert b"error" in body                       # the cut is reported inside the stream
    assert b"127.0.0.1" not in body and upstream.url.rsplit(":", 1)[1].encode() not in body


async def test_an_in_stream_error_of_a_converted_stream_is_redacted(db: Database, gateway: Gateway) -> None:
    """Anthropic reports a failure inside a started stream; the converter turns it into an error event."""
    from tests.e2e.mock_providers import ProviderMock, send_stream

    key = "sk-ant-api03-StreamSecretKey0123456789"
    events = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
              b'"role":"assistant","model":"claude-3-5-haiku-20241022","content":[],"stop_reason":null,'
              b'"usage":{"input_tokens":5,"output_tokens":1}}}\n\n'
              b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"key '
              + key.encode() + b' refused by 10.20.30.40:8443"}}\n\n')

    async def messages(request, _rec):  # noqa: ANN001, ANN202 - a ProviderMock handler
        return await send_stream(request, events, "text/event-stream")

    mock = await ProviderMock().route("POST", "/v1/messages", messages).start()
    try:
        account = await add_account(db)
        await add_channel(db, base_url=mock.url, type=14, key=key, models="claude-3-5-haiku-20241022")
        await gateway.reload()
        status, body, _ = await _chat(gateway, account.key, {"model": "claude-3-5-haiku-20241022", "stream": True,
                                                             "messages": [{"role": "user", "content": "hi"}]})
    finally:
        await mock.close()
    assert status == 200
    assert b"overloaded_error" in body and b"[redacted]" in body, body
    assert key.encode() not in body and b"10.20.30.40" not in body and b"8443" not in body
