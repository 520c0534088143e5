"""Where the sweep finds profiles: slots of time, and when a profile filed early may stay where it is."""

from datetime import UTC, datetime, timedelta

import pytest

from services.profile.domain.schedule import (
    GRACE,
    KEEP_AHEAD,
    SLOT,
    DueEntry,
    after_failed_visit,
    keeps_entry,
    retry_delay,
    slot_of,
    slots_to_sweep,
)

NOW = datetime(2026, 11, 15, 19, 7, tzinfo=UTC)
AHEAD = NOW + timedelta(days=10)


@pytest.mark.parametrize(
    ("filed_at", "due_at", "kept"),
    [
        (AHEAD, AHEAD, True),
        # Put off: the sweep visits the entry early and files the profile again for its due moment.
        (AHEAD, AHEAD + timedelta(days=90), True),
        # No longer due at all: the sweep finds nothing to do there.
        (AHEAD, None, True),
        # Brought forward: the entry would come too late.
        (AHEAD, AHEAD - timedelta(seconds=1), False),
        (None, AHEAD, False),
        # Within the sweep's reach: the entry may be let go before the change keeping it is stored.
        (NOW + KEEP_AHEAD, AHEAD, False),
        (NOW + KEEP_AHEAD + timedelta(milliseconds=1), AHEAD, True),
        (NOW - timedelta(days=1), AHEAD, False),
    ],
)
def test_a_profile_stays_filed_ahead_of_the_sweep_at_or_before_its_due_moment(
    filed_at: datetime | None, due_at: datetime | None, kept: bool
) -> None:
    assert keeps_entry(filed_at, due_at, NOW) is kept


def test_an_entry_kept_lies_past_every_slot_the_sweep_may_read_by_then() -> None:
    filed_at = NOW + KEEP_AHEAD + timedelta(milliseconds=1)
    assert keeps_entry(filed_at, None, NOW)
    # A sweep whose clock reads what the writer's does reads only slots ended a grace ago: not the entry's.
    assert slot_of(filed_at) not in list(slots_to_sweep(slot_of(NOW), NOW + GRACE))
    assert KEEP_AHEAD >= SLOT + GRACE


def test_a_visit_that_failed_is_tried_again_later_after_each_failure_in_a_row_a_day_apart_at_most() -> None:
    minutes = [retry_delay(failures) // timedelta(minutes=1) for failures in range(1, 10)]
    assert minutes == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]
    assert retry_delay(10**9) == timedelta(days=1)


def test_an_entry_filed_again_after_a_failed_visit_keeps_its_due_moment_and_lies_in_its_retry_s_slot() -> None:
    entry = DueEntry(NOW - timedelta(hours=3), "theatre-du-nord", "per_lea")

    once = after_failed_visit(entry, NOW)
    twice = after_failed_visit(once, NOW + timedelta(hours=1))

    assert (once.due_at, once.failed_visits, once.visit_at) == (entry.due_at, 1, NOW + timedelta(minutes=15))
    assert (twice.due_at, twice.failed_visits, twice.visit_at) == (entry.due_at, 2, NOW + timedelta(minutes=90))
    assert entry.visit_at == entry.due_at
    # The same visit, however often it failed: a writer's copy, counting none, is not visited twice in a document.
    assert twice == entry
