"""One API's database DSNs (Go MySQL DSN, mysql://, postgres://, SQLite path) → SQLAlchemy URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit


class DSNError(ValueError):
    """The DSN can't be parsed; the message says what is wrong without echoing the password."""


@dataclass(frozen=True)
class DatabaseURL:
    dialect: str          # "sqlite" | "mysql" | "postgresql"
    url: str              # SQLAlchemy async URL

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"


# user[:password]@net(addr)/dbname?params — the Go MySQL driver's format
_GO_MYSQL = re.compile(r"^(?:(?P<user>[^:@]*)(?::(?P<password>.*))?@)?"        # user:password@
                       r"(?:(?P<net>[a-z0-9]+)(?:\((?P<addr>[^)]*)\))?)?"        # tcp(host:port)
                       r"/(?P<db>[^?]*)(?:\?(?P<params>.*))?$")                   # /db?params

_PG_SSLMODES = {"disable": None, "allow": "allow", "prefer": "prefer", "require": "require",
                "verify-ca": "verify-ca", "verify-full": "verify-full"}


def sqlite_url(path: str) -> DatabaseURL:
    return DatabaseURL("sqlite", "sqlite+aiosqlite:///" + path)


def parse_dsn(dsn: str) -> DatabaseURL:
    """Any DSN One API accepts. Non-postgres, non-URL strings are MySQL, as in One API."""
    dsn = dsn.strip()
    if not dsn:
        raise DSNError("empty DSN")
    if dsn.startswith(("postgres://", "postgresql://")):
        return _postgres(dsn)
    if dsn.startswith("mysql://"):
        return _mysql_url(dsn)
    if dsn.startswith(("sqlite://", "sqlite:")):
        return sqlite_url(dsn.split(":", 1)[1].lstrip("/") if not dsn.startswith("sqlite:///") else dsn[len("sqlite:///"):])
    return _go_mysql(dsn)


def _mysql(user: str, password: str, host: str, port: int | None, db: str) -> DatabaseURL:
    if not db:
        raise DSNError("no database name (expected .../dbname)")
    auth = quote(user, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    hostport = host + (f":{port}" if port else "")
    return DatabaseURL("mysql", f"mysql+aiomysql://{auth}@{hostport}/{quote(db, safe='')}?charset=utf8mb4")


def _go_mysql(dsn: str) -> DatabaseURL:
    m = _GO_MYSQL.match(dsn)
    if not m:
        raise DSNError("not a MySQL DSN (user:pass@tcp(host:port)/dbname) nor a postgres:// URL")
    net = m.group("net") or "tcp"
    if net not in ("tcp", "tcp4", "tcp6"):
        raise DSNError(f"unsupported network {net!r} (only tcp)")
    addr = m.group("addr") or "127.0.0.1:3306"
    host, port = _split_hostport(addr, 3306)
    return _mysql(m.group("user") or "", m.group("password") or "", host, port, m.group("db"))


def _split_hostport(addr: str, default_port: int) -> tuple[str, int]:
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        port_s = rest.lstrip(":")
        host = f"[{host}]"
    else:
        host, _, port_s = addr.rpartition(":") if ":" in addr else (addr, "", "")
    if not port_s:
        return host or "127.0.0.1", default_port
    if not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise DSNError(f"bad port {port_s!r}")
    return host or "127.0.0.1", int(port_s)


def _mysql_url(dsn: str) -> DatabaseURL:
    parts = urlsplit(dsn)
    try:
        port = parts.port
    except ValueError:
        raise DSNError("bad port") from None
    return _mysql(unquote(parts.username or ""), unquote(parts.password or ""), parts.hostname or "127.0.0.1",
                  port, parts.path.lstrip("/"))


def _postgres(dsn: str) -> DatabaseURL:
    parts = urlsplit(dsn)
    try:
        _ = parts.port          # urlsplit checks the port only when it is read
    except ValueError:
        raise DSNError("bad port") from None
    if not parts.path.lstrip("/"):
        raise DSNError("no database name (expected postgres://user:pass@host:port/dbname)")
    query = []
    for key, value in parse_qsl(parts.query):
        if key == "sslmode":
            if value not in _PG_SSLMODES:
                raise DSNError(f"unknown sslmode {value!r}")
            if _PG_SSLMODES[value]:
                query.append(("ssl", _PG_SSLMODES[value]))
        elif key in ("TimeZone", "timezone", "connect_timeout", "application_name"):
            continue  # libpq-only parameters asyncpg does not take as URL arguments
        else:
            query.append((key, value))
    netloc = parts.netloc
    url = f"postgresql+asyncpg://{netloc}{parts.path}" + (f"?{urlencode(query)}" if query else "")
    return DatabaseURL("postgresql", url)
