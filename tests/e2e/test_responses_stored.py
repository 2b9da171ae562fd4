"""The Responses API's stored-response calls and input_tokens with the `openai` SDK: passed through to a channel
that speaks Responses natively (OpenAI), with the channel's key, never billed and never logged as a generation;
by-id calls try the group's native channels until one knows the id; nothing goes to a converted channel."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from aiohttp import web

from store import Database
from tests.e2e.harness import Gateway, add_account, add_channel, balances, logs
from tests.e2e.mock_providers import ProviderMock, json_response
from tests.e2e.mock_upstream import Recorded
from tests.e2e.sdk_clients import openai_client

MODEL = "gpt-4o-mini"
STORED = {"id": "resp_1", "object": "response", "created_at": 1, "status": "completed", "model": MODEL,
          "output": [{"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": "stored answer", "annotations": []}]}],
          "usage": {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7,
                    "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
          "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}


async def _stored(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response(STORED)


async def _deleted(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"id": "resp_1", "object": "response.deleted", "deleted": True})


async def _items(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"object": "list", "data": [{"id": "msg_0", "type": "message", "role": "user", "status":
                                                      "completed", "content": [{"type": "input_text", "text": "hi"}]}],
                          "first_id": "msg_0", "last_id": "msg_0", "has_more": False})


async def _count(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"object": "response.input_tokens", "input_tokens": 12})


async def _unknown(request: web.Request, rec: Recorded) -> web.StreamResponse:
    return json_response({"error": {"message": "No response found with id 'resp_1'.", "type": "invalid_request_error",
                                    "param": None, "code": None}}, 404)


@pytest.fixture
async def mocks() -> Any:
    servers = [await ProviderMock().start() for _ in range(3)]
    yield servers
    for server in servers:
        await server.close()


async def test_stored_calls_pass_through_unbilled(gateway: Gateway, db: Database, mocks: list[ProviderMock]) -> None:
    openai_mock, deepseek = mocks[0], mocks[1]
    openai_mock.route("GET", "/v1/responses/resp_1", _stored).route("DELETE", "/v1/responses/resp_1", _deleted)
    openai_mock.route("POST", "/v1/responses/resp_1/cancel", _stored)
    openai_mock.route("GET", "/v1/responses/resp_1/input_items", _items)
    openai_mock.route("POST", "/v1/responses/input_tokens", _count)
    acct = await add_account(db)
    await add_channel(db, base_url=deepseek.url, type=36, key="sk-deepseek", models=MODEL, priority=10)
    await add_channel(db, base_url=openai_mock.url, type=1, key="sk-openai", models=MODEL,
                      model_mapping=f'{{"{MODEL}": "gpt-4o-mini-2024-07-18"}}')
    await gateway.reload()
    before = await balances(db, acct)
    client = openai_client(gateway, acct.key)
    got = await client.responses.retrieve("resp_1")
    assert got.output_text == "stored answer"
    assert (await client.responses.cancel("resp_1")).id == "resp_1"
    items = await client.responses.input_items.list("resp_1", limit=5)
    assert [i.id for i in items.data] == ["msg_0"]
    count = await client.responses.input_tokens.count(model=MODEL, input="hi")
    assert count.input_tokens == 12
    await client.responses.delete("resp_1")
    assert not openai_mock.failures and deepseek.requests == []   # a converted channel never sees them
    sent = openai_mock.requests
    assert [(r.method, r.path) for r in sent] == [
        ("GET", "/v1/responses/resp_1"), ("POST", "/v1/responses/resp_1/cancel"),
        ("GET", "/v1/responses/resp_1/input_items"), ("POST", "/v1/responses/input_tokens"),
        ("DELETE", "/v1/responses/resp_1")]
    assert sent[2].query == "limit=5"
    assert all(r.headers["Authorization"] == "Bearer sk-openai" for r in sent)
    assert sent[3].json() == {"model": "gpt-4o-mini-2024-07-18", "input": "hi"}   # the channel's model mapping
    await gateway.flush()
    assert await logs(db) == []
    after = await balances(db, acct)
    assert (after["token_remain"], after["user_quota"]) == (before["token_remain"], before["user_quota"])


async def test_by_id_tries_each_native_channel(gateway: Gateway, db: Database, mocks: list[ProviderMock]) -> None:
    """The id belongs to one OpenAI account: a 404 from one channel sends the call to the next."""
    first, second = mocks[:2]
    first.route("GET", "/v1/responses/resp_1", _unknown)
    second.route("GET", "/v1/responses/resp_1", _stored)
    acct = await add_account(db)
    await add_channel(db, base_url=first.url, type=1, key="sk-a", models=MODEL, priority=20)
    await add_channel(db, base_url=second.url, type=1, key="sk-b", models="gpt-4o", priority=10)
    await gateway.reload()
    client = openai_client(gateway, acct.key)
    assert (await client.responses.retrieve("resp_1")).id == "resp_1"
    assert (len(first.requests), len(second.requests)) == (1, 1)
    # the last channel's 404 is the answer when no channel knows it
    second.route("GET", "/v1/responses/resp_1", _unknown)
    with pytest.raises(openai.NotFoundError) as missing:
        await client.responses.retrieve("resp_1")
    assert "No response found" in missing.value.message


async def test_without_a_native_channel(gateway: Gateway, db: Database, mocks: list[ProviderMock]) -> None:
    deepseek = mocks[0]
    acct = await add_account(db)
    await add_channel(db, base_url=deepseek.url, type=36, key="sk-deepseek", models="deepseek-chat")
    await gateway.reload()
    client = openai_client(gateway, acct.key)
    with pytest.raises(openai.NotFoundError) as by_id:
        await client.responses.retrieve("resp_1")
    assert "natively" in by_id.value.message
    with pytest.raises(openai.InternalServerError) as count:   # 503: no channel can count for this model
        await client.responses.input_tokens.count(model="deepseek-chat", input="hi")
    assert count.value.status_code == 503
    with pytest.raises(openai.BadRequestError):
        await client.responses.input_tokens.count(input="hi")   # no model: nothing to route by
    with pytest.raises(openai.AuthenticationError):
        await openai_client(gateway, "sk-wrong").responses.retrieve("resp_1")
    assert deepseek.requests == []
