"""The latest version of a key, read from the store in as few round trips as its chain allows."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.versions import VERSIONS_READ_AFTER_KNOWN, VERSIONS_READ_FIRST, VersionedDocuments
from shared.mongo import Document
from tests.conftest import Servers
from tests.integration.command_log import CommandLog, database_logging_commands

ORGANISATION = "theatre-du-nord"
CHAINS = "test_chains"


@pytest.fixture
async def logged_database(servers: Servers) -> AsyncIterator[tuple[AsyncDatabase[Document], CommandLog]]:
    async with database_logging_commands(servers.mongo_url, []) as logged:
        yield logged


async def written(database: AsyncDatabase[Document], key: str, versions: int, *, after: int = 0) -> None:
    """Versions `after + 1` to `versions` of `key`, as another process appends them."""
    writer = VersionedDocuments(database[CHAINS])
    for version in range(after + 1, versions + 1):
        assert await writer.append(ORGANISATION, key, version, {"members": [f"p{version}"]})


@pytest.mark.parametrize("versions", [0, 1, 2, 3, 4, 5, 6, 9, 40])
async def test_a_process_that_never_read_a_key_finds_its_latest_version(
    logged_database: tuple[AsyncDatabase[Document], CommandLog], versions: int
) -> None:
    database, log = logged_database
    await written(database, "ln:TRMBL", versions)
    log.commands.clear()
    latest = await VersionedDocuments(database[CHAINS]).latest(ORGANISATION, "ln:TRMBL")
    if versions == 0:
        assert latest is None
    else:
        assert latest is not None
        assert (latest[0], latest[1]["members"]) == (versions, [f"p{versions}"])
    if versions < VERSIONS_READ_FIRST:
        # Its first versions come in one read, and one short of full tells there is no more.
        assert log.count("find") == 1


@pytest.mark.parametrize(("known", "versions"), [(3, 3), (3, 4), (3, 5), (3, 6), (1, 12)])
async def test_a_process_that_read_a_key_before_finds_the_versions_added_since(
    logged_database: tuple[AsyncDatabase[Document], CommandLog], known: int, versions: int
) -> None:
    database, log = logged_database
    reader = VersionedDocuments(database[CHAINS])
    await written(database, "ph:5145550101", known)
    assert await reader.latest(ORGANISATION, "ph:5145550101") is not None
    await written(database, "ph:5145550101", versions, after=known)
    log.commands.clear()
    latest = await reader.latest(ORGANISATION, "ph:5145550101")
    assert latest is not None
    assert (latest[0], latest[1]["members"]) == (versions, [f"p{versions}"])
    if versions - known < VERSIONS_READ_AFTER_KNOWN:
        assert log.count("find") == 1


async def test_keys_read_side_by_side_share_their_round_trips(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    for number, versions in enumerate((1, 2, 3, 1, 2, 3)):
        await written(database, f"ln:{number}", versions)
    log.commands.clear()
    reader = VersionedDocuments(database[CHAINS])
    found = await asyncio.gather(*(reader.latest(ORGANISATION, f"ln:{number}") for number in range(6)))
    assert [latest[0] for latest in found if latest is not None] == [1, 2, 3, 1, 2, 3]
    assert log.count("find") == 1


async def test_the_keys_of_one_call_that_the_process_cannot_answer_are_read_in_the_same_round_trips(
    logged_database: tuple[AsyncDatabase[Document], CommandLog],
) -> None:
    database, log = logged_database
    for number, versions in enumerate((2, 0, 3, 1)):
        await written(database, f"pc:{number}", versions)
    log.commands.clear()
    found = await VersionedDocuments(database[CHAINS]).latest_all(ORGANISATION, [f"pc:{n}" for n in (3, 2, 1, 0, 2)])
    assert [None if latest is None else latest[1]["members"] for latest in found] == [
        ["p1"],
        ["p3"],
        None,
        ["p2"],
        ["p3"],
    ]
    assert log.count("find") == 1
