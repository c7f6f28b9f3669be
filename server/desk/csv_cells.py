"""CSV that a spreadsheet opens without running anything: every export of the server writes through here.

A text cell starting with = + - @ (or a tab or carriage return, which some spreadsheets skip before
reading a formula) is prefixed with a single quote, as OWASP advises against CSV injection; numbers are
left alone, so a negative amount or point count stays a number, and so is text made only of a sign, digits,
spaces and ( ) . , / - (a phone number "+33 6 12 34 56 78", "-5"): without a letter, a reference or an
operator beyond minus, a spreadsheet can run nothing from it, and an SMS tool still reads the number."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER_TEXT = re.compile(r"[+-][0-9][0-9 ().,/-]*")


def cell(value):
    """The value as it may be written: text that a spreadsheet would read as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER_TEXT.fullmatch(value):
        return "'" + value
    return value


class Writer:
    """csv.writer's writerow/writerows, each cell through `cell`."""

    def __init__(self, out):
        self._csv = csv.writer(out, lineterminator="\n")

    def writerow(self, row: Iterable) -> None:
        self._csv.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


class DictWriter:
    """csv.DictWriter's writeheader/writerow (missing keys written empty), each cell through `cell`."""

    def __init__(self, out, fieldnames: list[str]):
        self.fieldnames = list(fieldnames)
        self._writer = Writer(out)

    def writeheader(self) -> None:
        self._writer.writerow(self.fieldnames)

    def writerow(self, row: dict) -> None:
        unknown = set(row) - set(self.fieldnames)
        if unknown:
            raise ValueError(f"dict contains fields not in fieldnames: {', '.join(sorted(unknown))}")
        self._writer.writerow([row.get(name, "") for name in self.fieldnames])
