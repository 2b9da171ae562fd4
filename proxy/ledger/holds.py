"""What one request holds in each budget window (#17).

`{(budget key, window start): quota}`: a ledger with budgets (proxy.limits.budgets.BudgetLedger) fills it as the
request's holds are taken and reads it back when they are corrected, so a give-back goes to the windows this
request took from, never to a newer one (a request that straddles a reset must not refill the new window with
what it held in the old). Ledgers without budgets ignore it.
"""

BudgetHolds = dict[tuple[str, int], int]

__all__ = ["BudgetHolds"]
