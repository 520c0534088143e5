"""Profile use cases: each resolved fact folded into its person's profile once, identity's merges, unmerges and
erasures followed, and every change announced.

Each change to a profile document takes the next number of its person's log before it is stored: whoever takes
number n stores version n, so writers of one person never overwrite each other, whatever Kafka key brought them.
A profile holding others' histories is recomputed from the logs wherever a plain fold would not be exact: after a
late fact of a person merged into it, an unmerge, or an erasure.

`apply_facts` applies the plain facts of a batch together: the same documents, the same announcements (ids,
versions, content), a profile stored once per batch with the announcements of all its facts. Whatever it cannot
apply that way, or a crash leaves half done, the fact-by-fact path settles from the log.
"""

import asyncio
import itertools
import logging
import random
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce
from types import MappingProxyType
from typing import Any, Protocol
from uuid import UUID

from services.profile.domain.history import ProfileEvent, performance_about, profile_event
from services.profile.domain.lookups import lookup_keys, personal_details
from services.profile.domain.profile import (
    DEFAULT_PHONE_REGION,
    ProfileState,
    apply,
    fold,
    merge,
    next_time_change,
    view,
)
from services.profile.domain.rules import (
    SegmentDefinitions,
    TriggerDecision,
    TriggerRules,
    evaluate_segments,
    evaluate_triggers,
    segment_changes,
    time_conditions_due,
)
from services.profile.domain.schedule import SLOT, DueEntry, after_failed_visit, keeps_entry, slot_of, stretch_to_sweep
from services.profile.domain.search import Candidate, Found, SearchQuery, rank
from services.profile.domain.seasons import SeasonCalendar
from services.profile.ports import (
    AnnouncedView,
    FactToLog,
    FiledDue,
    HouseholdMove,
    LandedFact,
    MergeInForce,
    Origin,
    PrivacyEntry,
    ProfileStore,
    StoredProfile,
    UndoneMerge,
    person_digest,
)
from shared.events import Envelope, EventValidationError, build_envelope, parse_data
from shared.events.audience import PARTERRE_PERSON_SOURCE, PersonErasureRequestedV1
from shared.events.identity import (
    HouseholdJoinedV1,
    MatchMethod,
    PersonResolvedV1,
    PersonsMergedV1,
    PersonUnmergedV1,
)
from shared.events.profile import ProfileChangedV1, ProfileErasedV1, SegmentEnteredV1, SegmentExitedV1
from shared.households import merge_move_moment
from shared.moments import to_the_millisecond
from shared.records import quick_init, replaced
from shared.uuids import uuid5_text

log = logging.getLogger(__name__)

# Fixed forever: the ids of what profile publishes derive from it, so a republication is recognised downstream.
OUTPUT_NAMESPACE = UUID("5e0d2c7a-8b4f-4a91-b3d6-9c1e7f2a6b40")
# Writers of one person race only around a rebalance or a merge; a few fresh attempts settle it. Between two, a
# writer waits a little longer each time (10 ms doubling: about 2.5 s in all), since the one holding the number may be
# a merge of another Kafka key, handled alongside, and slow to store when the store is busy (a restart, say).
MAX_ATTEMPTS = 8
# A number held by a step (of a merge, an unmerge, an erasure, the sweep) is most likely held by a writer at work:
# it gets this many attempts' time (about 0.6 s) before a writer does the step again itself, as the step's
# redelivery would (its writer may have died, its message be waiting behind this one). A fact holding the number
# is applied again at once: its writer is either at work on the same key (both then store the same) or gone.
REDO_STEPS_FROM_ATTEMPT = 6
# How deep a writer goes doing again what holds the numbers it needs: what it does again may meet another.
HELP_DEPTH = 2
# Merges nest (a survivor may be merged in turn); a longer chain than this is a loop, not a history. A loop lasts
# only while two merges' events cross on their way (each undone before the other was decided): the message that
# meets one is tried again later.
MAX_MERGE_DEPTH = 50
# The profile as last announced, for the sweep: as of the last instant before its due moment.
_INSTANT = timedelta(microseconds=1)


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class ProfileRules:
    segments: SegmentDefinitions
    triggers: TriggerRules
    seasons: SeasonCalendar
    # Country a phone looked up without its country code is read as dialled from.
    default_region: str = DEFAULT_PHONE_REGION


# What a profile kept in memory takes, the view it last announced included: measured in resident memory on profiles
# decoded from the store and folded from ticket purchases, 16 KB for one purchase (7 records), 23 KB for three (13),
# 47 KB for ten (34), 308 KB for a hundred (244) and 1,051 KB for 400 (844). A line through them; what bounds the
# memory kept is the sum of these estimates.
KEPT_PROFILE_BYTES = 7 * 1024
KEPT_BYTES_PER_RECORD = 1280


def kept_size(profile: StoredProfile) -> int:
    """About how many bytes `profile` takes in memory (see `KEPT_PROFILE_BYTES`)."""
    return KEPT_PROFILE_BYTES + KEPT_BYTES_PER_RECORD * profile.state.records_held


class RecentProfiles:
    """The profiles this process's batches stored last, so that the next batch of the same persons need not read
    them back.

    A batch still logs its facts from the number after the kept profile's: had anyone stored a change since (each
    takes the next number of the person's log first), that number is found taken and the person's facts go fact by
    fact, reading the store. Only an erasure stores without a number, and batches check for one before and after.
    A person's profile is taken out while a batch works on them and put back once stored.

    At most `capacity` profiles, together of at most `memory_bytes` (by `kept_size`): regulars with long histories
    take hundreds of KB each, and as many of them as of occasional patrons would take gigabytes. A profile larger
    than the whole budget is not kept. When full, profiles chosen at random make room, not the ones kept longest:
    patrons coming back in turn, more of them than it holds (an on-sale day, a campaign), would each find theirs
    just gone by the oldest-first rule, and find most of them kept this way; patrons coming back in any other order
    find about as many either way.
    """

    def __init__(
        self, capacity: int = 4096, *, memory_bytes: int = 128 * 1024 * 1024, chance: random.Random | None = None
    ) -> None:
        self._capacity = capacity
        self._memory_bytes = memory_bytes
        self._profiles: dict[tuple[str, str], tuple[StoredProfile, int]] = {}
        self._bytes = 0
        # The keys in a list, for a choice at random, and each key's place in it.
        self._keys: list[tuple[str, str]] = []
        self._places: dict[tuple[str, str], int] = {}
        self._chance = chance or random.Random()  # noqa: S311 - which profile makes room is no secret

    def take(self, organisation_id: str, person_id: str) -> StoredProfile | None:
        key = (organisation_id, person_id)
        kept = self._profiles.get(key)
        if kept is None:
            return None
        self._drop(key)
        return kept[0]

    def keep(self, profile: StoredProfile) -> None:
        key = (profile.organisation_id, profile.person_id)
        if key in self._profiles:
            self._drop(key)
        size = kept_size(profile)
        if self._capacity <= 0 or size > self._memory_bytes:
            return
        while self._profiles and (len(self._profiles) >= self._capacity or self._bytes + size > self._memory_bytes):
            self._drop(self._keys[self._chance.randrange(len(self._keys))])
        self._places[key] = len(self._keys)
        self._keys.append(key)
        self._profiles[key] = (profile, size)
        self._bytes += size

    def _drop(self, key: tuple[str, str]) -> None:
        _profile, size = self._profiles.pop(key)
        self._bytes -= size
        place, last = self._places.pop(key), self._keys.pop()
        if last != key:
            self._keys[place] = last
            self._places[last] = place

    def __len__(self) -> int:
        return len(self._profiles)

    @property
    def kept_bytes(self) -> int:
        """What the profiles kept take together, by `kept_size`."""
        return self._bytes


# A batch's persons go through `apply_facts` in groups of this many, each group's reads beginning once the group
# before has its own: one group folds (Python's work) while the next is read and the one before is stored (the
# store's). In one group, a batch of 500 facts for 450 persons waited on the store for a third of its time.
BATCH_GROUP_PERSONS = 100


@dataclass(frozen=True)
class ProfileDeps:
    store: ProfileStore
    rules: ProfileRules
    clock: Clock
    recent: RecentProfiles = field(default_factory=RecentProfiles)
    # How many more levels of help this writer may give (see `_finish_held`).
    help_depth: int = HELP_DEPTH
    batch_group_persons: int = BATCH_GROUP_PERSONS


@dataclass(frozen=True)
class Handled:
    """What handling one message came to: the events to publish, and an outcome for the metrics."""

    outputs: tuple[Envelope, ...]
    outcome: str
    # Run once the outputs are published: an erasure deletes the last document naming the person only then, so
    # that a crash before publication publishes the same events again.
    after_publish: Callable[[], Awaitable[None]] | None = None
    # Why each upstream fact this handling noted as folded into no profile goes no further (see `record_filtered`).
    filtered: tuple[str, ...] = ()


class ProfileBusyError(Exception):
    """Other writers kept taking this person's next change number: the consumer retries the message later."""


def output_id(organisation_id: str, *parts: str) -> str:
    return uuid5_text(OUTPUT_NAMESPACE, "|".join((organisation_id, *parts)))


# Why an upstream fact is folded into no profile: the reconciliation's `filtered` (with `profiled` and dead-lettered,
# it adds up to what ingest accepted). The store notes `erased` itself, for each fact an erasure takes out of a log.
ERASURE_REQUEST = "erasure_request"
NOT_FOLDED = "not_a_profile_fact"
FOR_ERASED = "erased_person"
ERASED = "erased"
# What an erasure leaves in a merge's `brought` for the person it takes out of it: someone erased was brought, and
# the merge is done again without them when it is delivered again (see `_leave_out_erased`).
ERASED_MARK = "erased"
# The change key of a merged person's survivor erased: `orphaned:<the erasure's or the merge's key>`.
ORPHANED = "orphaned:"
# The change key of a sweep's visit: `sweep:<the due moment visited>`.
SWEPT = "sweep:"
# The change keys of a merge's and an unmerge's steps on the person they move: `merged:<merge>`, `restored:<merge>`.
MOVED = ("merged:", "restored:")
# The change key of a late fact of a person merged away, on each profile holding their history: `late:<event id>`.
LATE = "late:"
# The change key of a recomputation by hand (`recompute_profiles`): `recompute:<run>`, the same for every profile of
# one run. A run of its own for each: what a later run announces has ids of its own, not taken downstream for a
# duplicate of what an earlier run did, and a run carried on finds what it stored, to publish it again.
RECOMPUTED = "recompute:"
# A run: the moment it began, to the second in UTC, and 32 random bits, which two runs begun at once do not share.
RECOMPUTE_RUN = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}(-all)?")
# Ends the name of a run that stores every profile (`recompute_profiles`' `store_all`): carried on, it does so still.
STORING_ALL = "-all"


async def _noted(deps: ProfileDeps, organisation_id: str, event_id: str, reason: str) -> tuple[str, ...]:
    """`(reason,)` if the upstream fact is noted as filtered now; `()` if it was before (a redelivery)."""
    return (reason,) if await deps.store.record_filtered(organisation_id, event_id, reason) else ()


# Most fields of a view are these, as JSON has them: told by their exact type before anything else is tried.
_ALREADY_PLAIN = frozenset({type(None), bool, int, float, str})


def plain(value: Any) -> Any:
    """A profile field as JSON: money as text to the cent, moments in ISO 8601, sets as sorted lists."""
    kind = type(value)
    if kind in _ALREADY_PLAIN:
        return value
    if kind is dict:
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------------------------------------------------------
# Use cases


async def apply_identity_event(envelope: Envelope, deps: ProfileDeps) -> Handled | None:
    """What identity published, applied to the profiles; None for a type profile has nothing to do with."""
    data = parse_data(envelope)
    match data:
        case PersonResolvedV1():
            return await apply_resolved(envelope, data, deps)
        case PersonsMergedV1():
            return await apply_merge(envelope, data, deps)
        case PersonUnmergedV1():
            return await apply_unmerge(envelope, data, deps)
        case HouseholdJoinedV1():
            return await apply_household(envelope, data, deps)
    return None


async def apply_resolved(envelope: Envelope, resolved: PersonResolvedV1, deps: ProfileDeps) -> Handled:
    """Fold the fact into its person's profile exactly once; a redelivery republishes the same events.

    The fact of a person merged into another is kept in its own log (an unmerge gives it back) and lands on the
    profile holding its history; so is a fact resolved to the survivor that identity says is part of that person's
    history (see `_kept_with`). An erasure request erases the profile instead.
    """
    upstream = parse_data(resolved.original)
    if isinstance(upstream, PersonErasureRequestedV1):
        return await erase_profile(envelope, resolved, deps)
    organisation_id, person_id = envelope.organisation_id, _kept_with(resolved)
    fact = profile_event(resolved.original, upstream)
    if fact is None:
        # Read, not folded (an access request): carried out elsewhere.
        return Handled((), "ignored", filtered=await _noted(deps, organisation_id, resolved.original.id, NOT_FOLDED))
    if await deps.store.is_erased(organisation_id, person_id):
        # Identity sends nothing for an erased person: this is a copy delivered again from before the erasure.
        return Handled((), "erased_person", filtered=await _noted(deps, organisation_id, fact.event_id, FOR_ERASED))
    own = await _apply_own_fact(
        organisation_id, person_id, resolved.original, fact, envelope.correlation_id or fact.event_id, deps
    )
    if own is None:
        # Erased while it was applied: the erasure took it out of the log, and noted it (`erased`) as it did.
        return Handled((), "erased_person", filtered=await _noted(deps, organisation_id, fact.event_id, FOR_ERASED))
    if not own.profile.is_merged:
        return Handled(own.outputs, own.outcome)
    top = await _top(deps, organisation_id, person_id)
    if top == person_id:
        # Not (or no longer, or not yet) held by a survivor: the unmerge or merge under way reads this profile.
        return Handled(own.outputs, own.outcome)
    cause = _Cause(
        f"{LATE}{fact.event_id}", envelope.correlation_id or fact.event_id, fact, origin=envelope, landing=person_id
    )
    outputs = own.outputs
    if own.outcome != "applied":
        # Delivered again: the profile it landed on may have been merged on since. The top found then holds the fact
        # already and has nothing of it to publish; the profile it landed on kept what it published.
        outputs += await _landed_on_holders(deps, organisation_id, person_id, cause.key)
    just_logged = _LateFact(person_id, own.profile.applied, fact) if own.outcome == "applied" else None
    held = await _recompute(deps, organisation_id, top, cause, late=just_logged)
    outputs += () if held is None else held.outputs
    if held is not None:
        # The top found may have been merged on since: every profile holding it now.
        outputs += tuple(await _recompute_upwards(deps, held.profile, cause))
    return Handled(_unique(outputs), "late" if own.outcome == "applied" else own.outcome)


def _kept_with(resolved: PersonResolvedV1) -> str:
    """Whose log the fact goes into: the person merged into the one it was resolved to whose history identity says it
    is part of (Béa's box-office id with Anne's email, the fact that merged Béa into Anne), which an unmerge gives
    back to them as identity gives them the record; or, as a fact told before identity said so, that one's own."""
    return resolved.history_of or resolved.person_id


