"""The local FerretDB build rebuilds each collection's unique `_id` index on the expression its SQLite queries look
`_id` up with: look-ups do not scan tables, inserts maintain one `_id` index, `_id` stays unique with MongoDB's
duplicate key error, and FerretDB's statistics still find the index by its name."""

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError

from tests.conftest import Servers
from tests.infra.local_databases import local_database

pytestmark = [pytest.mark.mongo]


def _rebuilt(table: str) -> str:
    return f'CREATE UNIQUE INDEX "{table}__id_" ON "{table}" (_ferretdb_sjson->\'$._id\')'


def _indexes_by_table(database_file: Path) -> dict[str, dict[str, str]]:
    """Each collection table's indexes: name → the SQL that made it."""
    with contextlib.closing(sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)) as connection:
        rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    tables: dict[str, dict[str, str]] = {
        name: {} for kind, name, _, _ in rows if kind == "table" and not name.startswith(("_ferretdb_", "sqlite_"))
    }
    for kind, name, table, sql in rows:
        if kind == "index" and table in tables:
            tables[table][name] = sql or ""
    return tables


def _only_the_rebuilt_id_index(indexes: dict[str, dict[str, str]]) -> bool:
    return bool(indexes) and all(found == {f"{table}__id_": _rebuilt(table)} for table, found in indexes.items())


async def _settled(
    database_file: Path, done: Callable[[dict[str, dict[str, str]]], bool] = _only_the_rebuilt_id_index
) -> dict[str, dict[str, str]]:
    indexes: dict[str, dict[str, str]] = {}
    for _ in range(100):
        indexes = _indexes_by_table(database_file)
        if done(indexes):
            break
        await asyncio.sleep(0.1)
    return indexes


def _database(servers: Servers) -> AbstractAsyncContextManager[tuple[AsyncMongoClient[dict[str, object]], str, Path]]:
    return local_database(servers, why="only the local stack's FerretDB build changes its indexes")


async def test_a_new_collection_has_one_unique_id_index_that_its_lookups_use(servers: Servers) -> None:
    async with _database(servers) as (client, name, database_file):
        persons = client[name]["persons"]
        await persons.insert_many([{"_id": f"org|{number}"} for number in range(100)])
        indexes = await _settled(database_file)
        assert _only_the_rebuilt_id_index(indexes), indexes
        [table] = indexes
        with contextlib.closing(sqlite3.connect(f"file:{database_file}?mode=ro", uri=True)) as connection:
            plan = connection.execute(
                f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM \"{table}\" WHERE _ferretdb_sjson->'$._id' = ?",
                ('"org|7"',),
            ).fetchall()
        assert any(f"{table}__id_" in str(step) for step in plan), plan
        assert await persons.find_one({"_id": "org|7"}) == {"_id": "org|7"}
        # Unique still, with the error every adapter's "someone was first" depends on.
        with pytest.raises(DuplicateKeyError):
            await persons.insert_one({"_id": "org|7", "second": True})
        with pytest.raises(BulkWriteError) as refused:
            await persons.insert_many([{"_id": "org|new"}, {"_id": "org|8"}], ordered=False)
        assert [error["index"] for error in refused.value.details["writeErrors"]] == [1]
        assert await persons.count_documents({}) == 101


async def test_a_new_collections_id_index_is_made_on_the_lookup_expression(servers: Servers) -> None:
    """Made so with the table, not rebuilt by the sweep a moment later: the first writes by `_id` use it."""
    async with _database(servers) as (client, name, database_file):
        await client[name]["persons"].insert_one({"_id": "org|1"})
        indexes = _indexes_by_table(database_file)
        assert _only_the_rebuilt_id_index(indexes), indexes


