"""Overhead benchmark: the gateway (full pipeline, SQLite) vs a bare pass-through proxy vs a direct call.

    python benchmarks/run.py                 # non-stream and stream, concurrency 1 and 64
    python benchmarks/run.py --workers 2     # the gateway with two proxy workers
    python benchmarks/run.py --scaling 2     # one worker vs two at concurrency 64: the throughput ratio
    python benchmarks/run.py --memory 20000  # RSS of the gateway over N requests (half streams), then per process
    python benchmarks/run.py --client python # the load from an aiohttp client instead of wrk
    python benchmarks/run.py --long-streams 4  # 45 MB streams in a row: time, stalls, gateway RSS (only this)
    python benchmarks/run.py --limits        # CPU per request: a rate-limited token vs an unlimited one (#17)
    python benchmarks/run.py --surfaces      # also /v1/messages: pass-through and converted to an OpenAI channel
    python benchmarks/run.py --startup 3     # also: seconds from `one-api` started to its first answer, 3 starts
    python benchmarks/run.py --only none --surfaces   # only the extras, not the chat table
    python benchmarks/run.py --litellm       # LiteLLM's proxy as a fourth target (after benchmarks/setup-litellm)
    python benchmarks/run.py --all           # everything above that issue #19 asks for, one part after the other

Everything runs on 127.0.0.1 in one process tree; the figures that matter are the ratios. The load
comes from wrk (Debian's package `wrk`) when it is installed: written in C, it needs a few percent of
the CPU a Python client needs, which matters on a 2-core machine where the load generator, the mock
upstream and the proxy under test share the cores. Without wrk, an aiohttp client in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import litellm_target

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODEL = "gpt-4o-mini"
CLAUDE = "claude-3-5-haiku-20241022"   # served by an Anthropic channel (the mock's /v1/messages)
CHAT, MESSAGES = "/v1/chat/completions", "/v1/messages"
# name: (path, model, whether the bare proxy can serve it: a pass-through). The last one is converted by the gateway:
# an Anthropic client's request to a model only an OpenAI channel serves.
SURFACES = {
    "chat → OpenAI": (CHAT, MODEL, True),
    "messages → Anthropic": (MESSAGES, CLAUDE, True),
    "messages → OpenAI (converted)": (MESSAGES, MODEL, False),
}


def body_for(path: str, model: str, stream: bool) -> str:
    """The request body of a surface: OpenAI chat, or Anthropic messages (which require max_tokens)."""
    ask = {"model": model, "messages": [{"role": "user", "content": "Say hello"}], "stream": stream}
    return json.dumps({**ask, "max_tokens": 256} if path == MESSAGES else ask)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


async def _seed(workdir: Path, upstream: str) -> str:
    sys.path.insert(0, str(ROOT))
    from store import Database, sqlite_url
    from store.keys import token_key
    from store.models import Ability, Channel, Token, User

    db = Database(sqlite_url(str(workdir / "one-api.db")))
    await db.create_schema()
    key = token_key()
    async with db.session() as s, s.begin():
        user = User(username="bench", password="x", quota=10**15, display_name="bench")
        s.add(user)
        await s.flush()
        s.add(Token(user_id=user.id, key=key, name="bench", remain_quota=10**15, unlimited_quota=False))
        channel = Channel(type=1, key="upstream-key", name="mock", base_url=upstream, models=MODEL, group="default")
        s.add(channel)
        await s.flush()
        s.add(Ability(group="default", model=MODEL, channel_id=channel.id, enabled=True, priority=0))
        claude = Channel(type=14, key="upstream-key", name="mock-anthropic", base_url=upstream, models=CLAUDE,
                         group="default")
        s.add(claude)
        await s.flush()
        s.add(Ability(group="default", model=CLAUDE, channel_id=claude.id, enabled=True, priority=0))
    await db.dispose()
    return "sk-" + key


async def _client(url: str, key: str, body: str, concurrency: int, total: int) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for _ in queue:
            t0 = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        errors += 1
            except (TimeoutError, aiohttp.ClientError):   # a slow target's failures are counted, not fatal
                errors += 1
            latencies.append(time.perf_counter() - t0)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rps": total / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000, "errors": errors, "requests": total}


def run_client(url: str, key: str, stream: bool, concurrency: int, total: int, body: str = "") -> dict[str, float]:
    """The load generator runs in its own process so it doesn't share an event loop with anything measured."""
    body = body or body_for(CHAT, MODEL, stream)
    command = [sys.executable, __file__, "--client", url, key, body, str(concurrency), str(total)]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


