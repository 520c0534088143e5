"""A performance's time in a column of its own completes its date: a matinée and an evening are two performances."""

import csv
import io
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.boxoffice import AcceptedRow, CsvFormatError, ImportReport, RejectedRow, load_mapping
from tests.unit.ingest.test_boxoffice_csv import accepted, ids, purchase, read

MATINEE_AND_EVENING = (
    "No de commande;Courriel;Spectacle;Date de représentation;Heure de représentation;Montant\n"
    "C-1;helene@example.com;Les Belles-sœurs;17/10/2026;14 h;45,00 $\n"
    "C-2;marc@example.com;Les Belles-sœurs;17/10/2026;20 h;45,00 $\n"
)


def test_a_matinee_and_an_evening_on_one_day_are_two_performances() -> None:
    matinee, evening = (purchase(row) for row in accepted(read(MATINEE_AND_EVENING.encode())))

    assert matinee.performance.performance_id == "les-belles-soeurs-2026-10-17-14h00"
    assert evening.performance.performance_id == "les-belles-soeurs-2026-10-17-20h00"
    assert matinee.performance.starts_at == datetime.fromisoformat("2026-10-17T14:00:00-04:00")
    assert evening.performance.starts_at == datetime.fromisoformat("2026-10-17T20:00:00-04:00")


def test_rows_alike_but_for_their_time_and_without_order_numbers_are_two_sales() -> None:
    body = (
        "Courriel;Spectacle;Date;Heure;Montant\n"
        "helene@example.com;Gala;2026-10-17;14 h 00;45,00 $\n"
        "marc@example.com;Gala;2026-10-17;14 h 00;45,00 $\n"
        "helene@example.com;Gala;2026-10-17;20 h 00;45,00 $\n"
    )

    outcomes = read(body.encode())

    assert len(set(ids(outcomes))) == 3
    assert [purchase(row).performance.performance_id for row in accepted(outcomes)] == [
        "gala-2026-10-17-14h00",
        "gala-2026-10-17-14h00",
        "gala-2026-10-17-20h00",
    ]


@pytest.mark.parametrize(
    ("written", "starts_at"),
    [
        ("19 h 30", "2026-10-17T19:30:00-04:00"),
        ("19h30", "2026-10-17T19:30:00-04:00"),
        ("19:30", "2026-10-17T19:30:00-04:00"),
        ("19:30:00", "2026-10-17T19:30:00-04:00"),
        ("7:30 PM", "2026-10-17T19:30:00-04:00"),
        ("7:30 p.m.", "2026-10-17T19:30:00-04:00"),
        ("14 h", "2026-10-17T14:00:00-04:00"),
        ("14h", "2026-10-17T14:00:00-04:00"),
        ("2 PM", "2026-10-17T14:00:00-04:00"),
    ],
)
def test_each_way_exports_write_a_time_is_read(written: str, starts_at: str) -> None:
    body = f"Courriel;Spectacle;Date;Heure;Montant\nhelene@example.com;Gala;17/10/2026;{written};45,00 $\n"

    [row] = accepted(read(body.encode()))

    assert purchase(row).performance.starts_at == datetime.fromisoformat(starts_at)


@pytest.mark.parametrize(
    ("date_header", "time_header"),
    [
        ("Date", "Heure"),
        ("Date de représentation", "Heure de représentation"),
        ("Date du spectacle", "Heure du spectacle"),
        ("Performance Date", "Performance Time"),
        ("Performance date", "Performance time"),
        ("Show Date", "Show time"),
        ("Event Date", "Start Time"),
        ("Date", "Time"),
    ],
)
def test_a_time_column_is_recognised_by_its_french_or_english_header(date_header: str, time_header: str) -> None:
    body = f"Email,Show,{date_header},{time_header},Amount\nliam@example.com,Gala,2026-10-17,7:30 PM,45.00\n"

    [row] = accepted(read(body.encode()))

    assert purchase(row).performance.performance_id == "gala-2026-10-17-19h30"


def test_a_mapping_names_a_time_column_like_any_other() -> None:
    body = "Courriel;Spectacle;Date de représentation;Début;Montant\nh@example.com;Gala;17/10/2026;19 h 30;45 $\n"

    [row] = accepted(read(body.encode(), load_mapping("columns:\n  performance_time: Début\n")))

    assert purchase(row).performance.starts_at == datetime.fromisoformat("2026-10-17T19:30:00-04:00")