async def test_statistics_still_find_the_rebuilt_index(servers: Servers) -> None:
    async with _database(servers) as (client, name, database_file):
        await client[name]["persons"].insert_many([{"_id": f"org|{number}", "n": number} for number in range(50)])
        assert _only_the_rebuilt_id_index(await _settled(database_file))
        # FerretDB sizes each index its metadata lists by the SQLite index of that name.
        collection_stats = await client[name].command("collStats", "persons")
        assert collection_stats["count"] == 50
        assert set(collection_stats["indexSizes"]) == {"_id_"}
        database_stats = await client[name].command("dbStats")
        assert database_stats["objects"] == 50
        assert name in await client.list_database_names()


def _first_build(table: str) -> dict[str, str]:
    """FerretDB's `_id` index, and the look-up index the first local builds added beside it."""
    return {
        f"{table}__id_": f'CREATE UNIQUE INDEX "{table}__id_" ON "{table}" (_ferretdb_sjson->"_id")',
        f"{table}_id_lookup": f'CREATE INDEX "{table}_id_lookup" ON "{table}" (_ferretdb_sjson->\'$._id\')',
    }


def _renamed_index_build(table: str) -> dict[str, str]:
    """The unique look-up index one build put in place of FerretDB's, under a name FerretDB's statistics miss."""
    return {f"{table}_id_unique": f'CREATE UNIQUE INDEX "{table}_id_unique" ON "{table}" (_ferretdb_sjson->\'$._id\')'}


@pytest.mark.parametrize("earlier_build", [_first_build, _renamed_index_build])
async def test_a_collection_indexed_by_an_earlier_build_is_brought_to_one_unique_id_index(
    servers: Servers, earlier_build: Callable[[str], dict[str, str]]
) -> None:
    async with _database(servers) as (client, name, database_file):
        persons = client[name]["persons"]
        await persons.insert_many([{"_id": f"org|{number}"} for number in range(10)])
        [table] = await _settled(database_file)
        # As a store written by that build holds it. One transaction, so that no sweep sees a state between.
        earlier = earlier_build(table)
        with contextlib.closing(sqlite3.connect(database_file, timeout=10, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(f'DROP INDEX "{table}__id_"')
            for statement in earlier.values():
                connection.execute(statement)
            found = connection.execute(
                "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type = 'index'", (table,)
            )
            assert dict(found.fetchall()) == earlier
            connection.execute("COMMIT")
        await persons.insert_one({"_id": "org|written-after"})
        indexes = await _settled(database_file)
        assert _only_the_rebuilt_id_index(indexes), indexes
        with pytest.raises(DuplicateKeyError):
            await persons.insert_one({"_id": "org|3"})
        assert await persons.count_documents({}) == 11
        assert set((await client[name].command("collStats", "persons"))["indexSizes"]) == {"_id_"}


async def test_a_collections_own_index_named_like_the_earlier_lookup_index_is_kept(servers: Servers) -> None:
    async with _database(servers) as (client, name, database_file):
        persons = client[name]["persons"]
        await persons.create_index("code", name="id_lookup")
        await persons.insert_many([{"_id": f"org|{number}", "code": number} for number in range(10)])

        def rebuilt_beside_it(indexes: dict[str, dict[str, str]]) -> bool:
            return all(
                found.get(f"{table}__id_") == _rebuilt(table) and f"{table}_id_lookup" in found
                for table, found in indexes.items()
            )

        await _settled(database_file, rebuilt_beside_it)
        # FerretDB makes a table's indexes one after another, so the sweep may have rebuilt `_id`'s before this one
        # existed: a write, then time for a few sweeps, so that one has seen it.
        await persons.insert_one({"_id": "org|written-after"})
        await asyncio.sleep(1.5)
        indexes = _indexes_by_table(database_file)
        [(table, found)] = indexes.items()
        assert found == {f"{table}__id_": _rebuilt(table), f"{table}_id_lookup": found[f"{table}_id_lookup"]}
        assert '"code"' in found[f"{table}_id_lookup"]
        assert {index["name"] for index in await (await persons.list_indexes()).to_list()} == {"_id_", "id_lookup"}
        await persons.drop_index("id_lookup")
        assert _only_the_rebuilt_id_index(_indexes_by_table(database_file))
