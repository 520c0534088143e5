"""Identity use cases: resolve a fact to one person, merge, unmerge, review, erase; each effect exactly once."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol
from uuid import UUID, uuid4

from services.identity.batch_view import BatchView
from services.identity.domain.identifiers import (
    Identifier,
    IdentifierDigest,
    IdentifierPolicy,
    IdentifierType,
    count_by_kind,
    digest_from_key,
    evidence_of,
    identifiers_of,
    named_identifiers,
    records_without_erased,
    without_identifiers,
    written_either_way,
)
from services.identity.domain.matching import BLOCK_CAPACITY, blocking_keys
from services.identity.domain.merges import (
    MergeRecord,
    ReviewClaim,
    ReviewItem,
    ReviewStatus,
    SurvivorBefore,
    UnmergeClaim,
    merge_reason,
    survivor_before,
)
from services.identity.domain.normalise import normalise_record
from services.identity.domain.persons import (
    Person,
    PersonStatus,
    add_record,
    household_id_for,
    kept_apart,
    matching_record,
    merge_id_for,
    review_id_for,
    suppression_hash,
    with_addition,
)
from services.identity.domain.records import NormalisedRecord, PersonRecord
from services.identity.domain.resolution import (
    Evidence,
    Matching,
    MergePlan,
    Resolution,
    may_have_a_look_alike,
    resolve_erasure,
    resolve_record,
    survivor_of,
)
from services.identity.ports import (
    Decision,
    IdentityReads,
    IdentityStore,
    JournalEntry,
    MergeDecision,
    PersonAddition,
)
from shared.emails import dns_form
from shared.events import Envelope, EventValidationError, PersonRef, build_envelope, parse_data
from shared.events.audience import (
    PARTERRE_PERSON_SOURCE,
    AudienceFact,
    PersonDetailsUpdatedV1,
    PersonErasureRequestedV1,
)
from shared.events.identity import (
    HouseholdJoinedV1,
    Match,
    MatchMethod,
    MergeDecider,
    MergeEvidence,
    PersonResolvedV1,
    PersonsMergedV1,
    PersonUnmergedV1,
)
from shared.households import merge_move_moment
from shared.moments import to_the_millisecond
from shared.records import quick_init
from shared.tasks import side_by_side
from shared.uuids import uuid5_text

log = logging.getLogger(__name__)

# Fixed forever: the ids of what identity publishes derive from it, so a republication is recognised downstream.
OUTPUT_NAMESPACE = UUID("c2a4f7e9-1d3b-4b6a-8e5f-0a9c7d2e4f61")
# A resolution that loses a race (another instance took an identifier meanwhile) decides again on fresh state.
MAX_DECISION_ATTEMPTS = 10
# A consumer batch is resolved in rounds (facts that depend on one another wait for the next); what is still
# waiting after this many goes the careful way, one fact at a time.
MAX_BATCH_ROUNDS = 4
# The events a round publishes are made while its writes go, this many facts' at a time between the writes' answers.
TOLD_BETWEEN_PAUSES = 8
# An unmerge claimed this long ago and still not done was left by a crash: the next request finishes it.
# Sooner, it is taken to be under way, and a second request is refused rather than restoring the persons twice.
UNMERGE_CLAIM_LEASE = timedelta(minutes=1)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class IdentityRules:
    policy: IdentifierPolicy
    matching: Matching
    # Salts the hashes that keep erased persons out; without it, a list of hashes could be tested against addresses.
    suppression_salt: str
    default_region: str = "CA"


@dataclass(frozen=True)
class IdentityDeps:
    store: IdentityStore
    rules: IdentityRules
    clock: Clock


class IdentifierTakenError(Exception):
    """Another resolution took an identifier this one meant to claim: decide again on fresh state."""


class PersonNotReadyError(Exception):
    """An identifier points to a person still being created by another resolution: try again shortly."""

    def __init__(self, message: str, *, identifier: Identifier, person_id: str) -> None:
        super().__init__(message)
        self.identifier = identifier
        self.person_id = person_id


class IdentityActionError(Exception):
    """An operator's request cannot be carried out (unknown person, nothing to unmerge, review already decided)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@quick_init
@dataclass(frozen=True)
class FactOutcome:
    """What resolving one fact produced: the events to publish, and how it went, for metrics and reports."""

    outputs: tuple[Envelope, ...]
    outcome: str
    decision: Decision | None = None
    # Why the fact goes no further, when this handling noted it so (a redelivery finds it noted already).
    filtered: str | None = None


class Settled(NamedTuple):
    """What `settle` did: the journal entry (None when nothing was decided: a suppressed person, an erasure naming
    nobody), the outcome's name, and the merge it applied, as stored (its events need it, read back otherwise)."""

    entry: JournalEntry | None
    outcome: str
    merge: MergeRecord | None = None


def output_id(organisation_id: str, kind: str, cause: str) -> str:
    return uuid5_text(OUTPUT_NAMESPACE, f"{organisation_id}|{kind}|{cause}")


def identity_source(organisation_id: str) -> str:
    return f"/orgs/{organisation_id}/identity"


def person_record(person: PersonRef) -> PersonRecord:
    return PersonRecord(
        source=person.source,
        external_id=person.external_id,
        email=person.email,
        phone=person.phone,
        first_name=person.first_name,
        last_name=person.last_name,
        street=person.street,
        address_2=person.address_2,
        city=person.city,
        region=person.region,
        postal_code=person.postal_code,
        country=person.country,
        birth_date=person.birth_date,
    )


async def resolve_fact(envelope: Envelope, deps: IdentityDeps) -> FactOutcome:
    """Resolve an upstream fact to one person and say so; a redelivered fact yields the very same outputs."""
    data = parse_data(envelope)
    if not isinstance(data, AudienceFact):
        raise TypeError(f"{envelope.type} is not an upstream fact about a person")
    if isinstance(data, PersonErasureRequestedV1) and data.person.source == PARTERRE_PERSON_SOURCE:
        return await _erase_requested_by_id(envelope, data, deps)
    organisation_id = envelope.organisation_id
    record = normalise_record(
        person_record(data.person), today=deps.clock.now().date(), default_region=deps.rules.default_region
    )
    previous = [data.previous_email] if isinstance(data, PersonDetailsUpdatedV1) and data.previous_email else []
    record, identifiers = evidence_of(record, deps.rules.policy, organisation_id, previous_emails=previous)
    return await resolve_identified(envelope, record, identifiers, deps, erasure=_erasure_of(data))


@quick_init
@dataclass(frozen=True)
class _PlainFact:
    """A fact of a batch that names a person (no erasure), normalised, with what it reads and writes by."""

    index: int
    envelope: Envelope
    record: NormalisedRecord
    kept: NormalisedRecord
    identifiers: tuple[Identifier, ...]
    keys: tuple[str, ...]


# An identifier, block or person a fact reads or writes, for telling which facts of a batch can take effect together.
_Token = tuple[str, str]


@quick_init
@dataclass(frozen=True)
class _Footprint:
    """What a fact read to decide and what applying it writes."""

    reads: frozenset[_Token] = frozenset()
    # Identifiers claimed and persons changed: at most one fact of a round may write each.
    writes: frozenset[_Token] = frozenset()
    # Blocks joined: additions to a block commute, so the facts of one round may join it together.
    joins: frozenset[_Token] = frozenset()

    def waits_for_applied(self, applied: "_Touched") -> bool:
        """Must this fact, later in the batch, wait for a round whose facts apply `applied`? Yes if it reads
        what they write, or writes what they write; their reads were made before anything of the round."""
        return not (
            self.reads.isdisjoint(applied.writes)
            and self.reads.isdisjoint(applied.joins)
            and self.writes.isdisjoint(applied.writes)
        )

    def waits_for_pending(self, pending: "_Touched") -> bool:
        """Must this fact wait for earlier facts not applied yet? Yes if either touches what the other writes;
        joins keep their order too, so that a block lists its members as one fact at a time would."""
        return not (
            self.reads.isdisjoint(pending.writes)
            and self.reads.isdisjoint(pending.joins)
            and all(
                touched.isdisjoint(written)
                for touched in (self.writes, self.joins)
                for written in (pending.reads, pending.writes, pending.joins)
            )
        )


@dataclass
class _Touched:
    """The footprints of several facts together, grown in place: a round sorts hundreds of facts, and a union
    made afresh for each would copy everything gathered so far."""

    reads: set[_Token] = field(default_factory=set)
    writes: set[_Token] = field(default_factory=set)
    joins: set[_Token] = field(default_factory=set)

    def add(self, footprint: _Footprint) -> None:
        self.reads |= footprint.reads
        self.writes |= footprint.writes
        self.joins |= footprint.joins

    def copy(self) -> "_Touched":
        return _Touched(set(self.reads), set(self.writes), set(self.joins))


class _Applied(NamedTuple):
    """A fact a consumer batch applied: its decision, its journal entry and the merge it made, if any."""

    fact: "_PlainFact"
    resolution: Resolution
    entry: JournalEntry
    merge: MergeRecord | None
    # The events it publishes, if made already (`_told`).
    outputs: tuple[Envelope, ...] | None


async def resolve_facts(
    envelopes: Sequence[Envelope],
    lanes: Sequence[Hashable],
    deps: IdentityDeps,
    publish: Callable[[tuple[Envelope, ...]], Coroutine[Any, Any, None]] | None = None,
) -> list[FactOutcome | None]:
    """Resolves a consumer batch with a few store round trips per round instead of a score per fact.

    Gives the same persons and outputs as `resolve_fact` on each envelope in order: a fact is resolved
    together with others only when none of them writes what it reads (identifiers, blocks, persons), or when what
    they store of the persons and blocks it read leaves its decision as it was (`_decided_alike_after`), and only
    decisions that touch the fact's own person and those it merges are made here (a new person, a link to a known
    one, a merge, with the household it joins or the duplicate it suggests for review). Returns None for each fact
    left to `resolve_fact`: erasures, merges that move the survivor to a merged person's household, suppressed or
    unusable facts, facts already in the journal (a redelivery), a claim or merge someone else made first, and
    everything after an erasure or an unusable fact. Of one
    lane (a Kafka key), every fact from the first left is left. Each answer the store gives is read once per
    batch (`BatchView`), however many facts and rounds ask for it.

    `publish` is given the outputs of the facts resolved here, and returns once they are sent.
    """
    outcomes: list[FactOutcome | None] = [None] * len(envelopes)
    facts: list[_PlainFact] = []
    for index, envelope in enumerate(envelopes):
        fact = _plain_fact(index, envelope, deps)
        if fact is None:
            # An erasure changes what later facts would find; an unusable fact is dead-lettered one at a time.
            break
        facts.append(fact)
    publishing: asyncio.Task[None] | None = None
    try:
        # The store may answer from what it knows while no other process writes: the batch reads thousands of keys.
        async with deps.store.trusting({fact.envelope.organisation_id for fact in facts}):
            # Names the batch in its journal entries, for the one record of those it applied: unique, so that no
            # earlier batch's record, stored under the same id, stands for this one's.
            batch_id = uuid4().hex
            applied = await _resolve_in_rounds(facts, lanes, deps, batch_id)
            # The Mongo store keeps this record for the scope's end, in the insert that extends the epoch.
            await _mark_applied(deps.store, applied, batch_id)
            for fact, resolution, entry, merge, told in applied:
                outputs = told if told is not None else await _outputs(fact.envelope, entry, deps, applied_merge=merge)
                outcomes[fact.index] = FactOutcome(outputs, resolution.method.value, entry.decision)
            published = tuple(envelope for outcome in outcomes if outcome is not None for envelope in outcome.outputs)
            # Sent while that write is made: they only read what the batch wrote, and a crash before the record
            # leaves the facts to their redelivery, which finishes them and publishes the same events (same ids).
            if publish is not None and published:
                publishing = asyncio.create_task(publish(published))
    except BaseException:
        if publishing is not None:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
        raise
    if publishing is not None:
        await publishing
    return outcomes


async def _mark_applied(store: IdentityStore, applied: Sequence["_Applied"], batch_id: str) -> None:
    by_organisation: dict[str, list[str]] = {}
    for fact, *_decided in applied:
        by_organisation.setdefault(fact.envelope.organisation_id, []).append(fact.envelope.id)
    for organisation_id, event_ids in by_organisation.items():
        await store.mark_all_applied(organisation_id, event_ids, batch_id=batch_id)


