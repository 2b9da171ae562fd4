"""Gunzip: inflates piece by piece, several members and padding as Python's gzip does, never past the limit."""

from __future__ import annotations

import gzip

import pytest

from proxy.core.request_body import BadGzip, BodyTooLarge, Gunzip


def inflate(data: bytes, limit: int, piece: int = 7) -> bytes:
    gunzip = Gunzip(limit)
    out = b"".join(gunzip.feed(data[i:i + piece]) for i in range(0, len(data), piece))
    gunzip.finish()
    return out


def test_members_padding_and_pieces_as_the_gzip_module() -> None:
    data = gzip.compress(b"hello ") + gzip.compress(b"world") + b"\0" * 8
    assert inflate(data, 100) == gzip.decompress(data) == b"hello world"
    assert inflate(b"", 100) == b""


def test_the_limit_is_on_inflated_bytes() -> None:
    data = gzip.compress(bytes(1000))
    assert inflate(data, 1000) == bytes(1000)                  # exactly the limit is fine
    with pytest.raises(BodyTooLarge) as info:
        inflate(data, 999, piece=len(data))
    assert info.value.status == 413


@pytest.mark.parametrize("data", [b"not gzip at all", gzip.compress(b"x" * 100)[:-5],
                                  gzip.compress(b"a") + b"garbage after"])
def test_corrupt_or_cut_gzip_is_a_400(data: bytes) -> None:
    with pytest.raises(BadGzip) as info:
        inflate(data, 1000)
    assert info.value.status == 400 and info.value.code == "invalid_gzip_body"
