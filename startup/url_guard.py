"""Which addresses a fetch made on a user's behalf may reach: the guard against SSRF through image URLs.

Pure: the caller resolves names and asks about every address it is about to connect to (on every
redirect hop), so a name that resolves to loopback, a private network or the cloud metadata service
is refused as its literal would be. Only public unicast addresses pass, unless the operator
allow-lists a host name or a network (IMAGE_FETCH_ALLOW_HOSTS).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# spelled out rather than left to `is_global` alone, whose answer differs between Python versions
BLOCKED: tuple[tuple[IPNetwork, str], ...] = tuple((ipaddress.ip_network(net), why) for net, why in (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"), ("172.16.0.0/12", "private"), ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"), ("198.51.100.0/24", "documentation"), ("203.0.113.0/24", "documentation"),
    ("198.18.0.0/15", "benchmarking"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"), ("::1/128", "loopback"),
    ("100::/64", "discard"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"), ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_LEGACY_NUMERIC = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def parse_address(text: str) -> IPAddress | None:
    """The address a host literal names (brackets and an IPv6 zone dropped); None for a name."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and would reach (mapped, compatible, NAT64, 6to4)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def blocked(address: IPAddress) -> str | None:
    """Why a fetch must not connect to `address`; None for a public unicast address."""
    inner = embedded_ipv4(address)
    if inner is not None:
        reason = blocked(inner)
        return f"{address} carries {reason}" if reason else None
    for network, why in BLOCKED:
        if address in network:
            return f"{address} is {why} ({network})"
    if not address.is_global or address.is_multicast:
        return f"{address} is not a public address"
    return None


def normal_host(host: str) -> str:
    """A host name as compared: lower case, without the root's trailing dot."""
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class FetchPolicy:
    """Public addresses, plus what the operator allow-listed (which may be internal)."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()            # from "*.example.com": ".example.com" (subdomains only)

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> FetchPolicy:
        """From IMAGE_FETCH_ALLOW_HOSTS entries: addresses and CIDRs, host names, `*.` and a domain."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                names.add(normal_host(entry))
        return cls(tuple(networks), frozenset(n for n in names if not n.startswith("*.")),
                   tuple(n[1:] for n in names if n.startswith("*.")))

    def host_allowed(self, host: str) -> bool:
        """The operator trusts this name, whatever it resolves to."""
        host = normal_host(host)
        return host in self.names or any(host.endswith(domain) for domain in self.domains)

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why connecting to `address` (which `host` resolved to) is refused; None when allowed."""
        if self.host_allowed(host):
            return None
        plain = embedded_ipv4(address) or address
        if any(plain in network or address in network for network in self.networks):
            return None
        return blocked(address)

    def url_refusal(self, scheme: str, host: str | None) -> str | None:
        """What can be refused before any lookup: the scheme, a missing host, a literal address, and the
        legacy numeric forms (`2130706433`, `0x7f.1`) that the resolver library would turn into one."""
        if scheme not in ("http", "https"):
            return f"scheme {scheme!r} is not http(s)"
        if not host:
            return "no host"
        address = parse_address(host)
        if address is not None:
            return self.refusal(host, address)
        if _LEGACY_NUMERIC.match(normal_host(host).rsplit(".", 1)[-1]):
            return f"{host} is a numeric address in a legacy form"
        return None
