#!/usr/bin/env python3
"""Render nginx/nginx.conf: replace its ${ONEAPI_*} placeholders, nothing else (standard library only).

    python3 nginx/render.py > /etc/nginx/nginx.conf
    ONEAPI_PROXY_SERVERS=10.0.0.11:3000,10.0.0.12:3000 python3 nginx/render.py -o /etc/nginx/nginx.conf
    python3 nginx/render.py ONEAPI_HTTPS_LISTEN=8443 ONEAPI_TLS_CERT=/tmp/c.pem ...

Values come from NAME=value arguments, then the environment, then DEFAULTS (Debian's nginx
package layout, the gateway on this host's port 3000). `*_SERVERS` take a comma list of host:port
or nginx `server ...;` directives verbatim. An unknown NAME, a placeholder without a value, or a
value with a newline or `{`/`}` is an error: a typo must not become a silently broken config.
The same file renders with `envsubst` given the explicit list of names (see nginx/README.md).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf")
PLACEHOLDER = re.compile(r"\$\{(ONEAPI_[A-Z0-9_]+)\}")

DEFAULTS: dict[str, str] = {
    "ONEAPI_NGINX_USER": "www-data",
    "ONEAPI_NGINX_PID": "/run/nginx.pid",
    "ONEAPI_NGINX_LOG_DIR": "/var/log/nginx",
    "ONEAPI_NGINX_STATE_DIR": "/var/lib/nginx",
    "ONEAPI_SERVER_NAME": "_",
    "ONEAPI_HTTP_LISTEN": "80",
    "ONEAPI_HTTPS_LISTEN": "443",
    "ONEAPI_TLS_CERT": "/etc/nginx/tls/fullchain.pem",
    "ONEAPI_TLS_KEY": "/etc/nginx/tls/privkey.pem",
    "ONEAPI_PROXY_SERVERS": "127.0.0.1:3000",   # layout A: everything to the gateway's port
    "ONEAPI_ADMIN_SERVERS": "127.0.0.1:3000",   # layout B (same host): unix:<ADMIN_SOCKET>
}


class RenderError(ValueError):
    pass


def _servers(name: str, value: str) -> str:
    if ";" in value:
        return value.strip()
    hosts = [h for h in re.split(r"[,\s]+", value) if h]
    if not hosts:
        raise RenderError(f"{name}: no servers")
    return "\n        ".join(f"server {h} max_fails=3 fail_timeout=10s;" for h in hosts)


def values_from(overrides: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise RenderError(f"unknown name(s): {', '.join(unknown)} (known: {', '.join(DEFAULTS)})")
    values = {name: overrides.get(name, env.get(name, default)) for name, default in DEFAULTS.items()}
    for name, value in values.items():
        if not value.strip() or "\n" in value or "{" in value or "}" in value:
            raise RenderError(f"{name}: bad value {value!r}")
        if name.endswith("_SERVERS"):
            values[name] = _servers(name, value)
    return values


def render(overrides: Mapping[str, str] = {}, environ: Mapping[str, str] | None = None,
           template: Path = TEMPLATE) -> str:
    values = values_from(overrides, environ)
    text = template.read_text()
    missing = sorted(set(PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise RenderError(f"template placeholders without a value: {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def main(argv: list[str]) -> int:
    out: str | None = None
    overrides: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "--output"):
            out = next(args, None)
            if out is None:
                print("render.py: -o needs a path", file=sys.stderr)
                return 2
        elif arg in ("-h", "--help"):
            print(__doc__)
            return 0
        elif "=" in arg:
            name, value = arg.split("=", 1)
            overrides[name] = value
        else:
            print(f"render.py: expected NAME=value, got {arg!r}", file=sys.stderr)
            return 2
    try:
        text = render(overrides)
    except RenderError as e:
        print(f"render.py: {e}", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(text)
    else:
        Path(out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
