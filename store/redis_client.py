"""Redis from One API's settings: a URL, or with REDIS_MASTER_NAME a comma list of addresses.

As One API's "universal client": a master name means Sentinel; several addresses without one
mean a Cluster; otherwise a single server.
"""

from __future__ import annotations

import logging
from typing import Any

CHANGE_CHANNEL = "one-api:changes"   # pub/sub: "something changed, read the change events now"
log = logging.getLogger(__name__)


async def publish_change(redis: Any) -> None:
    """Tell every proxy worker and node to read the change events now. Best effort: the events are in the
    database, so a failed publish (Redis down) costs a poll interval, never a change."""
    try:
        await redis.publish(CHANGE_CHANNEL, "1")
    except Exception as e:
        log.debug("change nudge not published: %s", e)


def _addresses(conn_string: str) -> list[tuple[str, int]]:
    out = []
    for part in conn_string.split(","):
        part = part.strip().removeprefix("redis://")
        if not part:
            continue
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "6379")
        out.append((host or "127.0.0.1", int(port or 6379)))
    return out


def connect_redis(conn_string: str, password: str = "", master_name: str = "", *, timeout: float = 2,
                  retry: bool = True) -> Any:
    """A `redis.asyncio` client; nothing is contacted until first use. `timeout` bounds a connect and a
    reply; `retry=False` fails at the first error (the rate limits fall back to the database at once)."""
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel
    from redis.backoff import NoBackoff

    once: dict[str, Any] = {} if retry else {"retry": Retry(NoBackoff(), 0)}
    if master_name:
        sentinel = Sentinel(_addresses(conn_string), socket_timeout=timeout, password=password or None,
                            sentinel_kwargs={"password": password or None})
        return sentinel.master_for(master_name, socket_timeout=timeout, password=password or None, **once)
    if "," in conn_string:
        nodes = [ClusterNode(host, port) for host, port in _addresses(conn_string)]
        return RedisCluster(startup_nodes=nodes, password=password or None, socket_timeout=timeout,
                            socket_connect_timeout=timeout, **once)
    return aioredis.from_url(conn_string, password=password or None, socket_timeout=timeout,
                             socket_connect_timeout=timeout, health_check_interval=15, **once)
