"""The one error the rules package raises for bad data files."""

from __future__ import annotations

from pathlib import Path


class RulesError(ValueError):
    """A rules data file is unreadable or has an invalid entry.

    The message always names the file, the entry and the problem, e.g.
    ``channel_types.toml: type 27: unknown api_style 'openia'``.
    """

    def __init__(self, path: Path | str, entry: str, problem: str) -> None:
        self.path = Path(path)
        self.entry = entry
        self.problem = problem
        where = f"{self.path.name}: {entry}" if entry else self.path.name
        super().__init__(f"{where}: {problem}")
