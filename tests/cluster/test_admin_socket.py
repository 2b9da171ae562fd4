"""admin_api on a unix socket in a private directory, not on TCP port + 1: the gateway starts when that port
is taken, no local process can call admin_api over TCP (past the proxy's address resolution and the per-IP
limits), and an X-Forwarded-For sent to the public port by a local client is not believed."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.test_command import wait_for


def _port_with_a_free_neighbour() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65535:
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port + 1))
                    return port
                except OSError:
                    continue
    raise AssertionError("no port with a free neighbour")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _listening_tcp_ports(pids: set[int]) -> set[int]:
    """The TCP ports these processes listen on, from /proc (state 0A = LISTEN), matched by socket inode."""
    listening: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                listening[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    ports = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in listening:
                ports.add(listening[target[8:-1]])
    return ports


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] in inodes for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def _status(url: str, forwarded_for: str) -> int:
    request = urllib.request.Request(url, headers={"X-Forwarded-For": forwarded_for})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_admin_api_has_no_tcp_port_and_the_gateway_starts_when_port_plus_one_is_taken(tmp_path: Path) -> None:
    port = _port_with_a_free_neighbour()
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", port + 1))     # what One API's layout would have clashed with
    squatter.listen()
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "SESSION_SECRET": "s", "GLOBAL_API_RATE_LIMIT": "4",
           "SHUTDOWN_GRACE": "5"}
    for name in ("SQL_DSN", "ADMIN_SOCKET", "DEBUG", "TRUSTED_PROXIES"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port), "--log-dir", str(tmp_path / "logs")],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/api/status"
        assert wait_for(url, time.monotonic() + 60)["success"] is True     # admin_api reached through the proxy
        tree = _descendants(proc.pid)
        assert len(tree) >= 2                                              # admin_api and a proxy worker
        assert _listening_tcp_ports(tree | {proc.pid}) == {port}           # admin_api listens on no TCP port
        sockets = [line.split() for line in Path("/proc/net/unix").read_text().splitlines()
                   if line.endswith("/admin.sock") and "one-api-admin-" in line]
        assert sockets, "admin_api's unix socket not found"
        assert stat.S_IMODE(os.stat(os.path.dirname(sockets[-1][-1])).st_mode) == 0o700
        # a local client's made-up addresses on the public port are not believed: one window for all of them
        statuses = [_status(url, f"198.51.100.{i}") for i in range(1, 6)]
        assert 429 in statuses, statuses
        # admin_api killed: the supervisor starts it again on the same socket, and /api answers again
        [admin] = [pid for pid in tree if _holds_socket(pid, {fields[6] for fields in sockets})]
        os.kill(admin, signal.SIGKILL)
        assert wait_for(url, time.monotonic() + 30)["success"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        squatter.close()
    assert proc.returncode == 0
