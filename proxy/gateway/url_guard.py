"""The SSRF guard lives in startup.url_guard (admin_api's price import uses it too); re-exported for the proxy."""

from startup.url_guard import (
    BLOCKED,
    FetchPolicy,
    IPAddress,
    IPNetwork,
    blocked,
    embedded_ipv4,
    normal_host,
    parse_address,
)

__all__ = ["BLOCKED", "FetchPolicy", "IPAddress", "IPNetwork", "blocked", "embedded_ipv4", "normal_host",
           "parse_address"]
