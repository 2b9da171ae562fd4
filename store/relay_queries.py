"""The reads the relay needs when its caches miss, and the channel health writes it makes."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store import channel_notices, events
from store.engine import write_transaction
from store.models import CHANNEL_ENABLED, TOKEN_ENABLED, TOKEN_EXHAUSTED, TOKEN_EXPIRED, Ability, Channel, Token, User
from store.results import rowcount


async def token_by_key(session: AsyncSession, key: str) -> Token | None:
    return (await session.execute(select(Token).where(Token.key == key))).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def channel_by_id(session: AsyncSession, channel_id: int) -> Channel | None:
    return await session.get(Channel, channel_id)


async def routable(session: AsyncSession) -> list[tuple[str, str, Channel]]:
    """(group, model, channel) for every enabled ability of an enabled channel."""
    stmt = (select(Ability.group, Ability.model, Channel)
            .join(Channel, Channel.id == Ability.channel_id)
            .where(Ability.enabled.is_(True), Channel.status == CHANNEL_ENABLED))
    return [(g, m, c) for g, m, c in (await session.execute(stmt)).all()]


async def served_models(session: AsyncSession) -> set[tuple[str, str]]:
    """(group, model) of every ability, enabled or not: what some channel serves, even if none can now."""
    stmt = select(Ability.group, Ability.model).distinct()
    return {(g, m) for g, m in (await session.execute(stmt)).all()}


async def mark_token_unusable(session: AsyncSession, token_id: int, status: int, now: int) -> bool:
    """An enabled token refused for its expiry or its quota gets that status (3 expired, 4 exhausted), as One
    API's ValidateUserToken writes it, so the console shows why. Only while the row itself is past its expiry or
    out of quota: a token an admin just renewed is never marked. A change event tells every worker."""
    if status == TOKEN_EXPIRED:
        why = (Token.expired_time != -1) & (Token.expired_time < now)
    elif status == TOKEN_EXHAUSTED:
        why = Token.unlimited_quota.is_not(True) & (Token.remain_quota <= 0)
    else:
        raise ValueError(f"not a refusal status: {status}")
    async with write_transaction(session):
        result = await session.execute(update(Token).where(Token.id == token_id, Token.status == TOKEN_ENABLED, why)
                                       .values(status=status))
        if not rowcount(result):
            return False
        events.record(session, events.TOKEN, token_id)
    return True


async def set_channel_status(session: AsyncSession, channel_id: int, status: int, reason: str = "") -> bool:
    """Channel status and its abilities' `enabled` flag together, plus the change event and root's notice.

    Only a real change counts (False if the channel already had `status`), so of several
    processes disabling the same channel at once exactly one records the notice.
    """
    async with write_transaction(session):
        result = await session.execute(update(Channel).where(Channel.id == channel_id, Channel.status != status)
                                       .values(status=status))
        if not rowcount(result):
            return False
        await session.execute(update(Ability).where(Ability.channel_id == channel_id)
                              .values(enabled=status == CHANNEL_ENABLED))
        events.record(session, events.CHANNEL, channel_id)
        notice = channel_notices.ENABLED if status == CHANNEL_ENABLED else channel_notices.DISABLED
        channel_notices.record(session, notice, channel_id, reason)
    return True
