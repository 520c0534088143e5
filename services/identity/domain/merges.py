"""Merge records and review items: what identity keeps so every merge can be explained and undone."""

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.identity.domain.identifiers import IdentifierDigest
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

    def without_erased(self, person_id: str, digests: Collection[IdentifierDigest]) -> "MergeRecord":
        """The merge as kept once `person_id` is erased: no snapshot or record of them, and of `digests` (their
        identifiers') only the kinds. Who was merged, when, why and on which kinds of evidence stays."""
        merged = tuple(
            replace(person, identifiers=frozenset(), records=()) if person.person_id == person_id else person
            for person in self.merged
        )
        evidence = tuple(digest.erased() if digest in digests else digest for digest in self.evidence)
        before = self.survivor_before
        if before is not None and person_id == self.survivor_id:
            before = replace(before, records=())
        return replace(self, merged=merged, evidence=evidence, survivor_before=before)


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
