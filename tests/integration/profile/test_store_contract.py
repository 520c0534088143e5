"""The profile store contract on the real store: the handler scenarios the in-memory store passes, run here too,
and the log's own rules checked on both stores side by side."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest
from bson.binary import Binary
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

import shared.mongo
from services.profile.adapters.mongo import COLLECTIONS, COMPRESSED_JSON, DUE, ERASED, SWEEP, MongoProfileStore
from services.profile.domain.documents import DocumentError
from services.profile.domain.schedule import GRACE, PARTS, SLOT, DueEntry, after_failed_visit, slot_of
from services.profile.domain.strategies import Stamp, Stamped
from services.profile.handlers import BATCH_GROUP_PERSONS
from services.profile.ports import FactToLog, StoredProfile
from shared.events import Envelope
from shared.mongo import Document, NumberedList
from tests.integration.held_calls import HeldCall
from tests.unit.profile_handlers.batches import Step, announced, assert_batches_end_like_one_at_a_time
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import SCENARIOS, World, lea_due_to_lapse_and_not_filed

pytestmark = [pytest.mark.mongo]


def mongo_world(database: AsyncDatabase[Document]) -> World:
    async def documents() -> list[str]:
        # Whole collections, read the slow way on purpose: nothing may hide from a query by `_id`.
        found: list[str] = []
        for name in COLLECTIONS:
            found.extend([f"{name}: {document!r}" async for document in database[name].find({})])
        return sorted(found)

    return World(MongoProfileStore(database), documents)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.__name__ for scenario in SCENARIOS])
async def test_the_handlers_on_the_real_store(
    scenario: Callable[[World], Awaitable[None]], database: AsyncDatabase[Document]
) -> None:
    await scenario(mongo_world(database))


@pytest.fixture(params=["memory", "mongo"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "mongo":
        return mongo_world(request.getfixturevalue("database"))
    store = MemoryProfileStore()

    async def documents() -> list[str]:
        return store.documents()

    return World(store, documents)


async def test_a_fact_keeps_its_first_number_and_a_taken_number_is_refused(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    first, second = upstream(world, "sale-1", "per_anne"), upstream(world, "sale-2", "per_anne")

    assert await store.log_fact(organisation, "sale-1", "per_anne", 1, first) == 1
    assert await store.log_fact(organisation, "sale-1", "per_anne", 2, first) == 1
    assert await store.log_fact(organisation, "sale-2", "per_anne", 1, second) is None
    assert await store.take_turn(organisation, "per_anne", 1, "merge:mrg_1") is False
    # The fact that lost number 1 takes number 2 when it tries again: nothing of its first try stands in its way.
    assert await store.log_fact(organisation, "sale-2", "per_anne", 2, second) == 2
    assert await store.log_fact(organisation, "sale-2", "per_bea", 1, second) == 0


async def test_a_person_whose_next_number_is_held_keeps_none_of_a_batch_s_numbers_however_far_their_facts_lie(
    world: World,
) -> None:
    store, organisation = world.store, world.organisation_id
    purchase = upstream(world, "sale-0", "per_anne")
    assert await store.log_fact(organisation, "sale-0", "per_anne", 1, purchase) == 1
    # Béa's facts come first, Anne's from number 1 (held) on, past the hundred documents a store may insert at once.
    facts = [FactToLog(f"b-{n}", "per_bea", n, purchase) for n in range(1, 91)] + [
        FactToLog(f"a-{n}", "per_anne", n, purchase) for n in range(1, 61)
    ]

    assert await store.log_facts(organisation, facts) == {"per_anne"}

    held = [n for n in range(2, 61) if await store.turn_at(organisation, "per_anne", n) is not None]
    assert held == [], "a number past the one held is left taken"
    assert (await store.logged(organisation, ["b-90", "a-2"])) == {"b-90": ("per_bea", 90)}


async def test_a_turn_is_taken_once_and_recognised_by_its_change(world: World) -> None:
    store, organisation = world.store, world.organisation_id

    assert await store.take_turn(organisation, "per_anne", 1, "merge:mrg_1") is True
    assert await store.take_turn(organisation, "per_anne", 1, "merge:mrg_1") is True
    assert await store.take_turn(organisation, "per_anne", 1, "merge:mrg_2") is False


async def test_the_facts_of_a_log_come_back_in_order_without_the_merge_steps(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    await store.log_fact(organisation, "sale-1", "per_anne", 1, upstream(world, "sale-1", "per_anne"))
    await store.take_turn(organisation, "per_anne", 2, "merge:mrg_1")
    await store.log_fact(organisation, "sale-2", "per_anne", 3, upstream(world, "sale-2", "per_anne"))

    assert [envelope.id for envelope in await store.facts(organisation, "per_anne", 3)] == ["sale-1", "sale-2"]
    assert [envelope.id for envelope in await store.facts(organisation, "per_anne", 1)] == ["sale-1"]


async def test_a_purge_deletes_the_persons_log_and_triggers_and_nothing_of_anyone_else(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    await store.log_fact(organisation, "sale-1", "per_anne", 1, upstream(world, "sale-1", "per_anne"))
    await store.take_turn(organisation, "per_anne", 2, "merge:mrg_1")
    # A writer holding number 3 has not stored its change yet.
    await store.log_fact(organisation, "sale-3", "per_anne", 3, upstream(world, "sale-3", "per_anne"))
    await store.log_fact(organisation, "sale-2", "per_bea", 1, upstream(world, "sale-2", "per_bea"))
    await store.claim_trigger(organisation, "welcome:per_anne:once", "sale-1")
    await store.save(StoredProfile(organisation, "per_anne", applied=2, fired=frozenset({"welcome:per_anne:once"})))
    await store.mark_erased(organisation, "per_anne")

    # Both facts leave the log noted as filtered, the one past `applied` too; a purge again finds nothing left.
    assert await store.purge(organisation, "per_anne") == 2
    assert await store.purge(organisation, "per_anne") == 0
    await store.delete_profile(organisation, "per_anne")

    assert await world.naming("per_anne") == []
    assert await world.naming("sale-1") == []
    assert not await store.record_filtered(organisation, "sale-3", "erased_person")
    assert await store.facts(organisation, "per_bea", 1) != []
    assert await store.is_erased(organisation, "per_anne")
    assert not await store.is_erased(organisation, "per_bea")


@pytest.mark.parametrize("group_persons", [1, BATCH_GROUP_PERSONS])
async def test_facts_in_batches_on_the_real_store_end_like_the_same_facts_one_at_a_time(
    database: AsyncDatabase[Document], group_persons: int
) -> None:
    async def in_memory() -> World:
        store = MemoryProfileStore()

        async def documents() -> list[str]:
            return store.documents()

        return World(store, documents)

    history: list[Step] = [
        ("purchase", 0, 400, 2),
        ("purchase", 1, 30, 1),
        ("donation", 0, 30, 1),
        ("again", 0, 1, 1),
        ("purchase", 2, 1, 3),
        ("purchase", 0, 1, 1),
        ("erase", 2, 0, 1),
        ("donation", 1, 0, 1),
        ("again", 3, 30, 1),
        ("purchase", 3, 800, 2),
        ("purchase", 1, 0, 2),
        ("purchase", 0, 200, 1),
    ]
    batched = mongo_world(database)
    # In groups of one person, the batch's persons are read, folded and stored side by side.
    batched.deps = replace(batched.deps, batch_group_persons=group_persons)
    await assert_batches_end_like_one_at_a_time(in_memory, history, [3, 7], batched_world=batched)


async def test_a_batch_delivered_again_to_the_real_store_publishes_the_same_events_and_changes_nothing(
    world: World,
) -> None:
    sent = [world.purchase(f"sale-{n}", f"per_{n % 3}", days_ago=n * 40) for n in range(7)]
    first = await world.deliver_batch(sent)
    stored = await world.documents()

    again = await world.deliver_batch(sent)

    assert announced(list(again)) == announced(list(first))
    assert await world.documents() == stored


async def test_a_profile_another_process_stored_since_reads_as_it_stored_it(database: AsyncDatabase[Document]) -> None:
    here, elsewhere = MongoProfileStore(database), MongoProfileStore(database)
    world = mongo_world(database)
    await world.deliver(world.purchase("sale-1", "per_anne"))
    # Read here, so that this process knows the state; then another process stores the next version.
    read_here = await here.profile(world.organisation_id, "per_anne")
    assert read_here is not None
    stored_elsewhere = await elsewhere.profile(world.organisation_id, "per_anne")
    assert stored_elsewhere is not None
    renamed = replace(stored_elsewhere.state, first_name=Stamped("Élisa", Stamp(datetime.now(UTC), "rename-1")))
    await elsewhere.save(replace(stored_elsewhere, state=renamed, version=stored_elsewhere.version + 1))

    read_again = await here.profile(world.organisation_id, "per_anne")
    # And stored here from what this process read: the state written is the one it holds, not the one it knew.
    assert read_again is not None
    assert read_again.state == renamed
    await here.save(replace(read_here, version=read_again.version + 1))
    assert (await elsewhere.profile(world.organisation_id, "per_anne")) == replace(
        read_here, version=read_again.version + 1
    )


async def test_a_profile_deleted_leaves_its_state_in_no_store_s_memory(database: AsyncDatabase[Document]) -> None:
    store = MongoProfileStore(database)
    world = World(store, mongo_world(database).documents)
    await world.deliver(world.purchase("sale-1", "per_anne"))
    assert len(store._states) == 1

    await store.delete_profile(world.organisation_id, "per_anne")

    # An erased person's names and emails are not kept in the process either.
    assert len(store._states) == 0


def upstream(world: World, event_id: str, person_id: str) -> Envelope:
    """The upstream envelope of a purchase, as identity passes it on."""
    return Envelope.model_validate(world.purchase(event_id, person_id).data["original"])


async def test_writers_filing_one_slot_or_one_key_at_the_same_moment_all_land(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    # One person due at many moments of one slot, filed at once: more filings than the slot has parts, so that
    # some append to the same part at the same moment.
    entries = [DueEntry(slot + timedelta(seconds=n), organisation, "per_anne") for n in range(PARTS + 8)]
    persons = [f"per_{n:02d}" for n in range(12)]

    await asyncio.gather(*(store.schedule(entry) for entry in entries))
    await asyncio.gather(
        *(store.index_lookups(organisation, person, ["email:famille@example.com"]) for person in persons)
    )

    filed = await store.filed_in(slot)
    assert sorted(entry for part in filed for entry in part.entries) == sorted(entries)
    assert sorted(await store.found_by(organisation, "email:famille@example.com")) == persons


async def test_every_entry_filed_for_a_person_is_unscheduled_at_once_and_nobody_elses(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    due = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    # A slow writer and its helper each filed the change they both stored; an earlier moment is still filed too.
    twice = [DueEntry(due, organisation, "per_anne"), DueEntry(due, organisation, "per_anne")]
    earlier = DueEntry(due - timedelta(days=40), organisation, "per_anne")
    others = [DueEntry(due, organisation, "per_bea"), DueEntry(due, "another-organisation", "per_anne")]
    await store.schedule_all([*twice, earlier, *others])

    assert await store.unschedule_person(organisation, "per_anne") == 3

    assert [entry for filed in await store.filed_in(slot_of(earlier.due_at)) for entry in filed.entries] == []
    assert sorted(entry for filed in await store.filed_in(slot_of(due)) for entry in filed.entries) == sorted(others)


async def test_an_entry_whose_visits_failed_is_filed_in_its_retry_s_slot_and_read_back_with_its_count(
    world: World,
) -> None:
    store, organisation = world.store, world.organisation_id
    due = datetime(2027, 3, 1, 20, 5, tzinfo=UTC)
    first = DueEntry(due, organisation, "per_anne")
    retry = after_failed_visit(after_failed_visit(first, due + timedelta(minutes=20)), due + timedelta(hours=1))

    await store.schedule_all([first, retry])

    [filed_first] = [entry for filed in await store.filed_in(slot_of(due)) for entry in filed.entries]
    [filed_retry] = [entry for filed in await store.filed_in(slot_of(retry.visit_at)) for entry in filed.entries]
    assert (filed_first.due_at, filed_first.failed_visits, filed_first.retry_at) == (due, 0, None)
    assert (filed_retry.due_at, filed_retry.failed_visits, filed_retry.retry_at) == (due, 2, retry.retry_at)


async def test_an_entry_never_failed_is_stored_as_entries_were_before_failures_were_counted(
    database: AsyncDatabase[Document],
) -> None:
    store = MongoProfileStore(database)
    due = datetime(2027, 3, 1, 20, 5, tzinfo=UTC)

    await store.schedule(DueEntry(due, "theatre-du-nord", "per_anne"))

    # Entries filed by an earlier version hold these fields alone, and are read as first tries.
    [document] = [document async for document in database[DUE].find({"p": "per_anne"})]
    assert sorted(document) == ["_id", "d", "o", "p"]


async def test_the_erasure_search_counts_only_the_organisation_s_own_documents(
    database: AsyncDatabase[Document],
) -> None:
    here, elsewhere = mongo_world(database), World(MongoProfileStore(database), _no_documents, "festival-sud")
    await here.deliver(here.purchase("sale-a", "per_anne"))
    await elsewhere.deliver(elsewhere.purchase("sale-b", "per_anne"))

    found_here = await here.store.search(here.organisation_id, ["per_anne"])
    found_elsewhere = await here.store.search("festival-sud", ["per_anne"])
    found_nowhere = await here.store.search("theatre-inconnu", ["per_anne"])

    assert sum(found_here.values()) > 0
    assert sum(found_here.values()) == sum(found_elsewhere.values())
    assert sum(found_nowhere.values()) == 0


async def _no_documents() -> list[str]:
    return []


async def test_an_organisations_profile_states_come_a_page_at_a_time_without_merged_persons_or_other_organisations(
    world: World,
) -> None:
    store, organisation = world.store, world.organisation_id
    for n in range(5):
        await world.deliver(world.purchase(f"sale-{n}", f"per_{n}", days_ago=30 + n))
    await world.deliver(world.merged("mrg_1", "per_0", "per_1"))
    await store.save(StoredProfile("festival-sud", "per_9", applied=1))
    survivor = await store.profile(organisation, "per_0")
    assert survivor is not None

    pages = [page async for page in store.profile_states(organisation, fields={"tickets", "performances"}, page_size=2)]

    assert [len(page) for page in pages] == [2, 2]
    states = [state for page in pages for state in page]
    assert survivor.state.tickets in [state.tickets for state in states]
    assert sorted(len(state.tickets) for state in states) == [2, 2, 2, 4]
    assert all(state.performances and not state.emails for state in states)


async def test_the_organisations_holding_profiles_are_listed_once_each(world: World) -> None:
    store = world.store
    await store.save(StoredProfile("theatre-du-nord", "per_anne", applied=1))
    await store.save(StoredProfile("theatre-du-nord", "per_bea", applied=1))
    await store.save(StoredProfile("festival-sud", "per_anne", applied=1))

    assert await store.organisations() == ["festival-sud", "theatre-du-nord"]


async def test_a_days_segment_sizes_replace_those_recorded_for_it_before_and_other_days_stay(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    today, yesterday, at = date(2026, 11, 15), date(2026, 11, 14), datetime(2026, 11, 15, 5, tzinfo=UTC)
    await store.record_segment_sizes(organisation, yesterday, {"donors": 2, "francophones": 5}, recorded_at=at)
    await store.record_segment_sizes(organisation, today, {"donors": 2, "francophones": 5}, recorded_at=at)
    await store.record_segment_sizes(organisation, today, {"donors": 3, "francophones": 6}, recorded_at=at)
    await store.record_segment_sizes("festival-sud", today, {"donors": 40}, recorded_at=at)

    recorded = await store.recorded_segment_sizes(organisation, [yesterday, today, date(2026, 11, 13)])

    assert recorded == {yesterday: {"donors": 2, "francophones": 5}, today: {"donors": 3, "francophones": 6}}
    assert await store.segment_sizes_recorded_day() is None
    await store.mark_segment_sizes_recorded(yesterday)
    await store.mark_segment_sizes_recorded(today)
    assert await store.segment_sizes_recorded_day() == today


async def test_a_profile_stored_meanwhile_for_a_person_expected_new_is_left_as_stored_and_named(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    await store.save(StoredProfile(organisation, "per_anne", version=1, applied=1))

    found_stored = await store.save_all(
        [
            StoredProfile(organisation, "per_anne", version=2, applied=2),
            StoredProfile(organisation, "per_bea", version=1, applied=1),
            StoredProfile(organisation, "per_cleo", version=3, applied=3),
        ],
        new_persons={"per_anne", "per_bea"},
    )

    stored = await store.profiles_of(organisation, ["per_anne", "per_bea", "per_cleo"])
    assert found_stored == {"per_anne"}
    assert {person: profile.version for person, profile in stored.items()} == {
        "per_anne": 1,
        "per_bea": 1,
        "per_cleo": 3,
    }


async def test_a_slots_parts_filed_at_once_are_each_listed_once_and_entries_filed_after_the_sweep_are_found_again(
    world: World,
) -> None:
    store, organisation = world.store, world.organisation_id
    slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    entries = [DueEntry(slot + timedelta(seconds=n), organisation, f"per_{n:02d}") for n in range(60)]

    await store.schedule_all(entries[:30])
    await store.schedule_all(entries[30:50])

    filed = await store.filed_in(slot)
    assert sorted(entry for part in filed for entry in part.entries) == sorted(entries[:50])
    assert len({part.key for part in filed}) == len(filed)
    # The sweep lets the slot go; entries filed in it afterwards (due at a moment already past) are found again.
    for part in filed:
        assert await store.drop_filed(part)
    assert await store.filed_in(slot) == []
    await store.schedule_all(entries[50:])
    assert sorted(entry for part in await store.filed_in(slot) for entry in part.entries) == sorted(entries[50:])


async def test_a_part_let_go_then_filed_in_again_is_not_let_go_by_a_sweep_holding_the_older_read(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    await store.schedule_all([DueEntry(slot + timedelta(minutes=1), organisation, "per_anne")])
    [read_before] = await store.filed_in(slot)
    assert await store.drop_filed(read_before)
    # Writers file until one lands in Anne's part again: it holds one live entry, as it did at the older read.
    filed_since: list[DueEntry] = []
    while not any(part.key == read_before.key for part in await store.filed_in(slot)):
        assert len(filed_since) < 4 * PARTS, "no writer filed in Anne's part again"
        filed_since.append(DueEntry(slot + timedelta(minutes=2), organisation, f"per_{len(filed_since):03d}"))
        await store.schedule_all(filed_since[-1:])

    # Another sweeper, holding the read from before, lets it go: it must find the part written since.
    assert not await store.drop_filed(read_before)
    assert sorted(entry for part in await store.filed_in(slot) for entry in part.entries) == sorted(filed_since)


async def test_an_entry_filed_in_a_part_while_the_sweep_lets_the_part_go_is_found_by_the_next_read(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, organisation = MongoProfileStore(database), "theatre-du-nord"
    slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    await store.start_sweep(slot)
    anne = DueEntry(slot + timedelta(minutes=1), organisation, "per_anne")
    await store.schedule_all([anne])
    # Filings for other days bring the process's turn of parts round to the one Anne is in.
    for n in range(PARTS - 1):
        await store.schedule_all([DueEntry(slot + timedelta(days=2, minutes=n), organisation, f"per_{n:02d}")])
    [part] = await store.filed_in(slot)
    assert part.entries == (anne,)
    held = HeldCall(monkeypatch, "insert_many", DUE, when="before")
    bea = DueEntry(slot + timedelta(minutes=2), organisation, "per_bea")

    filing = asyncio.create_task(store.schedule_all([bea]))
    await held.until_held()
    # The sweep lets Anne's part go between the writer measuring it and filing Bea past its end.
    assert await store.drop_filed(part)
    held.release()
    await filing

    assert [entry for filed in await store.filed_in(slot) for entry in filed.entries] == [bea]


async def test_a_part_read_empty_is_read_past_from_then_on_and_what_is_filed_after_is_found(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    filing, sweeping = MongoProfileStore(database), MongoProfileStore(database)
    organisation = "theatre-du-nord"
    slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    handles = await filing.schedule_all(
        [DueEntry(slot + timedelta(seconds=n), organisation, f"per_{n}") for n in range(40)]
    )
    await filing.unschedule_all(handles)
    assert await sweeping.filed_in(slot) == []
    entries_read: list[str] = []
    original = shared.mongo.found_by_id

    async def found_by_id(collection: AsyncCollection[Document], keys: Any, *args: Any) -> dict[Any, Document]:
        # Every read of a list's items goes through here, a hundred at a time.
        keys = list(keys)
        if collection.name == DUE:
            entries_read.extend(key for key in keys if key in handles)
        return await original(collection, keys, *args)

    monkeypatch.setattr(shared.mongo, "found_by_id", found_by_id)

    # The sweep reads the slot behind its position at every run: the emptied entries are not read again.
    assert await sweeping.filed_in(slot) == []
    late = DueEntry(slot + timedelta(minutes=1), organisation, "per_late")
    await filing.schedule_all([late])
    assert [entry for part in await sweeping.filed_in(slot) for entry in part.entries] == [late]
    # Read to measure the part, never for what it holds.
    assert len(entries_read) <= 2


async def test_a_part_cleared_since_it_was_let_go_is_read_whole_when_found_shorter(
    database: AsyncDatabase[Document],
) -> None:
    store, organisation = MongoProfileStore(database), "theatre-du-nord"
    slot = datetime(2027, 3, 1, 23, 45, tzinfo=UTC)
    await store.schedule_all([DueEntry(slot + timedelta(minutes=n), organisation, f"per_{n}") for n in range(3)])
    [part] = await store.filed_in(slot)
    assert await store.drop_filed(part)
    # Another sweeper leaves the day and clears it; this process then files in the same part anew, from its start
    # (filings for other days bring its turn of parts round to that one).
    await NumberedList(database[DUE]).clear(part.key, part.version)
    for n in range(PARTS - 1):
        await store.schedule_all([DueEntry(slot + timedelta(days=2, minutes=n), organisation, f"per_{n:02d}")])
    late = DueEntry(slot + timedelta(minutes=5), organisation, "per_late")
    await store.schedule_all([late])

    assert [entry for filed in await store.filed_in(slot) for entry in filed.entries] == [late]


async def test_an_entry_filed_behind_the_position_as_the_sweep_passes_the_position_is_filed_ahead_again(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = mongo_world(database)
    due_at = await lea_due_to_lapse_and_not_filed(world)
    world.clock.at = due_at + timedelta(hours=1)
    await world.sweep()
    # Lea's entry, filed late behind the position: the writer reads the position, and is slow to file it there.
    position_read = HeldCall(monkeypatch, "find_one", SWEEP, when="after")
    writer = asyncio.create_task(world.store.schedule(DueEntry(due_at, world.organisation_id, "per_lea")))
    await position_read.until_held()
    # Meanwhile the sweep passes the slot the writer read as the position.
    world.clock.at += timedelta(hours=1)
    first = await world.sweep()
    position_read.release()
    await writer
    position = await world.store.sweep_position()
    assert position is not None
    world.clock.at += timedelta(hours=1)

    ahead = [entry for filed in await world.store.filed_in(position) for entry in filed.entries]
    second = await world.sweep()

    assert ahead == [DueEntry(due_at, world.organisation_id, "per_lea")]
    # The copy it left behind, found as the sweep reads the slots of its last move again, changes nothing.
    assert first.outcomes.get("swept", 0) + second.outcomes.get("swept", 0) == 1
    assert "lapsed-buyers" in (await world.profile("per_lea")).segments


async def test_once_the_sweep_has_left_a_day_nothing_filed_in_it_is_kept(database: AsyncDatabase[Document]) -> None:
    store, organisation = MongoProfileStore(database), "theatre-du-nord"
    evening = datetime(2027, 3, 1, 23, 45, tzinfo=UTC)
    await store.start_sweep(evening)
    await store.schedule_all([DueEntry(evening + timedelta(minutes=n), organisation, f"per_{n}") for n in range(3)])
    tomorrow = DueEntry(evening + timedelta(hours=1), organisation, "per_next")
    await store.schedule_all([tomorrow])

    for part in await store.filed_in(evening):
        assert await store.drop_filed(part)
    await store.advance_sweep(evening, evening + SLOT)
    await store.advance_sweep(evening + SLOT, evening + 2 * SLOT)

    kept = [str(document["_id"]) async for document in database[DUE].find({})]
    assert kept, "tomorrow's entry and its day are kept"
    assert [key for key in kept if "2027-03-01" in key] == []
    assert [entry for filed in await store.filed_in(slot_of(tomorrow.due_at)) for entry in filed.entries] == [tomorrow]


async def test_the_slots_filed_are_listed_in_order_within_the_stretch_asked(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    day = datetime(2027, 3, 1, tzinfo=UTC)
    hours = (1, 9, 23)
    await store.schedule_all(
        [DueEntry(day + timedelta(hours=hour, minutes=5), organisation, f"per_{hour}") for hour in hours]
        + [DueEntry(day + timedelta(days=1, hours=1), organisation, "per_next")]
    )

    assert await store.slots_filed(day, day + timedelta(days=1)) == [day + timedelta(hours=hour) for hour in hours]
    assert await store.slots_filed(day + timedelta(hours=1, minutes=15), day + timedelta(hours=23)) == [
        day + timedelta(hours=9)
    ]
    assert await store.slots_filed(day + timedelta(days=1), day + timedelta(days=2)) == [
        day + timedelta(days=1, hours=1)
    ]
    assert await store.slots_filed(day + timedelta(days=2), day + timedelta(days=3)) == []


async def test_a_move_on_from_midnight_lets_the_day_before_go_only_once_the_position_has_left_it(world: World) -> None:
    store, organisation = world.store, world.organisation_id
    evening = datetime(2027, 3, 1, 22, 0, tzinfo=UTC)
    midnight = datetime(2027, 3, 2, tzinfo=UTC)
    await store.start_sweep(evening)
    late = DueEntry(evening + timedelta(minutes=40), organisation, "per_late")
    await store.schedule(late)

    # A sweeper ahead of the position (another moved it less far) moves on from midnight: the day stays.
    assert await store.advance_sweep(midnight, midnight + SLOT) is False
    assert [entry for filed in await store.filed_in(slot_of(late.due_at)) for entry in filed.entries] == [late]
    # Once the position has left the day, a sweeper moving on from midnight after another did lets the day go.
    assert await store.advance_sweep(evening, midnight + SLOT) is True
    assert await store.advance_sweep(midnight, midnight + 2 * SLOT) is False
    assert await store.filed_in(slot_of(late.due_at)) == []


async def test_a_sweep_passing_quiet_days_in_one_move_each_keeps_nothing_of_them(
    database: AsyncDatabase[Document],
) -> None:
    store, organisation = MongoProfileStore(database), "theatre-du-nord"
    start = datetime(2027, 3, 1, 10, 30, tzinfo=UTC)
    await store.start_sweep(start)
    # Filed, then let go: the part and its day's list stay until the sweep has left the day.
    handle = await store.schedule(DueEntry(start + timedelta(hours=2), organisation, "per_gone"))
    await store.unschedule(handle)
    later = DueEntry(start + timedelta(days=4, hours=2), organisation, "per_later")
    await store.schedule(later)
    world = mongo_world(database)
    world.clock.at = start + timedelta(days=4)

    report = await world.sweep()

    assert report.visited == 0
    assert await store.sweep_position() == slot_of(world.clock.at - GRACE)
    kept = sorted({str(document["_id"]).split("T")[0] async for document in database[DUE].find({})})
    # Of the four days passed, the day the entry let go was filed in included, nothing; the entry ahead and its day.
    assert kept == ["2027-03-05", "day|2027-03-05#1"]
    assert [entry for filed in await store.filed_in(slot_of(later.due_at)) for entry in filed.entries] == [later]


class TombstoneReads:
    """The erasures collection, counting the tombstones read (not the entries of the list of erasures), whether
    one by one or several in a query."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.tombstones_read = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if name not in ("find_one", "find"):
            return method

        def counted(query: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            wanted = query["_id"]
            keys = wanted["$in"] if isinstance(wanted, dict) else [wanted]
            self.tombstones_read += sum("#" not in str(key) for key in keys)
            return method(query, *args, **kwargs)

        return counted


class CountingDatabase:
    def __init__(self, inner: AsyncDatabase[Document]) -> None:
        self._inner = inner
        self.erased = TombstoneReads(inner[ERASED])

    def __getitem__(self, name: str) -> Any:
        return self.erased if name == ERASED else self._inner[name]


async def test_persons_found_not_erased_are_not_read_again_until_an_erasure_anywhere_names_them(
    database: AsyncDatabase[Document],
) -> None:
    counting = CountingDatabase(database)
    here, elsewhere = MongoProfileStore(cast(AsyncDatabase[Document], counting)), MongoProfileStore(database)
    persons = ["per_anne", "per_bea", "per_cleo"]
    await elsewhere.mark_erased("theatre-du-nord", "per_cleo")

    assert await here.erased_among("theatre-du-nord", persons) == {"per_cleo"}
    assert counting.erased.tombstones_read == 3
    assert await here.erased_among("theatre-du-nord", persons) == {"per_cleo"}
    assert counting.erased.tombstones_read == 4, "only the erased person's again"
    assert await here.erased_among("festival-sud", persons) == frozenset()

    await elsewhere.mark_erased("theatre-du-nord", "per_anne")

    assert await here.erased_among("theatre-du-nord", persons) == {"per_anne", "per_cleo"}
    assert await here.erased_among("festival-sud", persons) == frozenset()
    assert not await here.is_erased("festival-sud", "per_anne")


async def test_an_erasure_cut_short_before_it_was_listed_is_listed_when_delivered_again_and_only_then(
    database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, elsewhere = MongoProfileStore(database), MongoProfileStore(database)
    assert await here.erased_among("theatre-du-nord", ["per_anne"]) == frozenset()

    async def crash(*_args: Any, **_kwargs: Any) -> str:
        raise RuntimeError("crash before the erasure is listed")

    monkeypatch.setattr(NumberedList, "append", crash)
    with pytest.raises(RuntimeError):
        await elsewhere.mark_erased("theatre-du-nord", "per_anne")
    monkeypatch.undo()
    assert await elsewhere.is_erased("theatre-du-nord", "per_anne")

    await elsewhere.mark_erased("theatre-du-nord", "per_anne")
    await elsewhere.mark_erased("theatre-du-nord", "per_anne")

    assert await here.erased_among("theatre-du-nord", ["per_anne"]) == {"per_anne"}
    listed = await database[ERASED].count_documents({"tombstone": {"$exists": True}})
    assert listed == 1, "listed once, however often delivered"


async def test_a_walk_over_every_profile_passes_a_damaged_one_over_and_reads_it_naming_its_person(
    database: AsyncDatabase[Document],
) -> None:
    world = mongo_world(database)
    store, organisation = world.store, world.organisation_id
    for sale, person in (("sale-1", "per_anne"), ("sale-2", "per_bea"), ("sale-3", "per_cleo")):
        await world.deliver(world.purchase(sale, person, tickets=1))
    await database["profile_profiles"].update_one(
        {"person_id": "per_bea"}, {"$set": {"state": Binary(b"damaged", COMPRESSED_JSON)}}
    )

    walked = [profile.person_id async for profile in store.every_profile(organisation)]
    pages = [page async for page in store.profile_states(organisation, fields={"tickets"}, page_size=10)]

    assert sorted(walked) == ["per_anne", "per_cleo"]
    assert sum(len(page) for page in pages) == 2
    with pytest.raises(DocumentError, match="per_bea"):
        await store.profile(organisation, "per_bea")


@pytest.mark.parametrize("earlier_form", ["one JSON text", "fields"])
async def test_a_profile_stored_with_its_state_as_an_earlier_version_wrote_it_is_read_as_before(
    database: AsyncDatabase[Document], earlier_form: str
) -> None:
    world = mongo_world(database)
    store, organisation = world.store, world.organisation_id
    await world.deliver(world.purchase("sale-1", "per_anne", tickets=3))
    stored = await store.profile(organisation, "per_anne")
    assert stored is not None
    profiles = database["profile_profiles"]
    [document] = await profiles.find({"person_id": "per_anne"}).to_list()
    assert isinstance(document["state"], Binary), "the state is kept compressed"
    assert document["state"].subtype == COMPRESSED_JSON
    # As earlier versions wrote it: the state's JSON as text, and before that every field of it a field of the document.
    as_stored_then = (
        json.dumps(stored.state.to_document(), ensure_ascii=False)
        if earlier_form == "one JSON text"
        else stored.state.to_document()
    )
    await profiles.update_one({"_id": document["_id"]}, {"$set": {"state": as_stored_then}})

    assert await store.profile(organisation, "per_anne") == stored
    pages = [page async for page in store.profile_states(organisation, fields={"tickets"}, page_size=10)]
    assert [state.tickets for page in pages for state in page] == [stored.state.tickets]

    await world.deliver(world.purchase("sale-2", "per_anne", tickets=1))
    assert await world.tickets("per_anne") == 4
