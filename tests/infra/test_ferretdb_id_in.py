"""The local FerretDB build finds `{_id: {$in: [...]}}`, and `_id` beside other keys, through the `_id` index, as
MongoDB does, and answers every other filter as FerretDB 1.24 does (`infra/local/ferretdb_source.py`)."""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from infra.local.stack import StackConfig
from tests.conftest import Servers
from tests.infra.local_databases import fresh_collection

pytestmark = [pytest.mark.mongo]

Document = dict[str, Any]


@contextlib.asynccontextmanager
async def _collection(servers: Servers) -> AsyncIterator[AsyncCollection[Document]]:
    if servers.origin != "local stack":
        pytest.skip("only the local stack's FerretDB build is changed")
    async with fresh_collection(servers) as collection:
        yield collection


async def _explained(collection: AsyncCollection[Document], query: Document) -> Document:
    return await collection.database.command("explain", {"find": collection.name, "filter": query})


def _database_file(collection: AsyncCollection[Document]) -> Path:
    return StackConfig.for_tests().data_dir / "ferretdb" / f"{collection.database.name}.sqlite"


def _table_of(collection: AsyncCollection[Document]) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{_database_file(collection)}?mode=ro", uri=True)) as connection:
        [table] = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name.startswith(f"{collection.name}_")
        ]
    return str(table)


async def _plan_of_the_pushed_down_query(collection: AsyncCollection[Document], values: int) -> str:
    """SQLite's plan, on a fresh connection to the collection's file, for the query FerretDB sends for an `$in` of
    `values` ids, once the build's sweeper has rebuilt the `_id` index on the expression look-ups use (a new
    collection's first moments go without it). FerretDB's own `explain` cannot tell: a pooled connection plans
    with the schema it last read, and a query (unlike an `EXPLAIN`) reads the schema again before it runs."""
    table = _table_of(collection)
    placeholders = ", ".join("?" * values)
    plan = ""
    for _ in range(100):
        with contextlib.closing(sqlite3.connect(f"file:{_database_file(collection)}?mode=ro", uri=True)) as connection:
            plan = " ".join(
                str(row[-1])
                for row in connection.execute(
                    f'EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "{table}" '
                    f"WHERE _ferretdb_sjson->'$._id' IN ({placeholders})",
                    [f'"org|{number}"' for number in range(values)],
                )
            )
        if f"USING INDEX {table}__id_" in plan:
            break
        await asyncio.sleep(0.1)
    return plan


async def _ids(collection: AsyncCollection[Document], query: Document) -> list[Any]:
    return sorted([document["_id"] async for document in collection.find(query, {"_id": 1})], key=str)


async def test_strings_and_object_ids_in_are_found_through_the_id_index(servers: Servers) -> None:
    async with _collection(servers) as documents:
        object_ids = [ObjectId() for _ in range(3)]
        await documents.insert_many(
            [{"_id": f"org|{number}", "n": number} for number in range(300)] + [{"_id": key} for key in object_ids]
        )
        wanted = ["org|7", "org|250", "org|7", "org|missing", object_ids[1]]
        explained = await _explained(documents, {"_id": {"$in": wanted}})
        assert explained["filterPushdown"] is True, explained
        plan = await _plan_of_the_pushed_down_query(documents, len(wanted))
        assert f"USING INDEX {_table_of(documents)}__id_" in plan
        assert await _ids(documents, {"_id": {"$in": wanted}}) == sorted(["org|250", "org|7", object_ids[1]], key=str)
        # The rest of a document is read as stored.
        assert await documents.find_one({"_id": {"$in": ["org|42"]}}) == {"_id": "org|42", "n": 42}


async def test_a_query_by_several_ids_reads_their_rows_only(servers: Servers) -> None:
    """What the pushdown changes, seen from outside: the rows of other ids are not read. A row FerretDB cannot read
    fails every query that reads it: the query by strings passes it by, the same with a number among them (which
    FerretDB answers by reading every row) does not."""
    async with _collection(servers) as documents:
        await documents.insert_many([{"_id": f"org|{number}"} for number in range(10)])
        with contextlib.closing(sqlite3.connect(_database_file(documents), timeout=10)) as connection, connection:
            # No "$s": not a document FerretDB can read.
            connection.execute(
                f'INSERT INTO "{_table_of(documents)}" (_ferretdb_sjson) VALUES (?)', ('{"_id":"org|unreadable"}',)
            )
        assert await _ids(documents, {"_id": {"$in": ["org|1", "org|2", "org|404"]}}) == ["org|1", "org|2"]
        assert (await documents.delete_many({"_id": {"$in": ["org|3"]}})).deleted_count == 1
        assert await _ids(documents, {"_id": {"$in": ["org|3", "org|4"]}}) == ["org|4"]
        with pytest.raises(OperationFailure):
            await _ids(documents, {"_id": {"$in": ["org|1", "org|2", 5]}})
        with pytest.raises(OperationFailure):
            await _ids(documents, {"_id": {"$gte": "org|1"}})