WRK_SCRIPT = """wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(url: str, key: str, stream: bool, concurrency: int, seconds: int, workdir: Path,
            body: str = "", timeout: int = 2) -> dict[str, float]:
    """One wrk run (one thread; `concurrency` connections) for `seconds`: rps, p50/p99, errors and requests.
    A request unanswered after `timeout` seconds counts as an error (wrk's default is 2 s)."""
    body = body or body_for(CHAT, MODEL, stream)
    script = workdir / f"post-{abs(hash(body))}.lua"
    script.write_text(WRK_SCRIPT % (body, key))
    out = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", f"--timeout={timeout}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    latency = {m[0]: float(m[1]) * _UNITS[m[2]] for m in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
            "p50_ms": latency.get("50", float("nan")), "p99_ms": latency.get("99", float("nan")), "errors": errors,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}  # type: ignore[union-attr]


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU of this process's waited-for children (each wrk run)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            total += int(next(line for line in Path(f"/proc/{p}/status").read_text().splitlines()
                                 if line.startswith("VmRSS")).split()[1])
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            continue
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--requests", type=int, default=3000, help="requests per concurrency-64 scenario")
    ap.add_argument("--memory", type=int, default=0, help="streamed requests for the memory check (e.g. 20000)")
    ap.add_argument("--client", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    ap.add_argument("--seconds", type=int, default=5, help="seconds per scenario with wrk")
    ap.add_argument("--rounds", type=int, default=3, help="turns per scenario (wrk, and --scaling); the median counts")
    ap.add_argument("--scaling", type=int, default=0, help="compare one worker with this many (concurrency 64)")
    ap.add_argument("--long-streams", type=int, default=0, help="only this: N streams of 45 MB in a row, a fast "
                                                                  "then a slow client: time, stalls, gateway RSS")
    ap.add_argument("--limits", action="store_true", help="CPU per request of a rate-limited token vs an unlimited one")
    ap.add_argument("--surfaces", action="store_true",
                    help="also /v1/messages (pass-through, and converted to an OpenAI channel), with CPU per request")
    ap.add_argument("--startup", type=int, default=0, help="also time this many starts of one-api to ready")
    ap.add_argument("--extra-worker", action="store_true",
                    help="only --memory, for 1 worker then --workers (2+), and what each extra worker adds")
    ap.add_argument("--only", choices=("table", "none"), default="table",
                    help="none: skip the chat table (run only --surfaces/--startup/--memory)")
    ap.add_argument("--litellm", action="store_true",
                    help="also LiteLLM's proxy as a fourth target in the chat table (benchmarks/setup-litellm first; "
                         "its venv: LITELLM_VENV or ~/.cache/one-api/litellm-venv)")
    ap.add_argument("--litellm-seconds", type=int, default=10,
                    help="seconds of each LiteLLM turn with wrk: wrk counts only the answers completed in a turn, "
                         "and at c=64 LiteLLM takes 1-2 s per answer, so a short turn would undercount it")
    ap.add_argument("--all", action="store_true",
                    help="every measurement of issue #19 in one command: the chat table (with LiteLLM when its venv "
                         "exists), the surfaces, start-up, memory, the limited token, scaling, extra workers")
    args = ap.parse_args()
    if args.all:
        run_everything(args)
        return
    if args.scaling:
        scaling(args.scaling, args)
        return
    if args.limits:
        limits_cost(args)
        return
    if args.extra_worker:
        extra_worker(args)
        return
    venv = litellm_target.venv_dir()
    if args.litellm:
        litellm_target.executable(venv)   # before anything starts: says how to install it when it is missing
    workdir = Path(tempfile.mkdtemp(prefix="oneapi-bench-"))
    ports = {name: free_port() for name in ("mock", "bare", "litellm")}
    mock_url = f"http://127.0.0.1:{ports['mock']}"
    gateway, gateway_url, key = start_gateway(workdir, mock_url, args.workers)
    procs = [
        subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), str(ports["mock"])]),
        subprocess.Popen([sys.executable, str(HERE / "bare_proxy.py"), str(ports["bare"]), mock_url],
                         stderr=subprocess.DEVNULL),  # wrk cuts connections at the end of a run: no tracebacks
        gateway,
    ]
    started = machine()
    try:
        targets = {"direct": mock_url, "bare": f"http://127.0.0.1:{ports['bare']}", "gateway": gateway_url}
        paces: dict[str, Pace] = {}
        if args.litellm:
            # the gateway's key is LiteLLM's master key: one key for every target, and LiteLLM authenticates too
            litellm_started = time.monotonic()
            litellm = litellm_target.start(venv, workdir, mock_url, MODEL, key, ports["litellm"])
            procs.append(litellm)
            targets["litellm"] = f"http://127.0.0.1:{ports['litellm']}"
            paces["litellm"] = Pace(args.litellm_seconds, 30, litellm.pid)
        for name, base in targets.items():
            if name != "litellm":
                wait_ready(base + "/v1/chat/completions")
        if args.litellm:
            ready = litellm_target.wait_ready(procs[3], targets["litellm"], workdir / "litellm.log", litellm_started)
            problem = litellm_target.first_answer(targets["litellm"], MODEL, key)
            print(f"LiteLLM {litellm_target.version(venv)} ready after {ready:.1f} s"
                  + (f"; its first answer failed: {problem}" if problem else ""), flush=True)
        if args.long_streams:
            asyncio.run(long_streams(procs[2].pid, gateway_url, key, args.long_streams))
            return
        if args.only == "table":
            if args.client == "wrk":
                results = run_all_wrk(targets, key, args.seconds, workdir, args.rounds, paces)
            else:
                results = run_all(targets, key, args.requests, slow=paces)
            report(results, args.workers, args.client)
            if args.litellm:
                report_litellm(results, args, started, litellm_target.version(venv))
        if args.litellm:
            print(f"memory after the table: {tree_memory(procs[1].pid)} bare proxy, {tree_memory(procs[2].pid)} "
                  f"gateway, {tree_memory(procs[3].pid)} LiteLLM (RSS / PSS of each process tree)")
            attempts = litellm_target.outside_calls((workdir / "litellm.log").read_text(errors="replace"))
            print("LiteLLM's log: " + ("no attempt to reach anything but 127.0.0.1" if not attempts else
                                       "ATTEMPTS TO REACH OTHER HOSTS:\n  " + "\n  ".join(attempts)))
        if args.surfaces:
            surfaces(args, targets, {"bare": procs[1].pid, "gateway": procs[2].pid}, key, workdir)
        if args.startup:
            startup_seconds(workdir, mock_url, args.startup)
        if args.memory:
            memory(procs[2].pid, targets["gateway"], key, args.memory, workdir / "logs")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)


