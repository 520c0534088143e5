"""Identity state in this process's memory: the batch command's store, held to the same contract as MongoDB's."""

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import replace
from datetime import datetime
from typing import Any

from services.identity.domain.identifiers import (
    Identifier,
    IdentifierDigest,
    digest_from_key,
    records_without_erased,
)
from services.identity.domain.matching import BLOCK_CAPACITY
from services.identity.domain.merges import (
    MergeRecord,
    ReviewClaim,
    ReviewItem,
    ReviewStatus,
    SurvivorBefore,
    UnmergeClaim,
)
from services.identity.domain.persons import Person, PersonStatus, with_addition
from services.identity.domain.records import NormalisedRecord
from services.identity.ports import JournalEntry, PersonAddition
from shared.privacy import person_digest


class InMemoryIdentityStore:
    """Keeps every organisation's identity state in dictionaries; nothing survives the process.

    `large` makes the mappings that grow with the persons held (persons, identifiers' owners, blocks, households,
    merges, reviews): plain dicts by default, or mappings spilling to a file (`adapters.spilled`) for a batch of
    any length.
    """

    def __init__(self, large: Callable[[str], MutableMapping[Any, Any]] | None = None) -> None:
        def mapping(name: str) -> MutableMapping[Any, Any]:
            return {} if large is None else large(name)

        self._journal: dict[tuple[str, str], JournalEntry] = {}
        # The consumer batch that wrote each entry not yet marked applied, as the Mongo store names it in the entry:
        # the batch's record counts only the entries it wrote.
        self._journal_batches: dict[tuple[str, str], str] = {}
        self._owners: MutableMapping[tuple[str, Identifier], str] = mapping("owners")
        self._persons: MutableMapping[tuple[str, str], Person] = mapping("persons")
        self._blocks: MutableMapping[tuple[str, str], list[str]] = mapping("blocks")
        self._blocks_version: int | None = None
        self._identifiers_version: int | None = None
        self._households: MutableMapping[tuple[str, str], list[str]] = mapping("households")
        self._merges: MutableMapping[tuple[str, str], MergeRecord] = mapping("merges")
        self._reviews: MutableMapping[tuple[str, str], ReviewItem] = mapping("reviews")
        self._review_claims: dict[tuple[str, str], ReviewClaim] = {}
        self._unmerge_claims: dict[tuple[str, str], UnmergeClaim] = {}
        self._suppressed: set[tuple[str, str]] = set()
        # (organisation, person digest) → the exports noted, as `log_export` was given them.
        self._exports: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # (organisation, event id) -> why the fact went no further
        self.filtered: dict[tuple[str, str], str] = {}

    def trusting(self, organisation_ids: Iterable[str]) -> AbstractAsyncContextManager[None]:
        # Every read here is the state itself.
        return nullcontext()

    def forget_person(self, organisation_id: str, person_id: str) -> None:
        # Nothing is kept apart from the state.
        return

    async def fresh_person(self, organisation_id: str, person_id: str) -> Person | None:
        return await self.person(organisation_id, person_id)

    async def journal_entry(self, organisation_id: str, event_id: str) -> JournalEntry | None:
        return self._journal.get((organisation_id, event_id))

    async def write_journal(self, entry: JournalEntry) -> JournalEntry:
        return self._journal.setdefault((entry.organisation_id, entry.event_id), entry)

    async def claims_decided_for(
        self, organisation_id: str, person_ids: Collection[str], since: datetime
    ) -> frozenset[IdentifierDigest]:
        return frozenset(
            digest_from_key(key)
            for (organisation, _), entry in self._journal.items()
            if organisation == organisation_id and entry.decision.person_id in person_ids and entry.decided_at >= since
            for key in entry.decision.claim_digests
        )

    async def mark_applied(self, organisation_id: str, event_id: str) -> None:
        self._journal_batches.pop((organisation_id, event_id), None)
        entry = self._journal.get((organisation_id, event_id))
        if entry is not None:
            # Built directly: `replace` inspects the class's fields on every call, and the batch marks every record.
            self._journal[(organisation_id, event_id)] = JournalEntry(
                entry.organisation_id, entry.event_id, entry.decision, entry.decided_at, applied=True
            )

    async def drop_journal(self, organisation_id: str, event_id: str) -> None:
        self._journal.pop((organisation_id, event_id), None)
        self._journal_batches.pop((organisation_id, event_id), None)

    def forget_journal(self) -> None:
        """The batch command has no redeliveries: dropping applied entries keeps its memory flat."""
        self._journal.clear()
        self._journal_batches.clear()

    async def write_journals(self, entries: Sequence[JournalEntry], *, batch_id: str | None = None) -> list[bool]:
        written = [await self.write_journal(entry) is entry for entry in entries]
        if batch_id is not None:
            for entry, stored in zip(entries, written, strict=True):
                if stored:
                    self._journal_batches[(entry.organisation_id, entry.event_id)] = batch_id
        return written

    async def mark_all_applied(
        self, organisation_id: str, event_ids: Sequence[str], *, batch_id: str | None = None
    ) -> None:
        for event_id in event_ids:
            if batch_id is None or self._journal_batches.get((organisation_id, event_id)) == batch_id:
                await self.mark_applied(organisation_id, event_id)

    async def claim_all(self, organisation_id: str, claims: Sequence[tuple[Identifier, str]]) -> list[bool]:
        taken = []
        for identifier, person_id in claims:
            taken.append((organisation_id, identifier) not in self._owners)
            self._owners.setdefault((organisation_id, identifier), person_id)
        return taken

    async def write_persons(
        self, organisation_id: str, created: Sequence[Person], additions: Sequence[PersonAddition]
    ) -> list[bool]:
        stored = []
        for person in created:
            stored.append((person.organisation_id, person.person_id) not in self._persons)
            await self.insert_person(person)
        await self.add_to_persons(organisation_id, additions)
        return stored

    async def add_to_persons(self, organisation_id: str, additions: Sequence[PersonAddition]) -> None:
        for addition in additions:
            await self.add_to_person(
                organisation_id,
                addition.person_id,
                identifiers=addition.identifiers,
                records=addition.records,
                household_id=addition.household_id,
                household_at=addition.household_at,
                kept_apart_from=addition.kept_apart_from,
            )

    async def add_to_blocks_all(self, organisation_id: str, additions: Sequence[tuple[Sequence[str], str]]) -> None:
        for keys, person_id in additions:
            await self.add_to_blocks(organisation_id, keys, person_id)

    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None:
        return self._owners.get((organisation_id, identifier))

    async def claim(self, organisation_id: str, identifier: Identifier, person_id: str) -> str:
        return self._owners.setdefault((organisation_id, identifier), person_id)

    async def release(self, organisation_id: str, identifier: Identifier, person_id: str) -> None:
        if self._owners.get((organisation_id, identifier)) == person_id:
            del self._owners[(organisation_id, identifier)]

    async def release_all(self, organisation_id: str, person_id: str) -> None:
        for owned in [key for key, owner in self._owners.items() if key[0] == organisation_id and owner == person_id]:
            del self._owners[owned]

    async def reassign(
        self, organisation_id: str, identifier: Identifier, from_person: str, to_person: str
    ) -> str | None:
        if self._owners.get((organisation_id, identifier)) == from_person:
            self._owners[(organisation_id, identifier)] = to_person
        return self._owners.get((organisation_id, identifier))

    async def person(self, organisation_id: str, person_id: str) -> Person | None:
        return self._persons.get((organisation_id, person_id))

    async def insert_person(self, person: Person) -> None:
        self._persons.setdefault((person.organisation_id, person.person_id), person)

    async def add_to_person(
        self,
        organisation_id: str,
        person_id: str,
        *,
        identifiers: Sequence[Identifier] = (),
        records: Sequence[NormalisedRecord] = (),
        household_id: str | None = None,
        household_at: datetime | None = None,
        kept_apart_from: Sequence[str] = (),
    ) -> None:
        person = self._persons.get((organisation_id, person_id))
        if person is None or person.status is PersonStatus.ERASED:
            # As the MongoDB store: an erased person takes nothing back.
            return
        self._persons[(organisation_id, person_id)] = with_addition(
            person,
            identifiers=identifiers,
            records=records,
            household_id=household_id,
            household_at=household_at,
            kept_apart_from=kept_apart_from,
            version=person.version + 1,
        )

    async def replace_person(self, person: Person, *, expected_version: int) -> bool:
        key = (person.organisation_id, person.person_id)
        current = self._persons.get(key)
        # An erased person is never written back, whatever a request that read them before the erasure holds.
        if current is None or current.version != expected_version or current.status is PersonStatus.ERASED:
            return False
        self._persons[key] = replace(person, version=expected_version + 1)
        return True

    async def set_status(
        self,
        organisation_id: str,
        person_id: str,
        *,
        status: PersonStatus,
        merged_into: str | None,
        expected: PersonStatus,
    ) -> bool:
        person = self._persons.get((organisation_id, person_id))
        if person is None or person.status is not expected:
            return False
        self._persons[(organisation_id, person_id)] = replace(
            person, status=status, merged_into=merged_into, version=person.version + 1
        )
        return True

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]:
        blocks = self._blocks
        return {key: list(blocks.get((organisation_id, key), ())) for key in keys}

    async def add_to_blocks(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        for key in keys:
            members = self._blocks.setdefault((organisation_id, key), [])
            if person_id not in members and len(members) < BLOCK_CAPACITY:
                members.append(person_id)

    async def active_persons(self, organisation_id: str | None) -> AsyncIterator[Person]:
        for (organisation, _), person in list(self._persons.items()):
            if (organisation_id is None or organisation == organisation_id) and person.is_active:
                yield person

    async def count_persons(self, organisation_id: str | None) -> int:
        return sum(1 for organisation, _ in self._persons if organisation_id is None or organisation == organisation_id)

    async def confirm_salt(self) -> None:
        # Blocks are kept in memory under their keys in clear, and an empty one is deleted: nothing hashed.
        return None

    async def blocks_filed_under(self) -> int | None:
        return self._blocks_version

    async def record_blocks_filed_under(self, version: int) -> None:
        self._blocks_version = version

    async def identifiers_written_under(self) -> int | None:
        return self._identifiers_version

    async def record_identifiers_written_under(self, version: int) -> None:
        self._identifiers_version = version

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]:
        return list(self._households.get((organisation_id, household_id), ()))

    async def join_household(self, organisation_id: str, household_id: str, person_ids: Sequence[str]) -> None:
        members = self._households.setdefault((organisation_id, household_id), [])
        members.extend(person_id for person_id in person_ids if person_id not in members)

    async def join_households(self, organisation_id: str, joins: Sequence[tuple[str, Sequence[str]]]) -> None:
        for household_id, person_ids in joins:
            await self.join_household(organisation_id, household_id, person_ids)

    async def insert_merge(self, merge: MergeRecord) -> MergeRecord:
        return self._merges.setdefault((merge.organisation_id, merge.merge_id), merge)

    async def merge(self, organisation_id: str, merge_id: str) -> MergeRecord | None:
        return self._merges.get((organisation_id, merge_id))

    async def merges_involving(self, organisation_id: str, person_id: str) -> list[MergeRecord]:
        return [
            merge
            for (organisation, _), merge in self._merges.items()
            if organisation == organisation_id and (merge.survivor_id == person_id or person_id in merge.merged_ids)
        ]

    async def merges_caused_by(self, organisation_id: str, cause: str) -> list[MergeRecord]:
        return [
            merge
            for (organisation, _), merge in self._merges.items()
            if organisation == organisation_id and merge.cause == cause
        ]

    async def claim_unmerge(self, claim: UnmergeClaim) -> UnmergeClaim:
        return self._unmerge_claims.setdefault((claim.organisation_id, claim.merge_id), claim)

    async def mark_undone(self, organisation_id: str, merge_id: str, *, at: datetime, by: str) -> bool:
        merge = self._merges.get((organisation_id, merge_id))
        if merge is None or merge.undone_at is not None:
            return False
        self._merges[(organisation_id, merge_id)] = replace(merge, undone_at=at, undone_by=by)
        return True

    async def keep_copies(
        self, organisation_id: str, merge_id: str, merged: tuple[Person, ...], before: SurvivorBefore | None
    ) -> None:
        merge = self._merges[(organisation_id, merge_id)]
        self._merges[(organisation_id, merge_id)] = replace(merge, merged=merged, survivor_before=before)

    async def scrub_merges(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        for merge in await self.merges_involving(organisation_id, person_id):
            self._merges[(organisation_id, merge.merge_id)] = merge.without_erased(person_id, digests)

    async def scrub_records(self, organisation_id: str, person_id: str, erased: Collection[Identifier]) -> None:
        person = self._persons.get((organisation_id, person_id))
        if person is None or person.status is PersonStatus.ERASED:
            return
        scrubbed = _without_erased(person, erased)
        if scrubbed != person:
            self._persons[(organisation_id, person_id)] = replace(scrubbed, version=person.version + 1)

    async def scrub_journal(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        for key, entry in list(self._journal.items()):
            if key[0] == organisation_id:
                self._journal[key] = replace(entry, decision=entry.decision.without_erased(person_id, digests))

    async def leave_blocks(self, organisation_id: str, person_id: str) -> None:
        _leave_every(self._blocks, organisation_id, person_id)

    async def leave_blocks_under(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        for key in keys:
            block = (organisation_id, key)
            left = [member for member in self._blocks.get(block, ()) if member != person_id]
            if left:
                self._blocks[block] = left
            else:
                self._blocks.pop(block, None)

    async def leave_households(self, organisation_id: str, person_id: str) -> None:
        _leave_every(self._households, organisation_id, person_id)

    async def leave_household(self, organisation_id: str, household_id: str, person_id: str) -> None:
        key = (organisation_id, household_id)
        left = [member for member in self._households.get(key, ()) if member != person_id]
        if left:
            self._households[key] = left
        else:
            self._households.pop(key, None)

    async def insert_review(self, item: ReviewItem) -> None:
        self._reviews.setdefault((item.organisation_id, item.review_id), item)

    async def withdraw_reviews_naming(self, organisation_id: str, person_id: str, *, by: str, at: datetime) -> None:
        for key, item in list(self._reviews.items()):
            if (
                key[0] == organisation_id
                and item.status is ReviewStatus.PENDING
                and person_id in (item.person_id, item.candidate_id)
            ):
                self._reviews[key] = replace(item, status=ReviewStatus.WITHDRAWN, decided_by=by, decided_at=at)
        for key, item in list(self._reviews.items()):
            if key[0] == organisation_id and person_id in (item.person_id, item.candidate_id):
                self._reviews[key] = replace(item, note=None)
                if (claim := self._review_claims.get(key)) is not None:
                    self._review_claims[key] = replace(claim, note=None)

    async def review(self, organisation_id: str, review_id: str) -> ReviewItem | None:
        return self._reviews.get((organisation_id, review_id))

    async def reviews(
        self, organisation_id: str, status: ReviewStatus, limit: int, *, after: ReviewItem | None = None
    ) -> list[ReviewItem]:
        found = [
            item
            for (organisation, _), item in self._reviews.items()
            if organisation == organisation_id
            and item.status is status
            and (after is None or (item.created_at, item.review_id) > (after.created_at, after.review_id))
        ]
        return sorted(found, key=lambda item: (item.created_at, item.review_id))[:limit]

    async def claim_review(self, claim: ReviewClaim) -> ReviewClaim:
        return self._review_claims.setdefault((claim.organisation_id, claim.review_id), claim)

    async def drop_review_claim(self, organisation_id: str, review_id: str, decision: ReviewStatus) -> None:
        claim = self._review_claims.get((organisation_id, review_id))
        if claim is not None and claim.decision is decision:
            del self._review_claims[(organisation_id, review_id)]

    async def decide_review(
        self, organisation_id: str, review_id: str, *, status: ReviewStatus, by: str, at: datetime, note: str | None
    ) -> bool:
        item = self._reviews.get((organisation_id, review_id))
        if item is None or item.status is not ReviewStatus.PENDING:
            return False
        self._reviews[(organisation_id, review_id)] = replace(
            item, status=status, decided_by=by, decided_at=at, note=note
        )
        return True

    async def suppress(self, organisation_id: str, hashes: Sequence[str]) -> None:
        self._suppressed.update((organisation_id, value) for value in hashes)

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        entry = {"action": "exported", "at": at, "requested_by": requested_by, "details": dict(details)}
        self._exports.setdefault((organisation_id, person_digest(organisation_id, person_id)), []).append(entry)

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        logged = self._exports.get((organisation_id, person_digest(organisation_id, person_id)), [])
        return sorted(logged, key=lambda entry: entry["at"])

    async def suppressions_exist(self, organisation_id: str) -> bool:
        return any(organisation == organisation_id for organisation, _value in self._suppressed)

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool:
        return any((organisation_id, value) in self._suppressed for value in hashes)

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        if (organisation_id, event_id) in self.filtered:
            return False
        self.filtered[(organisation_id, event_id)] = reason
        return True


def _without_erased(person: Person, erased: Collection[Identifier]) -> Person:
    return replace(
        person,
        identifiers=person.identifiers - frozenset(erased),
        records=records_without_erased(person.records, erased),
    )


def _leave_every(groups: MutableMapping[tuple[str, str], list[str]], organisation_id: str, person_id: str) -> None:
    for key, members in list(groups.items()):
        if key[0] != organisation_id or person_id not in members:
            continue
        left = [member for member in members if member != person_id]
        if left:
            groups[key] = left
        else:
            del groups[key]