async def _resolve_in_rounds(
    facts: list["_PlainFact"], lanes: Sequence[Hashable], deps: IdentityDeps, batch_id: str
) -> list["_Applied"]:
    """The facts applied, in the order they were, each with its decision, journal entry and the merge it made;
    the record that they were applied is yet to be made."""
    # A redelivered fact is not looked for up front (a read per fact for a rare case): its journal entry is
    # there when this batch writes its own, and it is left to `resolve_fact`, which republishes the stored one.
    view = BatchView(deps.store)
    # What the facts left to the careful path touch: it runs after this batch, so no later fact may touch it.
    reserved = _Touched()
    stopped: set[Hashable] = set()
    waiting = facts
    finished: list[_Applied] = []
    for _round in range(MAX_BATCH_ROUNDS):
        if not waiting:
            break
        decisions = await asyncio.gather(*(_decide_in_batch(fact, deps, view) for fact in waiting))
        together: list[tuple[_PlainFact, Resolution]] = []
        deferred: list[_PlainFact] = []
        pending = reserved.copy()
        applied = _Touched()
        filed = _FiledInRound()
        busy: set[Hashable] = set()
        for fact, (resolution, footprint, evidence) in zip(waiting, decisions, strict=True):
            lane = lanes[fact.index]
            if lane in stopped or resolution is None or not _together_possible(resolution):
                stopped.add(lane)
                reserved.add(footprint)
                pending.add(footprint)
                continue
            if (
                lane in busy
                or footprint.waits_for_pending(pending)
                or (
                    footprint.waits_for_applied(applied)
                    and not await _decided_alike_after(fact, resolution, footprint, applied, filed, deps, view)
                )
            ):
                deferred.append(fact)
                busy.add(lane)
                pending.add(footprint)
                continue
            busy.add(lane)
            applied.add(footprint)
            filed.add(fact, resolution, footprint, evidence, at=to_the_millisecond(deps.clock.now()))
            together.append((fact, resolution))
        entries = _journal_entries(together, deps)
        applied_all, told = await side_by_side(
            _apply_together(together, entries, deps, view, batch_id), _told(together, entries, deps)
        )
        for (fact, resolution), done, outputs in zip(together, applied_all, told, strict=True):
            if done is None:
                stopped.add(lanes[fact.index])
                reserved.add(_footprint(fact, resolution, Evidence(), blocks_read=True))
            else:
                entry, merge = done
                finished.append(_Applied(fact, resolution, entry, merge, outputs))
        waiting = deferred
    return finished


def _plain_fact(index: int, envelope: Envelope, deps: IdentityDeps) -> _PlainFact | None:
    try:
        data = parse_data(envelope)
    except EventValidationError:
        return None
    if not isinstance(data, AudienceFact) or isinstance(data, PersonErasureRequestedV1):
        return None
    record = normalise_record(
        person_record(data.person), today=deps.clock.now().date(), default_region=deps.rules.default_region
    )
    previous = [data.previous_email] if isinstance(data, PersonDetailsUpdatedV1) and data.previous_email else []
    record, identifiers = evidence_of(record, deps.rules.policy, envelope.organisation_id, previous_emails=previous)
    kept = matching_record(record)
    return _PlainFact(index, envelope, record, kept, tuple(identifiers), blocking_keys(kept))


async def _decide_in_batch(
    fact: _PlainFact, deps: IdentityDeps, view: BatchView
) -> tuple[Resolution | None, _Footprint, Evidence]:
    """The fact's resolution (None when the careful path must decide), its footprint and the evidence read."""
    try:
        decided = await decide_record(
            fact.envelope.organisation_id,
            fact.envelope.id,
            fact.record,
            fact.identifiers,
            deps,
            keys=fact.keys,
            reads=view,
        )
    except PersonNotReadyError:
        return None, _footprint(fact, None, Evidence(), blocks_read=True), Evidence()
    if decided is None or decided.suppressed:
        # A fact naming an identifier someone asked not to be added again by is rare: it goes the careful way.
        return None, _footprint(fact, None, Evidence(), blocks_read=True), Evidence()
    resolution, evidence = decided.resolution, decided.evidence
    # Look-alikes are read when no owner decides (a creation), or when the owner linked may have one: found or not,
    # a fact of the same round filing a look-alike in those blocks changes what the decision should have been.
    return resolution, _footprint(fact, resolution, evidence, blocks_read=evidence.candidates_read), evidence


@dataclass
class _FiledInRound:
    """The persons the facts a round applies store, as they store them, and whom they file under each block, in
    their order (`_decided_alike_after`): a new person, or a known one linked to with what the fact adds. A person
    or block another change writes (a merge, a household) is marked unknown (None)."""

    members: dict[tuple[str, str], list[str] | None] = field(default_factory=dict)
    persons: dict[tuple[str, str], Person | None] = field(default_factory=dict)

    def add(
        self, fact: _PlainFact, resolution: Resolution, footprint: _Footprint, evidence: Evidence, *, at: datetime
    ) -> None:
        organisation_id = fact.envelope.organisation_id
        stored = self._stored(fact, resolution, evidence, at=at)
        for kind, local in footprint.writes:
            if kind == "person":
                self.persons[(organisation_id, local)] = None
        if stored is not None:
            self.persons[(organisation_id, stored.person_id)] = stored
        for _block, key in footprint.joins:
            members = self.members.setdefault((organisation_id, key), [])
            if members is not None and stored is not None:
                members.append(stored.person_id)
            else:
                self.members[(organisation_id, key)] = None

    @staticmethod
    def _stored(fact: _PlainFact, resolution: Resolution, evidence: Evidence, *, at: datetime) -> Person | None:
        """The person the fact stores, as `_apply_together` stores it; None for a merge or a household."""
        if resolution.merge is not None or resolution.household_with is not None:
            return None
        if resolution.created:
            return _created_person(fact, resolution, at=at)
        linked = next(
            (
                person
                for person in (*evidence.owners.values(), *evidence.candidates)
                if person.person_id == resolution.person_id
            ),
            None,
        )
        if linked is None:
            return None
        return with_addition(linked, identifiers=resolution.claims, records=(fact.kept,))


async def _decided_alike_after(
    fact: _PlainFact,
    resolution: Resolution,
    footprint: _Footprint,
    applied: _Touched,
    filed: _FiledInRound,
    deps: IdentityDeps,
    view: BatchView,
) -> bool:
    """Whether a fact that read persons or blocks the round's earlier facts change decides the same with their
    changes made, as it would one fact at a time: then it need not wait for the next round. Patrons of one batch
    often share a blocking key (a family name's sound, a postal code) or a look-alike, and a second round costs a
    small batch as much again as the first. Only persons and blocks known as they will be stored are seen so:
    a fact that reads an identifier another claims, or writes what another writes, waits."""
    if not footprint.writes.isdisjoint(applied.writes):
        return False
    organisation_id = fact.envelope.organisation_id
    for kind, local in footprint.reads & applied.writes:
        if kind != "person" or filed.persons.get((organisation_id, local)) is None:
            return False
    joiners: dict[str, list[str]] = {}
    for _block, key in footprint.reads & applied.joins:
        members = filed.members.get((organisation_id, key))
        if members is None:
            return False
        joiners[key] = members
    reads = _WithFiled(view, organisation_id, joiners, filed.persons)
    try:
        decided = await decide_record(
            organisation_id, fact.envelope.id, fact.record, fact.identifiers, deps, keys=fact.keys, reads=reads
        )
    except PersonNotReadyError:
        return False
    return decided is not None and not decided.suppressed and decided.resolution == resolution


class _WithFiled:
    """A batch's view with the persons its round stores before a fact, and the blocks they join, as that fact
    would find them one fact at a time."""

    def __init__(
        self,
        view: BatchView,
        organisation_id: str,
        joiners: Mapping[str, Sequence[str]],
        persons: Mapping[tuple[str, str], Person | None],
    ) -> None:
        self._view = view
        self._organisation_id = organisation_id
        self._joiners = joiners
        self._persons = persons

    async def block_members(self, organisation_id: str, keys: Sequence[str]) -> dict[str, list[str]]:
        found = await self._view.block_members(organisation_id, keys)
        if organisation_id != self._organisation_id:
            return found
        for key, members in found.items():
            for person_id in self._joiners.get(key, ()):
                # As the store files them: once, and not in a full block.
                if person_id not in members and len(members) < BLOCK_CAPACITY:
                    members.append(person_id)
        return found

    async def person(self, organisation_id: str, person_id: str) -> Person | None:
        stored = self._persons.get((organisation_id, person_id))
        return stored if stored is not None else await self._view.person(organisation_id, person_id)

    async def owner_of(self, organisation_id: str, identifier: Identifier) -> str | None:
        return await self._view.owner_of(organisation_id, identifier)

    async def household_members(self, organisation_id: str, household_id: str) -> list[str]:
        return await self._view.household_members(organisation_id, household_id)

    async def suppressions_exist(self, organisation_id: str) -> bool:
        return await self._view.suppressions_exist(organisation_id)

    async def any_suppressed(self, organisation_id: str, hashes: Sequence[str]) -> bool:
        return await self._view.any_suppressed(organisation_id, hashes)


def _created_person(fact: _PlainFact, resolution: Resolution, *, at: datetime) -> Person:
    return Person(
        person_id=resolution.person_id,
        organisation_id=fact.envelope.organisation_id,
        created_at=at,
        created_by_event=fact.envelope.id,
        identifiers=frozenset(resolution.claims),
        records=(fact.kept,),
    )


def _together_possible(resolution: Resolution) -> bool:
    # An erasure goes one at a time, and so does a merge that moves the survivor to a merged person's household
    # (see `fold_merged`): rare, and a household changes persons no footprint names.
    if resolution.erasure is not None:
        return False
    return resolution.merge is None or all(person.household_id is None for person in resolution.merge.merged)


def _footprint(fact: _PlainFact, resolution: Resolution | None, evidence: Evidence, *, blocks_read: bool) -> _Footprint:
    """What the fact read (`evidence`; the blocks if `blocks_read`) and what applying `resolution` writes."""
    persons = [*evidence.owners.values(), *evidence.candidates]
    persons += [member for members in evidence.households.values() for member in members]
    blocks = frozenset(("block", key) for key in fact.keys)
    reads = frozenset(("identifier", identifier.digest.key) for identifier in fact.identifiers) | frozenset(
        ("person", person.person_id) for person in persons
    )
    if resolution is None:
        return _Footprint(reads=reads | blocks)
    # Joining a household changes the relative too. Whoever reads the household reads its members, the
    # relative among them, so the relative's token also keeps them apart.
    relatives = () if resolution.household_with is None else (resolution.household_with,)
    # A merge marks the merged persons merged, and files the survivor under the blocks of their records.
    merged = () if resolution.merge is None else resolution.merge.merged
    writes = frozenset(("identifier", identifier.digest.key) for identifier in resolution.claims) | frozenset(
        ("person", person_id)
        for person_id in (resolution.person_id, *relatives, *(person.person_id for person in merged))
    )
    joins = blocks | frozenset(
        ("block", key) for person in merged for record in person.records for key in blocking_keys(record)
    )
    return _Footprint(reads=reads | blocks if blocks_read else reads, writes=writes, joins=joins)


def _journal_entries(together: Sequence[tuple[_PlainFact, Resolution]], deps: IdentityDeps) -> list[JournalEntry]:
    return [
        JournalEntry(
            fact.envelope.organisation_id,
            fact.envelope.id,
            decision_of(resolution),
            to_the_millisecond(deps.clock.now()),
        )
        for fact, resolution in together
    ]


async def _told(
    together: Sequence[tuple[_PlainFact, Resolution]], entries: Sequence[JournalEntry], deps: IdentityDeps
) -> list[tuple[Envelope, ...] | None]:
    """The events each decision of a round publishes, made while the round's writes go (a twentieth of a batch's
    time): nothing they write changes them. None for a merge or a household join, whose events tell what the
    round stored."""
    told: list[tuple[Envelope, ...] | None] = []
    for count, ((fact, _resolution), entry) in enumerate(zip(together, entries, strict=True), start=1):
        decision = entry.decision
        plain = decision.merge is None and decision.household_with is None
        told.append(await _outputs(fact.envelope, entry, deps) if plain else None)
        if count % TOLD_BETWEEN_PAUSES == 0:
            # The writes' answers are taken in as they come.
            await asyncio.sleep(0)
    return told


