"""A segment's trend: the sizes recorded over the last 30 days, and its change over a week."""

from datetime import UTC, date, datetime, timedelta

import pytest

from services.profile.domain.seasons import SeasonCalendar
from services.profile.domain.trends import (
    TREND_DAYS,
    SegmentTrend,
    SizeOnDay,
    day_of,
    segment_trend,
    trend_days,
)

THEATRE = SeasonCalendar()
TODAY = date(2026, 11, 15)


def test_a_day_is_the_organisations_calendar_day_not_utcs() -> None:
    # 02:00 UTC on November 16 is still the evening of November 15 in Montréal.
    assert day_of(datetime(2026, 11, 16, 2, 0, tzinfo=UTC), THEATRE) == date(2026, 11, 15)
    assert day_of(datetime(2026, 11, 16, 5, 0, tzinfo=UTC), THEATRE) == date(2026, 11, 16)


def test_a_day_needs_a_moment_with_its_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        day_of(datetime(2026, 11, 16, 2, 0), THEATRE)


def test_a_trend_covers_thirty_days_ending_today() -> None:
    days = trend_days(TODAY)

    assert len(days) == TREND_DAYS == 30
    assert (days[0], days[-1]) == (date(2026, 10, 17), TODAY)
    assert days == sorted(days)


def test_the_trend_shows_the_days_recorded_oldest_first_and_leaves_the_others_out() -> None:
    recorded = {
        date(2026, 10, 16): 99,  # 31 days ago: outside the trend
        date(2026, 10, 17): 100,
        date(2026, 11, 1): 110,
        TODAY: 120,
        date(2026, 11, 16): 130,  # recorded for tomorrow by a clock ahead: not shown
    }

    trend = segment_trend(recorded, today=TODAY, members_now=121)

    assert trend.points == (
        SizeOnDay(date(2026, 10, 17), 100),
        SizeOnDay(date(2026, 11, 1), 110),
        SizeOnDay(TODAY, 120),
    )


def test_the_change_over_seven_days_is_the_size_now_less_the_size_recorded_a_week_ago() -> None:
    recorded = {TODAY - timedelta(days=7): 40, TODAY: 45}

    assert segment_trend(recorded, today=TODAY, members_now=47).change_7d == 7
    assert segment_trend(recorded, today=TODAY, members_now=30).change_7d == -10


def test_the_change_is_unknown_when_nothing_was_recorded_a_week_ago() -> None:
    recorded = {TODAY - timedelta(days=6): 40, TODAY - timedelta(days=8): 38}

    assert segment_trend(recorded, today=TODAY, members_now=47).change_7d is None


def test_a_segment_never_recorded_has_an_empty_trend() -> None:
    assert segment_trend({}, today=TODAY, members_now=5) == SegmentTrend((), None)
