"""The text fields of a multipart/form-data body, top level only, as a form reader sees them (One API: gin's
PostForm). Nested multipart parts are not parsed: Python's email parser recursed once per level, and a body
nested 1,000 deep took 1.4 s before ending in RecursionError (a 500)."""

from __future__ import annotations

import base64
import binascii
import quopri
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

_HEADERS = BytesParser(policy=HTTP)


def boundary_of(content_type: str) -> bytes | None:
    """The boundary parameter of a Content-Type value; None when absent or not encodable as a delimiter."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        return None
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        return None


def _parts(content_type: str, body: bytes) -> Iterator[tuple[str, Message, bytes]]:
    """(name, headers, payload) of every top-level named part."""
    boundary = boundary_of(content_type)
    if boundary is None:
        return
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):   # the closing delimiter
            break
        head, separator, payload = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = _HEADERS.parsebytes(head + b"\r\n\r\n", headersonly=True)
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str) and name:
            yield name, headers, payload.removesuffix(b"\r\n")


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Named parts without a filename, decoded as UTF-8 (bad bytes replaced); a nested multipart part is ""."""
    fields: dict[str, str] = {}
    for name, headers, payload in _parts(content_type, body):
        if headers.get_filename() is not None:
            continue
        if headers.get_content_maintype() == "multipart":
            fields[name] = ""
            continue
        fields[name] = _decoded(payload, str(headers.get("Content-Transfer-Encoding", "")))
    return fields


def form_files(content_type: str, body: bytes) -> list[str]:
    """The names of the parts that are files (with a filename and some content), in order, repeated names too."""
    return [name for name, headers, payload in _parts(content_type, body)
            if headers.get_filename() is not None and payload]


def with_field(content_type: str, body: bytes, name: str, value: str) -> bytes:
    """The multipart body with its text field `name` set to `value` (added before the closing delimiter when
    absent); every other byte as it was. The body unchanged when it has no boundary or closing delimiter."""
    boundary = boundary_of(content_type)
    if boundary is None:
        return body
    delimiter = b"--" + boundary
    pieces = body.split(delimiter)
    for i in range(1, len(pieces)):
        part = pieces[i]
        if part.startswith(b"--"):             # the closing delimiter: the field was not there
            added = b'\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value.encode())
            return delimiter.join([*pieces[:i], added, *pieces[i:]])
        lead = b"\r\n" if part.startswith(b"\r\n") else b""
        head, separator, payload = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = _HEADERS.parsebytes(head + b"\r\n\r\n", headersonly=True)
        if headers.get_param("name", header="content-disposition") == name and headers.get_filename() is None \
                and not headers.get("Content-Transfer-Encoding"):
            trail = b"\r\n" if payload.endswith(b"\r\n") else b""
            pieces[i] = lead + head + b"\r\n\r\n" + value.encode() + trail
            return delimiter.join(pieces)
    return body


def _decoded(payload: bytes, transfer_encoding: str) -> str:
    encoding = transfer_encoding.strip().lower()
    try:
        if encoding == "base64":
            payload = base64.b64decode(payload)
        elif encoding == "quoted-printable":
            payload = quopri.decodestring(payload)
    except (binascii.Error, ValueError):
        pass   # as the email parser: the bytes as they came
    return payload.decode("utf-8", "replace")
