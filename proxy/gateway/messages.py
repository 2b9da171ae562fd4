"""The relay's own error messages in Chinese (One API's words, the default) or English (LANGUAGE=en).

One catalogue, so a message is worded once and never names a function of the code. The language is a process
setting, chosen once by `use` when the proxy app is made (like a locale), and read by `say` on each refusal.
"""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("zh", "en")

# key → (Chinese, English); `{name}` fields are filled by `say`
CATALOGUE: Final[dict[str, tuple[str, str]]] = {
    "no_token": ("未提供令牌", "No API key provided (send it as Authorization: Bearer sk-...)"),
    "invalid_token": ("无效的令牌", "Invalid API key"),
    "token_exhausted": ("令牌 {name}（#{id}）额度已用尽", "API key {name} (#{id}) has used up its quota"),
    "token_expired": ("该令牌已过期", "This API key has expired"),
    "token_unavailable": ("该令牌状态不可用", "This API key is disabled"),
    "token_quota_used": ("该令牌额度已用尽", "This API key has used up its quota"),
    "token_subnet": ("该令牌只能在指定网段使用：{subnet}，当前 ip：{ip}",
                     "This API key may only be used from {subnet}; this request came from {ip}"),
    "user_banned": ("用户已被封禁", "The user of this API key is banned"),
    "pin_not_admin": ("普通用户不支持指定渠道", "Only administrators may choose a channel"),
    "invalid_channel_id": ("无效的渠道 Id", "Invalid channel id"),
    "channel_disabled": ("该渠道已被禁用", "The channel is disabled"),
    "model_forbidden": ("该令牌无权使用模型：{model}", "This API key may not use the model {model}"),
    "model_not_found": ("当前分组 {group} 下没有渠道提供模型 {model}，请检查模型名称",
                        "The model `{model}` does not exist or no channel of group {group} serves it"),
    "no_channel": ("当前分组 {group} 下对于模型 {model} 无可用渠道",
                   "No channel of group {group} is available for the model {model} now: every one is disabled "
                   "or failed, try again later"),
    "body_empty": ("请求体为空，需要一个 JSON 对象", "The request body is empty; a JSON object is expected"),
    "body_not_json": ("请求体不是有效的 JSON：{detail}", "The request body is not valid JSON: {detail}"),
    "body_not_object": ("请求体必须是 JSON 对象", "The request body must be a JSON object"),
    "saturated": ("当前分组上游负载已饱和，请稍后再试", "The upstreams of this group are saturated, try again later"),
    "token_quota_short": ("令牌额度不足", "The API key's remaining quota is not enough for this request"),
    "user_quota_short": ("用户额度不足", "The user's remaining quota is not enough for this request"),
}

_language = "zh"


def use(language: str) -> None:
    """Choose the language of every message from now on ("zh" or "en"; anything else is Chinese)."""
    global _language
    _language = language if language in LANGUAGES else "zh"


def language() -> str:
    return _language


def say(key: str, **fields: object) -> str:
    """The message `key` in the chosen language, its `{fields}` filled."""
    zh, en = CATALOGUE[key]
    return (en if _language == "en" else zh).format(**fields)