async def apply_merge(envelope: Envelope, merged: PersonsMergedV1, deps: ProfileDeps) -> Handled:
    """Fold the merged persons' profiles into the survivor's, once, and announce the survivor's changes.

    The merged persons' profiles stay, marked as merged, so that an unmerge can recompute them; they leave their
    segments. A redelivery changes nothing and publishes the same events again.
    """
    store, organisation_id = deps.store, envelope.organisation_id
    survivor_id, merge_id = merged.survivor_person_id, merged.merge_id
    cause = _Cause(f"merge:{merge_id}", envelope.correlation_id or merge_id, origin=envelope)
    survivor = await store.profile(organisation_id, survivor_id)
    if survivor is not None and survivor.undone_merge(merge_id) is not None:
        # Identity undid this merge before this copy of it arrived.
        return Handled((), "ignored")
    erased = await store.is_erased(organisation_id, survivor_id)
    outputs: list[Envelope] = []
    if erased or survivor is None or survivor.merge_in_force(merge_id) is None:
        # Erased since, the survivor leaves the merged persons merged into no one, for an unmerge to restore them.
        into = None if erased else survivor_id
        for person_id in merged.merged_person_ids:
            outputs.extend(await _mark_merged(deps, organisation_id, person_id, into, merged, cause))
    else:
        # The survivor holds the merge, so each person it merged was marked (a later merge may have taken one of
        # them since: a copy delivered again marks no one).
        for person_id in merged.merged_person_ids:
            other = await store.profile(organisation_id, person_id)
            outputs.extend(() if other is None else _republished(other, f"merged:{merge_id}"))
    if erased:
        await _orphan_merged(deps, organisation_id, merged, cause)
        return Handled(_unique(outputs), "merged")
    absorbed = await _absorb(deps, organisation_id, merged, cause)
    if absorbed is None:
        await _orphan_merged(deps, organisation_id, merged, cause)
        return Handled(_unique(outputs), "erased_person")
    return Handled(_unique([*outputs, *absorbed.outputs]), "merged" if absorbed.outcome == "applied" else "republished")


async def apply_unmerge(envelope: Envelope, unmerged: PersonUnmergedV1, deps: ProfileDeps) -> Handled:
    """Undo a merge: the survivor recomputed from its own facts and the profiles still merged into it, each
    restored person from its own facts, active again; both announced. A redelivery publishes the same events."""
    organisation_id, survivor_id, merge_id = envelope.organisation_id, unmerged.survivor_person_id, unmerged.merge_id
    cause = _Cause(f"unmerge:{merge_id}", envelope.correlation_id or merge_id, origin=envelope)

    async def release(stored: StoredProfile) -> _Change | None:
        held = stored.merge_in_force(merge_id)
        if held is None:
            return None
        remaining = replace(stored, merges=_replace_merge(stored.merges, merge_id, None))
        still_held: set[str] = set()
        state, held_sent, through = await _full_state(deps, remaining, folded=still_held)
        # A late fact of someone given back is delivered again to the profile holding them now, never here: a slot
        # kept for them would only hold announcements of a history this profile no longer has.
        landed = tuple(fact for fact in stored.landed if fact.person_id in still_held)
        remaining = replace(remaining, held_sent=held_sent, folded_through=through, landed=landed)
        # As identity does: the household the merge moved the survivor into goes with it, unless identity decided
        # another since, which stays.
        move = held.household_move
        undoing = move if move is not None and stored.shows_household_of(move) else None
        if stored.is_merged:
            if undoing is not None:
                remaining = replace(remaining, household_id=undoing.before_id, household_at=undoing.before_at)
            change = _quietly(remaining, state)
        else:
            change = _announced(deps, remaining, state, cause, undoing=undoing)
        undone = UndoneMerge(merge_id, _as_json(change.outputs))
        return replace(change, profile=replace(change.profile, undone=(*stored.undone, undone)))

    outputs: list[Envelope] = []
    written = await _write(deps, organisation_id, survivor_id, cause.key, release, cause.origin)
    if written is not None:
        undone = written.profile.undone_merge(merge_id)
        if written.outcome == "unchanged":
            outputs.extend((*written.helped, *_from_json(() if undone is None else undone.outputs)))
        else:
            outputs.extend(written.outputs)
        # The survivor was itself merged since: every profile holding it lets the restored histories go too.
        outputs.extend(await _recompute_upwards(deps, written.profile, cause))
    restored = [
        await _restore(deps, organisation_id, person_id, merge_id, unmerged.unmerged_at, cause)
        for person_id in unmerged.restored_person_ids
    ]
    outputs.extend(output for one in restored if one is not None for output in one.outputs)
    changed = [one for one in (written, *restored) if one is not None and one.outcome == "applied"]
    return Handled(_unique(outputs), "unmerged" if changed else "republished")


async def apply_household(envelope: Envelope, joined: HouseholdJoinedV1, deps: ProfileDeps) -> Handled:
    """The person's profile shows the household identity counts them in, announced as a change of
    `household_id`; fires no trigger (no fact happened). A redelivery publishes the same events again."""
    organisation_id, person_id = envelope.organisation_id, joined.person_id
    cause = _Cause(f"household:{envelope.id}", envelope.correlation_id or envelope.id, origin=envelope)

    async def join(stored: StoredProfile) -> _Change | None:
        joining = stored.in_household(joined.household_id, joined.joined_at)
        if joining is None:
            # Older than the household shown, but maybe decided before a merge moved the person and delivered after
            # it: then it is what that merge's unmerge gives back, as identity does.
            merges = _with_earlier_household(stored.merges, joined.household_id, joined.joined_at)
            return None if merges == stored.merges else _Change(replace(stored, merges=merges))
        if stored.is_merged or joining.household_id == stored.household_id:
            # Kept for an unmerge (the survivor shows the household the merge gave it, see `PersonsMergedV1`), or
            # the same household decided again later: only its moment changes, which nobody needs to be told.
            return _quietly(joining, stored.state)
        change = _announced(deps, stored, stored.state, cause, joins=joined.household_id)
        return replace(change, profile=replace(change.profile, household_at=joining.household_at))

    written = await _write(deps, organisation_id, person_id, cause.key, join, cause.origin)
    if written is None:
        return Handled((), "erased_person")
    if written.outcome == "applied":
        return Handled(written.outputs, "household")
    # A household already shown, or an older decision: published again only if it was this profile's last change.
    return Handled(written.outputs, "republished" if written.outputs else "unchanged")


async def erase_profile(envelope: Envelope, resolved: PersonResolvedV1, deps: ProfileDeps) -> Handled:
    """Erase the person's profile: its log, facts and trigger keys deleted, its segments left (announced), the
    profile it was merged into recomputed without it. No document keeps the person's id afterwards, and a fact
    for the person delivered again changes nothing."""
    store, organisation_id, person_id = deps.store, envelope.organisation_id, resolved.person_id
    cause = _Cause(f"erasure:{resolved.original.id}", envelope.correlation_id or resolved.original.id, origin=envelope)
    request = parse_data(resolved.original)
    requested_by = request.requested_by if isinstance(request, PersonErasureRequestedV1) else "unknown"
    filtered: tuple[str, ...] = ()
    if isinstance(request, PersonErasureRequestedV1) and request.person.source != PARTERRE_PERSON_SOURCE:
        # An upstream request (Parterre's own come from its APIs, not through ingest) is carried out, not folded;
        # identity sends it once for each person it erased, and it is noted once.
        filtered = await _noted(deps, organisation_id, resolved.original.id, ERASURE_REQUEST)
    # First: whatever a writer stores for the person from now on, it deletes again.
    await store.mark_erased(organisation_id, person_id)
    stored = await store.profile(organisation_id, person_id)
    if stored is None:
        # Erased before, the document deleted; or never stored, a merge having died before storing the person's
        # first change. What a writer left in the log (a step's message naming the person) goes; the scrub and the
        # proof may not have run (a failure after the deletion): they run again until the proof is logged.
        filtered += (ERASED,) * await store.purge(organisation_id, person_id)
        await store.forget_origins_naming(organisation_id, person_id)
        await store.unschedule_person(organisation_id, person_id)
        await store.unindex_lookups(organisation_id, person_id, (), thorough=True)

        async def finish() -> None:
            await _finish_erasure(deps, organisation_id, person_id, cause)

        return Handled((), "erased", after_publish=finish, filtered=filtered)
    if stored.last_change == cause.key:
        # Erased before; only the document was left, to publish its announcements again.
        own = _republished(stored, cause.key)
    else:
        at = _as_of(deps, stored.state)
        own = (
            *_segment_events(organisation_id, person_id, cause, at, entered=(), exited=stored.segments),
            build_envelope(
                ProfileErasedV1(person_id=person_id, at=at),
                id=output_id(organisation_id, "erased", cause.key, person_id),
                **_common(organisation_id, person_id, cause, at),
            ),
        )
    outputs = list(own)
    if stored.merged_by is not None and stored.merged_into is not None:
        outputs.extend(
            await _let_go(deps, organisation_id, stored.merged_into, stored.merged_by, person_id, cause, upwards=True)
        )
    for held in stored.merges:
        for merged_id in held.person_ids:
            await _orphan(deps, organisation_id, merged_id, person_id, cause)
    filtered += (ERASED,) * await store.purge(organisation_id, person_id)
    # Steps whose writers died before storing them keep the message they were handling, which may name the person.
    await store.forget_origins_naming(organisation_id, person_id)
    await store.unschedule_person(organisation_id, person_id)
    await store.unindex_lookups(organisation_id, person_id, lookup_keys(stored.state), thorough=True)
    # Everything but the exits to publish: the document goes once they are out.
    await store.save(
        StoredProfile(
            organisation_id,
            person_id,
            version=stored.version + 1,
            last_change=cause.key,
            last_outputs=_as_json(own),
            merged_into=stored.merged_into,
            merged_by=stored.merged_by,
            merges=tuple(replace(held, outputs=()) for held in stored.merges),
        )
    )

    details = personal_details(stored.state)

    async def delete_and_prove() -> None:
        await _scrub_announcements_naming(deps, organisation_id, person_id, cause)
        await store.delete_profile(organisation_id, person_id)
        await _prove_erased(deps, organisation_id, person_id, details, requested_by)

    return Handled(_unique(outputs), "erased", after_publish=delete_and_prove, filtered=filtered)


async def _finish_erasure(deps: ProfileDeps, organisation_id: str, person_id: str, cause: "_Cause") -> None:
    entries = await deps.store.privacy_entries(organisation_id, person_digest(organisation_id, person_id))
    if any(entry.action == "erased" for entry in entries):
        return
    await _scrub_announcements_naming(deps, organisation_id, person_id, cause)
    # The details went with the profile: the search looks for the person's id alone.
    await _prove_erased(deps, organisation_id, person_id, (), "unknown")


async def _scrub_announcements_naming(deps: ProfileDeps, organisation_id: str, person_id: str, cause: "_Cause") -> None:
    """A profile that held the person's history and no longer does (an unmerge gave it back, lower down a chain of
    merges) keeps what it announced meanwhile, for a redelivery to publish again; the erasure drops those
    announcements wherever they name the person.

    A merge still bringing the person was stored after the erasure looked for the profiles holding them, with
    their history read before: the survivor's state is rebuilt without it, quietly, and the merge is marked to be
    done again without them when it is delivered again (`_leave_out_erased`), which announces it."""
    # Still there until the erasure's last step: who held the person when the erasure began.
    erased = await deps.store.profile(organisation_id, person_id)
    for holder_id in await deps.store.profiles_naming(organisation_id, person_id):

        async def scrub(stored: StoredProfile) -> _Change | None:
            kept = b"".join(
                (
                    *stored.last_outputs,
                    *stored.swept_outputs,
                    *stored.moved_outputs,
                    *(b for landed in stored.landed for b in landed.outputs),
                    *(b for held in stored.merges for b in held.outputs),
                    *(b for undone in stored.undone for b in undone.outputs),
                )
            )
            bringing = any(person_id in held.brought for held in stored.merges)
            landing = any(landed.person_id == person_id for landed in stored.landed)
            # Kept by a profile whose state their history left adding nothing it did not have (see `_recompute`).
            reading = any(folded == person_id for folded, _ in stored.folded_through)
            if person_id.encode() not in kept and not bringing and not landing and not reading:
                return None
            scrubbed = replace(
                _without_stored_outputs(stored),
                folded_through=tuple(pair for pair in stored.folded_through if pair[0] != person_id),
            )
            if not bringing:
                return _Change(scrubbed)
            merges = tuple(
                replace(held, person_ids=tuple(other for other in held.person_ids if other != person_id))
                for held in scrubbed.merges
            )
            state, held_sent, through = await _full_state(
                deps, replace(scrubbed, merges=merges), leaving_out={person_id}
            )

            def still_brought(held: MergeInForce) -> bool:
                # Held, when the erasure began, by this profile or by someone this merge brought; not given back by
                # an unmerge beneath. Without the person's document (an erasure delivered again), by the state.
                if erased is None:
                    return state != stored.state
                holder = erased.merged_into
                return holder is not None and (holder == stored.person_id or holder in held.brought)

            marked = tuple(
                replace(held, brought=_marked_erased(held.brought, person_id))
                if still_brought(held)
                else replace(held, brought=tuple(other for other in held.brought if other != person_id))
                for held in merges
            )
            return _Change(replace(scrubbed, merges=marked, state=state, held_sent=held_sent, folded_through=through))

        await _write(deps, organisation_id, holder_id, f"scrubbed:{cause.key}", scrub, cause.origin)


def _marked_erased(brought: tuple[str, ...], person_id: str) -> tuple[str, ...]:
    if person_id not in brought:
        return brought
    return tuple(sorted({*(other for other in brought if other != person_id), ERASED_MARK}))


async def _prove_erased(
    deps: ProfileDeps, organisation_id: str, person_id: str, details: Sequence[str], requested_by: str
) -> None:
    """Searches every document kept for the person's id and details, and logs what the search found: the
    proof that the erasure left nothing. A detail may still be found where another person shares it (a
    family's email); the person's id never."""
    naming = await deps.store.search(organisation_id, [person_id])
    holding = await deps.store.search(organisation_id, details) if details else dict.fromkeys(naming, 0)
    await deps.store.log_privacy(
        PrivacyEntry(
            organisation_id=organisation_id,
            action="erased",
            person_digest=person_digest(organisation_id, person_id),
            at=deps.clock.now(),
            requested_by=requested_by,
            details={
                "collections_searched": sorted(naming),
                "documents_naming_the_person": sum(naming.values()),
                "documents_holding_their_details": sum(holding.values()),
            },
        )
    )


async def sweep_profile(entry: DueEntry, deps: ProfileDeps) -> Handled:
    """Time alone changed the profile at its due moment: what changed since is announced as of now, the time-based
    triggers that hold fire, and the profile is filed for its next due moment. An entry gone stale (the profile
    changed, was swept, merged or erased since it was filed) changes nothing; a sweep visiting the entry again
    after a crash publishes the same events again."""
    due = entry.due_at.isoformat()
    cause = _Cause(f"{SWEPT}{due}", f"sweep:{entry.person_id}:{due}", swept_due_at=entry.due_at, origin=entry)

    refiled = False

    async def tick(stored: StoredProfile) -> _Change | None:
        nonlocal refiled
        if stored.is_merged or entry.due_at > deps.clock.now():
            return None
        if stored.due_at == entry.due_at:
            return replace(_announced(deps, stored, stored.state, cause), unfile_replaced=False)
        refiled = stored.filed_at == entry.due_at and stored.due_at is not None and stored.due_at > entry.due_at
        # Kept here while its due moment was put off: filed again for it, with nothing to announce.
        return _Change(stored, unfile_replaced=False) if refiled else None

    written = await _write(deps, entry.organisation_id, entry.person_id, cause.key, tick, cause.origin)
    if written is None:
        return Handled((), "erased_person")
    if written.outcome != "applied":
        outputs = written.outputs
        if written.profile.swept == cause.key and written.profile.last_change != cause.key:
            # Stored by a visit that died before its events were out, and changed since: the same events again.
            outputs = _unique((*outputs, *_from_json(written.profile.swept_outputs)))
        return Handled(outputs, written.outcome)
    return Handled(written.outputs, "refiled" if refiled else "swept")


