"""The SSRF guard of user-supplied URLs: which addresses are internal, what the allow-list opens, and the
IMAGE_FETCH_* settings."""

from __future__ import annotations

import ipaddress

import pytest

from settings import SettingsError, load_settings
from startup.url_guard import FetchPolicy, blocked

INTERNAL = [
    "127.0.0.1", "127.255.0.9", "::1",                                   # loopback
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",   # private
    "169.254.169.254", "169.254.0.1", "fe80::1",                         # link-local, cloud metadata
    "0.0.0.0", "0.1.2.3", "::",                                          # "this host"
    "100.64.0.1", "100.127.255.255",                                     # carrier-grade NAT
    "224.0.0.1", "239.1.1.1", "ff02::1",                                 # multicast
    "240.0.0.1", "255.255.255.255", "192.0.0.8", "192.0.2.1", "198.18.0.1", "fec0::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",     # IPv4-mapped
    "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a9fe:a9fe::",   # compatible, NAT64, 6to4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",                              # Teredo
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111",
          "::ffff:8.8.8.8", "64:ff9b::808:808", "2a00:1450:4001:82a::200e"]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused(address: str) -> None:
    assert blocked(ipaddress.ip_address(address))
    assert FetchPolicy().refusal("images.example", ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address: str) -> None:
    assert blocked(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "::ffff:7f00:1", "fe80::1%25eth0",
                                  "127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "0x7f000001", "localhost.0"])
def test_literal_and_legacy_numeric_hosts_are_refused_before_any_lookup(host: str) -> None:
    assert FetchPolicy().url_refusal("http", host)


@pytest.mark.parametrize("scheme,host", [("file", "etc"), ("gopher", "example.com"), ("ftp", "example.com"),
                                         ("http", None), ("https", "")])
def test_only_http_urls_with_a_host(scheme: str, host: str | None) -> None:
    assert FetchPolicy().url_refusal(scheme, host)


def test_names_and_public_literals_go_on_to_the_lookup() -> None:
    policy = FetchPolicy()
    assert policy.url_refusal("https", "images.example.com") is None
    assert policy.url_refusal("http", "8.8.8.8") is None
    assert policy.url_refusal("http", "2606:4700:4700::1111") is None


def test_the_allow_list_opens_exactly_what_it_names() -> None:
    policy = FetchPolicy.allowing(load_settings(
        {"IMAGE_FETCH_ALLOW_HOSTS": " 127.0.0.1 , 10.0.0.0/8,Images.Internal,*.corp.example,fd00::/8"}, []
    ).image_fetch_allow_hosts)
    addr = ipaddress.ip_address
    assert policy.refusal("x", addr("127.0.0.1")) is None
    assert policy.refusal("x", addr("::ffff:127.0.0.1")) is None     # the same address, mapped
    assert policy.refusal("x", addr("127.0.0.2"))
    assert policy.refusal("x", addr("10.20.30.40")) is None
    assert policy.refusal("x", addr("fd00::5")) is None
    assert policy.refusal("x", addr("169.254.169.254"))
    assert policy.refusal("images.internal.", addr("192.168.0.7")) is None    # a trusted name, any address
    assert policy.refusal("a.b.corp.example", addr("192.168.0.7")) is None
    assert policy.refusal("corp.example", addr("192.168.0.7"))                # "*." means subdomains only
    assert policy.refusal("evilcorp.example", addr("192.168.0.7"))
    assert policy.url_refusal("http", "127.0.0.1") is None


def test_settings_defaults_and_bad_values() -> None:
    s = load_settings({}, [])
    assert (s.image_fetch_enabled, s.image_fetch_allow_hosts) == (True, ())
    assert load_settings({"IMAGE_FETCH_ENABLED": "false"}, []).image_fetch_enabled is False
    for bad in ("http://images.internal", "10.0.0.0/33", "a b", "*"):
        with pytest.raises(SettingsError, match="IMAGE_FETCH_ALLOW_HOSTS"):
            load_settings({"IMAGE_FETCH_ALLOW_HOSTS": bad}, [])
