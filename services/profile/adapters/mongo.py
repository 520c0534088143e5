"""Profiles in MongoDB (or FerretDB): one document per person, each change fenced by a unique log document.

FerretDB 1.x looks a document up by index only when the filter is exactly `{"_id": ...}`: every read, update and
delete here is by `_id`, and a person's log is read one numbered document at a time, never by a query.
"""

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
import zlib
from collections.abc import AsyncIterator, Awaitable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, cast

import pydantic_core
from bson.binary import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.profile.adapters.known_states import KnownStates
from services.profile.domain.documents import DocumentError
from services.profile.domain.profile import ProfileState
from services.profile.domain.schedule import PARTS, SLOT, DueEntry, slot_of
from services.profile.ports import (
    FactToLog,
    FiledDue,
    HeldTurn,
    HouseholdMove,
    LandedFact,
    MergeInForce,
    Origin,
    PrivacyEntry,
    StoredProfile,
    UndoneMerge,
    person_digest,
)
from shared.erasures import Erasures
from shared.events import Envelope
from shared.mongo import (
    Document,
    IndexSpec,
    NumberedList,
    duplicate_indexes,
    found_by_id,
    insert_in_order,
    replace_all,
)
from shared.privacy_log import PrivacyLog, privacy_log_index

T = TypeVar("T")
log = logging.getLogger(__name__)

PROFILES = "profile_profiles"
# The binary subtype (one of those BSON leaves to applications) of a value kept as zlib-compressed JSON text.
COMPRESSED_JSON = 0x80
# Two kinds of documents: `org|person#n`, the person's change number n (the upstream envelope, for a fact), and
# `org|event id`, which number of whose log a fact is (a redelivery finds it there).
FACT_LOG = "profile_fact_log"
FIRED_TRIGGERS = "profile_fired_triggers"
ERASED = "profile_erased"
# Lists of numbered documents (see `NumberedList`): `slot|part#n`, the profiles due in that slot of time, and
# `day|date#n`, which parts of the day's slots hold entries; and the one document saying how far the sweep has
# gone. The sweep reads them by `_id`, never the profiles, and an empty day costs it one read.
# `org|digest of the key#n` documents: the persons whose profiles hold an email, a phone, an upstream id or a name's
# sound; and `org|digest of the key@digest of the person`, a mark telling which entry past the first few files the
# person (so that filing and withdrawing never read a list that holds every Tremblay).
LOOKUPS = "profile_lookups"
# Every export and erasure: who asked, when, and for an erasure what the search afterwards found.
PRIVACY_LOG = "profile_privacy_log"
# `org|digest of the event id`: an upstream fact folded into no profile on purpose, with the reason: an erasure or
# access request (carried out, not folded), a fact for a person erased, a fact erased with its person's history.
FILTERED_FACTS = "profile_filtered_facts"
DUE = "profile_due"
SWEEP = "profile_sweep"
SWEEP_POSITION = "position"
# The document of SWEEP saying the last day whose segment sizes were recorded for every organisation.
SEGMENT_SIZES_RECORDED = "segment-sizes"
# `org|YYYY-MM-DD`: the organisation's segment sizes recorded for that day, all segments in one document so a day
# is recorded whole or not at all, and a 30-day trend is 30 reads by `_id`.
SEGMENT_SIZES = "profile_segment_sizes"
COLLECTIONS = (
    PROFILES,
    FACT_LOG,
    FIRED_TRIGGERS,
    ERASED,
    LOOKUPS,
    PRIVACY_LOG,
    DUE,
    SWEEP,
    SEGMENT_SIZES,
    FILTERED_FACTS,
)
# For MongoDB, which uses them; FerretDB 1.x reads a segment's members by scanning the organisation's profiles.
INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(PROFILES, [("organisation_id", ASCENDING), ("segments", ASCENDING), ("person_id", ASCENDING)]),
    privacy_log_index(PRIVACY_LOG),
)
# Reads and writes of one document each run this many at once: round trips overlap without flooding the store (the
# reads by `_id` among them go to the store together, see `ReadsTogether`).
READS_AT_ONCE = 64
# The first entries of a look-up list are read whenever a person is filed in it or withdrawn from it without a mark
# (an email's, a phone's list holds a few); the entries past them are marked, so that neither reads a list many share.
SHORT_LOOKUP_LIST = 16
# Look-up list lengths remembered at most (a few megabytes), forgotten all at once beyond.
LOOKUP_LENGTHS_KEPT = 1 << 16


def _key(organisation_id: str, local: str) -> str:
    return f"{organisation_id}|{local}"


def _change_key(organisation_id: str, person_id: str, number: int) -> str:
    return _key(organisation_id, f"{person_id}#{number}")


def _filtered_key(organisation_id: str, event_id: str) -> str:
    # A digest, so that no event id of an erased person's facts is left behind.
    return _key(organisation_id, hashlib.sha256(f"{organisation_id}|{event_id}".encode()).hexdigest())


def _tombstone_key(organisation_id: str, person_id: str) -> str:
    # A digest, so that no document keeps the id of a person erased.
    return _key(organisation_id, f"erased:{person_digest(organisation_id, person_id)}")


