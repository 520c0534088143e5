"""What the profile handlers need from the outside world: the profile store."""

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from services.profile.domain.profile import EMPTY_PROFILE, ProfileState
from services.profile.domain.schedule import DueEntry
from shared.events import Envelope
from shared.households import decided_after
from shared.moments import to_the_millisecond
from shared.privacy import person_digest as person_digest  # named here too: profile's own records use it
from shared.records import quick_init

# What a writer was doing when it took a person's change number: handling a message from identity, or visiting a
# due entry for the sweep. A writer that finds a number held by a change never stored does it again from this.
Origin = Envelope | DueEntry


@dataclass(frozen=True)
class HeldTurn:
    """The change holding one of a person's numbers: a fact (with its upstream envelope), or a step of what its
    `origin` was doing (None if its writer kept nothing to do it again from; a message is dropped once the step is
    stored, a sweep's due entry stays)."""

    change: str
    fact: Envelope | None = None
    origin: Origin | None = None
    # Passed over (`pass_turn`): no change is stored under the number, whoever was making it.
    passed: bool = False


@dataclass(frozen=True)
class HouseholdMove:
    """How a merge moved its survivor: into `household_id` as decided at `household_at` (`merge_move_moment`), out
    of the household it showed before (`before_id`, None for none, decided at `before_at`)."""

    household_id: str
    household_at: datetime
    before_id: str | None = None
    before_at: datetime | None = None

    def with_earlier_decision(self, household_id: str, at: datetime) -> "HouseholdMove | None":
        """The move as identity made it if its decision of `at` putting the survivor in `household_id` came between
        the household shown before and the merge (delivered after the merge, it could not be shown); None if not."""
        if not decided_after(household_id, at, self.before_id, self.before_at):
            return None
        if not decided_after(self.household_id, self.household_at, household_id, to_the_millisecond(at)):
            return None
        return replace(self, before_id=household_id, before_at=to_the_millisecond(at))


@dataclass(frozen=True)
class MergeInForce:
    """A merge this profile survived: the persons whose histories it now holds (none left, once erasures or later
    merges took them all; the merge stays recorded until it is undone, so that a copy delivered late is known)."""

    merge_id: str
    person_ids: tuple[str, ...]
    # What the survivor announced when the merge was applied, published again if the merge is delivered again.
    # Dropped when an erasure takes a person out of the merge: it may tell that person's details.
    outputs: Sequence[bytes] = ()
    # Everyone whose history the merge brought (those merged, and those merged into them), and the trigger dedupe
    # keys it claimed: one of them erased before the merge stored the survivor is left out by doing the merge again,
    # at once or when it is delivered again. An erasure takes the person out of `brought`.
    brought: tuple[str, ...] = ()
    claimed: tuple[str, ...] = ()
    # The household the merge moved the survivor into, and the one it showed before: an unmerge gives that back, as
    # identity does, while the survivor still shows the one the merge gave it. None for a merge that moved it
    # nowhere, or stored before moves were kept: its unmerge leaves the household as it finds it.
    household_move: HouseholdMove | None = None


@dataclass(frozen=True)
class LandedFact:
    """The last late fact of one person merged into a profile that landed on it (`late:<event id>`), and what it
    published there."""

    # None: kept before each person had their own, whose it was is unknown; the next late fact to land replaces it.
    person_id: str | None
    change: str
    outputs: Sequence[bytes] = ()


@dataclass(frozen=True)
class UndoneMerge:
    """A merge this profile survived and identity undid: a late copy of the merge must change nothing."""

    merge_id: str
    outputs: Sequence[bytes] = ()