async def _apply_together(
    together: Sequence[tuple[_PlainFact, Resolution]],
    journal_entries: Sequence[JournalEntry],
    deps: IdentityDeps,
    view: BatchView,
    batch_id: str,
) -> list[tuple[JournalEntry, MergeRecord | None] | None]:
    """Journals and applies a round's decisions (with their `journal_entries`) a few round trips at a time, in
    `_apply`'s order but for the record that they were applied, which the caller makes for the whole batch, and
    returns each one's journal entry and the merge it made; a fact whose journal entry, merge or claim was there
    first is left (None) to `settle`, which finishes or redoes it. `view` learns what was written, for the
    batch's later rounds."""
    applied: list[tuple[JournalEntry, MergeRecord | None] | None] = [None] * len(together)
    by_organisation: dict[str, list[int]] = {}
    for position, (fact, _resolution) in enumerate(together):
        by_organisation.setdefault(fact.envelope.organisation_id, []).append(position)
    store = deps.store
    for organisation_id, positions in by_organisation.items():
        entries = {position: journal_entries[position] for position in positions}
        journaled = await store.write_journals([entries[position] for position in positions], batch_id=batch_id)
        positions = [position for position, stored in zip(positions, journaled, strict=True) if stored]
        merges = await _merge_together(
            store,
            organisation_id,
            {position: entries[position] for position in positions if entries[position].decision.merge is not None},
            view,
        )
        positions = [
            position for position in positions if entries[position].decision.merge is None or position in merges
        ]
        claims = [
            (position, identifier, together[position][1].person_id)
            for position in positions
            for identifier in together[position][1].claims
        ]
        claimed = await store.claim_all(organisation_id, [(identifier, person) for _p, identifier, person in claims])
        lost = set()
        for (position, identifier, person_id), won in zip(claims, claimed, strict=True):
            if won:
                view.claimed(organisation_id, identifier, person_id)
            else:
                lost.add(position)
                view.forget_owner(organisation_id, identifier)
        positions = [position for position in positions if position not in lost]
        created = [
            _created_person(fact, resolution, at=entries[position].decided_at)
            for position in positions
            for fact, resolution in [together[position]]
            if resolution.created
        ]
        # Persons (new ones and additions to known ones, in one insert), blocks and reviews touch different
        # documents: written side by side. A household changes both its members, so it waits for them.
        # A failure cancels the others, and the batch goes one fact at a time: every write here is idempotent.
        persons_stored, *_others = await side_by_side(
            store.write_persons(
                organisation_id,
                created,
                [
                    PersonAddition(resolution.person_id, identifiers=resolution.claims, records=(fact.kept,))
                    for position in positions
                    for fact, resolution in [together[position]]
                    if not resolution.created
                ],
            ),
            store.add_to_blocks_all(
                organisation_id,
                [(together[position][0].keys, together[position][1].person_id) for position in positions],
            ),
            *(
                _file_review(entries[position], deps)
                for position in positions
                if entries[position].decision.review is not None
            ),
        )
        for person, inserted in zip(created, persons_stored, strict=True):
            if inserted:
                view.stored(person)
            else:
                view.forget_person(organisation_id, person.person_id)
        households = await _join_households(
            store,
            organisation_id,
            [
                (resolution, entries[position].decided_at)
                for position in positions
                for _fact, resolution in [together[position]]
                if resolution.household_with is not None
            ],
        )
        for position in positions:
            fact, resolution = together[position]
            view.forget_blocks(organisation_id, fact.keys)
            if not resolution.created or resolution.household_with is not None:
                view.forget_person(organisation_id, resolution.person_id)
            if resolution.household_with is not None:
                view.forget_person(organisation_id, resolution.household_with)
        for household_id in households:
            if household_id is not None:
                view.forget_household(organisation_id, household_id)
        for position in positions:
            applied[position] = (replace(entries[position], applied=True), merges.get(position))
    return applied


async def _merge_together(
    store: IdentityStore, organisation_id: str, entries: Mapping[int, JournalEntry], view: BatchView
) -> dict[int, MergeRecord]:
    """The merges of a round's entries, made as `_apply_merge_decision` makes one, three round trips for them all:
    their records, the survivors' additions beside their blocks, then the merged persons' new status. Returns the
    merge of each entry that made its own; one whose persons changed since the decision, or whose merge was made
    before (its fact decided again after a claim was lost), is left to `settle`."""
    records: dict[int, MergeRecord] = {}
    for position, entry in entries.items():
        assert entry.decision.merge is not None
        with contextlib.suppress(IdentifierTakenError):
            record = await _decided_merge_record(
                store, organisation_id, entry.decision.merge, cause=entry.event_id, at=entry.decided_at
            )
            # A merged person who joined a household since the decision moves the survivor there: `fold_merged`.
            if all(person.household_id is None for person in record.merged):
                records[position] = record
    stored = await side_by_side(*(store.insert_merge(record) for record in records.values()))
    made = {
        position: record for (position, record), kept in zip(records.items(), stored, strict=True) if kept is record
    }
    for position, record in list(made.items()):
        with contextlib.suppress(MergeSideErasedError):
            await _refuse_an_erased_side(store, record)
            continue
        del made[position]
    if not made:
        return made
    await _fold_together(store, organisation_id, made.values())
    for merge in made.values():
        view.forget_person(organisation_id, merge.survivor_id)
        for person in merge.merged:
            view.forget_person(organisation_id, person.person_id)
            for record in person.records:
                view.forget_blocks(organisation_id, blocking_keys(record))
    return made


async def _erase_requested_by_id(
    envelope: Envelope, request: PersonErasureRequestedV1, deps: IdentityDeps
) -> FactOutcome:
    """An erasure a Parterre service asked for (the profile API's) names the person by Parterre's id: no
    identifier to resolve. Erasing again an erased person republishes the same event."""
    person_id = request.person.external_id
    if person_id is None:
        return FactOutcome((), "erasure_unknown_person")
    try:
        events = await erase_on_request(
            envelope.organisation_id,
            person_id,
            deps,
            do_not_readd=request.do_not_readd,
            requested_by=request.requested_by,
        )
    except IdentityActionError as refused:
        if refused.code == "nothing_to_suppress":
            # The erasure itself was done before and announced then; only the request's wish cannot be met.
            log.warning("erasure %s: %s", envelope.id, refused)
            return FactOutcome((), refused.code)
        return FactOutcome((), "erasure_unknown_person")
    return FactOutcome(events, "erased")


def _erasure_of(data: AudienceFact) -> PersonErasureRequestedV1 | None:
    return data if isinstance(data, PersonErasureRequestedV1) else None


async def resolve_identified(
    envelope: Envelope,
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    deps: IdentityDeps,
    *,
    erasure: PersonErasureRequestedV1 | None = None,
) -> FactOutcome:
    """`resolve_fact` once the record is normalised."""
    entry, outcome, merge = await settle(
        envelope.organisation_id,
        envelope.id,
        record,
        identifiers,
        deps,
        erasure_do_not_readd=None if erasure is None else erasure.do_not_readd,
    )
    if entry is None:
        # Nobody to carry it to (a person erased who asked not to be added again, an erasure naming nobody known):
        # the fact stops here on purpose, and the reconciliation counts it as filtered, once.
        noted = await deps.store.record_filtered(envelope.organisation_id, envelope.id, outcome)
        return FactOutcome((), outcome, filtered=outcome if noted else None)
    return FactOutcome(await _outputs(envelope, entry, deps, applied_merge=merge), outcome, entry.decision)


async def settle(
    organisation_id: str,
    event_id: str,
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    deps: IdentityDeps,
    *,
    erasure_do_not_readd: bool | None = None,
    keys: Sequence[str] | None = None,
) -> Settled:
    """Decide which person the record is about and make it so, once; the batch command enters here too.

    `keys`: the record's blocking keys, if already known.
    """
    store = deps.store
    entry = await store.journal_entry(organisation_id, event_id)
    kept = matching_record(record)
    if keys is None:
        keys = blocking_keys(kept)
    last_failure: Exception | None = None
    # None unless this handling applies the entry: a redelivery of a fact applied before reads its merge back.
    merge: MergeRecord | None = None
    # The record, identifiers and blocking keys the entry is applied with, once known.
    as_decided: tuple[NormalisedRecord, Sequence[Identifier], Sequence[str]] | None = None
    for attempt in range(MAX_DECISION_ATTEMPTS):
        if entry is None:
            as_decided = (kept, identifiers, keys)
            try:
                if erasure_do_not_readd is not None:
                    evidence = await gather_evidence(
                        store, organisation_id, record, identifiers, keys=keys, with_candidates=False
                    )
                    resolution = resolve_erasure(
                        identifiers, evidence, policy=deps.rules.policy, do_not_readd=erasure_do_not_readd
                    )
                    if resolution is None:
                        # Nobody known: still, a person who asked not to be added must not be added later.
                        if erasure_do_not_readd:
                            await _suppress(store, organisation_id, identifiers, deps.rules)
                        return Settled(None, "erasure_unknown_person")
                else:
                    decided = await decide_record(
                        organisation_id, event_id, record, identifiers, deps, keys=keys, reads=store
                    )
                    if decided is None:
                        return Settled(None, "suppressed")
                    resolution = decided.resolution
                    # Without anyone's suppressed identifier, as decided.
                    as_decided = matching_record(decided.record), decided.identifiers, decided.keys
            except PersonNotReadyError as not_ready:
                last_failure = not_ready
                store.forget_person(organisation_id, not_ready.person_id)
                if not await _released_from_the_erased(store, organisation_id, not_ready):
                    # Being created elsewhere: decided again after the same patient pauses as below, on the
                    # person read afresh (this process may take the absence it read as still true).
                    await asyncio.sleep(0.005 * 2**attempt)
                    store.forget_person(organisation_id, not_ready.person_id)
                continue
            entry = await store.write_journal(
                # As the store keeps it: a redelivery rebuilds the same events from the entry read back.
                JournalEntry(organisation_id, event_id, decision_of(resolution), to_the_millisecond(deps.clock.now()))
            )
        if not entry.applied:
            if as_decided is None:
                # Decided by an earlier handling, which kept nobody's suppressed identifier: nor does this one.
                as_decided = (
                    (kept, identifiers, keys)
                    if entry.decision.erasure is not None
                    else await _without_suppressed(store, entry, kept, identifiers, keys, deps.rules)
                )
            try:
                merge = await _apply(entry, as_decided[0], as_decided[1], deps, keys=as_decided[2])
            except (IdentifierTakenError, PersonNotReadyError) as lost:
                last_failure = lost
                await store.drop_journal(organisation_id, event_id)
                entry = None
                # The other resolution may be a slow instance between claiming and storing its person: wait
                # longer each time (5 ms doubling: about 5 s over all attempts) before deciding again.
                await asyncio.sleep(0.005 * 2**attempt)
                continue
            await store.mark_applied(organisation_id, event_id)
        return Settled(entry, "erased" if entry.decision.erasure else entry.decision.method.value, merge)
    if isinstance(last_failure, PersonNotReadyError):
        raise last_failure
    raise IdentifierTakenError(
        f"event {event_id}: identifiers kept changing hands for {MAX_DECISION_ATTEMPTS} attempts"
    )


async def _without_suppressed(
    store: IdentityReads,
    entry: JournalEntry,
    kept: NormalisedRecord,
    identifiers: Sequence[Identifier],
    keys: Sequence[str],
    rules: IdentityRules,
) -> tuple[NormalisedRecord, Sequence[Identifier], Sequence[str]]:
    """The record, identifiers and blocking keys a journaled decision is applied with: without those of someone
    erased with `do_not_readd`, as `decide_record` decided it. Only identifiers it does not claim are looked up."""
    unclaimed = [identifier for identifier in identifiers if identifier.digest.key not in entry.decision.claim_digests]
    suppressed = await suppressed_among(store, entry.organisation_id, unclaimed, rules)
    if not suppressed:
        return kept, identifiers, keys
    kept = without_identifiers(kept, suppressed)
    return kept, [identifier for identifier in identifiers if identifier not in suppressed], blocking_keys(kept)


async def _released_from_the_erased(store: IdentityStore, organisation_id: str, not_ready: PersonNotReadyError) -> bool:
    """Frees the identifier if the person it points to was erased, and says so.

    An erasure releases a person's identifiers one by one before marking them erased: a fact decided in between
    may link through one still held and claim again one already released. Nobody else would ever free it.
    """
    person = await store.person(organisation_id, not_ready.person_id)
    if person is None or person.status is not PersonStatus.ERASED:
        return False
    log.warning("%s pointed to %s, who was erased: released", not_ready.identifier.kind, not_ready.person_id)
    await store.release(organisation_id, not_ready.identifier, not_ready.person_id)
    return True


class Decided(NamedTuple):
    """What `decide_record` decided, the evidence read to say so, and the fact as decided: without the identifiers
    (and their values in the record, and the blocking keys made of them) of an erased person who asked not to be
    added again, which nobody claims or keeps. `suppressed` lists those, usually none."""

    resolution: Resolution
    evidence: Evidence
    record: NormalisedRecord
    identifiers: tuple[Identifier, ...]
    keys: tuple[str, ...]
    suppressed: tuple[Identifier, ...] = ()


