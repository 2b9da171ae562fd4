"""The ledger owner's wire format: length-prefixed orjson arrays, many requests in flight on one connection.

A request is `[op, ...]`; operations that expect an answer carry a request id
right after `op` and get `[rid, status, value]` back. Settlements and refunds
carry no id and get no answer: the worker never waits for them.
"""

from __future__ import annotations

import struct
from typing import Any

import orjson

HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 20     # far above any real message: a larger length means a broken stream

# operations: [RESERVE, rid, token_id, user_id, amount, limited], [SETTLE, token_id, unlimited, user_id,
# channel_id, reserved, actual], [REFUND, token_id, unlimited, user_id, amount], [FORGET, rid, users, tokens],
# [USER_QUOTA, rid, user_id], [TOKEN_REMAIN, rid, token_id, user_id], [BARRIER, rid];
# rate limits (#17): [LIMIT_ACQUIRE, rid, ticket, tokens, [[key, name, rpm, tpm, parallel], ...]] answered with
# the headers, or REFUSED with [scope index, kind, limit, used, requested, retry after, headers];
# [LIMIT_FINISH, ticket, tokens] (no answer)
RESERVE, SETTLE, REFUND, FORGET, USER_QUOTA, TOKEN_REMAIN, BARRIER, LIMIT_ACQUIRE, LIMIT_FINISH = range(9)
# answer statuses: OK (value: the result), REFUSED (value: "token" or "user"), FAILED (value: a message)
OK, REFUSED, FAILED = range(3)


class FrameError(ValueError):
    """The byte stream is not a sequence of frames (a bug or a foreign client): drop the connection."""


def frame(message: list[Any]) -> bytes:
    body = orjson.dumps(message)
    return HEADER.pack(len(body)) + body


class FrameReader:
    """Splits received bytes into decoded messages; keeps an incomplete tail for the next call."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes) -> list[Any]:
        buf = self._tail + data if self._tail else data
        out: list[Any] = []
        pos, end = 0, len(buf)
        while end - pos >= HEADER.size:
            (size,) = HEADER.unpack_from(buf, pos)
            if size > MAX_FRAME:
                raise FrameError(f"frame of {size} bytes")
            stop = pos + HEADER.size + size
            if stop > end:
                break
            try:
                out.append(orjson.loads(buf[pos + HEADER.size:stop]))
            except orjson.JSONDecodeError as e:
                raise FrameError(str(e)) from None
            pos = stop
        self._tail = bytes(buf[pos:])
        return out


__all__ = ["BARRIER", "FAILED", "FORGET", "LIMIT_ACQUIRE", "LIMIT_FINISH", "FrameError", "FrameReader", "OK",
           "REFUND", "REFUSED", "RESERVE", "SETTLE", "TOKEN_REMAIN", "USER_QUOTA", "frame"]
