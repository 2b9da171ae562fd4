"""Identifier and key formats of One API (one-api.md §12)."""

from __future__ import annotations

import functools
import random
import secrets
import string
import time
import uuid

_ALNUM = string.digits + string.ascii_letters


def random_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def uuid_hex() -> str:
    return uuid.uuid4().hex


def token_key() -> str:
    """48 chars: 16 alphanumerics + a UUID's 32 hex chars with letters at even positions upper-cased."""
    hex32 = uuid_hex()
    mixed = "".join(c.upper() if i % 2 == 0 else c for i, c in enumerate(hex32))
    return random_alnum(16) + mixed


def access_token() -> str:
    return uuid_hex()


def redemption_code() -> str:
    return uuid_hex()


def aff_code() -> str:
    return random_alnum(4)


def oauth_state() -> str:
    return random_alnum(12)


def verification_code() -> str:
    return uuid_hex()[:6]


def reset_password_value() -> str:
    return uuid_hex()[:12]


@functools.lru_cache(maxsize=2)
def _stamp(second: int) -> str:
    return time.strftime("%Y%m%d%H%M%S", time.localtime(second))


def request_id(now_ns: int | None = None) -> str:
    """YYYYMMDDhhmmss + (ns mod 1e9, unpadded) + 8 random digits."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = _stamp(ns // 1_000_000_000)   # formatted once a second
    # not a secret: a fast PRNG avoids a getrandom syscall per request
    return f"{stamp}{ns % 1_000_000_000}{random.randrange(10**8):08d}"
