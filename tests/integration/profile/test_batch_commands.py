"""What a batch of facts costs the real store, counted in commands: the round trips a batch saves are what lets
profile keep up with a season's sales."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import DUE, FACT_LOG, INDEXES, LOOKUPS, MongoProfileStore
from services.profile.domain.schedule import DueEntry, slot_of
from shared.mongo import Document
from tests.conftest import Servers
from tests.integration.command_log import CommandLog, database_logging_commands
from tests.unit.profile_handlers.batches import PERSONS, announced, in_batches, one_at_a_time, profiles
from tests.unit.profile_handlers.memory_store import MemoryProfileStore
from tests.unit.profile_handlers.scenarios import World

pytestmark = [pytest.mark.mongo]

ORGANISATION = "theatre-du-nord"


@pytest.fixture
async def logged_database(servers: Servers) -> AsyncIterator[tuple[AsyncDatabase[Document], CommandLog]]:
    async with database_logging_commands(servers.mongo_url, INDEXES) as logged:
        yield logged


async def test_a_batch_files_its_due_entries_in_one_append_for_every_slot(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    store = MongoProfileStore(database)
    first_slot = datetime(2027, 3, 1, 20, 0, tzinfo=UTC)
    entries = [DueEntry(first_slot + timedelta(seconds=9 * n), "theatre-du-nord", f"per_{n:03d}") for n in range(200)]
    assert len({slot_of(entry.due_at) for entry in entries}) == 2
    log.commands.clear()

    await store.schedule_all(entries)

    # One append for both slots, and one listing both slots' new parts in their day.
    assert log.count("insert", DUE) == 2
    filed = [
        entry
        for slot in (first_slot, first_slot + timedelta(minutes=15))
        for part in await store.filed_in(slot)
        for entry in part.entries
    ]
    assert sorted(filed) == sorted(entries)


async def test_known_persons_given_new_keys_in_one_batch_are_looked_up_together(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    store = MongoProfileStore(database)
    persons = [f"per_{n:03d}" for n in range(30)]
    await store.index_all_lookups(ORGANISATION, {person: ["name:TRMBL"] for person in persons}, new_persons=persons)
    log.commands.clear()

    # Each known person gains their own email and a sound many share (a new address, a name read anew).
    filed = await store.index_all_lookups(
        ORGANISATION, {person: [f"email:{person}@example.com", "name:GTR"] for person in persons}
    )

    assert filed == 60
    # Read one by one, the marks, the lists' lengths and their first entries took 91 queries; 11 together.
    assert log.count("find", LOOKUPS) <= 15
    for person in persons:
        assert await store.found_by(ORGANISATION, f"email:{person}@example.com") == [person]
    assert await store.found_by(ORGANISATION, "name:GTR") == persons
    assert await store.index_all_lookups(ORGANISATION, {person: ["name:GTR"] for person in persons}) == 0


async def test_a_batch_asks_the_log_nothing_about_the_facts_of_persons_identity_just_created(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    reference = World(MemoryProfileStore(), _no_documents)
    world = World(MongoProfileStore(database), _no_documents)
    sent = [reference.purchase(f"sale-{n}", PERSONS[n % len(PERSONS)], days_ago=60 - n) for n in range(12)]
    first, later = sent[:4], sent[4:]
    expected = await one_at_a_time(reference, sent)
    log.commands.clear()

    published = await in_batches(world, [first])
    assert log.count("find", FACT_LOG) == 0
    published += await in_batches(world, [later])

    # The persons' profiles are kept from the first batch: their later facts are asked about, in one read.
    [asked] = [
        command["filter"]["_id"]["$in"]
        for name, command in log.commands
        if name == "find" and command["find"] == FACT_LOG
    ]
    assert sorted(asked) == sorted(f"theatre-du-nord|sale-{n}" for n in range(4, 12))
    assert all((await profiles(world)).values())
    assert await profiles(world) == await profiles(reference)
    assert announced(published) == announced(expected)


async def _no_documents() -> list[str]:
    return []
