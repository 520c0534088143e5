"""A change starts from the view its profile's last change announced instead of computing it again: what it
announces and stores is the same either way, whenever the clock says the change happens, sweeps included."""

import dataclasses
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import ProfileState, apply, view
from services.profile.handlers import ProfileDeps, _announced, _Cause, _Change, _view_before
from services.profile.ports import StoredProfile
from tests.unit.profile.facts import ORGANISATION, at, donation
from tests.unit.profile.test_fold_properties import histories, properties
from tests.unit.profile_handlers.scenarios import RULES, MovableClock

PERSON = "per_announced"


def _deps(clock: MovableClock) -> ProfileDeps:
    # No store: `_announced` decides a change, it stores nothing.
    return ProfileDeps(store=None, rules=RULES, clock=clock)  # type: ignore[arg-type]


def _both_ways(deps: ProfileDeps, stored: StoredProfile, after_state: ProfileState, cause: _Cause) -> _Change:
    reusing = _announced(deps, stored, after_state, cause)
    computing = _announced(deps, dataclasses.replace(stored, announced_view=None), after_state, cause)
    assert reusing.outputs == computing.outputs
    assert reusing.triggers == computing.triggers
    assert reusing.profile == computing.profile
    return reusing


@properties
@given(
    histories(max_size=10),
    st.lists(st.tuples(st.integers(min_value=-24 * 60, max_value=24 * 500), st.booleans()), min_size=10, max_size=10),
)
def test_what_a_change_announces_is_the_same_from_the_view_kept_as_from_one_computed(
    events: list[ProfileEvent], clock_moves: list[tuple[int, bool]]
) -> None:
    clock = MovableClock()
    deps = _deps(clock)
    stored = StoredProfile(ORGANISATION, PERSON)
    for event, (hours, sweep_first) in zip(events, clock_moves, strict=False):
        if sweep_first and stored.due_at is not None:
            # Time alone changes the profile at its due moment, as the sweep announces it.
            clock.at = stored.due_at
            due = stored.due_at.isoformat()
            tick = _Cause(f"sweep:{due}", f"sweep:{PERSON}:{due}", swept_due_at=stored.due_at)
            stored = dataclasses.replace(
                _both_ways(deps, stored, stored.state, tick).profile, version=stored.version + 1
            )
        # Now may come before the last change's moment (a clock set back), or long after its due moment.
        clock.at = event.time + timedelta(hours=hours)
        change = _both_ways(deps, stored, apply(stored.state, event), _Cause(event.event_id, event.event_id, event))
        stored = dataclasses.replace(change.profile, version=stored.version + 1, applied=stored.applied + 1)


def test_the_next_change_reuses_the_view_announced_until_its_due_moment() -> None:
    clock = MovableClock(at("2026-10-01T12:00:00Z"))
    deps = _deps(clock)
    gift = donation(at("2026-10-01T11:00:00Z"), donation_id="D-1")
    empty = StoredProfile(ORGANISATION, PERSON)
    stored = _announced(deps, empty, apply(empty.state, gift), _Cause(gift.event_id, gift.event_id, gift)).profile
    assert stored.announced_view is not None
    assert stored.due_at is not None

    an_hour_later = clock.at + timedelta(hours=1)
    assert _view_before(deps, stored, an_hour_later) is stored.announced_view.fields

    # At the due moment, or before the moment announced (a clock set back), the view is computed for the moment.
    for moment in (stored.due_at, clock.at - timedelta(hours=1)):
        computed = _view_before(deps, stored, moment)
        assert computed is not stored.announced_view.fields
        assert computed == view(stored.state, as_of=moment, seasons=RULES.seasons)
    # A profile whose state changed since the view was announced computes its own.
    changed = dataclasses.replace(stored, state=apply(stored.state, donation(gift.time, donation_id="D-2")))
    assert _view_before(deps, changed, an_hour_later) is not stored.announced_view.fields