async def profiles_found_by(deps: ProfileDeps, organisation_id: str, *keys: str) -> list[StoredProfile]:
    """The profiles holding any of `keys` (see `domain.lookups`), each patron once: a person merged into another is
    found as the profile holding their history."""
    found: dict[str, StoredProfile] = {}
    for key in keys:
        for person_id in await deps.store.found_by(organisation_id, key):
            holder = await deps.store.profile(organisation_id, await _top(deps, organisation_id, person_id))
            # A key filed just before a crash may name a profile that never stored it: the profile has the last word.
            if holder is not None and not holder.is_merged and key in lookup_keys(holder.state):
                found[holder.person_id] = holder
    return [found[person_id] for person_id in sorted(found)]


# A search reads at most this many persons from its look-ups (and their profiles): a name's sound may find
# thousands, and a search box must answer in about a second.
MAX_SEARCH_CANDIDATES = 500
# A list of a word alone this short is read whole when the candidates above left a name of several words with too few
# matches (see `search_profiles`), at most this many persons more in all: 500 persons read take about 200 ms here.
RARE_LIST = 100
RARE_LISTS_READ = 200


@dataclass(frozen=True)
class SearchResult:
    """The best matches, each with the profile holding the patron's history now, and whether patrons that match
    may have been left out: more matched than asked for, or the look-ups found more than were read."""

    found: list[tuple[Found, StoredProfile]]
    truncated: bool


async def search_profiles(
    deps: ProfileDeps,
    organisation_id: str,
    query: SearchQuery,
    *,
    limit: int,
    max_candidates: int = MAX_SEARCH_CANDIDATES,
) -> SearchResult:
    """The patrons matching `query`, best first (`domain.search.rank`), each once: a person merged into another is
    found as the profile holding their history, and ranked by that profile's names and details.

    The look-ups are read stage by stage (`SearchQuery.lookup_stages`), at most `max_candidates` persons in all.
    When that leaves a name of two words or more with no more matches than asked for, the short lists of its words
    alone (`RARE_LIST` persons or fewer, shortest first, `RARE_LISTS_READ` persons in all) are read whole too: each
    word must match, so a rare word's list (`Tremb`) holds what `Marie Tremb` asks for, which every Marie's list,
    read first, kept out. Only more patrons are read, so the matches found can only be more, or better.
    """
    read: set[str] = set()
    holders: dict[str, StoredProfile] = {}
    truncated = False
    ranked: list[Found] = []

    async def read_list(key: str, most: int) -> None:
        nonlocal truncated
        persons, more = await deps.store.found_by_up_to(organisation_id, key, most)
        truncated = truncated or more
        fresh = [person_id for person_id in persons if person_id not in read]
        read.update(fresh)
        for holder in await _holders(deps, organisation_id, fresh):
            holders[holder.person_id] = holder

    for stage in query.lookup_stages:
        for key in stage:
            room = max_candidates - len(read)
            if room <= 0:
                truncated = True
                break
            await read_list(key, room)
        ranked = rank(query, [Candidate.of(holder.person_id, holder.state) for holder in holders.values()])
        if len(ranked) > limit:
            break
    if truncated and len(ranked) <= limit and query.has_several_words:
        words_alone = [key for stage in query.lookup_stages[1:] for key in stage]
        lengths = await deps.store.lookup_lengths(organisation_id, words_alone)
        budget = len(read) + RARE_LISTS_READ
        for key in sorted(words_alone, key=lengths.__getitem__):
            if lengths[key] > min(RARE_LIST, budget - len(read)):
                break
            await read_list(key, lengths[key])
        ranked = rank(query, [Candidate.of(holder.person_id, holder.state) for holder in holders.values()])
    return SearchResult(
        [(found, holders[found.candidate.person_id]) for found in ranked[:limit]],
        truncated=truncated or len(ranked) > limit,
    )


async def _holders(deps: ProfileDeps, organisation_id: str, person_ids: Sequence[str]) -> list[StoredProfile]:
    """The profiles holding these persons' histories now (those not merged away are their own)."""
    stored = await deps.store.profiles_of(organisation_id, person_ids)
    holders = []
    for person_id in person_ids:
        profile = stored.get(person_id)
        if profile is not None and profile.is_merged:
            profile = await deps.store.profile(organisation_id, await _top(deps, organisation_id, person_id))
        if profile is not None and not profile.is_merged:
            holders.append(profile)
    return holders


@dataclass
class ReindexReport:
    """What filing every stored profile under its look-up keys did: profiles visited, keys they were missing."""

    profiles: int = 0
    filed: int = 0


async def reindex_lookups(
    store: ProfileStore,
    organisation_id: str | None,
    *,
    concurrency: int = 16,
    progress: Callable[[ReindexReport], None] | None = None,
) -> ReindexReport:
    """Files every stored profile (of one organisation, or of all) under each look-up key it holds and was not filed
    under: profiles stored before a kind of key existed (names' sounds, upstream ids alone, emails as identity links
    them). Running it again files nothing; the service keeps on filing profiles as they change meanwhile.

    A profile changed or erased while it was filed is read again afterwards: the keys it no longer holds are
    withdrawn, all of them for an erased person, so nothing is left naming them.
    """
    report = ReindexReport()

    async def visit(profile: StoredProfile) -> None:
        await file(profile)
        report.profiles += 1
        if progress is not None:
            progress(report)

    async def file(profile: StoredProfile) -> None:
        organisation, person_id = profile.organisation_id, profile.person_id
        keys = lookup_keys(profile.state)
        if not keys:
            return
        filed = await store.index_lookups(organisation, person_id, keys)
        # Added once the filing is done: `report.filed += await ...` would read the total before waiting.
        report.filed += filed
        now = await store.profile(organisation, person_id)
        if now is None or await store.is_erased(organisation, person_id):
            await store.unindex_lookups(organisation, person_id, keys, thorough=True)
        elif keys - lookup_keys(now.state):
            await store.unindex_lookups(organisation, person_id, keys - lookup_keys(now.state))

    await _visit_every_profile(store, organisation_id, visit, concurrency)
    return report


@dataclass
class RecomputeReport:
    """What folding the stored profiles again did. Each profile visited was recomputed (its state changed: stored
    and announced), unchanged, announced again (the run it was stored by being carried on), stored again as it was
    (a run storing every profile), skipped (merged into another profile, which folds its history; or erased), or
    failed (logged)."""

    visited: int = 0
    recomputed: int = 0
    unchanged: int = 0
    announced_again: int = 0
    stored_again: int = 0
    merged_away: int = 0
    erased: int = 0
    failed: int = 0

    @property
    def skipped(self) -> int:
        return self.merged_away + self.erased


def new_recompute_run(now: datetime, *, store_all: bool = False) -> str:
    """A run of `recompute_profiles` of its own (see `RECOMPUTED`), begun `now`; named as storing every profile
    with `store_all`, which the run must then be given."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}{STORING_ALL if store_all else ''}"


async def recompute_profiles(
    deps: ProfileDeps,
    organisation_id: str | None,
    run: str,
    publish: Callable[[tuple[Envelope, ...]], Awaitable[None]],
    *,
    concurrency: int = 16,
    progress: Callable[[RecomputeReport], None] | None = None,
    store_all: bool = False,
) -> RecomputeReport:
    """Folds every stored profile (of one organisation, or of all) again from the logs of its history, its own and
    those of the profiles merged into it: a profile stored before the fold learnt something (a new field) holds it
    then. A profile merged into another is left to it. Each change is made as any other, under the next number of
    the person's log (the service may keep running), and announced; `publish` has its events before the profile
    counts as visited, and a failure to publish stops the run. No trigger fires: no fact happened. A profile whose
    folded state is unchanged stores and announces nothing, so that a second run changes nothing, unless the rules
    as they are now put it in other segments or make it due at another moment: after an edit of the segments or
    triggers file, a run brings every profile in line with it.

    With `store_all`, every profile the run does not change, those merged into another too, is stored again as it
    is, announcing nothing, in the form the store writes (see `PARTERRE_PROFILE_COMPRESSED_STATES`): the way back
    to a release that reads only the older form. A profile this run stored already is not stored again.

    `run` (`new_recompute_run`) names every change of the run (`RECOMPUTED`), and the ids of what it announces
    derive from it: the same run carried on after it was cut short publishes again, with the same ids, what it
    stored for a profile unchanged since, which may never have reached Kafka.
    """
    key = f"{RECOMPUTED}{run}"
    cause = _Cause(key, key)
    # A profile only stored again is told apart from one the run recomputed, whose announcements a run carried on
    # publishes again.
    again_key = f"{key}:again"
    again = _Cause(again_key, again_key)
    report = RecomputeReport()

    async def visit(profile: StoredProfile) -> None:
        outputs = await recompute(profile)
        if outputs:
            await publish(outputs)
        report.visited += 1
        if progress is not None:
            progress(report)

    async def recompute(profile: StoredProfile) -> tuple[Envelope, ...]:
        organisation, person_id = profile.organisation_id, profile.person_id
        if profile.is_merged and not store_all:
            report.merged_away += 1
            return ()
        helped: tuple[Envelope, ...] = ()
        try:
            written = (
                None if profile.is_merged else await _recompute(deps, organisation, person_id, cause, rejudge=True)
            )
            if store_all and (
                profile.is_merged
                or (written is not None and written.outcome == "unchanged" and written.profile.last_change != key)
            ):
                # What the run did on the way for a writer that died holding the person's next number is published
                # as in any run: that writer's message, delivered again, finds the profile past it.
                helped = () if written is None else written.outputs
                stored_again = await _store_again(deps, organisation, person_id, again)
                if stored_again is None:
                    report.erased += 1
                    return helped
                report.stored_again += 1
                return helped + stored_again.outputs
        except ProfileBusyError as exc:
            # Other writers kept changing the person: the profile is as they left it, for the next run. What was done
            # on the way for a dead writer is stored, and published as any run's.
            log.warning("the profile of %s of %s was not recomputed: %s", person_id, organisation, exc)
            report.failed += 1
            return helped
        except Exception:
            # One profile that cannot be folded (a bug, a damaged document) must not hold back every other.
            log.exception("the profile of %s of %s could not be recomputed", person_id, organisation)
            report.failed += 1
            return helped
        if written is None:
            report.erased += 1
        elif written.outcome == "applied":
            report.recomputed += 1
        elif written.profile.last_change == key:
            report.announced_again += 1
        else:
            report.unchanged += 1
        return () if written is None else written.outputs

    await _visit_every_profile(deps.store, organisation_id, visit, concurrency)
    return report


async def _store_again(deps: ProfileDeps, organisation_id: str, person_id: str, cause: "_Cause") -> "_Written | None":
    """The person's profile stored again as it is, under the next number of their log, announcing nothing; None if
    they are erased. One stored by this change already is left as it is."""

    async def again(stored: StoredProfile) -> _Change | None:
        return None if stored.last_change == cause.key else _quietly(stored, stored.state)

    return await _write(deps, organisation_id, person_id, cause.key, again, cause.origin)


async def _visit_every_profile(
    store: ProfileStore,
    organisation_id: str | None,
    visit: Callable[[StoredProfile], Awaitable[None]],
    concurrency: int,
) -> None:
    """`visit` of every stored profile (of one organisation, or of all), `concurrency` at once, reading no further
    ahead than twice that. A visit that fails stops the walk and the visits under way, as a crash would."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(profile: StoredProfile) -> None:
        async with gate:
            await visit(profile)

    pending: set[asyncio.Task[None]] = set()
    try:
        async for profile in store.every_profile(organisation_id):
            if len(pending) >= concurrency * 2:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                await asyncio.gather(*done)
            pending.add(asyncio.create_task(gated(profile)))
        await asyncio.gather(*pending)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class SweepReport:
    """What one sweep did: the slots of time it went through and the outcome of every profile filed in them."""

    slots: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def visited(self) -> int:
        return sum(self.outcomes.values())


async def sweep_due(
    deps: ProfileDeps,
    publish: Callable[[Handled], Awaitable[None]],
    *,
    concurrency: int = 16,
    progress: Callable[[SweepReport], None] | None = None,
) -> SweepReport:
    """Visits every profile filed in the slots that have ended since the last sweep, then moves past them.

    The sweep reads the slots, never the profiles collection: its work grows with the profiles due, not with the
    profiles held. Each profile's events are published before its slot is let go, so a sweep cut short visits the
    rest (and publishes the same events again for those it had done) the next time. Two sweepers at once do the
    same visits twice, and each visit changes a profile once.

    A visit that fails is counted `failed` and its entry filed again, before its slot is let go, for a later sweep:
    a quarter of an hour later, twice as long after each failure in a row, a day at most (`retry_delay`).
    """
    store = deps.store
    now = deps.clock.now()
    left = await store.sweep_left()
    if left is None:
        # Nothing was filed before the first sweep position existed that a sweep would have to catch up on:
        # profiles are filed as they change, and their due moments lie ahead. Read again: another sweeper may have
        # set it first, moved it on and died before reading the slots it passed again, which this run then does.
        await store.start_sweep(slot_of(now))
        left = await store.sweep_left()
        assert left is not None, "the position was just set"
    position, moved_from = left
    report = SweepReport()
    gate = asyncio.Semaphore(concurrency)

    async def visit(entry: DueEntry) -> DueEntry | None:
        """Visits the entry; the entry to file again if the visit failed."""
        retry = None
        async with gate:
            try:
                handled = await sweep_profile(entry, deps)
            except Exception:
                # One profile that cannot be applied (a bug, a damaged document, the store failing it) must not stop
                # time for every other: it is logged, counted, and tried again later, less often after each failure
                # in a row, but never let go: once repaired (or the bug fixed) it gets its visit.
                retry = after_failed_visit(entry, deps.clock.now())
                log.exception(
                    "the sweep could not visit %s of %s, due %s (failure %d in a row); it tries again after %s",
                    entry.person_id,
                    entry.organisation_id,
                    entry.due_at.isoformat(),
                    retry.failed_visits,
                    retry.visit_at.isoformat(),
                )
                handled = Handled((), "failed")
            await publish(handled)
        report.outcomes[handled.outcome] = report.outcomes.get(handled.outcome, 0) + 1
        if progress is not None:
            progress(report)
        return retry

    async def visit_slot(slot: datetime) -> None:
        for filed in await store.filed_in(slot):
            # Not shared with other documents or slots: an entry equal to one visited may be a writer's copy, filed
            # ahead before that writer stored the change the visit did not see yet.
            visited: set[DueEntry] = set()
            current: FiledDue | None = filed
            # Writers file and unfile entries while the slot is visited: the document goes only once it is read
            # unchanged with every entry visited.
            while current is not None:
                # Each entry once: a retry after a crash may have filed the same moment twice.
                pending = [entry for entry in dict.fromkeys(current.entries) if entry not in visited]
                visits = await asyncio.gather(*(visit(entry) for entry in pending))
                visited.update(pending)
                if retries := [retry for retry in visits if retry is not None]:
                    # Filed again before their document goes, so that a sweep dying in between leaves them filed
                    # (twice at worst), never nowhere. A retry lies past every slot a sweep may read by now, so ahead
                    # of the position (`schedule` files it at the position should another sweeper's clock run ahead).
                    await store.schedule_all(retries)
                if await store.drop_filed(current):
                    break
                current = next((again for again in await store.filed_in(slot) if again.key == filed.key), None)

    # The slot just left is read once more after the position moved (below); a sweep cut short there (in this
    # process or another) left what that read found behind the position, where no sweep goes. Every run reads it,
    # even after this process read it: FerretDB's late write can put the position back, and a writer then files
    # there with no copy ahead.
    await visit_slot(position - SLOT)
    # So is a last move past several empty slots, all of it: read again by the next run if the sweep that moved
    # died first, and before another sweeper moving on from midnight lets the day go.
    if moved_from < position - SLOT:
        for late in await store.slots_filed(moved_from, position - SLOT):
            await visit_slot(late)
    slot = slot_of(position)
    while (stretch_end := stretch_to_sweep(slot, now)) > slot:
        filed = await store.slots_filed(slot, stretch_end)
        # Slots with nothing filed are passed in one move (after a pause, or a quiet night, most are empty), then
        # read once more, like a slot visited below.
        passed_to = filed[0] if filed else stretch_end
        # Whether the position is past the slots passed is known before they are read again: a sweep goes on only
        # past slots it read again once the position had left them. Another sweeper may have moved it less far (its
        # clock, or what it found filed, ended its move sooner); going on would run ahead of the position, past
        # slots read before a writer reading that position filed there, and let a day go that it still lies in.
        if passed_to > slot:
            reached = await store.advance_sweep(slot, passed_to) or await _position_reached(store, passed_to)
            for late in await store.slots_filed(slot, passed_to):
                await visit_slot(late)
        else:
            passed_to = slot + SLOT
            await visit_slot(slot)
            reached = await store.advance_sweep(slot, passed_to) or await _position_reached(store, passed_to)
            # A writer files, then reads the position, and files again ahead if the sweep has passed (`schedule`).
            # One that filed here after the slot was emptied but read the position before it moved is read now; any
            # later one sees the position moved.
            await visit_slot(slot)
        if not reached:
            return report
        report.slots += (passed_to - slot) // SLOT
        slot = passed_to
    return report