@pytest.mark.parametrize("written", ["19", "soir", "25:00", "13:30 PM", "19 h 75", "17/10/2026"])
def test_an_unreadable_time_rejects_its_row_naming_its_column_in_english_and_french(written: str) -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Heure de représentation;Montant\n"
        f"helene@example.com;Gala;17/10/2026;{written};45,00 $\n"
        "marc@example.com;Gala;17/10/2026;20 h;45,00 $\n"
    )
    report = ImportReport()

    rejected, kept = report.follow(read(body.encode()))

    assert isinstance(rejected, RejectedRow)
    [error] = rejected.errors
    assert (rejected.row_number, error.field, error.code) == (2, "Heure de représentation", "time_unreadable")
    assert error.reason
    assert error.reason_fr not in ("", error.reason)
    assert purchase(accepted([kept])[0]).performance.performance_id == "gala-2026-10-17-20h00"
    assert report.to_dict()["first_rejections"][0]["column"] == "Heure de représentation"


def test_a_date_with_its_own_time_reads_as_before_and_a_time_column_that_agrees_changes_nothing() -> None:
    alone = "No de commande;Courriel;Spectacle;Date de représentation;Montant\nC-1;h@example.com;Gala;{};45 $\n"
    beside = (
        "No de commande;Courriel;Spectacle;Date de représentation;Heure;Montant\nC-1;h@example.com;Gala;{};{};45 $\n"
    )

    before = read(alone.format("17/10/2026 20 h 00").encode())
    agreeing = read(beside.format("17/10/2026 20 h 00", "20:00").encode())
    empty_time = read(beside.format("17/10/2026 20 h 00", "").encode())
    split = read(beside.format("17/10/2026", "20 h 00").encode())

    assert purchase(accepted(before)[0]).performance.performance_id == "gala-2026-10-17-20h00"
    assert ids(agreeing) == ids(empty_time) == ids(split) == ids(before)
    assert {purchase(accepted(outcomes)[0]).performance.starts_at for outcomes in (agreeing, empty_time, split)} == {
        datetime.fromisoformat("2026-10-17T20:00:00-04:00")
    }


def test_a_row_without_an_order_number_keeps_its_id_whether_its_time_is_in_the_date_or_beside_it() -> None:
    one_column = "Courriel;Spectacle;Date;Montant\nh@example.com;Gala;2026-10-17 14:00;45 $\n"
    two_columns = "Courriel;Spectacle;Date;Heure;Montant\nh@example.com;Gala;2026-10-17;14 h;45 $\n"

    assert ids(read(two_columns.encode())) == ids(read(one_column.encode()))


def test_a_date_at_midnight_as_spreadsheets_write_date_cells_takes_the_time_column_s_time() -> None:
    body = (
        "Courriel;Spectacle;Date de représentation;Heure;Montant\nh@example.com;Gala;2026-10-17 00:00:00;14:00;45 $\n"
    )

    [row] = accepted(read(body.encode()))

    assert purchase(row).performance.performance_id == "gala-2026-10-17-14h00"


def test_a_date_whose_own_time_disagrees_with_the_time_column_is_rejected_saying_both_in_english_and_french() -> None:
    body = "Courriel;Spectacle;Date de représentation;Heure;Montant\nh@example.com;Gala;17/10/2026 19 h 30;14 h;45 $\n"

    [rejected] = read(body.encode())

    assert isinstance(rejected, RejectedRow)
    [error] = rejected.errors
    assert (error.field, error.code) == ("Heure", "time_mismatch")
    assert "14:00" in error.reason
    assert "Date de représentation says 19:30" in error.reason
    assert "Date de représentation indique 19 h 30" in error.reason_fr


def test_a_time_alone_beside_an_order_date_and_a_performance_date_is_not_read_as_the_performance_s() -> None:
    without = (
        "No de commande;Date de commande;Courriel;Spectacle;Date de représentation;Montant\n"
        "C-1;03/09/2026;h@example.com;Gala;17/10/2026 20 h 00;45 $\n"
    )
    with_time = (
        "No de commande;Date de commande;Heure;Courriel;Spectacle;Date de représentation;Montant\n"
        "C-1;03/09/2026;10 h 14;h@example.com;Gala;17/10/2026 20 h 00;45 $\n"
    )

    assert ids(read(with_time.encode())) == ids(read(without.encode()))


