"""An existing One API database's schema (GORM's own DDL, tests/integration/store/one_api_ddl/) in place of ours."""

from __future__ import annotations

from pathlib import Path

from store import Database
from store.models import Base, LogBase

DDL_DIR = Path(__file__).parent / "integration" / "store" / "one_api_ddl"


async def load_one_api_schema(db: Database, backend: str) -> None:
    """Drop our tables and create One API's: the database as One API left it, before any migration of ours."""
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(LogBase.metadata.drop_all)
        ddl = (DDL_DIR / f"{backend}.sql").read_text()
        for stmt in ddl.split(";"):
            body = "\n".join(line for line in stmt.splitlines() if not line.startswith("--")).strip()
            if body:
                await conn.exec_driver_sql(body)