def start_gateway(workdir: Path, mock_url: str, workers: int,
                  seeded: Callable[[], None] = lambda: None) -> tuple[subprocess.Popen[bytes], str, str]:
    """A seeded SQLite gateway with `workers` proxy workers: (process, base URL, key); `seeded` is called between
    the seeding and the start."""
    workdir.mkdir(parents=True, exist_ok=True)
    key = asyncio.run(_seed(workdir, mock_url))
    seeded()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SESSION_SECRET": "bench"}
    proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", "--port", str(port), "--workers", str(workers),
                             "--log-dir", str(workdir / "logs")], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", key


def _load(args: argparse.Namespace, url: str, key: str, stream: bool, workdir: Path, warm_up: bool = False,
          body: str = "") -> float:
    """Requests/s of one concurrency-64 run from the chosen load generator."""
    return _run(args, url, key, stream, workdir, warm_up, body)["rps"]


def _run(args: argparse.Namespace, url: str, key: str, stream: bool, workdir: Path, warm_up: bool = False,
         body: str = "") -> dict[str, float]:
    """One concurrency-64 run from the chosen load generator: rps, latencies, errors, requests."""
    if args.client == "wrk":
        return run_wrk(url, key, stream, 64, 2 if warm_up else args.seconds, workdir, body)
    return run_client(url, key, stream, 64, 500 if warm_up else args.requests, body)


def surfaces(args: argparse.Namespace, targets: dict[str, str], pids: dict[str, int], key: str,
             workdir: Path) -> None:
    """Each surface at concurrency 64, answers and streams: requests/s of the gateway and (for a pass-through) the
    bare proxy, taking turns `args.rounds` times, and the CPU each used per request (its process tree, /proc)."""
    rows = []
    for name, (path, model, passthrough) in SURFACES.items():
        for stream in (False, True):
            body = body_for(path, model, stream)
            parties = ["bare", "gateway"] if passthrough else ["gateway"]
            for party in parties:
                _run(args, targets[party] + path, key, stream, workdir, True, body)
            got: dict[str, list[tuple[float, float]]] = {party: [] for party in parties}
            for _ in range(args.rounds):
                for party in parties:
                    tree = tree_pids(pids[party])
                    before = cpu_seconds(tree)
                    result = _run(args, targets[party] + path, key, stream, workdir, body=body)
                    if result["errors"]:
                        raise SystemExit(f"{name}: {result['errors']} errors from {party}")
                    got[party].append((result["rps"], 1e6 * (cpu_seconds(tree) - before) / result["requests"]))
            rows.append((name, stream, {party: (statistics.median(r for r, _ in runs),
                                                statistics.median(c for _, c in runs)) for party, runs in got.items()}))
    print(f"\n{'surface (c=64)':<44}{'bare rps':>10}{'gw rps':>9}{'gw/bare':>9}{'bare CPU/req':>14}{'gw CPU/req':>12}")
    cpu: dict[tuple[str, bool], float] = {}
    for name, stream, by in rows:
        gw_rps, gw_cpu = by["gateway"]
        cpu[(name, stream)] = gw_cpu
        bare = by.get("bare")
        label = f"{name}, {'stream 20 deltas' if stream else 'answer'}"
        print(f"{label:<44}{f'{bare[0]:.0f}' if bare else '—':>10}{gw_rps:>9.0f}"
              f"{f'{gw_rps / bare[0]:.2f}' if bare else '—':>9}{f'{bare[1]:.0f} µs' if bare else '—':>14}"
              f"{gw_cpu:>9.0f} µs")
    converted, passed = cpu[("messages → OpenAI (converted)", True)], cpu[("messages → Anthropic", True)]
    print(f"converted stream / pass-through stream, gateway CPU per request: {converted / passed:.2f}× "
          f"(target ≤ 1.5×); load from {args.client}, medians of {args.rounds} turns")