async def decide_record(
    organisation_id: str,
    event_id: str,
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    deps: IdentityDeps,
    *,
    keys: Sequence[str],
    reads: IdentityReads,
) -> Decided | None:
    """Which person a fact (not an erasure) is about, and the evidence read to say so; None if suppressed.
    Only reads, from `reads` (the store, or a consumer batch's view of it): nothing is decided until the
    journal holds the resolution.

    A fact naming an identifier of someone erased with `do_not_readd` (a household's shared phone or email) is
    still about whoever else it names: it is decided without that identifier, and is suppressed (None) only when
    it would then make a new person, who could be the erased one again."""
    store = reads
    # Look-alikes matter unless the record's identifiers merge known persons: decide on the owners first, and
    # read the blocks only if that decision needs them.
    evidence = await gather_evidence(store, organisation_id, record, identifiers, keys=keys, with_candidates=False)
    # An erased person's identifiers were released before anything else could take them, so only
    # identifiers nobody owns can be suppressed: links to known persons skip the look-ups.
    unowned = [identifier for identifier in identifiers if identifier not in evidence.owners]
    suppressed = tuple(await suppressed_among(store, organisation_id, unowned, deps.rules))
    if suppressed:
        record = without_identifiers(record, suppressed)
        identifiers = [identifier for identifier in identifiers if identifier not in suppressed]
        keys = blocking_keys(matching_record(record))

    def resolved(evidence: Evidence) -> Resolution:
        return resolve_record(
            record,
            identifiers,
            evidence,
            organisation_id=organisation_id,
            event_id=event_id,
            policy=deps.rules.policy,
            matching=deps.rules.matching,
        )

    def decided(resolution: Resolution, evidence: Evidence) -> Decided | None:
        if suppressed and resolution.created:
            return None
        return Decided(resolution, evidence, record, tuple(identifiers), tuple(keys), suppressed)

    # Without an owner the record is a new person unless a look-alike says otherwise: decided once, with them.
    if evidence.owners:
        resolution = resolved(evidence)
        linked = next((person for person in evidence.owners.values() if person.person_id == resolution.person_id), None)
        if not resolution.created and (resolution.merge is not None or not may_have_a_look_alike(record, linked)):
            return decided(resolution, evidence)
    # A new person may be a look-alike's; a person linked by an identifier may be one too, and then they are one.
    evidence = await gather_evidence(store, organisation_id, record, identifiers, keys=keys, known=evidence)
    return decided(resolved(evidence), evidence)


def decision_of(resolution: Resolution) -> Decision:
    merge = None
    if resolution.merge is not None:
        merge = MergeDecision(
            survivor_id=resolution.merge.survivor.person_id,
            merged_ids=tuple(person.person_id for person in resolution.merge.merged),
            evidence_digests=tuple(identifier.digest.key for identifier in resolution.merge.evidence),
            look_alike_probability=resolution.merge.look_alike_probability,
        )
    return Decision(
        person_id=resolution.person_id,
        created=resolution.created,
        method=resolution.method,
        confidence=resolution.confidence,
        matched=resolution.matched,
        claim_digests=tuple(identifier.digest.key for identifier in resolution.claims),
        merge=merge,
        household_with=resolution.household_with,
        review=resolution.review,
        erasure=resolution.erasure,
        household_id=resolution.household_id,
        household_joiners=resolution.household_joiners,
        history_of=resolution.history_of,
    )


async def suppressed_among(
    store: IdentityReads, organisation_id: str, identifiers: Sequence[Identifier], rules: IdentityRules
) -> list[Identifier]:
    """Those of `identifiers` that someone erased with `do_not_readd` gave: one look-up when none is, as usual."""
    if not await any_suppressed(store, organisation_id, identifiers, rules):
        return []
    return [
        identifier for identifier in identifiers if await any_suppressed(store, organisation_id, [identifier], rules)
    ]


async def any_suppressed(
    store: IdentityReads, organisation_id: str, identifiers: Sequence[Identifier], rules: IdentityRules
) -> bool:
    # Most organisations never suppressed anyone: then no identifier needs hashing, nor a look-up.
    if not identifiers or not await store.suppressions_exist(organisation_id):
        return False
    hashes = [
        suppression_hash(organisation_id, rules.suppression_salt, form)
        for identifier in identifiers
        for form in _suppressed_forms(identifier)
    ]
    return await store.any_suppressed(organisation_id, hashes)


def _suppressed_forms(identifier: Identifier) -> tuple[Identifier, ...]:
    """The identifier, and an upstream id without the spaces around it too: ids are kept as each fact sent them,
    so one source may send ` C-1` and then `C-1` for the customer who asked not to be added again. An address with
    an accented domain also in the DNS's form, as a release before 2026-12 kept and hashed it when given so."""
    if identifier.type is IdentifierType.EXTERNAL_ID and identifier.value.strip() != identifier.value:
        return identifier, replace(identifier, value=identifier.value.strip())
    if identifier.type is IdentifierType.EMAIL and (kept_then := dns_form(identifier.value)) != identifier.value:
        return identifier, replace(identifier, value=kept_then)
    return (identifier,)


async def _suppress(
    store: IdentityStore, organisation_id: str, identifiers: Iterable[Identifier], rules: IdentityRules
) -> None:
    hashes = sorted(
        {
            suppression_hash(organisation_id, rules.suppression_salt, form)
            for identifier in identifiers
            for form in _suppressed_forms(identifier)
        }
    )
    if hashes:
        await store.suppress(organisation_id, hashes)


async def gather_evidence(
    store: IdentityReads,
    organisation_id: str,
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    *,
    keys: Sequence[str] | None = None,
    with_candidates: bool = True,
    known: Evidence | None = None,
) -> Evidence:
    """What the store knows about the record; `with_candidates=False` skips the look-alikes (blocks), and
    `known` supplies owners and households read a moment ago, so only the look-alikes are read."""
    if known is not None:
        candidates = await _candidates(store, organisation_id, record, known.owners, keys) if with_candidates else []
        return Evidence(
            owners=known.owners,
            claimers=known.claimers,
            households=known.households,
            candidates=candidates,
            candidates_read=with_candidates,
        )
    owners: dict[Identifier, Person] = {}
    claimers: dict[Identifier, str] = {}
    for identifier in identifiers:
        owner_id = await store.owner_of(organisation_id, identifier)
        if owner_id is None:
            continue
        owner = await active_person(store, organisation_id, owner_id)
        if owner is None:
            raise PersonNotReadyError(
                f"{identifier.kind} points to {owner_id}, not stored yet", identifier=identifier, person_id=owner_id
            )
        owners[identifier] = owner
        claimers[identifier] = owner_id
    households: dict[str, list[Person]] = {}
    for owner in owners.values():
        if owner.household_id is not None and owner.household_id not in households:
            member_ids = await store.household_members(organisation_id, owner.household_id)
            households[owner.household_id] = [
                member for member_id in member_ids if (member := await store.person(organisation_id, member_id))
            ]
    candidates = await _candidates(store, organisation_id, record, owners, keys) if with_candidates else []
    return Evidence(
        owners=owners, claimers=claimers, households=households, candidates=candidates, candidates_read=with_candidates
    )


async def _candidates(
    store: IdentityReads,
    organisation_id: str,
    record: NormalisedRecord,
    owners: Mapping[Identifier, Person],
    keys: Sequence[str] | None,
) -> list[Person]:
    """Active persons sharing a blocking key with the record, owners left out, each once."""
    candidates: list[Person] = []
    if not (record.first_name or record.last_name):
        return candidates
    owner_ids = {owner.person_id for owner in owners.values()}
    looked_up: set[str] = set()
    candidate_ids: set[str] = set()
    blocks = await store.block_members(organisation_id, blocking_keys(record) if keys is None else keys)
    for members in blocks.values():
        if len(members) >= BLOCK_CAPACITY:
            continue
        for member_id in members:
            if member_id in owner_ids or member_id in looked_up:
                continue
            looked_up.add(member_id)
            candidate = await active_person(store, organisation_id, member_id)
            # Two members merged since into one survivor must count once: a twin would look like a rival.
            if candidate is not None and candidate.person_id not in owner_ids | candidate_ids:
                candidate_ids.add(candidate.person_id)
                candidates.append(candidate)
    return candidates


async def active_person(store: IdentityReads, organisation_id: str, person_id: str) -> Person | None:
    """The active person `person_id` is now, following merges; None if it does not exist (yet) or was erased."""
    for _hop in range(50):
        person = await store.person(organisation_id, person_id)
        if person is None or person.status is PersonStatus.ERASED:
            return None
        if person.status is PersonStatus.ACTIVE or person.merged_into is None:
            return person
        person_id = person.merged_into
    return None


async def _apply(
    entry: JournalEntry,
    record: NormalisedRecord,
    identifiers: Sequence[Identifier],
    deps: IdentityDeps,
    *,
    keys: Sequence[str],
) -> MergeRecord | None:
    """Carries out a decision, and returns the merge it made or found made; every step is idempotent, so a crash
    anywhere is repaired by applying again."""
    store, decision, organisation_id = deps.store, entry.decision, entry.organisation_id
    now = entry.decided_at
    if decision.erasure is not None:
        if decision.erasure.do_not_readd:
            await _suppress(store, organisation_id, identifiers, deps.rules)
        for person_id in decision.erasure.person_ids:
            await erase_person(organisation_id, person_id, deps, do_not_readd=decision.erasure.do_not_readd)
        return None
    # Decided before an erasure and applied after it (a redelivery): applying would list the erased person in
    # blocks and households again.
    linked = await store.person(organisation_id, decision.person_id)
    if linked is not None and linked.status is PersonStatus.ERASED:
        if not decision.created or await any_suppressed(store, organisation_id, identifiers, deps.rules):
            # Decided again, the fact finds them gone (and suppressed, if they asked not to be added again).
            raise IdentifierTakenError(f"{decision.person_id} was erased since the decision")
        # It created them (its first handling stopped midway) and was erased with them: decided again, it would
        # make the same person. Nothing of it is applied; what it published names only the erased id.
        return None
    merge = None
    if decision.merge is not None:
        merge = await _apply_merge_decision(store, organisation_id, decision.merge, cause=entry.event_id, at=now)
    by_digest = {identifier.digest.key: identifier for identifier in identifiers}
    claims = [by_digest[digest] for digest in decision.claim_digests if digest in by_digest]
    for identifier in claims:
        owner = await store.claim(organisation_id, identifier, decision.person_id)
        if owner != decision.person_id:
            if decision.created:
                # Nobody can have linked to a person whose creation never finished: its claims are ours to undo,
                # those made by an earlier attempt (a consumer batch's) as well as this one's. A release frees an
                # identifier only if this person holds it.
                for own in claims:
                    await store.release(organisation_id, own, decision.person_id)
            raise IdentifierTakenError(f"{identifier.kind} was taken by {owner}")
    if decision.created:
        await store.insert_person(
            Person(
                person_id=decision.person_id,
                organisation_id=organisation_id,
                created_at=now,
                created_by_event=entry.event_id,
                identifiers=frozenset(claims),
                records=(record,),
            )
        )
    else:
        await store.add_to_person(organisation_id, decision.person_id, identifiers=claims, records=(record,))
    await store.add_to_blocks(organisation_id, keys, decision.person_id)
    if decision.household_with is not None:
        await _join_household(store, organisation_id, decision, entry.decided_at)
    if decision.review is not None:
        await _file_review(entry, deps)
    return merge


async def _file_review(entry: JournalEntry, deps: IdentityDeps) -> None:
    """Files the suggestion the entry's decision leaves to a reviewer (see `file_review`)."""
    # Dated when filed, not when decided: the queue pages in this order, and a decision filed late (a redelivery
    # after a crash, the end of a batch) dated earlier would land behind a reviewer's cursor, skipped by the
    # walk under way. Filed again, a suggestion keeps its first date, so its place in the queue never moves.
    await file_review(_review_item(entry, filed_at=to_the_millisecond(deps.clock.now())), deps)


async def file_review(review: ReviewItem, deps: IdentityDeps) -> None:
    """Files a suggestion for a reviewer, then withdraws it if either person is erased. An erasure marks its person
    erased before withdrawing the suggestions naming them, so one filed meanwhile is seen by one side or the other."""
    store, organisation_id = deps.store, review.organisation_id
    await store.insert_review(review)
    # Read afresh: an erasure by another process since this one last read them is what is looked for.
    named = (review.person_id, review.candidate_id)
    persons = await side_by_side(*(store.fresh_person(organisation_id, person_id) for person_id in named))
    for person_id, person in zip(named, persons, strict=True):
        if person is not None and person.status is PersonStatus.ERASED:
            await _withdraw_reviews(organisation_id, person_id, deps)


def _review_item(entry: JournalEntry, *, filed_at: datetime) -> ReviewItem:
    """The suggested duplicate the entry's decision leaves to a reviewer."""
    decision, organisation_id = entry.decision, entry.organisation_id
    assert decision.review is not None, "only a decision leaving a suggestion files one"
    return ReviewItem(
        review_id=review_id_for(organisation_id, decision.person_id, decision.review.candidate_id),
        organisation_id=organisation_id,
        person_id=decision.person_id,
        candidate_id=decision.review.candidate_id,
        probability=decision.review.probability,
        agreements=dict(decision.review.agreements),
        event_id=entry.event_id,
        created_at=filed_at,
    )


