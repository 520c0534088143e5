"""Merge records and review items: what identity keeps so every merge can be explained and undone."""

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.identity.domain.identifiers import Identifier, IdentifierDigest
from services.identity.domain.persons import Person
from services.identity.domain.records import NormalisedRecord
from shared.events.identity import MergeDecider


@dataclass(frozen=True, slots=True)
class SurvivorBefore:
    """The survivor as it was before a merge, as far as an unmerge needs it to give back what the merge took."""

    household_id: str | None = None
    household_at: datetime | None = None
    # Its records, no more than a person keeps: the merged persons' records push its oldest out of those kept, and
    # while it stays merged each later record pushes out one more that would otherwise still be kept.
    records: tuple[NormalisedRecord, ...] = ()


def survivor_before(survivor: Person) -> SurvivorBefore:
    return SurvivorBefore(survivor.household_id, survivor.household_at, survivor.records)


@dataclass(frozen=True, slots=True)
class MergeRecord:
    """Who was merged into whom, when, why and on which evidence, with the merged persons as they were."""

    merge_id: str
    organisation_id: str
    survivor_id: str
    # Snapshots taken at merge time: unmerge restores exactly these persons and identifiers.
    merged: tuple[Person, ...]
    evidence: tuple[IdentifierDigest, ...]
    reason: str
    decided_by: MergeDecider
    decided_at: datetime
    # The event or review that caused the merge.
    cause: str
    undone_at: datetime | None = None
    undone_by: str | None = None
    # None for a merge stored before it was kept: its unmerge leaves the survivor's household and own records as
    # it finds them.
    survivor_before: SurvivorBefore | None = None

    @property
    def merged_ids(self) -> list[str]:
        return [person.person_id for person in self.merged]

    def without_erased(
        self,
        person_id: str,
        digests: Collection[IdentifierDigest],
        records: Collection[NormalisedRecord] = (),
    ) -> "MergeRecord":
        """The merge as kept once `person_id` is erased: no snapshot or record of them, and of `digests` (their
        identifiers') only the kinds. Who was merged, when, why and on which kinds of evidence stays.

        Any other snapshot, and the survivor as it was, loses those identifiers and `records` (theirs): a person
        they were once folded into held copies of both, which an unmerge since gave back to them but left here."""

        def scrubbed(person: Person) -> Person:
            if person.person_id == person_id:
                return replace(person, identifiers=frozenset(), records=())
            kept_identifiers = frozenset(
                identifier for identifier in person.identifiers if identifier.digest not in digests
            )
            kept_records = tuple(record for record in person.records if record not in records)
            if (kept_identifiers, kept_records) == (person.identifiers, person.records):
                return person
            return replace(person, identifiers=kept_identifiers, records=kept_records)

        evidence = tuple(digest.erased() if digest in digests else digest for digest in self.evidence)
        before = self.survivor_before
        if before is not None:
            kept_records = (
                () if person_id == self.survivor_id else tuple(rec for rec in before.records if rec not in records)
            )
            if kept_records != before.records:
                before = replace(before, records=kept_records)
        return replace(self, merged=tuple(map(scrubbed, self.merged)), evidence=evidence, survivor_before=before)


def details_held_by(
    person: Person, merges_involving: Iterable[MergeRecord]
) -> tuple[frozenset[IdentifierDigest], frozenset[NormalisedRecord]]:
    """The digests of the identifiers and the records `person` holds, or held when merged into someone: what a
    merge record may have copied of them. Their snapshots outlive the records a person keeps (the newest few).
    What an undone merge into them gave back stays the given back person's, though a snapshot of them taken
    before it still holds it."""
    snapshot_identifiers: set[Identifier] = set()
    snapshot_records: set[NormalisedRecord] = set()
    given_back_identifiers: set[Identifier] = set()
    given_back_records: set[NormalisedRecord] = set()
    for merge in merges_involving:
        for merged in merge.merged:
            if merged.person_id == person.person_id:
                snapshot_identifiers |= merged.identifiers
                snapshot_records.update(merged.records)
            elif merge.survivor_id == person.person_id and merge.undone_at is not None:
                given_back_identifiers |= merged.identifiers
                given_back_records.update(merged.records)
    identifiers = person.identifiers | (snapshot_identifiers - given_back_identifiers)
    records = set(person.records) | (snapshot_records - given_back_records)
    return frozenset(identifier.digest for identifier in identifiers), frozenset(records)


class ReviewStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    # One of the two persons was erased: nobody may decide about them any more. Kept, not deleted, so that a
    # redelivered fact filing the same suggestion again finds it closed.
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A provisional person that may be a known one: a reviewer accepts (merge) or rejects (keep apart)."""

    review_id: str
    organisation_id: str
    person_id: str
    candidate_id: str
    probability: float
    agreements: Mapping[str, str]
    event_id: str
    created_at: datetime
    status: ReviewStatus = ReviewStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = field(default=None)


@dataclass(frozen=True, slots=True)
class ReviewClaim:
    """The one decision a review gets. The first claim stored wins; a review is never decided both ways."""

    organisation_id: str
    review_id: str
    decision: ReviewStatus
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class UnmergeClaim:
    """Who set out to undo a merge, and when: the first claim stored wins, so a merge is undone once."""

    organisation_id: str
    merge_id: str
    by: str
    at: datetime


def merge_reason(
    evidence: tuple[IdentifierDigest, ...], decided_by: MergeDecider, *, look_alike_probability: float | None = None
) -> str:
    """Why, in words an auditor reads, in French and English."""
    if decided_by is MergeDecider.REVIEWER:
        return "Doublon confirmé par une personne / Duplicate confirmed by a reviewer"
    kinds = ", ".join(sorted({digest.kind for digest in evidence}))
    if look_alike_probability is None:
        return f"Identifiants partagés / Shared identifiers: {kinds}"
    if not evidence:
        # A record matched each of them by name, address and the like: no identifier joins them.
        return (
            f"Même personne selon la comparaison des fiches (probabilité {look_alike_probability:.3f}) / "
            f"The same person by record comparison (probability {look_alike_probability:.3f})"
        )
    # The record that brought the identifiers also matched the other person by name, address and the like.
    return (
        f"Identifiants partagés ({kinds}) et même personne selon la comparaison des fiches (probabilité "
        f"{look_alike_probability:.3f}) / Shared identifiers ({kinds}) and the same person by record comparison "
        f"(probability {look_alike_probability:.3f})"
    )
