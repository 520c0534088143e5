"""Deciding which person a record is about: link, create, or merge, from what the store found. No I/O."""

import itertools
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

from rapidfuzz.distance import DamerauLevenshtein

from services.identity.domain.identifiers import (
    Identifier,
    IdentifierPolicy,
    IdentifierType,
    as_written_today,
    count_by_kind,
    named_identifiers,
)
from services.identity.domain.matching import (
    Band,
    Level,
    MatchBands,
    MatchModel,
    best_candidate,
    birth_dates_differ,
    compare,
    first_names_clearly_differ,
    last_name_level,
    two_generations,
)
from services.identity.domain.nicknames import are_two_names
from services.identity.domain.persons import Person, household_id_for, kept_apart, person_id_for
from services.identity.domain.records import NormalisedRecord
from shared.events.identity import MatchMethod
from shared.records import quick_init, replaced


@quick_init
@dataclass(frozen=True, slots=True)
class Evidence:
    """What the store knows that bears on one record: who owns its identifiers, their households, look-alikes."""

    # The active owner of each of the record's identifiers that has one (merged owners already followed).
    owners: Mapping[Identifier, Person] = field(default_factory=dict)
    # Who claimed each of those, before following merges: a person merged into its owner, or the owner itself.
    claimers: Mapping[Identifier, str] = field(default_factory=dict)
    # The members of each owner's household, by household id.
    households: Mapping[str, Sequence[Person]] = field(default_factory=dict)
    # Active persons sharing a blocking key with the record, for probabilistic matching.
    candidates: Sequence[Person] = ()
    # Whether the look-alikes were looked for, even if none was found: the blocks were read.
    candidates_read: bool = False


@dataclass(frozen=True, slots=True)
class MergePlan:
    survivor: Person
    merged: tuple[Person, ...]
    # The identifiers of the record that each merged person owned: why they are one.
    evidence: tuple[Identifier, ...]
    # Set when one of the merged was found by the matching model, not by an identifier: how likely it was.
    look_alike_probability: float | None = None


@dataclass(frozen=True, slots=True)
class ReviewSuggestion:
    """A possible duplicate not sure enough to link: a reviewer decides."""

    candidate_id: str
    probability: float
    # Field → comparison level, e.g. {"last_name": "exact", "postal_code": "same_fsa"}.
    agreements: Mapping[str, str]


@quick_init
@dataclass(frozen=True, slots=True)
class Resolution:
    person_id: str
    created: bool
    method: MatchMethod
    confidence: float
    matched: tuple[str, ...] = ()
    # Identifiers of the record nobody owns yet, which the person takes (within the policy's limits).
    claims: tuple[Identifier, ...] = ()
    merge: MergePlan | None = None
    # A person sharing an email or phone with this one but clearly someone else: they form a household.
    household_with: str | None = None
    # With `household_with`: the household the two are in from now on (the relative's, or one the relative founds),
    # and which of the two it is new to (none when both are in it already).
    household_id: str | None = None
    household_joiners: tuple[str, ...] = ()
    review: ReviewSuggestion | None = None
    erasure: "Erasure | None" = None
    # A person merged into `person_id` (or by this resolution) whose history the fact is part of (see `_history_of`).
    history_of: str | None = None


@dataclass(frozen=True, slots=True)
class Erasure:
    """An erasure request found these persons: they lose every identifier and record."""

    person_ids: tuple[str, ...]
    # The person asked not to be re-added: salted hashes of their identifiers refuse later facts about them.
    do_not_readd: bool


@dataclass(frozen=True, slots=True)
class Matching:
    """How records without a strong identifier are compared."""

    model: MatchModel
    bands: MatchBands


_METHOD_BY_TYPE = {
    IdentifierType.EXTERNAL_ID: MatchMethod.EXTERNAL_ID,
    IdentifierType.EMAIL: MatchMethod.EMAIL,
    IdentifierType.PHONE: MatchMethod.PHONE,
}
# A household member found by first name behind a shared email is a little less certain than the email alone.
_HOUSEHOLD_CONFIDENCE_FACTOR = 0.95


def survivor_of(persons: Sequence[Person]) -> Person:
    """The person that survives a merge: the earliest created, so ids already given to marketing tools stay valid;
    ties go to the smaller id, so every instance picks the same one."""
    return min(persons, key=lambda person: (person.created_at, person.person_id))


