"""Seasons of an organisation (September to August, or the calendar year of a festival), and calendar arithmetic."""

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Where most organisations using this are: the calendar of their seasons and consents unless set otherwise.
DEFAULT_TIMEZONE = ZoneInfo("America/Montreal")


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months of its own time zone, keeping its wall-clock time; a day the target
    month lacks becomes its last (Feb 29 → Feb 28)."""
    # Aware moments at one instant are equal, and hash alike, whatever their zones; naive ones whatever their `fold`
    # (the first or second 01:30 of a night the clocks go back): the cache sees the wall time, the zone and the fold.
    return _add_months(moment.replace(tzinfo=None), moment.tzinfo, moment.fold, months)


# Pure and called for every consent, stage and recency of every view: the same few moments come back.
@functools.lru_cache(maxsize=16384)
def _add_months(wall_time: datetime, zone: tzinfo | None, fold: int, months: int) -> datetime:
    index = wall_time.year * 12 + wall_time.month - 1 + months
    year, month_index = divmod(index, 12)
    day = min(wall_time.day, calendar.monthrange(year, month_index + 1)[1])
    return wall_time.replace(year=year, month=month_index + 1, day=day, tzinfo=zone, fold=fold)


@dataclass(frozen=True, slots=True)
class Season:
    """One season: its label and the instants it begins (inclusive) and ends (exclusive)."""

    label: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class SeasonCalendar:
    """When an organisation's seasons begin, in its own time zone.

    A theatre's season runs from September 1 (`2026-2027`); a summer festival counts calendar years
    (`start_month=1` gives `2026`).
    """

    start_month: int = 9
    start_day: int = 1
    timezone: str = DEFAULT_TIMEZONE.key

    def __post_init__(self) -> None:
        try:
            # 2001 is not a leap year: a season cannot begin on a day most years lack.
            date(2001, self.start_month, self.start_day)
        except ValueError:
            raise ValueError(
                f"a season cannot begin on month {self.start_month}, day {self.start_day}: give a day every year has"
            ) from None
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {self.timezone!r}; use an IANA name such as America/Montreal"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def season_of(self, moment: datetime) -> Season:
        """The season `moment` falls in."""
        return self._season(self._first_year(moment))

    def label_of(self, moment: datetime) -> str:
        return self.season_of(moment).label

    def current(self, as_of: datetime) -> Season:
        return self.season_of(as_of)

    def previous(self, as_of: datetime) -> Season:
        # Seasons follow each other without a gap: the one before ends where this one starts.
        return self._season(self._first_year(as_of) - 1)

    def start_of_day(self, day: date) -> datetime:
        """Midnight at the start of `day` in the organisation's time zone."""
        return datetime.combine(day, time(), tzinfo=self.zone)

    def _first_year(self, moment: datetime) -> int:
        """The year the season of `moment` begins in."""
        local = _aware(moment).astimezone(self.zone)
        return local.year if (local.month, local.day) >= (self.start_month, self.start_day) else local.year - 1

    def _season(self, first_year: int) -> Season:
        return _season_beginning(self, first_year)

    def _start(self, year: int) -> datetime:
        return datetime(year, self.start_month, self.start_day, tzinfo=self.zone)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; profile times are always timezone-aware")
    return moment


# Every view asks for the current and the previous season, of the same few calendars and years.
@functools.lru_cache(maxsize=1024)
def _season_beginning(seasons: SeasonCalendar, first_year: int) -> Season:
    spans_two_years = (seasons.start_month, seasons.start_day) != (1, 1)
    label = f"{first_year}-{first_year + 1}" if spans_two_years else str(first_year)
    return Season(label, seasons._start(first_year), seasons._start(first_year + 1))
