"""Testing a channel (one-api.md §6.4) by sending a real chat request through the proxy, pinned to it.

admin_api never imports the proxy: it calls the public port like any client, with the key
`sk-<system token>-<channel id>` of a root-owned token named "channel-test".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from admin_api import audit
from admin_api.state import AdminState
from store import channels, tokens, users
from store.models import LOG_TEST, Channel

SYSTEM_TOKEN_NAME = "channel-test"
DEFAULT_MODEL = "gpt-3.5-turbo"


@dataclass(frozen=True)
class ProbeResult:
    """How a test went: `error` holds the OpenAI-style error object when the proxy returned one."""

    ok: bool
    message: str
    seconds: float
    model: str
    error: dict[str, Any] | None = None


def pick_model(channel: Channel, requested: str) -> str:
    """The requested model if it is a substring of the channel's model list, else its first model."""
    wanted = requested or DEFAULT_MODEL
    if wanted in (channel.models or ""):
        return wanted
    first = (channel.models or "").split(",")[0].strip()
    return first or wanted


async def _system_key(state: AdminState) -> str:
    async with state.db.session() as s:
        root = await users.first_root(s)
        if root is None:
            raise RuntimeError("no enabled root user owns the channel-test token")
        root_id = root.id
    async with state.db.session() as s:
        return (await tokens.system_token(s, root_id, SYSTEM_TOKEN_NAME)).key


def _read_reply(status: int, raw: bytes) -> tuple[str | None, str, dict[str, Any] | None]:
    """(reply, problem, error object) from the proxy's answer."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    if status != 200:
        message = (error or {}).get("message") or raw[:200].decode("utf-8", "replace")
        return None, f"http status code {status}, error message: {message}", error
    try:
        content = body["choices"][0]["message"]["content"]
    except (TypeError, KeyError, IndexError):
        return None, "响应中没有可用的回复", error
    if not isinstance(content, str):
        return None, "响应中没有可用的回复", error
    return content, "", None


async def _send(state: AdminState, key: str, channel: Channel, model: str) -> tuple[str | None, str, Any]:
    url = f"http://127.0.0.1:{state.settings.port}/v1/chat/completions"
    body = {"model": model, "messages": [{"role": "user", "content": state.settings.test_prompt}], "stream": False}
    timeout = aiohttp.ClientTimeout(total=state.settings.relay_timeout or 120)
    headers = {"Authorization": f"Bearer sk-{key}-{channel.id}", "Content-Type": "application/json"}
    try:
        async with state.client().post(url, data=orjson.dumps(body), headers=headers, timeout=timeout) as answer:
            return _read_reply(answer.status, await answer.read())
    except (aiohttp.ClientError, TimeoutError) as exc:
        return None, f"请求代理失败：{exc or type(exc).__name__}", None


async def probe(state: AdminState, channel: Channel, requested_model: str) -> ProbeResult:
    """Send the test request, then record response time, test time and the type-5 log row."""
    model = pick_model(channel, requested_model)
    started = time.perf_counter()
    reply, problem, error = await _send(state, await _system_key(state), channel, model)
    elapsed = time.perf_counter() - started
    ok = reply is not None
    async with state.db.session() as s:
        await channels.record_test(s, channel.id, int(elapsed * 1000) if ok else 0, int(time.time()))
    content = (f"渠道 {channel.name} 测试成功，响应：{reply}" if ok
               else f"渠道 {channel.name} 测试失败，错误：{problem}")
    await audit.record(state, 0, LOG_TEST, content, channel_id=channel.id, model_name=model,
                       elapsed_time=int(elapsed * 1000))
    return ProbeResult(ok, (reply if ok else problem) or "", elapsed, model, error)