def resolve_record(
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    *,
    organisation_id: str,
    event_id: str,
    policy: IdentifierPolicy,
    matching: Matching,
) -> Resolution:
    """Which person `record` is about, given the `evidence` the store holds; `identifiers` are the usable ones."""
    resolution = _decide(record, identifiers, evidence, organisation_id, event_id, policy, matching)
    linked = evidence.owners.values()
    if not resolution.created and any(
        person.person_id == resolution.person_id and person.created_by_event == event_id for person in linked
    ):
        # A redelivery finds the person this very event created before a crash: it is still a creation.
        resolution = replaced(resolution, created=True, method=MatchMethod.NEW, confidence=1.0, matched=())
    resolution = _in_household(resolution, evidence, organisation_id)
    history_of = _history_of(record, identifiers, evidence, resolution)
    return resolution if history_of is None else replaced(resolution, history_of=history_of)


def _history_of(
    record: NormalisedRecord, identifiers: Sequence[Identifier], evidence: Evidence, resolution: Resolution
) -> str | None:
    """Whose history a fact resolved to a person who holds others' is part of, when not the resolved person's own:
    whoever claimed the strongest identifier the record names that the resolved person, or a person it merges into
    them, owns or claims now. As an unmerge decides whose a record is (`handlers._taken_back`): the fact naming Béa's
    shop id and Anne's email that merges Béa into Anne is Béa's, and so is every later one naming her shop id while
    she is merged; undoing her merge gives them back to her. None when that is the resolved person, or no one (a
    look-alike's record)."""
    if resolution.created or resolution.erasure is not None:
        return None
    merged = () if resolution.merge is None else resolution.merge.merged
    side = {resolution.person_id} | {person.person_id for person in merged}
    # Those the record itself names, strongest first: an unmerge reads the record, without a previous email.
    named = set(named_identifiers(record))
    for identifier in identifiers:
        if identifier not in named:
            continue
        if identifier in resolution.claims:
            return None
        owner = evidence.owners.get(identifier)
        if owner is None or owner.person_id not in side:
            continue
        claimer = evidence.claimers.get(identifier, owner.person_id)
        return None if claimer == resolution.person_id else claimer
    return None


def _in_household(resolution: Resolution, evidence: Evidence, organisation_id: str) -> Resolution:
    """The household the resolution puts its person in with `household_with`, and who is new to it."""
    if resolution.household_with is None:
        return resolution
    known = {
        person.person_id: person
        for person in itertools.chain(
            evidence.owners.values(), evidence.candidates, itertools.chain.from_iterable(evidence.households.values())
        )
    }
    relative = known.get(resolution.household_with)
    relative_household = None if relative is None else relative.household_id
    household_id = relative_household or household_id_for(organisation_id, resolution.household_with)
    person = None if resolution.created else known.get(resolution.person_id)
    current = None if person is None else person.household_id
    if resolution.merge is not None:
        # Applied first, the merge moves the survivor to the household of the last merged person in one.
        merged = (member.household_id for member in reversed(resolution.merge.merged) if member.household_id)
        current = next(merged, current)
    joiners = tuple(
        member
        for member, current in (
            (resolution.person_id, current),
            (resolution.household_with, relative_household),
        )
        if current != household_id
    )
    return replaced(resolution, household_id=household_id, household_joiners=joiners)


def _decide(
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    organisation_id: str,
    event_id: str,
    policy: IdentifierPolicy,
    matching: Matching,
) -> Resolution:
    found = _owners_by_person(identifiers, evidence.owners)
    shared = _shared_previous_address(record, identifiers, evidence, found)
    if shared is None:
        return _decide_among(found, record, identifiers, evidence, organisation_id, event_id, policy, matching)
    # Its holder is only whoever gave the household's address first: what else the record says names the member.
    del found[shared.holder.person_id]
    member = _sharer_meant(record, shared, found)
    if member is None:
        if found:
            # Someone holds the record's own address or id: that decides, as it would without the old address.
            return _decide_among(found, record, identifiers, evidence, organisation_id, event_id, policy, matching)
        return _new_beside_sharers(record, identifiers, evidence, shared, organisation_id, event_id, policy, matching)
    behind_the_address_alone = member.person_id not in found
    found.setdefault(member.person_id, (member, []))[1].append(shared.address)
    resolution = _decide_among(found, record, identifiers, evidence, organisation_id, event_id, policy, matching)
    if behind_the_address_alone and resolution.person_id == member.person_id and not resolution.created:
        # As sure as a household member a first name finds behind a shared address.
        confidence = policy.rule(shared.address).confidence * _HOUSEHOLD_CONFIDENCE_FACTOR
        resolution = replaced(resolution, confidence=confidence)
    return resolution


