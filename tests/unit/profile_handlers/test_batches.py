"""Facts applied in batches end exactly as applied one at a time: the same profiles, the same announcements with
the same ids and content, and a batch delivered again, or cut short by a crash anywhere, changes nothing more."""

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.profile.handlers import BATCH_GROUP_PERSONS, apply_facts
from services.profile.ports import FactToLog, ProfileStore, StoredProfile
from shared.events import Envelope, parse_data
from shared.events.identity import PersonResolvedV1
from tests.unit.profile_handlers.batches import (
    Step,
    announced,
    assert_batches_end_like_one_at_a_time,
    in_batches,
    messages,
    one_at_a_time,
    profiles,
    split,
)
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import PROFILE_CHANGED, CrashError, World, bea_merged_into_anne

steps = st.lists(
    st.tuples(
        st.sampled_from(["purchase", "purchase", "purchase", "donation", "again", "erase"]),
        st.integers(0, 7),
        st.sampled_from([0, 1, 30, 200, 400, 800]),
        st.integers(1, 3),
    ),
    max_size=30,
)
cuts = st.lists(st.integers(0, 40), max_size=5)


def memory_world(store: Any = None, *, group_persons: int = BATCH_GROUP_PERSONS) -> World:
    inner = MemoryProfileStore() if store is None else store

    async def documents() -> list[str]:
        return (inner if isinstance(inner, MemoryProfileStore) else inner.inner).documents()

    world = World(cast(ProfileStore, inner), documents)
    world.deps = replace(world.deps, batch_group_persons=group_persons)
    return world


async def new_world() -> World:
    return memory_world()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, cuts, st.sampled_from([1, 2, BATCH_GROUP_PERSONS]))
def test_facts_in_any_batches_end_like_the_same_facts_one_at_a_time(
    history: list[Step], where: list[int], group_persons: int
) -> None:
    batched = memory_world(group_persons=group_persons)
    asyncio.run(assert_batches_end_like_one_at_a_time(new_world, history, where, batched_world=batched))


HISTORY: list[Step] = [
    ("purchase", 0, 400, 2),
    ("purchase", 1, 30, 1),
    ("donation", 0, 30, 1),
    ("purchase", 2, 1, 3),
    ("purchase", 0, 1, 1),
    ("donation", 1, 0, 1),
    ("purchase", 3, 800, 2),
    ("purchase", 1, 0, 2),
]


async def test_a_batch_delivered_again_publishes_the_same_events_and_changes_nothing() -> None:
    world = memory_world()
    sent = messages(world, HISTORY)
    first = await world.deliver_batch(sent)
    stored = await world.documents()

    again = await world.deliver_batch(sent)

    assert set(announced(list(again))) == set(announced(list(first)))
    assert announced(list(again)) == announced(list(first))
    assert await world.documents() == stored


class Counting:
    """The store, failing its `crash_at`-th call as a crash would (none: counts the calls)."""

    def __init__(self, inner: MemoryProfileStore, crash_at: int | None = None) -> None:
        self.inner = inner
        self.crash_at = crash_at
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == self.crash_at:
                raise CrashError(name)
            return await method(*args, **kwargs)

        return call


@pytest.mark.parametrize("group_persons", [1, BATCH_GROUP_PERSONS])
async def test_a_batch_cut_short_by_a_crash_at_any_store_call_ends_the_same_when_delivered_again(
    group_persons: int,
) -> None:
    reference = memory_world()
    sent = messages(reference, HISTORY)
    earlier, batch = sent[:3], sent[3:]
    expected = await one_at_a_time(reference, sent)
    counting = Counting(MemoryProfileStore())
    counted = memory_world(counting, group_persons=group_persons)
    await one_at_a_time(counted, earlier)
    before = counting.calls
    await counted.deliver_batch(batch)
    calls = counting.calls - before
    assert calls > 5

    for crash_at in range(1, calls + 1):
        store = MemoryProfileStore()
        crashing = Counting(store)
        world = memory_world(crashing, group_persons=group_persons)
        published = await one_at_a_time(world, earlier)
        crashing.crash_at = crashing.calls + crash_at
        with pytest.raises(CrashError):
            await world.deliver_batch(batch)
        # Nothing of the batch goes on after it failed: the other groups stopped where they were.
        calls_when_failed = crashing.calls
        await asyncio.sleep(0.01)
        assert crashing.calls == calls_when_failed, f"crash at call {crash_at}"
        crashing.crash_at = None

        published += await in_batches(world, split(batch, []))

        assert await profiles(world) == await profiles(reference), f"crash at call {crash_at}"
        assert announced(published) == announced(expected), f"crash at call {crash_at}"