def startup_seconds(workdir: Path, mock_url: str, starts: int) -> None:
    """Seconds from starting `one-api` (one worker, SQLite, seeded) to its first answer on /api/status, the
    console already built; the median of `starts` cold process starts (the machine's file cache warm)."""
    built = (ROOT / "web" / "dist" / "index.html").exists()
    times, cpu, clock = [], [], [0.0]   # clock[0]: when the seeding ended and one-api was started
    for n in range(starts):
        proc, base, _ = start_gateway(workdir / f"start-{n}", mock_url, 1,
                                      lambda: clock.__setitem__(0, time.monotonic()))
        try:
            wait_ok(base + "/api/status")
            times.append(time.monotonic() - clock[0])
            cpu.append(cpu_seconds(tree_pids(proc.pid)) + waited_children_cpu(proc.pid))
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    print(f"start-up: one-api ready in {statistics.median(times):.2f} s (median of {starts}: "
          f"{', '.join(f'{t:.2f}' for t in times)}; console {'built' if built else 'NOT built'}; "
          f"the database seeded before the clock starts); CPU used by then: {statistics.median(cpu):.2f} s "
          f"(all its processes, the database preparation included: the wall time on an idle machine with "
          f"two cores lies between half of it and all of it)")


def waited_children_cpu(pid: int) -> float:
    """CPU of a process's children that have exited and been waited for (one-api's database preparation)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0


def wait_ok(url: str, timeout: float = 60) -> None:
    """Poll until `url` answers 200 (every 20 ms: the figure is start-up time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.02)
    raise SystemExit(f"{url} did not answer 200 in {timeout} s")


def scaling(workers: int, args: argparse.Namespace) -> None:
    """Throughput at concurrency 64 of the gateway with one worker and with `workers`: both run side by side
    (the idle one costs nothing) and take turns, `args.rounds` times; the median counts.

    Each turn also reads the CPU time every party used (/proc): the gateway's processes, the mock upstream and
    the load generator. On a machine with few cores these share them, so the figures say what bound the cores
    put on the ratio: `cores / (CPU per request of everything)` requests per second at best."""
    root = Path(tempfile.mkdtemp(prefix="oneapi-scaling-"))
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    procs = [subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), str(mock_port)])]
    rps: dict[tuple[int, bool], list[float]] = {}
    cpu: dict[tuple[int, bool], list[tuple[float, float, float]]] = {}   # µs per request: gateway, mock, load
    roles: dict[tuple[int, bool], list[dict[str, float]]] = {}           # the gateway's share by process role
    try:
        gateways = {}
        for count in (1, workers):
            proc, base, key = start_gateway(root / f"w{count}", mock_url, count)
            procs.append(proc)
            gateways[count] = (base + "/v1/chat/completions", key, proc.pid)
        logs = {proc.pid: root / f"w{count}" / "logs" for count, proc in zip((1, workers), procs[1:], strict=True)}
        for url in [mock_url + "/v1/chat/completions", *(g[0] for g in gateways.values())]:
            wait_ready(url)
        for stream in (False, True):
            for url, key, _ in gateways.values():
                _load(args, url, key, stream, root, warm_up=True)
            for _ in range(args.rounds):
                for count, (url, key, pid) in gateways.items():
                    parties = (tree_pids(pid), [procs[0].pid])
                    names = process_names(pid, logs[pid])
                    by_role = {p: cpu_seconds([p]) for p in parties[0]}
                    before = [cpu_seconds(p) for p in parties] + [children_cpu_seconds()]
                    start = time.monotonic()
                    got = _load(args, url, key, stream, root)
                    served = got * (time.monotonic() - start)
                    after = [cpu_seconds(p) for p in parties] + [children_cpu_seconds()]
                    rps.setdefault((count, stream), []).append(got)
                    shares: dict[str, float] = {}
                    for p, was in by_role.items():
                        role = "proxy workers" if names.get(p, "").startswith("proxy-") else names.get(p, "other")
                        shares[role] = shares.get(role, 0.0) + 1e6 * (cpu_seconds([p]) - was) / served
                    roles.setdefault((count, stream), []).append(shares)
                    cpu.setdefault((count, stream), []).append(
                        tuple(1e6 * (a - b) / served for a, b in zip(after, before, strict=True)))  # type: ignore[arg-type]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    cores = os.cpu_count() or 1
    print(f"\n{'scenario (c=64)':<24}{'1 worker rps':>14}{f'{workers} workers rps':>16}{'ratio':>8}"
          f"{'   CPU µs/request (gateway + mock + load), 1 → ' + str(workers) + ' workers':>60}")
    for stream in (False, True):
        one, many = (statistics.median(rps[(n, stream)]) for n in (1, workers))
        per = {n: [statistics.median(c[i] for c in cpu[(n, stream)]) for i in range(3)] for n in (1, workers)}
        shown = "  →  ".join(" + ".join(f"{v:.0f}" for v in per[n]) for n in (1, workers))
        print(f"{'stream 20 chunks' if stream else 'non-stream':<24}{one:>14.0f}{many:>16.0f}{many / one:>8.2f}"
              f"      {shown}")
        for n in (1, workers):
            names = sorted({r for turn in roles[(n, stream)] for r in turn})
            split = ", ".join(f"{r} {statistics.median(t.get(r, 0.0) for t in roles[(n, stream)]):.0f}" for r in names)
            print(f"{'':<24}gateway µs/request by process, {n} worker(s): {split}")
        # the best any number of workers could do here: every core busy with this mix of work
        bound = cores * 1e6 / sum(per[workers])
        print(f"{'':<24}{cores} cores at {sum(per[workers]):.0f} µs of CPU per request: at most {bound:.0f} rps, "
              f"{bound / one:.2f}× one worker")
    print(f"(SQLite, full pipeline; load from {args.client}; medians of {len(rps[(1, False)])} turns)")


