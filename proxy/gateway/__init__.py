"""The gateway's own state, caches, ledger and writers that the addons share through the flow."""
