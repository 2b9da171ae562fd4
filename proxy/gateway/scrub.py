"""What a client may read of an upstream's error: the channel's keys, key-like secrets and addresses redacted.

An upstream that refuses a key often echoes it ("Incorrect API key provided: sk-..."), a connection error
names the host and port behind the gateway ("Cannot connect to host 10.0.0.7:8000"), and composite keys
(`ak|sk|region`, `appid|secret|key`, a service-account JSON) leak part by part. Pure functions; the caller
logs the full text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import orjson

REDACTED = "[redacted]"
MIN_SECRET = 8     # a whole key (or one line of several) this long or longer is redacted
MIN_PART = 16      # parts of a composite key: shorter ones (a region, an app id) are not secrets and too common

# key-looking secrets: OpenAI/Anthropic/DeepSeek `sk-`, Google `AIza`, AWS access key ids; `Bearer <token>`
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}")
_KEY_LIKE = re.compile(
    r"\b(?:sk|rk|pk)[-_][A-Za-z0-9_\-*.]{6,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{12,}")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])(?::\d{1,5}\b)?")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.%\w]*:[0-9A-Fa-f:.%\w]*\](?::\d{1,5}\b)?"
                   r"|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]{0,15}(?![\w:])")
# a socket address as Python prints it: "Connect call failed ('10.0.0.7', 8000)"
_SOCKADDR = re.compile(r"\('[^'\s]+', \d{1,5}(?:, \d+)*\)")
_LOCALHOST = re.compile(r"(?i)\blocalhost(?::\d{1,5}\b)?")
# aiohttp's "Cannot connect to host <host>:<port> ssl:..." and the lean client's "connecting to <host>:<port>"
_NAMED_HOST = re.compile(r"(?i)(\b(?:connect to host|connecting to|TLS with)\s+)(\S+?)(:\d{1,5})?(?=[\s,;\]]|$)")


def secret_parts(key: str) -> list[str]:
    """Every secret inside a channel key: the whole, each line (several keys), each `|` part, each JSON
    string value (a service-account key); the longest first, so a part never splits a longer match."""
    wholes = {k.strip() for k in (key, *key.splitlines())}
    parts = {p.strip() for k in wholes for p in (*k.split("|"), *_json_strings(k))}
    found = {w for w in wholes if len(w) >= MIN_SECRET} | {p for p in parts if len(p) >= MIN_PART}
    return sorted(found, key=len, reverse=True)


def _json_strings(text: str) -> list[str]:
    if not text.startswith("{"):
        return []
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(value, dict):
        return []
    # a PEM private key: whole, and each of its base64 lines (a message may quote it cut at its newlines)
    found = [v for v in value.values() if isinstance(v, str)]
    return found + [line for v in found for line in v.splitlines() if "-----" not in line]


def upstream_hosts(*base_urls: str) -> list[str]:
    """`host:port` and `host` of each upstream base URL (whatever its name: an internal one says too much)."""
    hosts: list[str] = []
    for url in base_urls:
        try:
            split = urlsplit(url.strip())
            host, port = split.hostname, split.port
        except ValueError:
            continue
        if host:
            hosts.extend([f"{split.netloc.rpartition('@')[2]}", f"{host}:{port}" if port else host, host])
    return sorted({h for h in hosts if h}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = (), hosts: Iterable[str] = ()) -> str:
    """`text` with the given secrets and hosts, key-like tokens and IP addresses replaced by REDACTED."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for host in hosts:
        if host:
            text = re.sub(rf"(?i)(?<![\w.-]){re.escape(host)}(?![\w-])", REDACTED, text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _KEY_LIKE.sub(REDACTED, text)
    text = _SOCKADDR.sub(REDACTED, text)
    text = _NAMED_HOST.sub(lambda m: m.group(1) + REDACTED, text)
    text = _IPV4.sub(_if_address, text)
    text = _IPV6.sub(_if_address, text)
    return _LOCALHOST.sub(REDACTED, text)


def _if_address(match: re.Match[str]) -> str:
    """Only what parses as an IP address: `1.2.3.999` or a clock time `12:30:45` stay."""
    candidate = match.group(0)
    if candidate.startswith("["):
        candidate = candidate[1:].partition("]")[0]
    elif candidate.count(":") == 1:           # IPv4 with a port
        candidate = candidate.partition(":")[0]
    try:
        ipaddress.ip_address(candidate.partition("%")[0])
    except ValueError:
        return match.group(0)
    return REDACTED


__all__ = ["REDACTED", "scrub", "secret_parts", "upstream_hosts"]