class MongoProfileStore:
    def __init__(self, database: AsyncDatabase[Document], *, compressed_states: bool = True) -> None:
        """`compressed_states` off writes each state as JSON text, which releases before the compressed form read;
        both forms are read either way."""
        self._compressed_states = compressed_states
        self._profiles = database[PROFILES]
        self._log = database[FACT_LOG]
        self._fired = database[FIRED_TRIGGERS]
        self._erased = database[ERASED]
        # Tombstones, and `org|erasures#n`: every erasure of the organisation, listed in order.
        self._erasures = Erasures(database[ERASED], database[ERASED], _tombstone_key)
        self._due = NumberedList(database[DUE])
        self._due_documents = database[DUE]
        self._lookups = NumberedList(database[LOOKUPS])
        self._lookup_docs = database[LOOKUPS]
        # The length each look-up list had when last measured here: a list many file into (a common name's) is
        # measured from there in a few reads instead of a search from its first entry.
        self._lookup_lengths: dict[str, int] = {}
        # This process's filings take turns: numbered from the lengths it last saw, two at once (a batch's groups)
        # would take the same numbers, and each number refused costs the store an insert of its own.
        self._filing = asyncio.Lock()
        # The same for the parts of the due slots, which a season's end fills by the thousand.
        self._due_lengths: dict[str, int] = {}
        # Part → how many of its first entries this process let go: a slot read again skips them.
        self._let_go: dict[str, int] = {}
        # The part of a slot the next batch files in; processes start apart so that they seldom share one.
        self._next_part = secrets.randbelow(PARTS)
        self._privacy = PrivacyLog(database[PRIVACY_LOG])
        self._filtered = database[FILTERED_FACTS]
        self._collections = [database[name] for name in COLLECTIONS]
        self._sweep = database[SWEEP]
        self._segment_sizes = database[SEGMENT_SIZES]
        self._states = KnownStates()

    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None:
        document = await self._profiles.find_one({"_id": _key(organisation_id, person_id)})
        return None if document is None else self._read(organisation_id, person_id, document)

    async def applied(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, int]:
        wanted = set(person_ids)
        found = await _found_by_id(self._profiles, organisation_id, wanted, {"applied": 1})
        return {person_id: int(found.get(person_id, {}).get("applied", 0)) for person_id in wanted}

    async def profiles_of(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, StoredProfile]:
        found = await _found_by_id(self._profiles, organisation_id, person_ids)
        return {person_id: self._read(organisation_id, person_id, document) for person_id, document in found.items()}

    def _read(self, organisation_id: str, person_id: str, document: Mapping[str, Any]) -> StoredProfile:
        key = (organisation_id, person_id)
        profile = _profile_from(organisation_id, person_id, document, self._states.decoded(key, document.get("state")))
        self._states.remember(key, document.get("state"), profile.state)
        return profile

    def _stored(self, profile: StoredProfile) -> dict[str, Any]:
        key = (profile.organisation_id, profile.person_id)
        stored = self._states.encoded(key, profile.state)
        document = _document_of(profile, compressed=self._compressed_states, state=stored)
        self._states.remember(key, document["state"], profile.state)
        return document

    async def log_facts(self, organisation_id: str, facts: Sequence[FactToLog]) -> frozenset[str]:
        incomplete: set[str] = set()
        changes = [
            {
                "_id": _change_key(organisation_id, fact.person_id, fact.number),
                "organisation_id": organisation_id,
                "change": fact.event_id,
                "envelope": fact.envelope.to_json_bytes().decode(),
            }
            for fact in facts
        ]
        start = 0
        while start < len(changes):
            # In order: the numbers a person takes before one found held are a first run, as `log_fact` would have
            # taken them one after another; none is left taken past a gap.
            taken = await insert_in_order(self._log, changes[start:])
            if taken is None:
                break
            failed = start + taken
            person_id = facts[failed].person_id
            incomplete.add(person_id)
            start = failed + 1
            while start < len(facts) and facts[start].person_id == person_id:
                start += 1
        logged = [fact for fact in facts if fact.person_id not in incomplete]
        if logged:
            events = [
                {
                    "_id": _key(organisation_id, fact.event_id),
                    "organisation_id": organisation_id,
                    "person_id": fact.person_id,
                    "number": fact.number,
                }
                for fact in logged
            ]
            try:
                await self._log.insert_many(events, ordered=False)
            except BulkWriteError as exc:
                # Another delivery of the fact logged it meanwhile: `log_fact` tells which number it holds.
                incomplete.update(logged[index].person_id for index in duplicate_indexes(exc))
        return frozenset(incomplete)

    async def logged(self, organisation_id: str, event_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        found = await _found_by_id(self._log, organisation_id, event_ids)
        return {event_id: (str(document["person_id"]), int(document["number"])) for event_id, document in found.items()}

    async def log_fact(
        self, organisation_id: str, event_id: str, person_id: str, number: int, envelope: Envelope
    ) -> int | None:
        # The event's document is written only by a writer holding the number it names, so a redelivery finding
        # it knows the fact is logged, and a writer that lost the number leaves nothing behind to contradict it.
        event_key = _key(organisation_id, event_id)
        logged = await self._log.find_one({"_id": event_key})
        if logged is None:
            taken = await self._take(
                organisation_id, person_id, number, event_id, envelope=envelope.to_json_bytes().decode()
            )
            if not taken:
                return None
            try:
                await self._log.insert_one(
                    {"_id": event_key, "organisation_id": organisation_id, "person_id": person_id, "number": number}
                )
                return number
            except DuplicateKeyError:
                # Another delivery of this fact took the same number at the same moment.
                logged = await self._log.find_one({"_id": event_key})
                assert logged is not None, "a duplicate key means the fact is logged"
        return int(logged["number"]) if logged["person_id"] == person_id else 0

    async def take_turn(
        self, organisation_id: str, person_id: str, number: int, change: str, origin: Origin | None = None
    ) -> bool:
        return await self._take(organisation_id, person_id, number, change, origin=origin)

    async def _take(
        self,
        organisation_id: str,
        person_id: str,
        number: int,
        change: str,
        *,
        envelope: str | None = None,
        origin: Origin | None = None,
    ) -> bool:
        # A conditional update would guard the profile too, but FerretDB 1.x only looks `_id` up by index when
        # it is the whole filter: a unique (person, number) document fences writers instead, at insert speed.
        key = _change_key(organisation_id, person_id, number)
        document: dict[str, Any] = {"_id": key, "organisation_id": organisation_id, "change": change}
        if envelope is not None:
            document["envelope"] = envelope
        if isinstance(origin, Envelope):
            document["origin"] = origin.to_json_bytes().decode()
        elif origin is not None:
            document["due_at"] = origin.due_at.isoformat()
        try:
            await self._log.insert_one(document)
        except DuplicateKeyError:
            holder = await self._log.find_one({"_id": key})
            return holder is not None and holder.get("change") == change
        return True

    async def turn_at(self, organisation_id: str, person_id: str, number: int) -> HeldTurn | None:
        logged = await self._log.find_one({"_id": _change_key(organisation_id, person_id, number)})
        if logged is None:
            return None
        origin: Origin | None = None
        if "origin" in logged:
            origin = Envelope.from_json_bytes(str(logged["origin"]).encode())
        elif "due_at" in logged:
            origin = DueEntry(datetime.fromisoformat(str(logged["due_at"])), organisation_id, person_id)
        fact = Envelope.from_json_bytes(str(logged["envelope"]).encode()) if "envelope" in logged else None
        return HeldTurn(str(logged["change"]), fact, origin, passed=bool(logged.get("passed", False)))

    async def pass_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        await self._log.update_one({"_id": _change_key(organisation_id, person_id, number)}, {"$set": {"passed": True}})

    async def settle_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        await self._log.update_one({"_id": _change_key(organisation_id, person_id, number)}, {"$unset": {"origin": ""}})

    async def forget_origins_naming(self, organisation_id: str, person_id: str) -> int:
        forgotten = 0
        # A scan of the log (an erasure is rare, and its proof reads every collection anyway); few documents match:
        # only steps whose writer died before storing them keep a message.
        async for logged in self._log.find({"organisation_id": organisation_id, "origin": {"$exists": True}}):
            if person_id in str(logged["origin"]):
                await self._log.update_one({"_id": logged["_id"]}, {"$unset": {"origin": ""}})
                forgotten += 1
        return forgotten

    async def facts(self, organisation_id: str, person_id: str, through: int) -> list[Envelope]:
        return [fact for _, fact in await self.numbered_facts(organisation_id, person_id, 1, through)]

    async def numbered_facts(
        self, organisation_id: str, person_id: str, first: int, last: int
    ) -> list[tuple[int, Envelope]]:
        keys = {_change_key(organisation_id, person_id, number): number for number in range(max(first, 1), last + 1)}
        found = await found_by_id(self._log, list(keys))
        return [
            (number, Envelope.from_json_bytes(str(document["envelope"]).encode()))
            for key, number in keys.items()
            if (document := found.get(key)) is not None and "envelope" in document
        ]

    async def save(self, profile: StoredProfile) -> None:
        document = self._stored(profile)
        await self._profiles.replace_one({"_id": document.pop("_id")}, document, upsert=True)

    async def save_all(self, profiles: Sequence[StoredProfile], *, new_persons: Collection[str] = ()) -> frozenset[str]:
        first = [profile for profile in profiles if profile.person_id in new_persons]
        stored_before: list[int] = []
        if first:
            try:
                # An insert costs the store a fraction of a replace: no document to read back first.
                await self._profiles.insert_many([self._stored(profile) for profile in first], ordered=False)
            except BulkWriteError as exc:
                stored_before = duplicate_indexes(exc)
        await replace_all(
            self._profiles,
            [self._stored(profile) for profile in profiles if profile.person_id not in new_persons],
        )
        return frozenset(first[index].person_id for index in stored_before)

    async def claim_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> frozenset[str]:
        if not claims:
            return frozenset()
        documents = [
            {"_id": _key(organisation_id, dedupe_key), "organisation_id": organisation_id, "event_id": event_id}
            for dedupe_key, event_id in claims
        ]
        taken: list[int] = []
        try:
            await self._fired.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            taken = duplicate_indexes(exc)
        # A key stored already is this fact's only if this very fact stored it (a redelivery).
        holders = await found_by_id(self._fired, [documents[index]["_id"] for index in taken])
        refused = {
            claims[index][0]
            for index in taken
            if (holder := holders.get(documents[index]["_id"])) is None or holder.get("event_id") != claims[index][1]
        }
        return frozenset(dedupe_key for dedupe_key, _ in claims if dedupe_key not in refused)

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        key = _key(organisation_id, dedupe_key)
        try:
            await self._fired.insert_one({"_id": key, "organisation_id": organisation_id, "event_id": event_id})
        except DuplicateKeyError:
            fired = await self._fired.find_one({"_id": key})
            return fired is not None and fired.get("event_id") == event_id
        return True

    async def release_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> None:
        for dedupe_key, event_id in claims:
            key = _key(organisation_id, dedupe_key)
            # Read, then deleted by `_id` alone: a filter on the event id too would make FerretDB read the whole
            # collection. Nobody else can claim the key while this claim holds it.
            claim = await self._fired.find_one({"_id": key})
            if claim is not None and claim.get("event_id") == event_id:
                await self._fired.delete_one({"_id": key})

    async def mark_erased(self, organisation_id: str, person_id: str) -> None:
        await self._erasures.mark(organisation_id, person_id)

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return await self._erasures.is_erased(organisation_id, person_id)

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        return await self._erasures.among(organisation_id, person_ids)

    async def purge(
        self,
        organisation_id: str,
        person_id: str,
        *,
        changes: Iterable[str] = (),
        triggers: Iterable[str] = (),
    ) -> int:
        document = await self._profiles.find_one({"_id": _key(organisation_id, person_id)})
        applied = 0 if document is None else int(document.get("applied", 0))
        fired = set(triggers) | set(() if document is None else document.get("fired", ()))
        for dedupe_key in sorted(fired):
            await self._fired.delete_one({"_id": _key(organisation_id, dedupe_key)})
        # A key claimed by a writer that died before storing the profile is listed nowhere: found by the person it
        # names (`rule:person:period`). No index serves this: erasures are rare, and a scan of the organisation's
        # claims is their price.
        named = f"^{re.escape(_key(organisation_id, ''))}[^:]+:{re.escape(person_id)}:"
        await self._fired.delete_many({"organisation_id": organisation_id, "_id": {"$regex": named}})
        noted = 0
        for change in changes:
            noted += await self._forget_fact(organisation_id, person_id, change)
        # Past `applied`, a writer may hold the next numbers without having stored its change: read on to a gap.
        number = 1
        while True:
            key = _change_key(organisation_id, person_id, number)
            logged = await self._log.find_one({"_id": key})
            if logged is None and number > applied:
                return noted
            if logged is not None:
                if "envelope" in logged:
                    noted += await self._forget_fact(organisation_id, person_id, str(logged["change"]))
                await self._log.delete_one({"_id": key})
            number += 1

    async def _forget_fact(self, organisation_id: str, person_id: str, event_id: str) -> int:
        event_key = _key(organisation_id, event_id)
        logged = await self._log.find_one({"_id": event_key})
        if logged is None or logged.get("person_id") != person_id:
            return 0
        noted = await self.record_filtered(organisation_id, event_id, "erased")
        await self._log.delete_one({"_id": event_key})
        return int(noted)

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        try:
            await self._filtered.insert_one(
                {
                    "_id": _filtered_key(organisation_id, event_id),
                    "organisation_id": organisation_id,
                    "reason": reason,
                    "at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def delete_profile(self, organisation_id: str, person_id: str) -> None:
        await self._profiles.delete_one({"_id": _key(organisation_id, person_id)})
        # An erased person's details are not kept in memory either.
        self._states.forget((organisation_id, person_id))

    async def schedule(self, entry: DueEntry) -> str:
        [handle] = await self.schedule_all([entry])
        return handle

    async def schedule_all(self, entries: Sequence[DueEntry]) -> list[str]:
        if not entries:
            return []
        slots = [slot_of(entry.visit_at) for entry in entries]
        handles = await self._file_due(entries, slots)
        while (position := await self.sweep_position()) is not None:
            behind = [index for index, slot in enumerate(slots) if slot < position]
            if not behind:
                break
            # Filed where the sweep has been already: filed again where it reads next, due moment unchanged; then
            # the position is read again, since the sweep may have passed that slot too while it was filed.
            again = await self._file_due([entries[index] for index in behind], [position] * len(behind))
            for index, handle in zip(behind, again, strict=True):
                handles[index], slots[index] = handle, position
        return handles

    async def _file_due(self, entries: Sequence[DueEntry], slots: Sequence[datetime]) -> list[str]:
        # One part per slot for all these entries: a batch filing hundreds costs a measure and an append per slot.
        part, self._next_part = self._next_part, (self._next_part + 1) % PARTS
        by_name: dict[str, list[int]] = {}
        for index, slot in enumerate(slots):
            by_name.setdefault(_due_name(slot, part), []).append(index)
        names = list(by_name)
        lengths = dict(
            zip(
                names,
                await _each(
                    [self._due.length(name, at_least=self._due_lengths.get(name, 0)) for name in names],
                    READS_AT_ONCE,
                ),
                strict=True,
            )
        )
        # Each day lists its new parts in one append, before their first entries are filed: a crash between the two
        # can only list an empty part (which a sweep skips), never leave entries no sweep finds. Two writers may
        # both list a part.
        new_parts: dict[str, list[str]] = {}
        for name in names:
            if lengths[name] == 0:
                new_parts.setdefault(_day_name(slots[by_name[name][0]]), []).append(name)
        await _each(
            [self._due.extend(day, [{"part": name} for name in parts]) for day, parts in new_parts.items()],
            READS_AT_ONCE,
        )
        handles = [""] * len(entries)
        keys = await self._due.extend_all(
            {name: [_due_entry(entries[index]) for index in indexes] for name, indexes in by_name.items()}, lengths
        )
        for name, indexes in by_name.items():
            if len(self._due_lengths) >= LOOKUP_LENGTHS_KEPT:
                self._due_lengths.clear()
            # A hint only: the sweep deletes a day's parts once it has left the day, and a length is measured anew.
            self._due_lengths[name] = max(_entry_number(key) for key in keys[name])
            for index, key in zip(indexes, keys[name], strict=True):
                handles[index] = key
        return handles

    async def unschedule(self, handle: str) -> None:
        # Replaced, not deleted: the slot's numbers must run without gaps.
        await self._due.replace(handle, {})

    async def unschedule_all(self, handles: Iterable[str]) -> None:
        await self._due.replace_all({handle: {} for handle in handles})

    async def unschedule_person(self, organisation_id: str, person_id: str) -> int:
        # A scan, as for the origins: an erasure is rare, and its proof reads every collection anyway.
        handles = [
            str(filed["_id"])
            async for filed in self._due_documents.find({"o": organisation_id, "p": person_id}, {"_id": 1})
        ]
        await self.unschedule_all(handles)
        return len(handles)

    async def sweep_position(self) -> datetime | None:
        document = await self._sweep.find_one({"_id": SWEEP_POSITION})
        return None if document is None else document["slot"]

    async def sweep_left(self) -> tuple[datetime, datetime] | None:
        document = await self._sweep.find_one({"_id": SWEEP_POSITION})
        if document is None:
            return None
        # A position stored before moves were noted came one slot at a time.
        return document["slot"], document.get("from", document["slot"] - SLOT)

    async def start_sweep(self, at: datetime) -> datetime:
        with contextlib.suppress(DuplicateKeyError):
            await self._sweep.insert_one({"_id": SWEEP_POSITION, "slot": at})
        position = await self.sweep_position()
        assert position is not None, "the position was just set"
        return position

    async def slots_filed(self, start: datetime, end: datetime) -> list[datetime]:
        # The day lists every part filed in it (`_file_due`), before the part's first entry.
        if start >= end:
            return []
        slots: set[datetime] = set()
        day = slot_of(start).replace(hour=0, minute=0)
        while day < end:
            for _, item in await self._due.items(_day_name(day)):
                slot = datetime.fromisoformat(str(item["part"]).rsplit("|", 1)[0])
                if start <= slot < end:
                    slots.add(slot)
            day += timedelta(days=1)
        return sorted(slots)

    async def filed_in(self, slot: datetime) -> list[FiledDue]:
        in_slot = {_due_name(slot, part) for part in range(PARTS)}
        parts = sorted({str(item["part"]) for _, item in await self._due.items(_day_name(slot))} & in_slot)
        filed = []
        for name in parts:
            noted = self._let_go.get(name, 0)
            length = await self._due.length(name, at_least=noted)
            # Entries this process let go, or read emptied, are not read again (an emptied entry is never filled
            # again). A part shorter than that was cleared with its day since, and is read whole.
            let_go = noted if length >= noted else 0
            live = [(key, item) for key, item in await self._due.items(name, length, after=let_go) if "p" in item]
            if not live:
                # Read past from now on: the sweep reads the slot behind its position at every run.
                self._note_let_go(name, length)
                continue
            entries = tuple(_read_due_entry(item) for _, item in live)
            filed.append(FiledDue(key=name, entries=entries, version=length, handles=tuple(key for key, _ in live)))
        return filed

    async def drop_filed(self, filed: FiledDue) -> bool:
        if await self._due.length(filed.key, at_least=filed.version) != filed.version:
            return False
        # Emptied, not deleted: a writer that measured the part before may be filing past its end right now, and
        # an entry after a gap would be found by nobody. The day's parts go once the sweep has left the day.
        await self._due.replace_all({handle: {} for handle in filed.handles})
        self._note_let_go(filed.key, filed.version)
        return await self._due.length(filed.key, at_least=filed.version) == filed.version

    def _note_let_go(self, name: str, length: int) -> None:
        if len(self._let_go) >= LOOKUP_LENGTHS_KEPT:
            self._let_go.clear()
        self._let_go[name] = length

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        # Two sweepers moving from one slot write the same value, so losing either write loses nothing. FerretDB
        # applies a conditional update as a read then a write: a sweeper's late write can put the position back to
        # a slot passed (by more than one when another sweeper runs fast), which a sweep then reads again (a visit
        # changes a profile once). Back past midnight, into a day cleared below, a writer files there with no copy
        # ahead, in a list started anew; a process that noted the length of such a part before it was cleared,
        # and finds it as long again, reads past those entries. Rare: it takes a late write spanning two slots.
        # Where the move started is written with the position, in one update: a late write puts back both.
        moved = await self._sweep.update_one(
            {"_id": SWEEP_POSITION, "slot": slot}, {"$set": {"slot": to, "from": slot}}
        )
        # Not moved: the day goes only if the position has left it (another sweeper moved on and may have died
        # before letting it go), never while the position still lies in it.
        if slot.date() != (slot - SLOT).date() and (moved.matched_count or await self._position_reached(slot)):
            # The day before is swept, its last slot read once more after the position left it (`sweep_due`): an
            # entry filed in it now is filed again ahead (`schedule_all`), so its parts and their list can go.
            day = _day_name(slot - SLOT)
            day_length = await self._due.length(day)
            for part in dict.fromkeys(str(item["part"]) for _, item in await self._due.items(day, day_length)):
                # A writer filing here now files the same entry ahead too: what it leaves behind is a copy.
                known = max(self._let_go.pop(part, 0), self._due_lengths.pop(part, 0))
                await self._due.clear(part, await self._due.length(part, at_least=known))
            await self._due.clear(day, day_length)
        return moved.matched_count == 1

    async def _position_reached(self, slot: datetime) -> bool:
        position = await self.sweep_position()
        return position is not None and position >= slot

    async def index_lookups(self, organisation_id: str, person_id: str, keys: Iterable[str]) -> int:
        return await self.index_all_lookups(organisation_id, {person_id: keys})

    async def index_all_lookups(
        self, organisation_id: str, keys: Mapping[str, Iterable[str]], *, new_persons: Collection[str] = ()
    ) -> int:
        """Files each person under their keys, those of a batch together: the marks of persons filed before are
        read, and the lists whose marks miss one are measured and their first entries read, all at once; then every
        list's entries go in one insert and their marks in another.

        A new person, never filed under any key, is in no list yet: nothing is read for them, and their entries
        are numbered from the length last seen of each list (a list only grows, so a length seen is never past its
        end)."""
        wanted = [
            (_lookup_name(organisation_id, key), person_id)
            for person_id, person_keys in keys.items()
            for key in sorted(set(person_keys))
        ]
        known = [(name, person_id) for name, person_id in wanted if person_id not in new_persons]
        async with self._filing:
            marked = await _each([self._marked(name, person_id) for name, person_id in known], READS_AT_ONCE)
            unmarked: dict[str, list[str]] = {}
            for (name, person_id), filed in zip(known, marked, strict=True):
                if not filed:
                    unmarked.setdefault(name, []).append(person_id)
            to_file, ends = await self._missing_from(unmarked)
            for name, person_id in wanted:
                if person_id in new_persons:
                    to_file.setdefault(name, []).append(person_id)
            return await self._append(to_file, ends)

    async def _missing_from(self, unmarked: Mapping[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, int]]:
        """Of the persons each list has no mark for, those it does not hold, and the lengths measured. The first
        entries carry no mark, and entries filed before marks were kept (an email's, a phone's) are there too: they
        are read, so that no one is filed twice."""
        names = list(unmarked)
        lengths = await _each([self._lookup_length(name) for name in names], READS_AT_ONCE)
        heads = await _each(
            [
                self._lookups.items(name, min(length, SHORT_LOOKUP_LIST))
                for name, length in zip(names, lengths, strict=True)
            ],
            READS_AT_ONCE,
        )
        missing: dict[str, list[str]] = {}
        for name, head in zip(names, heads, strict=True):
            present = {item.get("person") for _, item in head}
            if absent := [person_id for person_id in unmarked[name] if person_id not in present]:
                missing[name] = absent
        return missing, dict(zip(names, lengths, strict=True))

    async def _append(self, persons_by_name: Mapping[str, list[str]], ends: Mapping[str, int]) -> int:
        """Appends the persons to their lists, all lists' entries in one insert (`NumberedList.extend_all`), each
        list's numbered on from its length in `ends` or else the one last seen of it: another instance appending to
        the lists a name's sound shares costs a few more commands. Marks those past each list's first entries;
        returns how many it appended."""
        keys = await self._lookups.extend_all(
            {name: [{"person": person_id} for person_id in persons] for name, persons in persons_by_name.items()},
            {name: ends.get(name, self._lookup_lengths.get(name, 0)) for name in persons_by_name},
        )
        for name, entries in keys.items():
            if entries:
                self._remember_length(name, max(_entry_number(entry) for entry in entries))
        # Marked once filed: a crash in between leaves the person unmarked and filed again next time (twice in the
        # list, which look-ups and erasures allow for), never marked and missing.
        await self._mark_all(
            [
                (_lookup_mark(name, person_id), entry)
                for name, persons in persons_by_name.items()
                for person_id, entry in zip(persons, keys[name], strict=True)
            ]
        )
        return sum(len(entries) for entries in keys.values())

    async def _mark_all(self, marks: Sequence[tuple[str, str]]) -> None:
        """Marks each (mark, entry) past its list's first entries: new ones in one insert; one left by an earlier
        filing (a withdrawal cut short leaves its mark naming a tombstone) is replaced."""
        documents = [{"_id": mark, "item": entry} for mark, entry in marks if _entry_number(entry) > SHORT_LOOKUP_LIST]
        if not documents:
            return
        taken: list[int] = []
        try:
            await self._lookup_docs.insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            taken = duplicate_indexes(exc)
        await _each(
            [
                self._lookup_docs.replace_one({"_id": documents[index]["_id"]}, documents[index], upsert=True)
                for index in taken
            ],
            READS_AT_ONCE,
        )

    async def _marked(self, name: str, person_id: str) -> bool:
        """Whether the person's mark names an entry of theirs; one naming a tombstone was left by a withdrawal cut
        short."""
        marked = await self._lookups.reads.find_one(_lookup_mark(name, person_id))
        if marked is None:
            return False
        entry = await self._lookups.reads.find_one(marked["item"])
        return entry is not None and entry.get("person") == person_id

    async def unindex_lookups(
        self, organisation_id: str, person_id: str, keys: Iterable[str], *, thorough: bool = False
    ) -> None:
        if thorough:
            # An erasure: whatever a crash or an earlier version left, no entry may name the person, under `keys` or
            # under a key the profile no longer holds (a change cut short before it withdrew those). A scan, as for
            # the origins: an erasure is rare, and its proof reads every collection anyway.
            prefix = _key(organisation_id, "")
            async for entry in self._lookup_docs.find({"person": person_id}, {"_id": 1}):
                if str(entry["_id"]).startswith(prefix):
                    await self._lookups.replace(str(entry["_id"]), {"person": None})
        names = [_lookup_name(organisation_id, key) for key in sorted(set(keys))]
        await _each([self._withdraw(name, person_id, thorough=thorough) for name in names], READS_AT_ONCE)

    async def _withdraw(self, name: str, person_id: str, *, thorough: bool) -> None:
        mark = _lookup_mark(name, person_id)
        marked = await self._lookups.reads.find_one(mark)
        if thorough:
            # The scan above withdrew the entries; only the marks are left to go.
            entries = []
        elif marked is not None:
            entries = [(str(marked["item"]), {"person": person_id})]
        else:
            entries = await self._lookups.items(name, min(await self._lookup_length(name), SHORT_LOOKUP_LIST))
        for entry, item in entries:
            if item.get("person") == person_id:
                await self._lookups.replace(entry, {"person": None})
        if marked is not None:
            # The mark goes last: a withdrawal cut short before leaves it naming a tombstone, which filing sees.
            await self._lookup_docs.delete_one({"_id": mark})

    async def found_by(self, organisation_id: str, key: str) -> list[str]:
        items = await self._lookups.items(_lookup_name(organisation_id, key))
        return sorted({str(item["person"]) for _, item in items if item.get("person")})

    async def _lookup_length(self, name: str) -> int:
        length = await self._lookups.length(name, at_least=self._lookup_lengths.get(name, 0))
        self._remember_length(name, length)
        return length

    def _remember_length(self, name: str, length: int) -> None:
        """Keeps the longest length seen of the list (it only grows): a length remembered is never past its end."""
        if len(self._lookup_lengths) >= LOOKUP_LENGTHS_KEPT:
            self._lookup_lengths.clear()
        self._lookup_lengths[name] = max(self._lookup_lengths.get(name, 0), length)

    async def found_by_up_to(self, organisation_id: str, key: str, limit: int) -> tuple[list[str], bool]:
        name = _lookup_name(organisation_id, key)
        length = await self._lookup_length(name)
        items = await self._lookups.items(name, min(length, limit))
        persons = dict.fromkeys(str(item["person"]) for _, item in items if item.get("person"))
        return list(persons), length > limit

    async def lookup_lengths(self, organisation_id: str, keys: Sequence[str]) -> dict[str, int]:
        lengths = await _each([self._lookup_length(_lookup_name(organisation_id, key)) for key in keys], READS_AT_ONCE)
        return dict(zip(keys, lengths, strict=True))

    async def every_profile(self, organisation_id: str | None) -> AsyncIterator[StoredProfile]:
        query = {} if organisation_id is None else {"organisation_id": organisation_id}
        async for document in self._profiles.find(query):
            try:
                profile = _profile_from(document["organisation_id"], document["person_id"], document)
            except DocumentError as exc:
                # One damaged document does not hold back the walk over every other (a recomputation, a reindex).
                log.warning("passed over: %s", exc)
                continue
            yield profile

    async def count_profiles(self, organisation_id: str | None) -> int:
        query = {} if organisation_id is None else {"organisation_id": organisation_id}
        return await self._profiles.count_documents(query)

    async def segment_sizes(self, organisation_id: str) -> Mapping[str, int]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"organisation_id": organisation_id}},
            {"$unwind": "$segments"},
            # One accumulator per `$group`: FerretDB 1.x computes only the first.
            {"$group": {"_id": "$segments", "members": {"$sum": 1}}},
        ]
        return {str(row["_id"]): int(row["members"]) async for row in await self._profiles.aggregate(pipeline)}

    async def segment_members(
        self, organisation_id: str, segment: str, *, after: str | None, limit: int
    ) -> list[StoredProfile]:
        query: dict[str, Any] = {"organisation_id": organisation_id, "segments": segment}
        if after is not None:
            query["person_id"] = {"$gt": after}
        cursor = self._profiles.find(query).sort("person_id", ASCENDING).limit(limit)
        return [_profile_from(organisation_id, document["person_id"], document) async for document in cursor]

    async def profile_states(
        self, organisation_id: str, *, fields: Collection[str], page_size: int
    ) -> AsyncIterator[list[ProfileState]]:
        projection = {"merged_by": 1, "state": 1}
        wanted = {"format", *fields}
        # One cursor, read a batch at a time: FerretDB 1.x answers a query not by `_id` by scanning the collection,
        # so pages by person id (as `segment_members` reads) would scan it once per page.
        cursor = self._profiles.find({"organisation_id": organisation_id}, projection, batch_size=page_size)
        try:
            page: list[ProfileState] = []
            async for document in cursor:
                if document.get("merged_by") is not None:
                    continue
                try:
                    state = _state_from(document["state"])
                    page.append(ProfileState.from_document({key: state[key] for key in wanted if key in state}))
                except (ValueError, KeyError, TypeError) as exc:
                    # An overview counts every other profile rather than none.
                    log.warning("passed over the stored profile %s: %s", document.get("_id"), exc)
                    continue
                if len(page) == page_size:
                    yield page
                    page = []
            if page:
                yield page
        finally:
            await cursor.close()

    async def organisations(self) -> list[str]:
        # `$group` on one field: FerretDB 1.x drops all but the last field of a compound group key.
        pipeline: list[dict[str, Any]] = [{"$group": {"_id": "$organisation_id", "profiles": {"$sum": 1}}}]
        return sorted([str(row["_id"]) async for row in await self._profiles.aggregate(pipeline) if row["_id"]])

    async def record_segment_sizes(
        self, organisation_id: str, day: date, sizes: Mapping[str, int], *, recorded_at: datetime
    ) -> None:
        await self._segment_sizes.replace_one(
            {"_id": _sizes_key(organisation_id, day)},
            {
                "organisation_id": organisation_id,
                "day": day.isoformat(),
                "sizes": dict(sorted(sizes.items())),
                "recorded_at": recorded_at,
            },
            upsert=True,
        )

    async def recorded_segment_sizes(self, organisation_id: str, days: Iterable[date]) -> dict[date, Mapping[str, int]]:
        keys = {_sizes_key(organisation_id, day): day for day in sorted(set(days))}
        found = await found_by_id(self._segment_sizes, list(keys))
        return {
            day: {str(segment): int(members) for segment, members in document["sizes"].items()}
            for key, day in keys.items()
            if (document := found.get(key)) is not None
        }

    async def segment_sizes_recorded_day(self) -> date | None:
        document = await self._sweep.find_one({"_id": SEGMENT_SIZES_RECORDED})
        return None if document is None else date.fromisoformat(document["day"])

    async def mark_segment_sizes_recorded(self, day: date) -> None:
        await self._sweep.replace_one({"_id": SEGMENT_SIZES_RECORDED}, {"day": day.isoformat()}, upsert=True)

    async def log_privacy(self, entry: PrivacyEntry) -> None:
        await self._privacy.log(
            entry.organisation_id,
            entry.person_digest,
            entry.action,
            at=entry.at,
            requested_by=entry.requested_by,
            details=entry.details,
        )

    async def privacy_entries(self, organisation_id: str, person_digest: str) -> list[PrivacyEntry]:
        return [
            PrivacyEntry(
                organisation_id=organisation_id,
                action=document["action"],
                person_digest=person_digest,
                at=document["at"],
                requested_by=document["requested_by"],
                details=document.get("details", {}),
            )
            for document in await self._privacy.entries(organisation_id, person_digest)
        ]

    async def profiles_naming(self, organisation_id: str, person_id: str) -> list[str]:
        needle = person_id.lower()
        return [
            str(document["person_id"])
            async for document in self._profiles.find({"organisation_id": organisation_id})
            if document.get("person_id") != person_id and any(needle in text for text in _texts(document))
        ]

    async def search(self, organisation_id: str, needles: Iterable[str]) -> dict[str, int]:
        wanted = [needle.lower() for needle in needles if needle]
        found: dict[str, int] = {}
        for collection in self._collections:
            found[collection.name] = 0
            async for document in collection.find({}):
                # Only the organisation's own documents count: another's must not be probed through this one.
                if _belongs_to(document, organisation_id) and any(
                    needle in text for text in _texts(document) for needle in wanted
                ):
                    found[collection.name] += 1
        return found


