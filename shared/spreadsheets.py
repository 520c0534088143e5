"""CSV files as the spreadsheet software of the people who download them opens them."""

from enum import StrEnum


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
