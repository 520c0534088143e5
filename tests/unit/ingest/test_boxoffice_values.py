"""Amounts, dates and quantities as box-office spreadsheets write them are read back exactly."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.domain.boxoffice_values import (
    MAX_QUANTITY,
    Amount,
    DateOrder,
    UnreadableValueError,
    parse_amount,
    parse_moment,
    parse_quantity,
    parse_time_of_day,
    proven_date_order,
)

QUEBEC = ZoneInfo("America/Toronto")
NBSP, NNBSP = "\u00a0", "\u202f"
amounts = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2)


def english(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def french(amount: Decimal, space: str) -> str:
    return english(amount).replace(",", space).replace(".", ",")


AMOUNT_STYLES: dict[str, Callable[[Decimal], str]] = {
    "plain": lambda amount: f"{amount:.2f}",
    "english grouping": english,
    "dollar sign first": lambda amount: f"${english(amount)}",
    "french with spaces": lambda amount: f"{french(amount, ' ')} $",
    "french with no-break spaces": lambda amount: f"{french(amount, NBSP)}{NBSP}$",
    "french with narrow no-break spaces": lambda amount: f"{french(amount, NNBSP)}{NNBSP}$",
    "decimal comma": lambda amount: f"{amount:.2f}".replace(".", ","),
    "code after": lambda amount: f"{amount:.2f} CAD",
    "canadian dollar prefix": lambda amount: f"CA${english(amount)}",
}


@given(amount=amounts, style=st.sampled_from(sorted(AMOUNT_STYLES)))
def test_an_amount_written_in_any_supported_style_reads_back_to_the_same_decimal(amount: Decimal, style: str) -> None:
    assert parse_amount(AMOUNT_STYLES[style](amount)).value == amount


@given(whole=st.integers(min_value=0, max_value=10**8))
def test_a_whole_amount_written_without_cents_reads_back(whole: int) -> None:
    assert parse_amount(f"{whole:,} $".replace(",", NBSP)).value == Decimal(whole)
    assert parse_amount(str(whole)).value == Decimal(whole)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 234,50 $", Amount(Decimal("1234.50"))),
        ("1234.50", Amount(Decimal("1234.50"))),
        ("$1,234.50", Amount(Decimal("1234.50"))),
        ("45 $", Amount(Decimal("45.00"))),
        ("45,00", Amount(Decimal("45.00"))),
        ("45,5", Amount(Decimal("45.50"))),
        ("1,234", Amount(Decimal("1234.00"))),
        ("1.234.567,89 €", Amount(Decimal("1234567.89"), "EUR")),
        ("12,00 $CA", Amount(Decimal("12.00"), "CAD")),
        ("USD 12.00", Amount(Decimal("12.00"), "USD")),
        ("US$12", Amount(Decimal("12.00"), "USD")),
        (" 0 ", Amount(Decimal("0.00"))),
        ("45.500", Amount(Decimal("45.50"))),
        # A note on taxes is no currency.
        ("12,50 $ TTC", Amount(Decimal("12.50"))),
        ("12,50 TTC", Amount(Decimal("12.50"))),
        ("45 $ taxes incluses", Amount(Decimal("45.00"))),
        ("20,00 $ + tx", Amount(Decimal("20.00"))),
        ("20.00 HT", Amount(Decimal("20.00"))),
        ("CAD 12.00 tax incl.", Amount(Decimal("12.00"), "CAD")),
        ("45 $ + TPS/TVQ", Amount(Decimal("45.00"))),
        ("45 $ + GST + QST", Amount(Decimal("45.00"))),
        # Canadian dollars as people abbreviate them.
        ("45 $ CDN", Amount(Decimal("45.00"), "CAD")),
        ("CDN$ 45", Amount(Decimal("45.00"), "CAD")),
        ("45 CAN$", Amount(Decimal("45.00"), "CAD")),
    ],
)
def test_amounts_as_exports_write_them(text: str, expected: Amount) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("gratuit", "amount_unreadable"),
        ("", "amount_unreadable"),
        ("$", "amount_unreadable"),
        ("-45,00 $", "amount_negative"),
        ("(45.00)", "amount_negative"),
        ("45,00 -", "amount_negative"),
        ("quarante-cinq", "amount_unreadable"),
        ("-", "amount_unreadable"),
        ("( - )", "amount_unreadable"),
        ("1.234", "amount_unreadable"),
        ("12,345,6", "amount_unreadable"),
        ("1,2.3", "amount_unreadable"),
        ("1.2.3", "amount_unreadable"),
        ("45 dollars", "amount_unreadable"),
        ("1e5", "amount_unreadable"),
        ("9" * 20, "amount_unreadable"),
        # Three letters that name no currency.
        ("env. 45 $", "amount_unreadable"),
        ("45 XYZ", "amount_unreadable"),
        # Digits set apart by spaces that group no thousands: two numbers, or a slip.
        ("12 50", "amount_unreadable"),
        ("4 5 $", "amount_unreadable"),
        ("1 23,45", "amount_unreadable"),
    ],
)
def test_what_is_not_an_amount_received_is_refused_with_a_reason(text: str, code: str) -> None:
    with pytest.raises(UnreadableValueError) as caught:
        parse_amount(text)

    assert caught.value.code == code
    assert caught.value.reason
    assert caught.value.reason_fr not in ("", caught.value.reason)


minutes = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.replace(second=0, microsecond=0)
)

DATE_TIME_STYLES: dict[str, Callable[[datetime], str]] = {
    "iso": lambda moment: moment.strftime("%Y-%m-%d %H:%M"),
    "iso with T and seconds": lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%S"),
    "day first with colon": lambda moment: moment.strftime("%d/%m/%Y %H:%M"),
    "day first french": lambda moment: moment.strftime("%d/%m/%Y %H h %M"),
    "day first french compact": lambda moment: f"{moment.day}/{moment.month}/{moment.year} {moment.hour}h{moment:%M}",
    "day first with à": lambda moment: moment.strftime("%d/%m/%Y à %Hh%M"),
    "twelve hour clock": lambda moment: moment.strftime("%d/%m/%Y %I:%M %p"),
    "iso date french time": lambda moment: moment.strftime("%Y-%m-%d %H h %M"),
    "iso date with à": lambda moment: moment.strftime("%Y-%m-%d à %Hh%M"),
    "iso date twelve hour clock": lambda moment: moment.strftime("%Y-%m-%d %I:%M %p"),
    "year first with slashes": lambda moment: moment.strftime("%Y/%m/%d %H:%M"),
}


@given(moment=minutes, style=st.sampled_from(sorted(DATE_TIME_STYLES)))
def test_a_local_date_and_time_in_any_supported_style_reads_back_in_quebec_time(moment: datetime, style: str) -> None:
    parsed = parse_moment(DATE_TIME_STYLES[style](moment), zone=QUEBEC)

    assert parsed.has_time
    assert parsed.at == moment.replace(tzinfo=QUEBEC)


@given(day=st.dates(min_value=date(1990, 1, 1), max_value=date(2099, 12, 31)))
def test_a_date_alone_reads_as_the_start_of_that_day_in_quebec(day: date) -> None:
    for text in (day.isoformat(), day.strftime("%d/%m/%Y")):
        parsed = parse_moment(text, zone=QUEBEC)

        assert not parsed.has_time
        assert parsed.at == datetime(day.year, day.month, day.day, tzinfo=QUEBEC)


@given(moment=minutes, offset_minutes=st.integers(min_value=-12 * 60, max_value=14 * 60))
def test_a_time_with_its_offset_keeps_it(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))

    assert parse_moment(aware.isoformat(), zone=QUEBEC).at == aware


def test_day_first_is_the_default_reading_of_a_slashed_date() -> None:
    assert parse_moment("03/10/2026", zone=QUEBEC).at.date().isoformat() == "2026-10-03"


def test_a_slashed_date_read_month_first_takes_its_first_number_for_the_month() -> None:
    assert parse_moment("10/03/2026 7:30 PM", zone=QUEBEC, month_first=True).at == datetime(
        2026, 10, 3, 19, 30, tzinfo=QUEBEC
    )
    # Dates written otherwise have one reading whatever the file's order.
    assert parse_moment("2026-10-03", zone=QUEBEC, month_first=True).at.date() == date(2026, 10, 3)
    assert parse_moment("3 octobre 2026", zone=QUEBEC, month_first=True).at.date() == date(2026, 10, 3)


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("14/05/2026", DateOrder.DAY_FIRST),
        ("14.05.2026 19 h 30", DateOrder.DAY_FIRST),
        ("05/14/2026", DateOrder.MONTH_FIRST),
        ("5/14/2026 7:30 PM", DateOrder.MONTH_FIRST),
        ("05/04/2026", None),
        ("12/12/2026", None),
        ("14/14/2026", None),
        ("2026-05-14", None),
        ("May 14, 2026", None),
        ("", None),
    ],
)
def test_a_numeric_date_proves_its_order_only_when_one_number_cannot_be_a_month(
    text: str, order: DateOrder | None
) -> None:
    assert proven_date_order(text) is order


def test_a_configured_format_reads_month_first_dates_and_their_times() -> None:
    parsed = parse_moment("10/03/2026 19 h 30", zone=QUEBEC, date_format="%m/%d/%Y")

    assert parsed.at == datetime(2026, 10, 3, 19, 30, tzinfo=QUEBEC)


def test_summer_and_winter_times_get_their_own_offsets_in_quebec() -> None:
    summer = parse_moment("17/07/2026 20:00", zone=QUEBEC).at
    winter = parse_moment("17/01/2026 20:00", zone=QUEBEC).at

    assert summer.astimezone(UTC).hour == 0
    assert winter.astimezone(UTC).hour == 1


@pytest.mark.parametrize("text", ["hier", "31/02/2026", "2026-13-01", "03/10/26", "17/10/2026 25:00", "13:30 PM"])
def test_what_is_not_a_date_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(UnreadableValueError) as caught:
        parse_moment(text, zone=QUEBEC)

    assert caught.value.code == "date_unreadable"
    assert caught.value.reason_fr not in ("", caught.value.reason)


@pytest.mark.parametrize(("text", "quantity"), [("1", 1), (" 2 ", 2), ("3,0", 3), ("4.00", 4), ("12", 12)])
def test_quantities_are_positive_whole_numbers(text: str, quantity: int) -> None:
    assert parse_quantity(text) == quantity


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "deux", "", "NaN", str(MAX_QUANTITY + 1)])
def test_what_is_not_a_number_of_tickets_is_refused(text: str) -> None:
    with pytest.raises(UnreadableValueError) as caught:
        parse_quantity(text)

    assert caught.value.code == "quantity_invalid"
    assert caught.value.reason_fr not in ("", caught.value.reason)


@pytest.mark.parametrize("text", ["2026-10-03 7 PM", "03/10/2026 7pm", "03/10/2026 7 p.m.", "2026-10-03 à 7 PM"])
def test_an_hour_on_a_12_hour_clock_without_its_minutes_is_read(text: str) -> None:
    parsed = parse_moment(text, zone=QUEBEC)

    assert parsed.has_time
    assert parsed.at == datetime(2026, 10, 3, 19, 0, tzinfo=QUEBEC)


def test_an_hour_alone_without_am_or_pm_is_no_time() -> None:
    with pytest.raises(UnreadableValueError):
        parse_moment("03/10/2026 7", zone=QUEBEC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19 h 30", time(19, 30)),
        ("19h30", time(19, 30)),
        ("19H30", time(19, 30)),
        ("19:30", time(19, 30)),
        ("19:30:00", time(19, 30)),
        (" 19 h 30 ", time(19, 30)),
        ("7:30 PM", time(19, 30)),
        ("7:30 p.m.", time(19, 30)),
        ("7:30:00 PM", time(19, 30)),
        ("2 PM", time(14, 0)),
        ("14 h", time(14, 0)),
        ("14h", time(14, 0)),
        ("à 14 h", time(14, 0)),
        ("12:00 AM", time(0, 0)),
        ("0 h 00", time(0, 0)),
    ],
)
def test_a_time_of_day_as_a_column_of_its_own_writes_it_is_read(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize("text", ["", "19", "soir", "24:00", "19 h 75", "13:30 PM", "17/10/2026", "19.30"])
def test_what_is_not_a_time_of_day_is_refused_with_a_reason_in_english_and_french(text: str) -> None:
    with pytest.raises(UnreadableValueError) as caught:
        parse_time_of_day(text)

    assert caught.value.code == "time_unreadable"
    assert caught.value.reason
    assert caught.value.reason_fr not in ("", caught.value.reason)
