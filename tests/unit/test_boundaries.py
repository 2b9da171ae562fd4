"""Import boundaries of DESIGN.md: a generic core, pure converters, two processes that never import each other."""

from __future__ import annotations

import ast
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
