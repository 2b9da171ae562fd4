"""Settings: One API's variables and defaults, the .env file, and one clear line for a bad value."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from settings import ENV_NAMES, SettingsError, load_settings
from startup.database import check_dsns
from store import parse_dsn

ONE_API_VARIABLES = {
    "PORT", "GIN_MODE", "DEBUG", "DEBUG_SQL", "SESSION_SECRET", "SQL_DSN", "SQLITE_PATH", "SQLITE_BUSY_TIMEOUT",
    "LOG_SQL_DSN", "SQL_MAX_IDLE_CONNS", "SQL_MAX_OPEN_CONNS", "SQL_MAX_LIFETIME", "REDIS_CONN_STRING",
    "REDIS_PASSWORD", "REDIS_MASTER_NAME", "SYNC_FREQUENCY", "MEMORY_CACHE_ENABLED", "NODE_TYPE",
    "FRONTEND_BASE_URL", "CHANNEL_TEST_FREQUENCY", "CHANNEL_UPDATE_FREQUENCY", "POLLING_INTERVAL",
    "BATCH_UPDATE_ENABLED", "BATCH_UPDATE_INTERVAL", "GLOBAL_API_RATE_LIMIT", "GLOBAL_WEB_RATE_LIMIT",
    "RELAY_TIMEOUT", "RELAY_PROXY", "USER_CONTENT_REQUEST_PROXY", "USER_CONTENT_REQUEST_TIMEOUT",
    "GEMINI_SAFETY_SETTING", "GEMINI_VERSION", "THEME", "ENABLE_METRIC", "METRIC_QUEUE_SIZE",
    "METRIC_SUCCESS_RATE_THRESHOLD", "METRIC_SUCCESS_CHAN_SIZE", "METRIC_FAIL_CHAN_SIZE", "INITIAL_ROOT_TOKEN",
    "INITIAL_ROOT_ACCESS_TOKEN", "ONLY_ONE_LOG_FILE", "ENFORCE_INCLUDE_USAGE", "TEST_PROMPT", "TIKTOKEN_CACHE_DIR",
    "DATA_GYM_CACHE_DIR",
}


def test_every_one_api_variable_is_read() -> None:
    assert set(ENV_NAMES) >= ONE_API_VARIABLES


def test_defaults_match_one_api() -> None:
    s = load_settings({}, [])
    assert (s.port, s.sqlite_path, s.sqlite_busy_timeout) == (3000, "one-api.db", 3000)
    assert (s.sql_max_idle_conns, s.sql_max_open_conns, s.sql_max_lifetime) == (100, 1000, 60)
    assert (s.sync_frequency, s.batch_update_interval) == (600, 5)
    assert (s.global_api_rate_limit, s.global_web_rate_limit) == (480, 240)
    assert (s.gemini_safety_setting, s.gemini_version, s.theme, s.node_type) == ("BLOCK_NONE", "", "default", "master")
    assert (s.metric_queue_size, s.metric_success_rate_threshold) == (10, 0.8)
    assert s.test_prompt == "Output only your specific model name with no additional text."
    assert not s.redis_enabled and not s.memory_cache


def test_flags_env_and_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SQL_MAX_OPEN_CONNS=7\nPORT=4100\nTHEME=air\n")
    s = load_settings({"PORT": "4200"}, ["--log-dir", "/tmp/x"], dotenv=env_file)
    assert s.port == 4200               # the real environment beats .env
    assert s.sql_max_open_conns == 7 and s.theme == "air" and s.log_dir == "/tmp/x"
    assert load_settings({}, ["--port", "5000"]).port == 5000
    assert load_settings({"PORT": "5001"}, ["--port", "5000"]).port == 5001   # PORT overrides the flag, as One API


def test_redis_needs_sync_frequency_as_one_api() -> None:
    assert not load_settings({"REDIS_CONN_STRING": "redis://127.0.0.1:6379"}, []).redis_enabled
    s = load_settings({"REDIS_CONN_STRING": "redis://127.0.0.1:6379", "SYNC_FREQUENCY": "60"}, [])
    assert s.redis_enabled and s.memory_cache


@pytest.mark.parametrize("env, message", [
    ({"SQL_MAX_OPEN_CONNS": "abc"}, "SQL_MAX_OPEN_CONNS: expected an integer, got 'abc'"),
    ({"SQL_DSN": "not a dsn"}, "SQL_DSN: not a MySQL DSN"),
    ({"SQL_DSN": "u:p@tcp(db:99999)/one"}, "SQL_DSN: bad port"),
    ({"SQL_DSN": "postgres://u:p@db:5432/"}, "SQL_DSN: no database name"),
    ({"LOG_SQL_DSN": "postgres://u:p@db:5432/x?sslmode=nope"}, "LOG_SQL_DSN: unknown sslmode"),
    ({"NODE_TYPE": "leader"}, "NODE_TYPE: must be one of master, slave"),
    ({"DEBUG": "maybe"}, "DEBUG: expected true or false"),
    ({"METRIC_SUCCESS_RATE_THRESHOLD": "1.5"}, "METRIC_SUCCESS_RATE_THRESHOLD: must be between 0 and 1"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8,nonsense"}, "TRUSTED_PROXIES: 'nonsense' is not"),
    ({"TIKTOKEN_PRELOAD": "cl100k_base,o300k"}, "TIKTOKEN_PRELOAD: 'o300k' is not one of cl100k_base, o200k_base"),
])
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        check_dsns(load_settings(env, []))     # the DSNs' grammar is the store's: checked at start-up, not by settings
    assert str(info.value).startswith(message)
    assert "p@" not in str(info.value)   # no password echoed


def test_bad_setting_stops_the_command_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "launcher.cli"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "SQL_MAX_OPEN_CONNS": "abc", "PYTHONPATH": str(Path.cwd())},
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "one-api: SQL_MAX_OPEN_CONNS: expected an integer, got 'abc'"
    assert not (tmp_path / "one-api.db").exists()    # nothing created before the check


def test_settings_one_api_reads_but_this_gateway_ignores_are_named_at_start(
        caplog: pytest.LogCaptureFixture) -> None:
    from launcher.cli import announce_ignored

    s = load_settings({"GIN_MODE": "debug", "METRIC_FAIL_CHAN_SIZE": "16", "MEMORY_CACHE_ENABLED": "true",
                       "THEME": "air"}, [])
    assert s.ignored == ("GIN_MODE", "MEMORY_CACHE_ENABLED", "METRIC_FAIL_CHAN_SIZE")
    assert s.metric_fail_chan_size == 16          # still parsed: a bad value stops start-up as in One API
    assert load_settings({}, []).ignored == ()
    with caplog.at_level(logging.INFO, logger="one-api"):
        announce_ignored(s)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and lines[0].startswith("GIN_MODE is accepted for One API compatibility and ignored: ")
    assert "METRIC_FAIL_CHAN_SIZE is accepted" in lines[2] and not any("THEME" in line for line in lines)


def test_bad_dsn_stops_the_command_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "launcher.cli"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "SQL_DSN": "u:secret@tcp(db:99999)/one",
                               "PYTHONPATH": str(Path.cwd())}, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "one-api: SQL_DSN: bad port '99999'"
    assert "secret" not in proc.stderr


@pytest.mark.parametrize("dsn, url", [
    ("root:123456@tcp(localhost:3306)/oneapi?charset=utf8mb4&parseTime=True&loc=Local",
     "mysql+aiomysql://root:123456@localhost:3306/oneapi?charset=utf8mb4"),
    ("oneapi:p%40ss@tcp(10.0.0.2)/one", "mysql+aiomysql://oneapi:p%2540ss@10.0.0.2:3306/one?charset=utf8mb4"),
    ("mysql://u:pw@db:3307/one", "mysql+aiomysql://u:pw@db:3307/one?charset=utf8mb4"),
    ("postgres://u:pw@db:5432/one?sslmode=disable", "postgresql+asyncpg://u:pw@db:5432/one"),
    ("postgresql://u:pw@db/one?sslmode=require", "postgresql+asyncpg://u:pw@db/one?ssl=require"),
])
def test_dsn_forms(dsn: str, url: str) -> None:
    assert parse_dsn(dsn).url == url


def test_upstream_time_limits_default_to_minutes_and_take_fractions() -> None:
    s = load_settings({}, [])
    assert (s.relay_timeout, s.relay_first_byte_timeout, s.relay_idle_timeout) == (0, 300.0, 120.0)
    s = load_settings({"RELAY_FIRST_BYTE_TIMEOUT": "0.5", "RELAY_IDLE_TIMEOUT": "0"}, [])
    assert (s.relay_first_byte_timeout, s.relay_idle_timeout) == (0.5, 0.0)
    for bad in ("-1", "soon", "nan", "inf"):
        with pytest.raises(SettingsError, match="RELAY_IDLE_TIMEOUT"):
            load_settings({"RELAY_IDLE_TIMEOUT": bad}, [])


def test_tiktoken_preload_names_encodings() -> None:
    assert load_settings({}, []).tiktoken_preload is None       # auto: the fallback, then the channels' models'
    assert load_settings({"TIKTOKEN_PRELOAD": "auto"}, []).tiktoken_preload is None
    assert load_settings({"TIKTOKEN_PRELOAD": "all"}, []).tiktoken_preload == ("cl100k_base", "o200k_base")
    assert load_settings({"TIKTOKEN_PRELOAD": " o200k_base, o200k_base ,"}, []).tiktoken_preload == ("o200k_base",)
