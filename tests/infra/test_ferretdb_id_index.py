"""The local FerretDB build keeps one unique `_id` index per collection, on the expression its SQLite queries look
`_id` up with, in place of FerretDB's own: look-ups do not scan tables, inserts maintain one index, and `_id` stays
unique with MongoDB's duplicate key error."""

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError

from infra.local.stack import StackConfig
from shared.mongo import mongo_client
from tests.conftest import Servers

pytestmark = [pytest.mark.mongo]

UNIQUE = "_id_unique"
# FerretDB's own unique index, and the non-unique one earlier builds of the local FerretDB added beside it.
SUPERSEDED = ("__id_", "_id_lookup")


def _indexes_by_table(database_file: Path) -> dict[str, dict[str, str]]:
    """Each collection table's indexes: name → the SQL that made it."""
    with sqlite3.connect(f"file:{database_file}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    tables: dict[str, dict[str, str]] = {
        name: {} for kind, name, _, _ in rows if kind == "table" and not name.startswith("_ferretdb_")
    }
    for kind, name, table, sql in rows:
        if kind == "index" and table in tables:
            tables[table][name] = sql or ""
    return tables


def _only_the_unique_index(indexes: dict[str, dict[str, str]]) -> bool:
    return bool(indexes) and all(
        set(found) == {table + UNIQUE} and found[table + UNIQUE].startswith("CREATE UNIQUE INDEX")
        for table, found in indexes.items()
    )


async def _settled(database_file: Path) -> dict[str, dict[str, str]]:
    indexes: dict[str, dict[str, str]] = {}
    for _ in range(100):
        indexes = _indexes_by_table(database_file)
        if _only_the_unique_index(indexes):
            break
        await asyncio.sleep(0.1)
    return indexes


def _local_sqlite_dir(servers: Servers) -> Path:
    if servers.origin != "local stack":
        pytest.skip("only the local stack's FerretDB build changes its indexes")
    return StackConfig.for_tests().data_dir / "ferretdb"


async def test_a_new_collection_keeps_one_unique_id_index_that_its_lookups_use(servers: Servers) -> None:
    sqlite_dir = _local_sqlite_dir(servers)
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
            persons = client[name]["persons"]
            await persons.insert_many([{"_id": f"org|{number}"} for number in range(100)])
            database_file = sqlite_dir / f"{name}.sqlite"
            indexes = await _settled(database_file)
            assert _only_the_unique_index(indexes), indexes
            [table] = indexes
            with sqlite3.connect(f"file:{database_file}?mode=ro", uri=True) as connection:
                plan = connection.execute(
                    f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM \"{table}\" WHERE _ferretdb_sjson->'$._id' = ?",
                    ('"org|7"',),
                ).fetchall()
            assert any(UNIQUE in str(step) for step in plan), plan
            assert await persons.find_one({"_id": "org|7"}) == {"_id": "org|7"}
            # Unique still, with the error every adapter's "someone was first" depends on.
            with pytest.raises(DuplicateKeyError):
                await persons.insert_one({"_id": "org|7", "second": True})
            with pytest.raises(BulkWriteError) as refused:
                await persons.insert_many([{"_id": "org|new"}, {"_id": "org|8"}], ordered=False)
            assert [error["index"] for error in refused.value.details["writeErrors"]] == [1]
            assert await persons.count_documents({}) == 101
        finally:
            await client.drop_database(name)


async def test_a_collection_indexed_by_an_earlier_build_is_brought_to_one_unique_index(servers: Servers) -> None:
    sqlite_dir = _local_sqlite_dir(servers)
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
            persons = client[name]["persons"]
            await persons.insert_many([{"_id": f"org|{number}"} for number in range(10)])
            database_file = sqlite_dir / f"{name}.sqlite"
            [table] = await _settled(database_file)
            # As a store written before this build holds it: FerretDB's index, and the look-up one beside it.
            with sqlite3.connect(database_file, timeout=10) as connection:
                connection.execute(f'CREATE UNIQUE INDEX "{table}__id_" ON "{table}" (_ferretdb_sjson->"_id")')
                connection.execute(f"CREATE INDEX \"{table}_id_lookup\" ON \"{table}\" (_ferretdb_sjson->'$._id')")
                connection.execute(f'DROP INDEX "{table}{UNIQUE}"')
            assert set(_indexes_by_table(database_file)[table]) == {table + suffix for suffix in SUPERSEDED}
            await persons.insert_one({"_id": "org|written-after"})
            indexes = await _settled(database_file)
            assert _only_the_unique_index(indexes), indexes
            with pytest.raises(DuplicateKeyError):
                await persons.insert_one({"_id": "org|3"})
            assert await persons.count_documents({}) == 11
        finally:
            await client.drop_database(name)
