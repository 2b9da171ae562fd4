"""The client reads an error without the channel's keys or the addresses behind the gateway.

Upstream error messages are relayed (One API's behaviour), and they may echo the key that was refused or
name the host that could not be reached; the server log keeps the full text under the request id.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import orjson

from proxy.converters.base import StreamConverter
from proxy.core.flow import BodyTransform, Flow
from proxy.gateway.records import ChannelRecord
from proxy.gateway.scrub import scrub, secret_parts, upstream_hosts
from proxy.gateway.state import RelayState
from rules import Catalog

log = logging.getLogger(__name__)


class ErrorScrub:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def error(self, flow: Flow[RelayState]) -> None:
        """Only once a channel was chosen: earlier errors are the gateway's own words (a token's subnet
        refusal names the client's address on purpose)."""
        err, channel = flow.error, flow.state.channel
        if err is None or channel is None:
            return
        secrets, hosts = self._targets(channel)
        message = scrub(err.message, secrets, hosts)
        code, param = _scrubbed(err.code, secrets, hosts), _scrubbed(err.param, secrets, hosts)
        if (message, code, param) == (err.message, err.code, err.param):
            return
        log.warning("error for request %s redacted for the client; in full: %s (code %r, param %r)",
                    flow.request_id, err.message, err.code, err.param)
        err.message, err.code, err.param = message, code, param

    def response(self, flow: Flow[RelayState]) -> None:
        """A converted stream reports an upstream's in-stream error as an `{"error": ...}` event: its message
        is redacted as it passes. The converter's own bytes otherwise pass as they are."""
        converter, transform, channel = flow.state.stream_converter, flow.transform, flow.state.channel
        if converter is None or transform is None or channel is None:
            return
        # the channel's secrets and hosts are only worked out if an error event comes (most streams have none)
        watch = _ErrorEventWatch(flow.request_id, converter, functools.partial(self._targets, channel))
        flow.transform = BodyTransform(watch.wrap(transform.feed), watch.wrap(transform.flush))

    def _targets(self, channel: ChannelRecord) -> tuple[list[str], list[str]]:
        """The channel's secrets and the hosts its key goes to (its base URL, else its type's default)."""
        default = self.catalog.get(channel.type).base_url if channel.type in self.catalog else ""
        return secret_parts(channel.key), upstream_hosts(channel.base_url, default)


class _ErrorEventWatch:
    """Once the stream converter has an `error`, the event carrying its message gets the redacted one."""

    def __init__(self, request_id: str, converter: StreamConverter,
                 targets: Callable[[], tuple[list[str], list[str]]]) -> None:
        self.request_id, self.converter, self.targets = request_id, converter, targets
        self.done = False

    def wrap(self, step: Callable[..., list[bytes]]) -> Callable[..., list[bytes]]:
        def run(*args: bytes) -> list[bytes]:
            out = step(*args)
            error = self.converter.error
            if error is None or self.done:
                return out
            self.done = True
            return self._redact(out, str(error.message))
        return run

    def _redact(self, out: list[bytes], message: str) -> list[bytes]:
        clean = scrub(message, *self.targets())
        if clean == message:
            return out
        log.warning("stream error for request %s redacted for the client; in full: %s", self.request_id, message)
        before, after = orjson.dumps(message), orjson.dumps(clean)
        return [piece.replace(before, after) for piece in out]


def _scrubbed(value: Any, secrets: list[str], hosts: list[str]) -> Any:
    """An upstream's `code` and `param` are relayed too; only strings can carry a secret."""
    return scrub(value, secrets, hosts) if isinstance(value, str) else value


__all__ = ["ErrorScrub"]
