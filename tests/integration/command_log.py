"""Every command a MongoDB client sends, to count what a piece of work costs the store."""

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import Document, IndexSpec, ensure_indexes


class CommandLog(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[tuple[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.command_name, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, name: str, collection: str | None = None) -> int:
        """Commands `name` (find, insert, update…), on `collection` if given."""
        return sum(
            1
            for command_name, command in self.commands
            if command_name == name and (collection is None or command[command_name] == collection)
        )

    def found_ids(self) -> list[str]:
        """What each find looked for, after its collection: its `_id`, or its whole filter when it looks by
        something else."""
        return [
            f"{command['find']}:{command['filter'].get('_id', command['filter'])}"
            for name, command in self.commands
            if name == "find"
        ]


@asynccontextmanager
async def database_logging_commands(
    mongo_url: str, indexes: Sequence[IndexSpec]
) -> AsyncIterator[tuple[AsyncDatabase[Document], CommandLog]]:
    """A fresh database with `indexes`, through a client logging every command; dropped afterwards."""
    log = CommandLog()
    name = f"test_{uuid.uuid4().hex[:12]}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        mongo_url, tz_aware=True, event_listeners=[log], uuidRepresentation="standard"
    )
    try:
        database = client[name]
        await ensure_indexes(database, indexes)
        yield database, log
        await client.drop_database(name)
    finally:
        await client.close()
