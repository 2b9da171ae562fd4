"""The channel-type catalog: what each channel type id means, loaded from channel_types.toml."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .channel_form import BalanceSource, ChannelForm, parse_balance, parse_form
from .errors import RulesError
from .tomlfile import Entry, read_toml

DEFAULT_CATALOG_PATH = Path(__file__).with_name("channel_types.toml")

#: "openai": OpenAI-compatible upstream, body passed through; "azure": OpenAI on Azure
#: (deployment URL, api-key header); "proxy": the raw /v1/oneapi/proxy/<id>/ route; every other
#: value names the converter module that translates to and from the provider's own API.
API_STYLES: frozenset[str] = frozenset({
    "openai", "azure", "proxy",
    "anthropic", "palm", "baidu", "zhipu", "ali", "xunfei", "aiproxy_library", "tencent",
    "gemini", "ollama", "aws", "coze", "cohere", "cloudflare", "deepl", "vertexai", "replicate",
})

#: Client dialects (proxy.converters.abilities.CLIENT_DIALECTS) a type's API may speak natively besides its
#: api_style: a client of such a dialect has its bytes passed through instead of converted.
CLIENT_DIALECTS: frozenset[str] = frozenset({"anthropic", "responses", "gemini"})

#: How the channel key reaches the upstream.
AUTH_STYLES: frozenset[str] = frozenset({
    "bearer",             # Authorization: Bearer <key>
    "api-key",            # api-key: <key> (Azure)
    "x-api-key",          # x-api-key: <key> (Anthropic)
    "x-goog-api-key",     # x-goog-api-key: <key> (Google AI Studio)
    "raw",                # Authorization: <key>, verbatim (Proxy)
    "deepl",              # Authorization: DeepL-Auth-Key <key>
    "baidu-oauth",        # key "APIKey|SecretKey" exchanged for an access_token query parameter
    "zhipu-jwt",          # key "id.secret" signed into an HS256 JWT
    "xunfei-signed-url",  # key "APPID|APISecret|APIKey", HMAC-signed WebSocket URL
    "tencent-tc3",        # key "AppId|SecretId|SecretKey", TC3-HMAC-SHA256 signature
    "aws-sigv4",          # channel config ak/sk/region, SigV4 signature
    "vertexai-oauth",     # service-account JSON exchanged for an OAuth bearer token
})

_TYPE_FIELDS = frozenset({
    "id", "name", "base_url", "api_style", "owned_by", "models", "auth", "headers", "paths",
    "strip_v1", "base_path_strips", "always_convert", "balance", "requires_base_url",
    "placeholder", "key_hint", "form", "dialects", "rerank",
})
_PASS_THROUGH_STYLES = frozenset({"openai", "azure"})


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ChannelType:
    """One channel type: defaults and URL/header quirks, all taken from the catalog file."""

    id: int
    name: str
    base_url: str
    api_style: str
    models: tuple[str, ...] = ()
    strip_v1: bool = False
    paths: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    headers: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    auth: str = "bearer"
    always_convert: bool = False
    balance_source: BalanceSource | None = None
    requires_base_url: bool = False
    owned_by: str = "openai"
    base_path_strips: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    placeholder: bool = False
    key_hint: str = ""
    form: ChannelForm = field(default_factory=ChannelForm)
    dialects: frozenset[str] = frozenset()   # client dialects answered natively besides the api_style's own
    rerank: str = ""    # the upstream path of POST /v1/rerank after the base URL; "": the type has no rerank

    @property
    def balance(self) -> bool:
        """Whether GET /api/channel/update_balance/:id can ask this type's provider for a balance."""
        return self.balance_source is not None

    @property
    def other_fallback(self) -> str:
        """The value of an empty `other` column (Azure's API version), "" when none."""
        return self.form.other.fallback if self.form.other else ""

    @property
    def can_pass_through(self) -> bool:
        """Whether the client's body bytes may be forwarded unchanged (no converter, no forced re-encode)."""
        return self.api_style in _PASS_THROUGH_STYLES and not self.always_convert

    def speaks(self, dialect: str) -> bool:
        """Whether a client of this dialect ("anthropic", "responses", "gemini") is passed through unchanged:
        the type's api_style is that dialect, or the type declares it in `dialects`."""
        return bool(dialect) and (dialect == self.api_style or dialect in self.dialects)

    @property
    def forwards_query(self) -> bool:
        """Whether the client's query string is appended upstream (not for fixed `paths` URLs)."""
        return not self.paths

    def upstream_path(self, relay_path: str) -> str | None:
        """Map a relay path like '/v1/chat/completions' (query excluded) to the upstream path.

        None if this type refuses that path. Types with `paths` accept only those relay paths
        (the caller normalises e.g. /v1/engines/<m>/embeddings to /v1/embeddings first).
        `strip_v1` types drop the leading "/v1". Everything else keeps the path; converter
        styles build their own URLs, and Azure's deployment path is built by its rewrite and
        then passed to upstream_url.
        """
        if self.paths:
            return self.paths.get(relay_path)
        if self.strip_v1:
            return relay_path.removeprefix("/v1")
        return relay_path

    def upstream_url(self, base_url: str, relay_path: str, query: str = "") -> str | None:
        """The full upstream URL for a pass-through request, or None if the path is refused.

        `base_url` is the channel's own base URL ("" = this type's default); `query` is the
        client's query string without "?".
        """
        path = self.upstream_path(relay_path)
        if path is None:
            return None
        base = base_url or self.base_url
        if self.strip_v1:
            base = base.removesuffix("/")
        for base_prefix, path_prefix in self.base_path_strips.items():
            if base.startswith(base_prefix):
                path = path.removeprefix(path_prefix)
        url = base + path
        if query and self.forwards_query:
            url += "?" + query
        return url