async def test_an_id_beside_other_keys_reads_its_rows_only(servers: Servers) -> None:
    """An update or delete on a condition (`{_id: key, owner: person}`) reads the row of its `_id` alone, as a filter
    that is `{_id: key}` alone always did: a row FerretDB cannot read is passed by. Without `_id`, or with a number
    for it, every row is read, and the unreadable one fails the query as before."""
    async with _collection(servers) as documents:
        await documents.insert_many(
            [{"_id": f"org|{number}", "owner": "odd" if number % 2 else "even"} for number in range(10)]
        )
        with contextlib.closing(sqlite3.connect(_database_file(documents), timeout=10)) as connection, connection:
            connection.execute(
                f'INSERT INTO "{_table_of(documents)}" (_ferretdb_sjson) VALUES (?)', ('{"_id":"org|unreadable"}',)
            )
        assert (await _explained(documents, {"_id": "org|1", "owner": "odd"}))["filterPushdown"] is True
        assert await _ids(documents, {"_id": "org|1", "owner": "odd"}) == ["org|1"]
        assert await _ids(documents, {"owner": "even", "_id": "org|1"}) == []
        assert await _ids(documents, {"_id": {"$in": ["org|1", "org|2", "org|3"]}, "owner": "odd"}) == [
            "org|1",
            "org|3",
        ]
        moved = await documents.update_one({"_id": "org|3", "owner": "odd"}, {"$set": {"owner": "moved"}})
        assert (moved.matched_count, moved.modified_count) == (1, 1)
        assert (
            await documents.update_one({"_id": "org|5", "owner": "even"}, {"$set": {"owner": "x"}})
        ).matched_count == 0
        found = await documents.find_one_and_update({"_id": "org|7", "owner": "odd"}, {"$set": {"owner": "moved"}})
        assert found == {"_id": "org|7", "owner": "odd"}
        assert (await documents.delete_one({"_id": "org|9", "owner": "even"})).deleted_count == 0
        assert (await documents.delete_one({"_id": "org|9", "owner": "odd"})).deleted_count == 1
        assert await _ids(documents, {"_id": {"$in": ["org|3", "org|5", "org|7", "org|9"]}, "owner": "moved"}) == [
            "org|3",
            "org|7",
        ]
        with pytest.raises(OperationFailure):
            await _ids(documents, {"owner": "odd"})
        with pytest.raises(OperationFailure):
            await _ids(documents, {"_id": 5, "owner": "odd"})


async def test_an_empty_in_finds_nothing_without_reading_the_collection(servers: Servers) -> None:
    async with _collection(servers) as documents:
        await documents.insert_many([{"_id": f"org|{number}"} for number in range(10)])
        assert (await _explained(documents, {"_id": {"$in": []}}))["filterPushdown"] is True
        assert await _ids(documents, {"_id": {"$in": []}}) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # A number among the strings: SQLite would compare their JSON forms, so the handler alone decides.
        ({"_id": {"$in": ["org|1", 5]}}, ["org|1", 5]),
        ({"_id": {"$in": ["org|1", "org|2"], "$nin": ["org|2"]}}, ["org|1"]),
        ({"_id": {"$gt": "org|8"}}, ["org|9"]),
    ],
)
async def test_every_other_filter_on_id_is_answered_as_before(
    servers: Servers, query: Document, expected: list[Any]
) -> None:
    async with _collection(servers) as documents:
        await documents.insert_many([{"_id": f"org|{number}", "n": number} for number in range(10)] + [{"_id": 5}])
        assert (await _explained(documents, query))["filterPushdown"] is False
        assert await _ids(documents, query) == sorted(expected, key=str)


async def test_a_list_longer_than_a_statement_takes_is_answered_by_reading_the_collection(servers: Servers) -> None:
    async with _collection(servers) as documents:
        await documents.insert_many([{"_id": f"org|{number}"} for number in range(20)])
        wanted = [f"org|{number}" for number in range(0, 20_000, 2)] + ["org|1"]
        assert (await _explained(documents, {"_id": {"$in": wanted}}))["filterPushdown"] is False
        assert await _ids(documents, {"_id": {"$in": wanted}}) == sorted(
            [f"org|{number}" for number in range(0, 20, 2)] + ["org|1"]
        )


async def test_in_that_is_not_a_list_is_still_refused(servers: Servers) -> None:
    async with _collection(servers) as documents:
        await documents.insert_one({"_id": "org|1"})
        with pytest.raises(OperationFailure, match=r"\$in needs an array"):
            await documents.find_one({"_id": {"$in": "org|1"}})


async def test_updates_and_deletes_by_several_ids_touch_exactly_those(servers: Servers) -> None:
    async with _collection(servers) as documents:
        await documents.insert_many([{"_id": f"org|{number}", "n": number} for number in range(50)])
        updated = await documents.update_many({"_id": {"$in": ["org|3", "org|4", "org|404"]}}, {"$set": {"n": -1}})
        assert updated.matched_count == 2
        assert await _ids(documents, {"n": -1}) == ["org|3", "org|4"]
        deleted = await documents.delete_many({"_id": {"$in": ["org|3", "org|10", "org|404"]}})
        assert deleted.deleted_count == 2
        assert await documents.count_documents({}) == 48
        assert await _ids(documents, {"_id": {"$in": ["org|3", "org|4", "org|10"]}}) == ["org|4"]