async def _each(calls: Sequence[Awaitable[T]], at_once: int) -> list[T]:
    """The results of `calls`, at most `at_once` running at a time, in order."""
    gate = asyncio.Semaphore(at_once)

    async def gated(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    return list(await asyncio.gather(*(gated(call) for call in calls)))


async def _found_by_id(
    collection: AsyncCollection[Document],
    organisation_id: str,
    names: Iterable[str],
    projection: Mapping[str, int] | None = None,
) -> dict[str, Document]:
    """The documents stored under the organisation's `names`, by name."""
    keys = {_key(organisation_id, name): name for name in names}
    found = await found_by_id(collection, list(keys), projection)
    return {keys[key]: document for key, document in found.items()}


def _belongs_to(document: Mapping[str, Any], organisation_id: str) -> bool:
    """Whether a stored document is the organisation's: by its field, a due entry's `o`, or its id's prefix."""
    return (
        document.get("organisation_id") == organisation_id
        or document.get("o") == organisation_id
        or str(document.get("_id", "")).startswith(f"{organisation_id}|")
    )


def _texts(value: Any) -> Iterator[str]:
    """Every text in a stored value, lower-cased; kept announcements (JSON bytes) and compressed states are read as
    text too."""
    if isinstance(value, str):
        yield value.lower()
    elif isinstance(value, Binary) and value.subtype == COMPRESSED_JSON:
        try:
            yield zlib.decompress(value).decode("utf-8", errors="replace").lower()
        except zlib.error:
            # Damaged: its bytes as they are, as any other binary is read (the proof still reads the rest).
            yield value.decode("utf-8", errors="replace").lower()
    elif isinstance(value, bytes):
        yield value.decode("utf-8", errors="replace").lower()
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key).lower()
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def _day_name(slot: datetime) -> str:
    return f"day|{slot.date().isoformat()}"


