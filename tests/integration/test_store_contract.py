"""The MongoDB features Parterre relies on, pinned against the real store (FerretDB 1.x locally, MongoDB 7 in Docker).

If a store upgrade or a switch of backend breaks one of these, this file says which feature went.
"""

import asyncio
import inspect
import uuid
from typing import Any, cast

import pytest
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, InvalidOperation

from shared.mongo import (
    IDS_PER_READ,
    REPLACES_PER_COMMAND,
    Document,
    IndexSpec,
    NumberedList,
    OrganisationCollection,
    ReadCancelledError,
    ReadsTogether,
    ensure_indexes,
    found_by_id,
    insert_in_order,
    mongo_client,
    replace_all,
    update_all,
)
from tests.conftest import Servers
from tests.integration.command_log import database_logging_commands

pytestmark = [pytest.mark.mongo]


async def test_update_operators_apply_atomically_to_one_document(database: AsyncDatabase[Document]) -> None:
    profiles = database["profiles"]
    await profiles.insert_one({"_id": "p1", "tickets": 1, "first_seen": 5, "last_seen": 5, "old": True})

    await profiles.update_one(
        {"_id": "p1"},
        {
            "$set": {"name": "Hélène"},
            "$inc": {"tickets": 2},
            "$min": {"first_seen": 3},
            "$max": {"last_seen": 9},
            "$unset": {"old": ""},
            "$addToSet": {"sources": {"$each": ["shopify", "boxoffice", "shopify"]}},
        },
    )

    assert await profiles.find_one({"_id": "p1"}) == {
        "_id": "p1",
        "name": "Hélène",
        "tickets": 3,
        "first_seen": 3,
        "last_seen": 9,
        "sources": ["shopify", "boxoffice"],
    }


async def test_set_on_insert_applies_only_when_the_upsert_creates(database: AsyncDatabase[Document]) -> None:
    persons = database["persons"]
    for name in ("first", "second"):
        await persons.update_one({"_id": "x"}, {"$setOnInsert": {"created_by": name}, "$inc": {"seen": 1}}, upsert=True)

    assert await persons.find_one({"_id": "x"}) == {"_id": "x", "created_by": "first", "seen": 2}


