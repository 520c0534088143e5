"""The store's own ceiling for the profile service: the profiles it stored written back as fast as the store takes
them, nothing else running. Profile writes each changed profile whole, so 2,000 updates/s needs at least this.

The same documents inserted into an empty collection are timed too: FerretDB 1.x on SQLite takes new documents many
times faster than it changes stored ones, which is what a layout of inserted versions would have to go on.

Reads by `_id` are timed last, of the stored profiles and of ids nothing is stored under, one a command: what a read
on its own costs at least (a fact's profile, whether it was logged before, whether the person was erased). Then the
stored profiles again as the services read a batch's, `IDS_PER_READ` ids a query (`found_by_id`)."""

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass

import bson
from pymongo import ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection

from bench.cpu_budget import CpuMeter, store_pid
from bench.support import Result, Servers
from shared.mongo import (
    IDS_PER_READ,
    INSERTS_IN_ORDER_PER_COMMAND,
    REPLACES_PER_COMMAND,
    Document,
    found_by_id,
    mongo_client,
)

# Commands under way at once: enough to keep the store busy on two cores.
COMMANDS_AT_ONCE = 4
# Reads timed of each kind, one document a command as the services read them.
READS = 2000


async def measure(servers: Servers, profiles: list[Document]) -> list[Result]:
    """Writes `profiles` (stored profile documents) back into a collection of their own, in bulk."""
    if not profiles:
        return []
    database = f"bench_{uuid.uuid4().hex[:8]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
        collection = client[database]["profiles"]
        try:
            gate = asyncio.Semaphore(COMMANDS_AT_ONCE)

            async def insert(documents: list[Document]) -> None:
                async with gate:
                    await collection.insert_many(documents, ordered=False)

            started = time.perf_counter()
            await asyncio.gather(
                *(
                    insert(profiles[start : start + INSERTS_IN_ORDER_PER_COMMAND])
                    for start in range(0, len(profiles), INSERTS_IN_ORDER_PER_COMMAND)
                )
            )
            inserting = time.perf_counter() - started

            async def rewrite(documents: list[Document]) -> None:
                async with gate:
                    await collection.bulk_write([ReplaceOne({"_id": d["_id"]}, d) for d in documents], ordered=False)

            meter = CpuMeter({"store": store_pid(servers)})
            meter.start()
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    rewrite(profiles[start : start + REPLACES_PER_COMMAND])
                    for start in range(0, len(profiles), REPLACES_PER_COMMAND)
                )
            )
            seconds = time.perf_counter() - started
            spent = meter.stop()
            stored_ids = [profiles[index % len(profiles)]["_id"] for index in range(READS)]
            stored_reads = await _reads(collection, stored_ids, servers)
            absent_reads = await _reads(collection, [f"absent-{index}" for index in range(READS)], servers)
            # Distinct ids, as a batch asks for: a repeated one would be read once.
            distinct_ids = [profile["_id"] for profile in profiles[:READS]]
            together_reads = await _reads(collection, distinct_ids, servers, together=True)
        finally:
            await client.drop_database(database)
    size = statistics.median(len(bson.encode(profile)) for profile in profiles)
    store_ms = spent.seconds.get("store")
    cpu = (
        "store CPU not measured (not a process of this machine)"
        if store_ms is None
        else (f"store CPU {1000 * store_ms / len(profiles):.2f} ms per document")
    )
    return [
        Result(
            "store ceiling: stored profiles rewritten",
            len(profiles) / seconds,
            "docs/s",
            goal=">= 2000 (the profile goal's writes alone)",
            note=f"{len(profiles):,} documents, median {size:,.0f} B, {REPLACES_PER_COMMAND} a command, "
            f"{COMMANDS_AT_ONCE} commands at once; {cpu}",
        ),
        Result(
            "store ceiling: the same profiles inserted",
            len(profiles) / inserting,
            "docs/s",
            note=f"into an empty collection, {INSERTS_IN_ORDER_PER_COMMAND} a command, {COMMANDS_AT_ONCE} commands at "
            "once: what a layout of inserted versions would write at",
        ),
        Result(
            "store ceiling: stored profiles read by _id",
            READS / stored_reads.seconds,
            "reads/s",
            note=f"{READS:,} reads, one a command, {COMMANDS_AT_ONCE} at once; {stored_reads.cpu_note}",
        ),
        Result(
            "store ceiling: absent ids read by _id",
            READS / absent_reads.seconds,
            "reads/s",
            note=f"the least a read on its own costs: {absent_reads.cpu_note}",
        ),
        Result(
            f"store ceiling: stored profiles read by _id, {IDS_PER_READ} a query",
            len(distinct_ids) / together_reads.seconds,
            "reads/s",
            note=f"{len(distinct_ids):,} profiles, {{_id: {{$in: [...]}}}} as the services read a batch's, "
            f"{COMMANDS_AT_ONCE} queries at once; {together_reads.cpu_note}",
        ),
    ]


@dataclass(frozen=True)
class _Reads:
    seconds: float
    cpu_note: str


async def _reads(
    collection: AsyncCollection[Document], ids: list[str], servers: Servers, *, together: bool = False
) -> _Reads:
    """`ids` read one at a time (or `IDS_PER_READ` a query, `together`), `COMMANDS_AT_ONCE` readers side by side,
    and the store's CPU for them."""

    async def read(share: list[str]) -> None:
        if together:
            for start in range(0, len(share), IDS_PER_READ):
                await found_by_id(collection, share[start : start + IDS_PER_READ])
            return
        for document_id in share:
            await collection.find_one({"_id": document_id})

    meter = CpuMeter({"store": store_pid(servers)})
    meter.start()
    started = time.perf_counter()
    await asyncio.gather(*(read(ids[start::COMMANDS_AT_ONCE]) for start in range(COMMANDS_AT_ONCE)))
    seconds = time.perf_counter() - started
    store_seconds = meter.stop().seconds.get("store")
    if store_seconds is None:
        return _Reads(seconds, "store CPU not measured (not a process of this machine)")
    return _Reads(seconds, f"store CPU {1000 * store_seconds / len(ids):.2f} ms per read")