def test_a_time_column_named_as_the_performance_s_is_read_beside_an_order_date() -> None:
    body = (
        "Date de commande;Heure;Courriel;Spectacle;Date de représentation;Montant\n"
        "03/09/2026;14 h;h@example.com;Gala;17/10/2026;45 $\n"
    )

    [row] = accepted(read(body.encode(), load_mapping("columns:\n  performance_time: Heure\n")))

    assert purchase(row).performance.performance_id == "gala-2026-10-17-14h00"


def test_a_mapping_naming_a_performance_time_in_a_file_without_the_performance_s_date_is_refused() -> None:
    body = "Date de commande;Heure;Courriel;Spectacle;Montant\n03/09/2026;14 h;h@example.com;Gala;45 $\n"
    mapping = load_mapping("columns:\n  performance_time: Heure\nperformance_date: 2026-10-17 20:00\n")

    with pytest.raises(CsvFormatError) as caught:
        read(body.encode(), mapping)

    assert caught.value.code == "missing_columns"
    assert caught.value.missing == ("performance_date",)
    assert "performance_date (Date de représentation" in caught.value.en
    assert "performance_date (Date de représentation" in caught.value.fr


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        lambda moment: moment.replace(second=0, microsecond=0)
    ),
    order_number=st.booleans(),
)
def test_any_moment_split_into_a_date_and_a_time_column_gives_the_ids_it_gives_in_one(
    moment: datetime, order_number: bool
) -> None:
    header = "No de commande;Courriel;Spectacle;" if order_number else "Courriel;Spectacle;"
    row = "C-1;h@example.com;Gala;" if order_number else "h@example.com;Gala;"
    one_column = f"{header}Date de représentation;Montant\n{row}{moment:%d/%m/%Y %H:%M};45 $\n"
    two_columns = f"{header}Date de représentation;Heure;Montant\n{row}{moment:%d/%m/%Y};{moment:%H h %M};45 $\n"

    assert ids(read(two_columns.encode())) == ids(read(one_column.encode()))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(date_cell=st.text(max_size=25), time_cell=st.text(max_size=25))
def test_any_date_and_time_cells_are_accepted_or_rejected_with_reasons_never_a_crash(
    date_cell: str, time_cell: str
) -> None:
    line = io.StringIO()
    csv.writer(line, delimiter=";", lineterminator="\n").writerow(
        ["h@example.com", "Gala", date_cell, time_cell, "45 $"]
    )

    for outcome in read(("Courriel;Spectacle;Date;Heure;Montant\n" + line.getvalue()).encode()):
        assert isinstance(outcome, AcceptedRow) or (isinstance(outcome, RejectedRow) and outcome.errors)


def test_a_sale_dated_by_a_performance_still_to_come_is_dated_by_the_import_and_one_past_by_its_performance() -> None:
    # Imported on 2026-11-20 at 10:00 in Montréal: one advance sale for the spring, one for a show already given.
    body = (
        "No de commande;Courriel;Spectacle;Date de représentation;Montant\n"
        "C-1;helene@example.com;Le Songe;10/04/2027 20:00;45,00 $\n"
        "C-2;marc@example.com;Gala;17/10/2026 20:00;45,00 $\n"
    )

    spring, autumn = accepted(read(body.encode()))

    assert spring.envelopes[0].time == datetime.fromisoformat("2026-11-20T15:00:00+00:00")
    assert purchase(spring).performance.starts_at == datetime.fromisoformat("2027-04-10T20:00:00-04:00")
    assert autumn.envelopes[0].time == datetime.fromisoformat("2026-10-17T20:00:00-04:00")


def test_an_order_date_dates_the_sale_even_before_a_performance_still_to_come() -> None:
    body = (
        "No de commande;Courriel;Spectacle;Date de représentation;Date de commande;Montant\n"
        "C-1;helene@example.com;Le Songe;10/04/2027 20:00;02/11/2026 09:15;45,00 $\n"
    )

    [sale] = accepted(read(body.encode()))

    assert sale.envelopes[0].time == datetime.fromisoformat("2026-11-02T09:15:00-05:00")