async def _limited_token(workdir: Path) -> str:
    """A second token of the bench user with RPM, TPM and concurrency limits set too high ever to refuse."""
    from store import Database, sqlite_url
    from store.keys import token_key
    from store.models import Token

    db = Database(sqlite_url(str(workdir / "one-api.db")))
    key = token_key()
    async with db.session() as s, s.begin():
        s.add(Token(user_id=1, key=key, name="limited", remain_quota=10**15, unlimited_quota=False,
                    rpm_limit=10**9, tpm_limit=10**15, max_parallel_requests=10**6))
    await db.dispose()
    return "sk-" + key


def limits_cost(args: argparse.Namespace) -> None:
    """Gateway CPU per request (its process tree, from /proc) at concurrency 64, one worker, for an unlimited
    token and for a limited one, in alternating turns; the medians and their ratio (#17: at most +5 %)."""
    workdir = Path(tempfile.mkdtemp(prefix="oneapi-limits-"))
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    mock = subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), str(mock_port)])
    gateway, base, plain = start_gateway(workdir, mock_url, 1)
    limited = asyncio.run(_limited_token(workdir))
    url = base + "/v1/chat/completions"
    cpu: dict[tuple[str, bool], list[float]] = {}
    try:
        wait_ready(mock_url + "/v1/chat/completions")
        wait_ready(url)
        for stream in (False, True):
            for key in (plain, limited):
                _load(args, url, key, stream, workdir, warm_up=True)
            for _ in range(args.rounds):
                for name, key in (("unlimited", plain), ("limited", limited)):
                    pids = tree_pids(gateway.pid)
                    before, start = cpu_seconds(pids), time.monotonic()
                    served = _load(args, url, key, stream, workdir) * (time.monotonic() - start)
                    cpu.setdefault((name, stream), []).append(1e6 * (cpu_seconds(pids) - before) / served)
    finally:
        for proc in (gateway, mock):
            proc.terminate()
        for proc in (gateway, mock):
            proc.wait(timeout=60)
    print(f"\n{'scenario (c=64, 1 worker)':<28}{'unlimited µs/req':>18}{'limited µs/req':>16}{'limited/unlimited':>19}")
    for stream in (False, True):
        plain_us, limited_us = (statistics.median(cpu[(n, stream)]) for n in ("unlimited", "limited"))
        print(f"{'stream 20 chunks' if stream else 'non-stream':<28}{plain_us:>18.0f}{limited_us:>16.0f}"
              f"{limited_us / plain_us:>19.3f}")
    print(f"(gateway CPU from /proc; SQLite; load from {args.client}; medians of {args.rounds} turns)")