@dataclass(frozen=True, slots=True)
class _SharedAddress:
    """A previous address (an address change's old one) that household members share: who holds it, and who may be
    the one whose address changed, the holder first."""

    address: Identifier
    holder: Person
    sharers: tuple[Person, ...]


def _shared_previous_address(
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    found: Mapping[str, tuple[Person, list[Identifier]]],
) -> _SharedAddress | None:
    """The previous address the record is found by that its holder shares with household members the record does
    not rule out (by a first name, a family name, a birth date); None when it is one person's, as far as identity
    knows, or when the holder is found by the record's own identifiers too, which say it is them.

    A household's members share an address without merging, and only the first to give it holds it: an address
    change for the newsletter member another member is would otherwise go to the holder, with the new address and
    member id, and every later fact naming them."""
    for address in identifiers:
        # The record names one address, its own: any other it is found by is a previous one.
        if address.type is not IdentifierType.EMAIL or address.value == record.email:
            continue
        holder = evidence.owners.get(address)
        if holder is None or holder.household_id is None or _clearly_someone_else(record, holder):
            continue
        named = named_identifiers(record)
        if any(identifier in named for identifier in found[holder.person_id][1]):
            continue
        sharers = [
            member
            for member in evidence.households.get(holder.household_id, ())
            if member.is_active
            and member.person_id != holder.person_id
            and _has_given(member, address)
            and not _clearly_someone_else(record, member)
        ]
        if sharers:
            return _SharedAddress(address, holder, (holder, *sharers))
    return None


def _has_given(person: Person, address: Identifier) -> bool:
    return any(_gives(known, address) for known in person.records)


def _gives(record: NormalisedRecord, address: Identifier) -> bool:
    # A record kept by a release before 2026-12 may write the address's domain in the DNS's form.
    return record.email is not None and as_written_today(Identifier(IdentifierType.EMAIL, record.email)) == address


def _sharer_meant(
    record: NormalisedRecord, shared: _SharedAddress, found: Mapping[str, tuple[Person, list[Identifier]]]
) -> Person | None:
    """The one sharer of the address the record is about, if its evidence tells: the sharer holding the record's own
    address or id; else the one with its first name; else the one its source (the newsletter tool) last knew by the
    address, as its latest record from that source says. None when the sharers stay more than one, or none."""
    tests: tuple[Callable[[Person], bool], ...] = (
        lambda sharer: sharer.person_id in found,
        lambda sharer: record.first_name is not None and record.first_name in sharer.first_names(),
        lambda sharer: _last_known_by(sharer, record.source, shared.address),
    )
    remaining = list(shared.sharers)
    for test in tests:
        # Each narrows the sharers down when it tells some apart, and is passed over when it tells none.
        narrowed = [sharer for sharer in remaining if test(sharer)]
        if narrowed:
            remaining = narrowed
    return remaining[0] if len(remaining) == 1 else None


def _last_known_by(person: Person, source: str | None, address: Identifier) -> bool:
    """Whether the person's latest record from `source` gives `address`: the source knew them by it last."""
    if source is None:
        return False
    latest = next((known for known in reversed(person.records) if known.source == source), None)
    return latest is not None and _gives(latest, address)


