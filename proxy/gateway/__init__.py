"""The gateway's own state, caches and writers that the addons share through the flow (the ledger: proxy.ledger)."""
