"""Where a resource came from: the case file and row that minted its IRI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """The row of a case file a resource was read from.

    ``table`` is the kind of record, singular, as in the resource's IRI (``partnership``);
    ``path`` the file name as the user knows it (``partnerships.csv``); ``row`` the 1-based
    line number a spreadsheet shows (the header is row 1); ``id`` the row's ``id`` column.

    >>> str(Origin("partnership", "partnerships.csv", 7, "torbay-care-trust"))
    'partnerships.csv:7'
    """

    table: str
    path: str
    row: int
    id: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row}"

    def describe(self) -> str:
        """``partnerships.csv:7 (partnership 'torbay-care-trust')``: file, row and record."""
        return f"{self.path}:{self.row} ({self.table} '{self.id}')"