async def _apply_merge_decision(
    store: IdentityStore, organisation_id: str, merge: MergeDecision, *, cause: str, at: datetime
) -> MergeRecord:
    existing = await store.merge(
        organisation_id, merge_id_for(organisation_id, cause, merge.survivor_id, list(merge.merged_ids))
    )
    if existing is not None:
        if existing.undone_by == MERGE_WITHDRAWN_BY:
            raise MergeSideErasedError(f"a person of merge {existing.merge_id} was erased before it took effect")
        # A redelivered fact whose merge was undone since (its journal entry applied, not marked): it stays undone.
        return existing if existing.undone_at is not None else await fold_merged(store, existing)
    record = await _decided_merge_record(store, organisation_id, merge, cause=cause, at=at)
    return await fold_merged(store, await store.insert_merge(record))


async def _decided_merge_record(
    store: IdentityReads, organisation_id: str, merge: MergeDecision, *, cause: str, at: datetime
) -> MergeRecord:
    """The record of the merge a journaled decision makes, of its persons as they are now; raises
    `IdentifierTakenError` when one of them changed since the decision, which must then be made again."""
    survivor = await store.person(organisation_id, merge.survivor_id)
    merged = [await store.person(organisation_id, person_id) for person_id in merge.merged_ids]
    if survivor is None or any(person is None or not person.is_active for person in merged) or not survivor.is_active:
        # Someone merged or erased one of them since the decision: decide again on the new state.
        raise IdentifierTakenError(f"the persons of merge into {merge.survivor_id} changed meanwhile")
    if any(person is not None and kept_apart(survivor, person) for person in merged):
        # An unmerge split them since the decision.
        raise IdentifierTakenError(f"the persons of merge into {merge.survivor_id} were split meanwhile")
    plan = MergePlan(
        survivor=survivor,
        merged=tuple(person for person in merged if person is not None),
        evidence=(),
        look_alike_probability=merge.look_alike_probability,
    )
    return _merge_record(
        plan,
        cause=cause,
        decided_by=MergeDecider.RULE,
        at=at,
        evidence=tuple(digest_from_key(key) for key in merge.evidence_digests),
    )


async def _join_household(
    store: IdentityStore, organisation_id: str, decided: Resolution | Decision, at: datetime
) -> str | None:
    """Puts the person and its relative (`household_with`) in the household decided at `at`, those it is new to;
    returns the household's id (None: nobody joined, or the relative is gone)."""
    (household_id,) = await _join_households(store, organisation_id, [(decided, at)])
    return household_id


async def _join_households(
    store: IdentityStore, organisation_id: str, decisions: Sequence[tuple[Resolution | Decision, datetime]]
) -> list[str | None]:
    """`_join_household` for each decision and its moment, with one write of the households and one of their
    members for them all (a consumer batch's round joins a dozen)."""
    joins = await asyncio.gather(*(_household_join(store, organisation_id, decided) for decided, _at in decisions))
    await store.join_households(organisation_id, [join for join in joins if join is not None])
    await store.add_to_persons(
        organisation_id,
        [
            PersonAddition(member_id, household_id=household_id, household_at=at)
            for join, (_decided, at) in zip(joins, decisions, strict=True)
            if join is not None
            for household_id, joiners in [join]
            for member_id in joiners
        ],
    )
    return [None if join is None else join[0] for join in joins]


async def _household_join(
    store: IdentityStore, organisation_id: str, decided: Resolution | Decision
) -> tuple[str, tuple[str, ...]] | None:
    """The household the decision puts its person and relative in, and those of them it is new to; None when
    nobody joins, or the relative is gone."""
    relative_id, person_id = decided.household_with, decided.person_id
    household_id, joiners = decided.household_id, tuple(decided.household_joiners)
    if relative_id is None or (household_id is not None and not joiners):
        return None
    relative = await store.person(organisation_id, relative_id)
    if relative is None or relative.status is PersonStatus.ERASED:
        return None
    if household_id is None:
        # Journaled before the household was decided with the person: the relative's as it is now.
        household_id = relative.household_id or household_id_for(organisation_id, relative_id)
        joiners = (relative_id, person_id)
    return household_id, joiners


async def apply_merge(
    store: IdentityStore,
    plan: MergePlan,
    *,
    cause: str,
    decided_by: MergeDecider,
    at: datetime,
    evidence: tuple[IdentifierDigest, ...] | None = None,
) -> MergeRecord:
    """Folds the merged persons into the survivor: records and households follow it. Idempotent.

    Identifiers stay with the persons that claimed them; readers follow `merged_into`, and unmerge has nothing of
    theirs to move back (only what the survivor claimed through their records since: see `_hand_over_claims`).
    """
    merge = await store.insert_merge(_merge_record(plan, cause=cause, decided_by=decided_by, at=at, evidence=evidence))
    return await fold_merged(store, merge)


def _merge_record(
    plan: MergePlan,
    *,
    cause: str,
    decided_by: MergeDecider,
    at: datetime,
    evidence: tuple[IdentifierDigest, ...] | None = None,
) -> MergeRecord:
    """The record of a merge `apply_merge` stores; `evidence`: the digests, if not those of the plan's evidence."""
    organisation_id, survivor_id = plan.survivor.organisation_id, plan.survivor.person_id
    merged_ids = [person.person_id for person in plan.merged]
    digests = evidence if evidence is not None else tuple(identifier.digest for identifier in plan.evidence)
    return MergeRecord(
        merge_id=merge_id_for(organisation_id, cause, survivor_id, merged_ids),
        organisation_id=organisation_id,
        survivor_id=survivor_id,
        merged=plan.merged,
        evidence=digests,
        reason=merge_reason(digests, decided_by, look_alike_probability=plan.look_alike_probability),
        decided_by=decided_by,
        decided_at=at,
        cause=cause,
        survivor_before=survivor_before(plan.survivor),
    )


class MergeSideErasedError(IdentifierTakenError):
    """A person of a merge was erased after it was decided, before it was folded: nothing of it is applied, and a
    resolution decides again on what is left."""


# Who marks undone a merge one of whose persons was erased before it took effect.
MERGE_WITHDRAWN_BY = "erasure"


async def fold_merged(store: IdentityStore, merge: MergeRecord) -> MergeRecord:
    """Gives the survivor the merged persons' identifiers, records and blocks, and marks them merged into it;
    idempotent. A merged person's household moves the survivor there, one merged person after the other.

    Raises `MergeSideErasedError` when one of its persons was erased since it was decided (an erasure served
    between the decision's reads and this fold): the merge is then marked undone and keeps no copy of them."""
    organisation_id, survivor_id = merge.organisation_id, merge.survivor_id
    await _refuse_an_erased_side(store, merge)
    if all(person.household_id is None for person in merge.merged):
        await _fold_together(store, organisation_id, [merge])
        return merge
    for merged in merge.merged:
        # The survivor's person and its blocks are different documents: written side by side, as a consumer batch
        # writes them. Each is idempotent, and the merged person is marked merged only once both are done.
        await side_by_side(
            store.add_to_person(
                organisation_id,
                survivor_id,
                identifiers=sorted(merged.identifiers),
                records=merged.records,
                kept_apart_from=sorted(merged.kept_apart_from),
            ),
            store.add_to_blocks_all(
                organisation_id, [(blocking_keys(record), survivor_id) for record in merged.records]
            ),
        )
        if merged.household_id is not None:
            await store.join_household(organisation_id, merged.household_id, [survivor_id])
            await store.add_to_person(
                organisation_id,
                survivor_id,
                household_id=merged.household_id,
                household_at=merge_move_moment(merge.decided_at),
            )
        await store.set_status(
            organisation_id,
            merged.person_id,
            status=PersonStatus.MERGED,
            merged_into=survivor_id,
            expected=PersonStatus.ACTIVE,
        )
    return merge


async def _refuse_an_erased_side(store: IdentityStore, merge: MergeRecord) -> None:
    organisation_id = merge.organisation_id
    erased = [
        person_id
        for person_id in (merge.survivor_id, *merge.merged_ids)
        if (person := await store.fresh_person(organisation_id, person_id)) is not None
        and person.status is PersonStatus.ERASED
    ]
    if not erased:
        return
    # The erasure scrubbed the merges it found, before this one was stored with a copy of them.
    for person_id in erased:
        await store.scrub_merges(organisation_id, person_id, frozenset())
    await store.mark_undone(organisation_id, merge.merge_id, at=merge.decided_at, by=MERGE_WITHDRAWN_BY)
    raise MergeSideErasedError(f"{', '.join(erased)} of merge {merge.merge_id} was erased before it took effect")


async def _fold_together(store: IdentityStore, organisation_id: str, merges: Collection[MergeRecord]) -> None:
    """`fold_merged` for merges whose merged persons have no household, in two steps for them all: each survivor's
    addition (every merged person's identifiers and records, in the merge's order) beside their blocks, then the
    merged persons' status. One merge per survivor: a consumer batch's round makes no two of one survivor."""
    await side_by_side(
        store.add_to_persons(
            organisation_id,
            [
                PersonAddition(
                    merge.survivor_id,
                    identifiers=sorted({identifier for person in merge.merged for identifier in person.identifiers}),
                    records=[record for person in merge.merged for record in person.records],
                    kept_apart_from=sorted({other for person in merge.merged for other in person.kept_apart_from}),
                )
                for merge in merges
            ],
        ),
        store.add_to_blocks_all(
            organisation_id,
            [
                (blocking_keys(record), merge.survivor_id)
                for merge in merges
                for person in merge.merged
                for record in person.records
            ],
        ),
    )
    await side_by_side(
        *(
            store.set_status(
                organisation_id,
                person.person_id,
                status=PersonStatus.MERGED,
                merged_into=merge.survivor_id,
                expected=PersonStatus.ACTIVE,
            )
            for merge in merges
            for person in merge.merged
        )
    )


async def _outputs(
    envelope: Envelope, entry: JournalEntry, deps: IdentityDeps, *, applied_merge: MergeRecord | None = None
) -> tuple[Envelope, ...]:
    """The events the fact's decision publishes; `applied_merge`: the merge its handling applied, as stored, which
    spares reading it back."""
    resolution, organisation_id = entry.decision, entry.organisation_id
    correlation_id = envelope.correlation_id or envelope.id
    if resolution.erasure is not None:
        # Each erased person is told apart, so profile erases every one of them: those the erasure found and those
        # folded into them, whom `erase_person` erased along.
        erased: list[str] = []
        for person_id in resolution.erasure.person_ids:
            erased += await folded_into(deps.store, organisation_id, person_id)
        return tuple(
            resolved_event(
                envelope,
                person_id,
                Match(
                    method=resolution.method,
                    confidence=resolution.confidence,
                    matched_identifiers=list(resolution.matched),
                ),
                output_id=output_id(organisation_id, "resolved", f"{entry.event_id}|{person_id}"),
                at=entry.decided_at,
            )
            for person_id in dict.fromkeys(erased)
        )
    outputs = []
    if resolution.merge is not None:
        merged_ids = list(resolution.merge.merged_ids)
        merge_id = merge_id_for(organisation_id, entry.event_id, resolution.merge.survivor_id, merged_ids)
        merge = (
            applied_merge
            if applied_merge is not None and applied_merge.merge_id == merge_id
            else await deps.store.merge(organisation_id, merge_id)
        )
        assert merge is not None, "an applied merge is stored"
        outputs.append(merged_event(merge, correlation_id=correlation_id))
    match = Match(
        method=resolution.method, confidence=resolution.confidence, matched_identifiers=list(resolution.matched)
    )
    outputs.append(
        resolved_event(
            envelope,
            resolution.person_id,
            match,
            output_id=output_id(organisation_id, "resolved", entry.event_id),
            at=entry.decided_at,
            history_of=resolution.history_of,
        )
    )
    outputs.extend(await _household_events(deps.store, entry, correlation_id))
    return tuple(outputs)


async def _household_events(store: IdentityReads, entry: JournalEntry, correlation_id: str) -> tuple[Envelope, ...]:
    """Each person the fact's decision put in a household they were not in, told with the household decided (the
    same on every redelivery), for their profile to show it."""
    organisation_id, decision = entry.organisation_id, entry.decision
    relative_id, household_id = decision.household_with, decision.household_id
    if relative_id is None or household_id is None or not decision.household_joiners:
        return ()
    # Those the join listed: an erasure takes its person out of every household, and a relative erased before the
    # decision was applied joined no one.
    members = set(await store.household_members(organisation_id, household_id))
    together = {decision.person_id: relative_id, relative_id: decision.person_id}
    return tuple(
        build_envelope(
            HouseholdJoinedV1(
                person_id=member, household_id=household_id, joined_with=together[member], joined_at=entry.decided_at
            ),
            organisation_id=organisation_id,
            source=identity_source(organisation_id),
            id=output_id(organisation_id, "household", f"{entry.event_id}|{member}"),
            time=entry.decided_at,
            subject=member,
            correlation_id=correlation_id,
            person_id=member,
        )
        for member in decision.household_joiners
        if member in members
    )


