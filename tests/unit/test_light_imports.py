"""The long-lived processes that do little keep out of the heavy libraries (issue #19: memory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "aiohttp", "tiktoken", "prometheus_client", "redis")


def loaded_after(statement: str) -> list[str]:
    """The heavy top-level packages a fresh interpreter holds after `statement`."""
    code = f"{statement}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    return [name for name in HEAVY if name in out]


def test_the_supervisor_imports_no_heavy_library() -> None:
    # one-api's supervisor lives as long as the gateway: SQLAlchemy alone kept ~40 MiB in it for nothing
    assert loaded_after("import launcher.cli") == []


def test_the_dsn_grammar_and_change_counter_load_without_the_driver() -> None:
    assert loaded_after("import store.dsn, store.change_counter, startup.dsns, startup.logs") == []


def test_any_other_store_name_loads_every_table() -> None:
    code = ("from store.models import Base\nfrom store import Database\n"
            "assert {'channel_notices', 'cache_events', 'job_leases', 'login_sessions'} <= set(Base.metadata.tables)")
    assert loaded_after(code)[0] == "sqlalchemy"
