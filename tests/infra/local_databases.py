"""A database of its own on the local stack's FerretDB, with the SQLite file that holds it; or a collection of its
own on whatever servers the tests run on."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from infra.local.stack import StackConfig
from shared.mongo import mongo_client
from tests.conftest import Servers


@contextlib.asynccontextmanager
async def local_database(
    servers: Servers, *, why: str
) -> AsyncIterator[tuple[AsyncMongoClient[dict[str, object]], str, Path]]:
    """A client, a new database's name and its file, dropped on leaving; the test is skipped, saying `why`, where
    the servers are not the local stack."""
    if servers.origin != "local stack":
        pytest.skip(why)
    name = f"test_{uuid.uuid4().hex[:12]}"
    database_file = StackConfig.for_tests().data_dir / "ferretdb" / f"{name}.sqlite"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
            yield client, name, database_file
        finally:
            await client.drop_database(name)


@contextlib.asynccontextmanager
async def fresh_collection(servers: Servers) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    """A collection in a new database of its own on whatever servers the tests run on, dropped on leaving."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
            yield client[name]["documents"]
        finally:
            await client.drop_database(name)
