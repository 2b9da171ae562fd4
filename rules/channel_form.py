"""Per-type facts beyond routing: where a balance is read, and the fields the channel form asks for.

Parsed from the `balance`, `key_hint` and `form` fields of a [[type]] in channel_types.toml. Labels,
hints and placeholders are English text that the console translates (its Chinese table keys on them).
"""

from __future__ import annotations

from dataclasses import dataclass

from .tomlfile import Entry

#: How a balance answer is read: "field" takes the number at `field` (a dotted path); the others
#: are provider-specific readers in admin_api/balance.py.
BALANCE_READERS: frozenset[str] = frozenset({"field", "openai", "deepseek", "siliconflow", "openrouter"})
#: How the key reaches the balance endpoint: Authorization: Bearer, an Api-Key header, ?api_key=.
BALANCE_AUTH: frozenset[str] = frozenset({"bearer", "api-key", "query"})

_BALANCE_FIELDS = frozenset({"base", "path", "reader", "field", "auth", "currency"})
_FORM_FIELDS = frozenset({"base_url_label", "other", "config", "key_from_config", "models_optional"})


@dataclass(frozen=True)
class BalanceSource:
    """Where a type reports its balance: base ("" = the channel's, else the type's), path, reader, auth."""

    path: str = ""
    reader: str = "field"
    field: str = ""
    auth: str = "bearer"
    base: str = ""
    currency: str = "USD"


@dataclass(frozen=True)
class FormField:
    """One value of the channel's `config` JSON the form asks for."""

    key: str
    label: str
    placeholder: str = ""
    textarea: bool = False


@dataclass(frozen=True)
class OtherField:
    """What the channel's `other` column means for a type; `fallback` is used when it is empty."""

    label: str
    placeholder: str = ""
    fallback: str = ""


@dataclass(frozen=True)
class ChannelForm:
    """The extra fields of a type's channel form."""

    base_url_label: str = ""
    other: OtherField | None = None
    config: tuple[FormField, ...] = ()
    key_from_config: bool = False   # an empty key box means the config values joined with "|" (One API's UI)
    models_optional: bool = False


def parse_balance(entry: Entry) -> BalanceSource | None:
    """The `balance` table of a type entry, or None when the type reports no balance."""
    if "balance" not in entry.table:
        return None
    table = Entry(entry.path, f"{entry.name}.balance", entry.table["balance"])
    table.only(_BALANCE_FIELDS)
    reader = table.string("reader", "field")
    if reader not in BALANCE_READERS:
        table.fail(f"unknown reader {reader!r} (expected one of {', '.join(sorted(BALANCE_READERS))})")
    field = table.string("field", "")
    if (reader == "field") != bool(field):
        table.fail("'field' is needed with reader 'field' and only with it")
    path = table.string("path", "")
    if (reader == "openai") == bool(path) or (path and not path.startswith("/")):
        table.fail("'path' must start with '/', and is left out only for reader 'openai' (it asks two paths)")
    auth = table.string("auth", "bearer")
    if auth not in BALANCE_AUTH:
        table.fail(f"unknown auth {auth!r} (expected one of {', '.join(sorted(BALANCE_AUTH))})")
    return BalanceSource(path=path, reader=reader, field=field, auth=auth, base=table.string("base", ""),
                         currency=table.string("currency", "USD"))


def _config_field(entry: Entry) -> FormField:
    entry.only({"key", "label", "placeholder", "textarea"})
    return FormField(key=entry.string("key", required=True), label=entry.string("label", required=True),
                     placeholder=entry.string("placeholder", ""), textarea=entry.boolean("textarea"))


def _other(entry: Entry) -> OtherField | None:
    if "other" not in entry.table:
        return None
    other = Entry(entry.path, f"{entry.name}.other", entry.table["other"])
    other.only({"label", "placeholder", "fallback"})
    return OtherField(label=other.string("label", required=True), placeholder=other.string("placeholder", ""),
                      fallback=other.string("fallback", ""))


def parse_form(entry: Entry) -> ChannelForm:
    """The `form` table of a type entry (absent: no extra fields)."""
    if "form" not in entry.table:
        return ChannelForm()
    form = Entry(entry.path, f"{entry.name}.form", entry.table["form"])
    form.only(_FORM_FIELDS)
    raw_config = form.table.get("config", [])
    if not isinstance(raw_config, list):
        form.fail(f"field 'config' must be a list of tables, got {raw_config!r}")
    config = tuple(_config_field(Entry(entry.path, f"{form.name}.config #{i + 1}", raw))
                   for i, raw in enumerate(raw_config))
    keys = [c.key for c in config]
    if len(set(keys)) != len(keys):
        form.fail(f"config repeats a key: {keys!r}")
    key_from_config = form.boolean("key_from_config")
    if key_from_config and not config:
        form.fail("key_from_config needs config fields to build the key from")
    return ChannelForm(base_url_label=form.string("base_url_label", ""), other=_other(form), config=config,
                       key_from_config=key_from_config, models_optional=form.boolean("models_optional"))
