"""CSV files as the spreadsheet software of the people who download them opens them."""

import csv
import io
import json
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Any


class CsvSeparator(StrEnum):
    """What separates a CSV file's cells. Excel reads the separator from the computer's regional settings, with no
    way to tell it from the file that keeps the accents readable: set up for French (Canada or France), where the
    comma is the decimal mark, it splits cells at `;`, and opens a comma-separated file in one column."""

    COMMA = "comma"
    SEMICOLON = "semicolon"

    @property
    def delimiter(self) -> str:
        return ";" if self is CsvSeparator.SEMICOLON else ","


SEPARATOR_DESCRIPTION = (
    "What separates the cells: `comma` (the default), or `semicolon` for spreadsheet software set up for French, "
    "which opens a comma-separated file in one column."
)


# A phone in E.164 (`+15145550199`) is digits alone, no formula: SMS tools read it only without a quote before it.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# What starts a formula where a cell starts: at the start of the text, and after either separator or a line break (a
# file opened with the separator it was not written with is split there, and its quotes, no longer at a cell's start,
# no longer hold a line break inside the cell), after any spaces and double quotes (a quote written doubled there is
# read as the start of a quoted cell).
_FORMULA_START = re.compile(r'(?:^|(?<=[,;\r\n]))([ "]*)(?=[=+\-@\t\r])')


def spreadsheet_cell(value: Any) -> str:
    """`value` as a cell that a spreadsheet shows as written: empty for None, `yes`/`no`, JSON for what is not text.

    A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return, spaces before it or not, is a formula to a
    spreadsheet (CSV injection): a quote before it keeps it text; a phone in E.164 is left bare. So is one after a
    `,` or a `;` in the text: a file opened with the separator it was not written with (see `CsvSeparator`) is
    split there, unquoted, and `Marie;=1+1` in a comma-separated file opened in French gives a cell `=1+1`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if _E164.fullmatch(text):
        return text
    return _FORMULA_START.sub(r"\1'", text)


def csv_line(cells: Iterable[str], delimiter: str = ",") -> str:
    """One CSV row, ended by CRLF as RFC 4180 and spreadsheets write it."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerow(cells)
    return out.getvalue()