@quick_init
@dataclass(frozen=True, slots=True)
class AnnouncedView:
    """`view` of `state` as of `as_of`, as a change announced it."""

    state: ProfileState
    as_of: datetime
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class StoredProfile:
    """One person's profile as stored: the folded state, what was announced, and how far its log was applied.

    A person merged into another keeps this document (an unmerge recomputes it) but is no one's profile: its
    `state` is its own history for the record, its segments are empty, and the survivor announces for it.
    """

    organisation_id: str
    person_id: str
    state: ProfileState = EMPTY_PROFILE
    # Bumped by every change: the guard of the conditional update that stores the next one.
    version: int = 0
    # Changes in the person's log so far (facts, and the merge steps that changed this document); the next one
    # is logged as number `applied + 1`.
    applied: int = 0
    segments: frozenset[str] = frozenset()
    # When a time-based field or rule next changes: the sweep visits only profiles due. `due_handle` is where the
    # store filed the profile, for the moment `filed_at`: the due moment, or an earlier one the due moment was put
    # off from since (see `keeps_entry`), where the sweep files the profile again for its due moment.
    due_at: datetime | None = None
    due_handle: str | None = None
    filed_at: datetime | None = None
    # The last change stored (a fact's event id, or a merge step) and what it published: a redelivery that finds
    # its change already stored publishes the same events again.
    last_change: str | None = None
    # Kept as the JSON published: field names in a `profile changed` event contain dots, which stores refuse as keys.
    last_outputs: Sequence[bytes] = ()
    # The last sweep visit stored (`sweep:<due moment>`) and what it published, kept past later changes: a visit
    # that died before Kafka had its events is done again after a fact may have changed the profile since.
    swept: str | None = None
    swept_outputs: Sequence[bytes] = ()
    # Likewise the last step of a merge or unmerge moving this person (`merged:<merge>` marking them merged,
    # `restored:<merge>` making them active again) and what it published: a fact of theirs stored before the merge or
    # unmerge is delivered again, after a crash before Kafka had its events, must not lose them.
    moved: str | None = None
    moved_outputs: Sequence[bytes] = ()
    # Likewise, for each person merged into this profile, the last of their late facts that landed here: delivered
    # again after a crash before Kafka had its events, and after this profile changed since (a fact on its own key,
    # another merged person's late fact, or its own merge into another, the redelivery then landing above it), it
    # must not lose them, nor leave a trigger it claimed unsent. One per person: a later late fact of theirs takes
    # its place, and an unmerge drops those of the persons it gives back.
    landed: tuple[LandedFact, ...] = ()
    # Set while this person is merged into `merged_into` by the merge `merged_by`, decided by identity at
    # `merged_at`. A survivor erased leaves `merged_into` empty: the person stays merged (an unmerge restores it)
    # into no one.
    merged_into: str | None = None
    merged_by: str | None = None
    merged_at: datetime | None = None
    # The latest moment identity is known to have seen the person active (deciding a merge it took part in, or an
    # unmerge restoring it): a merge decided before then was undone, whatever order its events arrive in.
    active_at: datetime | None = None
    merges: tuple[MergeInForce, ...] = ()
    undone: tuple[UndoneMerge, ...] = ()
    # The trigger dedupe keys this person claimed: they name the person, so an erasure deletes them.
    fired: frozenset[str] = field(default_factory=frozenset)
    # The triggers sent to those whose histories `state` holds through merges, as `rule:period` (their dedupe keys
    # without the person): not sent to this person again for the same period. Written with `state`, so that the two
    # always agree, whatever order merges, unmerges and erasures deeper in the chain arrive in.
    held_sent: frozenset[str] = field(default_factory=frozenset)
    # For each person whose history `state` holds through merges, the last number of their log it folded in, as
    # (person, number) pairs: a late fact of theirs numbered just past it is folded into `state` alone, one the state
    # holds already is not folded twice, and any other case folds every history again. Written with `state`.
    folded_through: tuple[tuple[str, int], ...] = ()
    # The household identity counts the person in. Identity's to know, not a fact's: outside `state`, so it stays
    # with this profile when an unmerge recomputes the state from the facts. `household_at`: when identity decided
    # it, for an older decision delivered again (or late, from another partition) never to replace it.
    household_id: str | None = None
    household_at: datetime | None = None

    def in_household(self, household_id: str, at: datetime) -> "StoredProfile | None":
        """The profile as identity's decision of `at` puts the person in `household_id`, as identity keeps it
        (`decided_after`); None if the household shown was decided after it. A profile is only ever given a
        household with its moment, so none is shown without one."""
        if not decided_after(household_id, at, self.household_id, self.household_at):
            return None
        return replace(self, household_id=household_id, household_at=to_the_millisecond(at))

    def shows_household_of(self, move: HouseholdMove) -> bool:
        """Whether the household shown is still the one a merge's `move` put the person in, not one decided since."""
        return (self.household_id, self.household_at) == (move.household_id, move.household_at)

    # In memory only, never stored: the view last announced of this very `state`, for the next change to start
    # from instead of computing it again.
    announced_view: "AnnouncedView | None" = field(default=None, compare=False, repr=False)

    @property
    def is_merged(self) -> bool:
        return self.merged_by is not None

    def merge_in_force(self, merge_id: str) -> MergeInForce | None:
        return next((merge for merge in self.merges if merge.merge_id == merge_id), None)

    def landed_fact(self, change: str) -> LandedFact | None:
        return next((fact for fact in self.landed if fact.change == change), None)

    def undone_merge(self, merge_id: str) -> UndoneMerge | None:
        return next((merge for merge in self.undone if merge.merge_id == merge_id), None)

    def holds(self, merge_id: str, person_id: str) -> bool:
        """Whether `person_id`'s history is part of this profile through the merge `merge_id`."""
        merge = self.merge_in_force(merge_id)
        return merge is not None and person_id in merge.person_ids


