"""The container image as built by `scripts/image-build` (podman, in .ci/run), started from its own config.

No container runtime runs on these machines (`podman run` fails on the kernel's limits), so the image's file
system is mounted (`podman create` + `podman mount`) and its entrypoint run with chroot in a mount namespace of its
own, on the host's network, with exactly the image's environment, working directory, entrypoint and command.
What this proves: the image's Python, package, console and settings work; a One API data folder owned by root
opens at /data and keeps being written by the unprivileged user (RUN_AS); a relay request goes through a channel;
SIGTERM stops it cleanly. What it does not: `docker run`'s own isolation (cgroups, network namespace, healthcheck).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from settings import load_settings
from startup.database import prepare_database
from tests.e2e.mock_upstream import MockOpenAI
from tests.e2e.test_command import wait_for

IMAGE = os.environ.get("ONEAPI_TEST_IMAGE", "")
ACCESS_TOKEN = "image-test-access-token-0123456789"
ROOT_TOKEN = "sk-ImageTestRootToken0123456789abcd"

pytestmark = pytest.mark.skipif(not IMAGE and not os.environ.get("CI"),
                                reason="ONEAPI_TEST_IMAGE not set (scripts/image-build, then export it)")


def _podman(*args: str) -> str:
    return subprocess.run(["podman", "--storage-driver", "vfs", *args], check=True, capture_output=True,
                          text=True, timeout=300).stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


@pytest.fixture
def rootfs() -> Iterator[tuple[Path, dict]]:
    assert IMAGE, "ONEAPI_TEST_IMAGE is not set: .ci/run builds the image with scripts/image-build and exports it"
    config = json.loads(_podman("image", "inspect", IMAGE, "--format", "{{json .Config}}"))
    container = _podman("create", IMAGE)
    try:
        yield Path(_podman("mount", container)), config
    finally:
        _podman("umount", container)
        _podman("rm", "-f", container)


@pytest.fixture
def one_api_data_folder() -> Iterator[Path]:
    """A One API data folder as its image leaves it: one-api.db and logs/, everything owned by root."""
    folder = Path(tempfile.mkdtemp(prefix="one-api-image-", dir="/tmp"))
    folder.chmod(0o755)
    (folder / "logs").mkdir()
    (folder / "logs" / "oneapi-20261101.log").write_text("One API's own log\n")
    settings = load_settings({"SQLITE_PATH": str(folder / "one-api.db"), "SESSION_SECRET": "s",
                              "INITIAL_ROOT_TOKEN": ROOT_TOKEN, "INITIAL_ROOT_ACCESS_TOKEN": ACCESS_TOKEN},
                             argv=["--log-dir", str(folder / "logs")])
    asyncio.run(prepare_database(settings))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_the_image_opens_a_root_owned_one_api_folder_relays_and_stops(
        rootfs: tuple[Path, dict], one_api_data_folder: Path) -> None:
    root, config = rootfs
    data = one_api_data_folder
    assert (data / "one-api.db").stat().st_uid == 0
    port = _free_port()
    env = [*config["Env"], f"PORT={port}", "SESSION_SECRET=image-test-secret"]
    command = [*config["Entrypoint"], *config.get("Cmd", [])]
    script = (f"mount --bind {data} {root}/data && mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev"
              f" && exec chroot {root} /usr/bin/env -i {' '.join(env)} sh -c 'cd {config['WorkingDir']} && exec \"$@\"'"
              f" one-api {' '.join(command)}")
    proc = subprocess.Popen(["unshare", "--mount", "--fork", "sh", "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    upstream = await MockOpenAI().start()
    try:
        url = f"http://127.0.0.1:{port}"
        status = await asyncio.to_thread(wait_for, url + "/api/status", time.monotonic() + 90)
        assert status["success"] is True
        tree = _tree(proc.pid)
        gateway = [pid for pid in tree if _uid(pid) != 0]
        assert len(gateway) >= 3, tree      # supervisor, admin_api, a proxy worker: all of them dropped
        assert {_uid(pid) for pid in gateway} == {10001}
        async with aiohttp.ClientSession() as http:
            async with http.post(url + "/api/channel/", headers={"Authorization": ACCESS_TOKEN},
                                 json={"type": 1, "name": "mock", "key": "sk-up", "base_url": upstream.url,
                                       "models": "gpt-4o-mini", "group": "default"}) as r:
                assert (await r.json())["success"] is True
            deadline = time.monotonic() + 30
            while True:
                async with http.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {ROOT_TOKEN}"},
                                     json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}) as r:
                    answer = await r.json()
                if r.status == 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.3)
        assert r.status == 200, answer
        assert answer["choices"][0]["message"]["content"] == "Hello there!"
        assert upstream.requests[-1].headers["Authorization"] == "Bearer sk-up"
        [supervisor] = _children(proc.pid)   # unshare's child: sh, then chroot, env and sh exec'd into one-api
        assert _uid(supervisor) == 10001
        os.kill(supervisor, signal.SIGTERM)
        output, _ = await asyncio.to_thread(proc.communicate, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        await upstream.close()
    assert proc.returncode == 0, output.decode(errors="replace")[-3000:]
    for path in (data, data / "one-api.db", data / "logs", data / "logs" / "oneapi-20261101.log"):
        assert path.stat().st_uid == 10001, path
    with sqlite3.connect(data / "one-api.db") as db:
        assert db.execute("SELECT count(*) FROM logs WHERE type = 2").fetchone()[0] == 1   # the relay's consume row
