"""Where the time sweep finds profiles: each profile's next due moment filed in a fixed slot of time, so a sweep
reads the slots that have passed and nothing else, however many profiles the organisation holds."""

from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True, order=True)
class DueEntry:
    """A profile due for the sweep at `due_at`, as filed."""

    due_at: datetime
    organisation_id: str
    person_id: str


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
