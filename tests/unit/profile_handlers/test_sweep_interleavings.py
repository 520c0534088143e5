"""The time sweep under random interleavings, on the memory store: sweeps running side by side, some dying at any
store call, writers filing entries behind, at and ahead of the position as it moves, time jumping on by minutes or
hours, visits failing now and then. Whatever the order, every entry a writer filed is visited once its slot has ended
and a sweep has run whole with no visit failing. `SWEEP_EXAMPLES=2000` searches longer than the default 400
interleavings."""

import asyncio
import contextlib
import os
import random
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, cast
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.profile import handlers
from services.profile.domain.schedule import GRACE, SLOT, DueEntry, slot_of
from services.profile.handlers import Handled, ProfileDeps, sweep_due
from services.profile.ports import ProfileStore
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import NOW, RULES, CrashError, MovableClock

ORGANISATION = "theatre-du-nord"


class Jittery:
    """The store as one process sees it: each call lets the others run a random number of times before and after,
    and the process dies (`CrashError`) once the `dies_after` call it names (a method, and which call of it) is
    done: no call of it reaches the store after that."""

    def __init__(self, inner: MemoryProfileStore, chance: random.Random, dies_after: tuple[str, int] | None) -> None:
        self._inner = inner
        self._chance = chance
        self._dies_after = dies_after
        self._calls: dict[str, int] = {}
        self._dead = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        async def call(*args: Any, **kwargs: Any) -> Any:
            await self._others_run()
            if self._dead:
                raise CrashError(f"{name} after the process died")
            result = await method(*args, **kwargs)
            self._calls[name] = self._calls.get(name, 0) + 1
            if self._dies_after == (name, self._calls[name]):
                self._dead = True
                raise CrashError(f"the process dies after its call {self._calls[name]} of {name}")
            await self._others_run()
            return result

        return call

    async def _others_run(self) -> None:
        for _ in range(self._chance.randint(0, 3)):
            await asyncio.sleep(0)


# A round: how far time moves on first, then the sweeps run side by side (each dying after that call, or not:
# None) and writers file entries meanwhile (due this many minutes from the round's now, starting after that many
# turns of the others).
deaths = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["advance_sweep", "slots_filed", "filed_in", "drop_filed", "schedule_all"]), st.integers(1, 4)
    ),
)
rounds = st.lists(
    st.tuples(
        st.sampled_from([0, 5, 15, 20, 45, 60, 180, 24 * 60 - 50, 24 * 60 + 10]),
        st.lists(deaths, min_size=1, max_size=3),
        st.lists(st.tuples(st.integers(-240, 60), st.integers(0, 40)), max_size=5),
    ),
    min_size=1,
    max_size=6,
)
Plan = list[tuple[int, list[tuple[str, int] | None], list[tuple[int, int]]]]


@settings(
    max_examples=int(os.environ.get("SWEEP_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rounds, st.integers(0, 2**32 - 1))
def test_every_entry_filed_is_visited_however_sweeps_and_writers_interleave_and_die(plan: Plan, seed: int) -> None:
    # A seed, not hypothesis's own random: one drawing from the example while it runs can cut it short mid-round.
    chance = random.Random(seed)
    visited: set[DueEntry] = set()
    failing = Failing()

    async def visit(entry: DueEntry, deps: ProfileDeps) -> Handled:
        await asyncio.sleep(0)
        if failing.now and chance.random() < 0.3:
            raise RuntimeError("the profile cannot be visited")
        visited.add(entry)
        return Handled((), "swept")

    # What a visit does to a profile is the scenarios' concern: here only that it happens.
    with patch.object(handlers, "sweep_profile", visit), patch.object(handlers.log, "disabled", True):
        filed = asyncio.run(_play(plan, chance, failing))
    due = {entry for entry in filed if entry.due_at < filed_until(plan) - GRACE - SLOT}
    assert due - visited == set()


class Failing:
    """Whether visits fail now and then: until the last, whole sweep."""

    now = True


def filed_until(plan: Plan) -> datetime:
    """Now at the last, whole sweep: a day and a half after the last round."""
    return NOW + timedelta(minutes=sum(minutes for minutes, _, _ in plan)) + timedelta(hours=36)


async def _play(plan: Plan, chance: random.Random, failing: Failing) -> list[DueEntry]:
    store, clock = MemoryProfileStore(), MovableClock()
    filed: list[DueEntry] = []

    def deps_on(view: Any) -> ProfileDeps:
        return ProfileDeps(store=cast(ProfileStore, view), rules=RULES, clock=clock)

    async def publish(_handled: Handled) -> None:
        await asyncio.sleep(0)

    async def sweep(dies_after: tuple[str, int] | None) -> None:
        with contextlib.suppress(CrashError):
            await sweep_due(deps_on(Jittery(store, chance, dies_after)), publish, concurrency=2)

    async def write(entry: DueEntry, turns: int) -> None:
        for _ in range(turns):
            await asyncio.sleep(0)
        # `schedule`, a step at a time: filed in its slot, then filed again where the sweep reads next for as long
        # as the position read is past the slot filed.
        writer = Jittery(store, chance, None)
        slot = slot_of(entry.due_at)
        await writer.file_at(entry, slot)
        while (position := await writer.sweep_position()) is not None and slot < position:
            slot = position
            await writer.file_at(entry, slot)
        filed.append(entry)

    # As the service does when it starts, before it files anything.
    await store.start_sweep(slot_of(clock.now()))
    for number, (minutes, sweeps, writers) in enumerate(plan):
        clock.at += timedelta(minutes=minutes)
        # Started in a random order: which runs first at each turn follows from it.
        actors: list[Coroutine[Any, Any, None]] = [sweep(death) for death in sweeps]
        actors += [
            write(DueEntry(clock.at + timedelta(minutes=due), ORGANISATION, f"per_{number}_{index}"), turns)
            for index, (due, turns) in enumerate(writers)
        ]
        chance.shuffle(actors)
        await asyncio.gather(*actors)
    clock.at = filed_until(plan)
    # Past the longest wait between tries of a visit that failed (a day), from the last round.
    failing.now = False
    await sweep_due(deps_on(store), publish)
    return filed