async def _position_reached(store: ProfileStore, slot: datetime) -> bool:
    position = await store.sweep_position()
    return position is not None and position >= slot


# ---------------------------------------------------------------------------------------------------------------
# Steps


@quick_init
@dataclass(frozen=True)
class _Cause:
    """Why a profile changes: `key` names the change in the person's log, and what it announces derives its ids
    from `key` too."""

    key: str
    correlation_id: str
    # Only a fact, or time alone (the sweep), fires trigger rules.
    fact: ProfileEvent | None = None
    # For the sweep: the due moment it visits the profile for. Nothing changed between the profile's last change
    # and that moment, so the profile as of just before it is the one last announced.
    swept_due_at: datetime | None = None
    # What the writer is handling: kept with each number it takes, for another writer to do the change again
    # should this one die before storing it.
    origin: Origin | None = None
    # For a late fact of a person merged away: that person, whose slot in `StoredProfile.landed` keeps what it
    # publishes on each profile holding their history.
    landing: str | None = None

    @property
    def fires_triggers(self) -> bool:
        return self.fact is not None or self.swept_due_at is not None

    @property
    def fired_by(self) -> str:
        return self.fact.event_id if self.fact is not None else self.key


@quick_init
@dataclass(frozen=True)
class _Change:
    """A profile's next version, decided on the version it replaces, with what announces it."""

    profile: StoredProfile
    outputs: tuple[Envelope, ...] = ()
    # Trigger events not yet checked against the dedupe keys already stored, and the fact firing them.
    triggers: tuple[Envelope, ...] = ()
    fired_by: str = ""
    # A sweep's visit leaves the entry it visits filed: its slot is let go only once its events are out, so a
    # crash before then visits it again.
    unfile_replaced: bool = True
    # For a merge: the merge whose record keeps the triggers it fired, to publish them again with it.
    fired_in_merge: str | None = None
    # For a late fact: the person it is of (see `_Cause.landing`).
    landing: str | None = None


@dataclass(frozen=True)
class _Written:
    profile: StoredProfile
    outputs: tuple[Envelope, ...]
    # `applied` (stored now), `duplicate`, `republished`, or `unchanged` (nothing to change).
    outcome: str
    # What changes held by others announced when this writer did them again first (part of `outputs`).
    helped: tuple[Envelope, ...] = ()


Decide = Callable[[StoredProfile], Awaitable[_Change | None]]


@dataclass(frozen=True)
class _LateFact:
    """A fact of a person merged away, logged in their history as number `number` by this very handling."""

    person_id: str
    number: int
    fact: ProfileEvent


async def _apply_own_fact(
    organisation_id: str,
    person_id: str,
    original: Envelope,
    fact: ProfileEvent,
    correlation_id: str,
    deps: ProfileDeps,
) -> _Written | None:
    """The fact logged and folded into its person's own profile; None if the person was erased meanwhile.

    A fact finding the next change number held by another change not stored yet does that one again first, as its
    redelivery would (see `_finish_held`): its writer may be at work, or dead, or have failed for good, and the
    person's facts must not wait on it forever.
    """
    cause = _Cause(fact.event_id, correlation_id, fact)
    helped: tuple[Envelope, ...] = ()
    for attempt in range(MAX_ATTEMPTS):
        stored = await deps.store.profile(organisation_id, person_id) or StoredProfile(organisation_id, person_id)
        number = await deps.store.log_fact(organisation_id, fact.event_id, person_id, stored.applied + 1, original)
        if number is not None and number <= stored.applied:
            # Applied, then perhaps the process died before Kafka had its events: the very same ones again.
            again = _republished(stored, cause.key)
            return _Written(stored, helped + again, "republished" if again else "duplicate")
        if number != stored.applied + 1:
            done_again = await _finish_held(deps, organisation_id, person_id, stored.applied + 1, attempt)
            helped += done_again
            if not done_again:
                await _turn_taken(attempt)
            continue
        after_state = apply(stored.state, fact)
        # A person merged away keeps its facts for an unmerge, but announces nothing: the survivor does.
        change = _quietly(stored, after_state) if stored.is_merged else _announced(deps, stored, after_state, cause)
        written = await _commit(deps, stored, number, cause.key, change)
        return None if written is None else replace(written, outputs=helped + written.outputs, helped=helped)
    raise ProfileBusyError(f"{person_id}: other writers kept taking the next change number")


async def _finish_held(
    deps: ProfileDeps, organisation_id: str, person_id: str, number: int, attempt: int
) -> tuple[Envelope, ...]:
    """Does again the change holding the person's change `number`, as its redelivery would, for when its writer
    died or failed for good: a fact at once, a step from attempt `REDO_STEPS_FROM_ATTEMPT` on (its whole message
    handled again). Returns what doing it again announced, for the caller to publish.

    Both writers may then store the change: each decided it on the same stored version, from the same logs. Once
    the helper has stored it, the first writer stores nothing (see `_commit`). An erasure done again
    publishes its announcements but leaves its last part (the proof) to its own message.
    """
    if deps.help_depth <= 0:
        return ()
    held = await deps.store.turn_at(organisation_id, person_id, number)
    if held is None:
        return ()
    helper = replace(deps, help_depth=deps.help_depth - 1)
    if held.fact is not None:
        fact = profile_event(held.fact, parse_data(held.fact))
        if fact is None:
            return ()
        logged = (await deps.store.logged(organisation_id, [fact.event_id])).get(fact.event_id)
        if logged is not None and logged != (person_id, number):
            logged_for, logged_as = logged
            why = f"held by {fact.event_id}, logged as change {logged_as} of {logged_for}"
            await _pass_over(deps, organisation_id, person_id, number, why)
            return ()
        correlation_id = held.fact.correlation_id or fact.event_id
        written = await _apply_own_fact(organisation_id, person_id, held.fact, fact, correlation_id, helper)
        return () if written is None else written.outputs
    if attempt < REDO_STEPS_FROM_ATTEMPT:
        return ()
    if held.origin is None:
        # Nothing is left to do the change again from. A recomputation by hand keeps no message: its next run does
        # it. Otherwise the step's message named a person erased since, and the erasure forgot it, and the message
        # delivered again may not come back here (see `_let_go_left_behind`): the erasure takes what the step
        # brought or let go of that person out of this profile; whatever else the step did, its message does again
        # when delivered again.
        why = "a recomputation by hand" if held.change.startswith(RECOMPUTED) else "its message forgotten"
        await _pass_over(deps, organisation_id, person_id, number, f"held by {held.change!r}, {why}")
        return ()
    log.warning(
        "change %d of %s, held by %r, is not stored after %d attempts: doing it again",
        number,
        person_id,
        held.change,
        attempt,
    )
    if isinstance(held.origin, DueEntry):
        return (await sweep_profile(held.origin, helper)).outputs
    handled = await apply_identity_event(held.origin, helper)
    outputs = (() if handled is None else handled.outputs) + await _let_go_left_behind(
        helper, person_id, held.change, held.origin
    )
    if await _still_held(deps, organisation_id, person_id, number, held.change):
        # Handled again, the message did not come back to this profile: a step recomputing a profile above one that
        # let someone go, say. Passed over, not recomputed here: a recomputation under the step's key would take in
        # whatever was logged since (a late fact, whose trigger would then never fire), and a writer still making
        # the step would find a version it did not decide. The profile is set right by the unmerge on its way.
        await _pass_over(deps, organisation_id, person_id, number, f"held by {held.change!r}, done again")
    return outputs


async def _still_held(deps: ProfileDeps, organisation_id: str, person_id: str, number: int, change: str) -> bool:
    """Whether `change` still holds the person's next number, nothing stored under it."""
    stored = await deps.store.profile(organisation_id, person_id) or StoredProfile(organisation_id, person_id)
    if stored.applied != number - 1:
        return False
    held = await deps.store.turn_at(organisation_id, person_id, number)
    return held is not None and held.change == change and not held.passed


async def _let_go_left_behind(deps: ProfileDeps, person_id: str, change: str, origin: Envelope) -> tuple[Envelope, ...]:
    """For a merge that took the person's number to let go of someone it brings together (one it merged, or its
    survivor, active again) whom the person held through an earlier merge: that step again. The merge handled again
    does not come back here (it finds them marked or freed already, and who held them before is no longer written
    on them), so the number would stay held for good.

    Identity decided this merge with them active: the earlier merge was undone before, its unmerge maybe still on its
    way. Whoever is no longer marked by the merge the person holds them through, marked by this merge, freed, or
    unmarked since by an undo of this one, is held stale and let go; one still marked by it (this merge reaching the
    person through a survivor it holds) stays."""
    merged = parse_data(origin)
    if not isinstance(merged, PersonsMergedV1) or change != f"merge:{merged.merge_id}":
        return ()
    organisation_id = origin.organisation_id
    cause = _Cause(change, origin.correlation_id or merged.merge_id, origin=origin)
    profile = await deps.store.profile(organisation_id, person_id)
    if profile is None:
        return ()
    outputs: list[Envelope] = []
    for brought_id in (merged.survivor_person_id, *merged.merged_person_ids):
        earlier = [
            before.merge_id
            for before in profile.merges
            if before.merge_id != merged.merge_id and brought_id in before.person_ids
        ]
        if not earlier:
            continue
        now = await deps.store.profile(organisation_id, brought_id)
        for merge_id in earlier:
            if now is not None and now.merged_by != merge_id:
                outputs.extend(await _let_go(deps, organisation_id, person_id, merge_id, brought_id, cause))
    return tuple(outputs)


async def _pass_over(deps: ProfileDeps, organisation_id: str, person_id: str, number: int, why: str) -> None:
    """Moves the person's profile past change `number`, changing nothing else, when no change will ever be stored
    under it: a fact holding it logged as another change, a step whose message an erasure forgot, or a step its
    message handled again does not reach (`_finish_held`). A batch leaves
    such a fact when identity resolved it again, to a person it created anew: the batch takes the person's first
    number for it, then finds the fact logged for the first person. (Logs written before ordered inserts were sent a
    hundred at a time, see `insert_in_order`, may hold numbers taken past one found held too.) Every writer finding
    the number so held decides the same."""
    store = deps.store
    stored = await store.profile(organisation_id, person_id) or StoredProfile(organisation_id, person_id)
    if stored.applied != number - 1 or await store.is_erased(organisation_id, person_id):
        return
    log.warning("change %d of %s is %s: passed over", number, person_id, why)
    # Marked first: a writer still making the change, finding the profile past it, learns it was not stored.
    await store.pass_turn(organisation_id, person_id, number)
    # Read again just before storing, as `_commit` does: another writer may have passed the number over since this
    # one read the profile, and stored later changes, which the profile read would put back.
    if (await store.applied(organisation_id, [person_id]))[person_id] != number - 1:
        return
    await store.save(replace(stored, applied=number))
    if await store.is_erased(organisation_id, person_id):
        # Erased meanwhile: the profile stored goes the same way.
        await store.delete_profile(organisation_id, person_id)


async def _write(
    deps: ProfileDeps,
    organisation_id: str,
    person_id: str,
    change_key: str,
    decide: Decide,
    origin: Origin | None,
) -> _Written | None:
    """Makes the change `decide` chooses on the person's current profile, logged as `change_key` with its `origin`;
    None if the person is erased. `decide` returns None when there is nothing to change: a change found stored as
    the profile's last one then publishes its events again."""
    store = deps.store
    if await store.is_erased(organisation_id, person_id):
        return None
    helped: tuple[Envelope, ...] = ()
    for attempt in range(MAX_ATTEMPTS):
        stored = await store.profile(organisation_id, person_id) or StoredProfile(organisation_id, person_id)
        change = await decide(stored)
        if change is None:
            if stored.last_change == change_key and isinstance(origin, Envelope):
                # Stored already, by a writer that died before letting its message go: the message may name
                # someone an erasure has to leave no trace of.
                await store.settle_turn(organisation_id, person_id, stored.applied)
            return _Written(stored, helped + _republished(stored, change_key), "unchanged", helped)
        # Whoever takes the number stores the next version; a loser decides again on the version stored.
        if await store.take_turn(organisation_id, person_id, stored.applied + 1, change_key, origin):
            written = await _commit(deps, stored, stored.applied + 1, change_key, change, origin)
            return None if written is None else replace(written, outputs=helped + written.outputs, helped=helped)
        done_again = await _finish_held(deps, organisation_id, person_id, stored.applied + 1, attempt)
        helped += done_again
        if not done_again:
            await _turn_taken(attempt)
    raise ProfileBusyError(f"{person_id}: other writers kept taking the next change number")


async def _turn_taken(attempt: int) -> None:
    """Another writer holds the person's next number: give it time to store its change before deciding again."""
    await asyncio.sleep(0.01 * 2**attempt)


