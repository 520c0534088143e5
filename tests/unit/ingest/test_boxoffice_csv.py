"""Box-office exports stream into events row by row; bad rows are rejected with their row and column, never lost."""

import csv
import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.boxoffice import (
    MAX_LINE_CHARS,
    AcceptedRow,
    ColumnMapping,
    CsvFormatError,
    ImportReport,
    MappingFileError,
    RejectedRow,
    RowKind,
    RowOutcome,
    _RunCounter,
    load_mapping,
    read_boxoffice_csv,
)
from shared.events import (
    DonationMadeV1,
    EventData,
    SalesChannel,
    SubscriptionKind,
    SubscriptionPurchasedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
    parse_data,
)
from tests.unit.ingest.vendor_fixtures import ORGANISATION, boxoffice_path

SOURCE = "billetterie-principale"
IMPORTED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def read(data: bytes | Path, mapping: ColumnMapping | None = None) -> list[RowOutcome]:
    stream = io.BytesIO(data if isinstance(data, bytes) else data.read_bytes())
    return list(
        read_boxoffice_csv(
            stream, organisation_id=ORGANISATION, source=SOURCE, mapping=mapping, imported_at=IMPORTED_AT
        )
    )


def accepted(outcomes: list[RowOutcome]) -> list[AcceptedRow]:
    assert all(isinstance(outcome, AcceptedRow) for outcome in outcomes), [
        outcome for outcome in outcomes if isinstance(outcome, RejectedRow)
    ]
    return [outcome for outcome in outcomes if isinstance(outcome, AcceptedRow)]


def data_of(row: AcceptedRow) -> EventData:
    [envelope] = row.envelopes
    return parse_data(envelope)


def purchase(row: AcceptedRow) -> TicketPurchasedV1:
    data = data_of(row)
    assert isinstance(data, TicketPurchasedV1)
    return data


def ids(outcomes: list[RowOutcome]) -> list[str]:
    return [envelope.id for row in accepted(outcomes) for envelope in row.envelopes]


def test_a_french_windows_1252_export_with_semicolons_reads_every_row() -> None:
    rows = accepted(read(boxoffice_path("billetterie-fr-windows-1252.csv")))

    # Row 5 has a quoted cell spanning two lines: rows are numbered as a spreadsheet shows them.
    assert [row.row_number for row in rows] == [2, 3, 4, 5, 6]
    helene = purchase(rows[0])
    assert (helene.person.first_name, helene.person.last_name) == ("Hélène", "D'Amours")
    assert helene.person.street == "4521, rue Saint-Denis; app. 3"
    assert (helene.person.country, helene.person.locale) == ("CA", "fr")
    assert helene.order_id == "B-240117"
    assert helene.performance.title.fr == "Les Belles-sœurs"
    assert helene.performance.production_id == "les-belles-soeurs"
    assert helene.performance.performance_id == "les-belles-soeurs-2026-10-17-20h00"
    assert helene.performance.starts_at == datetime.fromisoformat("2026-10-17T20:00:00-04:00")
    assert helene.performance.venue == "Salle Jean-Duceppe"
    assert [(ticket.price_category, ticket.price.amount) for ticket in helene.tickets] == [
        ("Régulier", Decimal("54.50")),
        ("Régulier", Decimal("54.50")),
    ]
    assert helene.total.amount == Decimal("109.00")
    assert helene.channel is SalesChannel.BOX_OFFICE
    assert rows[0].envelopes[0].time == datetime.fromisoformat("2026-09-03T10:14:00-04:00")


def test_an_amount_with_no_break_spaces_is_shared_out_among_the_tickets_to_the_cent() -> None:
    benefit = purchase(accepted(read(boxoffice_path("billetterie-fr-windows-1252.csv")))[2])

    assert benefit.total.amount == Decimal("1234.50")
    assert len(benefit.tickets) == 10
    assert {ticket.price.amount for ticket in benefit.tickets} == {Decimal("123.45")}
    assert benefit.performance.title.en == "Soirée-bénéfice « Nuit blanche »"


def test_a_total_that_does_not_divide_evenly_gives_the_odd_cents_to_the_first_tickets() -> None:
    csv_text = "Courriel;Spectacle;Date;Montant;Quantité\nx@example.com;Gala;2026-10-03;100,00 $;3\n"

    [row] = accepted(read(csv_text.encode()))

    prices = [ticket.price.amount for ticket in purchase(row).tickets]
    assert prices == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(prices) == Decimal("100.00")


def test_an_english_utf8_export_with_a_bom_and_commas_reads_unit_prices_and_totals() -> None:
    rows = accepted(read(boxoffice_path("attendee-report-en-utf8-bom.csv")))

    sarah = purchase(rows[0])
    assert sarah.order_id == "1234567890"
    assert [ticket.price.amount for ticket in sarah.tickets] == [Decimal("35.00"), Decimal("35.00")]
    assert sarah.total.amount == Decimal("77.48")
    assert sarah.performance.title.fr == "Montréal Jazz Nights"
    assert rows[0].envelopes[0].time == datetime.fromisoformat("2026-09-10T14:02:11-04:00")
    group = purchase(rows[1])
    assert (len(group.tickets), group.total.amount) == (30, Decimal("1234.50"))


def test_identical_neighbouring_rows_of_one_order_are_distinct_facts_with_distinct_tickets() -> None:
    rows = accepted(read(boxoffice_path("attendee-report-en-utf8-bom.csv")))

    first, second = rows[2], rows[3]
    assert first.envelopes[0].id != second.envelopes[0].id
    assert purchase(first).tickets[0].ticket_id != purchase(second).tickets[0].ticket_id


def test_a_tab_separated_export_without_order_numbers_reads_every_row() -> None:
    rows = accepted(read(boxoffice_path("billetterie-tab.tsv")))

    elise, william, nathalie = (purchase(row) for row in rows)
    assert (elise.person.external_id, elise.person.locale) == ("C-004521", "fr-CA")
    assert elise.performance.starts_at == datetime.fromisoformat("2026-10-17T20:00:00-04:00")
    assert william.performance.title.en == "The Nutcracker"
    assert william.performance.starts_at == datetime.fromisoformat("2026-12-19T19:30:00-05:00")
    assert nathalie.performance.title.fr == "Casse-Noisette"
    assert nathalie.order_id.startswith("row-")


def test_a_zeffy_payments_file_gives_donations_tickets_and_memberships() -> None:
    rows = accepted(read(boxoffice_path("zeffy-payments.csv")))

    donation, ticket, membership, anonymous_donation = (data_of(row) for row in rows)
    assert isinstance(donation, DonationMadeV1)
    assert donation.amount.amount == Decimal("100.00")
    assert donation.campaign is not None
    assert donation.campaign.fr == "Campagne annuelle 2026"
    assert isinstance(ticket, TicketPurchasedV1)
    assert ticket.tickets[0].price_category == "Billet régulier"
    assert ticket.performance.title.en == "Soirée-bénéfice 2026"
    assert isinstance(membership, SubscriptionPurchasedV1)
    assert (membership.kind, membership.plan.fr) == (SubscriptionKind.MEMBERSHIP, "Membre ami")
    assert (membership.starts_on, membership.ends_on) == (date(2026, 9, 1), date(2027, 8, 31))
    assert isinstance(anonymous_donation, DonationMadeV1)
    assert anonymous_donation.person.email is None
    assert anonymous_donation.person.phone == "450 555-0110"