def _new_beside_sharers(
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    shared: _SharedAddress,
    organisation_id: str,
    event_id: str,
    policy: IdentifierPolicy,
    matching: Matching,
) -> Resolution:
    """When nothing tells the sharers of a previous address apart: not a guess, but a person of the household with
    the record's own identifiers, and the sharer the record compares best with, as it was known, for a reviewer."""
    resolution = _probabilistic_or_new(
        record, identifiers, evidence, shared.sharers, organisation_id, event_id, policy, matching
    )
    if not resolution.created or resolution.review is not None:
        return resolution
    as_known = replaced(record, email=shared.address.value)
    sharers = [(sharer.person_id, sharer.records) for sharer in shared.sharers]
    best = best_candidate(as_known, sharers, matching.model, matching.bands)
    if best is None:
        return resolution
    review = ReviewSuggestion(best.person_id, round(best.probability, 6), dict(best.agreements))
    return replaced(
        resolution, method=MatchMethod.REVIEW_PENDING, confidence=round(1 - review.probability, 6), review=review
    )


def _decide_among(
    found: Mapping[str, tuple[Person, list[Identifier]]],
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    organisation_id: str,
    event_id: str,
    policy: IdentifierPolicy,
    matching: Matching,
) -> Resolution:
    """The decision between the persons `found` through the record's identifiers, with the identifiers that found
    each, as the store's owners of those identifiers and anything else `evidence` holds say."""
    matched: dict[str, tuple[Person, list[Identifier]]] = {}
    relatives: list[Person] = []
    for person, via in found.values():
        # An upstream id names one customer record: no household doubt. A shared email or phone may be a family's.
        via_upstream_id = any(identifier.type is IdentifierType.EXTERNAL_ID for identifier in via)
        if not via_upstream_id and _clearly_someone_else(record, person):
            relatives.append(person)
        elif (
            all(identifier.type is IdentifierType.PHONE for identifier in via)
            and _family_name_rules_out(record, person)
            and not _birth_date_agrees(record, person)
        ):
            # A phone alone is a home's or a switchboard's (its extension dropped): Marie Côté is not the Marie
            # Gagnon who gave it. An email is one's own, even across a change of family name.
            relatives.append(person)
        else:
            matched[person.person_id] = (person, via)

    if not matched and relatives:
        member = _household_member_named(record, relatives, evidence.households, matching.model)
        if member is not None:
            via = [identifier for identifier in identifiers if identifier in evidence.owners]
            strongest = policy.strongest(via)
            assert strongest is not None
            confidence = policy.rule(strongest).confidence * _HOUSEHOLD_CONFIDENCE_FACTOR
            # As for a person linked by an identifier (below): a look-alike the record links to as surely is the
            # member too. The household's other members are not looked at: a father and the son named after him.
            family = [
                other
                for relative in relatives
                if relative.household_id is not None
                for other in evidence.households.get(relative.household_id, ())
            ]
            look_alike = _look_alike_to_fold(record, member, (), evidence, [*relatives, *family], matching)
            if look_alike is not None:
                alike, probability = look_alike
                folded = _merge([(member, via), (alike, [])], identifiers, evidence, policy)
                assert folded.merge is not None
                return replaced(
                    folded, confidence=confidence, merge=replaced(folded.merge, look_alike_probability=probability)
                )
            return _link(member, via, identifiers, evidence, policy, confidence=confidence)

    if not matched:
        return _probabilistic_or_new(
            record, identifiers, evidence, relatives, organisation_id, event_id, policy, matching
        )

    merging = [(person, via) for person, via in matched.values() if any(policy.rule(i).merges for i in via)]
    mergeable = _not_kept_apart(merging, policy)
    if len(mergeable) >= 2 and not _clearly_two_among([person for person, _ in mergeable]):
        return _merge(mergeable, identifiers, evidence, policy)
    # One person, or several that must not merge: the strongest identifier decides, the others keep what they own.
    person, via = max(
        matched.values(),
        key=lambda entry: (policy.rule(_strongest(entry[1], policy)).priority, -entry[0].created_at.timestamp()),
    )
    others = [other for other, _ in matched.values() if other.person_id != person.person_id]
    look_alike = _look_alike_to_fold(record, person, others, evidence, relatives, matching)
    if look_alike is not None:
        alike, probability = look_alike
        folded = _merge([(person, list(via)), (alike, [])], identifiers, evidence, policy)
        assert folded.merge is not None
        return replaced(folded, merge=replaced(folded.merge, look_alike_probability=probability))
    resolution = _link(person, via, identifiers, evidence, policy)
    household = next(iter(relatives + others), None)
    if household is not None and resolution.household_with is None:
        resolution = replaced(resolution, household_with=household.person_id)
    return resolution


