"""Exports as theatres' staff really save them: title lines, totals rows, `$ CA`."""

from decimal import Decimal

import pytest

from services.ingest.domain.boxoffice import AcceptedRow, RejectedRow
from services.ingest.domain.boxoffice_values import parse_amount, parse_moment
from tests.unit.ingest.test_boxoffice_csv import accepted, purchase, read

HEADER = "Courriel;Spectacle;Date de représentation;Montant\n"
ROW = "helene@example.com;Les Belles-sœurs;2026-10-03 20:00;45,00 $\n"


def test_a_title_line_above_the_header_does_not_refuse_the_whole_file() -> None:
    body = "Rapport des ventes - Saison 2026-2027;;;\n" + HEADER + ROW
    [row] = accepted(read(body.encode("cp1252")))
    assert purchase(row).total.amount == Decimal("45.00")


def test_rows_are_numbered_as_the_spreadsheet_shows_them_when_lines_come_before_the_header() -> None:
    # Excel shows the title on row 1, the blank line on row 2, the header on row 3: the sale is on row 4.
    body = "Rapport des ventes;;;\n;;;\n" + HEADER + ROW
    [row] = accepted(read(body.encode()))
    assert row.row_number == 4


def test_blank_lines_above_the_header_count_as_rows_of_the_spreadsheet() -> None:
    [row] = accepted(read(("\n\n" + HEADER + ROW).encode()))
    assert row.row_number == 4


def test_the_totals_rows_at_the_bottom_of_a_report_are_not_reported_as_bad_rows() -> None:
    body = HEADER + ROW + "Total;;;45,00 $\n;;Sous-total;45,00 $\n"
    outcomes = read(body.encode())
    assert [outcome.row_number for outcome in outcomes if isinstance(outcome, RejectedRow)] == []
    assert [outcome.row_number for outcome in outcomes if isinstance(outcome, AcceptedRow)] == [2]


@pytest.mark.parametrize(("text", "currency"), [("12,50 $ CA", "CAD"), ("12,50 $ US", "USD"), ("12,50 $ CAN", "CAD")])
def test_dollars_written_the_way_the_office_quebecois_recommends_are_read(text: str, currency: str) -> None:
    amount = parse_amount(text)
    assert (amount.value, amount.currency) == (Decimal("12.50"), currency)


@pytest.mark.parametrize(("text", "currency"), [("12,50 $CAD", "CAD"), ("$CAD 12.50", "CAD"), ("12,50 $USD", "USD")])
def test_dollars_followed_by_their_currency_code_are_read_in_that_currency(text: str, currency: str) -> None:
    amount = parse_amount(text)
    assert (amount.value, amount.currency) == (Decimal("12.50"), currency)


@pytest.mark.parametrize(
    "header",
    [
        # The date's title wrapped in its cell: the first line alone lacks the amount.
        'Courriel;Spectacle;"Date de\r\nreprésentation";Montant;Quantité\r\n',
        # The quantity's title wrapped in the last cell: the first line alone has every required column.
        'Courriel;Spectacle;Date de représentation;Montant;"Nombre\r\nde billets"\r\n',
    ],
)
def test_a_header_whose_titles_wrap_in_their_cells_is_one_row_of_columns(header: str) -> None:
    body = header + "helene@example.com;Les Belles-sœurs;2026-10-03 20:00;90,00 $;2\r\n"

    outcomes = read(body.encode("cp1252"))

    [row] = accepted(outcomes)
    assert row.row_number == 2
    tickets = purchase(row).tickets
    assert [ticket.price.amount for ticket in tickets] == [Decimal("45.00"), Decimal("45.00")]


SALES = "".join(f"p{number}@example.com;Les Belles-sœurs;2026-10-03 20:00;45,00 $;\n" for number in range(15))


@pytest.mark.parametrize(
    ("above", "header", "sales", "first_row"),
    [
        ("", 'Courriel;Spectacle;Date de représentation;Montant;"Notes\n', SALES, 2),
        ("", 'Courriel;Spectacle;Date de représentation;Montant;"Notes\n', SALES[: SALES.index("p3@")], 2),
        ('"Rapport des ventes;;;;\n', "Courriel;Spectacle;Date de représentation;Montant;Notes\n", SALES, 3),
    ],
    ids=["in the header", "in the header of a short file", "in a title above the header"],
)
def test_a_quote_never_closed_above_the_rows_takes_none_of_them_into_the_header(
    above: str, header: str, sales: str, first_row: int
) -> None:
    # A slip, not a title wrapped in its cell: the quote's line is read alone, and every row after it is a row.
    outcomes = read((above + header + sales).encode())

    numbers = [row.row_number for row in accepted(outcomes)]
    assert numbers == list(range(first_row, first_row + sales.count("\n")))


def test_excels_sep_line_naming_a_tab_is_honoured() -> None:
    body = "sep=\t\n" + HEADER.replace(";", "\t") + ROW.replace(";", "\t")
    [row] = accepted(read(body.encode("utf-16")))
    assert purchase(row).total.amount == Decimal("45.00")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5 mars 2026", "2026-03-05T00:00:00-05:00"),
        ("1er août 2026 20 h", "2026-08-01T20:00:00-04:00"),
        ("jeudi 5 mars 2026 19 h 30", "2026-03-05T19:30:00-05:00"),
        ("5 mars 2026 à 20 h", "2026-03-05T20:00:00-05:00"),
        ("5 déc. 2026", "2026-12-05T00:00:00-05:00"),
        ("March 5, 2026 7:30 PM", "2026-03-05T19:30:00-05:00"),
    ],
)
def test_dates_with_the_month_spelled_out_as_excel_writes_a_long_date_are_read(text: str, expected: str) -> None:
    from zoneinfo import ZoneInfo

    assert parse_moment(text, zone=ZoneInfo("America/Toronto")).at.isoformat() == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17 juill. 2026 20 h", "2026-07-17T20:00:00-04:00"),
        ("samedi 1er juill. 2026", "2026-07-01T00:00:00-04:00"),
        ("3 AOÛ 2026 19 h 30", "2026-08-03T19:30:00-04:00"),
    ],
)
def test_months_abbreviated_as_the_office_quebecois_writes_them_are_read(text: str, expected: str) -> None:
    from zoneinfo import ZoneInfo

    assert parse_moment(text, zone=ZoneInfo("America/Toronto")).at.isoformat() == expected