def test_two_gifts_under_one_order_number_are_two_gifts_and_importing_the_file_again_names_them_alike() -> None:
    # A profile counts a gift once per donation id: two gifts paid in one order (the annual campaign and a gift in
    # memory of someone) must not share one.
    body = (
        "No de commande,First Name,Last Name,Email,Amount,Type,Date,FormTitle\n"
        "2026-00117,Hélène,D'Amours,helene.damours@example.ca,100.00,donation,15/09/2026,Campagne annuelle 2026\n"
        "2026-00117,Hélène,D'Amours,helene.damours@example.ca,25.00,donation,15/09/2026,Don en mémoire\n"
    ).encode()

    first, second = (data_of(row) for row in accepted(read(body)))
    again = [data_of(row) for row in accepted(read(body))]

    assert isinstance(first, DonationMadeV1)
    assert isinstance(second, DonationMadeV1)
    assert first.donation_id != second.donation_id
    assert first.donation_id == "2026-00117"
    assert again == [first, second]


def test_a_file_with_broken_rows_yields_every_valid_row_and_one_rejection_per_broken_row() -> None:
    outcomes = read(boxoffice_path("billetterie-lignes-brisees.csv"))

    assert [row.row_number for row in outcomes if isinstance(row, AcceptedRow)] == [2, 4, 9]
    rejections = {
        row.row_number: [error.field for error in row.errors] for row in outcomes if isinstance(row, RejectedRow)
    }
    assert rejections == {
        3: ["Courriel"],
        5: ["Montant"],
        6: ["Date de représentation"],
        7: ["Quantité"],
        8: ["Montant"],
        10: ["Courriel"],
        11: ["$"],
        13: ["Spectacle"],
    }


@pytest.mark.parametrize(
    ("row_number", "code", "words"),
    [
        (3, "person_unidentifiable", "names nobody"),
        (5, "amount_unreadable", "not an amount"),
        (6, "date_unreadable", "calendar date"),
        (7, "quantity_invalid", "whole number"),
        (8, "missing_value", "amount"),
        (10, "email_invalid", "@"),
        (11, "too_many_cells", "without quotes"),
        (13, "missing_value", "show"),
    ],
)
def test_each_rejection_says_why_in_plain_words(row_number: int, code: str, words: str) -> None:
    outcomes = read(boxoffice_path("billetterie-lignes-brisees.csv"))

    [rejected] = [row for row in outcomes if isinstance(row, RejectedRow) and row.row_number == row_number]
    [error] = rejected.errors
    assert error.code == code
    assert words in error.reason


def test_a_row_with_several_problems_reports_each_of_them() -> None:
    csv_text = "Courriel;Spectacle;Date;Montant;Quantité\n;Gala;hier;gratuit;zéro\n"

    [rejected] = read(csv_text.encode())

    assert isinstance(rejected, RejectedRow)
    assert [error.field for error in rejected.errors] == ["Courriel", "Montant", "Quantité", "Date"]


@pytest.mark.parametrize(
    "name",
    [
        "billetterie-fr-windows-1252.csv",
        "attendee-report-en-utf8-bom.csv",
        "billetterie-tab.tsv",
        "zeffy-payments.csv",
        "billetterie-lignes-brisees.csv",
    ],
)
def test_reading_the_same_file_twice_gives_the_same_events(name: str) -> None:
    first = read(boxoffice_path(name))
    again = read(boxoffice_path(name))

    assert first == again


def _reordered(path: Path, encoding: str = "utf-8") -> bytes:
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode(encoding)), delimiter="\t"))
    order = list(reversed(range(len(rows[0]))))
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows([[row[index] for index in order] for row in rows])
    return out.getvalue().encode(encoding)


def test_a_re_export_with_the_columns_in_another_order_gives_the_same_ids() -> None:
    original = read(boxoffice_path("billetterie-tab.tsv"))
    reordered = read(_reordered(boxoffice_path("billetterie-tab.tsv")))

    assert ids(reordered) == ids(original)


def test_the_same_row_written_with_another_amount_style_keeps_its_id() -> None:
    header = "Prénom;Nom;Spectacle;Date;Montant\n"
    french = read(f"{header}Élise;Gagnon;Gala;03/10/2026;1 234,50 $\n".encode())
    english = read(f"{header}Élise;Gagnon;Gala;2026-10-03;1234.50\n".encode())

    assert ids(french) == ids(english)


def test_a_file_missing_a_required_column_is_refused_before_any_row_naming_found_and_expected_headers() -> None:
    stream = io.BytesIO("Prénom;Nom;Courriel;Spectacle;Date\nÉlise;Gagnon;e@example.com;Gala;2026-10-03\n".encode())

    with pytest.raises(CsvFormatError) as caught:
        read_boxoffice_csv(stream, organisation_id=ORGANISATION, source=SOURCE, imported_at=IMPORTED_AT)

    error = caught.value
    assert error.code == "missing_columns"
    assert error.missing == ("amount", "unit_price")
    assert error.headers_found == ("Prénom", "Nom", "Courriel", "Spectacle", "Date")
    assert "Montant" in error.en
    assert "'Courriel'" in error.en
    assert "Il manque" in error.fr
    assert "Montant" in error.fr


def test_a_file_that_names_nobody_is_refused_listing_what_would_identify_a_person() -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(b"Prenom,Spectacle,Date,Montant\nElise,Gala,2026-10-03,10\n")

    assert caught.value.missing == ("email", "phone", "customer_id", "first_name", "last_name")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"])
def test_an_empty_file_is_refused(content: bytes) -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(content)

    assert caught.value.code == "empty_file"


def test_a_header_row_of_empty_cells_is_refused() -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(b";;;\n1;2;3;4\n")

    assert caught.value.code == "no_header"


