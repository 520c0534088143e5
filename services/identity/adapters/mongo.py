"""Identity state in MongoDB (or FerretDB): ownership by unique `_id`, and immutable versioned documents.

The hot path only inserts and reads by `_id` (see `versions` for why, and for when a read needs no round trip).
Rare operator actions (erasure, unmerge, review decisions) may update and delete; an unmerge or a review
decision first inserts a claim on the merge or the review, so only one request carries it out.
"""

import asyncio
import contextlib
import hashlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.identity.adapters.documents import (
    decision_document,
    decision_from,
    merge_document,
    merge_from,
    person_document,
    person_from,
    review_claim_document,
    review_claim_from,
    review_document,
    review_from,
    unmerge_claim_document,
    unmerge_claim_from,
)
from services.identity.adapters.versions import (
    CACHED_VERSIONS,
    KnownKeys,
    OrganisationEpochs,
    VersionedDocuments,
    untrusted,
)
from services.identity.adapters.versions import key_of as _key
from services.identity.domain.identifiers import Identifier, IdentifierDigest, digest_from_key, records_without_erased
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
from services.identity.settings import DEVELOPMENT_SALT
from shared.memo import remembered
from shared.mongo import Document, IndexSpec, ReadsTogether, found_by_id, insert_new
from shared.privacy_log import PrivacyLog, privacy_log_index

JOURNAL = "identity_journal"
# Where an earlier release recorded that an event's decision was applied; now kept beside the epochs (below).
APPLIED = "identity_applied"
IDENTIFIERS = "identity_identifiers"
PERSONS = "identity_persons"
BLOCKS = "identity_blocks"
# The maintenance document holding a fingerprint of the salt the blocking keys are hashed with.
BLOCKS_SALT = "blocks-salt"
# Stored blocking keys start so; a key in clear starts with its two-letter kind (`ph:`, `ln:`, …), never so.
STORED_BLOCK_KEY_PREFIX = "h:"
BLOCK_KEY_IN_CLEAR = "[a-z][a-z]:"
HOUSEHOLDS = "identity_households"
MERGES = "identity_merges"
REVIEWS = "identity_reviews"
REVIEW_CLAIMS = "identity_review_claims"
UNMERGE_CLAIMS = "identity_unmerge_claims"
SUPPRESSIONS = "identity_suppressions"
# Exports of what identity holds about a person, by person digest: they outlive the person's erasure.
PRIVACY_LOG = "identity_privacy_log"
# `org|epoch#n`: extended by each process after it writes, so others know what they read may be old;
# `org|applied|event id`: the event's decision was applied, recorded with the extension that counts its writes; and
# `org|applied-batch|batch id`: the events a consumer batch applied, those whose journal entries name the batch.
EPOCHS = "identity_epochs"
# `org|digest of the event id`: an upstream fact identity let go no further on purpose, with the reason (suppressed,
# erasure_unknown_person). A digest: the facts of a person who asked not to be added again leave no id behind.
FILTERED_FACTS = "identity_filtered_facts"
# What the store as a whole is up to: `blocks`, the version of the blocking keys every stored person is filed under;
# `identifiers`, the version of the written form every stored person's addresses are claimed in.
MAINTENANCE = "identity_maintenance"
BLOCKS_VERSION = "blocks"
IDENTIFIERS_VERSION = "identifiers"

INDEXES = (
    IndexSpec(MERGES, [("organisation_id", ASCENDING), ("persons", ASCENDING)]),
    IndexSpec(MERGES, [("organisation_id", ASCENDING), ("cause", ASCENDING)]),
    IndexSpec(REVIEWS, [("organisation_id", ASCENDING), ("status", ASCENDING), ("created_at", ASCENDING)]),
    IndexSpec(SUPPRESSIONS, [("organisation_id", ASCENDING)]),
    privacy_log_index(PRIVACY_LOG),
)
# A record is filed under five or six blocking keys, most of them its own: 10,000 patrons make about 72,000 blocks,
# more than the other collections' versions cached. At about 600 bytes a cached block, this holds the blocks of
# some 20,000 patrons in about 90 MB; with the common 50,000, 10,000 patrons already cost three block reads a fact.
CACHED_BLOCKS = 150_000
# The patrons whose persons, identifiers and blocks the caches hold by default: 2.5 persons' and identifiers'
# versions and 7.5 blocks a patron (`CACHED_VERSIONS` and `CACHED_BLOCKS` for 20,000 of them).
CACHED_PATRONS = 20_000
PERSONS_PER_PATRON = CACHED_VERSIONS / CACHED_PATRONS
BLOCKS_PER_PATRON = CACHED_BLOCKS / CACHED_PATRONS
# Persons kept decoded beside their cached documents: those of the last few consumer batches.
DECODED_PERSONS_KEPT = 4_096
# Records of the facts a consumer batch applied, kept once read (`_batch_record`).
BATCH_RECORDS_KEPT = 16
# Persons a walk through them all reads at once: each takes a few reads to find its latest version.
PERSONS_READ_AT_ONCE = 32
# Blocks a batch joins without having read them, read at once before it extends them.
BLOCKS_READ_AT_ONCE = 32


def _with_addition(person: Person, addition: PersonAddition) -> Person | None:
    """The person with what a resolution adds to it; None if erased (an erased person takes nothing back)."""
    if person.status is PersonStatus.ERASED:
        return None
    return with_addition(
        person,
        identifiers=addition.identifiers,
        records=addition.records,
        household_id=addition.household_id,
        household_at=addition.household_at,
        kept_apart_from=addition.kept_apart_from,
    )


_PERSON_NAME = {"_id": 0, "organisation_id": 1, "person_id": 1}


def _first_versions(organisation_id: str | None) -> dict[str, Any]:
    return {"version": 1} if organisation_id is None else {"organisation_id": organisation_id, "version": 1}


def _applied_key(organisation_id: str, event_id: str) -> str:
    """Where the record that an event's decision was applied is kept, beside the epochs (whose ids end `epoch#n`)."""
    return _key(organisation_id, f"applied|{event_id}")


def _applied_batch_key(organisation_id: str, batch_id: str) -> str:
    """Where a consumer batch records the events whose decisions it applied, in one document (`mark_all_applied`)."""
    return _key(organisation_id, f"applied-batch|{batch_id}")