async def _commit(
    deps: ProfileDeps,
    stored: StoredProfile,
    number: int,
    change_key: str,
    change: _Change,
    origin: Origin | None = None,
) -> _Written | None:
    """Stores the change holding number `number` of the person's log; None if the person was erased meanwhile."""
    store, organisation_id, person_id = deps.store, stored.organisation_id, stored.person_id
    fired: list[Envelope] = []
    claimed: list[str] = []
    for trigger in change.triggers:
        # Once per person, rule and period: the stored dedupe key lets through only its first fact.
        dedupe_key = str(trigger.data["dedupe_key"])
        if await store.claim_trigger(organisation_id, dedupe_key, change.fired_by):
            fired.append(trigger)
            claimed.append(dedupe_key)
    outputs = change.outputs + tuple(fired)
    profile = replace(
        change.profile,
        version=stored.version + 1,
        applied=number,
        last_change=change_key,
        last_outputs=_as_json(outputs),
        fired=change.profile.fired | frozenset(claimed),
    )
    if change_key.startswith(SWEPT) and outputs:
        profile = replace(profile, swept=change_key, swept_outputs=_as_json(outputs))
    if change_key.startswith(MOVED) and outputs:
        profile = replace(profile, moved=change_key, moved_outputs=_as_json(outputs))
    if change.landing is not None and outputs:
        landed = LandedFact(change.landing, change_key, _as_json(outputs))
        profile = replace(profile, landed=_with_landed(profile.landed, landed))
    if change.fired_in_merge is not None and fired:
        # Published again with the merge, should it be delivered again after later changes.
        with_triggers = _as_json(change.outputs + tuple(fired))
        merges = tuple(
            replace(held, outputs=with_triggers, claimed=tuple(claimed))
            if held.merge_id == change.fired_in_merge
            else held
            for held in profile.merges
        )
        profile = replace(profile, merges=merges)
    keys_before, keys_after = lookup_keys(stored.state), lookup_keys(profile.state)
    if keys_after - keys_before:
        # Findable before stored, like the due entry below: a key left over by a crash finds a profile without it,
        # which a look-up checks; a profile stored before its keys could not be found at all.
        await store.index_lookups(organisation_id, person_id, keys_after - keys_before)
    filing_anew = not _keeps_filing(deps, stored, profile, change)
    if not filing_anew:
        profile = replace(profile, due_handle=stored.due_handle, filed_at=stored.filed_at)
    else:
        # Filed before the profile is stored: a crash in between leaves an entry the sweep finds stale, never a
        # due profile that no slot lists.
        filed = _due_entry(profile)
        handle = None if filed is None else await store.schedule(filed)
        profile = replace(profile, due_handle=handle, filed_at=profile.due_at if handle else None)
    # A writer that found this number held may have stored this change itself, and gone on past it: stored now,
    # this profile would put an older one back over their later changes, which would be lost, and the next number's
    # holder could then be neither redone nor passed over. Read just before storing; a replace conditional on the
    # stored profile would make FerretDB read the whole collection.
    overtaken = bool(await _overtaken(store, [profile]))
    passed_over = False
    if not overtaken:
        await store.save(profile)
        if filing_anew:
            await _file_again_if_the_sweep_went_by(deps, [profile])
    else:
        # What that writer stored stands: a trigger it did not fire (it decided at another moment) is neither
        # announced nor kept claimed, and the entry filed here for this profile is let go.
        let_go = await _claims_not_stored(store, organisation_id, person_id, dict.fromkeys(claimed, change.fired_by))
        outputs = change.outputs + tuple(trigger for trigger in fired if trigger.data["dedupe_key"] not in let_go)
        claimed = [dedupe_key for dedupe_key in claimed if dedupe_key not in let_go]
        if filing_anew and profile.due_handle is not None:
            await store.unschedule(profile.due_handle)
            profile = replace(profile, due_handle=None, filed_at=None)
        held = await store.turn_at(organisation_id, person_id, number)
        passed_over = held is not None and held.passed
    if isinstance(origin, Envelope):
        await store.settle_turn(organisation_id, person_id, number)
    if not overtaken and keys_before - keys_after:
        await store.unindex_lookups(organisation_id, person_id, keys_before - keys_after)
    if not overtaken and filing_anew and stored.due_handle is not None and change.unfile_replaced:
        await store.unschedule(stored.due_handle)
    if await store.is_erased(organisation_id, person_id):
        # The erasure ran while this change was made: what the change stored goes the same way.
        await store.purge(organisation_id, person_id, changes=[change_key], triggers=claimed)
        # Every entry naming them, not only the one filed here: a late writer files again once it has stored.
        await store.unschedule_person(organisation_id, person_id)
        await store.unindex_lookups(organisation_id, person_id, keys_after, thorough=True)
        await store.delete_profile(organisation_id, person_id)
        return None
    if passed_over:
        # Passed over while this writer made the change (a writer found it held too long, see `_finish_held`):
        # nothing stored it, so nothing of it is announced, and the message, handled again, makes it under a later
        # number. (Its claims went above: the profile stored fired none.)
        raise ProfileBusyError(f"{person_id}: change {number} was passed over while this writer made it")
    return _Written(profile, outputs, "applied")


async def _absorb(deps: ProfileDeps, organisation_id: str, merged: PersonsMergedV1, cause: _Cause) -> _Written | None:
    """The survivor takes in the histories of the persons marked merged into it, once; None if it was erased."""
    store, survivor_id, merge_id = deps.store, merged.survivor_person_id, merged.merge_id
    # What each merged profile had applied when the survivor read it: a late fact applied since is caught below.
    read: dict[str, int] = {}
    freed: list[StoredProfile] = []
    # The survivor as this merge found it, and who was erased meanwhile (see `_leave_out_erased`).
    found: list[StoredProfile] = []
    leaving_out: set[str] = set()

    async def absorb(stored: StoredProfile) -> _Change | None:
        if stored.merge_in_force(merge_id) is not None or stored.undone_merge(merge_id) is not None:
            return None
        read.clear()
        freed.clear()
        found[:] = [stored]
        base = stored
        if stored.merged_by is not None and stored.merged_at is not None and stored.merged_at < merged.merged_at:
            # Identity decided this merge with the survivor active: the merge holding it was undone before, its
            # unmerge still on its way. The survivor is active again from now on (the unmerge finds it done).
            freed.append(stored)
            base = replace(stored, merged_into=None, merged_by=None, merged_at=None)
            state, held_sent, through = await _full_state(deps, base)
            base = replace(base, state=state, held_sent=held_sent, folded_through=through)
        change, record = await _merge_change(deps, merged, cause, stored, base, appearing=bool(freed), read=read)
        return replace(change, profile=replace(change.profile, merges=(*stored.merges, record)))

    async def absorb_again(stored: StoredProfile) -> _Change | None:
        """The merge done again, leaving out those erased meanwhile (`leaving_out`), and announced from the
        survivor as it was without the merge: what this announces replaces what the merge announced before, which
        may tell their details."""
        held = stored.merge_in_force(merge_id)
        if held is None:
            # Undone since: the unmerge recomputed the survivor.
            return None
        if not (leaving_out | {ERASED_MARK}) & set(held.brought) and held.outputs:
            # Done again by another writer already, which kept what it announced. (The erasure letting them go
            # from this merge leaves nothing kept: the merge is still to be announced without them.)
            return None
        # Given up first, and claimed again below if still fired: a claim kept for a trigger never published would
        # keep its rule from firing for good.
        await store.release_triggers(organisation_id, [(key, cause.fired_by) for key in held.claimed])
        without = replace(stored, merges=_replace_merge(stored.merges, merge_id, None))
        state, held_sent, through = await _full_state(deps, without, leaving_out=leaving_out)
        # What was last announced before the merge: as this merge found it, or else as the state without it shows.
        first = found[0] if found else None
        as_of = _as_of(deps, state)
        segments = (
            first.segments
            if first is not None
            else evaluate_segments(
                deps.rules.segments,
                view(state, as_of=as_of, seasons=deps.rules.seasons, household_id=stored.household_id),
                as_of,
                deps.rules.seasons.zone,
            )
        )
        base = replace(
            _without_stored_outputs(stored),
            state=state,
            held_sent=held_sent,
            folded_through=through,
            segments=segments,
            household_id=stored.household_id if first is None else first.household_id,
            household_at=stored.household_at if first is None else first.household_at,
            due_at=None if first is None else first.due_at,
            announced_view=None,
            fired=stored.fired - frozenset(held.claimed),
        )
        if stored.is_merged:
            # Merged itself since: it stays as that merge left it, in no segment and never due.
            base = replace(
                base,
                segments=frozenset(),
                due_at=None,
                household_id=stored.household_id,
                household_at=stored.household_at,
            )
        change, record = await _merge_change(
            deps, merged, cause, stored, base, appearing=bool(freed), read={}, leaving_out=leaving_out
        )
        # Done again, the merge may find the survivor in the household it moved it to already: the move stays as
        # first made, with the household the survivor showed before it.
        record = replace(record, household_move=held.household_move)
        return replace(
            change, profile=replace(change.profile, merges=_replace_merge(change.profile.merges, merge_id, record))
        )

    written = await _write(deps, organisation_id, survivor_id, cause.key, absorb, cause.origin)
    if written is None:
        return None
    # Delivered again too: a writer that died before its check stored what the merge brought, for this one to check.
    written = await _leave_out_erased(deps, written, merge_id, leaving_out, absorb_again, cause)
    if written is None:
        return None
    held = written.profile.merge_in_force(merge_id)
    if written.outcome == "unchanged":
        outputs = [*written.helped, *_from_json(() if held is None else held.outputs)]
    else:
        outputs = list(written.outputs)
    previous = freed[0] if freed and written.outcome == "applied" else None
    if previous is not None and previous.merged_into is not None and previous.merged_by is not None:
        outputs.extend(
            await _let_go(deps, organisation_id, previous.merged_into, previous.merged_by, survivor_id, cause)
        )
    for person_id in () if held is None else held.person_ids:
        if await store.is_erased(organisation_id, person_id):
            # Erased while the survivor was reading it: the erasure found no merge to take it out of.
            outputs.extend(await _let_go(deps, organisation_id, survivor_id, merge_id, person_id, cause))
    current: StoredProfile | None = written.profile
    if written.outcome == "unchanged" or await _changed_since(deps, organisation_id, read):
        recomputed = await _recompute(deps, organisation_id, survivor_id, cause)
        outputs.extend(() if recomputed is None else recomputed.outputs)
        current = None if recomputed is None else recomputed.profile
    brought = None
    if written.profile.is_merged and held is not None:
        # Merged itself since this merge was decided: the histories come together in the profile holding it now,
        # and what they make hold fires there.
        merged_in = await deps.store.profiles_of(organisation_id, held.person_ids)
        brought = await _histories_in(deps, list(merged_in.values()))
    if current is not None:
        outputs.extend(await _recompute_upwards(deps, current, cause, merged_in=brought))
    return _Written(written.profile, tuple(outputs), written.outcome)


async def _merge_change(
    deps: ProfileDeps,
    merged: PersonsMergedV1,
    cause: _Cause,
    stored: StoredProfile,
    base: StoredProfile,
    *,
    appearing: bool,
    read: dict[str, int],
    leaving_out: Collection[str] = (),
) -> tuple[_Change, MergeInForce]:
    """The survivor `base` (the `stored` profile, or one rebuilt from it) with the histories of the persons marked
    merged into it folded in, as the merge announces it; and the merge's record, for the caller to keep. Those of
    `leaving_out` are left out; `read` gets what each merged profile had applied."""
    store, organisation_id, survivor_id, merge_id = (
        deps.store,
        stored.organisation_id,
        stored.person_id,
        merged.merge_id,
    )
    others: list[StoredProfile] = []
    for person_id in merged.merged_person_ids:
        if person_id in leaving_out:
            continue
        other = await store.profile(organisation_id, person_id)
        if other is not None and other.merged_by == merge_id and other.merged_into == survivor_id:
            others.append(other)
            read[person_id] = other.applied
    # Each rebuilt from the logs, not taken as stored: a profile in the middle of a chain of merges may still hold a
    # history an unmerge or an erasure deeper down has taken out since.
    brought: set[str] = set()
    rebuilt = [await _full_state(deps, other, leaving_out=leaving_out, folded=brought) for other in others]
    state = reduce(merge, (history for history, _, _ in rebuilt), base.state)
    sent = (_sent_to(other) | held_sent for other, (_, held_sent, _) in zip(others, rebuilt, strict=True))
    through = _folded_through(
        base.folded_through,
        *(
            [*other_through, (other.person_id, other.applied)]
            for other, (_, _, other_through) in zip(others, rebuilt, strict=True)
        ),
    )
    base = replace(base, held_sent=base.held_sent.union(*sent), folded_through=through)
    # The household identity moved the survivor to, if any, as of the merge.
    moved = household_move = None
    if merged.household_id is not None:
        moved_at = merge_move_moment(merged.merged_at)
        moved = base.in_household(merged.household_id, moved_at)
        if moved is not None:
            household_move = HouseholdMove(merged.household_id, moved_at, base.household_id, base.household_at)
    joins = None if moved is None or moved.household_id == base.household_id else moved.household_id
    if moved is not None:
        base = replace(base, household_at=moved.household_at)
    if base.is_merged:
        change = _quietly(replace(base, household_id=joins or base.household_id), state)
    else:
        # A survivor freed from an undone merge is told in full, and fires what the merge makes hold of its own
        # history, as in any order of the unmerge and this merge.
        histories = await _histories_in(deps, others)
        merged_in = [profile for profile in histories if profile.person_id not in leaving_out]
        change = _announced(deps, base, state, cause, appearing=appearing, joins=joins, merged_in=merged_in)
        change = replace(change, fired_in_merge=merge_id)
    record = MergeInForce(
        merge_id,
        tuple(other.person_id for other in others),
        _as_json(change.outputs),
        brought=tuple(sorted(brought)),
        household_move=household_move,
    )
    active_at = _latest(stored.active_at, merged.merged_at)
    return replace(change, profile=replace(change.profile, active_at=active_at)), record


async def _leave_out_erased(
    deps: ProfileDeps,
    written: _Written,
    merge_id: str,
    leaving_out: set[str],
    absorb_again: Decide,
    cause: _Cause,
) -> _Written | None:
    """The merge `written` holds, done again (`absorb_again`) while anyone whose history it brought is erased: an
    erasure that ran while the merge read their history, before it stored the survivor, found no merge to take them
    out of, and what the merge stored and announced may tell their details. An erasure marks the person before it
    looks for the profiles holding them, so one marked after this looked finds the survivor stored, and takes the
    person out of it itself."""
    store, organisation_id, survivor_id = deps.store, written.profile.organisation_id, written.profile.person_id
    helped = written.helped
    for _time in range(MAX_MERGE_DEPTH):
        held = written.profile.merge_in_force(merge_id)
        if held is None:
            return written
        named = set(held.brought) - {ERASED_MARK}
        erased = set(await store.erased_among(organisation_id, named)) if named else set()
        if ERASED_MARK in held.brought:
            erased.add(ERASED_MARK)
        if not erased:
            return written
        leaving_out |= erased
        again = await _write(deps, organisation_id, survivor_id, cause.key, absorb_again, cause.origin)
        if again is None:
            return None
        helped += again.helped
        if again.profile.merge_in_force(merge_id) is None:
            # Undone since, and the unmerge announced the survivor without them: what this merge claimed for what
            # it announced first, never published, is given up.
            await store.release_triggers(organisation_id, [(key, cause.fired_by) for key in held.claimed])
        # Not applied: undone since, or done again by another writer, whose announcements are published below.
        own = again.outputs[len(again.helped) :] if again.outcome == "applied" else ()
        written = replace(again, outputs=helped + own, helped=helped)
    raise ProfileBusyError(f"{survivor_id}: persons kept being erased while merged into it")


