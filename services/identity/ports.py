"""What the identity handlers need from the outside world: the identity store and a publisher."""

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from services.identity.domain.identifiers import Identifier, IdentifierDigest, digest_from_key
from services.identity.domain.merges import (
    MergeRecord,
    ReviewClaim,
    ReviewItem,
    ReviewStatus,
    SurvivorBefore,
    UnmergeClaim,
)
from services.identity.domain.persons import Person, PersonStatus
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import Erasure, ReviewSuggestion
from shared.events.identity import MatchMethod
from shared.records import quick_init


@dataclass(frozen=True, slots=True)
class MergeDecision:
    survivor_id: str
    merged_ids: tuple[str, ...]
    # Identifier digests, not values: the journal outlives erasures and must hold no address or number.
    evidence_digests: tuple[str, ...]
    look_alike_probability: float | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    """A resolution as the journal keeps it: ids and identifier digests only, no personal data."""

    person_id: str
    created: bool
    method: MatchMethod
    confidence: float
    matched: tuple[str, ...]
    claim_digests: tuple[str, ...]
    merge: MergeDecision | None
    household_with: str | None
    review: ReviewSuggestion | None
    erasure: Erasure | None
    # See `Resolution`. A decision journaled before these were decided with it has no household id.
    household_id: str | None = None
    household_joiners: tuple[str, ...] = ()
    # See `Resolution`. A decision journaled before it was decided with it tells no one's history: the fact is
    # published as the resolved person's own, as it was then.
    history_of: str | None = None

    def without_erased(self, person_id: str, digests: Collection[IdentifierDigest]) -> "Decision":
        """The decision as kept once `person_id` is erased: what a redelivery republishes (ids, method, the
        kinds matched) stays; the digests of their claims go, as do `digests` (their identifiers') claimed for
        anyone else (a survivor claiming one while they were merged into it), and of `digests` in the merge
        evidence only the kinds stay."""
        erased_keys = {digest.key for digest in digests}
        claims = (
            () if self.person_id == person_id else tuple(key for key in self.claim_digests if key not in erased_keys)
        )
        merge = self.merge
        if merge is not None:
            evidence = tuple(
                digest.erased().key if digest in digests else digest.key
                for digest in map(digest_from_key, merge.evidence_digests)
            )
            merge = replace(merge, evidence_digests=evidence)
        return replace(self, claim_digests=claims, merge=merge)


@quick_init
@dataclass(frozen=True, slots=True)
class JournalEntry:
    """The decision about one event, written before it is applied: a redelivery re-applies the same decision."""

    organisation_id: str
    event_id: str
    decision: Decision
    decided_at: datetime
    applied: bool = False


@quick_init
@dataclass(frozen=True, slots=True)
class PersonAddition:
    """What a resolution adds to a known person: `IdentityStore.add_to_person`'s arguments."""

    person_id: str
    identifiers: Sequence[Identifier] = ()
    records: Sequence[NormalisedRecord] = ()
    household_id: str | None = None
    household_at: datetime | None = None
    kept_apart_from: Sequence[str] = ()


class IdentityReads(Protocol):
    """What deciding which person a fact is about reads: the store itself, or a consumer batch's view of it."""

    # Identifiers stay with the person that claimed them: a merge does not move them, `merged_into` is followed. An
    # unmerge may hand one the survivor claimed through a restored person's record to that person (`reassign`).
    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None: ...

    async def person(self, organisation_id: str, person_id: str) -> Person | None: ...

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]: ...

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]: ...

    async def suppressions_exist(self, organisation_id: str) -> bool:
        """Has the organisation suppressed any identifier? Most never have: one read spares one per identifier."""
        ...

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool: ...


