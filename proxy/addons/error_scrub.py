"""The client reads an error without the channel's keys or the addresses behind the gateway.

Upstream error messages are relayed (One API's behaviour), and they may echo the key that was refused or
name the host that could not be reached; the server log keeps the full text under the request id.
"""

from __future__ import annotations

import logging
from typing import Any

from proxy.core.flow import Flow
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
        secrets = secret_parts(channel.key)
        default = self.catalog.get(channel.type).base_url if channel.type in self.catalog else ""
        hosts = upstream_hosts(channel.base_url, default)
        message = scrub(err.message, secrets, hosts)
        code, param = _scrubbed(err.code, secrets, hosts), _scrubbed(err.param, secrets, hosts)
        if (message, code, param) == (err.message, err.code, err.param):
            return
        log.warning("error for request %s redacted for the client; in full: %s (code %r, param %r)",
                    flow.request_id, err.message, err.code, err.param)
        err.message, err.code, err.param = message, code, param


def _scrubbed(value: Any, secrets: list[str], hosts: list[str]) -> Any:
    """An upstream's `code` and `param` are relayed too; only strings can carry a secret."""
    return scrub(value, secrets, hosts) if isinstance(value, str) else value


__all__ = ["ErrorScrub"]
