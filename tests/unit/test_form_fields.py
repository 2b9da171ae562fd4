"""form_fields: the top-level text fields of a multipart body, whatever its nesting, in linear time."""

from __future__ import annotations

import base64
import time

from proxy.gateway.form_fields import boundary_of, form_fields, form_files, with_field
from tests.e2e.test_hostile_inputs import nested_multipart


def part(name: str, value: bytes, extra: str = "") -> bytes:
    return f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n{extra}\r\n'.encode() + value + b"\r\n"


def test_text_fields_files_skipped_encodings_decoded() -> None:
    body = (part("model", b"whisper-1") + part("prompt", "héllo".encode())
            + b'--B\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\n\r\nID3\x00\r\n'
            + part("language", base64.b64encode(b"fr"), "Content-Transfer-Encoding: base64\r\n")
            + part("bad", b"\xff\xfe") + b"--B--\r\n" + part("after", b"ignored"))
    assert form_fields("multipart/form-data; boundary=B", body) == {
        "model": "whisper-1", "prompt": "héllo", "language": "fr", "bad": "\ufffd\ufffd"}


def test_boundaries_quoted_missing_or_odd() -> None:
    assert boundary_of('multipart/form-data; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data") is None
    assert form_fields('multipart/form-data; boundary="', part("model", b"x")) == {}
    assert boundary_of("multipart/form-data; boundary=²") is None
    assert form_fields("multipart/form-data", part("model", b"x")) == {}


def test_a_body_nested_1000_deep_is_read_at_once() -> None:
    body, content_type = nested_multipart(1000)
    started = time.monotonic()
    assert form_fields(content_type, body) == {}                # the one part is multipart, not a field
    assert time.monotonic() - started < 0.1
    top = part("model", b"whisper-1") + b'--B\r\nContent-Disposition: form-data; name="deep"\r\n' \
        b"Content-Type: " + content_type.replace("form-data", "mixed").encode() + b"\r\n\r\n" + body + b"\r\n--B--\r\n"
    assert form_fields("multipart/form-data; boundary=B", top) == {"model": "whisper-1", "deep": ""}


def test_files_named_and_one_field_replaced_or_added() -> None:
    ctype = "multipart/form-data; boundary=B"
    image = b'--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n\x89PNG\r\n'
    body = part("model", b"my-edit") + image + part("prompt", b"a hat") + b"--B--\r\n"
    assert form_files(ctype, body) == ["image"]
    replaced = with_field(ctype, body, "model", "dall-e-2")
    assert replaced == part("model", b"dall-e-2") + image + part("prompt", b"a hat") + b"--B--\r\n"
    without = image + part("prompt", b"a hat") + b"--B--\r\n"
    added = with_field(ctype, without, "model", "dall-e-2")
    assert form_fields(ctype, added) == {"prompt": "a hat", "model": "dall-e-2"} and added.startswith(without[:-8])
    assert form_files(ctype, added) == ["image"]
    assert with_field("multipart/form-data", body, "model", "x") == body      # no boundary: as it was
