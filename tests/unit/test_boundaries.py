"""Import boundaries of DESIGN.md: a generic core, pure converters, two processes that never import each other,
layers that point one way (launcher → proxy, admin_api → startup → store, settings, rules), SQL only in store."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(package: str) -> dict[str, set[str]]:
    """module file → top-level-qualified names it imports."""
    out: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        out[str(path.relative_to(ROOT))] = names
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{f}: {name}" for f, names in imports_of(package).items() for name in names
                  if name == forbidden or any(name == p or name.startswith(p + ".") for p in forbidden))


def test_core_knows_no_provider_auth_or_price() -> None:
    assert offenders("proxy/core", ("proxy.addons", "proxy.gateway", "proxy.converters", "rules", "store",
                                    "admin_api")) == []


def test_converters_are_pure() -> None:
    assert offenders("proxy/converters", ("aiohttp", "sqlalchemy", "store", "proxy.addons", "proxy.gateway",
                                          "requests", "httpx", "socket", "redis")) == []


def test_converters_are_found_through_the_registry() -> None:
    """The gateway asks proxy.converters.registry for a converter and its abilities, never a provider module;
    shared helpers and signing never import a provider."""
    providers = ("proxy.converters.providers",)
    assert offenders("proxy/addons", providers) == []
    assert offenders("proxy/gateway", providers) == []
    assert offenders("proxy/converters/signing", providers) == []
    shared = [f"{f}: {n}" for f, names in imports_of("proxy/converters").items() for n in names
              if f.count("/") == 2 and not f.endswith("registry.py") and n.startswith(providers[0])]
    assert shared == []


def test_processes_never_import_each_other() -> None:
    assert offenders("proxy", ("admin_api",)) == []
    assert offenders("admin_api", ("proxy",)) == []


def test_rules_and_store_stay_low() -> None:
    assert offenders("rules", ("proxy", "admin_api", "store", "sqlalchemy", "aiohttp")) == []
    assert offenders("store", ("proxy", "admin_api", "aiohttp")) == []


def test_layers_point_one_way() -> None:
    """Each package imports only the packages below it; `launcher` (the `one-api` command) is imported by none."""
    assert offenders("proxy", ("admin_api", "launcher")) == []
    assert offenders("admin_api", ("proxy", "launcher")) == []
    assert offenders("startup", ("proxy", "admin_api", "launcher")) == []
    assert offenders("settings", ("proxy", "admin_api", "store", "startup", "launcher")) == []
    assert offenders("store", ("proxy", "admin_api", "rules", "settings", "startup", "launcher")) == []
    assert offenders("rules", ("proxy", "admin_api", "store", "settings", "startup", "launcher")) == []


def test_rules_need_the_standard_library_only_and_store_its_database_libraries() -> None:
    def foreign(package: str, allowed: set[str]) -> list[str]:
        return sorted(f"{f}: {n}" for f, names in imports_of(package).items() for n in names
                      if n.split(".")[0] not in sys.stdlib_module_names | allowed | {package})
    assert foreign("rules", set()) == []
    assert foreign("store", {"sqlalchemy", "redis", "bcrypt"}) == []


def test_the_launcher_starts_processes_through_their_entry_points() -> None:
    """It may import everything, but of proxy and admin_api only the modules that run a process."""
    entry_points = {"proxy.server", "proxy.ledger.server", "admin_api.server"}
    reached = [f"{f}: {n}" for f, names in imports_of("launcher").items() for n in names
               if n.split(".")[0] in ("proxy", "admin_api") and n not in entry_points]
    assert reached == []


def test_sql_lives_in_store() -> None:
    """The data plane holds no SQL nor transactions; admin_api only tells SQLAlchemy's errors apart (sqlalchemy.exc)."""
    assert offenders("proxy", ("sqlalchemy", "store.engine", "store.bulk")) == []
    sql = [f"{f}: {n}" for f, names in imports_of("admin_api").items() for n in names
           if n.split(".")[0] == "sqlalchemy" and n != "sqlalchemy.exc"]
    assert sql == []


def test_the_ledger_is_one_package() -> None:
    """proxy.ledger is reached through its surface (proxy/ledger/__init__.py); no ledger module lives elsewhere."""
    inside = [f"{f}: {n}" for f, names in imports_of("proxy").items() for n in names
              if n.startswith("proxy.ledger.") and not f.startswith("proxy/ledger/")]
    assert inside == []
    strays = [str(p.relative_to(ROOT)) for p in (ROOT / "proxy").rglob("*.py")
              if ("ledger" in p.name or p.name == "batcher.py") and p.parent.name != "ledger"]
    assert strays == []
