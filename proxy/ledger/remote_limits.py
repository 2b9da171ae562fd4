"""Rate limits through the ledger owner (#17, SQLite with several workers): the owner holds one `MemoryWindows`
for every worker, so a request's check-and-take is as atomic as on one worker, at the cost of one round trip on
the connection the worker already keeps for quota. A worker that dies frees its requests' slots (the owner
finishes the tickets of a lost connection, each once)."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.ledger.client import RemoteLedger
from proxy.ledger.wire import LIMIT_ACQUIRE, LIMIT_FINISH, OK
from proxy.limits.policy import Refusal, Scope
from proxy.limits.windows import LimitExceeded, Ticket


class RemoteWindows:
    def __init__(self, ledger: RemoteLedger) -> None:
        self.ledger = ledger
        self._ticket = 0

    async def acquire(self, scopes: Sequence[Scope], tokens: int) -> Ticket:
        self._ticket += 1
        ticket_id = self._ticket
        raw = [[s.key, s.name, s.limit.rpm, s.limit.tpm, s.limit.parallel] for s in scopes]
        # a caller that gave up before the answer gives the place back (its slot, with no tokens)
        status, value = await self.ledger.request([LIMIT_ACQUIRE, 0, ticket_id, tokens, raw],
                                                  undo=[LIMIT_FINISH, ticket_id, 0])
        if status == OK:
            return Ticket(value, tokens, ids=[ticket_id])
        index, kind, limit, used, requested, retry_after, headers = value
        raise LimitExceeded(Refusal(scopes[index], kind, limit, used, requested, retry_after), headers)

    def finish(self, ticket: Ticket, tokens: int) -> None:
        if not ticket.finished:
            ticket.finished = True
            self.ledger.post([LIMIT_FINISH, ticket.ids[0], tokens])

    async def close(self) -> None:
        return None     # finishes go out like settlements: the ledger's own close delivers them


__all__ = ["RemoteWindows"]