def resolved_event(
    original: Envelope, person_id: str, match: Match, *, output_id: str, at: datetime, history_of: str | None = None
) -> Envelope:
    return build_envelope(
        PersonResolvedV1(original=original, person_id=person_id, match=match, history_of=history_of),
        organisation_id=original.organisation_id,
        source=identity_source(original.organisation_id),
        id=output_id,
        time=at,
        subject=person_id,
        correlation_id=original.correlation_id or original.id,
        person_id=person_id,
    )


def merge_evidence(digest: IdentifierDigest) -> MergeEvidence:
    return MergeEvidence(identifier_type=digest.kind[:200], value_hash=digest.value_hash)


def merged_event(merge: MergeRecord, *, correlation_id: str | None = None) -> Envelope:
    return build_envelope(
        PersonsMergedV1(
            merge_id=merge.merge_id,
            survivor_person_id=merge.survivor_id,
            merged_person_ids=merge.merged_ids,
            reason=merge.reason,
            # An erased person's evidence keeps only its kind, which the reason names.
            evidence=[merge_evidence(digest) for digest in merge.evidence if not digest.is_erased][:50],
            decided_by=merge.decided_by,
            merged_at=merge.decided_at,
            # As `fold_merged` moves the survivor.
            household_id=next(
                (person.household_id for person in reversed(merge.merged) if person.household_id is not None), None
            ),
        ),
        organisation_id=merge.organisation_id,
        source=identity_source(merge.organisation_id),
        id=output_id(merge.organisation_id, "merged", merge.merge_id),
        time=merge.decided_at,
        subject=merge.survivor_id,
        correlation_id=correlation_id,
        person_id=merge.survivor_id,
    )


async def unmerge(
    organisation_id: str, person_id: str, deps: IdentityDeps, *, requested_by: str, merge_id: str | None = None
) -> Envelope:
    """Undo a merge: the merged persons exist again with the identifiers and records they had; returns the event.

    `person_id` is the survivor (its latest merge is undone unless `merge_id` names one) or a merged person.
    One request undoes a merge: another made while it is under way is refused (`busy`), and one that stopped
    midway (a crash) is finished by the next request after `UNMERGE_CLAIM_LEASE`. Naming an undone merge again
    returns the same event, so a request whose answer was lost can publish it again.
    """
    store = deps.store
    merge = await _merge_to_undo(store, organisation_id, person_id, merge_id)
    if merge.undone_at is None:
        mine = UnmergeClaim(organisation_id, merge.merge_id, by=requested_by, at=to_the_millisecond(deps.clock.now()))
        claim = await store.claim_unmerge(mine)
        if claim != mine:
            merge = await _claimed_merge(store, merge, claim, now=deps.clock.now())
        if merge.undone_at is None:
            merge = await _restore(store, merge, claim, deps.rules.policy)
        elif merge_id is None:
            # As if it had been undone before this request looked: only a named merge is answered again.
            raise IdentityActionError("nothing_to_unmerge", f"{person_id}'s merge was just undone by {claim.by}")
    return unmerged_event(merge)


async def _claimed_merge(
    store: IdentityStore, merge: MergeRecord, claim: UnmergeClaim, *, now: datetime
) -> MergeRecord:
    """The merge someone else claimed to undo, once they are done or gave up (crashed); `busy` meanwhile."""
    current = await store.merge(merge.organisation_id, merge.merge_id)
    assert current is not None, "merges are never deleted"
    if current.undone_at is None and now < claim.at + UNMERGE_CLAIM_LEASE:
        raise IdentityActionError(
            "busy", f"merge {merge.merge_id} is being undone by {claim.by} since {claim.at.isoformat()}"
        )
    return current


async def _restore(
    store: IdentityStore, merge: MergeRecord, claim: UnmergeClaim, policy: IdentifierPolicy
) -> MergeRecord:
    """Carries out a claimed unmerge; every step is idempotent, so a request that stopped midway is finished
    by the next, and the claim's requester and time make its event the one the first would have published.
    An erasure of either side served meanwhile stops it (`person_erased`): the merge stays, as it would have had the
    erasure come first, and nothing is written back onto an erased person."""
    organisation_id = merge.organisation_id
    await _refuse_to_undo_with_an_erased_person(store, merge)
    # A human split them: no event naming both may merge them again, nor may the matching model. Written first, so
    # that a resolver finding them both active (once the first step below is done) finds them kept apart too; and
    # on whom the survivor was merged into since, who now holds its records.
    for merged in merge.merged:
        await store.add_to_person(organisation_id, merged.person_id, kept_apart_from=[merge.survivor_id])
    await store.add_to_person(organisation_id, merge.survivor_id, kept_apart_from=merge.merged_ids)
    holder = await active_person(store, organisation_id, merge.survivor_id)
    if holder is not None and holder.person_id != merge.survivor_id:
        await store.add_to_person(organisation_id, holder.person_id, kept_apart_from=merge.merged_ids)
    for merged in merge.merged:
        await store.set_status(
            organisation_id,
            merged.person_id,
            status=PersonStatus.ACTIVE,
            merged_into=None,
            expected=PersonStatus.MERGED,
        )
    # Once they are active again, the owners of identifiers tell whose each record is (see `_taken_back`).
    await _strip_survivor(store, merge, policy)
    await _strip_holders(store, merge, policy)
    await _forget_given_in_later_merges(store, merge, policy)
    await _refuse_to_undo_with_an_erased_person(store, merge)
    await store.mark_undone(merge.organisation_id, merge.merge_id, at=claim.at, by=claim.by)
    return replace(merge, undone_at=claim.at, undone_by=claim.by)


def unmerged_event(merge: MergeRecord) -> Envelope:
    assert merge.undone_at is not None, "only an undone merge is announced"
    assert merge.undone_by is not None, "an undone merge records who undid it"
    organisation_id = merge.organisation_id
    return build_envelope(
        PersonUnmergedV1(
            merge_id=merge.merge_id,
            survivor_person_id=merge.survivor_id,
            restored_person_ids=merge.merged_ids,
            unmerged_at=merge.undone_at,
            requested_by=merge.undone_by[:200],
        ),
        organisation_id=organisation_id,
        source=identity_source(organisation_id),
        id=output_id(organisation_id, "unmerged", merge.merge_id),
        time=merge.undone_at,
        subject=merge.survivor_id,
        person_id=merge.survivor_id,
    )


async def _merge_to_undo(
    store: IdentityStore, organisation_id: str, person_id: str, merge_id: str | None
) -> MergeRecord:
    merge = await _merge_named(store, organisation_id, person_id, merge_id)
    await _refuse_to_undo_with_an_erased_person(store, merge)
    return merge


async def _refuse_to_undo_with_an_erased_person(store: IdentityStore, merge: MergeRecord) -> None:
    """An erased person is gone for good: undoing their merge would restore no one, write their records back, and
    change what their erasure, asked again, answers."""
    for involved in (merge.survivor_id, *merge.merged_ids):
        held = await store.fresh_person(merge.organisation_id, involved)
        if held is not None and held.status is PersonStatus.ERASED:
            raise IdentityActionError("person_erased", f"{involved} was erased: the merge {merge.merge_id} stays")


async def _merge_named(store: IdentityStore, organisation_id: str, person_id: str, merge_id: str | None) -> MergeRecord:
    if merge_id is not None:
        merge = await store.merge(organisation_id, merge_id)
        if merge is None or (person_id != merge.survivor_id and person_id not in merge.merged_ids):
            raise IdentityActionError("merge_not_found", f"no merge {merge_id} involves {person_id}")
        return merge
    person = await store.person(organisation_id, person_id)
    if person is None:
        raise IdentityActionError("person_not_found", f"no person {person_id}")
    merges = await store.merges_involving(organisation_id, person_id)
    if person.status is PersonStatus.MERGED:
        undo = [merge for merge in merges if person_id in merge.merged_ids and merge.undone_at is None]
    else:
        undo = [merge for merge in merges if merge.survivor_id == person_id and merge.undone_at is None]
    if not undo:
        raise IdentityActionError("nothing_to_unmerge", f"{person_id} has no merge to undo")
    return max(undo, key=lambda merge: merge.decided_at)


async def _kept_apart_given_only_by(store: IdentityStore, merge: MergeRecord) -> frozenset[str]:
    """Whom the survivor is kept apart from only because a person merged into it by `merge` was: not split from the
    survivor itself by an unmerge (this one included), nor brought by a merge into it still in force."""
    survivor_id = merge.survivor_id
    own = set(merge.merged_ids)
    still_given: set[str] = set()
    for other in await store.merges_involving(merge.organisation_id, survivor_id):
        if other.undone_at is not None:
            own.update(other.merged_ids if other.survivor_id == survivor_id else [other.survivor_id])
        elif other.survivor_id == survivor_id and other.merge_id != merge.merge_id:
            still_given.update(apart for person in other.merged for apart in person.kept_apart_from)
    given = {apart for person in merge.merged for apart in person.kept_apart_from}
    return frozenset(given - own - still_given)


async def _strip_survivor(store: IdentityStore, merge: MergeRecord, policy: IdentifierPolicy) -> None:
    """Removes from the survivor what the merge gave it, and gives back what the merge took: its own records and
    its household."""
    given_apart = await _kept_apart_given_only_by(store, merge)
    before = merge.survivor_before
    await _strip(store, merge, merge.survivor_id, policy, given_apart=given_apart, before=before)
    if before is not None:
        await _leave_households_given_by(store, merge, before)


async def _forget_given_in_later_merges(store: IdentityStore, merge: MergeRecord, policy: IdentifierPolicy) -> None:
    """The survivor, and whom it was merged into since (see `_strip_holders`), as later merges kept copies of them
    (merged into another, or as the survivor it was), no longer hold the identifiers and records this merge gave
    it, nor the records the restored persons took back (see `_taken_back`): an unmerge of those would give them
    back, and an erasure of the restored persons would not find them there, while one of whoever holds those
    copies would take them for theirs."""
    given = {record for merged in merge.merged for record in merged.records}
    given_identifiers = frozenset().union(*(merged.identifiers for merged in merge.merged))
    holders = await _holders(store, merge)
    laters = {
        later.merge_id: later
        for holder_id in holders
        for later in await store.merges_involving(merge.organisation_id, holder_id)
        if later.merge_id != merge.merge_id
    }
    copied: list[NormalisedRecord] = []
    for later in laters.values():
        copied += [record for person in later.merged if person.person_id in holders for record in person.records]
        if later.survivor_before is not None and later.survivor_id in holders:
            copied += later.survivor_before.records
    given |= set(await _taken_back(store, policy, merge, copied))
    # And the identifiers the side claimed with the merge or since that a restored person took (see
    # `_hand_over_claims`), or that were let go.
    claimed_since = await store.claims_decided_for(merge.organisation_id, holders, merge.decided_at)
    copied_claims = {
        identifier
        for later in laters.values()
        for person in later.merged
        if person.person_id in holders
        for identifier in person.identifiers
        if any(form.digest in claimed_since for form in written_either_way(identifier))
    }
    for identifier in sorted(copied_claims):
        if await store.owner_of(merge.organisation_id, identifier) not in holders:
            given_identifiers |= {identifier}

    def without_given(person: Person) -> Person:
        if person.person_id not in holders:
            return person
        records = tuple(record for record in person.records if record not in given)
        return replace(person, identifiers=person.identifiers - given_identifiers, records=records)

    for later in laters.values():
        merged = tuple(map(without_given, later.merged))
        before = later.survivor_before
        if before is not None and later.survivor_id in holders:
            before = replace(before, records=tuple(record for record in before.records if record not in given))
        if (merged, before) != (later.merged, later.survivor_before):
            await store.keep_copies(merge.organisation_id, later.merge_id, merged, before)


async def _holders(store: IdentityStore, merge: MergeRecord) -> list[str]:
    """The survivor, whom it was merged into since, whom that one was merged into, and so on: the survivor's side,
    each of which got what the merge gave it."""
    holders = [merge.survivor_id]
    person = await store.person(merge.organisation_id, merge.survivor_id)
    while person is not None and person.merged_into is not None and person.merged_into not in holders:
        holders.append(person.merged_into)
        person = await store.person(merge.organisation_id, person.merged_into)
    return holders


