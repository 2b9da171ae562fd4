"""The JSON shapes of One API's Go structs, with the secrets this API never returns left blank."""

from __future__ import annotations

from typing import Any

import orjson

from admin_api import channel_secrets
from store.models import Channel, Log, Redemption, Token, User


def user_json(user: User) -> dict[str, Any]:
    """A user as One API's struct shows it, but never its password hash or access token."""
    return {
        "id": user.id, "username": user.username, "password": "", "display_name": user.display_name or "",
        "role": user.role, "status": user.status, "email": user.email or "", "github_id": user.github_id or "",
        "wechat_id": user.wechat_id or "", "lark_id": user.lark_id or "", "oidc_id": user.oidc_id or "",
        "verification_code": "", "access_token": "", "quota": user.quota, "used_quota": user.used_quota,
        "request_count": user.request_count, "group": user.group, "aff_code": user.aff_code or "",
        "inviter_id": user.inviter_id or 0,
    }


def login_json(user: User) -> dict[str, Any]:
    """The login answer: id, names, role and status; every other field zero (as One API)."""
    blank = user_json(User(id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                           status=user.status, quota=0, used_quota=0, request_count=0, group=""))
    return blank


def token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id, "user_id": token.user_id, "key": token.key, "status": token.status,
        "name": token.name or "", "created_time": token.created_time or 0,
        "accessed_time": token.accessed_time or 0, "expired_time": token.expired_time,
        "remain_quota": token.remain_quota, "unlimited_quota": bool(token.unlimited_quota),
        "used_quota": token.used_quota, "models": token.models, "subnet": token.subnet,
    }


def channel_json(channel: Channel) -> dict[str, Any]:
    """A channel with its key and config secrets left blank: they are write-only through this API."""
    return {
        "id": channel.id, "type": channel.type, "key": "", "status": channel.status, "name": channel.name or "",
        "weight": channel.weight, "created_time": channel.created_time or 0, "test_time": channel.test_time or 0,
        "response_time": channel.response_time or 0, "base_url": channel.base_url, "other": channel.other,
        "balance": channel.balance or 0.0, "balance_updated_time": channel.balance_updated_time or 0,
        "models": channel.models or "", "group": channel.group, "used_quota": channel.used_quota,
        "model_mapping": channel.model_mapping, "priority": channel.priority,
        "config": channel_secrets.public(channel.config),
        "system_prompt": channel.system_prompt,
    }


def redemption_json(code: Redemption) -> dict[str, Any]:
    return {
        "id": code.id, "user_id": code.user_id or 0, "key": code.key, "status": code.status,
        "name": code.name or "", "quota": code.quota, "created_time": code.created_time or 0,
        "redeemed_time": code.redeemed_time or 0, "count": 0,
    }


def log_json(row: Log, hide_id: bool = False) -> dict[str, Any]:
    """A log row; a user's own rows come without their id, as One API omits it."""
    return {
        "id": 0 if hide_id else row.id, "user_id": row.user_id or 0, "created_at": row.created_at or 0,
        "type": row.type or 0, "content": row.content or "", "username": row.username or "",
        "token_name": row.token_name or "", "model_name": row.model_name or "", "quota": row.quota or 0,
        "prompt_tokens": row.prompt_tokens or 0, "completion_tokens": row.completion_tokens or 0,
        "channel": row.channel_id or 0, "request_id": row.request_id or "", "elapsed_time": row.elapsed_time or 0,
        "is_stream": bool(row.is_stream), "system_prompt_reset": bool(row.system_prompt_reset),
        "usage_source": row.usage_source or "", "usage_detail": _detail(row.usage_detail),
    }


def _detail(text: str | None) -> dict[str, Any] | None:
    """A row's usage breakdown (ours, #16) as an object; None for rows without one (One API's, older ones)."""
    if not text:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
