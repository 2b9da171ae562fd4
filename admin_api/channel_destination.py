"""Where a channel sends its key, and who may change that.

A channel's key goes to the host its `base_url` names, or to its type's default host, or (AWS
Bedrock, Vertex AI) to a host built from its config `region`. Whoever changes one of these decides
where the stored key is sent next: by the channel test, the balance query and all relay traffic.
So a non-root admin may change them only while replacing the key in the same request, and the
config's secrets too when it holds some (channel_secrets); root may always. Pure functions: the
route applies them under the channel's row lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from admin_api import channel_secrets
from store.models import ROLE_ROOT, Channel

KEY_REQUIRED = ("修改渠道的 Base URL、类型或区域（region）会把密钥发往新的地址：请在同一请求中重新填写密钥"
                "（配置中保存了 sk 或 vertex_ai_adc 时也须重新填写），或由超级管理员修改")
CONFIG_HOST_KEYS = ("region",)   # config entries that build the upstream host (aws, vertexai)


@dataclass(frozen=True)
class Change:
    """One destination field of a channel, from what to what."""

    field: str
    old: str
    new: str


def _base(url: str | None) -> str:
    """A base URL as the proxy uses it (trailing slashes dropped)."""
    return (url or "").strip().rstrip("/")


def destination_changes(channel: Channel, values: dict[str, Any]) -> list[Change]:
    """The changes in `values` (the fields an update writes) to where `channel`'s key is sent."""
    changes = []
    if "base_url" in values and _base(values["base_url"]) != _base(channel.base_url):
        changes.append(Change("base_url", channel.base_url or "", values["base_url"] or ""))
    if "type" in values and values["type"] != channel.type:
        changes.append(Change("type", str(channel.type), str(values["type"])))
    if "config" in values:
        old, new = channel_secrets.parse(channel.config), channel_secrets.parse(values["config"])
        for name in CONFIG_HOST_KEYS:
            if str(old.get(name) or "") != str(new.get(name) or ""):
                changes.append(Change(f"config.{name}", str(old.get(name) or ""), str(new.get(name) or "")))
    return changes


def may_change(role: int, changes: list[Change], channel: Channel, values: dict[str, Any]) -> bool:
    """Root may always; anyone else only while re-entering the key and the config's stored secrets."""
    if not changes or role >= ROLE_ROOT:
        return True
    given = set(channel_secrets.secrets_in(values.get("config")))
    return bool(values.get("key", "").strip()) and set(channel_secrets.secrets_in(channel.config)) <= given


def audit_text(channel: Channel, changes: list[Change], key_replaced: bool) -> str:
    """The manage log line of a destination change."""
    parts = "；".join(f"{c.field} 从 {c.old!r} 修改为 {c.new!r}" for c in changes)
    suffix = "，同时更换了密钥" if key_replaced else "，密钥未变"
    return f"修改渠道 #{channel.id}（{channel.name or ''}）：{parts}{suffix}"