class IdentityStore(IdentityReads, Protocol):
    """Identity state. Every write is idempotent and touches one document: no transactions are needed."""

    def trusting(self, organisation_ids: Iterable[str]) -> AbstractAsyncContextManager[None]:
        """A consumer batch's scope: within it, what this process knows of these organisations may answer reads
        without a round trip, as long as no other process wrote since (a store that is always exact ignores it)."""
        ...

    def forget_person(self, organisation_id: str, person_id: str) -> None:
        """The next read of the person asks the store itself, whatever this process knows of it."""

    async def fresh_person(self, organisation_id: str, person_id: str) -> Person | None:
        """The person as the store holds them now, asked of the store even where this process may answer from what
        it knows: what another process changed since this one last read them is seen."""
        ...

    async def journal_entry(self, organisation_id: str, event_id: str) -> JournalEntry | None: ...

    async def write_journal(self, entry: JournalEntry) -> JournalEntry:
        """Stores `entry` unless one exists for the event; returns the stored one."""

    async def claims_decided_for(
        self, organisation_id: str, person_ids: Collection[str], since: datetime
    ) -> frozenset[IdentifierDigest]:
        """The identifiers (digests) the journal's decisions made at or after `since` claimed for these persons."""

    async def mark_applied(self, organisation_id: str, event_id: str) -> None:
        """Records that the decision took effect; a later redelivery only republishes it."""

    async def drop_journal(self, organisation_id: str, event_id: str) -> None:
        """Forgets a decision that could not be applied (it lost a race), so the event is decided again."""

    # A consumer batch's writes, one round trip each where the store allows it. Each is idempotent like its
    # single-record twin, and reports what it could not do so the caller can take the careful path for it.
    async def write_journals(self, entries: Sequence[JournalEntry], *, batch_id: str | None = None) -> list[bool]:
        """Stores each entry unless one exists for its event; True for those stored by this call. `batch_id`: the
        consumer batch writing them, which records those it applied together (`mark_all_applied`)."""

    async def mark_all_applied(
        self, organisation_id: str, event_ids: Sequence[str], *, batch_id: str | None = None
    ) -> None:
        """`mark_applied` for each; with the `batch_id` their entries were written with, in one record."""

    async def claim_all(self, organisation_id: str, claims: Sequence[tuple[Identifier, str]]) -> list[bool]:
        """Gives each identifier to its person if nobody owns it; False where someone already did (maybe the
        same person, on a redelivery: the caller checks with `claim`)."""

    async def write_persons(
        self, organisation_id: str, created: Sequence[Person], additions: Sequence[PersonAddition]
    ) -> list[bool]:
        """`insert_person` for each person `created`, and `add_to_persons` for the additions, all of the
        organisation and each person once; True for each person created by this call (False: it existed)."""

    async def add_to_persons(self, organisation_id: str, additions: Sequence[PersonAddition]) -> None:
        """`add_to_person` for each; the persons must differ."""

    async def add_to_blocks_all(self, organisation_id: str, additions: Sequence[tuple[Sequence[str], str]]) -> None:
        """`add_to_blocks` for each (keys, person id)."""

    async def claim(self, organisation_id: str, identifier: Identifier, person_id: str) -> str:
        """Gives the identifier to `person_id` if nobody owns it; returns its owner (the unique key is the lock)."""

    async def release(self, organisation_id: str, identifier: Identifier, person_id: str) -> None:
        """Frees the identifier if `person_id` owns it (erasure, or a creation that lost a race)."""

    async def reassign(
        self, organisation_id: str, identifier: Identifier, from_person: str, to_person: str
    ) -> str | None:
        """Gives the identifier to `to_person` if `from_person` owns it, in one conditional update: never free in
        between for another to take (an unmerge moving it to the restored person it was claimed for). Returns its
        owner after; done again, it changes nothing."""

    async def release_all(self, organisation_id: str, person_id: str) -> None:
        """Frees every identifier `person_id` owns, known to them or not (an erasure done again: a resolver that
        decided before it may have claimed one for them after)."""

    async def insert_person(self, person: Person) -> None:
        """Stores a new person; nothing happens if it exists (a redelivered creation)."""

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
        """Adds identifiers (a set), records (the newest kept), the household decided at `household_at` (see
        `moved_to_household`) and persons to keep apart from (a set); bumps the version."""

    async def replace_person(self, person: Person, *, expected_version: int) -> bool:
        """Rewrites the person if its version is still `expected_version`; False if someone changed it meanwhile,
        or if they are erased: an erased person is never written back."""

    async def set_status(
        self,
        organisation_id: str,
        person_id: str,
        *,
        status: PersonStatus,
        merged_into: str | None,
        expected: PersonStatus,
    ) -> bool:
        """Changes the status only from `expected`; False when the person was not in that status."""

    async def add_to_blocks(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        """Files the person under each key, once; a block holding `BLOCK_CAPACITY` persons takes no one more."""

    def active_persons(self, organisation_id: str | None) -> AsyncIterator[Person]:
        """Every active person of one organisation, or of all, as last stored; for jobs that walk them all."""
        ...

    async def count_persons(self, organisation_id: str | None) -> int:
        """How many persons were ever stored, of any status: what `active_persons` walks through at most."""
        ...

    async def blocks_filed_under(self) -> int | None:
        """The version of the blocking keys (`BLOCKING_KEYS_VERSION`) every stored person is filed under, as last
        recorded; None if it never was."""
        ...

    async def record_blocks_filed_under(self, version: int) -> None: ...

    async def identifiers_written_under(self) -> int | None:
        """The version of the identifiers' written form (`IDENTIFIER_FORM_VERSION`) every stored person's addresses
        are claimed in, as last recorded; None if it never was."""
        ...

    async def record_identifiers_written_under(self, version: int) -> None: ...

    async def confirm_salt(self) -> None:
        """Raises if the stored blocking keys were hashed with another salt than this store's (a store that hashes
        none has nothing to confirm)."""

    async def join_household(self, organisation_id: str, household_id: str, person_ids: Sequence[str]) -> None: ...

    async def join_households(self, organisation_id: str, joins: Sequence[tuple[str, Sequence[str]]]) -> None:
        """`join_household` for each (household id, persons), in a few round trips."""
        ...

    async def insert_merge(self, merge: MergeRecord) -> MergeRecord:
        """Stores the merge unless it exists; returns the stored one."""

    async def merge(self, organisation_id: str, merge_id: str) -> MergeRecord | None: ...

    async def merges_involving(self, organisation_id: str, person_id: str) -> list[MergeRecord]: ...

    async def merges_caused_by(self, organisation_id: str, cause: str) -> list[MergeRecord]:
        """The merges an event or a review (its id) caused, undone ones included."""

    # Operators' decisions are made exclusive by inserting a claim on a unique key: on FerretDB an update is a
    # read then a write-back, so two guarded updates of one document can both succeed; an insert cannot.
    async def claim_unmerge(self, claim: UnmergeClaim) -> UnmergeClaim:
        """Stores the claim unless the merge has one; returns the stored one (the unique key is the lock)."""

    async def mark_undone(self, organisation_id: str, merge_id: str, *, at: datetime, by: str) -> bool:
        """Marks the merge undone unless it already is; False if it was. Not a lock: the unmerge claim is."""

    async def keep_copies(
        self, organisation_id: str, merge_id: str, merged: tuple[Person, ...], before: SurvivorBefore | None
    ) -> None:
        """The merge keeps `merged` as the persons it merged and `before` as the survivor it found."""

    # An erasure's steps: each idempotent, so an erasure stopped midway is finished by doing it again.
    async def scrub_merges(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        """Every merge involving the person becomes `MergeRecord.without_erased`: ids, kinds of evidence, no
        snapshot of them, no digest of `digests` (their identifiers')."""

    async def scrub_records(self, organisation_id: str, person_id: str, erased: Collection[Identifier]) -> None:
        """The person, in every version kept, without another person's `erased` identifiers: its records as
        `records_without_erased` keeps them, and its identifiers without them (a version from while the other was
        merged into it holds theirs). An erased person is left as stored."""

    async def scrub_journal(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        """Every journal entry deciding about the person, or holding one of `digests` as merge evidence, keeps
        `Decision.without_erased`: a redelivery still republishes the same events."""

    async def leave_blocks(self, organisation_id: str, person_id: str) -> None:
        """The person leaves every block, in every version kept. A block left with nobody may stay, listing no one:
        its key as stored tells nothing of them (hashed, or the block is gone)."""

    async def leave_blocks_under(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        """The person leaves the blocks of these keys, in every version kept (an unmerge: the survivor gave back the
        records filed there)."""

    async def leave_households(self, organisation_id: str, person_id: str) -> None:
        """The person leaves every household, in every version kept: the other members no longer list them."""

    async def leave_household(self, organisation_id: str, household_id: str, person_id: str) -> None:
        """The person leaves the household, in every version kept: its members no longer list them."""

    async def insert_review(self, item: ReviewItem) -> None: ...

    async def withdraw_reviews_naming(self, organisation_id: str, person_id: str, *, by: str, at: datetime) -> None:
        """Every pending review naming the person, as either of its two, becomes withdrawn (an erasure's step);
        every review naming them, decided or not, and its verdict keep no reviewer's note (it may name them)."""

    async def review(self, organisation_id: str, review_id: str) -> ReviewItem | None: ...

    async def reviews(
        self, organisation_id: str, status: ReviewStatus, limit: int, *, after: ReviewItem | None = None
    ) -> list[ReviewItem]:
        """Up to `limit` reviews of `status`, oldest filed first (`created_at`, ties by id), those after `after`
        when given."""

    async def claim_review(self, claim: ReviewClaim) -> ReviewClaim:
        """Stores the claim unless the review has one; returns the stored one (the unique key is the lock)."""

    async def drop_review_claim(self, organisation_id: str, review_id: str, decision: ReviewStatus) -> None:
        """Forgets the review's claim if it holds `decision`: a decision that could not take effect."""

    async def decide_review(
        self, organisation_id: str, review_id: str, *, status: ReviewStatus, by: str, at: datetime, note: str | None
    ) -> bool:
        """Records the decision if the item is still pending; False otherwise. Not a lock: the review claim is."""

    async def suppress(self, organisation_id: str, hashes: Sequence[str]) -> None: ...

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        """Notes that what identity holds about the person was exported (Law 25 asks that exports be accounted
        for), naming them by `person_digest`: the note outlives an erasure of the person."""

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        """The exports noted of the person, oldest first: `action`, `at`, `requested_by` and `details` each."""

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        """Notes that an upstream fact stops here on purpose, and why (the reconciliation's `filtered`); False if
        it was noted before, whatever the reason then."""
