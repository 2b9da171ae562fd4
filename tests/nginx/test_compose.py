"""docker-compose.yml checked without Docker: against the settings parser, the Dockerfile and the nginx template."""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

import pytest

from settings import ENV_NAMES, load_settings
from store import parse_dsn
from tests.nginx.deploy_files import (
    COMPOSE,
    REPO,
    MissingVariable,
    dockerfile_healthcheck,
    dockerfile_instructions,
    interpolate,
    load_compose,
)
from tests.nginx.test_nginx import render

SECRETS = {"SESSION_SECRET": "s3cret-session", "MYSQL_PASSWORD": "dbpass123", "MYSQL_ROOT_PASSWORD": "rootpass",
           "REDIS_PASSWORD": "redispass"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose(SECRETS)


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text))


def test_secrets_have_no_defaults() -> None:
    """Without .env, compose refuses to start instead of running with a known password or secret."""
    for name in SECRETS:
        with pytest.raises(MissingVariable, match=name):
            load_compose({k: v for k, v in SECRETS.items() if k != name})
    assert "random_string" not in COMPOSE.read_text() and "123456" not in COMPOSE.read_text()


def test_services_restart_and_become_healthy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"one-api", "db", "redis", "nginx"}
    for name, svc in services.items():
        assert svc["restart"] == "unless-stopped", name
        assert svc.get("healthcheck", {}).get("test"), f"{name} has no health check"
    gateway = services["one-api"]
    for dep in ("db", "redis"):
        assert gateway["depends_on"][dep]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["one-api"]["condition"] == "service_healthy"
    assert services["nginx"]["profiles"] == ["tls"]           # optional: `docker compose --profile tls up`
    for svc in services.values():                              # named volumes are declared
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in compose["volumes"], source
            else:
                assert (REPO / source).exists(), source


def test_gateway_environment_is_what_the_settings_parser_accepts(compose: dict[str, Any]) -> None:
    """Every variable is a real setting, the values parse, the DSN and Redis point at the compose services."""
    services = compose["services"]
    gateway = services["one-api"]
    env = {k: str(v) for k, v in gateway["environment"].items()}
    assert set(env) - {"TZ"} <= set(ENV_NAMES), set(env) - set(ENV_NAMES)
    settings = load_settings(environ=env, argv=gateway["command"])
    assert settings.port == 3000 and settings.workers == 2 and settings.log_dir == "/data/logs"
    assert settings.session_secret == SECRETS["SESSION_SECRET"]
    assert settings.redis_enabled, "REDIS_CONN_STRING only counts with SYNC_FREQUENCY (as One API)"
    assert settings.redis_conn_string.startswith("redis://redis:6379/")
    assert settings.redis_password == SECRETS["REDIS_PASSWORD"]
    assert "--requirepass" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--requirepass") + 1] == settings.redis_password
    assert settings.is_master and settings.shutdown_grace == 30

    # One API's Go DSN form, to the db service with the credentials MariaDB is created with
    db = services["db"]["environment"]
    url = parse_dsn(settings.sql_dsn)
    assert re.fullmatch(r"[^:]+:[^@]+@tcp\(db:3306\)/\w+", settings.sql_dsn)
    assert url.dialect == "mysql"
    assert url.url.startswith(f"mysql+aiomysql://{db['MARIADB_USER']}:{db['MARIADB_PASSWORD']}@db:3306/"
                              f"{db['MARIADB_DATABASE']}?")
    processes = settings.workers + 1                         # workers + admin_api
    max_conns = int(next(a for a in services["db"]["command"] if a.startswith("--max-connections=")).split("=")[1])
    assert processes * settings.sql_max_open_conns <= max_conns


def test_only_nginx_is_a_trusted_proxy(compose: dict[str, Any]) -> None:
    services = compose["services"]
    gateway_env = {k: str(v) for k, v in services["one-api"]["environment"].items()}
    settings = load_settings(environ=gateway_env, argv=services["one-api"]["command"])
    subnet = ipaddress.ip_network(compose["networks"]["oneapi"]["ipam"]["config"][0]["subnet"])
    nginx_ip = ipaddress.ip_address(services["nginx"]["networks"]["oneapi"]["ipv4_address"])
    gateway_ip = ipaddress.ip_address(services["one-api"]["networks"]["oneapi"]["ipv4_address"])
    assert nginx_ip in subnet and gateway_ip in subnet and nginx_ip != gateway_ip
    assert [str(n) for n in settings.trusted_proxies] == [f"{nginx_ip}/32"]
    # overriding the address moves both ends together
    moved = load_compose({**SECRETS, "ONEAPI_NGINX_IP": "172.28.0.99"})
    assert moved["services"]["one-api"]["environment"]["TRUSTED_PROXIES"] == "172.28.0.99/32"
    assert moved["services"]["nginx"]["networks"]["oneapi"]["ipv4_address"] == "172.28.0.99"


def test_consistent_with_the_dockerfile(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["one-api"]
    instructions = dockerfile_instructions()
    entrypoint = json.loads(next(rest for word, rest in instructions if word == "ENTRYPOINT"))
    cmd = json.loads(next(rest for word, rest in instructions if word == "CMD"))
    expose = next(rest for word, rest in instructions if word == "EXPOSE")
    volume = json.loads(next(rest for word, rest in instructions if word == "VOLUME"))
    assert entrypoint == ["one-api"] and "entrypoint" not in gateway     # compose's command is one-api's arguments
    assert gateway["command"][:len(cmd)] == cmd                            # the image's defaults, plus --workers
    port = gateway["command"][gateway["command"].index("--port") + 1]
    assert expose == port and gateway["ports"][0].endswith(f":{port}:{port}")
    assert any(v.endswith(":" + volume[0]) for v in gateway["volumes"])
    # the same health check as the image's, and a stop grace the graceful stop fits in
    assert gateway["healthcheck"]["test"] == ["CMD-SHELL", dockerfile_healthcheck()]
    grace = int(gateway["environment"]["SHUTDOWN_GRACE"])
    assert _seconds(gateway["stop_grace_period"]) >= grace + 5 + 5     # supervisor waits grace + 5 s, then a margin


def test_nginx_service_renders_the_shipped_template(compose: dict[str, Any]) -> None:
    """The image's envsubst gets a value for every placeholder, and *_SERVERS in the verbatim form it needs."""
    nginx = compose["services"]["nginx"]
    env = {k: str(v) for k, v in nginx["environment"].items()}
    assert "./nginx/nginx.conf:/etc/nginx/templates/nginx.conf.template:ro" in nginx["volumes"]
    assert env["NGINX_ENVSUBST_OUTPUT_DIR"] == "/etc/nginx"
    names = set(render.PLACEHOLDER.findall(render.TEMPLATE.read_text()))
    assert names == set(render.DEFAULTS) and names <= set(env)
    for name in ("ONEAPI_PROXY_SERVERS", "ONEAPI_ADMIN_SERVERS"):
        assert re.fullmatch(r"(server [\w.-]+:\d+;\s*)+", env[name]), env[name]
        assert "one-api:3000" in env[name]
    text = interpolate(render.TEMPLATE.read_text().replace("$", "$$").replace("$${ONEAPI_", "${ONEAPI_"), env)
    assert not render.PLACEHOLDER.search(text) and "$remote_addr" in text
    assert text == render.render(environ=env)
    port = compose["services"]["one-api"]["command"][compose["services"]["one-api"]["command"].index("--port") + 1]
    assert f"one-api:{port};" in env["ONEAPI_PROXY_SERVERS"]
    assert {"80:80", "443:443"} == set(nginx["ports"])