@dataclass(frozen=True)
class Pace:
    """How a slow target (LiteLLM's proxy) is driven: its own turn length and wrk timeout, and the process
    whose CPU must fall back to idle after each of its turns (requests wrk gave up on still run there and
    would otherwise load the next target's turn)."""

    seconds: int
    timeout: int
    pid: int


def settle(pid: int, deadline: float = 20.0) -> None:
    """Wait until a process tree uses under 10 % of a core over 0.25 s (at most `deadline` seconds)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        before = cpu_seconds(tree_pids(pid))
        time.sleep(0.25)
        if cpu_seconds(tree_pids(pid)) - before < 0.025:
            return


def run_all(targets: dict[str, str], key: str, total: int,
            slow: Collection[str] = ()) -> dict[tuple[str, bool, int], dict[str, float]]:
    """Each scenario from the Python load generator; a `slow` target gets a twentieth of the requests."""
    results = {}
    for stream in (False, True):
        for concurrency in (1, 64):
            for name, base in targets.items():
                n = total if concurrency > 1 else max(300, total // 6)
                n = max(64, n // 20) if name in slow else n
                url = base + "/v1/chat/completions"
                run_client(url, key, stream, concurrency, min(200, n))       # warm-up: caches, pools, JIT-less Python
                results[(name, stream, concurrency)] = run_client(url, key, stream, concurrency, n)
    return results


def run_all_wrk(targets: dict[str, str], key: str, seconds: int, workdir: Path, rounds: int = 1,
                paces: Mapping[str, Pace] | None = None) -> dict[tuple[str, bool, int], dict[str, float]]:
    """Each scenario: the targets take turns `rounds` times (a drifting machine treats them alike); the round
    with the median requests/s stands for each target. A target with a `Pace` gets its own turn length and
    timeout, and the next turn waits until it is idle again."""
    paces = paces or {}
    results = {}

    def turn(name: str, stream: bool, concurrency: int, warm_up: bool) -> dict[str, float]:
        pace = paces.get(name)
        length = 2 if warm_up else pace.seconds if pace else seconds
        got = run_wrk(targets[name] + "/v1/chat/completions", key, stream, concurrency, length, workdir,
                      timeout=pace.timeout if pace else 2)
        if pace:
            settle(pace.pid)
        return got

    for stream in (False, True):
        for concurrency in (1, 64):
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
            for name in targets:
                turn(name, stream, concurrency, warm_up=True)
            for _ in range(rounds):
                for name in targets:
                    runs[name].append(turn(name, stream, concurrency, warm_up=False))
            for name, got in runs.items():
                results[(name, stream, concurrency)] = sorted(got, key=lambda r: r["rps"])[len(got) // 2]
    return results


def report(results: dict[tuple[str, bool, int], dict[str, float]], workers: int, client: str) -> None:
    print(f"\n{'scenario':<28}{'direct rps':>11}{'bare rps':>10}{'gw rps':>9}{'gw/bare':>9}"
          f"{'bare p50':>10}{'gw p50':>9}{'added p50':>11}{'gw p99':>9}{'errors':>8}")
    for stream in (False, True):
        for concurrency in (1, 64):
            d, b, g = (results[(n, stream, concurrency)] for n in ("direct", "bare", "gateway"))
            name = f"{'stream 20 chunks' if stream else 'non-stream'}, c={concurrency}"
            print(f"{name:<28}{d['rps']:>11.0f}{b['rps']:>10.0f}{g['rps']:>9.0f}{g['rps'] / b['rps']:>9.2f}"
                  f"{b['p50_ms']:>9.2f}ms{g['p50_ms']:>7.2f}ms{g['p50_ms'] - b['p50_ms']:>9.2f}ms"
                  f"{g['p99_ms']:>7.1f}ms{int(g['errors'] + b['errors']):>8}")
    print(f"(gateway: {workers} worker(s), SQLite, full pipeline; load from {client})")


def machine() -> str:
    """When and where a run happens: UTC time, cores, CPU model, load average (for the README's tables)."""
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} cores ({model}), "
            f"load average {load}")


