"""Cells of the spreadsheets people download: no text they hold becomes a formula, whichever separator splits them."""

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.spreadsheets import csv_line, spreadsheet_cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cells_as_split_at(line: str, separator: str) -> list[str]:
    """The cells a spreadsheet set up for `separator` reads from one line of a file written with another."""
    return next(csv.reader(io.StringIO(line), delimiter=separator))


@pytest.mark.parametrize(("written_with", "opened_with"), [(",", ";"), (";", ",")])
@pytest.mark.parametrize("name", ["Marie;=1+1", "Marie,=1+1", 'Marie; =HYPERLINK("x")', "Roy,\t-2+3", "Luc;@SUM(A1)"])
def test_a_formula_behind_a_separator_stays_text_when_the_file_is_opened_with_the_other_separator(
    written_with: str, opened_with: str, name: str
) -> None:
    line = csv_line(["per_x", spreadsheet_cell(name), "5"], written_with)

    cells = cells_as_split_at(line.rstrip("\r\n"), opened_with)

    assert [cell for cell in cells if cell.lstrip(" ")[:1] in FORMULA_STARTS] == []


def test_a_cell_read_with_its_own_separator_keeps_its_text_with_a_quote_before_each_formula() -> None:
    line = csv_line(["per_x", spreadsheet_cell("Marie;=1+1, -2"), "5"], ",")

    assert cells_as_split_at(line, ",") == ["per_x", "Marie;'=1+1, '-2", "5"]


def test_text_without_a_formula_behind_a_separator_is_written_as_it_is() -> None:
    assert spreadsheet_cell("Côté, Marie; app. 3") == "Côté, Marie; app. 3"
    assert spreadsheet_cell("Jean-Pierre") == "Jean-Pierre"
    assert spreadsheet_cell("+15145550199") == "+15145550199"


@given(
    st.lists(st.text(alphabet=st.sampled_from(list("ab ,;=+-@\t\r\n\"'")), max_size=20), min_size=1, max_size=3),
    st.sampled_from([",", ";"]),
)
def test_no_text_gives_a_cell_starting_a_formula_at_either_separator(texts: list[str], written_with: str) -> None:
    line = csv_line(["per_x", *(spreadsheet_cell(text) for text in texts)], written_with)

    for opened_with in (",", ";"):
        for row in csv.reader(io.StringIO(line, newline=""), delimiter=opened_with):
            # A cell of line breaks alone is the row's own end, taken into a quote the other separator left open.
            for cell in (cell for cell in row if cell.strip()):
                assert cell.lstrip(" ")[:1] not in FORMULA_STARTS or cell.startswith('"')
