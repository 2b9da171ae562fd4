"""A 1 MB gzip bomb against the real `one-api` (proxy and admin_api processes as the command starts them):
refused without inflating, the memory of the whole process tree measured from /proc."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.cluster.test_nodes import Node
from tests.e2e.test_gzip_bodies import gzip_bomb

ROOT_TOKEN = "sk-RootTokenForTheGzipBombTest01"
MiB = 1024


def tree_rss_kib(pid: int) -> int:
    """VmRSS of a process and all its descendants, in KiB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
            status = Path(f"/proc/{current}/status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


async def test_a_gzip_bomb_costs_the_gateway_no_memory(tmp_path: Path) -> None:
    node = Node(tmp_path, {"INITIAL_ROOT_TOKEN": ROOT_TOKEN}).wait()
    bomb = gzip_bomb()
    gzip_json = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    try:
        async with aiohttp.ClientSession() as http:
            async def send(path: str, headers: dict[str, str]) -> tuple[int, int, bytes]:
                before = tree_rss_kib(node.proc.pid)
                async with http.post(node.url + path, data=bomb, headers={**gzip_json, **headers}) as r:
                    status, body = r.status, await r.read()
                return status, tree_rss_kib(node.proc.pid) - before, body

            status, grown, body = await send("/v1/chat/completions", {})
            assert status == 401 and grown < 8 * MiB, (status, grown, body[:200])
            status, grown, body = await send("/api/user/login", {})          # through the proxy to admin_api
            assert status == 200 and b'"success":false' in body.replace(b" ", b"") and grown < 8 * MiB, (grown, body)
            status, grown, body = await send("/v1/chat/completions", {"Authorization": f"Bearer {ROOT_TOKEN}"})
            assert status == 413 and b"request_body_too_large" in body and grown < 24 * MiB, (status, grown, body)
    finally:
        assert node.stop() == 0
