"""The option catalog of one-api.md §10: defaults, which keys are secret, validation before saving."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from rules import COMPONENT_OPTIONS, TIER_OPTION, load_prices, ratio_table, tier_table
from rules.rate_limits import GROUP_OPTION, group_limits_error
from store import DEFAULT_OPTIONS, Database, as_bool, as_float, as_int, load_options

# Ours, not One API's: provider endpoints it hard-codes, overridable so tests (and proxies) can redirect them.
ENDPOINT_DEFAULTS = {
    "GitHubTokenEndpoint": "https://github.com/login/oauth/access_token",
    "GitHubUserEndpoint": "https://api.github.com/user",
    "LarkTokenEndpoint": "https://open.feishu.cn/open-apis/authen/v2/oauth/token",
    "LarkUserinfoEndpoint": "https://passport.feishu.cn/suite/passport/oauth/userinfo",
    "TurnstileVerifyEndpoint": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
}
# Ours (#16): whether GET /api/pricing answers callers who are not logged in.
PRICING_DEFAULTS = {"PublicPricingEnabled": "false"}
# Keys One API accepts but only lists once saved.
LATE_KEYS = ("LarkClientId", "LarkClientSecret", "OidcClientId", "OidcClientSecret", "OidcWellKnown",
             "OidcAuthorizationEndpoint", "OidcTokenEndpoint", "OidcUserinfoEndpoint")
RATIO_KEYS = ("ModelRatio", "GroupRatio", "CompletionRatio")
PART_KEYS = tuple(COMPONENT_OPTIONS.values())     # per-model part prices, multiples of the input price (#16)
INT_KEYS = ("QuotaForNewUser", "QuotaForInviter", "QuotaForInvitee", "QuotaRemindThreshold",
            "PreConsumedQuota", "RetryTimes")
URL_KEYS = ("ServerAddress", "OidcWellKnown", "OidcAuthorizationEndpoint", "OidcTokenEndpoint",
            "OidcUserinfoEndpoint", "WeChatServerAddress", "MessagePusherAddress", *ENDPOINT_DEFAULTS)
# Enabling the first key needs the second filled in (One API's pre-checks, plus OIDC).
REQUIRES = {
    "GitHubOAuthEnabled": ("GitHubClientId",
                           "无法启用 GitHub OAuth，请先填入 GitHub Client Id 以及 GitHub Client Secret！"),
    "EmailDomainRestrictionEnabled": ("EmailDomainWhitelist", "无法启用邮箱域名限制，请先填入限制的邮箱域名！"),
    "WeChatAuthEnabled": ("WeChatServerAddress", "无法启用微信登录，请先填入微信登录相关配置信息！"),
    "TurnstileCheckEnabled": ("TurnstileSiteKey", "无法启用 Turnstile 校验，请先填入 Turnstile 校验相关配置信息！"),
    "OidcEnabled": ("OidcClientId", "无法启用 OIDC 登录，请先填入 OIDC Client Id 以及 OIDC Client Secret！"),
}


def _defaults() -> dict[str, str]:
    prices = load_prices()
    return {**DEFAULT_OPTIONS, "ModelRatio": prices.default_model_ratio_json(),
            "GroupRatio": prices.default_group_ratio_json(),
            "CompletionRatio": prices.default_completion_ratio_json(), **prices.default_component_options(),
            **ENDPOINT_DEFAULTS, **PRICING_DEFAULTS,
            GROUP_OPTION: "{}"}   # ours (#17): rate limits per group and per model within a group


ALL_DEFAULTS: dict[str, str] = _defaults()
KNOWN_KEYS = frozenset(ALL_DEFAULTS) | frozenset(LATE_KEYS)


def is_secret(key: str) -> bool:
    """Hidden from GET /api/option/: One API hides *Token and *Secret; we also hide TurnstileSecretKey."""
    return key.endswith(("Token", "Secret", "SecretKey", "Password"))


class Options(Mapping[str, str]):
    """A snapshot of every option (defaults, then stored rows) with typed readers."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def text(self, key: str) -> str:
        return self._values.get(key, "") or ""

    def flag(self, key: str) -> bool:
        return as_bool(self._values.get(key))

    def integer(self, key: str, default: int = 0) -> int:
        return as_int(self._values.get(key), default)

    def number(self, key: str, default: float = 0.0) -> float:
        return as_float(self._values.get(key), default)

    def quota_text(self, quota: int) -> str:
        """An amount as log contents show it: dollars when DisplayInCurrencyEnabled, else points."""
        if self.flag("DisplayInCurrencyEnabled"):
            return f"＄{quota / (self.number('QuotaPerUnit', 500000.0) or 500000.0):.6f} 额度"
        return f"{quota} 点额度"

    def ratio_map(self, key: str) -> dict[str, float]:
        try:
            value = orjson.loads(self.text(key) or "{}")
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}


async def current(db: Database) -> Options:
    async with db.session() as session:
        return Options(await load_options(session, ALL_DEFAULTS))


def _check_ratio(value: str) -> str | None:
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return f"JSON 解析失败：{exc}"
    if not isinstance(parsed, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for k, v in parsed.items()):
        return "倍率必须是一个从名称到数字的 JSON 对象"
    return None


def _check_parts(parse: Callable[[Any], object]) -> Callable[[str], str | None]:
    """A part-price option (rules.components): valid JSON its parser accepts."""
    def check(value: str) -> str | None:
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            return f"JSON 解析失败：{exc}"
        problem = parse(parsed)
        return problem if isinstance(problem, str) else None
    return check


def _check_int(value: str) -> str | None:
    return None if value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 19 else "必须是非负整数"


def _check_number(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "必须是数字"
    return None if math.isfinite(number) and number >= 0 else "必须是非负数"


def _check_url(value: str) -> str | None:
    return None if not value or value.startswith(("http://", "https://")) else "必须是 http:// 或 https:// 开头的地址"


def _value_checker(key: str) -> Callable[[str], str | None] | None:
    if key.endswith("Enabled"):
        return lambda v: None if v in ("true", "false") else "必须是 true 或 false"
    if key in RATIO_KEYS:
        return _check_ratio
    if key in PART_KEYS:
        return _check_parts(ratio_table)
    if key == TIER_OPTION:
        return _check_parts(tier_table)
    if key in INT_KEYS:
        return _check_int
    if key in ("ChannelDisableThreshold", "QuotaPerUnit"):
        return _check_number
    if key == "SMTPPort":
        return lambda v: None if v.isascii() and v.isdigit() and 0 < int(v) < 65536 else "端口必须在 1-65535 之间"
    if key == "Theme":
        return lambda v: None if v in ("default", "berry", "air") else "无效的主题"
    if key in URL_KEYS:
        return _check_url
    if key == GROUP_OPTION:
        return group_limits_error
    return None


def validate(key: str, value: str, options: Options) -> str | None:
    """The refusal message for saving `key = value`, or None if it may be saved."""
    if key not in KNOWN_KEYS:
        return f"未知的配置项：{key}"
    if "\x00" in value:
        return "无效的参数"
    checker = _value_checker(key)
    problem = checker(value) if checker else None
    if problem:
        return f"{key}：{problem}"
    if key in REQUIRES and value == "true":
        needed, message = REQUIRES[key]
        if not options.text(needed):
            return message
    return None
