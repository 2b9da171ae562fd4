"""What every process of the gateway needs to start: logging (startup.logs), the database from the settings
(startup.database, its DSN check in startup.dsns), an app served (startup.serve).

The proxy workers, the ledger owner and admin_api import it; so does the launcher (`one-api`), which
nothing imports. It may import `settings` and `store`, never `proxy`, `admin_api` or `launcher`. The package
itself imports nothing: the launcher takes only startup.logs and startup.dsns and so stays out of SQLAlchemy
and aiohttp (a lighter supervisor process).
"""
