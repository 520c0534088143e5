"""Where the time sweep finds profiles: each profile's next due moment filed in a fixed slot of time, so a sweep
reads the slots that have passed and nothing else, however many profiles the organisation holds."""

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

SLOT = timedelta(minutes=15)
# A slot is swept this long after it ends: a writer that computed a due moment just before the slot ended, on a
# clock running a little behind, still files it in time.
GRACE = timedelta(minutes=2)
# A slot is listed in parts, each a list of its own: a season's end makes every profile due at one moment, and
# writers filing it then append to different lists instead of racing for the next number of one. A writer files a
# batch's entries of a slot in one part (one append), and the next batch in the next part.
PARTS = 32


# An entry kept for a due moment put off lies at least this far ahead: the sweep reads a slot only once it has
# ended, grace included, so the entry is still there when the change keeping it is stored.
KEEP_AHEAD = SLOT + GRACE

# A visit that failed (a bug, a damaged profile, the store failing it) is tried again this long after, and twice as
# long after each failure in a row, a day apart at most: a store failing for a moment costs a quarter of an hour, a
# profile damaged for good a visit (and a logged error) a day, until it is repaired or the bug fixed.
FIRST_RETRY = SLOT
LONGEST_RETRY = timedelta(days=1)


@dataclass(frozen=True, slots=True, order=True)
class DueEntry:
    """A profile due for the sweep at `due_at`, as filed."""

    due_at: datetime
    organisation_id: str
    person_id: str
    # Visits for this due moment that failed in a row, and when the sweep tries again: the entry is filed in that
    # moment's slot instead of its due moment's. Not part of what the entry is: a copy filed by a writer, with
    # none, is the same visit.
    failed_visits: int = field(default=0, compare=False)
    retry_at: datetime | None = field(default=None, compare=False)

    @property
    def visit_at(self) -> datetime:
        """The moment whose slot the entry is filed in: its due moment, or after a failed visit, the retry's."""
        return self.due_at if self.retry_at is None else self.retry_at


def retry_delay(failed_visits: int) -> timedelta:
    """How long after its `failed_visits`-th failure in a row (1 or more) a visit is tried again."""
    # The exponent is capped first: a count that grew for years must not overflow the multiplication.
    doublings = max(min(failed_visits - 1, (LONGEST_RETRY // FIRST_RETRY).bit_length()), 0)
    return min(FIRST_RETRY * (1 << doublings), LONGEST_RETRY)


def after_failed_visit(entry: DueEntry, now: datetime) -> DueEntry:
    """The entry to file again once its visit failed at `now`: one more failure in a row, tried again later."""
    failed_visits = entry.failed_visits + 1
    return replace(entry, failed_visits=failed_visits, retry_at=now + retry_delay(failed_visits))


def slot_of(moment: datetime) -> datetime:
    """The start of the slot holding `moment`, in UTC."""
    if moment.tzinfo is None:
        raise ValueError("a due moment must carry its time zone")
    utc = moment.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + SLOT * ((utc - midnight) // SLOT)


def slots_to_sweep(position: datetime, now: datetime) -> Iterator[datetime]:
    """The slots from `position` (a slot start) that have ended, grace included, by `now`, oldest first."""
    slot = slot_of(position)
    while slot + SLOT + GRACE <= now:
        yield slot
        slot += SLOT


def stretch_to_sweep(slot: datetime, now: datetime) -> datetime:
    """The end of the slots from `slot` (a slot start) on that the sweep may pass together: those that have ended,
    grace included, by `now`, and lie in the same day (UTC) as `slot`. A store lists what is filed day by day, and
    lets a day's lists go as the sweep moves on from the day's first slot."""
    ended_by = slot_of(now - GRACE)
    day_after = slot.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return max(slot, min(ended_by, day_after))


def keeps_entry(filed_at: datetime | None, due_at: datetime | None, now: datetime) -> bool:
    """Whether a profile filed for the sweep at `filed_at` may stay filed there once due at `due_at`: the entry
    lies well ahead of the sweep, at or before the due moment. Visiting it early, the sweep files the profile
    again for its due moment; meanwhile a change that puts the due moment off (every purchase does) files nothing
    and unfiles nothing."""
    return filed_at is not None and filed_at > now + KEEP_AHEAD and (due_at is None or filed_at <= due_at)
