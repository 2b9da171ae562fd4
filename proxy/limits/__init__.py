"""Rate limits operators can sell (#17): RPM, TPM and concurrency per token, user, group and model.

`policy` decides (pure: which scopes apply, whether a request fits, the x-ratelimit-* headers); `windows` holds
the sliding windows in memory (one worker) or in the database (several workers or nodes).
"""

from proxy.limits.policy import GROUP_OPTION, GroupLimits, Limit, Refusal, Scope, parse_group_limits, scopes_for
from proxy.limits.windows import DatabaseWindows, LimitExceeded, MemoryWindows, Ticket, Windows, windows_for

__all__ = ["GROUP_OPTION", "DatabaseWindows", "GroupLimits", "Limit", "LimitExceeded", "MemoryWindows", "Refusal",
           "Scope", "Ticket", "Windows", "parse_group_limits", "scopes_for", "windows_for"]
