"""The guarded client lives in startup.guarded_fetch (admin_api's price import uses it too); re-exported here."""

from startup.guarded_fetch import REDIRECTS, FetchRefused, GuardedFetch, GuardedResolver

__all__ = ["REDIRECTS", "FetchRefused", "GuardedFetch", "GuardedResolver"]