def may_have_a_look_alike(record: NormalisedRecord, linked: Person | None = None) -> bool:
    """Whether a record linked by an identifier (to `linked`) could also link a look-alike, so that the
    look-alikes are worth reading: it needs a name and what the model weighs beyond names (a postal code, a
    street, a birth date), which a newsletter's name and email lack; and it must tell something new about the
    person. A record the person already holds, as the model compares records, was weighed against the
    look-alikes when it or they arrived: a patron's tenth purchase with the same details reads nothing more."""
    if not (record.first_name or record.last_name) or not any(
        (record.postal_code, record.street_name, record.birth_date)
    ):
        return False
    compared = _as_compared(record)
    return linked is None or all(_as_compared(known) != compared for known in linked.records)


# The record as the model compares it: without the upstream id it came with and its parsing warnings.
_as_compared = operator.attrgetter(
    *(field.name for field in fields(NormalisedRecord) if field.name not in {"source", "external_id", "warnings"})
)


def _look_alike_to_fold(
    record: NormalisedRecord,
    person: Person,
    others: Sequence[Person],
    evidence: Evidence,
    relatives: Sequence[Person],
    matching: Matching,
) -> tuple[Person, float] | None:
    """Another person the record links to by the probabilistic model as surely as a new record would be linked,
    and how likely: the record is both, so they are one. Owners of its non-merging identifiers (a phone) count
    among them; relatives do not, and two look-alikes as likely as each other are a reviewer's to sort out."""
    excluded = {person.person_id} | {relative.person_id for relative in relatives}
    pool = {
        candidate.person_id: candidate
        for candidate in [*others, *evidence.candidates]
        if candidate.is_active and candidate.person_id not in excluded and not kept_apart(person, candidate)
    }
    if not pool:
        return None
    best = best_candidate(
        record,
        [(candidate.person_id, candidate.records) for candidate in pool.values()],
        matching.model,
        matching.bands,
    )
    if best is None or best.band is not Band.LINK:
        return None
    return pool[best.person_id], round(best.probability, 6)


def _owners_by_person(
    identifiers: Sequence[Identifier], owners: Mapping[Identifier, Person]
) -> dict[str, tuple[Person, list[Identifier]]]:
    found: dict[str, tuple[Person, list[Identifier]]] = {}
    for identifier in identifiers:
        owner = owners.get(identifier)
        if owner is not None:
            found.setdefault(owner.person_id, (owner, []))[1].append(identifier)
    return found


def _clearly_someone_else(record: NormalisedRecord, person: Person) -> bool:
    """Whether the record's given name rules this person out, as a shared family email or phone would hide.

    Without a given name on either side, another family name does: partners keep their own names in Québec, and
    a family mailbox given with one's family name alone (Furtado, famillesilva@…) is a relative's.
    """
    # A father and son sharing the family's email, told apart by Jr. and Sr. alone.
    if record.last_name and any(two_generations(record.last_name, other) for other in person.last_names()):
        return True
    # Or by their birth dates, the son named after his father giving the home phone.
    if _birth_dates_rule_out([record], person.records):
        return True
    known = person.first_names()
    if record.first_name is None or not known:
        return _family_name_rules_out(record, person)
    given = {record.first_name}
    # A record with the names swapped gives the family name first: its last name may be the given one. With no
    # other name, the family's name alone points at no member in particular.
    if record.first_name in person.last_names():
        if not record.last_name:
            return False
        given.add(record.last_name)
    elif _crossed(record, person):
        return False
    return all(_clearly_differ_beyond_typo(name, other) for name in given for other in known)


def _family_name_rules_out(record: NormalisedRecord, person: Person) -> bool:
    known = person.last_names()
    if not record.last_name or not known or record.last_name in person.first_names():
        return False
    return all(last_name_level(record.last_name, other) is Level.DIFFERENT for other in known)


def _crossed(record: NormalisedRecord, person: Person) -> bool:
    """Whether the record reads as the person's records with the names swapped: its last name is written as their
    first name (Murphy, Kathy) and its first name agrees with one of their last names (Katherine)."""
    first_fields = {known.first_name for known in person.records if known.first_name}
    # Known by their given name alone (a newsletter's `Caroline`), they have no family name to contradict it.
    known_last_names = person.last_names()
    return record.last_name in first_fields and (
        not known_last_names
        or any(not _clearly_differ_beyond_typo(record.first_name or "", last) for last in known_last_names)
    )


