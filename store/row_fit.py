"""Values fitted to their columns' real limits before a bulk INSERT, so one row cannot fail a whole batch.

MySQL (strict mode) and PostgreSQL refuse an INTEGER above 2^31-1, a VARCHAR(n) value longer than n
characters, and PostgreSQL a NUL character; every driver refuses lone surrogates. A value outside its
column is clamped (numbers) or cut (text), and each change is described, so the row can record it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, SmallInteger, String, Table, Text
from sqlalchemy.types import TypeDecorator

TEXT_BYTES = 65_535   # MySQL's TEXT, the smallest text column of the three databases

_INT_RANGES = ((BigInteger, 63), (SmallInteger, 15), (Integer, 31))   # subclasses before Integer


def _int_bits(column_type: Any) -> int | None:
    for kind, bits in _INT_RANGES:
        if isinstance(column_type, kind):
            return bits
    return None


def _text_limit(column_type: Any) -> tuple[int, bool] | None:
    """(limit, in UTF-8 bytes rather than characters) of a text column; None for other columns."""
    if isinstance(column_type, String) and column_type.length:
        return column_type.length, False
    if isinstance(column_type, (Text, String)):
        return TEXT_BYTES, True
    return None


def _clean(text: str) -> str:
    """Without NULs (PostgreSQL refuses them in text) and with lone surrogates replaced (no driver encodes them)."""
    text = text.replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text
    return text


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _cut(text: str, limit: int, in_bytes: bool) -> str:
    """At most `limit` characters, or UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore") if in_bytes else text[:limit]


class RowFit:
    """Fits rows (tuples in `columns` order) of `table`; notes of what changed go into `note_column`."""

    def __init__(self, table: Table, columns: Sequence[str], note_column: str | None = None) -> None:
        self.columns = tuple(columns)
        self._ints: list[tuple[int, int, int]] = []          # (index, lowest, highest)
        self._texts: list[tuple[int, int, bool]] = []        # (index, limit, limit in bytes)
        for index, name in enumerate(self.columns):
            column_type = table.c[name].type
            if isinstance(column_type, TypeDecorator):   # e.g. store.models.Char: the limits are its impl's
                column_type = column_type.impl_instance
            bits = _int_bits(column_type)
            if bits is not None:
                self._ints.append((index, -(1 << bits), (1 << bits) - 1))
            limit = _text_limit(column_type)
            if limit is not None:
                self._texts.append((index, *limit))
        self._note = next((t for t in self._texts if self.columns[t[0]] == note_column), None)
        if note_column and self._note is None:
            raise ValueError(f"{note_column} is not a text column of {table.name}")

    def fits(self, row: Sequence[Any]) -> bool:
        """The fast check (about 1.5 µs a log row): every value already inside its column, as in nearly every row."""
        for index, low, high in self._ints:
            value = row[index]
            if value is not None and not low <= value <= high:
                return False
        for index, limit, in_bytes in self._texts:
            value = row[index]
            if value is not None and (len(value) * (4 if in_bytes else 1) > limit or "\x00" in value
                                      or not value.isascii() and _has_surrogates(value)):
                return False
        return True

    def fit(self, row: Sequence[Any]) -> tuple[list[Any], list[str]]:
        """The row's values inside their columns and a note per change (empty when nothing changed)."""
        values = list(row)
        notes: list[str] = []
        for index, low, high in self._ints:
            value = values[index]
            if value is not None and not low <= value <= high:
                values[index] = min(max(value, low), high)
                notes.append(f"{self.columns[index]} {value} → {values[index]}")
        for index, limit, in_bytes in self._texts:
            if values[index] is not None:
                values[index] = self._fit_text(index, values[index], limit, in_bytes, notes)
        if notes and self._note is not None:
            index, limit, in_bytes = self._note
            note = f" [clamped to the column: {'; '.join(notes)}]"
            room = limit - (len(note.encode("utf-8")) if in_bytes else len(note))   # the note is kept whole
            values[index] = _cut(_cut(values[index] or "", max(room, 0), in_bytes) + note, limit, in_bytes)
        return values, notes

    def _fit_text(self, index: int, value: str, limit: int, in_bytes: bool, notes: list[str]) -> str:
        name = self.columns[index]
        cleaned = _clean(value)
        if cleaned != value:
            notes.append(f"{name}: NUL removed or unencodable characters replaced")
        size = len(cleaned.encode("utf-8")) if in_bytes else len(cleaned)
        if size > limit:
            cleaned = _cut(cleaned, limit, in_bytes)
            notes.append(f"{name} {size} {'bytes' if in_bytes else 'chars'} → {limit}")
        return cleaned