def _due_name(slot: datetime, part: int) -> str:
    return f"{slot.isoformat()}|{part:02d}"


def _sizes_key(organisation_id: str, day: date) -> str:
    return _key(organisation_id, day.isoformat())


def _lookup_name(organisation_id: str, key: str) -> str:
    # A digest of the email, phone or upstream id: the document outlives nobody's details once tombstoned.
    return _key(organisation_id, hashlib.sha256(key.encode()).hexdigest()[:40])


def _entry_number(entry: str) -> int:
    return int(entry.rsplit("#", 1)[1])


def _list_of(entry: str) -> str:
    return entry.rsplit("#", 1)[0]


def _lookup_mark(name: str, person_id: str) -> str:
    # A digest of the person too: a mark names no one, whatever a crash leaves behind.
    return f"{name}@{hashlib.sha256(f'{name}|{person_id}'.encode()).hexdigest()[:40]}"


def _due_entry(entry: DueEntry) -> dict[str, Any]:
    # Short names: a season's end files every profile in one slot.
    document: dict[str, Any] = {"o": entry.organisation_id, "p": entry.person_id, "d": entry.due_at}
    # Only after a failed visit: an entry filed before failures were counted holds neither, and is a first try.
    if entry.failed_visits:
        document["f"] = entry.failed_visits
    if entry.retry_at is not None:
        document["r"] = entry.retry_at
    return document


