"""What the real coding-agent CLIs' tests share (Claude Code, Codex, Gemini CLI): finding the installed binary,
a workspace with the file the agent must read, and running the CLI offline with a deadline (killed when it
passes, so nothing hangs)."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

SECRET = "The treasure is under the old oak tree 4711."
# any request to a host other than the gateway fails at once (nothing listens on the proxy's port)
OFFLINE = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}


def find_cli(env_var: str, package: str, name: str) -> str | None:
    """The CLI at $`env_var`, else as `npm install --prefix ~/.cache/one-api/{package}` put it, else on PATH."""
    configured = os.environ.get(env_var)
    default = Path.home() / f".cache/one-api/{package}/node_modules/.bin/{name}"
    for candidate in (configured, str(default), shutil.which(name)):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def workspace(tmp_path: Path) -> Path:
    """The agent's working directory, holding notes.txt with SECRET."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(SECRET + "\n")
    return work


async def run_cli(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[str, bytes, int]:
    """The CLI's stdout (text), stderr (bytes) and exit code; killed and TimeoutError after `timeout` seconds."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return out.decode(), err, proc.returncode or 0


__all__ = ["OFFLINE", "SECRET", "find_cli", "run_cli", "workspace"]
