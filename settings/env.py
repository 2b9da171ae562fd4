"""The process settings: One API's environment variables and flags, parsed once into a frozen object."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

VERSION = "0.1.0"
DEFAULT_TEST_PROMPT = "Output only your specific model name with no additional text."
# One API's variables that are read (a .env written for One API loads unchanged) but have no use here, and why;
# `one-api` says so at start-up for each one that is set
IGNORED: dict[str, str] = {
    "GIN_MODE": "it is Gin's (the Go web framework's) mode; DEBUG turns on debug logging here",
    "MEMORY_CACHE_ENABLED": "the proxy always keeps tokens, users and channels in memory, kept current by "
                            "change events",
    "METRIC_SUCCESS_CHAN_SIZE": "it sizes a Go channel; the success-rate monitor (ENABLE_METRIC) needs no buffer",
    "METRIC_FAIL_CHAN_SIZE": "it sizes a Go channel; the success-rate monitor (ENABLE_METRIC) needs no buffer",
}


class SettingsError(ValueError):
    """A setting has a value that can't be used; the message names the variable."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off", ""):
        return False
    raise SettingsError(f"{name}: expected true or false, got {raw!r}")


def _int(name: str, raw: str, minimum: int | None = 0) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _float(name: str, raw: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {raw!r}") from None


def _seconds(name: str, raw: str) -> float:
    """A duration in seconds, fractions allowed, never negative (0 = no limit)."""
    value = _float(name, raw)
    if not 0 <= value < float("inf"):   # NaN too
        raise SettingsError(f"{name}: must be a number of seconds, 0 or more, got {raw!r}")
    return value


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise SettingsError(f"{name}: must be one of {', '.join(allowed)}, got {raw!r}")
        return raw
    return parse


def _language(name: str, raw: str) -> str:
    """"en" when the value names English (en, en_US.UTF-8, en-GB:en), else One API's Chinese: LANGUAGE is also
    gettext's variable, which a desktop may set to any language, so another value must not stop the start."""
    return "en" if raw.strip().lower().startswith("en") else "zh"


def _networks(name: str, raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(f"{name}: {part!r} is not an IP address or CIDR") from None
    return tuple(out)


def _hosts(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated addresses, CIDRs, host names and `*.domain` patterns, lower-cased."""
    out = []
    for part in raw.split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            if not _HOST_PATTERN.fullmatch(part):
                raise SettingsError(f"{name}: {part!r} is not a host name, IP address or CIDR") from None
        out.append(part)
    return tuple(out)


_HOST_PATTERN = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?")


def _str(name: str, raw: str) -> str:
    return raw


# tiktoken's encodings the tokenizer can load offline (proxy.gateway.tokenizer.ENCODING_FILES; not imported here:
# the supervisor reads the settings and must not load tiktoken)
ENCODINGS = ("cl100k_base", "o200k_base", "o200k_harmony", "r50k_base", "p50k_base", "p50k_edit", "gpt2")


def _encodings(name: str, raw: str) -> tuple[str, ...] | None:
    """Comma-separated encoding names, `all` for cl100k_base and o200k_base (every default model's), or `auto`
    (None): cl100k_base, then at start the encodings of the models the channels serve."""
    if raw.strip().lower() == "auto":
        return None
    if raw.strip().lower() == "all":
        return ("cl100k_base", "o200k_base")
    out = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    for part in out:
        if part not in ENCODINGS:
            raise SettingsError(f"{name}: {part!r} is not one of {', '.join(ENCODINGS)} (or all)")
    return out


@dataclass(frozen=True)
class Settings:
    """Every knob of the process; built by `load_settings`, passed down, never re-read."""

    port: int = 3000
    log_dir: str = "./logs"
    workers: int = 1
    debug: bool = False
    debug_sql: bool = False
    gin_mode: str = "release"
    session_secret: str = ""
    sql_dsn: str = ""
    sqlite_path: str = "one-api.db"
    sqlite_busy_timeout: int = 3000
    log_sql_dsn: str = ""
    sql_max_idle_conns: int = 100
    sql_max_open_conns: int = 1000
    sql_max_lifetime: int = 60
    redis_conn_string: str = ""
    redis_password: str = ""
    redis_master_name: str = ""
    sync_frequency: int = 600
    sync_frequency_set: bool = False
    memory_cache_enabled: bool = False
    node_type: str = "master"
    frontend_base_url: str = ""
    channel_test_frequency: int = 0
    channel_update_frequency: int = 0
    polling_interval: int = 0
    batch_update_enabled: bool = False
    batch_update_interval: int = 5
    global_api_rate_limit: int = 480
    global_web_rate_limit: int = 240
    relay_timeout: int = 0                     # seconds for a whole upstream exchange, body included; 0 = none
    # Reasoning models can think for minutes before their first token (non-stream answers arrive whole after
    # it): 300 s leaves them room and still frees a hung upstream's connection and reservation.
    relay_first_byte_timeout: float = 300.0   # seconds until the upstream's first body byte; 0 = none
    relay_idle_timeout: float = 120.0         # seconds between two pieces of an upstream body; 0 = none
    relay_proxy: str = ""
    user_content_request_proxy: str = ""
    user_content_request_timeout: int = 30
    image_fetch_enabled: bool = True           # fetch remote vision images to count their tokens (as One API)
    image_fetch_allow_hosts: tuple[str, ...] = ()   # names/CIDRs image fetches may reach even if internal
    gemini_safety_setting: str = "BLOCK_NONE"
    # unset: the converter picks the API version per model (v1beta, as Google documents today)
    gemini_version: str = ""
    theme: str = "default"
    enable_metric: bool = False
    metric_queue_size: int = 10
    metric_success_rate_threshold: float = 0.8
    metric_success_chan_size: int = 1024
    metric_fail_chan_size: int = 128
    initial_root_token: str = ""
    initial_root_access_token: str = ""
    only_one_log_file: bool = False
    enforce_include_usage: bool = False
    test_prompt: str = DEFAULT_TEST_PROMPT
    tiktoken_cache_dir: str = ""
    tiktoken_preload: tuple[str, ...] | None = None   # encodings loaded at start; None: auto (the channels' models')
    trusted_proxies: tuple[Any, ...] = field(default_factory=tuple)
    admin_socket: str = ""       # admin_api's unix socket; "" = one in a private directory made per run by `one-api`
    shutdown_grace: int = 30     # seconds streams may take to finish on SIGTERM
    metrics_token: str = ""      # Bearer token for /metrics from other peers; "" = loopback and TRUSTED_PROXIES only
    log_format: str = "text"     # "json": one JSON object per log line
    run_as: str = ""             # "uid[:gid]" or "user[:group]": started as root, adopt the data folder and drop to it
    language: str = "zh"         # the relay's own error messages: "zh" (One API's words) or "en"
    change_counter: str = ""     # set by `one-api`, not read from the environment: the node's change counter file
    ignored: tuple[str, ...] = ()   # the IGNORED variables that were set (read, then only mentioned at start-up)

    @property
    def redis_enabled(self) -> bool:
        """As One API: Redis only when both the connection string and SYNC_FREQUENCY are set."""
        return bool(self.redis_conn_string) and self.sync_frequency_set

    @property
    def memory_cache(self) -> bool:
        return self.memory_cache_enabled or self.redis_enabled

    @property
    def is_master(self) -> bool:
        return self.node_type != "slave"

    @property
    def settle_interval(self) -> float:
        """How long the proxies gather balance deltas before one write (BATCH_UPDATE_INTERVAL, or 0.2 s)."""
        return self.batch_update_interval if self.batch_update_enabled else 0.2

    def with_(self, **changes: Any) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


# env name → (field, parser). Order follows one-api.md §16.
_ENV: dict[str, tuple[str, Callable[[str, str], Any]]] = {
    "PORT": ("port", lambda n, r: _int(n, r, 1)),
    "GIN_MODE": ("gin_mode", _str),
    "DEBUG": ("debug", _bool),
    "DEBUG_SQL": ("debug_sql", _bool),
    "SESSION_SECRET": ("session_secret", _str),
    "SQL_DSN": ("sql_dsn", _str),
    "SQLITE_PATH": ("sqlite_path", _str),
    "SQLITE_BUSY_TIMEOUT": ("sqlite_busy_timeout", _int),
    "LOG_SQL_DSN": ("log_sql_dsn", _str),
    "SQL_MAX_IDLE_CONNS": ("sql_max_idle_conns", _int),
    "SQL_MAX_OPEN_CONNS": ("sql_max_open_conns", lambda n, r: _int(n, r, 1)),
    "SQL_MAX_LIFETIME": ("sql_max_lifetime", _int),
    "REDIS_CONN_STRING": ("redis_conn_string", _str),
    "REDIS_PASSWORD": ("redis_password", _str),
    "REDIS_MASTER_NAME": ("redis_master_name", _str),
    "SYNC_FREQUENCY": ("sync_frequency", lambda n, r: _int(n, r, 1)),
    "MEMORY_CACHE_ENABLED": ("memory_cache_enabled", _bool),
    "NODE_TYPE": ("node_type", _choice("master", "slave")),
    "FRONTEND_BASE_URL": ("frontend_base_url", _str),
    "CHANNEL_TEST_FREQUENCY": ("channel_test_frequency", _int),
    "CHANNEL_UPDATE_FREQUENCY": ("channel_update_frequency", _int),
    "POLLING_INTERVAL": ("polling_interval", _int),
    "BATCH_UPDATE_ENABLED": ("batch_update_enabled", _bool),
    "BATCH_UPDATE_INTERVAL": ("batch_update_interval", lambda n, r: _int(n, r, 1)),
    "GLOBAL_API_RATE_LIMIT": ("global_api_rate_limit", _int),
    "GLOBAL_WEB_RATE_LIMIT": ("global_web_rate_limit", _int),
    "RELAY_TIMEOUT": ("relay_timeout", _int),
    "RELAY_PROXY": ("relay_proxy", _str),
    "RELAY_FIRST_BYTE_TIMEOUT": ("relay_first_byte_timeout", _seconds),
    "RELAY_IDLE_TIMEOUT": ("relay_idle_timeout", _seconds),
    "USER_CONTENT_REQUEST_PROXY": ("user_content_request_proxy", _str),
    "USER_CONTENT_REQUEST_TIMEOUT": ("user_content_request_timeout", _int),
    "IMAGE_FETCH_ENABLED": ("image_fetch_enabled", _bool),
    "IMAGE_FETCH_ALLOW_HOSTS": ("image_fetch_allow_hosts", _hosts),
    "GEMINI_SAFETY_SETTING": ("gemini_safety_setting", _str),
    "GEMINI_VERSION": ("gemini_version", _str),
    "THEME": ("theme", _choice("default", "berry", "air")),
    "ENABLE_METRIC": ("enable_metric", _bool),
    "METRIC_QUEUE_SIZE": ("metric_queue_size", lambda n, r: _int(n, r, 1)),
    "METRIC_SUCCESS_RATE_THRESHOLD": ("metric_success_rate_threshold", _float),
    "METRIC_SUCCESS_CHAN_SIZE": ("metric_success_chan_size", _int),
    "METRIC_FAIL_CHAN_SIZE": ("metric_fail_chan_size", _int),
    "INITIAL_ROOT_TOKEN": ("initial_root_token", _str),
    "INITIAL_ROOT_ACCESS_TOKEN": ("initial_root_access_token", _str),
    "ONLY_ONE_LOG_FILE": ("only_one_log_file", _bool),
    "ENFORCE_INCLUDE_USAGE": ("enforce_include_usage", _bool),
    "TEST_PROMPT": ("test_prompt", _str),
    "TIKTOKEN_CACHE_DIR": ("tiktoken_cache_dir", _str),
    "DATA_GYM_CACHE_DIR": ("tiktoken_cache_dir", _str),
    "TIKTOKEN_PRELOAD": ("tiktoken_preload", _encodings),
    "TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "ADMIN_SOCKET": ("admin_socket", _str),
    "SHUTDOWN_GRACE": ("shutdown_grace", _int),
    "METRICS_TOKEN": ("metrics_token", _str),
    "LOG_FORMAT": ("log_format", _choice("text", "json")),
    "RUN_AS": ("run_as", _str),
    "LANGUAGE": ("language", _language),
}

ENV_NAMES: tuple[str, ...] = tuple(_ENV)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="one-api", description="OpenAI-compatible LLM API gateway (One API compatible).")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default 3000; PORT overrides)")
    p.add_argument("--log-dir", default=None, help="directory for log files (default ./logs)")
    p.add_argument("--workers", type=int, default=None, help="proxy worker processes (default 1)")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return _parser().parse_args(argv)


def load_settings(environ: Mapping[str, str] | None = None, argv: Sequence[str] | None = (),
                  dotenv: Path | None = None) -> Settings:
    """Flags, then `.env` (never overriding the real environment), then the environment.

    Raises SettingsError with one line naming the variable on any bad value.
    """
    env = dict(os.environ if environ is None else environ)
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            if value is not None:
                env.setdefault(key, value)
    args = parse_args(argv)
    values: dict[str, Any] = {}
    if args.port is not None:
        values["port"] = _int("--port", str(args.port), 1)
    if args.log_dir is not None:
        values["log_dir"] = args.log_dir
    if args.workers is not None:
        values["workers"] = _int("--workers", str(args.workers), 1)
    for name, (attr, parse) in _ENV.items():
        raw = env.get(name)
        if raw is None or (raw == "" and attr not in ("sql_dsn",)):
            continue
        values[attr] = parse(name, raw)
        if name == "SYNC_FREQUENCY":
            values["sync_frequency_set"] = True
    values["ignored"] = tuple(name for name in IGNORED if env.get(name))
    if values.get("session_secret") == "random_string":
        values["session_secret"] = ""   # One API refuses this literal and uses a random secret
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    """Checks of single values; the DSNs are checked by startup.database.check_dsns (their grammar is the store's)."""
    if not 0 <= s.metric_success_rate_threshold <= 1:
        raise SettingsError("METRIC_SUCCESS_RATE_THRESHOLD: must be between 0 and 1, "
                            f"got {s.metric_success_rate_threshold}")
    if s.redis_conn_string and not s.redis_master_name and "://" not in s.redis_conn_string:
        raise SettingsError(f"REDIS_CONN_STRING: expected a redis:// URL, got {s.redis_conn_string!r}")