def _read_due_entry(item: Mapping[str, Any]) -> DueEntry:
    return DueEntry(
        due_at=item["d"],
        organisation_id=item["o"],
        person_id=item["p"],
        failed_visits=int(item.get("f", 0)),
        retry_at=item.get("r"),
    )


# Fields a profile's document (in the compressed form) leaves out while they are empty (None, no item), which
# `_read_profile` reads back as empty: FerretDB 1.x stores each field's name and type beside its value and parses the
# whole document at each write, and most patrons were never merged, moved or swept (rewriting 5,000 profiles of a
# flood cost the store 0.29 ms of CPU each with their 16 empty fields, 0.22 ms without). `filed_at` is written with
# a `due_handle`: a document holding the handle alone was stored before `filed_at` was kept, and is read as filed
# for `due_at`.
_LEFT_OUT_WHEN_EMPTY = frozenset(
    {
        "due_at",
        "due_handle",
        "last_change",
        "last_outputs",
        "swept",
        "swept_outputs",
        "moved",
        "moved_outputs",
        "landed_facts",
        "merged_into",
        "merged_by",
        "merged_at",
        "active_at",
        "merges",
        "undone",
        "fired",
        "held_sent",
        "folded_through",
        "household_id",
        "household_at",
    }
)


def _document_of(profile: StoredProfile, *, compressed: bool = True, state: Binary | None = None) -> dict[str, Any]:
    """The profile's document, `_id` included; `state`, its state compressed already, if known."""
    stored: Binary | str
    if compressed:
        stored = state if state is not None else _state_stored(profile.state)
    else:
        stored = _state_json(profile.state).decode()
    document = _every_field_of(profile, compressed, stored)
    if not compressed:
        # Every field, as the releases that read this form wrote them.
        return document
    if profile.filed_at is None and profile.due_handle is None:
        del document["filed_at"]
    return {
        name: value
        for name, value in document.items()
        if name not in _LEFT_OUT_WHEN_EMPTY or not (value is None or (type(value) is list and not value))
    }