def report_litellm(results: dict[tuple[str, bool, int], dict[str, float]], args: argparse.Namespace,
                   started: str, version: str) -> None:
    """The table of issue #19: this project, the bare pass-through and LiteLLM's proxy from one run."""
    print(f"\n{'scenario':<28}{'bare rps':>10}{'gw rps':>9}{'LiteLLM rps':>13}{'gw/LiteLLM':>12}"
          f"{'bare p50':>10}{'gw p50':>9}{'LiteLLM p50':>13}{'LiteLLM answers':>17}{'errors':>8}")
    for stream in (False, True):
        for concurrency in (1, 64):
            b, g, lt = (results[(n, stream, concurrency)] for n in ("bare", "gateway", "litellm"))
            name = f"{'stream 20 chunks' if stream else 'non-stream'}, c={concurrency}"
            ratio = f"{g['rps'] / lt['rps']:.1f}x" if lt["rps"] else "—"
            print(f"{name:<28}{b['rps']:>10.0f}{g['rps']:>9.0f}{lt['rps']:>13.1f}{ratio:>12}"
                  f"{b['p50_ms']:>8.2f}ms{g['p50_ms']:>7.2f}ms{lt['p50_ms']:>11.1f}ms"
                  f"{int(lt['requests']):>17}{int(lt['errors']):>8}")
    turns = (f"{args.rounds} turn(s) of {args.seconds} s (LiteLLM {args.litellm_seconds} s, 30 s timeout)"
             if args.client == "wrk" else
             f"load from the Python client ({args.requests} requests at c=64, LiteLLM a twentieth, at least 64)")
    print(f"(LiteLLM {version}, uvicorn, 1 worker; gateway {args.workers} worker(s), SQLite; {turns};\n"
          f" started {started}; ended {machine()})")


def tree_memory(pid: int) -> str:
    """RSS / PSS of a process and its descendants, in MiB."""
    pids = tree_pids(pid)
    rss, pss = (sum(_kib(p, path, field) for p in pids) for path, field in (("status", "VmRSS"),
                                                                            ("smaps_rollup", "Pss:")))
    return f"{rss / 1024:.0f} / {pss / 1024:.0f} MiB"


def _kib(pid: int, path: str, field: str) -> int:
    try:
        return int(next(line for line in Path(f"/proc/{pid}/{path}").read_text().splitlines()
                        if line.startswith(field)).split()[1])
    except (FileNotFoundError, StopIteration, ProcessLookupError, PermissionError):
        return 0


def process_names(pid: int, log_dir: Path) -> dict[int, str]:
    """Each process of the gateway's tree by role: the supervisor, its children as it logged them, the tracker."""
    names = {pid: "supervisor"}
    for log in log_dir.iterdir():
        names.update({int(p): n for n, p in re.findall(r"started (\S+) \(pid (\d+)\)", log.read_text())})
    for p in tree_pids(pid):
        if p not in names and b"resource_tracker" in Path(f"/proc/{p}/cmdline").read_bytes():
            names[p] = "resource tracker"
    return names


def memory_table(pid: int, log_dir: Path) -> tuple[str, tuple[int, int, int]]:
    """RSS, PSS (shared pages divided among their sharers: what the machine spends) and USS (pages of this process
    alone) of each process of the tree; and the tree's sums in KiB (RSS, PSS, USS)."""
    names = process_names(pid, log_dir)
    lines, sums = [], [0, 0, 0]
    for p in tree_pids(pid):
        rss, pss = _kib(p, "status", "VmRSS"), _kib(p, "smaps_rollup", "Pss:")
        uss = _kib(p, "smaps_rollup", "Private_Clean:") + _kib(p, "smaps_rollup", "Private_Dirty:")
        sums = [sums[0] + rss, sums[1] + pss, sums[2] + uss]
        lines.append(f"    {names.get(p, str(p)):<18}{rss / 1024:>8.1f} MiB RSS{pss / 1024:>8.1f} MiB PSS"
                     f"{uss / 1024:>8.1f} MiB USS")
    lines.append(f"    {'total':<18}{sums[0] / 1024:>8.1f} MiB RSS{sums[1] / 1024:>8.1f} MiB PSS"
                 f"{sums[2] / 1024:>8.1f} MiB USS")
    return "\n".join(lines), (sums[0], sums[1], sums[2])


