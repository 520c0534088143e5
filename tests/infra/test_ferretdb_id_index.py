"""The local FerretDB build indexes `_id` look-ups the way its SQLite queries them, so they do not scan tables."""

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from infra.local.stack import StackConfig
from shared.mongo import mongo_client
from tests.conftest import Servers

pytestmark = [pytest.mark.mongo]


def _tables_and_indexes(database_file: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(f"file:{database_file}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT type, name, tbl_name FROM sqlite_master").fetchall()
    tables = {name for kind, name, _ in rows if kind == "table" and not name.startswith("_ferretdb_")}
    indexed = {table for kind, name, table in rows if kind == "index" and name.endswith("_id_lookup")}
    return tables, indexed


async def test_a_new_collection_gets_the_index_its_id_lookups_use(servers: Servers) -> None:
    if servers.origin != "local stack":
        pytest.skip("only the local stack's FerretDB build adds this index")
    sqlite_dir = StackConfig.for_tests().data_dir / "ferretdb"
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
            await client[name]["persons"].insert_many([{"_id": f"org|{number}"} for number in range(100)])
            database_file = sqlite_dir / f"{name}.sqlite"
            tables: set[str] = set()
            indexed: set[str] = set()
            for _ in range(100):
                tables, indexed = _tables_and_indexes(database_file)
                if tables and tables <= indexed:
                    break
                await asyncio.sleep(0.1)
            assert tables, f"no collection table in {database_file}"
            assert tables <= indexed
            [table] = tables
            with sqlite3.connect(f"file:{database_file}?mode=ro", uri=True) as connection:
                plan = connection.execute(
                    f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM \"{table}\" WHERE _ferretdb_sjson->'$._id' = ?",
                    ('"org|7"',),
                ).fetchall()
            assert any("_id_lookup" in str(step) for step in plan), plan
            assert await client[name]["persons"].find_one({"_id": "org|7"}) == {"_id": "org|7"}
        finally:
            await client.drop_database(name)
