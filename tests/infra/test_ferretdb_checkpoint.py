"""The local FerretDB build copies each database's write-ahead log into the database in the background, without
waiting for a commit to fill the log to wal_autocheckpoint (infra/local/ferretdb/_pool/parterre_checkpoint.go)."""

import asyncio

import pytest

from tests.conftest import Servers
from tests.infra.local_databases import local_database

pytestmark = [pytest.mark.mongo]

# Far below the 40 MB at which a commit would checkpoint the log itself (wal_autocheckpoint, ferretdb/main.go).
DOCUMENTS = 2000
TEXT = "x" * 1000


async def test_a_database_written_is_checkpointed_without_waiting_for_its_log_to_fill(servers: Servers) -> None:
    why = "only the local stack's FerretDB build checkpoints in the background"
    async with local_database(servers, why=why) as (client, name, database_file):
        facts = client[name]["facts"]
        await facts.insert_many([{"_id": f"fact-{number}", "text": TEXT} for number in range(DOCUMENTS)])
        # In WAL mode the database file grows only when a checkpoint copies the log into it.
        size = 0
        for _ in range(100):
            size = database_file.stat().st_size
            if size > DOCUMENTS * len(TEXT):
                break
            await asyncio.sleep(0.05)
        assert size > DOCUMENTS * len(TEXT), f"{database_file.name} holds {size:,} bytes: nothing checkpointed"
        assert await facts.count_documents({}) == DOCUMENTS
