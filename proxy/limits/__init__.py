"""Rate limits operators can sell (#17): RPM, TPM and concurrency per token, user, group and model.

`policy` decides (pure: which scopes apply, whether a request fits, the x-ratelimit-* headers); `windows` holds
the sliding windows in memory (one worker; the ledger owner's for several SQLite workers, see
proxy.ledger.remote_limits) or in the database (MySQL/PostgreSQL), whose refusals `redis_refusals` remembers in
Redis when it is configured; `budgets` holds budgets that reset.
"""

from proxy.limits.choice import windows_for
from proxy.limits.policy import GROUP_OPTION, GroupLimits, Limit, Refusal, Scope, parse_group_limits, scopes_for
from proxy.limits.redis_refusals import RedisRefusals
from proxy.limits.windows import DatabaseWindows, LimitExceeded, MemoryWindows, Ticket, Windows

__all__ = ["GROUP_OPTION", "DatabaseWindows", "GroupLimits", "Limit", "LimitExceeded", "MemoryWindows",
           "RedisRefusals", "Refusal", "Scope", "Ticket", "Windows", "parse_group_limits", "scopes_for",
           "windows_for"]