async def _taken_back(
    store: IdentityStore, policy: IdentifierPolicy, merge: MergeRecord, records: Iterable[NormalisedRecord]
) -> dict[NormalisedRecord, str]:
    """Of `records` the survivor's side holds, those a person `merge` restored takes back, with whom.

    A record goes with the strongest of its identifiers (by the policy's priority) that the survivor's side or a
    restored person owns: the fact naming Béa's shop id and Anne's email that merged them is Béa's, an upstream id
    outranking an email, and one naming Anne's customer id and Béa's email stays Anne's. A record naming no
    identifier either owns (a look-alike's name and address, identifiers nobody could claim) stays where the fact
    was resolved, with the survivor; so do the survivor's own records from before the merge. Read from who owns
    what, which the unmerge's steps change only for identifiers a record taken back names after the one deciding it,
    and no record the survivor keeps names (see `_hand_over_claims`): a request finishing a stopped unmerge decides
    the same."""
    organisation_id = merge.organisation_id
    restored = set(merge.merged_ids)
    survivor = await active_person(store, organisation_id, merge.survivor_id)
    sides = restored | ({survivor.person_id} if survivor is not None else set())
    own = set(() if merge.survivor_before is None else merge.survivor_before.records)
    side_of: dict[Identifier, str | None] = {}
    taken: dict[NormalisedRecord, str] = {}
    for record in dict.fromkeys(records):
        if record in own:
            continue
        usable, _blocked = identifiers_of(record, policy, organisation_id)
        for identifier in usable:
            if identifier not in side_of:
                owner_id = await store.owner_of(organisation_id, identifier)
                owner = None if owner_id is None else await active_person(store, organisation_id, owner_id)
                side_of[identifier] = None if owner is None else owner.person_id
            side = side_of[identifier]
            if side in sides:
                if side in restored:
                    taken[record] = side
                break
    return taken


async def _give_back(store: IdentityStore, organisation_id: str, taken: Mapping[NormalisedRecord, str]) -> None:
    """Each restored person gets the records it takes back (see `_taken_back`), newest last, and is filed under
    their blocking keys, before the survivor is rewritten without them: a request finishing a stopped unmerge
    finds them still with one or the other."""
    by_person: dict[str, list[NormalisedRecord]] = {}
    for record, person_id in taken.items():
        by_person.setdefault(person_id, []).append(record)
    for person_id, records in by_person.items():
        person = await store.person(organisation_id, person_id)
        missing = [record for record in records if person is not None and record not in person.records]
        if missing:
            await store.add_to_person(organisation_id, person_id, records=missing)
        for record in records:
            await store.add_to_blocks(organisation_id, blocking_keys(record), person_id)


def _moved_by(merge: MergeRecord, person: Person) -> bool:
    """Whether the household `person` shows is the one `merge` moved it to (see `fold_merged`), not decided since."""
    return person.household_at == merge_move_moment(merge.decided_at) and person.household_id in {
        merged.household_id for merged in merge.merged
    }


async def _leave_households_given_by(store: IdentityStore, merge: MergeRecord, before: SurvivorBefore) -> None:
    """Takes the survivor out of the merged persons' households it joined with the merge and is not in since."""
    organisation_id, survivor_id = merge.organisation_id, merge.survivor_id
    survivor = await store.person(organisation_id, survivor_id)
    if survivor is None:
        return
    given = {merged.household_id for merged in merge.merged} - {None, before.household_id, survivor.household_id}
    for household_id in sorted(household for household in given if household is not None):
        await store.leave_household(organisation_id, household_id, survivor_id)


async def _strip_holders(store: IdentityStore, merge: MergeRecord, policy: IdentifierPolicy) -> None:
    """Removes the restored persons' identifiers and records from whom the survivor was merged into since, and
    whom that one was merged into, and so on: each got them with the survivor's. The holders stay kept apart from
    those the restored persons were: a later merge they would have prevented is one nobody reviewed."""
    for holder_id in (await _holders(store, merge))[1:]:
        await _strip(store, merge, holder_id, policy, given_apart=frozenset())


async def _strip(
    store: IdentityStore,
    merge: MergeRecord,
    holder_id: str,
    policy: IdentifierPolicy,
    *,
    given_apart: frozenset[str],
    before: SurvivorBefore | None = None,
) -> None:
    """Removes from `holder_id` the identifiers and records the persons `merge` restored brought, the records they
    take back (see `_taken_back`) with the identifiers that go with them (see `_hand_over_claims`) and the blocks
    they are filed under, and `given_apart`; gives back what `before` kept of it; retried if a resolution changes
    the holder meanwhile."""
    organisation_id = merge.organisation_id
    given_identifiers = frozenset().union(*(merged.identifiers for merged in merge.merged))
    given_records = {record for merged in merge.merged for record in merged.records}
    own_records = () if before is None else before.records
    side = await _holders(store, merge)
    claimed_since = await store.claims_decided_for(organisation_id, side, merge.decided_at)
    left_keys: set[str] = set()
    for _attempt in range(MAX_DECISION_ATTEMPTS):
        holder = await store.person(organisation_id, holder_id)
        if holder is None:
            return
        if holder.status is PersonStatus.ERASED:
            raise IdentityActionError("person_erased", f"{holder_id} was erased: the merge {merge.merge_id} stays")
        taken = await _taken_back(
            store, policy, merge, (record for record in holder.records if record not in given_records)
        )
        await _give_back(store, organisation_id, taken)
        kept_records: tuple[NormalisedRecord, ...] = ()
        # Its own records from before the merge are older than any it was given since: first, so the newest stay.
        for record in (*own_records, *holder.records):
            if record in own_records or (record not in given_records and record not in taken):
                kept_records = add_record(kept_records, record)
        handed_over = await _hand_over_claims(store, policy, holder, taken, kept_records, claimed_since, side)
        # The blocks of the records given back, but those its own records are filed under, are left before the
        # holder is rewritten: a request finishing a stopped unmerge still finds the records taken back here.
        kept_keys = {key for record in kept_records for key in blocking_keys(record)}
        gone = {key for record in (*given_records, *taken) for key in blocking_keys(record)}
        if gone - kept_keys:
            await store.leave_blocks_under(organisation_id, sorted(gone - kept_keys), holder_id)
            left_keys |= gone - kept_keys
        household_id, household_at = holder.household_id, holder.household_at
        if before is not None and _moved_by(merge, holder):
            household_id, household_at = before.household_id, before.household_at
        stripped = replace(
            holder,
            identifiers=holder.identifiers - given_identifiers - handed_over,
            records=kept_records,
            household_id=household_id,
            household_at=household_at,
            kept_apart_from=holder.kept_apart_from - given_apart,
        )
        if stripped == holder or await store.replace_person(stripped, expected_version=holder.version):
            # A fact resolved to the holder while it was being rewritten may have filed it under a key left.
            if left_keys & kept_keys:
                await store.add_to_blocks(organisation_id, sorted(left_keys & kept_keys), holder_id)
            return
    raise IdentityActionError("busy", f"{holder_id} kept changing; try the unmerge again")


async def _hand_over_claims(
    store: IdentityStore,
    policy: IdentifierPolicy,
    holder: Person,
    taken: Mapping[NormalisedRecord, str],
    kept: Sequence[NormalisedRecord],
    claimed_since: frozenset[IdentifierDigest],
    side: Sequence[str],
) -> frozenset[Identifier]:
    """Gives each restored person the identifiers the survivor's `side` claimed with the merge or since
    (`claimed_since`) through the records that person takes back from the holder, and that no record the holder
    keeps names: Béa's shop id with a new email, resolved to Anne while Béa was merged into her, is Béa's fact, and
    the email is hers. A restored person holding as many of the kind as the policy allows takes no more: the holder
    lets it go, as a fact naming one more would not have claimed it. Returns those the side no longer holds, to take
    out of the holder's identifiers. Each identifier changes hands by a conditional update, and which move is read
    from the records and the journal, which this does not change: a request finishing a stopped unmerge moves the
    rest."""
    organisation_id, holder_id = holder.organisation_id, holder.person_id
    named_kept = {identifier for record in kept for identifier in named_identifiers(record)}
    moving: dict[Identifier, str] = {}
    # Oldest record first: an identifier two restored persons' records name goes with the first.
    for record, person_id in taken.items():
        usable, _blocked = identifiers_of(record, policy, organisation_id)
        for identifier in usable:
            if identifier.digest in claimed_since:
                # An address an older release kept in its DNS form goes with the form claimed for it since.
                for form in sorted(written_either_way(identifier) - named_kept):
                    moving.setdefault(form, person_id)
    handed: set[Identifier] = set()
    for person_id in sorted(set(moving.values())):
        person = await store.person(organisation_id, person_id)
        if person is None:
            continue
        held = set(person.identifiers)
        for identifier in sorted(identifier for identifier, to in moving.items() if to == person_id):
            owner_id = await store.owner_of(organisation_id, identifier)
            if owner_id == holder_id:
                # Counted as held already: an address's other form is the same address (`count_by_kind`).
                if count_by_kind(held | {identifier})[identifier.kind] <= policy.rule(identifier).max_per_person:
                    owner_id = await store.reassign(organisation_id, identifier, holder_id, person_id)
                else:
                    await store.release(organisation_id, identifier, holder_id)
                    owner_id = None
            if owner_id == person_id:
                held.add(identifier)
            if owner_id not in side:
                handed.add(identifier)
        if held - person.identifiers:
            await store.add_to_person(organisation_id, person_id, identifiers=sorted(held - person.identifiers))
    return frozenset(handed)


async def erase_person(organisation_id: str, person_id: str, deps: IdentityDeps, *, do_not_readd: bool) -> None:
    """Removes every identifier and record of a person, and every trace of them in the blocks, the journal and
    the merge records, and withdraws the suggestions naming them; with `do_not_readd`, keeps only salted hashes.
    Each step is idempotent, so an erasure stopped midway (a crash) is finished by doing it again."""
    store = deps.store
    # Persons folded into this one are the same human, and still own the identifiers they brought.
    for merge in await store.merges_involving(organisation_id, person_id):
        if merge.survivor_id == person_id and merge.undone_at is None:
            for merged_id in merge.merged_ids:
                await erase_person(organisation_id, merged_id, deps, do_not_readd=do_not_readd)
    for _attempt in range(MAX_DECISION_ATTEMPTS):
        person = await store.person(organisation_id, person_id)
        if person is None:
            return
        if person.status is PersonStatus.ERASED:
            # Maybe by an erasure stopped before its last steps: the steps that need no identifier are done again,
            # and whatever a resolver that decided before the erasure claimed for them after it is let go.
            await _scrub_merges_and_journal(store, organisation_id, person_id, frozenset())
            await store.release_all(organisation_id, person_id)
            await store.leave_blocks(organisation_id, person_id)
            await store.leave_households(organisation_id, person_id)
            await _withdraw_reviews(organisation_id, person_id, deps)
            return
        if do_not_readd:
            await _suppress(store, organisation_id, person.identifiers, deps.rules)
        # Digests of the identifiers are scrubbed while the person still holds them: once erased, nothing tells
        # which digests were theirs.
        digests = frozenset(identifier.digest for identifier in person.identifiers)
        await _scrub_merges_and_journal(store, organisation_id, person_id, digests)
        await _scrub_merged_with(store, person)
        for identifier in sorted(person.identifiers):
            await store.release(organisation_id, identifier, person_id)
        erased = replace(
            person,
            status=PersonStatus.ERASED,
            merged_into=None,
            identifiers=frozenset(),
            records=(),
            household_id=None,
            household_at=None,
            do_not_readd=do_not_readd,
        )
        if await store.replace_person(erased, expected_version=person.version):
            await store.leave_blocks(organisation_id, person_id)
            await store.leave_households(organisation_id, person_id)
            await _withdraw_reviews(organisation_id, person_id, deps)
            return
    raise IdentityActionError("busy", f"{person_id} kept changing; try the erasure again")


# Who withdraws a suggestion naming an erased person, as the review queue shows it.
REVIEW_WITHDRAWN_BY = "erasure"


async def _withdraw_reviews(organisation_id: str, person_id: str, deps: IdentityDeps) -> None:
    """Nobody may decide about an erased person: an accept would merge them again, a reject mark them kept apart.
    Done once they are marked erased: a suggestion filed after that is withdrawn by `_file_review`."""
    await deps.store.withdraw_reviews_naming(
        organisation_id, person_id, by=REVIEW_WITHDRAWN_BY, at=to_the_millisecond(deps.clock.now())
    )


async def _scrub_merges_and_journal(
    store: IdentityStore, organisation_id: str, person_id: str, digests: frozenset[IdentifierDigest]
) -> None:
    """Leaves in merge records and the journal no snapshot of the person, and only the kinds of `digests`."""
    await store.scrub_merges(organisation_id, person_id, digests)
    await store.scrub_journal(organisation_id, person_id, digests)


# Merges join few persons; the bound only keeps a damaged history from holding an erasure forever.
_MAX_MERGED_WITH = 1_000


