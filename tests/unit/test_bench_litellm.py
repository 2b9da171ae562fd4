"""The benchmark's LiteLLM target (benchmarks/litellm_target.py): its config, environment and log check.

Pure functions only: no test needs LiteLLM installed."""

from pathlib import Path

import yaml

from benchmarks.litellm_target import DEFAULT_VENV, config_yaml, environment, outside_calls, venv_dir


def test_config_serves_the_model_from_the_local_upstream_with_telemetry_off() -> None:
    config = yaml.safe_load(config_yaml("http://127.0.0.1:4321/", "gpt-4o-mini", 'sk-a"b:c'))
    assert config["model_list"] == [{"model_name": "gpt-4o-mini", "litellm_params": {
        "model": "openai/gpt-4o-mini", "api_base": "http://127.0.0.1:4321/v1", "api_key": "upstream-key"}}]
    assert config["litellm_settings"] == {"telemetry": False, "success_callback": [], "failure_callback": [],
                                          "callbacks": []}
    assert config["general_settings"] == {"master_key": 'sk-a"b:c'}   # quoted: any key survives


def test_environment_keeps_litellm_local() -> None:
    env = environment({"PATH": "/usr/bin", "DATABASE_URL": "postgres://x", "REDIS_HOST": "r", "HOME": "/root"})
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/root"
    assert "DATABASE_URL" not in env and "REDIS_HOST" not in env
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["LITELLM_TELEMETRY"] == "False"


def test_venv_from_the_environment_or_the_cache() -> None:
    assert venv_dir({"LITELLM_VENV": "/opt/llv"}) == Path("/opt/llv")
    assert venv_dir({}) == DEFAULT_VENV


def test_outside_calls_are_attempts_not_links() -> None:
    log = "\n".join([
        "   Give Feedback / Get Help: https://github.com/BerriAI/litellm/issues/new",
        "INFO:     Uvicorn running on http://127.0.0.1:46857 (Press CTRL+C to quit)",
        "INFO:     127.0.0.1:40708 - \"POST /v1/chat/completions HTTP/1.1\" 200 OK",
        "03:20:20 - LiteLLM:WARNING: get_model_cost_map.py:318 - LiteLLM: model cost map fetch attempt 1/3 failed "
        "(ConnectError fetching https://raw.githubusercontent.com/BerriAI/litellm/main/x.json: [Errno -2] Name or "
        "service not known); retrying in 2.0s",
        "connection to http://127.0.0.1:9/v1 refused",
    ])
    found = outside_calls(log)
    assert len(found) == 1 and "raw.githubusercontent.com" in found[0]
