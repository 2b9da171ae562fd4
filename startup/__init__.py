"""What every process of the gateway needs to start: logging, the database from the settings, an app served.

The proxy workers, the ledger owner and admin_api import it; so does the launcher (`one-api`), which
nothing imports. It may import `settings` and `store`, never `proxy`, `admin_api` or `launcher`.
"""

from startup.database import check_dsns, database_for, prepare_database
from startup.logs import line_sink, setup_logging
from startup.serve import SERVER_OPTIONS, run_forever, serve

__all__ = ["SERVER_OPTIONS", "check_dsns", "database_for", "line_sink", "prepare_database", "run_forever", "serve",
           "setup_logging"]
