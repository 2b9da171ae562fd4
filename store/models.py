"""SQLAlchemy models with One API's table names, column names, types, defaults and indexes (one-api.md §11).

Types are the portable ones GORM picks, so an existing One API database opens unchanged:
indexed strings are VARCHAR(191) (GORM's size for indexed strings on MySQL), other strings TEXT.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CHAR, BigInteger, Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

IDX = 191  # GORM's VARCHAR size for indexed strings on MySQL


class Char(TypeDecorator[str]):
    """CHAR(n) as One API declares it; PostgreSQL pads shorter values with spaces, so strip them on read."""

    impl = CHAR
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        return value.rstrip(" ") if isinstance(value, str) else value


class Base(DeclarativeBase):
    pass


class LogBase(DeclarativeBase):
    """The logs table has its own metadata so it can live in LOG_SQL_DSN's database."""


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(IDX), unique=True, index=True)
    password: Mapped[str] = mapped_column(Text, nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    role: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    status: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    email: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    github_id: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    wechat_id: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    lark_id: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    oidc_id: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    access_token: Mapped[str | None] = mapped_column(Char(32), unique=True, index=True, nullable=True)
    quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    used_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    request_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    group: Mapped[str] = mapped_column(String(32), default="default", server_default=text("'default'"))
    aff_code: Mapped[str | None] = mapped_column(String(32), unique=True, index=True, nullable=True)
    inviter_id: Mapped[int | None] = mapped_column(Integer, index=True, default=0)
    # Ours (#17), nullable so an existing One API table gets them added: 0 or NULL = unlimited
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    tpm_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    max_parallel_requests: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    budgets: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)   # JSON [{period, quota}]


class Token(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(Char(48), unique=True, index=True)
    status: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    created_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    accessed_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    expired_time: Mapped[int] = mapped_column(BigInteger, default=-1, server_default=text("-1"))
    remain_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    unlimited_quota: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    used_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    models: Mapped[str | None] = mapped_column(Text, nullable=True)
    subnet: Mapped[str | None] = mapped_column(Text, nullable=True, default="")
    # Ours (#17), as on users: 0 or NULL = unlimited
    rpm_limit: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    tpm_limit: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    max_parallel_requests: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    budgets: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)   # JSON [{period, quota}]


class Channel(Base):
    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    key: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    weight: Mapped[int | None] = mapped_column(Integer, default=0, server_default=text("0"), nullable=True)
    created_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    test_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    response_time: Mapped[int | None] = mapped_column(Integer, default=0)
    base_url: Mapped[str | None] = mapped_column(Text, default="", nullable=True)
    other: Mapped[str | None] = mapped_column(Text, nullable=True, default="")
    balance: Mapped[float | None] = mapped_column(Float, default=0.0)
    balance_updated_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    models: Mapped[str | None] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(32), default="default", server_default=text("'default'"))
    used_quota: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    model_mapping: Mapped[str | None] = mapped_column(String(1024), default="", nullable=True)
    priority: Mapped[int | None] = mapped_column(BigInteger, default=0, server_default=text("0"), nullable=True)
    config: Mapped[str | None] = mapped_column(Text, default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)


class Ability(Base):
    __tablename__ = "abilities"

    group: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(IDX), primary_key=True)
    channel_id: Mapped[int] = mapped_column(Integer, primary_key=True, index=True, autoincrement=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int | None] = mapped_column(BigInteger, default=0, server_default=text("0"), index=True)


class Redemption(Base):
    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(Integer, default=0)
    key: Mapped[str] = mapped_column(Char(32), unique=True, index=True)
    status: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="")
    quota: Mapped[int] = mapped_column(BigInteger, default=100, server_default=text("100"))
    created_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    redeemed_time: Mapped[int | None] = mapped_column(BigInteger, default=0)


class Option(Base):
    __tablename__ = "options"

    key: Mapped[str] = mapped_column(String(IDX), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text, default="")


class RateScope(Base):
    """Ours (#17): one row per limited scope (a token, a user, a user's model), locked while its window is
    checked and written, so nodes admit one request of a scope at a time."""

    __tablename__ = "rate_scopes"

    scope: Mapped[str] = mapped_column(String(IDX), primary_key=True)
    checks: Mapped[int] = mapped_column(BigInteger, default=0)   # bumped to take the lock


class RateEvent(Base):
    """Ours (#17): one admitted request of one scope: when, its tokens (the estimate, then the real count) and
    until when it holds a concurrency slot (0 once it ended)."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("idx_rate_events_scope_at", "scope", "at_ms"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    scope: Mapped[str] = mapped_column(String(IDX))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    lease_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetWindow(Base):
    """Ours (#17): what a budget (a token's or a user's, one per period) spent in its current window."""

    __tablename__ = "budget_windows"

    scope: Mapped[str] = mapped_column(String(IDX), primary_key=True)   # "t:<id>:<period>", "u:<id>:<period>"
    start: Mapped[int] = mapped_column(BigInteger, default=0)             # the window's start, Unix seconds
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class Log(LogBase):
    __tablename__ = "logs"
    __table_args__ = (
        Index("idx_created_at_type", "created_at", "type"),
        Index("index_username_model_name", "model_name", "username"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True, default=0)
    created_at: Mapped[int | None] = mapped_column(BigInteger, default=0)
    type: Mapped[int | None] = mapped_column(Integer, default=0)
    content: Mapped[str | None] = mapped_column(Text, default="")
    username: Mapped[str | None] = mapped_column(String(IDX), default="", server_default=text("''"))
    token_name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="", server_default=text("''"))
    model_name: Mapped[str | None] = mapped_column(String(IDX), index=True, default="", server_default=text("''"))
    quota: Mapped[int | None] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, default=0)
    channel_id: Mapped[int | None] = mapped_column(Integer, index=True, default=0)
    request_id: Mapped[str | None] = mapped_column(String(IDX), default="", server_default=text("''"))
    elapsed_time: Mapped[int | None] = mapped_column(BigInteger, default=0)
    is_stream: Mapped[bool | None] = mapped_column(Boolean, default=False)
    system_prompt_reset: Mapped[bool | None] = mapped_column(Boolean, default=False)
    # Ours, not One API's: how prompt/completion counts were obtained ("upstream", "counted", "estimated").
    # Added to existing databases as a nullable column; One API ignores it.
    usage_source: Mapped[str | None] = mapped_column(String(16), nullable=True, default=None)
    # Ours: the usage parts and how the charge adds up (JSON: tokens per part, cache reads and writes, reasoning,
    # audio; each part's ratio, list price and quota; model and group ratio, tier, parts billed as another), so a
    # reseller can check the charge against the provider's list price. Nullable, added to existing databases.
    usage_detail: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)


# Status and role values (one-api.md §3, §9.1, §11)
ROLE_GUEST, ROLE_COMMON, ROLE_ADMIN, ROLE_ROOT = 0, 1, 10, 100
USER_ENABLED, USER_DISABLED, USER_DELETED = 1, 2, 3
TOKEN_ENABLED, TOKEN_DISABLED, TOKEN_EXPIRED, TOKEN_EXHAUSTED = 1, 2, 3, 4
CHANNEL_UNKNOWN, CHANNEL_ENABLED, CHANNEL_MANUALLY_DISABLED, CHANNEL_AUTO_DISABLED = 0, 1, 2, 3
REDEMPTION_ENABLED, REDEMPTION_DISABLED, REDEMPTION_USED = 1, 2, 3
LOG_TOPUP, LOG_CONSUME, LOG_MANAGE, LOG_SYSTEM, LOG_TEST = 1, 2, 3, 4, 5
