"""The `options` table: One API's defaults (one-api.md §10), loading and saving."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Option

DEFAULT_EMAIL_DOMAINS = "gmail.com,163.com,126.com,qq.com,outlook.com,hotmail.com,icloud.com,yahoo.com,foxmail.com"

# Values are strings, as stored. The ratio tables come from rules/ and are added by the caller.
DEFAULT_OPTIONS: dict[str, str] = {
    "PasswordLoginEnabled": "true",
    "PasswordRegisterEnabled": "true",
    "EmailVerificationEnabled": "false",
    "GitHubOAuthEnabled": "false",
    "OidcEnabled": "false",
    "WeChatAuthEnabled": "false",
    "TurnstileCheckEnabled": "false",
    "RegisterEnabled": "true",
    "EmailDomainRestrictionEnabled": "false",
    "EmailDomainWhitelist": DEFAULT_EMAIL_DOMAINS,
    "AutomaticDisableChannelEnabled": "false",
    "AutomaticEnableChannelEnabled": "false",
    "ApproximateTokenEnabled": "false",
    "LogConsumeEnabled": "true",
    "DisplayInCurrencyEnabled": "true",
    "DisplayTokenStatEnabled": "true",
    "ChannelDisableThreshold": "5",
    "SMTPServer": "",
    "SMTPPort": "587",
    "SMTPAccount": "",
    "SMTPFrom": "",
    "SMTPToken": "",
    "Notice": "",
    "About": "",
    "HomePageContent": "",
    "Footer": "",
    "SystemName": "One API",
    "Logo": "",
    "ServerAddress": "",
    "GitHubClientId": "",
    "GitHubClientSecret": "",
    "WeChatServerAddress": "",
    "WeChatServerToken": "",
    "WeChatAccountQRCodeImageURL": "",
    "MessagePusherAddress": "",
    "MessagePusherToken": "",
    "TurnstileSiteKey": "",
    "TurnstileSecretKey": "",
    "QuotaForNewUser": "0",
    "QuotaForInviter": "0",
    "QuotaForInvitee": "0",
    "QuotaRemindThreshold": "1000",
    "PreConsumedQuota": "500",
    "TopUpLink": "",
    "ChatLink": "",
    "QuotaPerUnit": "500000",
    "RetryTimes": "0",
    "Theme": "default",
}


async def load_options(session: AsyncSession, defaults: Mapping[str, str]) -> dict[str, str]:
    """Defaults, then every stored row on top."""
    merged = dict(defaults)
    rows = (await session.execute(select(Option.key, Option.value))).all()
    for key, value in rows:
        merged[key] = value or ""
    return merged


async def save_option(session: AsyncSession, key: str, value: str) -> None:
    async with session.begin():
        row = await session.get(Option, key)
        if row is None:
            session.add(Option(key=key, value=value))
        else:
            row.value = value


def as_bool(value: str | None) -> bool:
    """One API: only the string "true" is true."""
    return value == "true"


def as_int(value: str | None, default: int = 0) -> int:
    try:
        return int(float(value)) if value not in (None, "") else default
    except ValueError:
        return default


def as_float(value: str | None, default: float = 0.0) -> float:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default
