"""The local FerretDB build copies each database's write-ahead log into the database in the background, without
waiting for a commit to fill the log to wal_autocheckpoint (infra/local/ferretdb/_pool/parterre_checkpoint.go)."""

import asyncio
import uuid

import pytest

from infra.local.stack import StackConfig
from shared.mongo import mongo_client
from tests.conftest import Servers

pytestmark = [pytest.mark.mongo]

# Far below the 40 MB at which a commit would checkpoint the log itself (wal_autocheckpoint, ferretdb/main.go).
DOCUMENTS = 2000
TEXT = "x" * 1000


async def test_a_database_written_is_checkpointed_without_waiting_for_its_log_to_fill(servers: Servers) -> None:
    if servers.origin != "local stack":
        pytest.skip("only the local stack's FerretDB build checkpoints in the background")
    name = f"test_{uuid.uuid4().hex[:12]}"
    database_file = StackConfig.for_tests().data_dir / "ferretdb" / f"{name}.sqlite"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        try:
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
        finally:
            await client.drop_database(name)