async def _mark_merged(
    deps: ProfileDeps,
    organisation_id: str,
    person_id: str,
    survivor_id: str | None,
    merged: PersonsMergedV1,
    cause: _Cause,
) -> list[Envelope]:
    """Marks the person's profile merged into the survivor (None: an erased one); it leaves its segments."""
    merge_id = merged.merge_id
    before: list[StoredProfile] = []

    async def mark(stored: StoredProfile) -> _Change | None:
        if stored.merged_by == merge_id:
            return None
        if stored.active_at is not None and stored.active_at > merged.merged_at:
            # Active after this merge was decided: identity undid it since.
            return None
        before[:] = [stored]
        exits = _segment_events(
            organisation_id, person_id, cause, _as_of(deps, stored.state), entered=(), exited=stored.segments
        )
        marked = replace(
            stored,
            merged_into=survivor_id,
            merged_by=merge_id,
            merged_at=merged.merged_at,
            active_at=_latest(stored.active_at, merged.merged_at),
            segments=frozenset(),
            due_at=None,
        )
        return _Change(marked, tuple(exits))

    written = await _write(deps, organisation_id, person_id, f"merged:{merge_id}", mark, cause.origin)
    if written is None:
        return []
    outputs = list(written.outputs)
    orphaned = (written.profile.last_change or "").startswith(ORPHANED)
    if written.outcome == "unchanged" and orphaned and written.profile.merged_by == merge_id:
        # Marked by this merge, then left merged into no one (`_orphan`), which keeps what the mark announced.
        outputs.extend(_from_json(written.profile.last_outputs))
    previous = before[0] if written.outcome == "applied" and before else None
    if previous is not None and previous.merged_by is not None and previous.merged_into is not None:
        # Merged elsewhere by a merge identity has undone since (its unmerge is still on its way): that survivor
        # lets the history go now.
        outputs.extend(await _let_go(deps, organisation_id, previous.merged_into, previous.merged_by, person_id, cause))
    return outputs


async def _restore(
    deps: ProfileDeps, organisation_id: str, person_id: str, merge_id: str, at: datetime, unmerge: _Cause
) -> _Written | None:
    """The person merged by `merge_id` is active again, with the history of its own log (and of those merged
    into it), announced like a profile appearing."""
    cause = _Cause(f"restored:{merge_id}", unmerge.correlation_id, origin=unmerge.origin)

    async def restore(stored: StoredProfile) -> _Change | None:
        if stored.merged_by != merge_id:
            return None
        active = replace(
            stored, merged_into=None, merged_by=None, merged_at=None, active_at=_latest(stored.active_at, at)
        )
        state, held_sent, through = await _full_state(deps, active)
        return _announced(
            deps, replace(active, held_sent=held_sent, folded_through=through), state, cause, appearing=True
        )

    return await _write(deps, organisation_id, person_id, cause.key, restore, cause.origin)


async def _let_go(
    deps: ProfileDeps,
    organisation_id: str,
    survivor_id: str,
    merge_id: str,
    person_id: str,
    cause: _Cause,
    *,
    upwards: bool = False,
) -> list[Envelope]:
    """The survivor of `merge_id` no longer holds `person_id`'s history: it is recomputed without it, and so is
    every profile holding the survivor. With `upwards` (an erasure), the announcements each keeps for republication
    are dropped too: they may tell the person's details."""

    async def release(stored: StoredProfile) -> _Change | None:
        held = stored.merge_in_force(merge_id)
        if held is None or person_id not in held.person_ids:
            return None
        rest = replace(
            held,
            person_ids=tuple(other for other in held.person_ids if other != person_id),
            brought=tuple(other for other in held.brought if other != person_id),
        )
        # Announcements kept for republication may tell the person's details: none is kept.
        remaining = _without_stored_outputs(replace(stored, merges=_replace_merge(stored.merges, merge_id, rest)))
        state, held_sent, through = await _full_state(deps, remaining)
        remaining = replace(remaining, held_sent=held_sent, folded_through=through)
        return _quietly(remaining, state) if stored.is_merged else _announced(deps, remaining, state, cause)

    written = await _write(deps, organisation_id, survivor_id, cause.key, release, cause.origin)
    if written is None:
        return []
    forget = person_id if upwards else None
    return list(written.outputs) + await _recompute_upwards(deps, written.profile, cause, scrub=upwards, forget=forget)


async def _recompute_upwards(
    deps: ProfileDeps,
    profile: StoredProfile,
    cause: _Cause,
    *,
    scrub: bool = False,
    merged_in: Sequence[StoredProfile] | None = None,
    forget: str | None = None,
) -> list[Envelope]:
    """Every profile holding `profile` through merges, recomputed in turn up to the top: each holds the histories
    beneath it in its state, and none may keep one that left (an erasure's details, an unmerged person's history).
    `scrub`, `merged_in` and `forget`: see `_recompute`."""
    outputs: list[Envelope] = []
    current = profile
    for _hop in range(MAX_MERGE_DEPTH):
        if current.merged_by is None or current.merged_into is None:
            return outputs
        holder = await deps.store.profile(current.organisation_id, current.merged_into)
        if holder is None or not holder.holds(current.merged_by, current.person_id):
            return outputs
        recomputed = await _recompute(
            deps, current.organisation_id, holder.person_id, cause, scrub=scrub, merged_in=merged_in, forget=forget
        )
        if recomputed is None:
            return outputs
        outputs.extend(recomputed.outputs)
        current = recomputed.profile
    raise ProfileBusyError(f"the merges holding {profile.person_id} go round in a loop")


async def _orphan_merged(deps: ProfileDeps, organisation_id: str, merged: PersonsMergedV1, cause: _Cause) -> None:
    """The persons a merge marked merged into a survivor erased before it held them (the merge's writer died, or was
    still at work, as the erasure ran): the erasure, finding no such merge in the survivor, left them marked."""
    for person_id in merged.merged_person_ids:
        await _orphan(deps, organisation_id, person_id, merged.survivor_person_id, cause)


async def _orphan(deps: ProfileDeps, organisation_id: str, person_id: str, erased_id: str, cause: _Cause) -> None:
    """The person stays merged (an unmerge restores it) but into no one: its survivor was erased."""

    async def orphan(stored: StoredProfile) -> _Change | None:
        if stored.merged_into != erased_id:
            return None
        # What the mark announced stays the last thing announced: the merge, delivered again, publishes it again
        # (`_mark_merged`), which it must when its first handling stored the mark and this, then died unpublished.
        return _Change(replace(stored, merged_into=None), _republished(stored, f"merged:{stored.merged_by}"))

    await _write(deps, organisation_id, person_id, f"{ORPHANED}{cause.key}", orphan, cause.origin)


async def _recompute(
    deps: ProfileDeps,
    organisation_id: str,
    person_id: str,
    cause: _Cause,
    *,
    scrub: bool = False,
    merged_in: Sequence[StoredProfile] | None = None,
    forget: str | None = None,
    late: _LateFact | None = None,
    rejudge: bool = False,
) -> _Written | None:
    """The profile recomputed from the logs of its own history and of the histories merged into it. With `rejudge`,
    a profile whose state is unchanged is judged again by the rules as they are now, and changed if that puts it in
    other segments or due at another moment (the segments or triggers file was edited). With `scrub`,
    the announcements it keeps for republication are dropped as well, and `forget` (a person erased, whose history
    it no longer holds) from the merges that brought them; with `merged_in`, the change is a merge bringing those
    histories (see `_announced`).

    With `late`, a late fact just logged in the history of a person merged away: while the profile still holds
    that history, and folded it in up to the number before the fact's, the fact is folded into its state alone
    (`apply`, which equals folding every history again: a merge adds up states in any order), without reading a
    regular's whole history for each of their sales. Folded in already (by a merge or a recomputation since it was
    logged), it is not folded again: `apply` would count it twice."""

    async def recompute(stored: StoredProfile) -> _Change | None:
        folded = None if late is None else await _folded_before(deps, stored, late)
        if late is not None and folded is not None:
            if folded >= late.number:
                return None
            state = apply(stored.state, late.fact)
            base = replace(
                stored, folded_through=_folded_through(stored.folded_through, [(late.person_id, late.number)])
            )
        else:
            state, held_sent, folded_through = await _full_state(deps, stored)
            base = replace(
                _without_stored_outputs(stored) if scrub else stored,
                held_sent=held_sent,
                folded_through=folded_through,
            )
        if forget is not None:
            merges = tuple(
                replace(held, brought=tuple(other for other in held.brought if other != forget)) for held in base.merges
            )
            base = replace(base, merges=merges)
        # How far the same persons' logs were read alone is no change: the next late fact then folds every history
        # again. A person no longer held is, though: no document may keep the id of someone given back and erased.
        same_persons = {folded for folded, _ in base.folded_through} == {folded for folded, _ in stored.folded_through}
        if state == stored.state and same_persons and replace(base, folded_through=stored.folded_through) == stored:
            if not rejudge or stored.is_merged:
                return None
            judged = _announced(deps, base, state, cause)
            if (judged.profile.segments, judged.profile.due_at) == (stored.segments, stored.due_at):
                return None
            return judged
        if stored.is_merged:
            return _quietly(base, state)
        return _announced(deps, base, state, cause, merged_in=merged_in)

    return await _write(deps, organisation_id, person_id, cause.key, recompute, cause.origin)


async def _folded_before(deps: ProfileDeps, stored: StoredProfile, late: _LateFact) -> int | None:
    """How far `stored` folded in the log of the late fact's person, when that is up to the number just before the
    fact's or past it and the profile holds their history still; None otherwise (every history is folded again)."""
    folded = dict(stored.folded_through).get(late.person_id)
    if folded is None or folded < late.number - 1:
        return None
    return folded if await _top(deps, stored.organisation_id, late.person_id) == stored.person_id else None


