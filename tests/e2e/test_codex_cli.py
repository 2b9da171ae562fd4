"""The real Codex CLI (npm `@openai/codex`, a Rust binary) through the gateway, offline: `codex exec` with a
custom model provider (`wire_api = "responses"`, base URL = the gateway's /v1, the gateway token in its env key)
runs its shell tool on a file of a tmp workspace and answers with what the tool printed — to an OpenAI channel
(its Responses requests passed through) and to Anthropic, Bedrock Claude, Gemini and DeepSeek channels
(converted through the hub). The upstream received the channel's key, never the user's token, and the tool's output on the second turn; each turn has
its log row and the token paid their sum. Skipped when the CLI is not installed (CODEX_BIN, or
`npm install --prefix ~/.cache/one-api/codex @openai/codex`, which .ci/run does); under CI=true it must be."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from store import Database
from tests.e2e.agent_cli import OFFLINE, SECRET, find_cli, run_cli, workspace
from tests.e2e.agent_families import FAMILIES, KEY
from tests.e2e.harness import Account, Gateway, account_on, balances, logs
from tests.e2e.mock_providers import ProviderMock
from tests.e2e.responses_upstreams import ANSWER_PREFIX, Script, openai_responses

CODEX = find_cli("CODEX_BIN", "codex", "codex")
if CODEX is None and os.environ.get("CI") == "true":
    raise RuntimeError("CI=true but the Codex CLI is not installed (.ci/run installs it into ~/.cache/one-api/codex)")
pytestmark = pytest.mark.skipif(CODEX is None, reason="Codex CLI not installed")


def _script() -> Script:
    """Codex's shell tool (`exec_command {cmd}`) reads the file; usage per turn as the mocks report it."""
    return Script(tool="exec_command", arguments={"cmd": "cat notes.txt"}, call_usage=(300, 20),
                  text_usage=(400, 12))


async def _run_codex(gateway: Gateway, key: str, model: str, tmp_path: Path, cwd: Path) -> tuple[str, str, int]:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True, exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(home / ".codex"),
           "GW_KEY": key, **OFFLINE, "RUST_LOG": "error"}
    provider = (f'model_providers.gw={{name="gw",base_url="{gateway.url}/v1",env_key="GW_KEY",'
                f'wire_api="responses"}}')
    assert CODEX is not None
    out, err, code = await run_cli(
        [CODEX, "exec", "--skip-git-repo-check", "-C", str(cwd), "-c", "model_provider=gw", "-c", provider,
         "-c", "sandbox_mode=danger-full-access", "-c", 'approval_policy="never"', "-m", model,
         "Print the content of notes.txt with the shell and tell me what it says."], cwd, env, 120)
    return out, err.decode(), code


async def _billed(gateway: Gateway, db: Database, acct: Account, before: dict[str, Any], turns: int) -> None:
    await gateway.flush()
    rows = await logs(db)
    assert len(rows) == turns and [(r.prompt_tokens, r.completion_tokens) for r in rows][-2:] == [(300, 20),
                                                                                                 (400, 12)]
    assert all(r.usage_source == "upstream" and r.is_stream for r in rows)
    after = await balances(db, acct)
    assert before["token_remain"] - after["token_remain"] == sum(r.quota for r in rows) > 0


async def test_codex_runs_its_shell_tool_through_an_openai_channel(gateway: Gateway, db: Database,
                                                                   tmp_path: Path) -> None:
    """Same dialect: Codex's Responses requests reach the OpenAI channel as it sent them (its reasoning include,
    its namespace and web_search tools, store:false) with the channel's key."""
    work = workspace(tmp_path)
    mock = await ProviderMock().route("POST", "/v1/responses", openai_responses(_script())).start()
    try:
        acct = await account_on(db, gateway, mock.url, type=1, key=KEY, models="gpt-5-codex")
        before = await balances(db, acct)
        out, err, code = await _run_codex(gateway, acct.key, "gpt-5-codex", tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out and ANSWER_PREFIX in out, (out, err)
        assert not mock.failures
        assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in mock.requests)
        bodies: list[dict[str, Any]] = [r.json() for r in mock.requests]
        assert all(b["store"] is False and b["stream"] is True for b in bodies)
        assert {"namespace", "web_search"} <= {t["type"] for t in bodies[0]["tools"]}   # passed as Codex sent them
        outputs = [i for i in bodies[-1]["input"] if i.get("type") == "function_call_output"]
        assert outputs and SECRET in str(outputs[-1]["output"])   # the tool's output went upstream
        await _billed(gateway, db, acct, before, len(mock.requests))
    finally:
        await mock.close()


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "deepseek", "gemini"])
async def test_codex_runs_its_shell_tool_through_a_converted_channel(gateway: Gateway, db: Database,
                                                                     tmp_path: Path, family: str) -> None:
    """Converted: Codex's tools reach the provider in its own format, the shell's output as its tool result."""
    fam = FAMILIES[family]
    work = workspace(tmp_path)
    mock = await fam.start(_script())
    try:
        acct = await account_on(db, gateway, mock.url, type=fam.type, key=fam.key, models=fam.model)
        before = await balances(db, acct)
        out, err, code = await _run_codex(gateway, acct.key, fam.model, tmp_path, work)
        assert code == 0, (out, err, mock.failures)
        assert SECRET in out and ANSWER_PREFIX in out, (out, err)
        assert not mock.failures
        assert all(fam.key_arrived(r) for r in mock.requests)
        assert all(acct.key.removeprefix("sk-") not in str(r.headers) for r in mock.requests)
        assert all(b'"exec_command"' in r.body for r in mock.requests)        # its tools, converted
        assert SECRET in mock.requests[-1].body.decode() and SECRET not in mock.requests[0].body.decode()
        await _billed(gateway, db, acct, before, len(mock.requests))
    finally:
        await mock.close()