async def _scrub_merged_with(store: IdentityStore, person: Person) -> None:
    """Takes the person's identifiers out of the records of everyone a merge ever joined them to, down chains of
    merges either way, done or undone, and out of those merges' copies of them: a merge gave the person's records to
    the survivor, facts naming the person were resolved through it, and an unmerge leaves some with the other side
    (a fact naming someone's upstream id and this person's email is that someone's). Done while the person still
    holds their identifiers, as the digests are: once erased, nothing tells which were theirs."""
    organisation_id, erased = person.organisation_id, person.identifiers
    if not erased:
        return
    seen, waiting = {person.person_id}, [person.person_id]
    merges: dict[str, MergeRecord] = {}
    while waiting and len(seen) < _MAX_MERGED_WITH:
        for merge in await store.merges_involving(organisation_id, waiting.pop()):
            merges[merge.merge_id] = merge
            for joined in (merge.survivor_id, *merge.merged_ids):
                if joined not in seen:
                    seen.add(joined)
                    waiting.append(joined)
    if waiting:
        log.warning(
            "erasing %s: merges join them to more than %d persons; the records of those met first were cleaned of "
            "their identifiers, others may still name them",
            person.person_id,
            _MAX_MERGED_WITH,
        )
    # Whoever holds one of them too had the person folded into them, and is erased with them.
    held: dict[str, frozenset[Identifier]] = {}
    for other_id in sorted(seen - {person.person_id}):
        other = await store.person(organisation_id, other_id)
        held[other_id] = frozenset() if other is None else other.identifiers
        await store.scrub_records(organisation_id, other_id, erased - held[other_id])
        if other is not None and other.status is not PersonStatus.ERASED:
            # The blocks their records named the person's phone or mailbox in; those their other records give stay.
            filed = {key for record in other.records for key in blocking_keys(record)}
            still = {
                key
                for record in records_without_erased(other.records, erased - held[other_id])
                for key in blocking_keys(record)
            }
            if filed - still:
                await store.leave_blocks_under(organisation_id, sorted(filed - still), other_id)
    for merge in merges.values():
        merged = tuple(
            replace(copy, records=records_without_erased(copy.records, erased - copy.identifiers))
            for copy in merge.merged
        )
        before = merge.survivor_before
        if before is not None:
            others = erased - held.get(merge.survivor_id, frozenset())
            before = replace(before, records=records_without_erased(before.records, others))
        if (merged, before) != (merge.merged, merge.survivor_before):
            await store.keep_copies(organisation_id, merge.merge_id, merged, before)


async def folded_into(store: IdentityStore, organisation_id: str, person_id: str) -> list[str]:
    """The person and everyone folded into them by merges still in force, down the chain, the person first: whom
    `erase_person` erases. Merge records outlive an erasure, so the answer is the same after it."""
    folded = [person_id]
    merges = sorted(await store.merges_involving(organisation_id, person_id), key=lambda m: (m.decided_at, m.merge_id))
    for merge in merges:
        if merge.survivor_id == person_id and merge.undone_at is None:
            for merged_id in merge.merged_ids:
                folded += await folded_into(store, organisation_id, merged_id)
    return list(dict.fromkeys(folded))


_MAX_MERGE_CHAIN = 50


async def _erased_with(store: IdentityStore, organisation_id: str, person_id: str) -> str:
    """The person an erased `person_id` was folded into when erased, up the merges still in force."""
    # Merges never form a loop; the bound only keeps a damaged record from holding the request forever.
    for _hop in range(_MAX_MERGE_CHAIN):
        survivors = [
            merge.survivor_id
            for merge in await store.merges_involving(organisation_id, person_id)
            if person_id in merge.merged_ids and merge.undone_at is None
        ]
        if not survivors:
            return person_id
        person_id = survivors[0]
    return person_id


async def erase_on_request(
    organisation_id: str, person_id: str, deps: IdentityDeps, *, do_not_readd: bool, requested_by: str
) -> tuple[Envelope, ...]:
    """An operator's erasure: the person is erased here, and profile learns it from the events returned, one for
    the person and one for each person folded into them (the request's first).

    Refused (`nothing_to_suppress`) when `do_not_readd` comes after an erasure without it: the identifiers are
    gone, so no salted hash can keep the person out. What that erasure left unfinished is finished first."""
    person = await deps.store.person(organisation_id, person_id)
    if person is None:
        raise IdentityActionError("person_not_found", f"no person {person_id}")
    # A merged id names the person it was folded into, who now holds its identifiers and records.
    current = await active_person(deps.store, organisation_id, person_id)
    if current is not None:
        person_id = current.person_id
    elif person.status is PersonStatus.ERASED:
        # Asked again (the first answer lost): the erasure left no `merged_into`, the merge records still tell.
        person_id = await _erased_with(deps.store, organisation_id, person_id)
    await erase_person(organisation_id, person_id, deps, do_not_readd=do_not_readd)
    erased = await deps.store.person(organisation_id, person_id)
    # Only when known: a person erased by a release that did not keep it is answered as that release answered.
    if do_not_readd and erased is not None and erased.do_not_readd is False:
        raise IdentityActionError(
            "nothing_to_suppress",
            f"{person_id} was already erased without do_not_readd: their identifiers are gone, so nothing can keep "
            "them out. A later fact about them makes a new person, who may be erased with do_not_readd.",
        )
    now = deps.clock.now()
    request = build_envelope(
        PersonErasureRequestedV1(
            # Only Parterre's own id: the request must not carry again the data it erases.
            person=PersonRef(source=PARTERRE_PERSON_SOURCE, external_id=person_id),
            requested_by=requested_by[:200],
            do_not_readd=do_not_readd,
        ),
        organisation_id=organisation_id,
        source=identity_source(organisation_id),
        id=output_id(organisation_id, "erasure-request", person_id),
        time=now,
        subject=person_id,
        person_id=person_id,
    )
    match = Match(method=MatchMethod.EXTERNAL_ID, confidence=1.0, matched_identifiers=["parterre"])
    return tuple(
        resolved_event(
            request,
            erased_id,
            match,
            output_id=output_id(organisation_id, "resolved", f"{request.id}|{erased_id}"),
            at=now,
        )
        for erased_id in await folded_into(deps.store, organisation_id, person_id)
    )


async def decide_review(
    organisation_id: str,
    review_id: str,
    deps: IdentityDeps,
    *,
    accept: bool,
    reviewer: str,
    note: str | None = None,
) -> tuple[Envelope, ...]:
    """A reviewer's verdict on a suggested duplicate: accepting merges the two persons; returns what to publish.

    The first verdict claimed is the review's: the other one is refused (`review_decided`), while the same
    one again (a double click, a second reviewer agreeing, a retry after a crash) finishes it and returns
    the same events.
    """
    store = deps.store
    item = await store.review(organisation_id, review_id)
    if item is None:
        raise IdentityActionError("review_not_found", f"no review {review_id}")
    decision = ReviewStatus.ACCEPTED if accept else ReviewStatus.REJECTED
    if item.status is ReviewStatus.WITHDRAWN:
        raise IdentityActionError("review_stale", f"review {review_id} was withdrawn: {_ERASED_SINCE}")
    # A review decided before claims were kept has only its status to say so.
    if item.status not in (ReviewStatus.PENDING, decision):
        raise IdentityActionError(
            "review_decided", f"review {review_id} was already {item.status.value} by {item.decided_by}"
        )
    claim = await store.claim_review(
        ReviewClaim(
            organisation_id, review_id, decision, by=reviewer, at=to_the_millisecond(deps.clock.now()), note=note
        )
    )
    if claim.decision is not decision:
        raise IdentityActionError(
            "review_decided", f"review {review_id} was already {claim.decision.value} by {claim.by}"
        )
    outputs: tuple[Envelope, ...] = ()
    if accept:
        try:
            merge = await _merge_for_review(item, deps, claim.at)
        except IdentityActionError:
            # Nothing was merged: the suggestion stays open, so a reviewer can still reject it.
            await store.drop_review_claim(organisation_id, review_id, decision)
            raise
        outputs = (merged_event(merge),) if merge is not None else ()
    else:
        if item.status is ReviewStatus.PENDING and await _merged_since(store, item):
            # A later fact merged the two meanwhile: "not the same person" would be answered done and change
            # nothing. Undoing that merge keeps them apart, as a reject would have.
            await store.drop_review_claim(organisation_id, review_id, decision)
            raise IdentityActionError(
                "merged_since",
                f"the two persons of review {review_id} were merged since: undo that merge to keep them apart",
            )
        # "Not the same person", as an unmerge says it: no later fact merges the two, whatever it links them by.
        await store.add_to_person(organisation_id, item.person_id, kept_apart_from=[item.candidate_id])
        await store.add_to_person(organisation_id, item.candidate_id, kept_apart_from=[item.person_id])
        # Either may have been merged into someone since the suggestion: resolutions read whom it is now, so
        # that one is kept apart too (as `fold_merged` would have carried the mark, had it been there first).
        provisional = await active_person(store, organisation_id, item.person_id)
        candidate = await active_person(store, organisation_id, item.candidate_id)
        if provisional is not None and candidate is not None and provisional.person_id != candidate.person_id:
            for one, other in (
                (provisional.person_id, candidate.person_id),
                (candidate.person_id, provisional.person_id),
            ):
                await store.add_to_person(organisation_id, one, kept_apart_from=[other])
    # Every request that gets here writes the claim's verdict, so the status agrees with it whoever writes last.
    await store.decide_review(
        organisation_id, review_id, status=claim.decision, by=claim.by, at=claim.at, note=claim.note
    )
    return outputs


_ERASED_SINCE = "one of the two persons was erased since the suggestion"


async def _merged_since(store: IdentityStore, item: ReviewItem) -> bool:
    """Whether the two persons a review names are one now, merged by something else than the review."""
    provisional = await active_person(store, item.organisation_id, item.person_id)
    candidate = await active_person(store, item.organisation_id, item.candidate_id)
    return provisional is not None and candidate is not None and provisional.person_id == candidate.person_id


async def _merge_for_review(item: ReviewItem, deps: IdentityDeps, now: datetime) -> MergeRecord | None:
    store, organisation_id = deps.store, item.organisation_id
    # An accept retried after a crash finds its merge already made: it finishes folding it (the crash may have
    # come midway) unless it was undone since, and the same merge is published again. Found by its cause: the
    # persons it merged are those holding the two at the time, not always the two the suggestion named.
    made = await store.merges_caused_by(organisation_id, item.review_id)
    if made:
        merge = min(made, key=lambda merge: (merge.decided_at, merge.merge_id))
        if merge.undone_by == MERGE_WITHDRAWN_BY:
            raise IdentityActionError("review_stale", _ERASED_SINCE)
        try:
            return merge if merge.undone_at is not None else await fold_merged(store, merge)
        except MergeSideErasedError as erased:
            raise IdentityActionError("review_stale", _ERASED_SINCE) from erased
    provisional = await active_person(store, organisation_id, item.person_id)
    candidate = await active_person(store, organisation_id, item.candidate_id)
    if provisional is None or candidate is None:
        raise IdentityActionError("review_stale", _ERASED_SINCE)
    if provisional.person_id == candidate.person_id:
        return None
    survivor = survivor_of([provisional, candidate])
    merged = candidate if survivor is provisional else provisional
    try:
        return await apply_merge(
            store,
            MergePlan(survivor=survivor, merged=(merged,), evidence=()),
            cause=item.review_id,
            decided_by=MergeDecider.REVIEWER,
            at=now,
        )
    except MergeSideErasedError as erased:
        # An erasure served while the accept was under way: as if it had come first.
        raise IdentityActionError("review_stale", _ERASED_SINCE) from erased


@dataclass(frozen=True)
class PersonView:
    """A person as operators see it: identifiers, household, and every merge it took part in."""

    person: Person
    household: tuple[str, ...]
    merges: tuple[MergeRecord, ...]


async def view_person(organisation_id: str, person_id: str, store: IdentityStore) -> PersonView | None:
    person = await store.person(organisation_id, person_id)
    if person is None:
        return None
    household: tuple[str, ...] = ()
    if person.household_id is not None:
        # The household lists everyone who ever joined it (a redelivered fact is told the household as decided
        # then); shown are those in it now, not those who moved on or were merged into someone.
        listed = await store.household_members(organisation_id, person.household_id)
        members = [await store.person(organisation_id, member_id) for member_id in listed if member_id != person_id]
        household = tuple(
            sorted(
                member.person_id
                for member in members
                if member is not None and member.is_active and member.household_id == person.household_id
            )
        )
    merges = tuple(sorted(await store.merges_involving(organisation_id, person_id), key=lambda m: m.decided_at))
    return PersonView(person=person, household=household, merges=merges)


async def find_by_identifier(organisation_id: str, identifier: Identifier, store: IdentityStore) -> Person | None:
    owner = await store.owner_of(organisation_id, identifier)
    if owner is None and identifier.type is IdentifierType.EXTERNAL_ID and identifier.value.strip() != identifier.value:
        # Upstream ids are kept as sent, padding included; a look-up pasted with spaces around means the id itself.
        owner = await store.owner_of(organisation_id, replace(identifier, value=identifier.value.strip()))
    return None if owner is None else await active_person(store, organisation_id, owner)