def _folded_through(*parts: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """`StoredProfile.folded_through` of the (person, number) pairs of `parts`, a later pair for a person winning."""
    return tuple(sorted(dict(itertools.chain.from_iterable(parts)).items()))


async def _top(deps: ProfileDeps, organisation_id: str, person_id: str) -> str:
    """The profile holding `person_id`'s history now: up its merges while each survivor holds it."""
    current = person_id
    for _hop in range(MAX_MERGE_DEPTH):
        profile = await deps.store.profile(organisation_id, current)
        if profile is None or profile.merged_by is None or profile.merged_into is None:
            return current
        survivor = await deps.store.profile(organisation_id, profile.merged_into)
        # A survivor that does not hold the merge yet reads this profile when it does; one that undid it leaves
        # this profile to be recomputed when restored. Either way the history belongs here.
        if survivor is None or not survivor.holds(profile.merged_by, current):
            return current
        current = survivor.person_id
    raise ProfileBusyError(f"the merges holding {person_id} go round in a loop")


async def _landed_on_holders(
    deps: ProfileDeps, organisation_id: str, person_id: str, change_key: str
) -> tuple[Envelope, ...]:
    """What the late fact `change_key` of `person_id` published on the profiles holding their history now, up to the
    top, as each keeps it in `landed`. A profile keeps that entry while it holds the person, merged on or not: an
    unmerge giving them back drops it (see `apply_unmerge`), an erasure everything naming them."""
    outputs: list[Envelope] = []
    profile = await deps.store.profile(organisation_id, person_id)
    for _hop in range(MAX_MERGE_DEPTH):
        if profile is None or profile.merged_by is None or profile.merged_into is None:
            return tuple(outputs)
        holder = await deps.store.profile(organisation_id, profile.merged_into)
        if holder is None or not holder.holds(profile.merged_by, profile.person_id):
            return tuple(outputs)
        landed = holder.landed_fact(change_key)
        outputs.extend(() if landed is None else _from_json(landed.outputs))
        profile = holder
    raise ProfileBusyError(f"the merges holding {person_id} go round in a loop")


async def _full_state(
    deps: ProfileDeps,
    profile: StoredProfile,
    seen: frozenset[str] = frozenset(),
    *,
    leaving_out: Collection[str] = (),
    folded: set[str] | None = None,
) -> tuple[ProfileState, frozenset[str], tuple[tuple[str, int], ...]]:
    """The profile's history folded again from the logs: its own facts, then every profile merged into it, each
    with the profiles merged into that one; and, read in the same walk, what those were sent (`held_sent`) and how
    far each of their logs was read (`folded_through`). The persons of `leaving_out` are left out, with those merged
    into them; each person folded in is added to `folded`."""
    store, organisation_id = deps.store, profile.organisation_id
    envelopes = await store.facts(organisation_id, profile.person_id, profile.applied)
    events = [event for envelope in envelopes if (event := profile_event(envelope, parse_data(envelope)))]
    state, held_sent, through = fold(events), frozenset[str](), list[tuple[str, int]]()
    seen = seen | {profile.person_id}
    if folded is not None:
        folded.add(profile.person_id)
    for held in profile.merges:
        for person_id in held.person_ids:
            if person_id in seen or person_id in leaving_out:
                continue
            other = await store.profile(organisation_id, person_id)
            # Only a merge both sides agree on: a person merged elsewhere since, or restored, is no longer here.
            if other is not None and other.merged_by == held.merge_id and other.merged_into == profile.person_id:
                other_state, other_held_sent, other_through = await _full_state(
                    deps, other, seen, leaving_out=leaving_out, folded=folded
                )
                state = merge(state, other_state)
                held_sent |= other_held_sent | _sent_to(other)
                through += [*other_through, (person_id, other.applied)]
    return state, held_sent, _folded_through(through)


async def _changed_since(deps: ProfileDeps, organisation_id: str, read: Mapping[str, int]) -> bool:
    for person_id, applied in read.items():
        now = await deps.store.profile(organisation_id, person_id)
        if now is None or now.applied != applied:
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# Announcements


def _rule_and_period(dedupe_key: str, person_id: str) -> str:
    """A trigger's dedupe key without its person: what two persons merged into one share when sent alike."""
    return dedupe_key.replace(f":{person_id}:", ":", 1)


def _sent_to(profile: StoredProfile) -> frozenset[str]:
    """The triggers the profile's person claimed, as `rule:period`."""
    return frozenset(_rule_and_period(key, profile.person_id) for key in profile.fired)


def _sent_to_any(decision: TriggerDecision, person_id: str, profiles: Sequence[StoredProfile]) -> bool:
    """Whether one of `profiles` claimed the trigger `decision` fires for `person_id`, for the same period."""
    prefix = f"{decision.rule}:{person_id}:"
    period = decision.dedupe_key.removeprefix(prefix)
    return any(f"{decision.rule}:{profile.person_id}:{period}" in profile.fired for profile in profiles)


async def _histories_in(deps: ProfileDeps, profiles: Sequence[StoredProfile]) -> list[StoredProfile]:
    """The profiles, and every profile whose history they hold through merges still in force."""
    found = {profile.person_id: profile for profile in profiles}
    waiting = list(profiles)
    while waiting:
        holder = waiting.pop()
        for held in holder.merges:
            for person_id in held.person_ids:
                if person_id in found:
                    continue
                other = await deps.store.profile(holder.organisation_id, person_id)
                if other is not None and other.merged_by == held.merge_id and other.merged_into == holder.person_id:
                    found[person_id] = other
                    waiting.append(other)
    return list(found.values())


def _quietly(stored: StoredProfile, state: ProfileState) -> _Change:
    """A change to a profile merged away: kept for an unmerge, announced by no one (its survivor announces)."""
    return _Change(replace(stored, state=state))


def _announced(
    deps: ProfileDeps,
    stored: StoredProfile,
    after_state: ProfileState,
    cause: _Cause,
    *,
    appearing: bool = False,
    joins: str | None = None,
    undoing: HouseholdMove | None = None,
    merged_in: Sequence[StoredProfile] | None = None,
) -> _Change:
    """The profile changed to `after_state`, and to the household it `joins` if any (or, `undoing` a merge's move,
    back to the one it showed before), with the events that tell it: the fields changed, the segments entered and
    left, and for a fact the triggers it fires. An `appearing` profile is told in full.

    `merged_in` is for a merge: the profiles of everyone whose history it brings (those merged in, and those merged
    into them). A rule the merge makes hold fires (two productions known to the box office and a third to the
    shop), unless one of them held it already or was sent it for the same period: the patron had that message, in
    this period or an earlier one. Only rules counted by a fixed period are looked at (see `evaluate_triggers`).
    """
    rules, organisation_id, person_id = deps.rules, stored.organisation_id, stored.person_id
    household_id, household_at = joins or stored.household_id, stored.household_at
    if undoing is not None:
        household_id, household_at = undoing.before_id, undoing.before_at
    as_of = _as_of(deps, after_state)
    before_as_of = _last_announced_as_of(stored, as_of, cause)
    # An appearing person left every segment when merged away; what its own history held before is what a merge
    # it survives (freed from an undone one) judges its rules against.
    before = _view_before(deps, stored, before_as_of)
    before_segments = frozenset[str]() if appearing else stored.segments
    after = view(after_state, as_of=as_of, seasons=rules.seasons, household_id=household_id)
    # Every field of an appearing profile: what was announced of a person before a merge hid them is still held
    # downstream (notify's contact), and a field gone back to its empty value since (a refund, a cancelled order's
    # implied consent) would otherwise stay there as it was.
    changed = {name: plain(value) for name, value in after.items() if appearing or before.get(name) != value}
    segments = evaluate_segments(rules.segments, after, as_of, rules.seasons.zone)
    changes = segment_changes(before_segments, segments)
    outputs: list[Envelope] = []
    if changed:
        outputs.append(
            build_envelope(
                ProfileChangedV1(person_id=person_id, changed=changed, profile_version=stored.version + 1),
                id=output_id(organisation_id, "changed", cause.key, person_id),
                **_common(organisation_id, person_id, cause, as_of),
            )
        )
    outputs.extend(_segment_events(organisation_id, person_id, cause, as_of, changes.entered, changes.exited))
    triggers: tuple[Envelope, ...] = ()
    if cause.fires_triggers or merged_in is not None:
        performance = None if cause.fact is None else performance_about(cause.fact.data)
        decisions = evaluate_triggers(
            rules.triggers,
            before,
            after,
            as_of=as_of,
            cause_event_type=None if cause.fact is None else cause.fact.type,
            cause_event_id=None if cause.fact is None else cause.fact.event_id,
            cause_performance_id=None if performance is None else performance.performance_id,
            cause_performance_at=None if performance is None else performance.starts_at,
            person_id=person_id,
            conditions_only=merged_in is not None,
            zone=rules.seasons.zone,
            sent=_sent_to(stored) | stored.held_sent,
        )
        if merged_in and decisions:
            # Held already by someone merged in, it was theirs to send (or not: a subscriber then), not the merge's.
            theirs = [view(profile.state, as_of=as_of, seasons=rules.seasons) for profile in merged_in]
            by_name = {rule.name: rule for rule in rules.triggers.rules}
            decisions = [
                decision
                for decision in decisions
                if not _sent_to_any(decision, person_id, merged_in)
                and not any(
                    by_name[decision.rule].condition.holds(fields, as_of.astimezone(rules.seasons.zone))
                    for fields in theirs
                )
            ]
        # Sent already to someone whose history a merge brought: the patron had that message for this period.
        decisions = [
            decision
            for decision in decisions
            if _rule_and_period(decision.dedupe_key, person_id) not in stored.held_sent
        ]
        common = _common(organisation_id, person_id, cause, as_of)
        triggers = tuple(
            build_envelope(decision.as_event(), id=decision.trigger_id, **common) for decision in decisions
        )
    # A change that judges no time-based rule (a merge, a household, a recompute) after a due moment the sweep has
    # not reached yet: the profile stays due then, or the triggers time brought (a lapse, an anniversary) would be
    # lost, the profile next due when they no longer hold.
    time_judged = cause.fires_triggers and merged_in is None
    missed = (
        []
        if time_judged
        else [
            profile.due_at
            for profile in (stored, *(merged_in or ()))
            if profile.due_at is not None and profile.due_at <= as_of
        ]
    )
    due_candidates = [
        moment
        for moment in (
            *missed,
            next_time_change(after_state, as_of, seasons=rules.seasons, viewed=after),
            time_conditions_due([rules.segments, rules.triggers], after, as_of, rules.seasons.zone),
        )
        if moment is not None
    ]
    profile = replaced(
        stored,
        state=after_state,
        household_id=household_id,
        household_at=household_at,
        segments=segments,
        due_at=_to_the_millisecond(min(due_candidates, default=None)),
        announced_view=AnnouncedView(after_state, as_of, MappingProxyType(after)),
    )
    return _Change(profile, tuple(outputs), triggers, cause.fired_by, landing=cause.landing)


def _view_before(deps: ProfileDeps, stored: StoredProfile, as_of: datetime) -> Mapping[str, Any]:
    """The view of the stored profile as of `as_of`: the one its last change announced if that was of the same
    state and `as_of` lies between then and the due moment (only time changes a view between changes, and only
    at its due moment), else computed."""
    known = stored.announced_view
    if (
        known is not None
        and known.state is stored.state
        and known.fields.get("household_id") == stored.household_id
        and known.as_of <= as_of
        and (stored.due_at is None or as_of < stored.due_at)
    ):
        return known.fields
    return view(stored.state, as_of=as_of, seasons=deps.rules.seasons, household_id=stored.household_id)


def _segment_events(
    organisation_id: str,
    person_id: str,
    cause: _Cause,
    at: datetime,
    entered: Iterable[str],
    exited: Iterable[str],
) -> list[Envelope]:
    common = _common(organisation_id, person_id, cause, at)
    return [
        *(
            build_envelope(
                SegmentEnteredV1(segment=name, person_id=person_id, at=at),
                id=output_id(organisation_id, "entered", cause.key, person_id, name),
                **common,
            )
            for name in sorted(entered)
        ),
        *(
            build_envelope(
                SegmentExitedV1(segment=name, person_id=person_id, at=at),
                id=output_id(organisation_id, "exited", cause.key, person_id, name),
                **common,
            )
            for name in sorted(exited)
        ),
    ]


def _common(organisation_id: str, person_id: str, cause: _Cause, at: datetime) -> dict[str, Any]:
    return {
        "organisation_id": organisation_id,
        "source": f"/orgs/{organisation_id}/profile",
        "time": at,
        "subject": person_id,
        "correlation_id": cause.correlation_id,
        "person_id": person_id,
    }


def _to_the_millisecond(moment: datetime | None) -> datetime | None:
    """As the store keeps moments (BSON dates): a due moment read back then compares equal to one computed."""
    return None if moment is None else to_the_millisecond(moment)


def _keeps_filing(deps: ProfileDeps, stored: StoredProfile, profile: StoredProfile, change: _Change) -> bool:
    """Whether the changed `profile` stays filed where `stored` was: at its due moment, unchanged, or ahead of it
    and of the sweep. Not where the sweep is visiting it: that entry goes."""
    if stored.due_handle is None or not change.unfile_replaced:
        return False
    unchanged = profile.due_at == stored.due_at == stored.filed_at
    return unchanged or keeps_entry(stored.filed_at, profile.due_at, deps.clock.now())


def _due_entry(profile: StoredProfile) -> DueEntry | None:
    if profile.due_at is None:
        return None
    return DueEntry(due_at=profile.due_at, organisation_id=profile.organisation_id, person_id=profile.person_id)


def _last_announced_as_of(stored: StoredProfile, as_of: datetime, cause: _Cause) -> datetime:
    """The moment the stored profile was last announced as of. Nothing changes a profile between its changes but
    time, and time only at its due moment: a profile whose due moment has passed unswept was last announced as it
    was just before it, so a fact handled then announces what time changed too (the sweep, finding the profile
    due elsewhere since, then passes it by)."""
    if cause.swept_due_at is not None:
        return cause.swept_due_at - _INSTANT
    if stored.due_at is not None and stored.due_at <= as_of:
        return stored.due_at - _INSTANT
    return as_of


def _as_of(deps: ProfileDeps, state: ProfileState) -> datetime:
    """Now, or the profile's latest event if that is later: a profile is read at or after its latest event."""
    now = deps.clock.now()
    latest = state.latest_event_at
    return now if latest is None or latest <= now else latest


def _latest(known: datetime | None, moment: datetime) -> datetime:
    return moment if known is None or known < moment else known


def _republished(stored: StoredProfile, change_key: str) -> tuple[Envelope, ...]:
    if stored.last_change == change_key:
        return _from_json(stored.last_outputs)
    # A merge's or unmerge's step on the person, and a late fact landed on the profile, are kept past the profile's
    # later changes (see `StoredProfile.moved` and `StoredProfile.landed`).
    if stored.moved == change_key:
        return _from_json(stored.moved_outputs)
    landed = stored.landed_fact(change_key)
    return () if landed is None else _from_json(landed.outputs)


def _with_landed(landed: tuple[LandedFact, ...], fact: LandedFact) -> tuple[LandedFact, ...]:
    """`landed` with `fact` in place of the one its person had there (and of one kept for an unknown person)."""
    return (*(kept for kept in landed if kept.person_id is not None and kept.person_id != fact.person_id), fact)


def _replace_merge(
    merges: tuple[MergeInForce, ...], merge_id: str, replacement: MergeInForce | None
) -> tuple[MergeInForce, ...]:
    kept = (replacement,) if replacement is not None else ()
    return tuple(item for held in merges for item in ((held,) if held.merge_id != merge_id else kept))


def _with_earlier_household(
    merges: tuple[MergeInForce, ...], household_id: str, at: datetime
) -> tuple[MergeInForce, ...]:
    """`merges` with identity's decision of `at` putting the survivor in `household_id` as the household shown
    before each merge it came just before (see `HouseholdMove.with_earlier_decision`)."""
    updated = []
    for held in merges:
        move = held.household_move
        earlier = None if move is None else move.with_earlier_decision(household_id, at)
        updated.append(held if earlier is None else replace(held, household_move=earlier))
    return tuple(updated)


def _without_stored_outputs(stored: StoredProfile) -> StoredProfile:
    return replace(
        stored,
        last_outputs=(),
        swept_outputs=(),
        moved_outputs=(),
        # Gone whole, not emptied: each names the person whose fact it was.
        landed=(),
        merges=tuple(replace(held, outputs=()) for held in stored.merges),
        undone=tuple(replace(undone, outputs=()) for undone in stored.undone),
    )


def _as_json(outputs: Iterable[Envelope]) -> tuple[bytes, ...]:
    return tuple(output.to_json_bytes() for output in outputs)


def _from_json(raw: Sequence[bytes]) -> tuple[Envelope, ...]:
    return tuple(Envelope.from_json_bytes(item) for item in raw)


def _unique(outputs: Iterable[Envelope]) -> tuple[Envelope, ...]:
    """Each event once, in order: a redelivery may find the same announcement kept in two places."""
    seen: dict[str, Envelope] = {}
    for output in outputs:
        seen.setdefault(output.id, output)
    return tuple(seen.values())


# ---------------------------------------------------------------------------------------------------------------
# Batches


@dataclass(frozen=True)
class BatchHandled:
    """What handling a batch of facts came to: the events to publish, and each fact's outcome. None: the fact is
    left to `apply_resolved`, as is every later fact of its person in the batch."""

    outputs: tuple[Envelope, ...]
    outcomes: tuple[str | None, ...]
    # For each fact, why it goes no further when this handling noted it as folded into no profile.
    filtered: tuple[str | None, ...]


@dataclass
class _PersonFacts:
    organisation_id: str
    person_id: str
    # (position in the batch, the resolution's envelope, the fact, and the upstream envelope telling it)
    facts: list[tuple[int, Envelope, ProfileEvent, Envelope]] = field(default_factory=list)
    # Identity created the person for the first of these facts: no profile is stored for them unless this is a
    # redelivery, which finds their first change number taken.
    created_by_first: bool = False


async def apply_facts(batch: Sequence[tuple[Envelope, PersonResolvedV1]], deps: ProfileDeps) -> BatchHandled:
    """Folds a batch of plain facts into their persons' profiles with a few bulk writes, with the very effects
    and announcements `apply_resolved` has for the same facts in the same order.

    Each person's profile is read once; their new facts take the next numbers of their log in one bulk insert
    (the same documents `apply_resolved` writes, so it resumes whatever a crash leaves), each fact is folded and
    announced in turn as it would be alone (same ids, versions and content), and the profile is stored once with
    the announcements of all of them, so that a redelivery publishes them again. Nothing is merged: a person's
    consecutive facts are each announced. Anything not plain is left to `apply_resolved`, with every later fact
    of the same person: an erasure request, a person erased or merged away, a fact kept in the history of someone
    merged into them, a fact logged for another person or past the profile, any person whose numbers another
    writer took meanwhile, and any whose facts another writer stored only some of meanwhile.
    """
    outcomes: list[str | None] = [None] * len(batch)
    filtered: list[str | None] = [None] * len(batch)
    produced: dict[int, tuple[Envelope, ...]] = {}
    persons: dict[tuple[str, str], _PersonFacts] = {}
    left: set[tuple[str, str]] = set()
    for index, (envelope, resolved) in enumerate(batch):
        person = (envelope.organisation_id, resolved.person_id)
        if person in left:
            continue
        if resolved.history_of is not None:
            # Kept in the history of someone merged away (`_kept_with`): it, and what follows it under its key, in
            # order.
            left.add(person)
            continue
        try:
            upstream = parse_data(resolved.original)
            fact = (
                None if isinstance(upstream, PersonErasureRequestedV1) else profile_event(resolved.original, upstream)
            )
        except (EventValidationError, ValueError):
            fact, upstream = None, None
        if upstream is None or isinstance(upstream, PersonErasureRequestedV1):
            left.add(person)
            continue
        if fact is None:
            outcomes[index] = "ignored"
            if await deps.store.record_filtered(envelope.organisation_id, resolved.original.id, NOT_FOLDED):
                filtered[index] = NOT_FOLDED
            continue
        planned = persons.setdefault(person, _PersonFacts(*person, created_by_first=_creates_person(resolved)))
        if any(known.event_id == fact.event_id for _, _, known, _ in planned.facts):
            # The same fact twice in one batch: the second is a redelivery, told apart fact by fact.
            left.add(person)
            continue
        planned.facts.append((index, envelope, fact, resolved.original))
    for organisation_id in sorted({organisation for organisation, _ in persons}):
        await _apply_in_groups(
            deps,
            organisation_id,
            [planned for (organisation, _), planned in persons.items() if organisation == organisation_id],
            outcomes,
            produced,
        )
    outputs = tuple(output for index in sorted(produced) for output in produced[index])
    return BatchHandled(outputs, tuple(outcomes), tuple(filtered))


async def _claims_not_stored(
    store: ProfileStore, organisation_id: str, person_id: str, claims: Mapping[str, str]
) -> frozenset[str]:
    """The dedupe keys of `claims` (key → the event id that claimed it) that the person's stored profile did not
    fire, let go."""
    if not claims:
        return frozenset()
    stored = await store.profile(organisation_id, person_id)
    unstored = {key: event_id for key, event_id in claims.items() if stored is None or key not in stored.fired}
    await store.release_triggers(organisation_id, sorted(unstored.items()))
    return frozenset(unstored)


async def _file_again_if_the_sweep_went_by(deps: ProfileDeps, profiles: Sequence[StoredProfile]) -> None:
    """Profiles just stored, with the entries filed for them before: a writer that took so long that the sweep may
    have read an entry's slot meanwhile (and let it go as stale, the profile not stored yet) files it once more, at
    the sweep's position, where the sweep finds the profile stored. A writer that took less costs nothing here.
    The sweep reads a slot once it has ended and the grace after it has passed, by the sweep's clock: this writer
    leaves the grace out of its own reckoning, in case its clock runs behind."""
    now = deps.clock.now()
    late = [
        entry
        for profile in profiles
        if profile.due_handle is not None
        and (entry := _due_entry(profile)) is not None
        and slot_of(entry.due_at) + SLOT <= now
    ]
    if late:
        await deps.store.schedule_all(late)


async def _overtaken(store: ProfileStore, profiles: Sequence[StoredProfile]) -> set[str]:
    """The persons of `profiles` (of one organisation) whose stored profile has applied as many changes or more."""
    if not profiles:
        return set()
    applied = await store.applied(profiles[0].organisation_id, [profile.person_id for profile in profiles])
    return {profile.person_id for profile in profiles if applied[profile.person_id] >= profile.applied}


async def _stored_meanwhile(
    store: ProfileStore, folded: Sequence[tuple[StoredProfile, StoredProfile]]
) -> tuple[set[str], set[str]]:
    """For profiles of one organisation folded by a batch (as read, as folded): the persons whose stored profile has
    applied all the batch's facts or more, and those whose stored profile has applied some of them only."""
    if not folded:
        return set(), set()
    applied = await store.applied(folded[0][0].organisation_id, [before.person_id for before, _ in folded])
    overtaken = {after.person_id for _, after in folded if applied[after.person_id] >= after.applied}
    partly = {after.person_id for before, after in folded if before.applied < applied[after.person_id] < after.applied}
    return overtaken, partly


def _creates_person(resolved: PersonResolvedV1) -> bool:
    return resolved.match.method in (MatchMethod.NEW, MatchMethod.REVIEW_PENDING)


async def _apply_in_groups(
    deps: ProfileDeps,
    organisation_id: str,
    planned: list[_PersonFacts],
    outcomes: list[str | None],
    produced: dict[int, tuple[Envelope, ...]],
) -> None:
    """The persons of one organisation in groups of `deps.batch_group_persons`, side by side but staggered: a group
    begins once the one before has read what it needs, so that their reads, folds and writes overlap instead of
    all waiting on the store at once. Groups share no person, and what they share of the store (look-up lists,
    trigger keys) takes concurrent writers as it takes another process's. One group failing stops the others where
    they are, as a crash would: the batch is then handled one fact at a time."""
    size = max(deps.batch_group_persons, 1)
    groups = [planned[start : start + size] for start in range(0, len(planned), size)]
    read = [asyncio.Event() for _ in groups]
    if len(groups) == 1:
        await _apply_batch_of(deps, organisation_id, planned, outcomes, produced, read[0])
        return

    async def apply_group(number: int) -> None:
        if number > 0:
            await read[number - 1].wait()
        try:
            await _apply_batch_of(deps, organisation_id, groups[number], outcomes, produced, read[number])
        finally:
            read[number].set()

    try:
        async with asyncio.TaskGroup() as tasks:
            for number in range(len(groups)):
                tasks.create_task(apply_group(number))
    except BaseExceptionGroup as failed:
        # The first group's failure, as one group would have raised it; the others were only stopped by it.
        raise failed.exceptions[0] from None


async def _apply_batch_of(
    deps: ProfileDeps,
    organisation_id: str,
    planned: list[_PersonFacts],
    outcomes: list[str | None],
    produced: dict[int, tuple[Envelope, ...]],
    read: asyncio.Event,
) -> None:
    """Applies the facts of `planned`, persons of one organisation; sets `read` once what it reads is read."""
    store = deps.store
    person_ids = [person.person_id for person in planned]
    kept = {
        person_id: profile
        for person_id in person_ids
        if (profile := deps.recent.take(organisation_id, person_id)) is not None
    }
    # Neither a kept profile nor a person identity has just created is read: had anyone stored a change since (or
    # before, for a fact delivered again), the number the batch logs from is found taken, and the person's facts go
    # fact by fact, reading the store.
    stored = kept | await store.profiles_of(
        organisation_id,
        [person.person_id for person in planned if person.person_id not in kept and not person.created_by_first],
    )
    # Nor is anything asked about the facts of a person identity has just created, logged from number 1: a
    # redelivery finds that number taken, and an erasure of theirs run since is found after storing (see
    # `_store_batch`). A kept profile's facts are logged past it, where a fact applied before would find a free
    # number: those are asked about.
    known = [person for person in planned if person.person_id in kept or not person.created_by_first]
    erased = await store.erased_among(organisation_id, [person.person_id for person in known])
    logged = await store.logged(organisation_id, [fact.event_id for person in known for _, _, fact, _ in person.facts])
    to_log: list[FactToLog] = []
    fresh: list[tuple[StoredProfile, list[tuple[int, Envelope, ProfileEvent, Envelope]]]] = []
    for person in planned:
        profile = stored.get(person.person_id) or StoredProfile(organisation_id, person.person_id)
        if person.person_id in erased or profile.is_merged:
            continue
        found_logged = [logged.get(fact.event_id) for _, _, fact, _ in person.facts]
        seen = next((count for count, found in enumerate(found_logged) if found is None), len(found_logged))
        if any(found is not None for found in found_logged[seen:]) or any(
            found is not None and (found[0] != person.person_id or found[1] > profile.applied)
            for found in found_logged[:seen]
        ):
            # Logged but not applied (a crash came between), or logged for someone else: fact by fact.
            continue
        for index, _envelope, fact, _original in person.facts[:seen]:
            # Applied before; the last change stored publishes its announcements again, as `apply_resolved` does.
            again = _republished(profile, fact.event_id)
            outcomes[index] = "republished" if again else "duplicate"
            produced[index] = again
        new = person.facts[seen:]
        if new:
            fresh.append((profile, new))
            to_log.extend(
                FactToLog(fact.event_id, person.person_id, profile.applied + offset, original)
                for offset, (_, _, fact, original) in enumerate(new, start=1)
            )
    if not to_log:
        return
    incomplete = await store.log_facts(organisation_id, to_log)
    read.set()
    folded: list[_Folded] = []
    for profile, new in fresh:
        if profile.person_id not in incomplete:
            folded.append(_fold_batch(deps, profile, new))
            # Other groups' reads and writes go on meanwhile: a command is sent and its answer taken only when this
            # loop is free.
            await asyncio.sleep(0)
    await _store_batch(deps, organisation_id, folded, outcomes, produced)


async def _let_go_of_what_was_not_stored(
    deps: ProfileDeps,
    person: "_Folded",
    claimed: dict[str, list[str]],
    claims: Mapping[str, str],
    produced: dict[int, tuple[Envelope, ...]],
) -> None:
    """For a person another writer stored the batch's facts for: a trigger that writer did not fire (it decided at
    another moment) is neither announced nor kept claimed."""
    person_id = person.before.person_id
    mine = claimed[person_id]
    let_go = await _claims_not_stored(
        deps.store, person.before.organisation_id, person_id, {key: claims[key] for key in mine}
    )
    if not let_go:
        return
    claimed[person_id] = [dedupe_key for dedupe_key in mine if dedupe_key not in let_go]
    for index, _, _ in person.changes:
        # Only a trigger's announcement carries a dedupe key.
        produced[index] = tuple(output for output in produced[index] if output.data.get("dedupe_key") not in let_go)


@dataclass
class _Folded:
    """A person's facts of a batch folded one after another, before the stored dedupe keys are checked."""

    before: StoredProfile
    after: StoredProfile
    # (position in the batch, event id, the change it made)
    changes: list[tuple[int, str, _Change]]


def _fold_batch(
    deps: ProfileDeps, profile: StoredProfile, new: list[tuple[int, Envelope, ProfileEvent, Envelope]]
) -> _Folded:
    current = profile
    changes: list[tuple[int, str, _Change]] = []
    for number, (index, envelope, fact, _original) in enumerate(new, start=profile.applied + 1):
        cause = _Cause(fact.event_id, envelope.correlation_id or fact.event_id, fact)
        change = _announced(deps, current, apply(current.state, fact), cause)
        changes.append((index, cause.key, change))
        current = replaced(change.profile, version=current.version + 1, applied=number)
    return _Folded(profile, current, changes)


async def _store_batch(
    deps: ProfileDeps,
    organisation_id: str,
    folded: list[_Folded],
    outcomes: list[str | None],
    produced: dict[int, tuple[Envelope, ...]],
) -> None:
    """Stores the folded profiles in the order `_commit` stores one change: trigger keys, look-up keys and due
    entries first, then the profiles, then what they replaced let go; an erasure that ran meanwhile undone."""
    store = deps.store
    claims: dict[str, str] = {}
    for person in folded:
        for _, _, change in person.changes:
            for trigger in change.triggers:
                # Once per person, rule and period: the first fact of the batch claims the key.
                claims.setdefault(str(trigger.data["dedupe_key"]), change.fired_by)
    granted = await store.claim_triggers(organisation_id, sorted(claims.items()))
    profiles: list[StoredProfile] = []
    claimed: dict[str, list[str]] = {}
    for person in folded:
        outputs: list[Envelope] = []
        mine = claimed.setdefault(person.before.person_id, [])
        for index, _, change in person.changes:
            fired = []
            for trigger in change.triggers:
                dedupe_key = str(trigger.data["dedupe_key"])
                if dedupe_key in granted and claims[dedupe_key] == change.fired_by:
                    fired.append(trigger)
                    mine.append(dedupe_key)
            produced[index] = change.outputs + tuple(fired)
            outputs.extend(produced[index])
        last_change = person.changes[-1][1]
        profiles.append(
            replaced(
                person.after,
                last_change=last_change,
                last_outputs=_as_json(outputs),
                fired=person.after.fired | frozenset(mine),
            )
        )
    keys_before = {person.before.person_id: lookup_keys(person.before.state) for person in folded}
    keys_after = {profile.person_id: lookup_keys(profile.state) for profile in profiles}
    # Persons whose first change number this batch took: no writer filed or stored anything for them before, unless
    # one found that number held meanwhile and did the change itself (filed twice, a look-up checks the profile; the
    # profile stored is found below).
    new_persons = frozenset(person.before.person_id for person in folded if person.before.applied == 0)
    await store.index_all_lookups(
        organisation_id,
        {
            person_id: keys - keys_before[person_id]
            for person_id, keys in keys_after.items()
            if keys - keys_before[person_id]
        },
        new_persons=new_persons,
    )
    # Filed before stored, as `_commit` does: a crash in between leaves an entry the sweep finds stale.
    moved = [
        index
        for index, (person, profile) in enumerate(zip(folded, profiles, strict=True))
        if not _keeps_filing(deps, person.before, profile, person.changes[-1][2])
    ]
    entries = [(index, entry) for index in moved if (entry := _due_entry(profiles[index])) is not None]
    handles = await store.schedule_all([entry for _, entry in entries])
    moving = set(moved)
    for index, (person, profile) in enumerate(zip(folded, profiles, strict=True)):
        if index in moving:
            profiles[index] = replaced(profile, due_handle=None, filed_at=None)
        else:
            profiles[index] = replaced(profile, due_handle=person.before.due_handle, filed_at=person.before.filed_at)
    for (index, entry), handle in zip(entries, handles, strict=True):
        profiles[index] = replaced(profiles[index], due_handle=handle, filed_at=entry.due_at)
    # A writer of another process that found one of these numbers held may have stored the batch's facts itself,
    # and gone on past them (a late fact of a person merged away, a partition changing hands): as in `_commit`, a
    # profile stored over theirs would lose their later changes. One that stored some of them and stopped (the same
    # fact delivered again elsewhere) decided at another moment: its triggers and due entry stand, and the person's
    # facts are left to `apply_resolved`, which goes on from there. A new person's profile is inserted, which fails
    # if anyone stored one: only those found stored are read.
    befores = {person.before.person_id: person.before for person in folded}
    overtaken, partly = await _stored_meanwhile(
        store, [(befores[profile.person_id], profile) for profile in profiles if profile.person_id not in new_persons]
    )
    found_stored = await store.save_all(
        [profile for profile in profiles if profile.person_id not in overtaken | partly], new_persons=new_persons
    )
    if found_stored:
        stored_over = [profile for profile in profiles if profile.person_id in found_stored]
        over, part = await _stored_meanwhile(store, [(befores[profile.person_id], profile) for profile in stored_over])
        overtaken, partly = overtaken | over, partly | part
        await store.save_all([profile for profile in stored_over if profile.person_id not in overtaken | partly])
    not_stored = overtaken | partly
    await _file_again_if_the_sweep_went_by(
        deps, [profiles[index] for index in moved if profiles[index].person_id not in not_stored]
    )
    for person, profile in zip(folded, profiles, strict=True):
        if profile.person_id in not_stored:
            # What that writer stored stands, as in `_commit`.
            await _let_go_of_what_was_not_stored(deps, person, claimed, claims, produced)
            continue
        gone = keys_before[profile.person_id] - keys_after[profile.person_id]
        if gone:
            await store.unindex_lookups(organisation_id, profile.person_id, gone)
    # Each profile stored lets go of the entry it replaced; each not stored, of the one filed for it here.
    let_go = [
        profiles[index].due_handle if profiles[index].person_id in not_stored else folded[index].before.due_handle
        for index in moved
    ]
    await store.unschedule_all([handle for handle in let_go if handle is not None])
    for index in moved:
        if profiles[index].person_id in not_stored:
            profiles[index] = replace(profiles[index], due_handle=None, filed_at=None)
    erased = await store.erased_among(organisation_id, [profile.person_id for profile in profiles])
    for person, profile in zip(folded, profiles, strict=True):
        if profile.person_id in partly and profile.person_id not in erased:
            for index, _, _ in person.changes:
                outcomes[index] = None
                produced[index] = ()
            continue
        if profile.person_id not in erased:
            if profile.person_id not in overtaken:
                deps.recent.keep(profile)
            for index, _, _ in person.changes:
                outcomes[index] = "applied"
            continue
        # Erased before these facts were stored (a person identity created, delivered again after their erasure) or
        # while they were: what they stored goes the same way, and each fact is left to `apply_resolved`, which
        # notes it as for a person erased.
        await store.purge(
            organisation_id,
            profile.person_id,
            changes=[key for _, key, _ in person.changes],
            triggers=claimed[profile.person_id],
        )
        await store.unschedule_person(organisation_id, profile.person_id)
        await store.unindex_lookups(organisation_id, profile.person_id, keys_after[profile.person_id], thorough=True)
        await store.delete_profile(organisation_id, profile.person_id)
        for index, _, _ in person.changes:
            outcomes[index] = None
            produced[index] = ()