def memory(pid: int, base: str, key: str, total: int, log_dir: Path) -> tuple[int, int, int]:
    """RSS of the gateway's tree after a warm-up, then after every 5 000 of `total` requests (half answers, half
    streams at concurrency 32); the per-process table at the end."""
    url = base + CHAT
    run_client(url, key, True, 32, 2000)
    before = rss_kb(pid)
    done = 0
    while done < total:
        n = min(5000, total - done)
        run_client(url, key, False, 32, n // 2)
        run_client(url, key, True, 32, n - n // 2)
        done += n
        print(f"  after {done:>6} requests: gateway RSS {rss_kb(pid) / 1024:.1f} MiB")
    print(f"memory: {before / 1024:.1f} MiB after warm-up → {rss_kb(pid) / 1024:.1f} MiB after {total} more requests")
    table, sums = memory_table(pid, log_dir)
    print(table)
    return sums


def run_everything(args: argparse.Namespace) -> None:
    """Each part in its own run of this script, one after the other (each starts and stops its own processes,
    so none measures another's leftovers), with the turns asked for."""
    turns = ["--seconds", str(args.seconds), "--rounds", str(args.rounds)]
    table = ["--surfaces", "--startup", "3", "--memory", "20000"]
    if (litellm_target.venv_dir() / "bin" / "litellm").exists():
        table.append("--litellm")
    else:
        print("(no LiteLLM venv: the chat table without it; benchmarks/setup-litellm installs it)", flush=True)
    parts = [table, ["--limits"], ["--scaling", "2"], ["--extra-worker", "--workers", "3", "--memory", "20000"]]
    for part in parts:
        print(f"\n=== python benchmarks/run.py {' '.join(part + turns)}   ({time.strftime('%H:%M:%S')} UTC)",
              flush=True)
        subprocess.run([sys.executable, str(Path(__file__).resolve()), *part, *turns], check=False)


def extra_worker(args: argparse.Namespace) -> None:
    """`--memory` of a gateway with one worker, two, and `--workers` (one after the other, each alone): what the
    second worker adds to the tree (with SQLite: the ledger owner, and the template when there is one), and what
    each one after it adds."""
    root = Path(tempfile.mkdtemp(prefix="oneapi-extra-"))
    mock_port = free_port()
    mock_url = f"http://127.0.0.1:{mock_port}"
    mock = subprocess.Popen([sys.executable, str(HERE / "mock_upstream.py"), str(mock_port)])
    sums: dict[int, tuple[int, int, int]] = {}
    try:
        wait_ready(mock_url + "/v1/chat/completions")
        counts = sorted({1, 2, args.workers})
        for count in counts:
            print(f"\n{count} worker(s):")
            proc, base, key = start_gateway(root / f"w{count}", mock_url, count)
            try:
                wait_ready(base + "/v1/chat/completions")
                sums[count] = memory(proc.pid, base, key, args.memory, root / f"w{count}" / "logs")
            finally:
                proc.terminate()
                proc.wait(timeout=60)
    finally:
        mock.terminate()
        mock.wait(timeout=60)
    print()
    for low, high in zip(counts, counts[1:], strict=False):
        rss, pss, uss = ((sums[high][i] - sums[low][i]) / (high - low) / 1024 for i in range(3))
        print(f"each extra worker ({high} workers − {low}, per worker): {rss:.1f} MiB RSS, {pss:.1f} MiB PSS, "
              f"{uss:.1f} MiB USS")


LONG_SIZE = 45_000_000


async def _long_stream(http: aiohttp.ClientSession, url: str, key: str, rate: float) -> tuple[float, float, int]:
    """One 45 MB stream read at most at `rate` bytes/s (0: as fast as it comes): seconds, longest gap, bytes."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True,
            "stream_options": {"include_usage": True}, "bench_long": LONG_SIZE}
    start = last = time.monotonic()
    got, gap = 0, 0.0
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {key}"}) as resp:
        async for piece in resp.content.iter_any():
            now = time.monotonic()
            gap, last = max(gap, now - last), now
            got += len(piece)
            if rate:
                await asyncio.sleep(max(0.0, start + got / rate - time.monotonic()))
    return time.monotonic() - start, gap, got


async def long_streams(pid: int, base: str, key: str, count: int) -> None:
    """#16: streams of 45 MB (600,000 tokens by their final usage) in a row on one kept connection, first read
    as fast as they come, then by a client reading 10 MB/s: time, the longest pause, and the gateway's RSS
    (sampled every 50 ms) before, at its peak and after."""
    url = base + "/v1/chat/completions"
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_kb(pid))
            await asyncio.sleep(0.05)

    print(f"\n{'45 MB streams':<34}{'seconds':>9}{'MB/s':>7}{'longest pause':>15}{'gateway CPU':>13}"
          f"{'gateway RSS (MiB)':>20}")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as http:
        for label, rate in (("as fast as it comes", 0.0), ("a client reading 10 MB/s", 10e6)):
            before, peak = rss_kb(pid), 0
            sampler = asyncio.create_task(sample())
            for i in range(count):
                cpu = cpu_seconds(tree_pids(pid))
                seconds, gap, got = await _long_stream(http, url, key, rate)
                cpu = cpu_seconds(tree_pids(pid)) - cpu
                assert got >= LONG_SIZE, f"stream {i} ended after {got} bytes"
                print(f"{label + f' #{i + 1}':<34}{seconds:>9.2f}{got / seconds / 1e6:>7.1f}{gap:>14.2f}s"
                      f"{cpu:>12.2f}s{f'{before / 1024:.0f} → peak {peak / 1024:.0f}':>20}")
            sampler.cancel()
            print(f"{'':<34}after: {rss_kb(pid) / 1024:.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, key, body, conc, total = sys.argv[2:7]
        print(json.dumps(asyncio.run(_client(url, key, body, int(conc), int(total)))))
    else:
        main()