async def test_find_one_and_update_with_upsert_returns_the_new_document(database: AsyncDatabase[Document]) -> None:
    counters = database["counters"]
    after = await counters.find_one_and_update(
        {"_id": "c", "organisation_id": "org-a"},
        {"$inc": {"value": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert after == {"_id": "c", "organisation_id": "org-a", "value": 1}


async def test_a_unique_compound_index_lets_only_one_writer_win(database: AsyncDatabase[Document]) -> None:
    await ensure_indexes(
        database,
        [IndexSpec("identifiers", [("organisation_id", ASCENDING), ("value", ASCENDING)], unique=True)],
    )
    identifiers = database["identifiers"]
    await identifiers.insert_one({"organisation_id": "org-a", "value": "helene@example.ca", "person": "p1"})
    await identifiers.insert_one({"organisation_id": "org-b", "value": "helene@example.ca", "person": "p9"})

    with pytest.raises(DuplicateKeyError):
        await identifiers.insert_one({"organisation_id": "org-a", "value": "helene@example.ca", "person": "p2"})
    assert await identifiers.count_documents({"organisation_id": "org-a"}) == 1


async def test_a_repeated_insert_of_one_id_is_refused_so_it_can_mean_already_seen(
    database: AsyncDatabase[Document],
) -> None:
    events = database["events"]
    await events.insert_one({"_id": "event-1"})
    with pytest.raises(DuplicateKeyError):
        await events.insert_one({"_id": "event-1"})


async def test_of_many_inserts_of_one_id_at_once_exactly_one_succeeds_so_an_insert_can_be_a_claim(
    database: AsyncDatabase[Document],
) -> None:
    # Unlike a guarded update (on FerretDB 1.24, 20 concurrent updates of `{_id, v: 0}` had 2 to 6 winners), an
    # insert on the unique `_id` lets one writer win: identity's review and unmerge claims rely on it.
    claims = database["claims"]

    async def claim(by: int) -> bool:
        try:
            await claims.insert_one({"_id": "review-1", "by": by})
        except DuplicateKeyError:
            return False
        return True

    won = await asyncio.gather(*(claim(by) for by in range(20)))

    assert won.count(True) == 1
    assert await claims.find_one({"_id": "review-1"}) == {"_id": "review-1", "by": won.index(True)}


async def test_a_version_guarded_update_fails_visibly_when_the_version_moved(
    database: AsyncDatabase[Document],
) -> None:
    profiles = database["profiles"]
    await profiles.insert_one({"_id": "p1", "version": 1, "tickets": 0})

    first = await profiles.update_one({"_id": "p1", "version": 1}, {"$inc": {"tickets": 1, "version": 1}})
    replay = await profiles.update_one({"_id": "p1", "version": 1}, {"$inc": {"tickets": 1, "version": 1}})

    assert (first.modified_count, replay.modified_count) == (1, 0)
    assert await profiles.find_one({"_id": "p1"}) == {"_id": "p1", "version": 2, "tickets": 1}


async def test_a_recent_timeline_is_a_sorted_limited_query(database: AsyncDatabase[Document]) -> None:
    events = database["events"]
    await events.insert_many([{"person": "p1", "at": minute} for minute in range(60)])
    await events.create_index([("person", ASCENDING), ("at", DESCENDING)])

    recent = await events.find({"person": "p1"}, sort=[("at", DESCENDING)], limit=50).to_list()

    assert [event["at"] for event in recent] == list(range(59, 9, -1))


async def aggregate(database: AsyncDatabase[Document], pipeline: list[Document]) -> list[Document]:
    return await (await database["orders"].aggregate(pipeline)).to_list()


async def test_the_simple_aggregation_stages_work_with_one_accumulator_per_group(
    database: AsyncDatabase[Document],
) -> None:
    await database["orders"].insert_many(
        [
            {"person": "p1", "lines": [{"sku": "t-shirt"}, {"sku": "poster"}], "total": 30},
            {"person": "p1", "lines": [{"sku": "poster"}], "total": 10},
            {"person": "p2", "lines": [{"sku": "mug"}], "total": 12},
        ]
    )

    # One accumulator per $group: FerretDB 1.24 computes only the first and answers 0 for the others.
    spend = await aggregate(
        database,
        [
            {"$match": {"total": {"$gte": 10}}},
            {"$group": {"_id": "$person", "spend": {"$sum": "$total"}}},
            {"$sort": {"spend": -1}},
            {"$limit": 5},
        ],
    )
    orders = await aggregate(database, [{"$group": {"_id": "$person", "orders": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    counted = await aggregate(database, [{"$match": {"person": "p1"}}, {"$count": "orders"}])
    skus = await aggregate(
        database,
        [
            {"$unwind": "$lines"},
            # Inclusion and exclusion only: FerretDB 1.24 stores `{"sku": "$lines.sku"}` as a literal string.
            {"$project": {"_id": 0, "lines.sku": 1}},
            {"$group": {"_id": "$lines.sku", "count": {"$count": {}}}},
            {"$sort": {"_id": 1}},
            {"$skip": 1},
        ],
    )

    assert spend == [{"_id": "p1", "spend": 40}, {"_id": "p2", "spend": 12}]
    assert orders == [{"_id": "p1", "orders": 2}, {"_id": "p2", "orders": 1}]
    assert counted == [{"orders": 2}]
    assert skus == [{"_id": "poster", "count": 2}, {"_id": "t-shirt", "count": 1}]


async def test_one_organisation_never_sees_another_organisations_documents(
    database: AsyncDatabase[Document],
) -> None:
    theatre = OrganisationCollection(database["profiles"], "theatre-du-nord")
    festival = OrganisationCollection(database["profiles"], "festival-sud")
    await theatre.insert_one({"_id": "nord-1", "email": "helene@example.ca"})
    await festival.update_one({"_id": "sud-1"}, {"$set": {"email": "helene@example.ca"}}, upsert=True)

    assert [doc["_id"] for doc in await theatre.find({"email": "helene@example.ca"})] == ["nord-1"]
    assert [doc["_id"] for doc in await festival.find({"email": "helene@example.ca"})] == ["sud-1"]
    assert await festival.find_one({"_id": "nord-1"}) is None
    assert await festival.update_one({"_id": "nord-1"}, {"$set": {"email": "stolen"}}) == 0
    assert await festival.delete_many({}) == 1
    assert await theatre.count({}) == 1
    assert (await database["profiles"].find_one({"_id": "sud-1"})) is None
    with pytest.raises(ValueError, match="another organisation"):
        await festival.find({"organisation_id": "theatre-du-nord"})


async def test_appends_from_many_writers_at_once_all_land_numbered_without_gaps(
    database: AsyncDatabase[Document],
) -> None:
    # FerretDB 1.24 loses concurrent updates of one document (50 concurrent `$inc` left a counter near 3), so
    # what many write to at once is kept as a `NumberedList`, one insert per item.
    numbered = NumberedList(database["lists"])

    keys = await asyncio.gather(*(numbered.append("slot", {"item": n}) for n in range(40)))

    assert sorted(keys, key=lambda key: int(key.split("#")[1])) == [f"slot#{n}" for n in range(1, 41)]
    assert await numbered.length("slot") == 40
    assert sorted(item["item"] for _, item in await numbered.items("slot")) == list(range(40))
    await numbered.replace("slot#7", {"item": None})
    await numbered.clear("slot", 40)
    assert await numbered.length("slot") == 0
    assert await numbered.length("never-written") == 0


async def test_an_ordered_insert_stops_at_its_first_duplicate_however_many_documents_follow(
    database: AsyncDatabase[Document],
) -> None:
    # FerretDB 1.24 inserts 100 documents at a time and goes on with the next hundred after a duplicate.
    collection = database["ordered"]
    await collection.insert_many([{"_id": 3}, {"_id": 250}])

    assert await insert_in_order(collection, [{"_id": n} for n in range(1, 400)]) == 2

    assert sorted([document["_id"] async for document in collection.find({})]) == [1, 2, 3, 250]
    assert await insert_in_order(collection, [{"_id": n} for n in range(400, 650)]) is None
    assert await collection.count_documents({}) == 4 + 250


async def test_items_added_to_a_list_whose_next_number_is_taken_land_once_each(
    database: AsyncDatabase[Document],
) -> None:
    numbered = NumberedList(database["lists"])
    await database["lists"].insert_one({"_id": "slot#3", "item": "another writer's"})

    await numbered.extend("slot", [{"item": n} for n in range(250)], length=0)

    items = [item["item"] for _, item in await numbered.items("slot")]
    assert sorted(item for item in items if item != "another writer's") == list(range(250))
    assert await numbered.length("slot") == 251


async def test_items_added_to_many_lists_another_writer_grew_land_once_each_without_a_gap_in_a_few_inserts(
    servers: Servers,
) -> None:
    async with database_logging_commands(servers.mongo_url, []) as (database, log):
        numbered = NumberedList(database["lists"])
        # Ten lists this writer saw with 2 items; another writer appended 3 more to each meanwhile.
        await database["lists"].insert_many(
            [{"_id": f"slot{n}#{number}", "item": "before"} for n in range(10) for number in range(1, 6)]
        )
        wanted = {f"slot{n}": [{"item": f"mine-{k}"} for k in range(4)] for n in range(10)}
        wanted["fresh"] = [{"item": "mine-0"}]
        log.commands.clear()

        keys = await numbered.extend_all(wanted, {**{f"slot{n}": 2 for n in range(10)}, "fresh": 0})

        # The run 3 to 6 meets the other writer's 3 to 5; those refused go again, all lists together.
        assert log.count("insert", "lists") == 2, "every list's items, then those refused"
        assert keys["fresh"] == ["fresh#1"]
        for n in range(10):
            assert sorted(keys[f"slot{n}"], key=lambda key: int(key.split("#")[1])) == [
                f"slot{n}#{number}" for number in range(6, 10)
            ]
            items = await numbered.items(f"slot{n}")
            assert [key for key, _ in items] == [f"slot{n}#{number}" for number in range(1, 10)], "no gap"
            assert sorted(str(item["item"]) for _, item in items) == ["before"] * 5 + [f"mine-{k}" for k in range(4)]
            stored = dict(items)
            assert [stored[key]["item"] for key in keys[f"slot{n}"]] == [item["item"] for item in wanted[f"slot{n}"]]


async def test_a_list_is_measured_from_a_length_seen_before_and_still_right_if_it_was_cleared_since(
    database: AsyncDatabase[Document],
) -> None:
    numbered = NumberedList(database["lists"])
    await numbered.extend("slot", [{"item": n} for n in range(25)])
    await numbered.extend("slot", [{"item": n} for n in range(25, 30)], length=25)

    assert [await numbered.length("slot", at_least=seen) for seen in (0, 1, 25, 29, 30)] == [30] * 5
    await numbered.clear("slot", 30)
    await numbered.append("slot", {"item": "again"})
    assert await numbered.length("slot", at_least=30) == 1


class _CountingReads:
    """A collection that counts the queries made of it."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection
        self.queries = 0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        self.queries += 1
        return self._collection.find(*args, **kwargs)

    async def find_one(self, *args: Any, **kwargs: Any) -> Any:
        self.queries += 1
        return await self._collection.find_one(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


async def test_a_list_is_measured_in_a_few_queries_whatever_its_length(database: AsyncDatabase[Document]) -> None:
    counting = _CountingReads(database["lists"])
    numbered = NumberedList(cast(AsyncCollection[Document], counting))
    for length in (0, 1, 100, 1234):
        await numbered.extend(f"slot{length}", [{"item": n} for n in range(length)], length=0)
        counting.queries = 0
        assert await numbered.length(f"slot{length}") == length
        assert counting.queries <= 4, (length, counting.queries)
    counting.queries = 0
    assert await numbered.length("slot1234", at_least=1200) == 1234
    assert counting.queries <= 2


@pytest.mark.timeout(60)
async def test_many_stored_documents_are_replaced_at_once_and_missing_ones_inserted(
    database: AsyncDatabase[Document],
) -> None:
    # FerretDB 1.24 waits forever on one command replacing about 100 stored documents: more than that are here.
    collection = database["replaced"]
    await collection.insert_many([{"_id": f"k{n}", "value": n} for n in range(150)])
    assert REPLACES_PER_COMMAND < 64

    await replace_all(collection, [{"_id": f"k{n}", "value": -n} for n in range(160)])

    stored = {document["_id"]: document async for document in collection.find({})}
    assert stored == {f"k{n}": {"_id": f"k{n}", "value": -n} for n in range(160)}


@pytest.mark.timeout(60)
async def test_documents_replaced_by_many_writers_at_once_are_each_stored_once(
    database: AsyncDatabase[Document],
) -> None:
    # Each upsert may lose the race to insert its `_id` to another writer's: FerretDB 1.24 then answers a duplicate
    # key where MongoDB would retry. Several rounds, as one round met that race only now and then.
    collection = database["replaced"]

    for round_ in range(8):
        keys = [f"r{round_}k{n}" for n in range(40)]
        await asyncio.gather(
            *(replace_all(collection, [{"_id": key, "writer": writer} for key in keys]) for writer in range(6))
        )

    stored = [document async for document in collection.find({})]
    assert sorted(document["_id"] for document in stored) == sorted(
        f"r{round_}k{n}" for round_ in range(8) for n in range(40)
    )
    assert {document["writer"] for document in stored} <= set(range(6))


async def test_a_write_error_amid_a_chunk_of_updates_is_raised_never_passed_over(
    database: AsyncDatabase[Document],
) -> None:
    # FerretDB 1.24 stops a command's updates at the first error and names it as the first update: read as it says,
    # the error would be taken for the first update's, and the updates after it lost without a word.
    collection = database["contacts"]
    await ensure_indexes(database, [IndexSpec("contacts", [("email", ASCENDING)], unique=True)])
    await collection.insert_one({"_id": "k0", "email": "taken@example.com"})

    with pytest.raises(DuplicateKeyError):
        await update_all(
            collection,
            [
                ("k1", {"email": "k1@example.com"}),
                ("k2", {"email": "taken@example.com"}),
                ("k3", {"email": "k3@example.com"}),
            ],
        )

    assert await collection.find_one({"_id": "k1"}) == {"_id": "k1", "email": "k1@example.com"}


async def test_items_replaced_together_keep_their_places_and_a_cleared_list_stays_empty(
    database: AsyncDatabase[Document],
) -> None:
    numbered = NumberedList(database["lists"])
    keys = await numbered.extend("slot", [{"item": n} for n in range(40)])

    await numbered.replace_all({key: {} for key in keys[::2]})

    assert [item.get("item") for _, item in await numbered.items("slot")] == [
        None if n % 2 == 0 else n for n in range(40)
    ]
    await numbered.clear("slot", 40)
    await numbered.replace_all({key: {"item": "late"} for key in keys[:20]})
    assert await numbered.length("slot") == 0
    assert await database["lists"].count_documents({}) == 0


async def test_documents_are_found_by_many_ids_whatever_their_number_repeats_and_gaps(
    database: AsyncDatabase[Document],
) -> None:
    documents = database["by_id"]
    await documents.insert_many([{"_id": f"org|{number}", "n": number} for number in range(0, 3 * IDS_PER_READ, 2)])
    asked = [f"org|{number}" for number in range(3 * IDS_PER_READ)] + ["org|4", "org|4", "elsewhere|4"]

    found = await found_by_id(documents, asked)

    assert found == {f"org|{number}": {"_id": f"org|{number}", "n": number} for number in range(0, 3 * IDS_PER_READ, 2)}
    assert await found_by_id(documents, asked[:5], {"_id": 1}) == {
        "org|0": {"_id": "org|0"},
        "org|2": {"_id": "org|2"},
        "org|4": {"_id": "org|4"},
    }
    assert await found_by_id(documents, []) == {}
    assert await found_by_id(documents, ["org|1"]) == {}


async def test_reads_asked_side_by_side_go_together_and_each_task_gets_its_own(servers: Servers) -> None:
    async with database_logging_commands(servers.mongo_url, []) as (database, log):
        documents = database["by_id"]
        await documents.insert_many([{"_id": f"k{number}", "n": number} for number in range(0, 250, 2)])
        reads = ReadsTogether(documents)
        asked = [f"k{number}" for number in range(250)] + ["k4", "k5"]

        found = await asyncio.gather(*(reads.find_one(key) for key in asked))

        assert found == [{"_id": key, "n": int(key[1:])} if int(key[1:]) % 2 == 0 else None for key in asked]
        # 250 keys, a hundred a query.
        assert log.count("find", "by_id") == 3
        # Asked one after another, each is a query of its own, answered as soon as asked.
        assert await reads.find_one("k2") == {"_id": "k2", "n": 2}
        assert await reads.find_one("k3") is None
        assert log.count("find", "by_id") == 5


async def test_many_documents_asked_side_by_side_go_together_and_each_task_gets_those_it_asked_for(
    servers: Servers,
) -> None:
    async with database_logging_commands(servers.mongo_url, []) as (database, log):
        documents = database["by_id"]
        await documents.insert_many([{"_id": f"k{number}", "n": number} for number in range(0, 70, 2)])
        reads = ReadsTogether(documents)
        # Overlapping: k10 to k19 are asked by two tasks.
        asked = [[f"k{number}" for number in range(start, start + 20)] for start in range(0, 60, 10)]

        *found, one = await asyncio.gather(*(reads.find_many(keys) for keys in asked), reads.find_one("k4"))

        assert found == [
            {key: {"_id": key, "n": int(key[1:])} for key in keys if int(key[1:]) % 2 == 0} for keys in asked
        ]
        assert one == {"_id": "k4", "n": 4}
        # 70 keys in all, fewer than a query's hundred.
        assert log.count("find", "by_id") == 1
        assert await reads.find_many([]) == {}
        # More than a hundred keys (sent on their own): answered all the same, a hundred to a query.
        many = [f"k{number}" for number in range(150)]
        assert await reads.find_many(many) == {key: {"_id": key, "n": int(key[1:])} for key in many[:70:2]}
        assert log.count("find", "by_id") == 3


async def test_a_task_cancelled_while_reading_leaves_the_others_their_answer(database: AsyncDatabase[Document]) -> None:
    documents = database["by_id"]
    await documents.insert_one({"_id": "k", "n": 1})
    reads = ReadsTogether(documents)
    leaving = asyncio.ensure_future(reads.find_one("k"))
    leaving_too = asyncio.ensure_future(reads.find_many(["k", "other"]))
    staying = asyncio.ensure_future(reads.find_one("k"))
    await asyncio.sleep(0)

    leaving.cancel()
    leaving_too.cancel()

    assert await staying == {"_id": "k", "n": 1}
    for left in (leaving, leaving_too):
        with pytest.raises(asyncio.CancelledError):
            await left


def _read_of(task: "asyncio.Task[Any]") -> object:
    """The `ReadsTogether` whose read the task is, if it is one (other tests' reads may still be pending)."""
    coroutine = task.get_coro()
    if not inspect.iscoroutine(coroutine) or coroutine.__qualname__ != "ReadsTogether._read_waiting":
        return None
    return inspect.getcoroutinelocals(coroutine).get("self")


async def test_a_read_cancelled_before_it_is_sent_fails_its_tasks_and_the_next_ask_reads_afresh(
    database: AsyncDatabase[Document],
) -> None:
    documents = database["by_id"]
    await documents.insert_one({"_id": "k", "n": 1})
    reads = ReadsTogether(documents)
    waiting = asyncio.ensure_future(reads.find_one("k"))
    await asyncio.sleep(0)
    # The read its event loop would cancel when ending, before it ever ran.
    [read] = [task for task in asyncio.all_tasks() if _read_of(task) is reads]
    read.cancel()

    with pytest.raises(ReadCancelledError):
        await waiting
    assert await reads.find_one("k") == {"_id": "k", "n": 1}


async def test_a_failed_read_fails_every_task_waiting_for_it(servers: Servers) -> None:
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        documents = client[f"test_{uuid.uuid4().hex[:12]}"]["by_id"]
    # The client is closed: the read fails.
    reads = ReadsTogether(documents)

    failed = await asyncio.gather(*(reads.find_one(key) for key in ("a", "b", "a")), return_exceptions=True)

    assert [type(outcome) for outcome in failed] == [InvalidOperation] * 3
