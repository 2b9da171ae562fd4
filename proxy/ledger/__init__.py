"""The quota ledger: where a request's quota is reserved and settled, in one package.

`strategies` holds the three ledgers behind one interface (in memory, in the database, through the ledger
owner) and `ledger_for`, which picks one; `batcher` writes settlements as additive deltas; `wire`, `owner`,
`client` and `server` are the ledger owner process (SQLite, several workers) and a worker's side of it;
`remote_limits` asks the owner for rate-limit places (#17).
Its SQL lives in `store.quota`.
"""

from proxy.ledger.client import LedgerUnavailable, RemoteLedger
from proxy.ledger.holds import BudgetHolds
from proxy.ledger.remote_limits import RemoteWindows
from proxy.ledger.strategies import DatabaseLedger, Ledger, MemoryLedger, ledger_for, spendable
from store import InsufficientQuota

__all__ = ["BudgetHolds", "DatabaseLedger", "InsufficientQuota", "Ledger", "LedgerUnavailable", "MemoryLedger",
           "RemoteLedger", "RemoteWindows", "ledger_for", "spendable"]