def _every_field_of(profile: StoredProfile, compressed: bool, stored: Binary | str) -> dict[str, Any]:
    return {
        "_id": _key(profile.organisation_id, profile.person_id),
        "organisation_id": profile.organisation_id,
        "person_id": profile.person_id,
        "state": stored,
        "version": profile.version,
        "applied": profile.applied,
        "segments": sorted(profile.segments),
        "due_at": profile.due_at,
        "due_handle": profile.due_handle,
        "filed_at": profile.filed_at,
        "last_change": profile.last_change,
        "last_outputs": _outputs_stored(profile.last_outputs) if compressed else list(profile.last_outputs),
        "swept": profile.swept,
        "swept_outputs": list(profile.swept_outputs),
        "moved": profile.moved,
        "moved_outputs": list(profile.moved_outputs),
        "landed_facts": [
            {"person_id": landed.person_id, "change": landed.change, "outputs": list(landed.outputs)}
            for landed in profile.landed
        ],
        "merged_into": profile.merged_into,
        "merged_by": profile.merged_by,
        "merged_at": profile.merged_at,
        "active_at": profile.active_at,
        # Lists, not maps keyed by merge id: stored keys may not contain dots.
        "merges": [
            {
                "merge_id": merge.merge_id,
                "person_ids": list(merge.person_ids),
                "outputs": list(merge.outputs),
                "brought": list(merge.brought),
                "claimed": list(merge.claimed),
                **_household_move_fields(merge.household_move),
            }
            for merge in profile.merges
        ],
        "undone": [{"merge_id": merge.merge_id, "outputs": list(merge.outputs)} for merge in profile.undone],
        "fired": sorted(profile.fired),
        "held_sent": sorted(profile.held_sent),
        # Documents, not pairs: FerretDB 1.x stores no array inside an array.
        "folded_through": [{"person_id": person_id, "number": number} for person_id, number in profile.folded_through],
        "household_id": profile.household_id,
        "household_at": profile.household_at,
    }


