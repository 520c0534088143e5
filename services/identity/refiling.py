"""Filing stored persons under the blocking keys their records have now, after the keys changed."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from services.identity.domain.matching import blocking_keys
from services.identity.domain.persons import Person
from services.identity.ports import IdentityStore
from services.identity.upgrades import BLOCK_FILING

# Blocks read at once: a store answers one read at a time per call, and most blocks of a walk are in no cache.
READS_AT_ONCE = 16


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
    persons_at_once: int = 256,
    progress: Callable[[RefileReport], None] | None = None,
) -> RefileReport:
    """Files every active person (of one organisation, or of all) under each blocking key of the records kept of them
    that it is missing from.

    A record is compared only with the persons filed under one of its keys, and persons are filed as their records
    are resolved: when `blocking_keys` changes (`BLOCKING_KEYS_VERSION`), the persons stored before are found only
    through the keys of their day until they are seen again. Running it again files nothing; identity may keep
    running, since filing only adds a person to a block, as resolving does. Persons are filed `persons_at_once` at a
    time, as a consumer batch files them: one write per block. Once every organisation's persons are filed, the store
    records that they are filed under the current keys (see `upgrades.outdated`).
    """
    report = RefileReport()
    waiting: list[Person] = []
    async for person in store.active_persons(organisation_id):
        waiting.append(person)
        if len(waiting) >= persons_at_once:
            await _file(store, waiting, report)
            waiting = []
            if progress is not None:
                progress(report)
    if waiting:
        await _file(store, waiting, report)
        if progress is not None:
            progress(report)
    if organisation_id is None:
        # Persons stored meanwhile were filed under the current keys as they were resolved.
        await BLOCK_FILING.record_current(store)
    return report


async def _file(store: IdentityStore, persons: list[Person], report: RefileReport) -> None:
    by_organisation: dict[str, list[Person]] = {}
    for person in persons:
        by_organisation.setdefault(person.organisation_id, []).append(person)
    for organisation_id, members_of_it in by_organisation.items():
        wanted = {
            person.person_id: sorted({key for record in person.records for key in blocking_keys(record)})
            for person in members_of_it
        }
        # Trusted like a consumer batch: blocks this process knows answer without a round trip while no one else
        # writes, and a block missing from the organisation's list needs no read at all.
        async with store.trusting([organisation_id]):
            members = await _block_members(store, organisation_id, {key for keys in wanted.values() for key in keys})
            missing = {
                person_id: [key for key in keys if person_id not in members[key]] for person_id, keys in wanted.items()
            }
            additions = [(keys, person_id) for person_id, keys in missing.items() if keys]
            after: dict[str, list[str]] = {}
            if additions:
                await store.add_to_blocks_all(organisation_id, additions)
                # Read again, not assumed: a block that is full takes no one more.
                after = await _block_members(store, organisation_id, {key for keys, _ in additions for key in keys})
        for keys, person_id in additions:
            filed = sum(person_id in after[key] for key in keys)
            report.filed += filed
            report.full += len(keys) - filed
        report.persons += len(wanted)


async def _block_members(store: IdentityStore, organisation_id: str, keys: set[str]) -> dict[str, list[str]]:
    ordered = sorted(keys)
    parts = [ordered[start::READS_AT_ONCE] for start in range(READS_AT_ONCE)]
    found: dict[str, list[str]] = {}
    for part in await asyncio.gather(*(store.block_members(organisation_id, part) for part in parts if part)):
        found.update(part)
    return found
