"""The ledger owner's framing, and when the launcher starts an owner at all."""

from __future__ import annotations

import pytest

from launcher.cli import needs_ledger_owner
from proxy.ledger.wire import MAX_FRAME, RESERVE, FrameError, FrameReader, frame
from settings import Settings


def test_frames_survive_any_split() -> None:
    messages = [[RESERVE, i, 7, 3, 10**12 + i, True] for i in range(5)]
    data = b"".join(frame(m) for m in messages)
    for cut in range(1, 40):
        reader = FrameReader()
        got = [m for start in range(0, len(data), cut) for m in reader.feed(data[start:start + cut])]
        assert got == messages


def test_a_broken_stream_is_refused() -> None:
    with pytest.raises(FrameError):
        FrameReader().feed((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(FrameError):
        FrameReader().feed((3).to_bytes(4, "big") + b"{{{")


def test_only_sqlite_with_several_workers_gets_a_ledger_owner() -> None:
    assert not needs_ledger_owner(Settings(workers=1))
    assert needs_ledger_owner(Settings(workers=2))
    assert needs_ledger_owner(Settings(workers=2, sql_dsn="sqlite:///x.db"))
    assert not needs_ledger_owner(Settings(workers=2, sql_dsn="postgres://u:p@localhost/db"))
    assert not needs_ledger_owner(Settings(workers=4, sql_dsn="root:pw@tcp(localhost:3306)/oneapi"))