def _journal_document(entry: JournalEntry, batch_id: str | None = None) -> Document:
    document = {
        "_id": _key(entry.organisation_id, entry.event_id),
        "organisation_id": entry.organisation_id,
        "decision": decision_document(entry.decision),
        "decided_at": entry.decided_at,
    }
    if batch_id is not None:
        document["batch"] = batch_id
    return document


class SaltMismatchError(RuntimeError):
    """The salt given is not the one the store's blocking keys were hashed with; `fr` says so in French."""

    def __init__(self, en: str, fr: str) -> None:
        super().__init__(en)
        self.fr = fr


class MongoIdentityStore:
    """The identity store on MongoDB 7 or FerretDB 1.x; every document carries its organisation id."""

    def __init__(
        self,
        database: AsyncDatabase[Document],
        *,
        on_fresh_reads: Callable[[str, str], None] | None = None,
        salt: str = DEVELOPMENT_SALT,
        cached_patrons: int = CACHED_PATRONS,
    ) -> None:
        """`on_fresh_reads(organisation, cause)`: see `OrganisationEpochs`. `salt`: the secret the blocking keys are
        stored hashed with; every process of one store must use the same (the suppression salt). `cached_patrons`:
        how many patrons' persons, identifiers and blocks this process keeps in memory (see `CACHED_PATRONS`)."""
        self.database = database
        self._block_salt = hashlib.sha256(f"blocks|{salt}".encode()).digest()
        self._salt_confirmed = False
        self._journal = database[JOURNAL]
        self._journal_reads = ReadsTogether(self._journal)
        # Read only: applied records are now kept beside the epochs.
        self._applied_reads = ReadsTogether(database[APPLIED])
        self._identifiers = database[IDENTIFIERS]
        self._identifier_reads = ReadsTogether(self._identifiers)
        self._epochs = OrganisationEpochs(database[EPOCHS], on_fresh_reads=on_fresh_reads)
        self._identifier_keys = KnownKeys(self._identifiers, self._epochs, versioned=False)
        # Identifier key → the person that claimed it as this process last saw (see `_still_listed`), or None
        # with the generation in which it had no owner.
        self._owners: OrderedDict[str, tuple[str | None, int]] = OrderedDict()
        self._cached_owners = round(cached_patrons * PERSONS_PER_PATRON)
        self._persons = VersionedDocuments(database[PERSONS], epochs=self._epochs, cache_size=self._cached_owners)
        self._person_documents = database[PERSONS]
        # (organisation, person) → the latest version known as a document and as decoded from it: a person is read
        # to decide each fact naming them, and again to write their next version, and decoding took about 18 µs for
        # a person of one or two records. Kept for the persons written or read last.
        self._decoded: OrderedDict[tuple[str, str], tuple[Document, Person]] = OrderedDict()
        # The events of the batch records read last: a batch redelivered whole goes one fact at a time, each
        # asking after the same record, and a record once stored never changes.
        self._batch_records: OrderedDict[str, frozenset[str]] = OrderedDict()
        self._blocks = VersionedDocuments(
            database[BLOCKS], epochs=self._epochs, listed=True, cache_size=round(cached_patrons * BLOCKS_PER_PATRON)
        )
        self._block_documents = database[BLOCKS]
        self._households = VersionedDocuments(database[HOUSEHOLDS], epochs=self._epochs, listed=True)
        self._household_documents = database[HOUSEHOLDS]
        # Organisation → whether it has suppressions, and the generation in which that was read.
        self._suppressing: dict[str, tuple[bool, int]] = {}
        self._merges = database[MERGES]
        self._merge_reads = ReadsTogether(self._merges)
        self._reviews = database[REVIEWS]
        self._review_claims = database[REVIEW_CLAIMS]
        self._unmerge_claims = database[UNMERGE_CLAIMS]
        self._suppressions = database[SUPPRESSIONS]
        self._privacy = PrivacyLog(database[PRIVACY_LOG])
        self._filtered = database[FILTERED_FACTS]
        self._maintenance = database[MAINTENANCE]

    def trusting(self, organisation_ids: Iterable[str]) -> AbstractAsyncContextManager[None]:
        return self._trusting(frozenset(organisation_ids))

    @contextlib.asynccontextmanager
    async def _trusting(self, organisation_ids: frozenset[str]) -> AsyncIterator[None]:
        async with self._epochs.trusting(organisation_ids):
            for organisation_id in sorted(organisation_ids):
                for keys in (self._identifier_keys, self._blocks.keys, self._households.keys):
                    if keys is not None:
                        await keys.list(organisation_id)
            yield

    def forget_person(self, organisation_id: str, person_id: str) -> None:
        self._persons.forget(organisation_id, person_id)
        self._decoded.pop((organisation_id, person_id), None)

    async def fresh_person(self, organisation_id: str, person_id: str) -> Person | None:
        # Versions never change: looking for one after the latest known finds any change, in one round trip.
        with untrusted(organisation_id):
            return await self.person(organisation_id, person_id)

    async def journal_entry(self, organisation_id: str, event_id: str) -> JournalEntry | None:
        document = await self._journal_reads.find_one(_key(organisation_id, event_id))
        if document is None:
            return None
        return JournalEntry(
            organisation_id,
            event_id,
            decision_from(document["decision"]),
            document["decided_at"],
            await self._applied(organisation_id, event_id, document.get("batch")),
        )

    async def _batch_record(self, organisation_id: str, batch_id: str) -> frozenset[str]:
        """The events a batch recorded applied; none while it has not recorded them."""
        key = _applied_batch_key(organisation_id, batch_id)
        events = self._batch_records.get(key)
        if events is not None:
            self._batch_records.move_to_end(key)
        else:
            record = await self._epochs.stored_document(key)
            if record is None:
                return frozenset()
            events = self._batch_records[key] = frozenset(record["events"])
            if len(self._batch_records) > BATCH_RECORDS_KEPT:
                self._batch_records.popitem(last=False)
        return events

    async def _applied(self, organisation_id: str, event_id: str, batch_id: str | None) -> bool:
        # Among the events the batch that wrote the entry applied: it wrote the entries of some it left to be
        # decided again, one at a time (a claim someone else made first), which record themselves.
        if batch_id is not None and event_id in await self._batch_record(organisation_id, batch_id):
            return True
        # On its own with an epoch, or, before 2026-12, in a collection of its own.
        return (
            await self._epochs.stored(_applied_key(organisation_id, event_id))
            or await self._applied_reads.find_one(_key(organisation_id, event_id)) is not None
        )

    async def write_journal(self, entry: JournalEntry) -> JournalEntry:
        try:
            await self._journal.insert_one(_journal_document(entry))
        except DuplicateKeyError:
            stored = await self.journal_entry(entry.organisation_id, entry.event_id)
            assert stored is not None, "a duplicate key means the entry exists"
            return stored
        return entry

    async def claims_decided_for(
        self, organisation_id: str, person_ids: Collection[str], since: datetime
    ) -> frozenset[IdentifierDigest]:
        # No index serves this: unmerges are rare, and a scan of the journal is their price.
        found = self._journal.find(
            {
                "organisation_id": organisation_id,
                "decision.person_id": {"$in": sorted(person_ids)},
                "decided_at": {"$gte": since},
            },
            {"decision": 1},
        )
        return frozenset(
            [digest_from_key(key) async for document in found for key in document["decision"].get("claim_digests", ())]
        )

    async def mark_applied(self, organisation_id: str, event_id: str) -> None:
        await self.mark_all_applied(organisation_id, [event_id])

    async def drop_journal(self, organisation_id: str, event_id: str) -> None:
        await self._journal.delete_one({"_id": _key(organisation_id, event_id)})

    async def write_journals(self, entries: Sequence[JournalEntry], *, batch_id: str | None = None) -> list[bool]:
        return await insert_new(self._journal, [_journal_document(entry, batch_id) for entry in entries])

    async def mark_all_applied(
        self, organisation_id: str, event_ids: Sequence[str], *, batch_id: str | None = None
    ) -> None:
        # With the epoch's extension that counts the facts' writes: in a consumer batch, no round trip of its own.
        # A batch's in one document: one each made the insert after a batch of 500 facts 11 ms longer (the store
        # takes about 22 µs a document), and the batch waits for it.
        marks = (
            [
                {
                    "_id": _applied_batch_key(organisation_id, batch_id),
                    "organisation_id": organisation_id,
                    "events": list(event_ids),
                }
            ]
            if batch_id is not None
            else [
                {"_id": _applied_key(organisation_id, event_id), "organisation_id": organisation_id}
                for event_id in event_ids
            ]
        )
        await self._epochs.store_with_extension(organisation_id, marks)

    async def claim_all(self, organisation_id: str, claims: Sequence[tuple[Identifier, str]]) -> list[bool]:
        claimed = await insert_new(
            self._identifiers,
            [
                {
                    "_id": _key(organisation_id, identifier.digest.key),
                    "organisation_id": organisation_id,
                    "kind": identifier.kind,
                    "person_id": person_id,
                }
                for identifier, person_id in claims
            ],
        )
        for (identifier, person_id), won in zip(claims, claimed, strict=True):
            if won:
                self._claimed(organisation_id, identifier, person_id)
            else:
                self._claimed_before(organisation_id, identifier)
        if claims:
            await self._epochs.wrote(organisation_id)
        return claimed

    async def write_persons(
        self, organisation_id: str, created: Sequence[Person], additions: Sequence[PersonAddition]
    ) -> list[bool]:
        # The first version of each new person and the next of each known one, in one insert. A person already
        # stored is a redelivered creation: nothing to do, as with `insert_person`.
        if any(person.organisation_id != organisation_id for person in created):
            raise ValueError("write_persons takes the persons of one organisation")
        versions, appended, careful, written = self._next_versions(organisation_id, additions)
        firsts = [(person.person_id, 1, person_document(person)) for person in created]
        inserted = await self._persons.append_many(organisation_id, firsts + versions) if firsts or versions else []
        # A new person's first version is 1, whatever the one decided holds.
        self._decoded_as_stored(
            organisation_id, [*(replace(person, version=1) for person in created), *written], inserted
        )
        if firsts or versions:
            await self._epochs.wrote(organisation_id)
        added = inserted[len(firsts) :]
        careful += [addition for addition, done in zip(appended, added, strict=True) if not done]
        await self._add_carefully(organisation_id, careful)
        return inserted[: len(firsts)]

    async def add_to_persons(self, organisation_id: str, additions: Sequence[PersonAddition]) -> None:
        versions, appended, careful, written = self._next_versions(organisation_id, additions)
        inserted = await self._persons.append_many(organisation_id, versions)
        self._decoded_as_stored(organisation_id, written, inserted)
        for addition, done in zip(appended, inserted, strict=True):
            if not done:
                careful.append(addition)
        if versions:
            await self._epochs.wrote(organisation_id)
        await self._add_carefully(organisation_id, careful)

    def _next_versions(
        self, organisation_id: str, additions: Sequence[PersonAddition]
    ) -> tuple[list[tuple[str, int, Document]], list[PersonAddition], list[PersonAddition], list[Person]]:
        """From the versions this process last saw (read moments ago to decide): the next version of each person
        (with the additions they are for, and as a person), and the additions left to the careful way, for a person
        not seen, unchanged by that view (it may be stale), or changed meanwhile."""
        versions: list[tuple[str, int, Document]] = []
        appended: list[PersonAddition] = []
        careful: list[PersonAddition] = []
        written: list[Person] = []
        for addition in additions:
            known = self._persons.known(organisation_id, addition.person_id)
            person = None if known is None else self._decoded_person(organisation_id, known[1])
            changed = None if person is None else _with_addition(person, addition)
            if person is None or changed is None or changed == person:
                careful.append(addition)
                continue
            next_version = replace(changed, version=person.version + 1)
            versions.append((addition.person_id, next_version.version, person_document(next_version)))
            appended.append(addition)
            written.append(next_version)
        return versions, appended, careful, written

    def _decoded_person(self, organisation_id: str, document: Document) -> Person:
        key = (organisation_id, document["person_id"])
        decoded = self._decoded.get(key)
        if decoded is not None and decoded[0] is document:
            return decoded[1]
        person = person_from(document)
        self._keep_decoded(key, document, person)
        return person

    def _decoded_as_stored(self, organisation_id: str, persons: Sequence[Person], inserted: Sequence[bool]) -> None:
        """Each person inserted, decoded already, for the document the versions now know them by."""
        for person, done in zip(persons, inserted, strict=True):
            known = self._persons.known(organisation_id, person.person_id) if done else None
            if known is not None and known[0] == person.version:
                self._keep_decoded((organisation_id, person.person_id), known[1], person)

    def _keep_decoded(self, key: tuple[str, str], document: Document, person: Person) -> None:
        self._decoded[key] = (document, person)
        self._decoded.move_to_end(key)
        if len(self._decoded) > DECODED_PERSONS_KEPT:
            # An OrderedDict's oldest goes at once, where a dict's first key is found past every one removed before.
            self._decoded.popitem(last=False)

    async def _add_carefully(self, organisation_id: str, careful: Sequence[PersonAddition]) -> None:
        for addition in careful:
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
        await self.confirm_salt()
        joining: dict[str, list[str]] = {}
        for keys, person_id in additions:
            for key in keys:
                joining.setdefault(self._stored_block_key(key), []).append(person_id)
        # From what this process last saw of each block (read moments ago to decide), or as a new block:
        # one insert per block, and the careful way for any block someone changed meanwhile.
        versions: list[tuple[str, int, Document]] = []
        late: list[str] = []
        # A block this process has not seen (not read to decide: a link by identifier, after a restart) may exist:
        # its first version would be taken, and the failed append taken for someone else's write.
        listed = self._blocks.keys
        unseen = [
            key
            for key in joining
            if self._blocks.known(organisation_id, key) is None and not (listed and listed.absent(organisation_id, key))
        ]
        for start in range(0, len(unseen), BLOCKS_READ_AT_ONCE):
            await asyncio.gather(
                *(self._blocks.latest(organisation_id, key) for key in unseen[start : start + BLOCKS_READ_AT_ONCE])
            )
        for key, person_ids in joining.items():
            known = self._blocks.known(organisation_id, key)
            version, members = (0, []) if known is None else (known[0], list(known[1]["members"]))
            for person_id in person_ids:
                if person_id not in members and len(members) < BLOCK_CAPACITY:
                    members.append(person_id)
            if known is None or len(members) > len(known[1]["members"]):
                versions.append((key, version + 1, {"organisation_id": organisation_id, "members": members}))
                late.append(key)
        appended_all = await self._blocks.append_many(organisation_id, versions)
        if versions:
            await self._epochs.wrote(organisation_id)
        for key, appended in zip(late, appended_all, strict=True):
            if not appended:
                for person_id in joining[key]:
                    await self._add_member(self._blocks, organisation_id, key, person_id, limit=BLOCK_CAPACITY)

    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None:
        key = _key(organisation_id, identifier.digest.key)
        if self._identifier_keys.absent(organisation_id, identifier.digest.key):
            return None
        known = self._owners.get(key)
        if known is not None:
            owner, generation = known
            if (owner is None and self._epochs.trusts(organisation_id, generation)) or (
                owner is not None and self._still_listed(organisation_id, owner, identifier)
            ):
                self._owners.move_to_end(key)
                return owner
        return await self._read_owner(organisation_id, identifier)

    async def _read_owner(self, organisation_id: str, identifier: Identifier) -> str | None:
        key = _key(organisation_id, identifier.digest.key)
        generation = self._epochs.generation(organisation_id)
        before = self._owners.get(key)
        document = await self._identifier_reads.find_one(key)
        if document is None:
            # A claim this process made while the answer was on its way is newer than the absence: it stays known.
            meanwhile = self._owners.get(key)
            if meanwhile is None or meanwhile is before or meanwhile[0] is None:
                self._remember_owner(key, None, generation)
            return None
        owner = str(document["person_id"])
        self._remember_owner(key, owner)
        return owner

    def _still_listed(self, organisation_id: str, person_id: str, identifier: Identifier) -> bool:
        """Does the latest version of the person this process knows, while it may answer from it, still hold the
        identifier? An identifier leaves its person only when released: by an erasure, which a later version of the
        person shows (and the reader of the person finds it), or by a creation that lost a race, whose person was
        never stored; or when an unmerge hands it to a restored person (`reassign`) and rewrites its holder without
        it. Once another process has written (the epoch moved), what this one knows of the holder may predate such
        an unmerge: the identifier's owner is read again, or the fact would go to the holder once more."""
        known = self._persons.trusted(organisation_id, person_id)
        return (
            known is not None
            and known[1]["status"] != PersonStatus.ERASED.value
            and identifier.key in known[1]["identifiers"]
        )

    def _remember_owner(self, key: str, person_id: str | None, generation: int = 0) -> None:
        self._owners[key] = (person_id, generation)
        self._owners.move_to_end(key)
        while len(self._owners) > self._cached_owners:
            self._owners.popitem(last=False)

    async def claim(self, organisation_id: str, identifier: Identifier, person_id: str) -> str:
        key = _key(organisation_id, identifier.digest.key)
        try:
            await self._identifiers.insert_one(
                {"_id": key, "organisation_id": organisation_id, "kind": identifier.kind, "person_id": person_id}
            )
        except DuplicateKeyError:
            self._claimed_before(organisation_id, identifier)
            owner = await self._read_owner(organisation_id, identifier)
            # Released between the two calls (an erasure): try once more rather than report nobody.
            return owner if owner is not None else await self.claim(organisation_id, identifier, person_id)
        self._claimed(organisation_id, identifier, person_id)
        await self._epochs.wrote(organisation_id)
        return person_id

    def _claimed(self, organisation_id: str, identifier: Identifier, person_id: str) -> None:
        self._remember_owner(_key(organisation_id, identifier.digest.key), person_id)
        self._identifier_keys.add(organisation_id, identifier.digest.key)

    def _claimed_before(self, organisation_id: str, identifier: Identifier) -> None:
        """An identifier this process meant to claim has an owner already: unless this process claimed it
        (another of its tasks, or an earlier delivery of the fact), someone else writes the organisation."""
        known = self._owners.pop(_key(organisation_id, identifier.digest.key), None)
        if known is None or known[0] is None:
            self._epochs.distrust(organisation_id, "claim")

    async def release(self, organisation_id: str, identifier: Identifier, person_id: str) -> None:
        key = _key(organisation_id, identifier.digest.key)
        released = await self._identifiers.delete_one({"_id": key, "person_id": person_id})
        # Released already, and perhaps claimed since: a claim this process knows of stays known.
        known_owner = self._owners.get(key, (None, 0))[0]
        if released.deleted_count or known_owner in (None, person_id):
            self._owners.pop(key, None)
        if released.deleted_count == 0:
            return
        self._identifier_keys.discard(organisation_id, identifier.digest.key)
        await self._epochs.wrote(organisation_id)

    async def reassign(
        self, organisation_id: str, identifier: Identifier, from_person: str, to_person: str
    ) -> str | None:
        key = _key(organisation_id, identifier.digest.key)
        moved = await self._identifiers.update_one(
            {"_id": key, "person_id": from_person}, {"$set": {"person_id": to_person}}
        )
        if moved.modified_count == 0:
            return await self._read_owner(organisation_id, identifier)
        self._remember_owner(key, to_person)
        await self._epochs.wrote(organisation_id)
        return to_person

    async def release_all(self, organisation_id: str, person_id: str) -> None:
        # No index serves this: erasures are rare, and a scan of the identifiers is their price.
        owned = [
            str(document["_id"])
            async for document in self._identifiers.find(
                {"organisation_id": organisation_id, "person_id": person_id}, {"_id": 1}
            )
        ]
        for key in owned:
            released = await self._identifiers.delete_one({"_id": key, "person_id": person_id})
            self._owners.pop(key, None)
            if released.deleted_count:
                self._identifier_keys.discard(organisation_id, key[len(organisation_id) + 1 :])
        if owned:
            await self._epochs.wrote(organisation_id)

    async def person(self, organisation_id: str, person_id: str) -> Person | None:
        latest = await self._persons.latest(organisation_id, person_id)
        if latest is None:
            # Persons erased before erasures kept their versions' ids left only this tombstone.
            tombstone = await self._person_documents.find_one({"_id": f"{_key(organisation_id, person_id)}#0"})
            return None if tombstone is None else person_from(tombstone)
        return self._decoded_person(organisation_id, latest[1])

    async def insert_person(self, person: Person) -> None:
        await self._persons.append(person.organisation_id, person.person_id, 1, person_document(person))
        await self._epochs.wrote(person.organisation_id)

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
        # First from the version this process last saw: the append is the check, and fails if it is stale.
        known = self._persons.known(organisation_id, person_id)
        person = self._decoded_person(organisation_id, known[1]) if known is not None else None
        fresh = person is None
        while True:
            if person is None:
                person = await self.person(organisation_id, person_id)
                fresh = True
            if person is None:
                return
            changed = _with_addition(
                person,
                PersonAddition(
                    person_id,
                    identifiers=identifiers,
                    records=records,
                    household_id=household_id,
                    household_at=household_at,
                    kept_apart_from=kept_apart_from,
                ),
            )
            if changed is None:
                return
            if changed == person and fresh:
                return
            if changed != person and await self._append_person(changed, person.version):
                return
            # Stale: nothing to add by an old view (it may have been stripped since), or someone wrote first.
            person = None

    async def replace_person(self, person: Person, *, expected_version: int) -> bool:
        current = await self.person(person.organisation_id, person.person_id)
        # An erased person is never written back: the version appended after the erasure's would be theirs.
        if current is None or current.version != expected_version or current.status is PersonStatus.ERASED:
            return False
        if not await self._append_person(person, expected_version):
            return False
        if person.status is PersonStatus.ERASED:
            await self._erase_versions(person, expected_version + 1)
        return True

    async def _append_person(self, person: Person, read_version: int) -> bool:
        version = read_version + 1
        # An erasure or a scrub appends this way: the person kept decoded as they were must not keep what it takes
        # away until others take their place.
        self._decoded.pop((person.organisation_id, person.person_id), None)
        appended = await self._persons.append(
            person.organisation_id, person.person_id, version, person_document(replace(person, version=version))
        )
        if appended:
            await self._epochs.wrote(person.organisation_id)
        return appended

    async def _erase_versions(self, erased: Person, erased_version: int) -> None:
        # Earlier versions hold the person's data: each becomes the erased person, which holds none.
        await self._persons.overwrite_earlier(
            erased.organisation_id, erased.person_id, erased_version, person_document(replace(erased, version=0))
        )

    async def set_status(
        self,
        organisation_id: str,
        person_id: str,
        *,
        status: PersonStatus,
        merged_into: str | None,
        expected: PersonStatus,
    ) -> bool:
        while True:
            person = await self.person(organisation_id, person_id)
            if person is None or person.status is not expected:
                return False
            if await self._append_person(replace(person, status=status, merged_into=merged_into), person.version):
                return True

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]:
        await self.confirm_salt()
        # Side by side: the blocks this process cannot answer for are read in the same round trips.
        latest = await self._blocks.latest_all(organisation_id, [self._stored_block_key(key) for key in keys])
        return {
            key: [] if found is None else list(found[1]["members"]) for key, found in zip(keys, latest, strict=True)
        }

    async def confirm_salt(self) -> None:
        """Raises `SaltMismatchError` if the store's blocks were hashed with another salt: a process set up without
        the service's (a command run from a shell lacking it) would file persons under keys no one reads."""
        if self._salt_confirmed:
            return
        fingerprint = hashlib.blake2b(b"fingerprint", key=self._block_salt, digest_size=8).hexdigest()
        with contextlib.suppress(DuplicateKeyError):
            await self._maintenance.insert_one({"_id": BLOCKS_SALT, "fingerprint": fingerprint})
        recorded = await self._maintenance.find_one({"_id": BLOCKS_SALT})
        if recorded is not None and recorded["fingerprint"] != fingerprint:
            raise SaltMismatchError(
                "this store's blocking keys were hashed with another PARTERRE_IDENTITY_SUPPRESSION_SALT: "
                "set the one the identity service runs with",
                "les clés de blocage de cette base de données ont été hachées avec un autre "
                "PARTERRE_IDENTITY_SUPPRESSION_SALT : donnez celui avec lequel le service d'identité fonctionne",
            )
        self._salt_confirmed = True

    def _stored_block_key(self, key: str) -> str:
        """A blocking key as stored: a keyed hash. A key is made of a phone, a mailbox name or a family name, and
        a block only an erased person was in stays (see `_leave`): its key must tell nothing of them."""
        return _keyed_block_hash(self._block_salt, key)

    async def add_to_blocks(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        # A record has several keys: one insert for them all rather than a round trip per key.
        await self.add_to_blocks_all(organisation_id, [(keys, person_id)])

    async def active_persons(self, organisation_id: str | None) -> AsyncIterator[Person]:
        # Every person has a first version, found by a query, and the latest is read from it as any read finds it:
        # no list of persons held, however many there are.
        names: list[tuple[str, str]] = []
        async for document in self._person_documents.find(_first_versions(organisation_id), _PERSON_NAME):
            names.append((str(document["organisation_id"]), str(document["person_id"])))
            if len(names) == PERSONS_READ_AT_ONCE:
                for person in await self._latest_persons(names):
                    yield person
                names = []
        for person in await self._latest_persons(names):
            yield person

    async def _latest_persons(self, names: Sequence[tuple[str, str]]) -> list[Person]:
        found = await asyncio.gather(*(self.person(organisation_id, person_id) for organisation_id, person_id in names))
        return [person for person in found if person is not None and person.is_active]

    async def count_persons(self, organisation_id: str | None) -> int:
        return await self._person_documents.count_documents(_first_versions(organisation_id))

    async def blocks_filed_under(self) -> int | None:
        return await self._recorded_version(BLOCKS_VERSION)

    async def identifiers_written_under(self) -> int | None:
        return await self._recorded_version(IDENTIFIERS_VERSION)

    async def record_identifiers_written_under(self, version: int) -> None:
        await self._record_version(IDENTIFIERS_VERSION, version)

    async def _recorded_version(self, name: str) -> int | None:
        recorded = await self._maintenance.find_one({"_id": name})
        return None if recorded is None else int(recorded["version"])

    async def _record_version(self, name: str, version: int) -> None:
        # One document, replaced whole: writers of one release record the same version.
        await self._maintenance.replace_one(
            {"_id": name}, {"version": version, "recorded_at": datetime.now(UTC)}, upsert=True
        )

    async def record_blocks_filed_under(self, version: int) -> None:
        # Every person is filed under hashed keys now: blocks stored under keys in clear, by releases before, are
        # read by no one and still name phones and mailboxes, erased persons' too.
        # One command: `_id` is `<organisation>|<key>#<version>`, and a key in clear starts with a two-letter kind.
        await self._block_documents.delete_many({"_id": {"$regex": f"^[^|]*[|]{BLOCK_KEY_IN_CLEAR}"}})
        await self._record_version(BLOCKS_VERSION, version)

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]:
        latest = await self._households.latest(organisation_id, household_id)
        return [] if latest is None else list(latest[1]["members"])

    async def join_household(self, organisation_id: str, household_id: str, person_ids: Sequence[str]) -> None:
        for person_id in person_ids:
            await self._add_member(self._households, organisation_id, household_id, person_id, limit=None)

    async def join_households(self, organisation_id: str, joins: Sequence[tuple[str, Sequence[str]]]) -> None:
        # As `add_to_persons`: each household from the latest version this process can tell (without a round trip
        # while no other process writes), one insert for them all, and the careful way for one changed meanwhile.
        joining: dict[str, list[str]] = {}
        for household_id, person_ids in joins:
            members = joining.setdefault(household_id, [])
            members.extend(person_id for person_id in person_ids if person_id not in members)
        found = await asyncio.gather(
            *(self._households.latest(organisation_id, household_id) for household_id in joining)
        )
        versions: list[tuple[str, int, Document]] = []
        for (household_id, person_ids), latest in zip(joining.items(), found, strict=True):
            version, members = (0, []) if latest is None else (latest[0], list(latest[1]["members"]))
            new = [person_id for person_id in person_ids if person_id not in members]
            if new:
                document = {"organisation_id": organisation_id, "members": [*members, *new]}
                versions.append((household_id, version + 1, document))
        appended = await self._households.append_many(organisation_id, versions) if versions else []
        if any(appended):
            await self._epochs.wrote(organisation_id)
        for (household_id, _version, _document), done in zip(versions, appended, strict=True):
            if not done:
                await self.join_household(organisation_id, household_id, joining[household_id])

    async def _add_member(
        self, chain: VersionedDocuments, organisation_id: str, key: str, member: str, *, limit: int | None
    ) -> None:
        # First from what this process last saw (usually read moments ago); a stale view fails the append.
        latest = chain.known(organisation_id, key)
        while True:
            if latest is None:
                latest = await chain.latest(organisation_id, key)
            version, members = (0, []) if latest is None else (latest[0], list(latest[1]["members"]))
            if member in members or (limit is not None and len(members) >= limit):
                return
            document = {"organisation_id": organisation_id, "members": [*members, member]}
            if await chain.append(organisation_id, key, version + 1, document):
                await self._epochs.wrote(organisation_id)
                return
            latest = None

    async def insert_merge(self, merge: MergeRecord) -> MergeRecord:
        try:
            await self._merges.insert_one({"_id": _key(merge.organisation_id, merge.merge_id), **merge_document(merge)})
        except DuplicateKeyError:
            stored = await self.merge(merge.organisation_id, merge.merge_id)
            assert stored is not None
            return stored
        return merge

    async def merge(self, organisation_id: str, merge_id: str) -> MergeRecord | None:
        document = await self._merge_reads.find_one(_key(organisation_id, merge_id))
        return None if document is None else merge_from(document)

    async def merges_involving(self, organisation_id: str, person_id: str) -> list[MergeRecord]:
        cursor = self._merges.find({"organisation_id": organisation_id, "persons": person_id})
        return [merge_from(document) async for document in cursor]

    async def merges_caused_by(self, organisation_id: str, cause: str) -> list[MergeRecord]:
        cursor = self._merges.find({"organisation_id": organisation_id, "cause": cause})
        return [merge_from(document) async for document in cursor]

    async def claim_unmerge(self, claim: UnmergeClaim) -> UnmergeClaim:
        key = _key(claim.organisation_id, claim.merge_id)
        try:
            await self._unmerge_claims.insert_one({"_id": key, **unmerge_claim_document(claim)})
        except DuplicateKeyError:
            stored = await self._unmerge_claims.find_one({"_id": key})
            assert stored is not None, "unmerge claims are never deleted"
            return unmerge_claim_from(stored)
        return claim

    async def mark_undone(self, organisation_id: str, merge_id: str, *, at: datetime, by: str) -> bool:
        result = await self._merges.update_one(
            {"_id": _key(organisation_id, merge_id), "undone_at": None}, {"$set": {"undone_at": at, "undone_by": by}}
        )
        return result.modified_count == 1

    async def keep_copies(
        self, organisation_id: str, merge_id: str, merged: tuple[Person, ...], before: SurvivorBefore | None
    ) -> None:
        merge = await self.merge(organisation_id, merge_id)
        assert merge is not None, "merges are never deleted"
        document = merge_document(replace(merge, merged=merged, survivor_before=before))
        await self._merges.update_one(
            {"_id": _key(organisation_id, merge_id)},
            {"$set": {"merged": document["merged"], "survivor_before": document["survivor_before"]}},
        )

    async def scrub_merges(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        for merge in await self.merges_involving(organisation_id, person_id):
            scrubbed = merge.without_erased(person_id, digests)
            if scrubbed != merge:
                document = merge_document(scrubbed)
                scrubbed_fields = {"merged": document["merged"], "evidence": document["evidence"]}
                if person_id == merge.survivor_id:
                    # Only then changed: rewritten from this read otherwise, it could undo an unmerge's step since.
                    scrubbed_fields["survivor_before"] = document["survivor_before"]
                await self._merges.update_one({"_id": _key(organisation_id, merge.merge_id)}, {"$set": scrubbed_fields})

    async def scrub_records(self, organisation_id: str, person_id: str, erased: Collection[Identifier]) -> None:
        erased = frozenset(erased)

        def without_erased(person: Person) -> Person:
            return replace(
                person, identifiers=person.identifiers - erased, records=records_without_erased(person.records, erased)
            )

        while True:
            person = await self.person(organisation_id, person_id)
            if person is None or person.status is PersonStatus.ERASED:
                return
            scrubbed = without_erased(person)
            if scrubbed == person:
                latest = person.version
                break
            # A new version, not the latest rewritten: a process that knows it would append to it unchanged.
            if await self._append_person(scrubbed, person.version):
                latest = person.version + 1
                break

        def rewritten(document: Document) -> Document:
            held = person_from(document)
            scrubbed = without_erased(held)
            return document if scrubbed == held else {**document, **person_document(scrubbed)}

        # Each earlier version holds the person as it was then: with what a merge undone since gave it, maybe.
        await self._persons.rewrite_earlier(organisation_id, person_id, latest, rewritten)

    async def scrub_journal(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        # No index serves this: erasures are rare, and a scan of the journal is their price. One scan finds every
        # entry that names them, whoever it is about: an index on the claims would cost every fact a write.
        about: list[Document] = [{"decision.person_id": person_id}]
        if digests:
            keys = sorted(digest.key for digest in digests)
            about.append({"decision.merge.evidence_digests": {"$in": keys}})
            about.append({"decision.claim_digests": {"$in": keys}})
        found = [document async for document in self._journal.find({"organisation_id": organisation_id, "$or": about})]
        for document in found:
            decision = decision_from(document["decision"])
            scrubbed = decision.without_erased(person_id, digests)
            if scrubbed != decision:
                await self._journal.update_one(
                    {"_id": document["_id"]}, {"$set": {"decision": decision_document(scrubbed)}}
                )

    async def leave_blocks(self, organisation_id: str, person_id: str) -> None:
        await self._leave_every(self._blocks, self._block_documents, organisation_id, person_id)

    async def leave_blocks_under(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        await self.confirm_salt()
        for key in sorted({self._stored_block_key(key) for key in keys}):
            await self._leave(self._blocks, self._block_documents, organisation_id, key, person_id, ())
        if keys:
            await self._epochs.wrote(organisation_id)

    async def leave_households(self, organisation_id: str, person_id: str) -> None:
        await self._leave_every(self._households, self._household_documents, organisation_id, person_id)

    async def leave_household(self, organisation_id: str, household_id: str, person_id: str) -> None:
        await self._leave_every(
            self._households, self._household_documents, organisation_id, person_id, only=household_id
        )

    async def _leave_every(
        self,
        chain: VersionedDocuments,
        documents: AsyncCollection[Document],
        organisation_id: str,
        person_id: str,
        *,
        only: str | None = None,
    ) -> None:
        """Takes the person out of every group (block, household) of `chain` that lists them, or of the group
        `only`, in every version."""
        # No index serves this: every version of every group listing the person, in one scan.
        listing: dict[str, list[str]] = {}
        prefix = len(organisation_id) + 1
        async for document in documents.find({"organisation_id": organisation_id, "members": person_id}, {"_id": 1}):
            version_id = str(document["_id"])
            key = version_id[prefix:].rsplit("#", 1)[0]
            if only is None or key == only:
                listing.setdefault(key, []).append(version_id)
        for key, version_ids in sorted(listing.items()):
            await self._leave(chain, documents, organisation_id, key, person_id, version_ids)
        if listing:
            await self._epochs.wrote(organisation_id)

    async def _leave(
        self,
        chain: VersionedDocuments,
        documents: AsyncCollection[Document],
        organisation_id: str,
        key: str,
        person_id: str,
        listing: Sequence[str],
    ) -> None:
        """Takes the person out of the group `key`, whose versions `listing` were found to list them."""
        # First a version without the person: a process that knows an older one, and would copy its members,
        # fails to append after it and reads this one.
        chain.forget(organisation_id, key)
        latest = await chain.latest(organisation_id, key)
        while latest is not None and person_id in latest[1]["members"]:
            version, document = latest
            left = {"organisation_id": organisation_id, "members": [m for m in document["members"] if m != person_id]}
            appended = await chain.append(organisation_id, key, version + 1, left)
            latest = (version + 1, left) if appended else await chain.latest(organisation_id, key)
        last = 0 if latest is None else latest[0]
        versions_kept = [f"{_key(organisation_id, key)}#{version}" for version in range(1, last + 1)]
        # The earlier versions keep everyone else, without the person. None is deleted, even when nobody is left:
        # a version's id set free would be taken again by a process that still knows the versions before it, and
        # what it appended there would be hidden from every other reader.
        versions = sorted({*versions_kept, *listing})
        for version_id, document in (await found_by_id(documents, versions)).items():
            if person_id in document.get("members", ()):
                members = [member for member in document["members"] if member != person_id]
                await documents.update_one({"_id": version_id}, {"$set": {"members": members}})

    async def insert_review(self, item: ReviewItem) -> None:
        with contextlib.suppress(DuplicateKeyError):
            await self._reviews.insert_one({"_id": _key(item.organisation_id, item.review_id), **review_document(item)})

    async def withdraw_reviews_naming(self, organisation_id: str, person_id: str, *, by: str, at: datetime) -> None:
        # No index serves the two names: erasures are rare, and the pending reviews few.
        pending = self._reviews.find(
            {
                "organisation_id": organisation_id,
                "status": ReviewStatus.PENDING.value,
                "$or": [{"person_id": person_id}, {"candidate_id": person_id}],
            },
            {"_id": 1},
        )
        for review_id in [document["_id"] async for document in pending]:
            # Only from pending, as a verdict is recorded: one recorded meanwhile stands.
            await self._reviews.update_one(
                {"_id": review_id, "status": ReviewStatus.PENDING.value},
                {"$set": {"status": ReviewStatus.WITHDRAWN.value, "decided_by": by, "decided_at": at}},
            )
        # A reviewer's note may say anything of them: it goes from every review naming them, and from its verdict.
        naming = self._reviews.find(
            {"organisation_id": organisation_id, "$or": [{"person_id": person_id}, {"candidate_id": person_id}]},
            {"_id": 1},
        )
        for review_id in [document["_id"] async for document in naming]:
            await self._reviews.update_one({"_id": review_id}, {"$set": {"note": None}})
            await self._review_claims.update_one({"_id": review_id}, {"$set": {"note": None}})

    async def review(self, organisation_id: str, review_id: str) -> ReviewItem | None:
        document = await self._reviews.find_one({"_id": _key(organisation_id, review_id)})
        return None if document is None else review_from(document)

    async def reviews(
        self, organisation_id: str, status: ReviewStatus, limit: int, *, after: ReviewItem | None = None
    ) -> list[ReviewItem]:
        query: Document = {"organisation_id": organisation_id, "status": status.value}
        if after is not None:
            # Past `after` in the sort's order: later, or as old with a greater id.
            query["$or"] = [
                {"created_at": {"$gt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$gt": _key(organisation_id, after.review_id)}},
            ]
        cursor = self._reviews.find(
            query,
            sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
            limit=limit,
        )
        return [review_from(document) async for document in cursor]

    async def claim_review(self, claim: ReviewClaim) -> ReviewClaim:
        key = _key(claim.organisation_id, claim.review_id)
        try:
            await self._review_claims.insert_one({"_id": key, **review_claim_document(claim)})
        except DuplicateKeyError:
            stored = await self._review_claims.find_one({"_id": key})
            if stored is None:
                # Dropped between the two calls (an accept that found nothing to merge): claim afresh.
                return await self.claim_review(claim)
            return review_claim_from(stored)
        return claim

    async def drop_review_claim(self, organisation_id: str, review_id: str, decision: ReviewStatus) -> None:
        await self._review_claims.delete_one({"_id": _key(organisation_id, review_id), "decision": decision.value})

    async def decide_review(
        self, organisation_id: str, review_id: str, *, status: ReviewStatus, by: str, at: datetime, note: str | None
    ) -> bool:
        update: dict[str, Any] = {"status": status.value, "decided_by": by, "decided_at": at, "note": note}
        result = await self._reviews.update_one(
            {"_id": _key(organisation_id, review_id), "status": ReviewStatus.PENDING.value}, {"$set": update}
        )
        return result.modified_count == 1

    async def suppress(self, organisation_id: str, hashes: Sequence[str]) -> None:
        for value in hashes:
            with contextlib.suppress(DuplicateKeyError):
                await self._suppressions.insert_one(
                    {"_id": _key(organisation_id, value), "organisation_id": organisation_id}
                )
        self._suppressing[organisation_id] = (True, self._epochs.generation(organisation_id))
        await self._epochs.wrote(organisation_id)

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        await self._privacy.log_export(organisation_id, person_id, at=at, requested_by=requested_by, details=details)

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        return await self._privacy.entries_of(organisation_id, person_id)

    async def suppressions_exist(self, organisation_id: str) -> bool:
        known = self._suppressing.get(organisation_id)
        if known is not None and self._epochs.trusts(organisation_id, known[1]):
            return known[0]
        generation = self._epochs.generation(organisation_id)
        # Suppressions are few (erased persons who asked not to be added again): where no index serves this
        # query (FerretDB), the scan is short.
        found = await self._suppressions.find_one({"organisation_id": organisation_id}, {"_id": 1}) is not None
        # Suppressions are never lifted: one this process stored while the answer was on its way stays known.
        found = found or self._suppressing.get(organisation_id, (False, 0))[0]
        self._suppressing[organisation_id] = (found, generation)
        return found

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool:
        for value in hashes:
            if await self._suppressions.find_one({"_id": _key(organisation_id, value)}) is not None:
                return True
        return False

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        try:
            await self._filtered.insert_one(
                {
                    "_id": _key(organisation_id, hashlib.sha256(f"{organisation_id}|{event_id}".encode()).hexdigest()),
                    "organisation_id": organisation_id,
                    "reason": reason,
                    "at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True


@remembered
def _keyed_block_hash(salt: bytes, key: str) -> str:
    # Each key is hashed before every read and write of its block: a record's keys recur in every batch naming it.
    return STORED_BLOCK_KEY_PREFIX + hashlib.blake2b(key.encode(), key=salt, digest_size=16).hexdigest()