def _clearly_differ_beyond_typo(a: str, b: str) -> bool:
    """`first_names_clearly_differ`, except for one typed letter too many, too few, wrong or swapped (Yvon, Vyon):
    a shared email with such a name is the same person's, not a relative's. Louis and Louise stay two people."""
    if not first_names_clearly_differ(a, b):
        return False
    one_slip = min(len(a), len(b)) >= 4 and DamerauLevenshtein.distance(a, b) <= 1
    return not one_slip or are_two_names(a, b) or two_generations(a, b)


def _not_kept_apart(
    mergeable: Sequence[tuple[Person, list[Identifier]]], policy: IdentifierPolicy
) -> list[tuple[Person, list[Identifier]]]:
    """The persons a record may merge, strongest first, leaving out each one an unmerge split from one kept."""

    def strongest_then_oldest(entry: tuple[Person, list[Identifier]]) -> tuple[int, datetime, str]:
        person, via = entry
        return -policy.rule(_strongest(via, policy)).priority, person.created_at, person.person_id

    ordered = sorted(mergeable, key=strongest_then_oldest)
    kept: list[tuple[Person, list[Identifier]]] = []
    for person, via in ordered:
        if not any(kept_apart(person, other) for other, _ in kept):
            kept.append((person, via))
    return kept


def _clearly_two_among(persons: Sequence[Person]) -> bool:
    """Whether two of the persons are clearly not one: their given names differ beyond a typo, or their birth dates
    do (a father and the son named after him, each known by a customer id, one giving the other's email)."""
    return _names_clearly_differ_among(persons) or any(
        _birth_dates_rule_out(one.records, other.records) for one, other in itertools.combinations(persons, 2)
    )


def _birth_dates_rule_out(mine: Sequence[NormalisedRecord], theirs: Sequence[NormalisedRecord]) -> bool:
    """Whether the two sets of records give birth dates and none of one side's is one person's with the other's."""
    pairs = [(a, b) for a in mine if a.birth_date for b in theirs if b.birth_date]
    return bool(pairs) and all(birth_dates_differ(a, b) for a, b in pairs)


def _birth_date_agrees(record: NormalisedRecord, person: Person) -> bool:
    return record.birth_date is not None and any(
        known.birth_date is not None and not birth_dates_differ(record, known) for known in person.records
    )


