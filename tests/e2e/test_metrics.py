"""/metrics through the real gateway: counts, tokens and quota agree with the log rows; who may scrape it;
the real `one-api --workers 2` command counting both workers in one scrape; the request id in the log lines."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from settings import load_settings
from store import Database
from tests.cluster.test_nodes import Node, _seed_root
from tests.e2e.harness import Gateway, add_account, add_channel, logs
from tests.e2e.mock_upstream import MockOpenAI

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) → value, from the Prometheus text format."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """Sum of a sample over every label set that includes `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in parsed.items() if n == name and want <= ls)


async def post(http: aiohttp.ClientSession, url: str, key: str, body: dict[str, Any]) -> tuple[int, str]:
    async with http.post(url + "/v1/chat/completions", json=body, headers={"Authorization": key}) as r:
        await r.read()
        return r.status, r.headers.get("X-Oneapi-Request-Id", "")


async def scrape(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, str]:
    async with http.get(url + "/metrics", headers=headers) as r:
        return r.status, await r.text()


async def scrape_when(http: aiohttp.ClientSession, url: str, requests: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """`done` runs as the last byte leaves: poll briefly until every request is counted."""
    deadline = time.monotonic() + 5
    while True:
        status, text = await scrape(http, url)
        assert status == 200, text
        parsed = samples(text)
        if total(parsed, "oneapi_relay_requests_total") >= requests or time.monotonic() > deadline:
            return parsed
        await asyncio.sleep(0.05)


async def test_metrics_agree_with_the_log_rows(gateway: Gateway, upstream: MockOpenAI, db: Database) -> None:
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url)
    await gateway.reload()
    async with aiohttp.ClientSession() as http:
        statuses = [(await post(http, gateway.url, acct.key, body))[0] for body in (BODY, BODY, STREAM, STREAM)]
        upstream.script.status = 500
        statuses.append((await post(http, gateway.url, acct.key, BODY))[0])
        assert statuses == [200, 200, 200, 200, 500]
        parsed = await scrape_when(http, gateway.url, 5)
    await gateway.flush()
    rows = await logs(db)
    assert len(rows) == 4                                     # the failed request is refunded: no row
    ch = str(cid)
    assert total(parsed, "oneapi_relay_requests_total", mode="chat", model="gpt-4o-mini", channel=ch, code="200") == 4
    assert total(parsed, "oneapi_relay_requests_total", channel=ch, code="500") == 1
    assert total(parsed, "oneapi_relay_errors_total") == 1
    assert total(parsed, "oneapi_upstream_responses_total", channel=ch, code="200") == 4
    assert total(parsed, "oneapi_upstream_responses_total", channel=ch, code="500") == 1
    assert total(parsed, "oneapi_relay_tokens_total", channel=ch, kind="prompt") == sum(r.prompt_tokens for r in rows)
    assert total(parsed, "oneapi_relay_tokens_total", channel=ch, kind="completion") == \
        sum(r.completion_tokens for r in rows) > 0
    assert total(parsed, "oneapi_relay_quota_total", model="gpt-4o-mini", channel=ch) == sum(r.quota for r in rows) > 0
    assert total(parsed, "oneapi_relay_request_duration_seconds_count", stream="false") == 3
    assert total(parsed, "oneapi_relay_request_duration_seconds_count", stream="true") == 2
    assert total(parsed, "oneapi_relay_time_to_first_byte_seconds_count", mode="chat") == 2
    assert total(parsed, "oneapi_relay_requests_in_flight") == 0
    assert total(parsed, "oneapi_relay_streams_in_flight") == 0


async def test_metrics_refused_to_an_untrusted_peer_without_the_token(db: Database) -> None:
    """The test client is on loopback; a request forwarded for an outside address stands in for a foreign peer."""
    outsider = {"X-Forwarded-For": "203.0.113.9"}
    for env, allowed_with_token in (({}, False), ({"METRICS_TOKEN": "scrape-secret"}, True)):
        gw = await Gateway(db, load_settings(env, [])).start()
        try:
            async with aiohttp.ClientSession() as http:
                assert (await scrape(http, gw.url))[0] == 200                 # loopback: allowed, never passed on
                status, text = await scrape(http, gw.url, **outsider)
                assert status == 403 and "METRICS_TOKEN" in text
                status, _ = await scrape(http, gw.url, Authorization="Bearer scrape-secret", **outsider)
                assert status == (200 if allowed_with_token else 403)
                assert (await scrape(http, gw.url, Authorization="Bearer wrong", **outsider))[0] == 403
        finally:
            await gw.close()


def _log_lines(workdir: Path) -> list[str]:
    return [line for f in sorted((workdir / "logs").glob("oneapi*.log*")) for line in f.read_text().splitlines()]


async def _both_workers_listening(workdir: Path, timeout: float = 30.0) -> None:
    """/api/status answers as soon as one worker listens; the test needs both."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        lines = _log_lines(workdir)
        if all(any(f" {w} " in line and "listening on" in line for line in lines) for w in ("proxy-0", "proxy-1")):
            return
        assert asyncio.get_running_loop().time() < deadline, "the second worker never started listening"
        await asyncio.sleep(0.2)


async def test_two_workers_are_counted_in_one_scrape_and_log_the_request_id(db: Database, upstream: MockOpenAI,
                                                                          tmp_path: Path) -> None:
    await _seed_root(db)
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url)
    db_path = str(db.url.url).split("///", 1)[1]
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    node = Node(tmp_path, {"SQLITE_PATH": db_path, "TMPDIR": str(tmp)}, "--workers", "2").wait()
    try:
        await _both_workers_listening(tmp_path)
        assert len(list(tmp.glob("one-api-metrics-*"))) == 1          # the launcher's fresh multiprocess directory
        # a new connection per request: SO_REUSEPORT spreads them over both workers
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            results = await asyncio.gather(*(post(http, node.url, acct.key, STREAM if i % 2 else BODY)
                                             for i in range(40)))
            assert Counter(s for s, _ in results) == Counter({200: 40})
            upstream.script.status = 500
            status, failed_id = await post(http, node.url, acct.key, BODY)
            assert status == 500 and failed_id
            parsed = await scrape_when(http, node.url, 41)
    finally:
        assert node.stop(signal.SIGTERM) == 0
    assert list(tmp.iterdir()) == []                                  # removed on stop
    rows = await logs(db)
    ch = str(cid)
    assert total(parsed, "oneapi_relay_requests_total", channel=ch, code="200") == 40 == len(rows)
    assert total(parsed, "oneapi_relay_requests_total", channel=ch, code="500") == 1
    assert total(parsed, "oneapi_relay_tokens_total", kind="prompt") == sum(r.prompt_tokens for r in rows)
    assert total(parsed, "oneapi_relay_tokens_total", kind="completion") == sum(r.completion_tokens for r in rows)
    assert total(parsed, "oneapi_relay_quota_total", channel=ch) == sum(r.quota for r in rows) > 0
    assert total(parsed, "oneapi_relay_time_to_first_byte_seconds_count") == 20
    assert total(parsed, "oneapi_relay_requests_in_flight") == 0

    lines = _log_lines(tmp_path)
    access = [line for line in lines if " one-api.access: " in line]
    assert len(access) == 41
    served_by = Counter(re.search(r" (proxy-\d) ", line).group(1) for line in access)
    assert set(served_by) == {"proxy-0", "proxy-1"}, served_by       # both workers served, one scrape saw all
    [failed] = [line for line in access if failed_id in line]
    assert f"[{failed_id}]" in failed and "POST /v1/chat/completions 500 model=gpt-4o-mini" in failed
    assert acct.key.removeprefix("sk-") not in "\n".join(lines)      # never the key


async def test_json_log_lines_with_one_worker(db: Database, upstream: MockOpenAI, tmp_path: Path) -> None:
    await _seed_root(db)
    acct = await add_account(db)
    cid = await add_channel(db, base_url=upstream.url)
    db_path = str(db.url.url).split("///", 1)[1]
    node = Node(tmp_path, {"SQLITE_PATH": db_path, "LOG_FORMAT": "json"}).wait()
    try:
        async with aiohttp.ClientSession() as http:
            upstream.script.status = 500
            status, failed_id = await post(http, node.url, acct.key, BODY)
            assert status == 500
            parsed = await scrape_when(http, node.url, 1)            # one worker: the in-memory registry
    finally:
        assert node.stop() == 0
    assert total(parsed, "oneapi_relay_requests_total", channel=str(cid), code="500") == 1
    records = [json.loads(line) for line in _log_lines(tmp_path)]
    [access] = [r for r in records if r["logger"] == "one-api.access"]
    assert access["request_id"] == failed_id and access["status"] == 500 and access["channel_id"] == cid
    assert access["method"] == "POST" and access["path"] == "/v1/chat/completions" and access["model"] == "gpt-4o-mini"
    assert isinstance(access["elapsed_ms"], int)
    assert {r["request_id"] for r in records if r["logger"] != "one-api.access"} >= {"-"}