def _workbook() -> bytes:
    """A spreadsheet saved as a workbook: a ZIP archive of XML parts, as .xlsx and .ods files are."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types/>')
        rows = "".join(f'<row r="{number}"><c t="inlineStr"><is><t>Élise</t></is></c></row>' for number in range(999))
        workbook.writestr("xl/worksheets/sheet1.xml", f"<worksheet><sheetData>{rows}</sheetData></worksheet>")
    return archive.getvalue()


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (_workbook(), "Excel workbook (.xlsx)"),
        # The compound file header every .xls begins with.
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8, "Excel 97-2003 workbook (.xls)"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF document"),
    ],
    ids=["xlsx", "xls", "pdf"],
)
def test_a_workbook_or_document_sent_instead_of_its_csv_export_is_refused_saying_what_it_is(
    content: bytes, named: str
) -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(content)

    assert caught.value.code == "not_csv"
    assert named in caught.value.en
    assert "CSV UTF-8" in caught.value.fr


def test_a_line_with_a_cell_longer_than_csv_reads_above_the_header_is_no_header_not_a_crash() -> None:
    header = "Courriel;Spectacle;Date de représentation;Montant\n"
    row = "helene@example.com;Les Belles-sœurs;2026-10-03 20:00;45,00 $\n"

    [sale] = accepted(read(("x" * 200_000 + "\n" + header + row).encode()))
    with pytest.raises(CsvFormatError) as caught:
        # A document of one long line (minified JSON or XML) uploaded by mistake.
        read(("<export>" + "x" * 200_000 + "</export>").encode())

    assert sale.row_number == 3
    assert caught.value.code == "no_header"


def test_a_windows_1252_character_deep_into_a_utf8_file_is_still_read() -> None:
    header = "Courriel,Spectacle,Date,Montant\n"
    filler = "".join(f"p{index}@example.com,Gala,2026-10-03,10\n" for index in range(4000))
    body = (header + filler).encode() + "late@example.com,Théâtre d'été,2026-10-03,10\n".encode("cp1252")

    outcomes = read(body)

    assert len(body) > 64 * 1024
    assert purchase(accepted(outcomes)[-1]).performance.title.fr == "Théâtre d'été"


def test_a_utf16_tab_separated_excel_unicode_text_export_is_read() -> None:
    body = "Courriel\tSpectacle\tDate\tMontant\r\nélise@example.com\tCasse-Noisette\t20/12/2026\t45,00 $\r\n"

    [row] = accepted(read(body.encode("utf-16")))

    assert purchase(row).performance.title.fr == "Casse-Noisette"


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_a_utf16_export_without_a_byte_order_mark_is_read_as_utf16(encoding: str) -> None:
    body = (
        "Courriel;Prénom;Spectacle;Date de représentation;Montant\r\n"
        "élise@example.com;Élise;Les Belles-sœurs;17/10/2026 20 h 00;1\u00a0234,50 $\r\n"
        "marc@example.com;Marc;L’Œuvre au noir;18/10/2026 14 h 00;45,00 €\r\n"
    )

    first, second = (purchase(row) for row in accepted(read(body.encode(encoding))))

    assert (first.person.email, first.person.first_name) == ("élise@example.com", "Élise")
    assert first.performance.title.fr == "Les Belles-sœurs"
    assert first.total.amount == Decimal("1234.50")
    assert second.performance.title.fr == "L’Œuvre au noir"
    assert second.total.currency == "EUR"


def test_excels_sep_line_names_the_delimiter() -> None:
    body = "sep=,\nCourriel,Spectacle,Date,Montant\ne@example.com,Gala;bis;ter,2026-10-03,10\n"

    [row] = accepted(read(body.encode()))

    assert purchase(row).performance.title.fr == "Gala;bis;ter"
    assert row.row_number == 2


def test_a_cell_protected_from_excel_keeps_its_leading_zeros() -> None:
    body = 'No de commande;Courriel;Spectacle;Date;Montant\n="000123";e@example.com;Gala;2026-10-03;10\n'

    [row] = accepted(read(body.encode()))

    assert purchase(row).order_id == "000123"


def test_headers_are_matched_whatever_their_case_accents_and_spacing() -> None:
    body = (
        "  COURRIEL ;spectacle;DATE DE REPRESENTATION;montant  ;No_de_commande\ne@example.com;Gala;03/10/2026;10;A-1\n"
    )

    [row] = accepted(read(body.encode()))

    assert purchase(row).order_id == "A-1"


def test_an_overlong_line_is_rejected_and_the_rows_after_it_are_still_read() -> None:
    header = "Courriel,Spectacle,Date,Montant\n"
    body = (
        f"{header}a@example.com,Gala,2026-10-03,10\n{'x' * (MAX_LINE_CHARS + 10)}\nb@example.com,Gala,2026-10-03,10\n"
    )

    outcomes = read(body.encode())

    assert [type(outcome).__name__ for outcome in outcomes] == ["AcceptedRow", "RejectedRow", "AcceptedRow"]
    assert [outcome.row_number for outcome in outcomes] == [2, 3, 4]
    rejected = outcomes[1]
    assert isinstance(rejected, RejectedRow)
    assert rejected.errors[0].code == "line_too_long"


def test_an_unknown_row_type_is_rejected_naming_the_type_column() -> None:
    body = "Type,Courriel,Montant,FormTitle,Date\ncommandite,e@example.com,10,Gala,2026-10-03\n"

    [rejected] = read(body.encode())

    assert isinstance(rejected, RejectedRow)
    assert [(error.field, error.code) for error in rejected.errors] == [("Type", "row_type_unknown")]


def test_refunded_and_cancelled_ticket_rows_become_refunds_and_unpaid_ones_are_rejected_as_no_sale() -> None:
    # Eventbrite's attendee report; its statuses ("Glossary of order and attendee statuses in event reports").
    body = (
        "Order #,Order Date,First Name,Last Name,Email,Quantity,Ticket Type,Currency,Total Paid,Attendee Status,"
        "Event Name\n"
        "124,2026-10-01 10:00,Claire,Dion,c@example.com,1,GA,CAD,0.00,Refunded,Show X\n"
        "125,2026-10-01 10:05,Marc,Roy,m@example.com,2,GA,CAD,50.00,Attending,Show X\n"
        "126,2026-10-01 10:10,Lise,Roy,l@example.com,1,GA,CAD,25.00,Refunded / Canceled,Show X\n"
        "127,2026-10-01 10:15,Paul,Roy,p@example.com,1,GA,CAD,25.00,Unpaid,Show X\n"
        "128,2026-10-01 10:20,Anne,Roy,a@example.com,2,GA,CAD,25.00,Partially Refunded,Show X\n"
        "129,2026-10-01 10:25,Éva,Roy,e@example.com,1,GA,CAD,25.00,Annulée,Show X\n"
    )

    outcomes = read(body.encode(), load_mapping("performance_date: 2026-10-17 20:00\n"))

    rejected = [outcome for outcome in outcomes if isinstance(outcome, RejectedRow)]
    assert [(outcome.row_number, [error.code for error in outcome.errors]) for outcome in rejected] == [
        (5, ["not_a_sale"])
    ]
    assert rejected[0].errors[0].field == "Attendee Status"
    assert "unpaid" in rejected[0].errors[0].reason
    assert "impayée" in rejected[0].errors[0].reason_fr
    kept = [(outcome.row_number, outcome.envelopes[0].type) for outcome in outcomes if isinstance(outcome, AcceptedRow)]
    assert kept == [
        (2, "parterre.ticket.refunded.v1"),
        (3, "parterre.ticket.purchased.v1"),
        (4, "parterre.ticket.refunded.v1"),
        (6, "parterre.ticket.purchased.v1"),
        (7, "parterre.ticket.refunded.v1"),
    ]


def test_a_payment_status_saying_refunded_makes_the_row_a_refund_whatever_status_column_comes_before_it() -> None:
    body = (
        "No de commande,Date,Prénom,Nom,Courriel,Quantité,Montant,Statut,Statut du paiement,Spectacle\n"
        "124,2026-10-01 10:00,Claire,Dion,c@example.com,1,25.00,Confirmée,Remboursé,Show X\n"
        "125,2026-10-01 10:00,Marc,Dion,m@example.com,1,25.00,Confirmée,Payé,Show X\n"
    )

    refunded, paid = accepted(read(body.encode()))

    assert isinstance(data_of(refunded), TicketRefundedV1)
    assert isinstance(data_of(paid), TicketPurchasedV1)


def test_a_status_saying_unpaid_rejects_the_row_even_when_another_status_column_says_refunded() -> None:
    body = (
        "No de commande,Date,Courriel,Montant,Statut,Statut du paiement,Spectacle\n"
        "124,2026-10-01 10:00,c@example.com,25.00,Annulée,Impayée,Show X\n"
    )

    [rejected] = read(body.encode())

    assert isinstance(rejected, RejectedRow)
    assert [(error.field, error.code) for error in rejected.errors] == [("Statut du paiement", "not_a_sale")]


_ATTENDEES = (
    "Order #,Order Date,First Name,Last Name,Email,Quantity,Ticket Type,Total Paid,Attendee Status,Event Name\n"
    "301,2026-10-01 10:00,Marc,Roy,m@example.com,2,Adulte,50.00,{first},Show X\n"
    "301,2026-10-01 10:00,Marc,Roy,m@example.com,1,Adulte,25.00,{second},Show X\n"
)
_ONE_PERFORMANCE = "performance_date: 2026-10-17 20:00\n"


def attendees(first: str, second: str) -> list[RowOutcome]:
    return read(_ATTENDEES.format(first=first, second=second).encode(), load_mapping(_ONE_PERFORMANCE))


def refund(row: AcceptedRow) -> TicketRefundedV1:
    data = data_of(row)
    assert isinstance(data, TicketRefundedV1)
    return data


def test_a_ticket_row_exported_again_as_refunded_is_the_refund_of_the_tickets_it_bought() -> None:
    sold_first, sold_second = accepted(attendees("Completed", "Completed"))
    kept, refunded = accepted(attendees("Completed", "Refunded"))

    paid_back = refund(refunded)
    assert paid_back.ticket_ids == [ticket.ticket_id for ticket in purchase(sold_second).tickets]
    assert paid_back.order_id == purchase(sold_second).order_id == "301"
    assert (paid_back.amount.amount, paid_back.amount.currency) == (Decimal("25.00"), "CAD")
    assert paid_back.person == purchase(sold_second).person
    assert refunded.envelopes[0].type == "parterre.ticket.refunded.v1"
    assert refunded.envelopes[0].id != sold_second.envelopes[0].id
    assert refunded.envelopes[0].subject == sold_second.envelopes[0].subject == "order/301"
    assert kept.envelopes == sold_first.envelopes


def test_a_refund_of_two_tickets_names_both_and_pays_back_the_amount_of_its_row() -> None:
    [sold, _] = accepted(attendees("Completed", "Completed"))
    [refunded, _] = accepted(attendees("Remboursé / Annulé", "Completed"))

    assert refund(refunded).ticket_ids == [ticket.ticket_id for ticket in purchase(sold).tickets]
    assert len(refund(refunded).ticket_ids) == 2
    assert refund(refunded).amount.amount == Decimal("50.00")


def test_importing_a_refunded_row_twice_gives_the_same_event_id() -> None:
    first = [envelope.id for row in accepted(attendees("Completed", "Cancelled")) for envelope in row.envelopes]
    again = [envelope.id for row in accepted(attendees("Completed", "Cancelled")) for envelope in row.envelopes]

    assert first == again
    assert len(set(first)) == 2


@pytest.mark.parametrize(
    ("body", "said", "said_fr"),
    [
        pytest.param(
            "Courriel,Spectacle,Date de représentation,Montant,Statut\n"
            "c@example.com,Gala,2026-10-03 20:00,25.00,Refunded\n",
            "the tickets its order number (",
            "que nomme son numéro de commande (",
            id="ticket-without-order-number",
        ),
        pytest.param(
            "Type,No de commande,Courriel,Montant,Campagne,Date,Statut\n"
            "Don,D-7,e@example.com,10,Saison,01/09/2026,Remboursé\n",
            "a refunded or cancelled donation",
            "un don, une adhésion ou un abonnement remboursé",
            id="donation",
        ),
    ],
)
def test_a_refunded_row_that_cannot_be_a_refund_is_still_rejected_saying_why(
    body: str, said: str, said_fr: str
) -> None:
    [rejected] = read(body.encode())

    assert isinstance(rejected, RejectedRow)
    [error] = rejected.errors
    assert (error.field, error.code) == ("Statut", "not_a_sale")
    assert said in error.reason
    assert said_fr in error.reason_fr


def test_a_partially_refunded_row_stays_a_sale_of_the_amount_kept() -> None:
    [row, _] = accepted(attendees("Partially Refunded", "Completed"))

    sold = purchase(row)
    assert sold.total.amount == Decimal("50.00")
    assert len(sold.tickets) == 2


@pytest.mark.parametrize(
    ("type_cell", "kind"),
    [("Don", RowKind.DONATION), ("adhésion", RowKind.MEMBERSHIP), ("Abonnement", RowKind.SEASON_PASS)],
)
def test_row_types_are_understood_in_french_and_english(type_cell: str, kind: RowKind) -> None:
    body = f"Type,Courriel,Montant,Campagne,Date\n{type_cell},e@example.com,10,Saison 2026-2027,01/09/2026\n"

    [row] = accepted(read(body.encode()))

    data = data_of(row)
    if kind is RowKind.DONATION:
        assert isinstance(data, DonationMadeV1)
    else:
        assert isinstance(data, SubscriptionPurchasedV1)
        assert data.kind.value == kind.value


@pytest.mark.parametrize(
    "performance", ["9999-12-31T23:59:59-05:00", "1899-12-30", "31/12/9999"], ids=["year-9999", "excel-zero", "fr"]
)
def test_a_date_no_sale_can_have_rejects_its_row_naming_it_and_the_other_rows_are_read(performance: str) -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant\r\n"
        f"a@example.com;Gala;{performance};10\r\n"
        "b@example.com;Gala;2026-10-03 19:30;12\r\n"
    )

    first, second = read(body.encode())

    assert isinstance(first, RejectedRow)
    [error] = first.errors
    assert (error.field, error.code) == ("Date de représentation", "date_out_of_range")
    assert "between 1900 and 2100" in error.reason
    assert "entre 1900 et 2100" in error.reason_fr
    assert isinstance(second, AcceptedRow)


@pytest.mark.parametrize("never", ["9999-12-31T23:59:59-05:00", "31/12/9999"])
def test_a_membership_ending_in_9999_as_exports_write_never_is_one_without_end(never: str) -> None:
    body = (
        "Type;Courriel;Montant;Catégorie de billet;Date;Date de fin\r\n"
        f"Adhésion;a@example.com;50;Membre ami;2026-09-01;{never}\r\n"
    )

    [row] = accepted(read(body.encode()))

    membership = data_of(row)
    assert isinstance(membership, SubscriptionPurchasedV1)
    assert (membership.starts_on, membership.ends_on) == (date(2026, 9, 1), None)


@pytest.mark.parametrize("rows_after", [30, 2], ids=["many-rows-after", "near-the-end"])
def test_a_quote_never_closed_rejects_its_row_and_every_row_after_it_is_read(rows_after: int) -> None:
    header = "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
    slip = 'a@example.com;"Gala;2026-10-03 19:30;45,00 $;A-1\r\n'
    after = "".join(f"p{n}@example.com;Gala;2026-10-03 19:30;10;B-{n}\r\n" for n in range(rows_after))

    outcomes = read((header + slip + after).encode())

    assert [outcome.row_number for outcome in outcomes] == list(range(2, 3 + rows_after))
    rejected, *rest = outcomes
    assert isinstance(rejected, RejectedRow)
    [error] = rejected.errors
    assert error.code == "unclosed_quote"
    assert "guillemet" in error.reason_fr
    assert len(accepted(rest)) == rows_after


def test_a_quoted_cell_wrapping_over_lines_is_still_one_row() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;Adresse\r\n"
        'a@example.com;Gala;2026-10-03 19:30;10;"4521, rue Saint-Denis\r\nApp. 3"\r\n'
        "b@example.com;Gala;2026-10-03 19:30;12;\r\n"
    )

    rows = accepted(read(body.encode()))

    assert [row.row_number for row in rows] == [2, 3]


def test_a_cell_longer_than_csv_reads_is_refused_in_french_too() -> None:
    body = "Courriel;Spectacle;Date de représentation;Montant\r\n" + f"a@example.com;{'x' * 200_000};2026-10-03;10\r\n"

    [rejected] = read(body.encode())

    assert isinstance(rejected, RejectedRow)
    assert "field larger" not in rejected.errors[0].reason_fr


def test_an_order_s_tickets_of_one_category_are_told_apart_when_another_category_comes_between() -> None:
    header = "Courriel;Spectacle;Date de représentation;Catégorie de billet;Montant;No de commande\r\n"
    order = (
        "a@example.com;Gala;2026-10-03 19:30;Régulier;40;B-1\r\n"
        "a@example.com;Gala;2026-10-03 19:30;Enfant;20;B-1\r\n"
        "a@example.com;Gala;2026-10-03 19:30;Régulier;40;B-1\r\n"
    )
    another = "c@example.com;Gala;2026-10-03 19:30;Régulier;40;C-9\r\n"

    first = ids(read((header + order).encode()))
    # The same order exported twice, another order between: its rows are the same facts again.
    twice = ids(read((header + order + another + order).encode()))

    assert len(set(first)) == 3
    assert twice[:3] == first
    assert twice[4:] == first


@pytest.mark.parametrize(
    "header", ["Nombre de places", "Places", "Billets", "Nb de billets", "Qté billets", "Quantité de billets"]
)
def test_a_quantity_under_a_french_header_ticketing_systems_use_is_read(header: str) -> None:
    body = f"Courriel;Spectacle;Date de représentation;{header};Montant\r\na@example.com;Gala;2026-10-03;4;180,00 $\r\n"

    [row] = accepted(read(body.encode()))

    assert len(purchase(row).tickets) == 4


def test_an_order_number_excel_wrote_in_scientific_notation_is_refused_naming_it_rather_than_merging_orders() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
        "a@example.com;Gala;2026-10-03;10;1,23457E+12\r\n"
        "b@example.com;Gala;2026-10-03;12;1234567890123\r\n"
    )

    mangled, kept = read(body.encode())

    assert isinstance(mangled, RejectedRow)
    [error] = mangled.errors
    assert (error.field, error.code) == ("No de commande", "number_mangled")
    assert "notation scientifique" in error.reason_fr
    assert isinstance(kept, AcceptedRow)


def test_an_export_excel_for_mac_saved_in_mac_roman_reads_its_accents() -> None:
    text = (
        "Prénom;Nom;Courriel;Spectacle;Date de représentation;Montant\r\n"
        "Hélène;Côté;helene@example.ca;Les Belles-sœurs;2026-10-03;45,00\r\n"
        "François;Bélanger;francois@example.ca;Ça ira;2026-10-04;30,00\r\n"
    )

    rows = accepted(read(text.encode("mac_roman")))

    assert [(purchase(row).person.first_name, purchase(row).person.last_name) for row in rows] == [
        ("Hélène", "Côté"),
        ("François", "Bélanger"),
    ]
    assert purchase(rows[0]).performance.title.fr == "Les Belles-sœurs"


def test_an_english_windows_export_with_curly_quotes_and_dashes_is_still_read_as_windows_1252() -> None:
    text = (
        "First Name;Last Name;Email;Show;Performance Date;Amount\r\n"
        "Sarah;O’Connor;s@example.com;Gala – VIP;2026-10-03;45\r\n"
    )

    [row] = accepted(read(text.encode("cp1252")))

    assert purchase(row).person.last_name == "O’Connor"


def test_a_column_mapping_file_reads_an_export_with_its_own_headers_and_date_format() -> None:
    mapping = load_mapping(boxoffice_path("export-personnalise.mapping.yaml").read_text())

    rows = accepted(read(boxoffice_path("export-personnalise.csv"), mapping))

    helene = purchase(rows[0])
    assert helene.order_id == "WEB-5531"
    assert helene.performance.starts_at == datetime.fromisoformat("2026-10-17T20:00:00-04:00")
    assert helene.channel is SalesChannel.ONLINE
    assert len(helene.tickets) == 2


def test_a_column_the_mapping_names_but_the_file_lacks_is_refused_for_the_whole_file() -> None:
    mapping = load_mapping('columns:\n  email: "Courriel client"\n')

    with pytest.raises(CsvFormatError) as caught:
        read(b"Courriel,Spectacle,Date,Montant\ne@example.com,Gala,2026-10-03,10\n", mapping)

    assert "email" in caught.value.missing
    assert "Courriel client" in caught.value.en


def test_the_report_counts_rows_and_rejections_by_reason_and_keeps_the_first_examples() -> None:
    report = ImportReport(max_examples=3)

    passed = list(report.follow(read(boxoffice_path("billetterie-lignes-brisees.csv"))))

    assert len(passed) == report.rows_read == 11
    assert (report.accepted, report.rejected, report.events) == (3, 8, 3)
    assert report.rejections_by_reason == {
        "person_unidentifiable": 1,
        "amount_unreadable": 1,
        "date_unreadable": 1,
        "quantity_invalid": 1,
        "missing_value": 2,
        "email_invalid": 1,
        "too_many_cells": 1,
    }
    assert [(example.row_number, example.column) for example in report.first_rejections] == [
        (3, "Courriel"),
        (5, "Montant"),
        (6, "Date de représentation"),
    ]
    summary: dict[str, Any] = report.to_dict()
    assert summary["first_rejections"][0] == {
        "row": 3,
        "column": "Courriel",
        "reason": report.first_rejections[0].reason,
        "reason_fr": report.first_rejections[0].reason_fr,
        "code": "person_unidentifiable",
    }


def test_rows_without_an_order_number_are_counted_and_the_staff_told_a_corrected_one_would_count_twice() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
        "a@example.com;Gala;2026-10-03 19:30;10;CMD-1\r\n"
        "b@example.com;Gala;2026-10-03 19:30;12;\r\n"
        "c@example.com;Gala;2026-10-03 19:30;14;\r\n"
        "pas-une-adresse;Gala;2026-10-03 19:30;16;\r\n"
    )
    report = ImportReport()

    outcomes = list(report.follow(read(body.encode())))

    assert [outcome.named_by_content for outcome in outcomes if isinstance(outcome, AcceptedRow)] == [
        False,
        True,
        True,
    ]
    # The rejected row is not counted: nothing of it was imported.
    assert (report.accepted, report.rejected, report.named_by_content) == (3, 1, 2)
    [notice] = report.notices()
    assert notice.code == "named_by_content"
    assert notice.message.startswith("2 accepted rows have no order number: they are recognised by their content")
    assert notice.message_fr.startswith("2 lignes acceptées n'ont pas de numéro de commande : elles sont reconnues")
    summary: dict[str, Any] = report.to_dict()
    assert summary["named_by_content"] == 2
    assert summary["notices"] == [
        {"code": "named_by_content", "message": notice.message, "message_fr": notice.message_fr}
    ]


def test_rows_whose_dates_read_either_way_in_a_column_no_date_settles_are_counted_and_the_staff_told() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
        "a@example.com;Gala;03/10/2026;10;A-1\r\n"
        "b@example.com;Gala;05/05/2026;12;A-2\r\n"
        "c@example.com;Gala;2026-10-04;14;A-3\r\n"
    )
    report = ImportReport()

    rows = accepted(list(report.follow(read(body.encode()))))

    assert [row.date_order_guessed for row in rows] == [True, False, False]
    assert report.date_order_guessed == 1
    [notice] = report.notices()
    assert notice.code == "date_order_guessed"
    assert notice.message.startswith("1 accepted row has a date that read either way (03/10/2026)")
    assert "date_format" in notice.message_fr
    assert report.to_dict()["date_order_guessed"] == 1


def test_a_date_column_one_of_whose_dates_settles_the_order_brings_no_notice() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
        "a@example.com;Gala;03/10/2026;10;A-1\r\n"
        "b@example.com;Gala;14/10/2026;12;A-2\r\n"
    )
    report = ImportReport()

    list(report.follow(read(body.encode())))

    assert (report.accepted, report.date_order_guessed, report.notices()) == (2, 0, [])


def test_a_file_whose_rows_all_have_their_order_number_brings_no_notice() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Montant;No de commande\r\n"
        "a@example.com;Gala;2026-10-03 19:30;10;CMD-1\r\n"
    )
    report = ImportReport()

    list(report.follow(read(body.encode())))

    assert (report.accepted, report.named_by_content, report.notices()) == (1, 0, [])
    assert report.to_dict()["notices"] == []


def test_the_notice_counts_in_each_language_s_way() -> None:
    one, many = ImportReport(named_by_content=1), ImportReport(named_by_content=12_345)

    [single], [plural] = one.notices(), many.notices()

    assert single.message.startswith("1 accepted row has no order number: it is recognised by its content")
    assert single.message_fr.startswith("1 ligne acceptée n'a pas de numéro de commande : elle est reconnue par son")
    assert plural.message.startswith("12,345 accepted rows have")
    assert plural.message_fr.startswith("12\u00a0345 lignes acceptées n'ont")


def test_every_reason_a_row_is_rejected_for_is_said_in_french_too() -> None:
    report = ImportReport()

    list(report.follow(read(boxoffice_path("billetterie-lignes-brisees.csv"))))

    said = {(example.code, example.reason, example.reason_fr) for example in report.first_rejections}
    assert {code for code, _, _ in said} == set(report.rejections_by_reason)
    for code, english, french in said:
        assert french, code
        assert french != english, code
        assert "code" not in french, (code, french)
    assert (
        "email_invalid",
        "An email address has one @ and no spaces",
        "Une adresse courriel a un seul @ et aucune espace",
    ) in said


def test_an_import_time_without_offset_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="offset"):
        read_boxoffice_csv(
            io.BytesIO(b"Courriel,Montant\n"),
            organisation_id=ORGANISATION,
            source=SOURCE,
            imported_at=datetime(2026, 11, 20),
        )


ROBUSTNESS_HEADER = "Type;No de commande;Prénom;Nom;Courriel;Spectacle;Date;Quantité;Montant;Pays;Langue;Canal\n"


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.text(max_size=25), max_size=14))
def test_any_row_is_accepted_or_rejected_with_reasons_never_a_crash(cells: list[str]) -> None:
    line = io.StringIO()
    csv.writer(line, delimiter=";", lineterminator="\n").writerow(cells)

    outcomes = read((ROBUSTNESS_HEADER + line.getvalue()).encode())

    for outcome in outcomes:
        assert isinstance(outcome, AcceptedRow) or (isinstance(outcome, RejectedRow) and outcome.errors)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=400))
def test_any_bytes_after_a_header_are_read_as_rows_accepted_or_rejected_never_a_crash(tail: bytes) -> None:
    outcomes = read(ROBUSTNESS_HEADER.encode() + tail)

    for outcome in outcomes:
        assert isinstance(outcome, AcceptedRow) or (isinstance(outcome, RejectedRow) and outcome.errors)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_file_is_refused_as_a_whole_or_read_row_by_row_never_a_crash(content: bytes) -> None:
    try:
        outcomes = read(content)
    except CsvFormatError as exc:
        refusal: CsvFormatError | None = exc
    else:
        refusal = None
        assert all(isinstance(outcome, AcceptedRow | RejectedRow) for outcome in outcomes)

    assert refusal is None or (refusal.en and refusal.fr)


EVENTBRITE_ATTENDEES = (
    # Eventbrite's attendee report names the order date, never the event's (columns as observed in real exports).
    "Order #,Order Date,First Name,Last Name,Email,Quantity,Ticket Type,Total Paid,Attendee Status,Event Name\n"
    "125,2026-09-01 10:05,Marc,Roy,m@example.com,2,GA,50.00,Attending,Show X\n"
    "126,2026-09-14 18:40,Lise,Roy,l@example.com,1,GA,25.00,Attending,Show X\n"
)


def test_an_order_or_payment_date_is_never_taken_for_the_performance_s() -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(EVENTBRITE_ATTENDEES.encode())

    assert caught.value.code == "missing_columns"
    assert caught.value.missing == ("performance_date",)
    assert "performance_date (Date de représentation" in caught.value.en
    assert "performance_date: 2026-10-17 20:00" in caught.value.en
    assert "performance_date: 2026-10-17 20:00" in caught.value.fr


def test_a_file_of_one_performance_is_dated_by_its_mapping_and_each_ticket_bought_when_ordered() -> None:
    outcomes = accepted(read(EVENTBRITE_ATTENDEES.encode(), load_mapping("performance_date: 2026-10-17 20:00\n")))

    performances = {purchase(outcome).performance.performance_id for outcome in outcomes}
    starts = {purchase(outcome).performance.starts_at for outcome in outcomes}
    assert len(performances) == 1
    assert starts == {datetime.fromisoformat("2026-10-17T20:00:00-04:00")}
    assert [outcome.envelopes[0].time for outcome in outcomes] == [
        datetime.fromisoformat("2026-09-01T10:05:00-04:00"),
        datetime.fromisoformat("2026-09-14T18:40:00-04:00"),
    ]


def test_a_mapping_s_performance_date_is_read_with_its_date_format() -> None:
    mapping = load_mapping("date_format: '%m/%d/%Y'\nperformance_date: 10/03/2026 20:00\n")

    outcomes = accepted(read(EVENTBRITE_ATTENDEES.encode(), mapping))

    assert purchase(outcomes[0]).performance.starts_at == datetime.fromisoformat("2026-10-03T20:00:00-04:00")


def test_a_column_headed_date_alone_still_dates_the_performance_of_a_ticket() -> None:
    body = "Courriel,Spectacle,Date,Montant\ne@example.com,Gala,03/10/2026 19 h 30,10\n"

    (outcome,) = accepted(read(body.encode()))

    assert purchase(outcome).performance.starts_at == datetime.fromisoformat("2026-10-03T19:30:00-04:00")


def _performance_days(body: str, mapping: ColumnMapping | None = None) -> list[str]:
    return [
        purchase(outcome).performance.starts_at.date().isoformat() for outcome in accepted(read(body.encode(), mapping))
    ]


def test_a_us_export_is_read_month_first_from_its_first_row_once_a_later_date_shows_it() -> None:
    # Eventbrite's US reports write dates month first (`MM/DD/YYYY`); 05/04 reads either way, 05/14 cannot be day first.
    body = (
        "Email,Event Name,Event Date,Order Date,Total Paid\n"
        "a@example.com,Show X,05/04/2026 8:00 PM,04/02/2026 10:05 AM,25.00\n"
        "b@example.com,Show X,05/14/2026 8:00 PM,04/03/2026 11:00 AM,25.00\n"
    )

    assert _performance_days(body) == ["2026-05-04", "2026-05-14"]
    # The order dates prove nothing themselves: they follow the file's other date column.
    assert [outcome.envelopes[0].time.date().isoformat() for outcome in accepted(read(body.encode()))] == [
        "2026-04-02",
        "2026-04-03",
    ]


def test_a_quebec_export_stays_day_first_and_a_file_whose_dates_never_tell_is_read_day_first() -> None:
    header = "Courriel,Spectacle,Date,Montant\n"
    day_first = f"{header}a@example.com,Gala,05/04/2026 19 h 30,10\nb@example.com,Gala,14/05/2026 19 h 30,10\n"
    untold = f"{header}a@example.com,Gala,05/04/2026 19 h 30,10\nb@example.com,Gala,06/04/2026 19 h 30,10\n"

    assert _performance_days(day_first) == ["2026-04-05", "2026-05-14"]
    assert _performance_days(untold) == ["2026-04-05", "2026-04-06"]


def test_each_date_column_keeps_the_order_its_own_dates_show() -> None:
    # One vendor can write two orders (Zeffy: payment dates day first, contacts' birth dates month first).
    body = (
        "Courriel,Spectacle,Date de représentation,Date,Montant\n"
        "a@example.com,Gala,05/04/2026 19:30,14/03/2026,10\n"
        "b@example.com,Gala,05/20/2026 19:30,02/03/2026,10\n"
    )

    rows = accepted(read(body.encode()))

    assert _performance_days(body) == ["2026-05-04", "2026-05-20"]
    assert [row.envelopes[0].time.date().isoformat() for row in rows] == ["2026-03-14", "2026-03-02"]


def test_a_column_whose_dates_show_both_orders_is_read_day_first_and_its_impossible_dates_refused() -> None:
    body = (
        "Courriel,Spectacle,Date,Montant\n"
        "a@example.com,Gala,14/05/2026 19 h 30,10\n"
        "b@example.com,Gala,05/14/2026 19 h 30,10\n"
        "c@example.com,Gala,05/04/2026 19 h 30,10\n"
    )

    first, second, third = read(body.encode())

    assert isinstance(first, AcceptedRow)
    assert isinstance(third, AcceptedRow)
    assert purchase(third).performance.starts_at.date().isoformat() == "2026-04-05"
    assert isinstance(second, RejectedRow)
    assert [error.reason for error in second.errors] == ["is not a real calendar date"]


def test_a_date_format_decides_the_order_and_the_rows_are_not_read_ahead() -> None:
    body = "Courriel,Spectacle,Date,Montant\na@example.com,Gala,05/04/2026,10\nb@example.com,Gala,05/14/2026,10\n"

    outcomes = read(body.encode(), load_mapping("date_format: '%d/%m/%Y'\n"))

    assert isinstance(outcomes[0], AcceptedRow)
    assert isinstance(outcomes[1], RejectedRow)
    assert purchase(outcomes[0]).performance.starts_at.date().isoformat() == "2026-04-05"


def test_a_stream_that_cannot_be_read_twice_is_read_day_first() -> None:
    class OneWay(io.BytesIO):
        def seekable(self) -> bool:
            return False

    body = b"Courriel,Spectacle,Date,Montant\na@example.com,Gala,05/04/2026,10\nb@example.com,Gala,05/14/2026,10\n"
    outcomes = list(
        read_boxoffice_csv(OneWay(body), organisation_id=ORGANISATION, source=SOURCE, imported_at=IMPORTED_AT)
    )

    assert isinstance(outcomes[0], AcceptedRow)
    assert isinstance(outcomes[1], RejectedRow)
    assert purchase(outcomes[0]).performance.starts_at.date().isoformat() == "2026-04-05"


def test_reading_a_file_ahead_for_its_date_order_starts_the_import_where_the_stream_was() -> None:
    body = b"Courriel,Spectacle,Date,Montant\na@example.com,Gala,05/04/2026,10\nb@example.com,Gala,05/14/2026,10\n"
    stream = io.BytesIO(b"ignored prefix\n" + body)
    stream.seek(len(b"ignored prefix\n"))

    outcomes = accepted(
        list(read_boxoffice_csv(stream, organisation_id=ORGANISATION, source=SOURCE, imported_at=IMPORTED_AT))
    )

    assert [purchase(row).performance.starts_at.date().isoformat() for row in outcomes] == ["2026-05-04", "2026-05-14"]


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("performance_date: 2026-10-17\n", "gives no time"),
        ("performance_date: le 17 octobre\n", "is not a date"),
        ("performance_date: 30/02/2026 20:00\n", "is not a real calendar date"),
    ],
)
def test_a_mapping_s_performance_date_must_be_a_date_and_time_read_as_its_dates_are(setting: str, problem: str) -> None:
    with pytest.raises(MappingFileError) as caught:
        load_mapping(setting)

    assert caught.value.problems[0].line == 1
    assert problem in caught.value.problems[0].en


def test_the_rows_of_one_order_spread_through_the_file_are_each_a_ticket() -> None:
    # An attendee report sorted by name: order A1's two attendees are apart.
    body = (
        "No de commande;Prénom;Nom;Spectacle;Date de représentation;Montant\n"
        "A1;Anne;Roy;Hamlet;2026-10-03 19:30;30\n"
        "A2;Bob;Zed;Hamlet;2026-10-03 19:30;30\n"
        "A1;Carl;Roy;Hamlet;2026-10-03 19:30;30\n"
    )

    first, again = ids(read(body.encode())), ids(read(body.encode()))

    assert len(set(first)) == 3
    assert first == again


def test_rows_of_a_key_are_ranked_in_their_run_and_a_new_one_met_later_after_all_the_others() -> None:
    runs = _RunCounter()
    rows = [("a", "anne"), ("a", "anne"), ("b", "bob"), ("a", "carl"), ("a", "dave"), ("b", "bob"), ("a", "anne")]

    # Anne's two tickets; Carl and Dave, later, after them; Bob and Anne again, duplicates of the rows they repeat.
    assert [runs.occurrence((key,), content) for key, content in rows] == [1, 2, 1, 3, 4, 1, 1]


def test_only_the_keys_seen_last_are_remembered_so_a_huge_file_reads_in_bounded_memory() -> None:
    runs = _RunCounter(remembered=2)
    rows = [("a", "anne"), ("b", "bob"), ("a", "carl"), ("c", "cleo"), ("b", "bea")]

    # `a` was seen last before `c` came: `b`, forgotten, ranks Bea as its first.
    assert [runs.occurrence((key,), content) for key, content in rows] == [1, 1, 2, 1, 1]


def test_beside_a_performance_date_column_an_empty_one_is_missing_not_the_sale_s_date() -> None:
    body = "Date;Courriel;Spectacle;Date de représentation;Montant\n2026-08-01;e@example.com;Hamlet;;30\n"

    (outcome,) = read(body.encode())

    assert isinstance(outcome, RejectedRow)
    assert [(error.field, error.code) for error in outcome.errors] == [("Date de représentation", "missing_value")]


def test_a_ticket_file_without_any_date_names_the_performance_date_alone_and_the_mapping_s_setting() -> None:
    with pytest.raises(CsvFormatError) as caught:
        read(b"Courriel,Spectacle,Montant\ne@example.com,Gala,10\n")

    assert caught.value.missing == ("performance_date",)
    assert "Date de commande" not in caught.value.en
    assert "performance_date: 2026-10-17 20:00" in caught.value.en
    assert "performance_date: 2026-10-17 20:00" in caught.value.fr


def test_a_ticket_among_donations_dated_by_its_order_alone_is_refused_saying_how_to_date_it() -> None:
    body = (
        "No de commande,Type,Date de commande,Courriel,Spectacle,Montant\n"
        "1001,billet,2026-09-01 10:05,e@example.com,Gala,25\n"
        "1002,don,2026-09-01 10:06,e@example.com,,50\n"
    )

    ticket, donation = read(body.encode())

    assert isinstance(donation, AcceptedRow)
    assert isinstance(ticket, RejectedRow)
    [error] = ticket.errors
    assert "is no column of the file" in error.reason
    assert "performance_date: 2026-10-17 20:00" in error.reason


def test_a_sale_date_a_mapping_names_as_the_date_does_not_date_the_performance() -> None:
    mapping = load_mapping('columns:\n  date: "Date de vente"\n')

    with pytest.raises(CsvFormatError) as caught:
        read(b"Courriel,Spectacle,Date de vente,Montant\ne@example.com,Gala,2026-09-01 10:05,10\n", mapping)

    assert caught.value.missing == ("performance_date",)


def test_the_mapping_s_performance_wins_over_a_column_headed_date_which_may_be_the_payment_s() -> None:
    # Zeffy's payments file heads its payment date `Date`.
    body = "Courriel,FormTitle,Date,Montant\ne@example.com,Gala,01/09/2026,10\n"

    (outcome,) = accepted(read(body.encode(), load_mapping("performance_date: 2026-10-17 20:00\n")))

    assert purchase(outcome).performance.starts_at == datetime.fromisoformat("2026-10-17T20:00:00-04:00")
    assert outcome.envelopes[0].time == datetime.fromisoformat("2026-09-01T00:00:00-04:00")


@pytest.mark.parametrize(("written", "code"), [("MEX", "MX"), ("deu", "DE"), ("HTI", "HT"), ("CAN", "CA")])
def test_a_country_written_as_its_three_letter_code_is_read(written: str, code: str) -> None:
    # Zeffy's payments file takes a country as two or three letters.
    body = (
        "First Name,Last Name,Email,Amount,Type,Date,Country\n"
        f"Ana,López,ana@example.com,50.00,donation,03/10/2026,{written}\n"
    )

    (outcome,) = accepted(read(body.encode()))

    assert outcome.envelopes[0].data["person"]["country"] == code


@pytest.mark.parametrize("placeholder", ["-", "--", "?", "N/A", "aucun", "Pas de courriel"])
def test_what_staff_type_for_no_email_is_no_email_and_the_row_is_kept(placeholder: str) -> None:
    body = (
        "Prénom;Nom;Courriel;Spectacle;Date de représentation;Montant\n"
        f"Anne;Roy;{placeholder};Gala;03/10/2026 20 h;30\n"
    )

    (outcome,) = accepted(read(body.encode()))

    person = purchase(outcome).person
    assert (person.email, person.first_name, person.last_name) == (None, "Anne", "Roy")


def test_a_placeholder_email_on_a_row_naming_nobody_else_is_refused_as_naming_nobody() -> None:
    (outcome,) = read(b"Courriel;Spectacle;Date de repr\xc3\xa9sentation;Montant\n-;Gala;03/10/2026 20 h;30\n")

    assert isinstance(outcome, RejectedRow)
    assert [error.code for error in outcome.errors] == ["person_unidentifiable"]


def test_a_column_headed_date_that_the_mapping_names_as_the_date_does_not_date_the_performance() -> None:
    mapping = load_mapping('columns:\n  date: "Date"\n')

    with pytest.raises(CsvFormatError) as caught:
        read(b"Courriel,Spectacle,Date,Montant\ne@example.com,Gala,2026-09-01 10:05,10\n", mapping)

    assert caught.value.missing == ("performance_date",)


def test_a_column_whose_dates_show_both_orders_is_read_day_first_whichever_order_comes_first() -> None:
    # A Québec export with one date typed the US way near the top: the dates further down still prove day first.
    body = (
        "Courriel,Spectacle,Date,Montant\n"
        "b@example.com,Gala,05/14/2026 19 h 30,10\n"
        "a@example.com,Gala,14/05/2026 19 h 30,10\n"
        "c@example.com,Gala,05/04/2026 19 h 30,10\n"
    )

    first, second, third = read(body.encode())

    assert isinstance(first, RejectedRow)
    assert isinstance(second, AcceptedRow)
    assert isinstance(third, AcceptedRow)
    assert purchase(third).performance.starts_at.date().isoformat() == "2026-04-05"


def test_a_paid_row_keeps_its_event_and_ticket_ids_when_a_refunded_row_of_its_order_comes_before_it() -> None:
    # Imported before refunded rows were read, Marc's row was the order's first ticket: the refunded row above it was
    # refused and took no rank. Importing the same file again must not buy Marc a second ticket. (Claire's refund
    # names the order's first ticket, as her row was when sold; the profile counts it only for whoever bought it.)
    header = (
        "Order #,Order Date,First Name,Last Name,Email,Quantity,Ticket Type,Total Paid,Attendee Status,Event Name\n"
    )
    claire = "301,2026-10-01 10:00,Claire,Roy,c@example.com,1,Adulte,25.00,Refunded,Show X\n"
    marc = "301,2026-10-01 10:00,Marc,Roy,m@example.com,1,Adulte,25.00,Completed,Show X\n"
    mapping = load_mapping(_ONE_PERFORMANCE)

    [marc_alone] = accepted(read(f"{header}{marc}".encode(), mapping))
    outcomes = accepted(read(f"{header}{claire}{marc}".encode(), mapping))
    [marc_again] = [row for row in outcomes if isinstance(data_of(row), TicketPurchasedV1)]

    assert marc_again.envelopes[0].id == marc_alone.envelopes[0].id
    assert purchase(marc_again).tickets == purchase(marc_alone).tickets


def test_a_date_kept_as_text_for_excel_tells_its_columns_order_as_any_other() -> None:
    body = (
        "Courriel,Spectacle,Date,Montant\n"
        "a@example.com,Gala,05/04/2026 19:30,10\n"
        'b@example.com,Gala,"=""05/14/2026 19:30""",10\n'
    )

    assert _performance_days(body) == ["2026-05-04", "2026-05-14"]
