"""RowFit: values fitted to their columns' limits, each change described (pure, no database)."""

from __future__ import annotations

from store.models import Log, Token
from store.row_fit import RowFit

COLUMNS = ("content", "model_name", "quota", "elapsed_time", "usage_source")
FIT = RowFit(Log.__table__, COLUMNS, note_column="content")


def test_a_row_inside_its_columns_is_left_alone() -> None:
    row = ("倍率：1.00 × 1.00", "gpt-4o-mini", 2**31 - 1, 2**40, None)
    assert FIT.fits(row) and FIT.fit(row) == (list(row), [])


def test_numbers_clamped_text_cut_and_the_changes_noted() -> None:
    values, notes = FIT.fit(("c", "m\x00" + "é" * 200, -(2**33), 2**70, "upstream\ud800"))
    assert values[1:] == ["m" + "é" * 190, -(2**31), 2**63 - 1, "upstream?"]
    assert notes == ["quota -8589934592 → -2147483648", "elapsed_time 1180591620717411303424 → 9223372036854775807",
                     "model_name: NUL removed or unencodable characters replaced", "model_name 201 chars → 191",
                     "usage_source: NUL removed or unencodable characters replaced"]
    assert values[0] == f"c [clamped to the column: {'; '.join(notes)}]"


def test_a_text_column_cut_in_bytes_keeps_whole_characters_and_the_note() -> None:
    values, notes = FIT.fit(("é" * 40_000, "m", 1, 1, None))
    assert notes == ["content 80000 bytes → 65535"] and len(values[0].encode()) <= 65_535
    assert values[0].endswith(" [clamped to the column: content 80000 bytes → 65535]")
    assert values[0].startswith("éé") and "\ufffd" not in values[0]


def test_type_decorators_are_fitted_by_their_impl() -> None:
    """tokens.key is store.models.Char(48), a TypeDecorator over CHAR(48)."""
    assert RowFit(Token.__table__, ("key",)).fit(("k" * 50,)) == (["k" * 48], ["key 50 chars → 48"])
