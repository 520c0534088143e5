"""Segment sizes over time: the day each size is recorded for, and a segment's trend from the sizes recorded."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.profile.domain.seasons import SeasonCalendar

TREND_DAYS = 30
CHANGE_DAYS = 7


@dataclass(frozen=True, slots=True)
class SizeOnDay:
    day: date
    members: int


@dataclass(frozen=True, slots=True)
class SegmentTrend:
    # The sizes recorded on the last TREND_DAYS days up to today, oldest first; days without a record are left out.
    points: tuple[SizeOnDay, ...]
    # Members now less those recorded CHANGE_DAYS days before today; None when that day has no record.
    change_7d: int | None


def day_of(moment: datetime, seasons: SeasonCalendar) -> date:
    """The organisation's calendar day at `moment`: sizes are recorded per day as its staff count days."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a moment must carry its time zone")
    return moment.astimezone(seasons.zone).date()


def trend_days(today: date) -> list[date]:
    """The days a trend shows, oldest first: TREND_DAYS of them, today the last."""
    return [today - timedelta(days=back) for back in range(TREND_DAYS - 1, -1, -1)]


def segment_trend(recorded: Mapping[date, int], *, today: date, members_now: int) -> SegmentTrend:
    """The trend of one segment from the sizes recorded for it (by day) and its size now."""
    points = tuple(SizeOnDay(day, recorded[day]) for day in trend_days(today) if day in recorded)
    week_ago = recorded.get(today - timedelta(days=CHANGE_DAYS))
    return SegmentTrend(points, None if week_ago is None else members_now - week_ago)