class CallsNoted(MemoryProfileStore):
    """The in-memory store, noting the calls that read profiles, log facts and save profiles, with the persons they
    name; each lets other tasks run first, as a round trip to a real store would."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def _noted(self, call: str, persons: Iterable[str]) -> None:
        self.calls.append((call, tuple(persons)))
        await asyncio.sleep(0)

    async def profiles_of(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, StoredProfile]:
        wanted = list(person_ids)
        await self._noted("read", wanted)
        return await super().profiles_of(organisation_id, wanted)

    async def log_facts(self, organisation_id: str, facts: Sequence[FactToLog]) -> frozenset[str]:
        await self._noted("log", dict.fromkeys(fact.person_id for fact in facts))
        return await super().log_facts(organisation_id, facts)

    async def save_all(self, profiles: Sequence[StoredProfile], *, new_persons: Collection[str] = ()) -> frozenset[str]:
        await self._noted("save", [profile.person_id for profile in profiles])
        return await super().save_all(profiles, new_persons=new_persons)


async def test_a_batch_s_persons_go_in_groups_each_read_once_the_one_before_is_and_before_it_is_stored() -> None:
    reference, store = memory_world(), CallsNoted()
    persons = ["per_anne", "per_bea", "per_cleo", "per_dora"]
    first = [reference.purchase(f"sale-{n}", person_id, days_ago=40) for n, person_id in enumerate(persons)]
    then = [reference.purchase(f"sale-{n + 4}", person_id, days_ago=20 - n) for n, person_id in enumerate(persons)]
    expected = await one_at_a_time(reference, first + then)
    published = list(await memory_world(store).deliver_batch(first))
    store.calls.clear()

    # Another instance, which has to read their profiles, in groups of two persons.
    published += await memory_world(store, group_persons=2).deliver_batch(then)

    position = {call: index for index, call in enumerate(store.calls)}
    first_group, second_group = ("per_anne", "per_bea"), ("per_cleo", "per_dora")
    assert set(position) == {(call, group) for call in ("read", "log", "save") for group in (first_group, second_group)}
    assert position["log", first_group] < position["read", second_group] < position["save", first_group]
    assert position["log", second_group] < position["save", second_group]
    assert await profiles(memory_world(store)) == await profiles(reference)
    assert announced(published) == announced(expected)


async def test_a_fact_no_profile_folds_is_noted_filtered_once_in_a_batch_as_one_at_a_time() -> None:
    world = memory_world()
    access = world.access_request("access-1", "per_anne")
    sale = world.purchase("sale-1", "per_anne")
    batch = [(envelope, parse_data(envelope)) for envelope in (access, sale)]

    first = await apply_facts(cast(list[tuple[Envelope, PersonResolvedV1]], batch), world.deps)
    again = await apply_facts(cast(list[tuple[Envelope, PersonResolvedV1]], batch), world.deps)

    assert first.outcomes == ("ignored", "applied")
    assert first.filtered == ("not_a_profile_fact", None)
    assert again.filtered == (None, None)


class ReadsCounted(MemoryProfileStore):
    """The in-memory store, noting the persons whose profiles batches read, the persons whose tombstones they look
    for and the facts they ask the log about."""

    def __init__(self) -> None:
        super().__init__()
        self.profiles_read: list[str] = []
        self.asked_if_erased: list[str] = []
        self.asked_if_logged: list[str] = []

    async def profiles_of(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, StoredProfile]:
        wanted = list(person_ids)
        self.profiles_read.extend(wanted)
        return await super().profiles_of(organisation_id, wanted)

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        wanted = list(person_ids)
        self.asked_if_erased.extend(wanted)
        return await super().erased_among(organisation_id, wanted)

    async def logged(self, organisation_id: str, event_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        wanted = list(event_ids)
        self.asked_if_logged.extend(wanted)
        return await super().logged(organisation_id, wanted)


async def test_a_batch_reads_no_profile_it_stored_before_nor_one_of_a_person_identity_just_created() -> None:
    reference, store = memory_world(), ReadsCounted()
    world, elsewhere = memory_world(store), memory_world(store)
    sent = [
        reference.purchase("sale-1", "per_anne", days_ago=40),
        reference.purchase("sale-2", "per_dora", days_ago=35),
        reference.purchase("sale-3", "per_bea", days_ago=30),
        reference.purchase("sale-4", "per_anne", days_ago=20),
        reference.donation("gift-5", "per_cleo", days_ago=10),
        reference.purchase("sale-6", "per_dora", days_ago=5),
    ]
    expected = await one_at_a_time(reference, sent)

    # Dora's first purchase went through another instance: this one has to read her profile.
    published = list(await elsewhere.deliver_batch(sent[1:2]))
    published += await in_batches(world, [[sent[0], sent[2]], [sent[3], sent[4], sent[5]]])

    assert store.profiles_read == ["per_dora"]
    assert await profiles(world) == await profiles(reference)
    assert announced(published) == announced(expected)


async def test_the_first_fact_of_a_person_delivered_again_to_another_instance_changes_nothing() -> None:
    store = ReadsCounted()
    here, elsewhere = memory_world(store), memory_world(store)
    first = here.purchase("sale-1", "per_anne", days_ago=40)
    await here.deliver_batch([first, here.purchase("sale-2", "per_anne", days_ago=30)])
    before = await profiles(here)

    # Its profile is not read (identity created the person with it): the number it is logged from is taken.
    again = await elsewhere.deliver_batch([first])

    assert store.profiles_read == []
    assert await profiles(elsewhere) == before
    assert again == ()


async def test_a_batch_asks_nothing_about_the_facts_of_a_person_identity_just_created_until_it_stores_them() -> None:
    reference, store = memory_world(), ReadsCounted()
    world = memory_world(store)
    sent = [
        reference.purchase("sale-1", "per_anne", days_ago=40),
        reference.purchase("sale-2", "per_anne", days_ago=30),
        reference.purchase("sale-3", "per_bea", days_ago=20),
    ]
    later = [reference.purchase("sale-4", "per_anne", days_ago=10), reference.purchase("sale-5", "per_cleo")]
    expected = await one_at_a_time(reference, sent + later)

    published = list(await world.deliver_batch(sent))
    # Only whether an erasure came while the batch stored its profiles.
    assert (store.asked_if_logged, store.asked_if_erased) == ([], ["per_anne", "per_bea"])
    store.asked_if_erased.clear()
    published += await world.deliver_batch(later)

    # Anne's profile is kept from the first batch: her next fact is logged past it, so the log is asked about it,
    # and her tombstone looked for before and after.
    assert store.asked_if_logged == ["sale-4"]
    assert sorted(store.asked_if_erased) == ["per_anne", "per_anne", "per_cleo"]
    assert await profiles(world) == await profiles(reference)
    assert announced(published) == announced(expected)


async def test_a_first_fact_delivered_again_after_its_persons_erasure_is_left_to_be_noted_as_for_a_person_erased() -> (
    None
):
    store = MemoryProfileStore()
    here, elsewhere = memory_world(store), memory_world(store)
    first = here.purchase("sale-1", "per_emma", days_ago=40)
    await here.deliver_batch([first])
    await here.deliver(here.erasure("per_emma", upstream=True))
    late = here.purchase("sale-2", "per_emma")

    # Another instance, which never saw Emma, is delivered her first fact again: nothing asked, so it is stored,
    # then found erased, taken out again and left to the fact-by-fact path.
    batch = cast(list[tuple[Envelope, PersonResolvedV1]], [(first, parse_data(first))])
    handled = await apply_facts(batch, elsewhere.deps)

    assert handled.outcomes == (None,)
    assert handled.outputs == ()
    assert await elsewhere.naming("per_emma") == []
    # The erasure noted the fact already when it took it out of Emma's history; a fact never seen is noted now.
    assert (await elsewhere.handle(first)).filtered == ()
    assert (await elsewhere.handle(late)).filtered == ("erased_person",)
    assert await elsewhere.naming("per_emma") == []


@pytest.mark.parametrize("meanwhile", ["purchase", "erasure"])
async def test_a_profile_another_instance_changed_since_this_one_stored_it_is_not_taken_for_current(
    meanwhile: str,
) -> None:
    reference, store = memory_world(), MemoryProfileStore()
    here, elsewhere = memory_world(store), memory_world(store)
    first, later = reference.purchase("sale-1", "per_anne", days_ago=40), reference.purchase("sale-3", "per_anne")
    between = (
        reference.purchase("sale-2", "per_anne", days_ago=20)
        if meanwhile == "purchase"
        else reference.erasure("per_anne")
    )
    expected = await one_at_a_time(reference, [first, between, later])

    published = await here.deliver_batch([first])
    published += await elsewhere.deliver_batch([between])
    published += await here.deliver_batch([later])

    assert await profiles(here) == await profiles(reference)
    assert announced(list(published)) == announced(expected)


def test_a_fact_kept_in_the_history_of_someone_merged_away_and_what_follows_it_are_applied_in_their_order() -> None:
    async def sent(world: World) -> list[Envelope]:
        # The fact that merged them, Béa's by her upstream id, then Anne's own next purchase: one batch.
        linking = await bea_merged_into_anne(world)
        return [linking, world.purchase("sale-later", "per_anne", tickets=4, person={"external_id": "C-1001"})]

    async def played(batched: bool) -> list[tuple[Any, Any]]:
        world = memory_world()
        envelopes = await sent(world)
        if batched:
            outputs = list(await world.deliver_batch(envelopes))
        else:
            outputs = [output for envelope in envelopes for output in await world.deliver(envelope)]
        return [
            (output.data.get("profile_version"), output.data["changed"].get("tickets_bought"))
            for output in outputs
            if output.type == PROFILE_CHANGED
        ]

    one_by_one = asyncio.run(played(batched=False))

    assert asyncio.run(played(batched=True)) == one_by_one
    assert [tickets for _, tickets in one_by_one] == [6, 10]
