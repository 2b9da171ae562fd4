"""Sizes of remote images in vision requests, read from their first bytes.

One API fetches an `image_url` that is not a data URL to count its high-detail tokens; a failed
fetch counts the image as 0. Here the fetches of one request run together, read at most
MAX_HEAD bytes (the size is in the header), give up after TIMEOUT, and are remembered per URL
for a while, so a retry or a repeated image costs no second fetch. The fetches go through
GuardedFetch: a URL that leads to loopback, a private network or a metadata address is never
connected to and counts 0, as an unreadable image does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

import aiohttp

from proxy.gateway.timed_cache import TimedCache
from proxy.gateway.tokenizer import image_size
from startup.guarded_fetch import GuardedFetch

MAX_HEAD = 256 * 1024
TIMEOUT = 5.0
MAX_IMAGES = 16          # per request: more images are counted as 0 rather than fetched
UNKNOWN = (0, 0)         # remembered for a failed fetch

log = logging.getLogger(__name__)


class ImageProbe:
    def __init__(self, fetch: GuardedFetch, cache_size: int = 1024, ttl: float = 600) -> None:
        self.fetch = fetch
        self.known: TimedCache[str, tuple[int, int]] = TimedCache(cache_size, ttl)

    async def sizes(self, urls: Iterable[str]) -> Mapping[str, tuple[int, int]]:
        wanted = list(dict.fromkeys(urls))[:MAX_IMAGES]
        found = {url: self.known.get(url) for url in wanted}
        missing = [url for url, size in found.items() if size is None]
        sizes = await asyncio.gather(*(self._fetch(url) for url in missing))
        for url, size in zip(missing, sizes, strict=True):
            self.known[url] = found[url] = size or UNKNOWN
        return {url: size for url, size in found.items() if size and size != UNKNOWN}

    async def _fetch(self, url: str) -> tuple[int, int] | None:
        head = b""
        try:
            async with asyncio.timeout(TIMEOUT), self.fetch.get(url) as response:   # redirects included
                if response.status != 200:
                    return None
                async for chunk in response.content.iter_chunked(16384):
                    head += chunk
                    size = image_size(head)
                    if size is not None or len(head) >= MAX_HEAD:
                        return size
        except (TimeoutError, aiohttp.ClientError, ValueError, OSError) as error:
            # a FetchRefused (an OSError) comes alone, or, from the resolver, as an aiohttp error's cause
            log.debug("image %s not read: %r %s", url, error, error.__cause__ or "")
            return None
        return image_size(head)