@dataclass(frozen=True)
class FiledDue:
    """One document of a sweep slot: the profiles filed in it, and how many times it was written when read."""

    key: str
    entries: tuple[DueEntry, ...]
    # How many entries were ever filed in it when read: more now means some came since.
    version: int
    # Where each entry lies, for a store that lets them go one by one (empty for one that drops them at once).
    handles: tuple[str, ...] = ()


@quick_init
@dataclass(frozen=True)
class FactToLog:
    """An upstream fact to log as its person's change number `number`."""

    event_id: str
    person_id: str
    number: int
    envelope: Envelope


@dataclass(frozen=True)
class PrivacyEntry:
    """One export or erasure, as the privacy log keeps it (Law 25 asks that they be accounted for)."""

    organisation_id: str
    action: str
    person_digest: str
    at: datetime
    requested_by: str
    details: Mapping[str, Any] = field(default_factory=dict)


class ProfileStore(Protocol):
    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None: ...

    async def profiles_of(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, StoredProfile]:
        """The stored profiles of those persons who have one, by person id."""

    async def applied(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, int]:
        """How many changes of each person's log their stored profile has applied (`StoredProfile.applied`), read
        afresh, by person id; 0 for a person with none stored."""

    async def log_fact(
        self, organisation_id: str, event_id: str, person_id: str, number: int, envelope: Envelope
    ) -> int | None:
        """Makes the upstream fact `envelope` (id `event_id`) the person's change number `number`, unless it was
        logged before: then returns its number (0 if it was logged for another person). None if another change
        holds `number` (a writer raced this one).

        The unique number per person is what lets only one writer store each next version of a profile.
        """

    async def log_facts(self, organisation_id: str, facts: Sequence[FactToLog]) -> frozenset[str]:
        """Logs many facts at once, those of one person next to each other with consecutive numbers, as
        `log_fact` would one after another; returns the persons for whom it could not be done in full (a number
        held by another change, or a fact logged meanwhile by another delivery).

        What it logged for such a person is what `log_fact` finds and resumes: a first run of their numbers,
        perhaps with some of their facts' own documents. The fact-by-fact path settles them.
        """

    async def logged(self, organisation_id: str, event_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """For each fact logged already, the person and the number it was logged as."""

    async def take_turn(
        self, organisation_id: str, person_id: str, number: int, change: str, origin: Origin | None = None
    ) -> bool:
        """Makes `change` (a merge step, not a fact) the person's change number `number`, kept with its `origin`:
        True if it is now, or was already; False if another change holds the number."""

    async def turn_at(self, organisation_id: str, person_id: str, number: int) -> HeldTurn | None:
        """The change holding the person's change `number`; None if the number is free."""

    async def pass_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        """Marks the change holding the person's change `number` passed over, before the profile moves past it: a
        writer still making that change learns it was not stored (`turn_at`)."""

    async def settle_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        """The step holding the person's change `number` is stored: its origin is no longer kept (a message may
        name other persons, whom an erasure must leave no trace of)."""

    async def forget_origins_naming(self, organisation_id: str, person_id: str) -> int:
        """Drops every origin still kept (a step whose writer died before storing it) that names the person;
        returns how many."""

    async def facts(self, organisation_id: str, person_id: str, through: int) -> list[Envelope]:
        """The upstream facts logged as the person's changes 1 to `through`, in that order."""

    async def numbered_facts(
        self, organisation_id: str, person_id: str, first: int, last: int
    ) -> list[tuple[int, Envelope]]:
        """The upstream facts among the person's changes `first` to `last`, each with its number, in order."""

    async def save(self, profile: StoredProfile) -> None:
        """Stores the profile; only the writer that logged its latest change's number calls this."""

    async def save_all(self, profiles: Sequence[StoredProfile], *, new_persons: Collection[str] = ()) -> frozenset[str]:
        """`save` for each profile (of different persons), each stored whole or not at all. `new_persons`: those
        expected to have no profile stored yet (cheaper to store); returned are those of them found stored all the
        same, whose stored profile is left as it was."""

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        """True if this fact may fire the trigger: nobody stored the key, or this very fact did (a redelivery)."""

    async def claim_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> frozenset[str]:
        """`claim_trigger` for each (dedupe key, event id) of different keys: the keys whose claim holds."""

    async def release_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> None:
        """Lets go of each (dedupe key, event id) claim that still holds: the event id's trigger was never stored."""

    async def mark_erased(self, organisation_id: str, person_id: str) -> None:
        """Remembers that the person was erased, without keeping their id."""

    async def is_erased(self, organisation_id: str, person_id: str) -> bool: ...

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        """Those of the persons who were erased."""

    async def purge(
        self,
        organisation_id: str,
        person_id: str,
        *,
        changes: Iterable[str] = (),
        triggers: Iterable[str] = (),
    ) -> int:
        """Deletes the person's log and the trigger keys they claimed, the profile document's as well as
        `changes` and `triggers` (a writer's own, which it may not have stored yet) and any other key naming them
        (claimed by a writer that died before storing the profile). Keeps the profile document.

        Each upstream fact taken out of the log is noted filtered (`erased`) before it goes, so that it leaves the
        reconciliation's `profiled` for its `filtered` and is never in neither; returns how many were noted now."""

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        """Notes that an upstream fact is not folded into any profile on purpose, and why (the reconciliation's
        `filtered`); False if it was noted before, whatever the reason then."""

    async def delete_profile(self, organisation_id: str, person_id: str) -> None: ...

    async def schedule(self, entry: DueEntry) -> str:
        """Files the profile in the slot of its due moment (of its retry, after a failed visit: `visit_at`), for the
        sweep, keeping the failures counted; returns a handle to unfile it.

        A write that lagged past the slot's grace finds the sweep gone beyond the slot: the entry is filed again in
        the slot the sweep reads next, and the handle is that filing's. The position is read after the first
        filing, so a sweep that moved past the slot in between either read the entry there or is seen to have
        moved (see `sweep_due`)."""

    async def schedule_all(self, entries: Sequence[DueEntry]) -> list[str]:
        """`schedule` for each entry; the handles in the same order."""

    async def unschedule(self, handle: str) -> None:
        """Takes a filed entry out of its slot (the profile is due at another moment now, or erased)."""

    async def unschedule_all(self, handles: Iterable[str]) -> None: ...

    async def unschedule_person(self, organisation_id: str, person_id: str) -> int:
        """Takes every entry filed for the person out of its slot, wherever it is; returns how many. A slow writer
        and the one that helped it each file the change they both stored, and the profile keeps one handle."""

    async def sweep_position(self) -> datetime | None:
        """The start of the first slot not swept yet; None before the first sweep."""

    async def sweep_left(self) -> tuple[datetime, datetime] | None:
        """The sweep position and the slot its last move started from, read together; None before the first
        sweep."""

    async def start_sweep(self, at: datetime) -> datetime:
        """Sets the sweep position to `at` unless it is set already; returns the position."""

    async def slots_filed(self, start: datetime, end: datetime) -> list[datetime]:
        """The starts of the slots from `start` to `end` (a day at most) that documents were filed in, in order; a
        slot left out holds nothing `filed_in` would find. Reads the day's list of what was filed in it, however many
        slots it spans."""

    async def filed_in(self, slot: datetime) -> list[FiledDue]:
        """The documents of the slot starting at `slot` that hold entries."""

    async def drop_filed(self, filed: FiledDue) -> bool:
        """Lets the document's entries go unless it was written since it was read, or while they went (False: read
        it again); an entry filed at any moment is either let go here or found by the next `filed_in`."""

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        """Moves the position from `slot` to `to`, noting where the move started; a no-op if another sweeper moved it
        already (False). `filed_in(slot)` still answers afterwards: the sweep reads the slot once more after moving
        past it. Moving on from a day's first slot lets the day before go, once the position has left it."""

    async def index_lookups(self, organisation_id: str, person_id: str, keys: Iterable[str]) -> int:
        """Makes the profile findable by each of `keys` (`domain.lookups`); returns how many it was not found by
        yet. Its cost does not grow with the number of persons a key finds (a name's sound finds thousands)."""

    async def index_all_lookups(
        self, organisation_id: str, keys: Mapping[str, Iterable[str]], *, new_persons: Collection[str] = ()
    ) -> int:
        """`index_lookups` for each person (by id) and their keys. `new_persons`: persons never filed under any
        key (this writer took their first change number), filed without first looking for them."""

    async def unindex_lookups(
        self, organisation_id: str, person_id: str, keys: Iterable[str], *, thorough: bool = False
    ) -> None:
        """The profile is no longer found by `keys`; a key nobody is found by any more is forgotten. `thorough`
        (an erasure) leaves no entry naming the person under any key, even where a crash or a race filed them twice
        or left them under a key their profile no longer holds."""

    async def found_by(self, organisation_id: str, key: str) -> list[str]:
        """The persons whose profiles hold `key`, in no particular order."""

    async def found_by_up_to(self, organisation_id: str, key: str, limit: int) -> tuple[list[str], bool]:
        """At most `limit` of the persons filed under `key`, those filed first, and whether more were filed. An
        entry may name a profile that no longer holds the key (filed just before a crash): the profile decides."""

    async def lookup_lengths(self, organisation_id: str, keys: Sequence[str]) -> dict[str, int]:
        """How many persons each key's list may name (those let go since it was filed may still count): what reading
        it whole may cost, without reading it."""

    def every_profile(self, organisation_id: str | None) -> AsyncIterator[StoredProfile]:
        """Every stored profile of the organisation (of all of them with None), in no particular order. Slow: it
        reads the whole collection, for operator tasks."""

    async def count_profiles(self, organisation_id: str | None) -> int: ...

    async def segment_sizes(self, organisation_id: str) -> Mapping[str, int]:
        """How many profiles each segment holds now (a segment nobody is in may be missing)."""

    async def segment_members(
        self, organisation_id: str, segment: str, *, after: str | None, limit: int
    ) -> list[StoredProfile]:
        """Up to `limit` profiles in the segment, by person id, starting after `after`."""

    def profile_states(
        self, organisation_id: str, *, fields: Collection[str], page_size: int
    ) -> AsyncIterator[list[ProfileState]]:
        """The states of the organisation's profiles, those of persons merged into another left out, up to
        `page_size` at a time, in no particular order. Only the state fields named in `fields` need be read; the
        others may hold their defaults. Reads every profile of the organisation, once."""

    async def organisations(self) -> list[str]:
        """The organisations holding profiles, sorted. Slow: it reads every profile."""

    async def record_segment_sizes(
        self, organisation_id: str, day: date, sizes: Mapping[str, int], *, recorded_at: datetime
    ) -> None:
        """Keeps `sizes` (members by segment) as the organisation's record for `day`, in place of any before."""

    async def recorded_segment_sizes(self, organisation_id: str, days: Iterable[date]) -> dict[date, Mapping[str, int]]:
        """The sizes recorded for each of `days` that has a record."""

    async def segment_sizes_recorded_day(self) -> date | None:
        """The last day whose sizes were recorded for every organisation; None before the first."""

    async def mark_segment_sizes_recorded(self, day: date) -> None: ...

    async def log_privacy(self, entry: PrivacyEntry) -> None: ...

    async def privacy_entries(self, organisation_id: str, person_digest: str) -> list[PrivacyEntry]:
        """The person's exports and erasures, oldest first."""

    async def profiles_naming(self, organisation_id: str, person_id: str) -> list[str]:
        """The persons whose profile documents mention `person_id` anywhere. Slow: it reads every profile."""

    async def search(self, organisation_id: str, needles: Iterable[str]) -> dict[str, int]:
        """Reads every document the profile service keeps for the organisation: how many, per collection, contain
        any of `needles` anywhere. Slow on purpose; it proves an erasure."""
