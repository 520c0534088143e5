"""A person as identity keeps them: the identifiers they own, the records seen of them, their household."""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from services.identity.domain.identifiers import Identifier
from services.identity.domain.records import NormalisedRecord
from shared.households import decided_after
from shared.moments import to_the_millisecond
from shared.records import quick_init, replaced
from shared.uuids import uuid5_hex

# Fixed forever: person, merge and review ids derive from it, so a redelivered event mints the same ids.
IDENTITY_NAMESPACE = UUID("3b7c5e1a-9f2d-4e8b-a6c4-71d0e2f9b358")
# Records kept per person for probabilistic matching; the newest are kept, since people move and change names.
MAX_RECORDS_PER_PERSON = 8


class PersonStatus(StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    ERASED = "erased"


@quick_init
@dataclass(frozen=True, slots=True)
class Person:
    person_id: str
    organisation_id: str
    created_at: datetime
    created_by_event: str
    status: PersonStatus = PersonStatus.ACTIVE
    merged_into: str | None = None
    identifiers: frozenset[Identifier] = frozenset()
    records: tuple[NormalisedRecord, ...] = ()
    household_id: str | None = None
    # When identity decided the household (see `moved_to_household`); None for one decided before it was kept.
    household_at: datetime | None = None
    # Persons an unmerge split from this one: no later record merges them again, only a reviewer can.
    kept_apart_from: frozenset[str] = frozenset()
    # Bumped by every change; unmerge rewrites a person only if nobody changed it since it was read.
    version: int = 0
    # Erased at their request not to be added again: salted hashes of their identifiers were kept first. Once
    # erased, nothing else tells whether they were, and their identifiers can no longer be hashed. None: stored by a
    # release that did not keep it, so unknown.
    do_not_readd: bool | None = False

    @property
    def is_active(self) -> bool:
        return self.status is PersonStatus.ACTIVE

    def first_names(self) -> set[str]:
        """The given names seen for this person, leaving out a family name that a swapped record put first."""
        given = {record.first_name for record in self.records if record.first_name}
        family = self.last_names()
        return (given - family) or given

    def last_names(self) -> set[str]:
        return {record.last_name for record in self.records if record.last_name}


def kept_apart(a: Person, b: Person) -> bool:
    """Whether an unmerge split `a` from `b` (or from a person since merged into either): they stay two."""
    return b.person_id in a.kept_apart_from or a.person_id in b.kept_apart_from


def add_record(records: tuple[NormalisedRecord, ...], record: NormalisedRecord) -> tuple[NormalisedRecord, ...]:
    """`records` with `record` last, without an identical copy, bounded to the newest few."""
    kept = tuple(existing for existing in records if existing != record)
    return (*kept, record)[-MAX_RECORDS_PER_PERSON:]


def matching_record(record: NormalisedRecord) -> NormalisedRecord:
    """What is worth keeping of a record for later matching: its fields without the parsing warnings."""
    return replace(record, warnings=()) if record.warnings else record


def _digest(*parts: str) -> str:
    return uuid5_hex(IDENTITY_NAMESPACE, "|".join(part.replace("|", "||") for part in parts))


def person_id_for(organisation_id: str, event_id: str) -> str:
    """The id of the person an event creates: the same event always creates the same person."""
    return f"per_{_digest(organisation_id, 'person', event_id)[:24]}"


def merge_id_for(organisation_id: str, cause: str, survivor: str, merged: list[str]) -> str:
    return f"mrg_{_digest(organisation_id, 'merge', cause, survivor, *sorted(merged))[:24]}"


def review_id_for(organisation_id: str, person_id: str, candidate_id: str) -> str:
    return f"rev_{_digest(organisation_id, 'review', *sorted((person_id, candidate_id)))[:24]}"


def moved_to_household(person: Person, household_id: str | None, at: datetime | None) -> Person:
    """The person in `household_id` as identity's decision of `at` says, unless the household the person shows was
    decided after it (see `decided_after`): a decision applied late (redelivered after a crash) never moves them
    back. Without `at`, the household is taken as before moments were kept."""
    if household_id is None:
        return person
    if at is None:
        return replace(person, household_id=household_id)
    if person.household_at is None and person.household_id == household_id:
        return replace(person, household_at=to_the_millisecond(at))
    if not decided_after(household_id, at, person.household_id, person.household_at):
        return person
    return replace(person, household_id=household_id, household_at=to_the_millisecond(at))


def with_addition(
    person: Person,
    *,
    identifiers: Iterable[Identifier] = (),
    records: Iterable[NormalisedRecord] = (),
    household_id: str | None = None,
    household_at: datetime | None = None,
    kept_apart_from: Iterable[str] = (),
    version: int | None = None,
) -> Person:
    """The person with what a resolution adds to it, as every store keeps it; `version`: the number a store that
    counts changes gives this one (the person's own otherwise)."""
    kept = person.records
    for record in records:
        kept = add_record(kept, record)
    # `replaced`: the batch command adds to a person for most of its records.
    return replaced(
        moved_to_household(person, household_id, household_at),
        identifiers=person.identifiers | frozenset(identifiers),
        records=kept,
        kept_apart_from=person.kept_apart_from | frozenset(kept_apart_from),
        version=person.version if version is None else version,
    )


def household_id_for(organisation_id: str, founder_person_id: str) -> str:
    return f"hh_{_digest(organisation_id, 'household', founder_person_id)[:24]}"


def suppression_hash(organisation_id: str, salt: str, identifier: Identifier) -> str:
    """A salted hash of an erased person's identifier: enough to refuse re-adding them, useless to recover it."""
    material = f"{salt}|{organisation_id}|{identifier.key}".encode()
    return hashlib.sha256(material).hexdigest()