def _household_move_fields(move: HouseholdMove | None) -> dict[str, Any]:
    # Fields of the merge's own document, not one nested further: FerretDB 1.x converts every nested value on each
    # read and write.
    return {
        "household_moved_to": None if move is None else move.household_id,
        "household_moved_at": None if move is None else move.household_at,
        "household_before": None if move is None else move.before_id,
        "household_before_at": None if move is None else move.before_at,
    }


def _household_move_from(merge: Mapping[str, Any]) -> HouseholdMove | None:
    # Stored before moves were kept, or moving the survivor nowhere: its unmerge leaves the household as it finds it.
    if merge.get("household_moved_to") is None or merge.get("household_moved_at") is None:
        return None
    return HouseholdMove(
        household_id=merge["household_moved_to"],
        household_at=merge["household_moved_at"],
        before_id=merge.get("household_before"),
        before_at=merge.get("household_before_at"),
    )


def _state_stored(state: ProfileState) -> Binary:
    # Its JSON compressed, as FerretDB 1.x reads and writes the whole document for each find and update: a patron's
    # state of 5.3 KB is 0.9 KB so, for 17 µs of compression here and 10 µs to read it back.
    return Binary(zlib.compress(_state_json(state), 1), COMPRESSED_JSON)


def _state_json(state: ProfileState) -> bytes:
    # One value rather than nested fields: FerretDB 1.x converts every nested value on each read and write (reading
    # and replacing 400 demo profiles ran at 1,074 a second so, against 430 nested), and no query looks inside.
    # pydantic's encoder writes what `json.dumps(..., ensure_ascii=False, separators=(",", ":"))` does, in UTF-8, in
    # a third of the time (30 µs against 83 for a 6.5 KB state), and reads it back in 38 µs against 67.
    return pydantic_core.to_json(state.to_document())


