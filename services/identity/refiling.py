"""Filing stored persons under the blocking keys their records have now, after the keys changed."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from services.identity.domain.matching import blocking_keys
from services.identity.domain.persons import Person
from services.identity.ports import IdentityStore


@dataclass
class RefileReport:
    """Persons visited, keys they were filed under, and keys whose block was full (it narrows nothing down)."""

    persons: int = 0
    filed: int = 0
    full: int = 0


async def refile_blocks(
    store: IdentityStore,
    organisation_id: str | None,
    *,
    concurrency: int = 16,
    progress: Callable[[RefileReport], None] | None = None,
) -> RefileReport:
    """Files every active person (of one organisation, or of all) under each blocking key of the records kept of them
    that it is missing from.

    A record is compared only with the persons filed under one of its keys, and persons are filed as their records
    are resolved: when `blocking_keys` changes (`BLOCKING_KEYS_VERSION`), the persons stored before are found only
    through the keys of their day until they are seen again. Running it again files nothing; identity may keep
    running, since filing only adds a person to a block, as resolving does.
    """
    report = RefileReport()
    gate = asyncio.Semaphore(concurrency)

    async def visit(person: Person) -> None:
        async with gate:
            await file(person)
        report.persons += 1
        if progress is not None:
            progress(report)

    async def file(person: Person) -> None:
        organisation, person_id = person.organisation_id, person.person_id
        keys = sorted({key for record in person.records for key in blocking_keys(record)})
        members = await store.block_members(organisation, keys)
        missing = [key for key in keys if person_id not in members[key]]
        if not missing:
            return
        await store.add_to_blocks(organisation, missing, person_id)
        # Read again, not assumed: a block that is full takes no one more.
        filed = sum(person_id in members for members in (await store.block_members(organisation, missing)).values())
        report.filed += filed
        report.full += len(missing) - filed

    pending: set[asyncio.Task[None]] = set()
    async for person in store.active_persons(organisation_id):
        if len(pending) >= concurrency * 2:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        pending.add(asyncio.create_task(visit(person)))
    await asyncio.gather(*pending)
    return report