class Catalog:
    """All channel types by id, in file order."""

    def __init__(self, types: Mapping[int, ChannelType], catalog_order: tuple[int, ...] = ()) -> None:
        self._types = dict(types)
        self._catalog_order = catalog_order

    def get(self, type_id: int) -> ChannelType:
        """The type with this id; raises KeyError for an id not in the catalog."""
        return self._types[type_id]

    def __iter__(self) -> Iterator[ChannelType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def __contains__(self, type_id: object) -> bool:
        return type_id in self._types

    def models_by_type(self) -> dict[int, list[str]]:
        """Default models of every real type (GET /api/models; placeholder type 0 left out)."""
        return {t.id: list(t.models) for t in self._types.values() if not t.placeholder}

    def model_catalog(self) -> list[tuple[str, str]]:
        """(model, owned_by) pairs of GET /v1/models' built-in catalog, in One API's order.

        Duplicates across types are kept, as One API keeps them.
        """
        return [(m, self._types[i].owned_by) for i in self._catalog_order for m in self._types[i].models]


def _channel_type(entry: Entry, model_lists: Mapping[str, tuple[str, ...]]) -> ChannelType:
    entry.only(_TYPE_FIELDS)
    api_style = entry.string("api_style", required=True)
    if api_style not in API_STYLES:
        entry.fail(f"unknown api_style {api_style!r} (expected one of {', '.join(sorted(API_STYLES))})")
    auth = entry.string("auth", "bearer")
    if auth not in AUTH_STYLES:
        entry.fail(f"unknown auth {auth!r} (expected one of {', '.join(sorted(AUTH_STYLES))})")
    list_name = entry.string("models", "")
    if list_name and list_name not in model_lists:
        entry.fail(f"models names an unknown list {list_name!r} (not in [model_lists])")
    paths = entry.str_map("paths")
    for relay, upstream in paths.items():
        if not relay.startswith("/") or not upstream.startswith("/"):
            entry.fail(f"paths entry {relay!r} = {upstream!r}: both sides must start with '/'")
    dialects = entry.strings("dialects")
    unknown = sorted(set(dialects) - CLIENT_DIALECTS)
    if unknown:
        entry.fail(f"dialects names unknown client dialects {unknown} (expected some of {sorted(CLIENT_DIALECTS)})")
    rerank = entry.string("rerank", "")
    if rerank and not rerank.startswith("/"):
        entry.fail(f"rerank {rerank!r} must start with '/'")
    strip_v1 = entry.boolean("strip_v1")
    if strip_v1 and paths:
        entry.fail("strip_v1 and paths cannot be combined")
    return ChannelType(
        id=entry.integer("id", required=True),
        name=entry.string("name", required=True),
        base_url=entry.string("base_url", ""),
        api_style=api_style,
        models=model_lists.get(list_name, ()),
        strip_v1=strip_v1,
        paths=_frozen(paths),
        headers=_frozen(entry.str_map("headers")),
        auth=auth,
        always_convert=entry.boolean("always_convert"),
        balance_source=parse_balance(entry),
        requires_base_url=entry.boolean("requires_base_url"),
        owned_by=entry.string("owned_by", "openai"),
        base_path_strips=_frozen(entry.str_map("base_path_strips")),
        placeholder=entry.boolean("placeholder"),
        key_hint=entry.string("key_hint", ""),
        form=parse_form(entry),
        dialects=frozenset(dialects),
        rerank=rerank,
    )


def _model_lists(path: Path, raw: Any) -> dict[str, tuple[str, ...]]:
    lists = Entry(path, "model_lists", raw if raw is not None else {})
    out = {}
    for name in lists.table:
        models = lists.strings(name)
        duplicates = sorted({m for m in models if models.count(m) > 1})
        if duplicates:
            lists.fail(f"list {name!r} repeats {', '.join(map(repr, duplicates))}")
        out[name] = models
    return out


def parse_catalog(path: Path, data: Mapping[str, Any]) -> Catalog:
    """Validate the parsed contents of a catalog file and build the Catalog."""
    top = Entry(path, "", data)
    top.only({"type", "model_lists", "catalog_order"})
    model_lists = _model_lists(path, data.get("model_lists"))
    raw_types = data.get("type", [])
    if not isinstance(raw_types, list) or not raw_types:
        top.fail("needs at least one [[type]] entry")
    types: dict[int, ChannelType] = {}
    for index, raw in enumerate(raw_types):
        label = f"type {raw['id']}" if isinstance(raw, Mapping) and "id" in raw else f"[[type]] #{index + 1}"
        channel_type = _channel_type(Entry(path, label, raw), model_lists)
        if channel_type.id < 0:
            raise RulesError(path, label, "id must not be negative")
        if channel_type.id in types:
            raise RulesError(path, label, f"duplicate id {channel_type.id} (also {types[channel_type.id].name!r})")
        types[channel_type.id] = channel_type
    order = data.get("catalog_order", [])
    if not isinstance(order, list) or not all(isinstance(i, int) and i in types for i in order):
        top.fail(f"catalog_order must list known type ids, got {order!r}")
    return Catalog(types, tuple(order))


def load_catalog(path: Path | None = None) -> Catalog:
    """Load and validate a catalog file; the shipped channel_types.toml (path None) is loaded once."""
    if path is None:
        return _default_catalog()
    path = Path(path)
    return parse_catalog(path, read_toml(path))


@lru_cache(maxsize=1)
def _default_catalog() -> Catalog:
    return parse_catalog(DEFAULT_CATALOG_PATH, read_toml(DEFAULT_CATALOG_PATH))