def _names_clearly_differ_among(persons: Iterable[Person]) -> bool:
    names = [person.first_names() for person in persons]
    return any(
        names[i] and names[j] and all(_clearly_differ_beyond_typo(a, b) for a in names[i] for b in names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
    )


def _household_member_named(
    record: NormalisedRecord,
    relatives: Sequence[Person],
    households: Mapping[str, Sequence[Person]],
    model: MatchModel,
) -> Person | None:
    members = [
        member
        for relative in relatives
        if relative.household_id is not None
        for member in households.get(relative.household_id, ())
        if member.is_active and not _clearly_someone_else(record, member)
    ]
    exact = [member for member in members if record.first_name in member.first_names()]
    chosen = exact or members
    if len(chosen) < 2:
        return chosen[0] if chosen else None
    # Namesakes (a father and the son named after him): the one the rest of the record agrees with most, a birth
    # date or a postal code; the first found when nothing tells them apart.
    return max(
        chosen,
        key=lambda member: max(
            (model.match_weight(compare(record, known)) for known in member.records), default=-math.inf
        ),
    )


def _strongest(via: Sequence[Identifier], policy: IdentifierPolicy) -> Identifier:
    strongest = policy.strongest(via)
    assert strongest is not None, "a matched person was found through at least one identifier"
    return strongest


def _claims(
    person_identifiers: frozenset[Identifier],
    identifiers: Sequence[Identifier],
    owners: Mapping[Identifier, Person],
    policy: IdentifierPolicy,
) -> tuple[Identifier, ...]:
    counts: dict[str, int] | None = None
    claims = []
    for identifier in identifiers:
        if identifier in owners or identifier in person_identifiers:
            continue
        if counts is None:
            # Counted only for a record bringing something new: most name what their person holds already.
            counts = dict(count_by_kind(person_identifiers))
        # Beyond the limit a value still matched this record, but is not remembered: one shared
        # address must not end up attached to a whole family tree.
        if counts.get(identifier.kind, 0) >= policy.rule(identifier).max_per_person:
            continue
        counts[identifier.kind] = counts.get(identifier.kind, 0) + 1
        claims.append(identifier)
    return tuple(claims)


def _link(
    person: Person,
    via: Sequence[Identifier],
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    policy: IdentifierPolicy,
    *,
    confidence: float | None = None,
) -> Resolution:
    strongest = _strongest(via, policy)
    return Resolution(
        person_id=person.person_id,
        created=False,
        method=_METHOD_BY_TYPE[strongest.type],
        confidence=confidence if confidence is not None else policy.rule(strongest).confidence,
        matched=tuple(sorted({identifier.kind for identifier in via})),
        claims=_claims(person.identifiers, identifiers, evidence.owners, policy),
    )


def _merge(
    mergeable: Sequence[tuple[Person, list[Identifier]]],
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    policy: IdentifierPolicy,
) -> Resolution:
    survivor = survivor_of([person for person, _ in mergeable])
    merged = tuple(
        sorted((person for person, _ in mergeable if person is not survivor), key=lambda person: person.person_id)
    )
    via = [identifier for _, identifiers_of_person in mergeable for identifier in identifiers_of_person]
    all_identifiers = frozenset().union(survivor.identifiers, *(person.identifiers for person in merged))
    strongest = _strongest(via, policy)
    return Resolution(
        person_id=survivor.person_id,
        created=False,
        method=_METHOD_BY_TYPE[strongest.type],
        confidence=policy.rule(strongest).confidence,
        matched=tuple(sorted({identifier.kind for identifier in via})),
        claims=_claims(all_identifiers, identifiers, evidence.owners, policy),
        merge=MergePlan(survivor=survivor, merged=merged, evidence=tuple(sorted(via))),
    )


def _probabilistic_or_new(
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    relatives: Sequence[Person],
    organisation_id: str,
    event_id: str,
    policy: IdentifierPolicy,
    matching: Matching,
) -> Resolution:
    household_with = relatives[0].person_id if relatives else None
    relative_ids = {relative.person_id for relative in relatives}
    active = [person for person in evidence.candidates if person.is_active and person.person_id not in relative_ids]
    candidates = [(person.person_id, person.records) for person in active]
    best = best_candidate(record, candidates, matching.model, matching.bands) if candidates else None
    if best is not None and best.ambiguous_with is not None:
        settled = _settle_ambiguity(record, best.person_id, active, matching)
        if settled is not None:
            persons, probability = settled
            if len(persons) > 1:
                return _join_look_alikes(persons, probability, identifiers, evidence, policy, household_with)
            best = replaced(best, band=Band.LINK, ambiguous_with=None)
    if best is not None and best.band is Band.LINK:
        person = next(person for person in evidence.candidates if person.person_id == best.person_id)
        return Resolution(
            person_id=person.person_id,
            created=False,
            method=MatchMethod.PROBABILISTIC,
            confidence=round(best.probability, 6),
            matched=(),
            claims=_claims(person.identifiers, identifiers, evidence.owners, policy),
            household_with=household_with,
        )
    new_person_id = person_id_for(organisation_id, event_id)
    review = None
    if best is not None and best.band is Band.REVIEW:
        review = ReviewSuggestion(best.person_id, round(best.probability, 6), dict(best.agreements))
    return Resolution(
        person_id=new_person_id,
        created=True,
        method=MatchMethod.REVIEW_PENDING if review else MatchMethod.NEW,
        # For a provisional person: how sure it is that they are not the suggested look-alike.
        confidence=1.0 if review is None else round(1 - review.probability, 6),
        claims=_claims(frozenset(), identifiers, evidence.owners, policy),
        household_with=household_with,
        review=review,
    )


def _settle_ambiguity(
    record: NormalisedRecord, best_id: str, candidates: Sequence[Person], matching: Matching
) -> tuple[tuple[Person, ...], float] | None:
    """When the margin rule found `record` ambiguous between its best person and others: the persons it is
    about, the best first, and how likely, if those others may be the best person recorded apart; else None.

    A patron whose first records were too thin to link (a walk-up's name and postal code, a typo in the name)
    became two persons, a review between them pending; a fuller record then matches both, and the margin rule
    alone would send it to review too, creating a third person and leaving the next record more ambiguous
    still. Rivals that nothing tells apart from the best person are no rival hypothesis: the record links to
    the best, and each rival it would link to as surely on its own is the same patron, merged (the record is
    both, as with a look-alike behind an identifier). Namesakes stay apart: differing birth dates, first names,
    or a household known to hold both leave the choice to a person, as do records too unlike for review, unless
    the record links each of them on its own: it bridges what they lacked (one's email, the other's postal code).
    """
    bands = matching.bands
    alone = {
        person.person_id: (person, candidate)
        for person in candidates
        if (candidate := best_candidate(record, [(person.person_id, person.records)], matching.model, bands))
        is not None
    }
    if best_id not in alone or alone[best_id][1].band is not Band.LINK:
        return None
    best, best_match = alone.pop(best_id)
    rivals = [
        (person, candidate)
        for person, candidate in alone.values()
        if best_match.match_weight - candidate.match_weight < bands.link_margin
    ]
    if not all(_may_be_one(best, rival, matching, bridged=candidate.band is Band.LINK) for rival, candidate in rivals):
        return None
    joined = [(rival, candidate) for rival, candidate in rivals if candidate.band is Band.LINK]
    joined_persons = [rival for rival, _ in joined]
    if not all(
        _may_be_one(one, other, matching, bridged=True) for one, other in itertools.combinations(joined_persons, 2)
    ):
        return None
    probability = min([best_match.probability, *(candidate.probability for _, candidate in joined)])
    return (best, *joined_persons), probability


def _may_be_one(a: Person, b: Person, matching: Matching, *, bridged: bool = False) -> bool:
    """Whether nothing tells the two persons apart; `bridged` when a record links to each alone, which stands for
    the likeness their own records may lack."""
    if kept_apart(a, b):
        return False
    if a.household_id is not None and a.household_id == b.household_id:
        return False
    if _names_clearly_differ_among((a, b)):
        return False
    if any(birth_dates_differ(mine, theirs) for mine in a.records for theirs in b.records):
        return False
    if bridged:
        return True
    alike = (best_candidate(mine, [(b.person_id, b.records)], matching.model, matching.bands) for mine in a.records)
    return any(candidate is not None and candidate.band is not Band.DISTINCT for candidate in alike)


def _join_look_alikes(
    persons: Sequence[Person],
    probability: float,
    identifiers: Sequence[Identifier],
    evidence: Evidence,
    policy: IdentifierPolicy,
    household_with: str | None,
) -> Resolution:
    survivor = survivor_of(persons)
    merged = tuple(sorted((person for person in persons if person is not survivor), key=lambda p: p.person_id))
    all_identifiers = frozenset().union(*(person.identifiers for person in persons))
    return Resolution(
        person_id=survivor.person_id,
        created=False,
        method=MatchMethod.PROBABILISTIC,
        confidence=round(probability, 6),
        claims=_claims(all_identifiers, identifiers, evidence.owners, policy),
        merge=MergePlan(survivor=survivor, merged=merged, evidence=(), look_alike_probability=round(probability, 6)),
        household_with=household_with,
    )


def resolve_erasure(
    identifiers: Sequence[Identifier], evidence: Evidence, *, policy: IdentifierPolicy, do_not_readd: bool
) -> Resolution | None:
    """The persons an erasure request names through its identifiers; None when it names nobody known."""
    found = _owners_by_person(identifiers, evidence.owners)
    if not found:
        return None
    person, via = max(found.values(), key=lambda entry: policy.rule(_strongest(entry[1], policy)).priority)
    strongest = _strongest(via, policy)
    return Resolution(
        person_id=person.person_id,
        created=False,
        method=_METHOD_BY_TYPE[strongest.type],
        confidence=policy.rule(strongest).confidence,
        matched=tuple(sorted({identifier.kind for identifier in via})),
        erasure=Erasure(person_ids=tuple(sorted(found)), do_not_readd=do_not_readd),
    )