def _state_from(stored: Any) -> Mapping[str, Any]:
    if isinstance(stored, Binary) and stored.subtype == COMPRESSED_JSON:
        try:
            return cast(Mapping[str, Any], pydantic_core.from_json(zlib.decompress(stored)))
        except zlib.error as exc:
            raise DocumentError(f"a compressed profile state that does not decompress: {exc}") from None
    # As JSON text, and before that as fields, by earlier versions (and as text still, with compression off).
    if isinstance(stored, str):
        return cast(Mapping[str, Any], pydantic_core.from_json(stored))
    if isinstance(stored, Mapping):
        return stored
    raise DocumentError(f"a profile state stored as {type(stored).__name__}, which no version writes")


def _profile_from(
    organisation_id: str, person_id: str, document: Mapping[str, Any], state: ProfileState | None = None
) -> StoredProfile:
    """The stored profile (with `state`, its state decoded already, if known); raises `DocumentError` naming the
    person when the document does not describe one."""
    try:
        return _read_profile(organisation_id, person_id, document, state)
    except (ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"the stored profile of {person_id} ({organisation_id}) cannot be read: {exc}") from exc


def _read_profile(
    organisation_id: str, person_id: str, document: Mapping[str, Any], state: ProfileState | None
) -> StoredProfile:
    return StoredProfile(
        organisation_id=organisation_id,
        person_id=person_id,
        state=state if state is not None else ProfileState.from_document(_state_from(document["state"])),
        version=document["version"],
        applied=document["applied"],
        segments=frozenset(document.get("segments", ())),
        due_at=document.get("due_at"),
        due_handle=document.get("due_handle"),
        # Stored before entries were kept for a due moment put off: filed for its due moment.
        filed_at=document.get("filed_at", document.get("due_at") if document.get("due_handle") else None),
        last_change=document.get("last_change"),
        last_outputs=_outputs(document.get("last_outputs", ())),
        swept=document.get("swept"),
        swept_outputs=_outputs(document.get("swept_outputs", ())),
        moved=document.get("moved"),
        moved_outputs=_outputs(document.get("moved_outputs", ())),
        landed=_landed_from(document),
        merged_into=document.get("merged_into"),
        merged_by=document.get("merged_by"),
        merged_at=document.get("merged_at"),
        active_at=document.get("active_at"),
        household_id=document.get("household_id"),
        household_at=document.get("household_at"),
        merges=tuple(
            MergeInForce(
                merge_id=merge["merge_id"],
                person_ids=tuple(merge["person_ids"]),
                outputs=_outputs(merge.get("outputs", ())),
                # Stored before they were kept: the merge is not checked again for those erased meanwhile.
                brought=tuple(merge.get("brought", ())),
                claimed=tuple(merge.get("claimed", ())),
                household_move=_household_move_from(merge),
            )
            for merge in document.get("merges", ())
        ),
        undone=tuple(
            UndoneMerge(merge_id=merge["merge_id"], outputs=_outputs(merge.get("outputs", ())))
            for merge in document.get("undone", ())
        ),
        fired=frozenset(document.get("fired", ())),
        # Stored before it was kept: filled at the profile's next merge, unmerge or recomputation.
        held_sent=frozenset(document.get("held_sent", ())),
        # Stored before it was kept: the next late fact folds every history again, which fills it.
        folded_through=tuple(
            (str(folded["person_id"]), int(folded["number"])) for folded in document.get("folded_through", ())
        ),
    )


def _landed_from(document: Mapping[str, Any]) -> tuple[LandedFact, ...]:
    if "landed_facts" in document:
        return tuple(
            LandedFact(person_id=landed["person_id"], change=landed["change"], outputs=_outputs(landed["outputs"]))
            for landed in document["landed_facts"]
        )
    # Stored when one slot kept the last late fact of whoever it was: still published again for its redelivery.
    if document.get("landed") is None:
        return ()
    return (
        LandedFact(person_id=None, change=document["landed"], outputs=_outputs(document.get("landed_outputs", ()))),
    )


def _outputs_stored(outputs: Sequence[bytes]) -> list[bytes] | Binary:
    # The announcements of a profile's last change, kept for a redelivery to publish again: about a kilobyte of JSON a
    # patron, compressed as the state is. One event's JSON holds no line break, which parts them.
    return Binary(zlib.compress(b"\n".join(outputs), 1), COMPRESSED_JSON) if outputs else []


def _outputs(raw: Any) -> tuple[bytes, ...]:
    if isinstance(raw, Binary) and raw.subtype == COMPRESSED_JSON:
        try:
            return tuple(zlib.decompress(raw).split(b"\n"))
        except zlib.error as exc:
            raise DocumentError(f"compressed announcements that do not decompress: {exc}") from None
    return tuple(bytes(item) for item in raw)
