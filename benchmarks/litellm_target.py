"""LiteLLM's proxy as a fourth benchmark target (issue #19): where its venv is, its config, its start.

The venv is made by `benchmarks/setup-litellm`, outside the repository. LiteLLM must reach nothing but the
mock upstream on 127.0.0.1: its price map comes from the copy in its package (`LITELLM_LOCAL_MODEL_COST_MAP`;
otherwise it fetches the map from GitHub at import), telemetry is off, and without `DATABASE_URL` it runs no
Prisma and keeps no spend logs. `outside_calls` reads its log for attempts to go elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

DEFAULT_VENV = Path.home() / ".cache" / "one-api" / "litellm-venv"
# Variables that would make LiteLLM connect to a database, a cache or a logging service of this machine's
# environment, or change how it starts: none of them belongs in a benchmark of the bare proxy path.
_DROPPED = ("DATABASE_URL", "DIRECT_URL", "STORE_MODEL_IN_DB", "REDIS_HOST", "REDIS_PORT", "REDIS_URL",
            "REDIS_PASSWORD", "LITELLM_LICENSE", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE")
START_TIMEOUT = 240.0   # it imports for 10-15 s on an idle 2-core machine, far longer when the cores are busy


def venv_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The venv `setup-litellm` made: `LITELLM_VENV`, else ~/.cache/one-api/litellm-venv."""
    return Path(environ["LITELLM_VENV"]) if environ.get("LITELLM_VENV") else DEFAULT_VENV


def executable(venv: Path) -> Path:
    """The `litellm` command of a venv; SystemExit telling how to make it when it is missing."""
    command = venv / "bin" / "litellm"
    if not os.access(command, os.X_OK):
        raise SystemExit(f"--litellm: {command} not found; run benchmarks/setup-litellm first "
                         f"(or set LITELLM_VENV to the venv it made)")
    return command


def version(venv: Path) -> str:
    """LiteLLM's version in the venv, read from its package metadata (no import of LiteLLM itself: seconds)."""
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('litellm'))"],
                         capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"


def config_yaml(upstream: str, model: str, master_key: str) -> str:
    """The proxy's config: `model` served as `openai/<model>` by the OpenAI-style upstream at `upstream` (its
    base URL, `/v1` appended) with a dummy key; `master_key` is the one key clients must send; telemetry and
    callbacks off. Written by hand (JSON strings are YAML scalars) so the benchmark needs no YAML library."""
    q = json.dumps
    return "\n".join([
        "model_list:",
        f"  - model_name: {q(model)}",
        "    litellm_params:",
        f"      model: {q('openai/' + model)}",
        f"      api_base: {q(upstream.rstrip('/') + '/v1')}",
        f"      api_key: {q('upstream-key')}",
        "litellm_settings:",
        "  telemetry: false",
        "  success_callback: []",
        "  failure_callback: []",
        "  callbacks: []",
        "general_settings:",
        f"  master_key: {q(master_key)}",
        "",
    ])


def environment(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without what could send LiteLLM elsewhere, with its price map local and telemetry off."""
    env = {k: v for k, v in base.items() if k not in _DROPPED}
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
                "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    return env


def start(venv: Path, workdir: Path, upstream: str, model: str, master_key: str,
          port: int) -> subprocess.Popen[bytes]:
    """LiteLLM's proxy (uvicorn, one worker) on 127.0.0.1:`port`; its output goes to workdir/litellm.log."""
    config = workdir / "litellm.yaml"
    config.write_text(config_yaml(upstream, model, master_key))
    with (workdir / "litellm.log").open("wb") as log:
        return subprocess.Popen([str(executable(venv)), "--config", str(config), "--host", "127.0.0.1",
                                 "--port", str(port), "--num_workers", "1"],
                                cwd=workdir, env=environment(os.environ), stdout=log, stderr=subprocess.STDOUT)


def wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path, since: float,
               timeout: float = START_TIMEOUT) -> float:
    """Seconds from `since` (time.monotonic() when it was started) until /health/liveliness answers 200;
    SystemExit with the log's tail if LiteLLM exits first or the deadline passes."""
    while time.monotonic() < since + timeout:
        if proc.poll() is not None:
            raise SystemExit(f"LiteLLM exited ({proc.returncode}) before it was ready:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(base + "/health/liveliness", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - since
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"LiteLLM was not ready after {timeout:.0f} s:\n{_tail(log)}")


def first_answer(base: str, model: str, key: str) -> str:
    """One chat request through the proxy: '' when it answered 200, else what went wrong (the run goes on)."""
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Say hello"}]}).encode()
    request = urllib.request.Request(base + "/v1/chat/completions", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return "" if resp.status == 200 else f"HTTP {resp.status}"
    except urllib.error.HTTPError as e:
        return f"HTTP {e.code}: {e.read()[:300]!r}"
    except OSError as e:
        return repr(e)


_URL = re.compile(r"https?://([^/\s:'\"]+)")
_ATTEMPT = re.compile(r"(?i)fetch|connecterror|connection|name or service not known|timed out|retrying")


def outside_calls(log_text: str) -> list[str]:
    """Lines of LiteLLM's log telling of an attempt to reach a host other than 127.0.0.1 (links in its banner
    are not attempts: only lines that also speak of fetching, connecting or retrying count)."""
    return [line.strip() for line in log_text.splitlines()
            if _ATTEMPT.search(line) and any(h not in ("127.0.0.1", "localhost") for h in _URL.findall(line))]


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
