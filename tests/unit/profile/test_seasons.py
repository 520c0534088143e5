"""Seasons begin at midnight in the organisation's time zone; calendar months clamp to the month's last day."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.profile.domain.seasons import SeasonCalendar, add_months
from shared.cli import main

MONTREAL = ZoneInfo("America/Montreal")
THEATRE = SeasonCalendar()
FESTIVAL = SeasonCalendar(start_month=1)


def test_august_31_at_23_59_in_montreal_still_belongs_to_the_season_that_ends() -> None:
    assert THEATRE.label_of(datetime(2026, 8, 31, 23, 59, tzinfo=MONTREAL)) == "2025-2026"


def test_september_1_at_midnight_in_montreal_begins_the_next_season() -> None:
    assert THEATRE.label_of(datetime(2026, 9, 1, 0, 0, tzinfo=MONTREAL)) == "2026-2027"


def test_the_boundary_is_montreal_midnight_so_03_59_utc_on_september_1_is_still_august_there() -> None:
    assert THEATRE.label_of(datetime(2026, 9, 1, 3, 59, tzinfo=UTC)) == "2025-2026"
    assert THEATRE.label_of(datetime(2026, 9, 1, 4, 0, tzinfo=UTC)) == "2026-2027"


def test_a_season_begins_and_ends_at_montreal_midnight() -> None:
    season = THEATRE.current(datetime(2027, 2, 14, 20, tzinfo=UTC))

    assert season.label == "2026-2027"
    assert season.starts_at == datetime(2026, 9, 1, tzinfo=MONTREAL)
    assert season.ends_at == datetime(2027, 9, 1, tzinfo=MONTREAL)


def test_the_previous_season_is_the_one_before_the_current() -> None:
    assert THEATRE.previous(datetime(2026, 9, 1, tzinfo=MONTREAL)).label == "2025-2026"
    assert THEATRE.previous(datetime(2026, 8, 31, 23, 59, tzinfo=MONTREAL)).label == "2024-2025"


def test_a_festival_that_counts_calendar_years_labels_a_season_by_its_year() -> None:
    assert FESTIVAL.label_of(datetime(2026, 7, 14, 21, tzinfo=MONTREAL)) == "2026"
    assert FESTIVAL.label_of(datetime(2025, 12, 31, 23, 59, tzinfo=MONTREAL)) == "2025"
    assert FESTIVAL.previous(datetime(2026, 1, 1, tzinfo=MONTREAL)).label == "2025"


def test_a_season_starting_mid_january_spans_two_years() -> None:
    winter = SeasonCalendar(start_month=1, start_day=15)

    assert winter.label_of(datetime(2026, 1, 14, 12, tzinfo=MONTREAL)) == "2025-2026"
    assert winter.label_of(datetime(2026, 1, 15, 0, tzinfo=MONTREAL)) == "2026-2027"


def test_a_season_cannot_begin_on_a_day_some_years_lack() -> None:
    with pytest.raises(ValueError, match="day every year has"):
        SeasonCalendar(start_month=2, start_day=29)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        SeasonCalendar(timezone="America/Montréal")


def test_a_moment_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        THEATRE.label_of(datetime(2026, 9, 1))


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)))
def test_every_moment_lies_within_its_season_and_after_the_previous_one(moment: datetime) -> None:
    season = THEATRE.current(moment)
    previous = THEATRE.previous(moment)

    assert season.starts_at <= moment < season.ends_at
    assert previous.ends_at == season.starts_at
    assert THEATRE.label_of(season.ends_at - timedelta(microseconds=1)) == season.label


@given(
    st.builds(
        SeasonCalendar,
        start_month=st.integers(min_value=1, max_value=12),
        start_day=st.integers(min_value=1, max_value=28),
        timezone=st.sampled_from(["America/Montreal", "Europe/Paris", "Pacific/Auckland", "UTC"]),
    ),
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)),
)
def test_the_previous_season_of_any_calendar_holds_the_last_instant_before_the_current_one(
    seasons: SeasonCalendar, moment: datetime
) -> None:
    season = seasons.current(moment)
    previous = seasons.previous(moment)

    assert season.starts_at <= moment < season.ends_at
    assert previous == seasons.season_of(season.starts_at - timedelta(microseconds=1))
    assert previous.starts_at < previous.ends_at == season.starts_at


def test_february_29_plus_two_years_is_february_28() -> None:
    assert add_months(datetime(2024, 2, 29, 17, tzinfo=UTC), 24) == datetime(2026, 2, 28, 17, tzinfo=UTC)


def test_august_31_plus_six_months_is_the_last_day_of_february() -> None:
    assert add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2023, 8, 31, tzinfo=UTC), 6) == datetime(2024, 2, 29, tzinfo=UTC)


def test_adding_months_crosses_years_both_ways() -> None:
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)
    assert add_months(datetime(2026, 2, 15, tzinfo=UTC), -3) == datetime(2025, 11, 15, tzinfo=UTC)


def test_moving_months_keeps_the_wall_time_in_the_moment_s_zone_whatever_was_asked_before() -> None:
    montreal = ZoneInfo("America/Montreal")
    # The clocks went back at 02:00 on both nights: 01:30 came twice, in summer time then in winter time.
    summer = datetime(2019, 11, 3, 1, 30, tzinfo=montreal)
    winter = datetime(2019, 11, 3, 1, 30, tzinfo=montreal, fold=1)

    assert add_months(summer, 60).astimezone(UTC) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)
    assert add_months(winter, 60).astimezone(UTC) == datetime(2024, 11, 3, 6, 30, tzinfo=UTC)
    # The same instant in another zone is another wall time.
    assert add_months(summer.astimezone(UTC), 60) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)


@pytest.mark.parametrize("zone", ["Europe/Pariss", "", "../etc/passwd"])
def test_a_time_zone_setting_that_names_no_zone_stops_a_command_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], zone: str
) -> None:
    monkeypatch.setenv("PARTERRE_PROFILE_TIMEZONE", zone)

    assert main(["profile", "sweep"]) == 2
    assert capsys.readouterr().err == (
        f"error: PARTERRE_PROFILE_TIMEZONE: {zone!r} is no time zone: give an IANA name such as America/Montreal\n"
    )
