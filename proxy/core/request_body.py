"""A client's request body, read by us: at most `limit` bytes, and a gzip body inflated once, piece by piece,
with the limit applied to the inflated bytes (a 1 MB gzip of zeros is 1 GiB once inflated).

The server must not inflate it first (aiohttp's `auto_decompress`, off in `startup.serve`): then the bytes
here are the ones on the wire, and nothing is inflated before the pipeline decides to read the body.
"""

from __future__ import annotations

import zlib

from aiohttp import web

from proxy.core.errors import RelayError

MAX_BODY = 64 * 1024 * 1024          # bytes, after inflation: the proxy application's client_max_size
GZIP = frozenset({"gzip", "x-gzip"})
_GZIP_WBITS = 16 + zlib.MAX_WBITS    # a gzip header and trailer around deflate data


class BodyTooLarge(RelayError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: more than {limit} bytes", type="invalid_request_error",
                         code="request_body_too_large")


class BadGzip(RelayError):
    def __init__(self, reason: str) -> None:
        super().__init__(400, f"invalid gzip request body: {reason}", type="invalid_request_error",
                         code="invalid_gzip_body")


class BadBody(RelayError):
    def __init__(self, reason: str) -> None:
        super().__init__(400, f"request body could not be read: {reason}", type="invalid_request_error",
                         code="invalid_request_body")


class Gunzip:
    """Inflates a gzip stream fed piece by piece (several members too); never yields more than `limit` bytes
    in all: past it, `feed` raises BodyTooLarge before inflating further. No I/O."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        self._fed = False

    def feed(self, data: bytes) -> bytes:
        pieces: list[bytes] = []
        while data:
            self._fed = True
            try:   # at most one byte past the limit per call: enough to know it was passed
                piece = self._inflater.decompress(data, self.limit - self.size + 1)
            except zlib.error as e:
                raise BadGzip(str(e)) from None
            self.size += len(piece)
            if self.size > self.limit:
                raise BodyTooLarge(self.limit)
            pieces.append(piece)
            data = self._next_member() if self._inflater.eof else self._inflater.unconsumed_tail
        return b"".join(pieces)

    def _next_member(self) -> bytes:
        """What follows a finished member: another member, or padding zeros (as Python's gzip module allows)."""
        rest = self._inflater.unused_data
        if not rest.strip(b"\0"):
            return b""
        self._inflater = zlib.decompressobj(_GZIP_WBITS)
        return rest

    def finish(self) -> None:
        """At the end of the body: a member cut short is an error (an empty body is not)."""
        if self._fed and not self._inflater.eof:
            raise BadGzip("the body ends inside the compressed data")


def is_gzip(request: web.BaseRequest) -> bool:
    return request.headers.get("Content-Encoding", "").strip().lower() in GZIP


async def read_body(request: web.BaseRequest, limit: int = MAX_BODY) -> bytes:
    """The body as the client meant it: inflated when it says gzip, BodyTooLarge past `limit` bytes either way."""
    gunzip = Gunzip(limit) if is_gzip(request) and not _inflated_by_server(request) else None
    pieces: list[bytes] = []
    size = 0
    try:
        while chunk := await _next_piece(request):
            if gunzip is not None:
                chunk = gunzip.feed(chunk)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(limit)
            pieces.append(chunk)
        if gunzip is not None:
            gunzip.finish()
    except RelayError as e:
        # The error lives on in the flow (flow.error), and a traceback keeps its frames' locals: without
        # this, a refused body's inflated megabytes stayed alive until the next cycle collection.
        pieces.clear()
        raise e.with_traceback(None) from None
    return b"".join(pieces)


async def _next_piece(request: web.BaseRequest) -> bytes:
    try:
        return await request.content.readany()
    except web.RequestPayloadError as e:   # cut short, or (server inflating) not gzip at all
        raise BadBody(str(e).strip()) from None


def _inflated_by_server(request: web.BaseRequest) -> bool:
    """True when aiohttp's parser already inflates this body (a server started with auto_decompress on):
    inflating again would refuse every valid gzip body. aiohttp ≥ 3.12 marks such streams."""
    return getattr(request.content, "total_compressed_bytes", None) is not None
