"""Answers that are not one HTTP exchange (a WebSocket, a polled task) in the shape the forwarder reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import pytest

from proxy.core.errors import UpstreamError
from proxy.core.transports import SyntheticResponse, run_task, single_body


async def test_a_single_body_reads_whole_and_as_one_piece() -> None:
    answer = single_body(200, b'{"ok":true}')
    assert (answer.status, answer.content_type, answer.headers["Content-Type"]) == (200, "application/json",
                                                                                  "application/json")
    assert answer.content_length is None
    assert [p async for p in answer.content.iter_any()] == [b'{"ok":true}']


async def test_messages_stay_apart_and_the_close_runs_on_release() -> None:
    closed: list[bool] = []

    async def messages() -> AsyncIterator[bytes]:
        yield b"one"
        yield b"two"

    async def close() -> None:
        closed.append(True)
    async with SyntheticResponse(200, "application/x-websocket-messages", messages(), close) as answer:
        assert [p async for p in answer.content.iter_any()] == [b"one", b"two"]
    assert closed == [True]


async def test_read_stops_at_the_limit() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for p in (b"ab", b"cd", b"ef"):
            yield p
    assert await SyntheticResponse(200, "text/plain", pieces()).content.read(3) == b"abcd"


async def test_a_task_is_polled_until_the_next_call_says_done() -> None:
    answers = iter([(200, b"running"), (200, b"succeeded")])
    polls: list[bytes] = []

    async def first() -> tuple[int, bytes]:
        return 201, b"accepted"

    async def poll() -> tuple[int, bytes]:
        return next(answers)

    def next_call(status: int, body: bytes) -> Awaitable[tuple[int, bytes]] | None:
        polls.append(body)
        return None if body == b"succeeded" else poll()
    assert await run_task(None, first, next_call, interval=0) == (200, b"succeeded")  # type: ignore[arg-type]
    assert polls == [b"accepted", b"running", b"succeeded"]


async def test_a_failed_submission_is_the_answer_and_a_task_past_its_deadline_is_a_504() -> None:
    async def refused() -> tuple[int, bytes]:
        return 400, b"bad"
    assert await run_task(None, refused, lambda s, b: None, interval=0) == (400, b"bad")  # type: ignore[arg-type]

    async def running() -> tuple[int, bytes]:
        return 200, b"running"

    def again(status: int, body: bytes) -> Awaitable[tuple[int, bytes]]:
        done: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        done.set_result((200, b"running"))   # a future, not a coroutine: the one past the deadline is never awaited
        return done
    with pytest.raises(UpstreamError) as e:
        await run_task(None, running, again, interval=0.01, deadline=0.03)  # type: ignore[arg-type]
    assert e.value.status == 504 and e.value.code == "task_timeout"
