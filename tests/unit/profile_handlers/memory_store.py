"""A profile store in memory with the Mongo store's behaviour, for fast handler tests.

`tests/integration/profile/test_store_contract.py` runs the same scenarios on the real store, so this stays honest.
"""

import asyncio
import hashlib
import zlib
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from datetime import date, datetime

from services.profile.domain.profile import ProfileState
from services.profile.domain.schedule import PARTS, SLOT, DueEntry, slot_of
from services.profile.ports import FactToLog, FiledDue, HeldTurn, Origin, PrivacyEntry, StoredProfile
from shared.events import Envelope


class MemoryProfileStore:
    def __init__(self) -> None:
        self.profiles: dict[tuple[str, str], StoredProfile] = {}
        # (organisation, person, number) -> (change, upstream envelope as JSON text for a fact)
        self.changes: dict[tuple[str, str, int], tuple[str, str | None]] = {}
        # (organisation, person, number) -> what the writer of a step not stored yet was doing
        self.origins: dict[tuple[str, str, int], Origin] = {}
        self.passed: set[tuple[str, str, int]] = set()
        # (organisation, event id) -> (person, number)
        self.logged_facts: dict[tuple[str, str], tuple[str, int]] = {}
        self.fired: dict[tuple[str, str], str] = {}
        self.erased: set[tuple[str, str]] = set()
        # (slot, part) -> every entry filed there, in order; None where one was unfiled
        self.due: dict[tuple[datetime, int], list[DueEntry | None]] = {}
        self.position: datetime | None = None
        self.moved_from: datetime | None = None
        # (organisation, digest of the key) -> the persons filed under it, first filed first
        self.lookups: dict[tuple[str, str], dict[str, None]] = {}
        self.privacy: list[PrivacyEntry] = []
        self.segment_sizes_by_day: dict[tuple[str, date], dict[str, int]] = {}
        self.segment_sizes_day: date | None = None
        # (organisation, digest of the event id) -> why the fact is folded into no profile
        self.filtered: dict[tuple[str, str], str] = {}

    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None:
        await asyncio.sleep(0)
        return self.profiles.get((organisation_id, person_id))

    async def applied(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, int]:
        await asyncio.sleep(0)
        stored = {person_id: self.profiles.get((organisation_id, person_id)) for person_id in person_ids}
        return {person_id: 0 if profile is None else profile.applied for person_id, profile in stored.items()}

    async def profiles_of(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, StoredProfile]:
        await asyncio.sleep(0)
        found = (self.profiles.get((organisation_id, person_id)) for person_id in set(person_ids))
        return {profile.person_id: profile for profile in found if profile is not None}

    async def log_facts(self, organisation_id: str, facts: Sequence[FactToLog]) -> frozenset[str]:
        await asyncio.sleep(0)
        incomplete: set[str] = set()
        for fact in facts:
            if fact.person_id in incomplete:
                continue
            envelope = fact.envelope.to_json_bytes().decode()
            if not self._take(organisation_id, fact.person_id, fact.number, fact.event_id, envelope, fresh=True):
                incomplete.add(fact.person_id)
        for fact in facts:
            if fact.person_id not in incomplete:
                logged = self.logged_facts.setdefault((organisation_id, fact.event_id), (fact.person_id, fact.number))
                if logged != (fact.person_id, fact.number):
                    incomplete.add(fact.person_id)
        return frozenset(incomplete)

    async def logged(self, organisation_id: str, event_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        await asyncio.sleep(0)
        found = ((event_id, self.logged_facts.get((organisation_id, event_id))) for event_id in set(event_ids))
        return {event_id: logged for event_id, logged in found if logged is not None}

    async def log_fact(
        self, organisation_id: str, event_id: str, person_id: str, number: int, envelope: Envelope
    ) -> int | None:
        await asyncio.sleep(0)
        logged = self.logged_facts.get((organisation_id, event_id))
        if logged is None:
            if not self._take(organisation_id, person_id, number, event_id, envelope.to_json_bytes().decode()):
                return None
            logged = self.logged_facts.setdefault((organisation_id, event_id), (person_id, number))
        return logged[1] if logged[0] == person_id else 0

    async def take_turn(
        self, organisation_id: str, person_id: str, number: int, change: str, origin: Origin | None = None
    ) -> bool:
        await asyncio.sleep(0)
        key = (organisation_id, person_id, number)
        fresh = key not in self.changes
        taken = self._take(organisation_id, person_id, number, change, None)
        if fresh and origin is not None:
            self.origins[key] = origin
        return taken

    def _take(
        self,
        organisation_id: str,
        person_id: str,
        number: int,
        change: str,
        envelope: str | None,
        *,
        fresh: bool = False,
    ) -> bool:
        key = (organisation_id, person_id, number)
        if fresh and key in self.changes:
            # Like an insert: a number held already is refused, whoever holds it.
            return False
        holder = self.changes.setdefault(key, (change, envelope))
        return holder[0] == change

    async def turn_at(self, organisation_id: str, person_id: str, number: int) -> HeldTurn | None:
        await asyncio.sleep(0)
        key = (organisation_id, person_id, number)
        entry = self.changes.get(key)
        if entry is None:
            return None
        fact = Envelope.from_json_bytes(entry[1].encode()) if entry[1] else None
        return HeldTurn(entry[0], fact, self.origins.get(key), passed=key in self.passed)

    async def pass_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        await asyncio.sleep(0)
        self.passed.add((organisation_id, person_id, number))

    async def settle_turn(self, organisation_id: str, person_id: str, number: int) -> None:
        await asyncio.sleep(0)
        key = (organisation_id, person_id, number)
        # Like the real store: a sweep's due entry stays (it names the person only, in their own log).
        if isinstance(self.origins.get(key), Envelope):
            del self.origins[key]

    async def forget_origins_naming(self, organisation_id: str, person_id: str) -> int:
        await asyncio.sleep(0)
        naming = [
            key
            for key, origin in self.origins.items()
            if key[0] == organisation_id
            and isinstance(origin, Envelope)
            and person_id in origin.to_json_bytes().decode()
        ]
        for key in naming:
            del self.origins[key]
        return len(naming)

    async def facts(self, organisation_id: str, person_id: str, through: int) -> list[Envelope]:
        await asyncio.sleep(0)
        logged = (self.changes.get((organisation_id, person_id, number)) for number in range(1, through + 1))
        return [Envelope.from_json_bytes(entry[1].encode()) for entry in logged if entry is not None and entry[1]]

    async def numbered_facts(
        self, organisation_id: str, person_id: str, first: int, last: int
    ) -> list[tuple[int, Envelope]]:
        await asyncio.sleep(0)
        found = []
        for number in range(max(first, 1), last + 1):
            entry = self.changes.get((organisation_id, person_id, number))
            if entry is not None and entry[1]:
                found.append((number, Envelope.from_json_bytes(entry[1].encode())))
        return found

    async def save(self, profile: StoredProfile) -> None:
        await asyncio.sleep(0)
        self.profiles[(profile.organisation_id, profile.person_id)] = profile

    async def save_all(self, profiles: Sequence[StoredProfile], *, new_persons: Collection[str] = ()) -> frozenset[str]:
        stored_before = {
            profile.person_id
            for profile in profiles
            if profile.person_id in new_persons and (profile.organisation_id, profile.person_id) in self.profiles
        }
        for profile in profiles:
            if profile.person_id not in stored_before:
                await self.save(profile)
        return frozenset(stored_before)

    async def claim_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> frozenset[str]:
        await asyncio.sleep(0)
        return frozenset(
            dedupe_key
            for dedupe_key, event_id in claims
            if self.fired.setdefault((organisation_id, dedupe_key), event_id) == event_id
        )

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        await asyncio.sleep(0)
        return self.fired.setdefault((organisation_id, dedupe_key), event_id) == event_id

    async def release_triggers(self, organisation_id: str, claims: Sequence[tuple[str, str]]) -> None:
        await asyncio.sleep(0)
        for dedupe_key, event_id in claims:
            if self.fired.get((organisation_id, dedupe_key)) == event_id:
                del self.fired[(organisation_id, dedupe_key)]

    async def mark_erased(self, organisation_id: str, person_id: str) -> None:
        await asyncio.sleep(0)
        self.erased.add(_digest(organisation_id, person_id))

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        await asyncio.sleep(0)
        return _digest(organisation_id, person_id) in self.erased

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        await asyncio.sleep(0)
        return frozenset(person_id for person_id in person_ids if _digest(organisation_id, person_id) in self.erased)

    async def purge(
        self,
        organisation_id: str,
        person_id: str,
        *,
        changes: Iterable[str] = (),
        triggers: Iterable[str] = (),
    ) -> int:
        await asyncio.sleep(0)
        profile = self.profiles.get((organisation_id, person_id))
        for dedupe_key in {*triggers, *(() if profile is None else profile.fired)}:
            self.fired.pop((organisation_id, dedupe_key), None)
        # Keys claimed by a writer that died before storing the profile: found by the person they name.
        for claim in [
            claim for claim in self.fired if claim[0] == organisation_id and claim[1].split(":")[1:2] == [person_id]
        ]:
            self.fired.pop(claim)
        noted = 0
        for key in [key for key in self.changes if key[:2] == (organisation_id, person_id)]:
            change, envelope = self.changes.pop(key)
            self.origins.pop(key, None)
            if envelope is not None:
                noted += self._forget_fact(organisation_id, person_id, change)
        for change in changes:
            noted += self._forget_fact(organisation_id, person_id, change)
        return noted

    def _forget_fact(self, organisation_id: str, person_id: str, event_id: str) -> int:
        logged = self.logged_facts.get((organisation_id, event_id))
        if logged is None or logged[0] != person_id:
            return 0
        noted = _digest(organisation_id, event_id) not in self.filtered
        self.filtered.setdefault(_digest(organisation_id, event_id), "erased")
        del self.logged_facts[(organisation_id, event_id)]
        return int(noted)

    async def record_filtered(self, organisation_id: str, event_id: str, reason: str) -> bool:
        await asyncio.sleep(0)
        if _digest(organisation_id, event_id) in self.filtered:
            return False
        self.filtered[_digest(organisation_id, event_id)] = reason
        return True

    async def delete_profile(self, organisation_id: str, person_id: str) -> None:
        await asyncio.sleep(0)
        self.profiles.pop((organisation_id, person_id), None)

    async def schedule(self, entry: DueEntry) -> str:
        slot = slot_of(entry.visit_at)
        handle = await self.file_at(entry, slot)
        await asyncio.sleep(0)
        while self.position is not None and slot < self.position:
            # Filed again where the sweep reads next, then the position read again, as the real store does.
            slot = self.position
            handle = await self.file_at(entry, slot)
            await asyncio.sleep(0)
        return handle

    async def file_at(self, entry: DueEntry, slot: datetime) -> str:
        """Files the entry in `slot`, wherever the sweep is: one step of `schedule`, for a test lining writers up."""
        await asyncio.sleep(0)
        key = (slot, _part_of(entry))
        filed = self.due.setdefault(key, [])
        filed.append(entry)
        return f"{_name(key)}#{len(filed)}"

    async def schedule_all(self, entries: Sequence[DueEntry]) -> list[str]:
        return [await self.schedule(entry) for entry in entries]

    async def unschedule_all(self, handles: Iterable[str]) -> None:
        for handle in handles:
            await self.unschedule(handle)

    async def unschedule_person(self, organisation_id: str, person_id: str) -> int:
        await asyncio.sleep(0)
        unfiled = 0
        for filed in self.due.values():
            for index, entry in enumerate(filed):
                if entry is not None and (entry.organisation_id, entry.person_id) == (organisation_id, person_id):
                    filed[index] = None
                    unfiled += 1
        return unfiled

    async def unschedule(self, handle: str) -> None:
        await asyncio.sleep(0)
        name, number = handle.rsplit("#", 1)
        slot, part = name.rsplit("|", 1)
        filed = self.due.get((datetime.fromisoformat(slot), int(part)))
        if filed is not None and int(number) <= len(filed):
            filed[int(number) - 1] = None

    async def sweep_position(self) -> datetime | None:
        await asyncio.sleep(0)
        return self.position

    async def sweep_left(self) -> tuple[datetime, datetime] | None:
        await asyncio.sleep(0)
        if self.position is None:
            return None
        return self.position, self.position - SLOT if self.moved_from is None else self.moved_from

    async def start_sweep(self, at: datetime) -> datetime:
        await asyncio.sleep(0)
        if self.position is None:
            self.position = at
        return self.position

    async def slots_filed(self, start: datetime, end: datetime) -> list[datetime]:
        await asyncio.sleep(0)
        return sorted({slot for slot, _ in self.due if start <= slot < end})

    async def filed_in(self, slot: datetime) -> list[FiledDue]:
        await asyncio.sleep(0)
        # As the real store does: a part whose entries were all let go stays, empty, until its day goes.
        return [
            FiledDue(_name(key), entries, len(filed))
            for key, filed in sorted(self.due.items())
            if key[0] == slot and (entries := tuple(entry for entry in filed if entry is not None))
        ]

    async def drop_filed(self, filed: FiledDue) -> bool:
        await asyncio.sleep(0)
        slot, part = filed.key.rsplit("|", 1)
        key = (datetime.fromisoformat(slot), int(part))
        entries = self.due.get(key, [])
        if len(entries) != filed.version:
            return False
        # Emptied, not removed, as the real store does: a writer filing next appends after the entries let go, so
        # a sweep holding an older read of the part never finds it as long as it read it.
        entries[:] = [None] * len(entries)
        return True

    async def advance_sweep(self, slot: datetime, to: datetime) -> bool:
        await asyncio.sleep(0)
        moved = self.position == slot
        if moved:
            self.position, self.moved_from = to, slot
        # As the real store does: the day before goes once the position has left it.
        if slot.date() != (slot - SLOT).date() and self.position is not None and self.position >= slot:
            for key in [key for key in self.due if key[0].date() == (slot - SLOT).date()]:
                del self.due[key]
        return moved

    async def index_lookups(self, organisation_id: str, person_id: str, keys: Iterable[str]) -> int:
        await asyncio.sleep(0)
        filed = 0
        for key in set(keys):
            persons = self.lookups.setdefault((organisation_id, _key_digest(key)), {})
            filed += person_id not in persons
            persons[person_id] = None
        return filed

    async def index_all_lookups(
        self, organisation_id: str, keys: Mapping[str, Iterable[str]], *, new_persons: Collection[str] = ()
    ) -> int:
        # The real store reads no list for them, and files them twice if they were filed: by a writer of another
        # process that found their first number held and finished that change itself. Look-ups check the profile.
        filed = 0
        for person_id, person_keys in keys.items():
            filed += await self.index_lookups(organisation_id, person_id, person_keys)
        return filed

    async def unindex_lookups(
        self, organisation_id: str, person_id: str, keys: Iterable[str], *, thorough: bool = False
    ) -> None:
        await asyncio.sleep(0)
        digests = {_key_digest(key) for key in keys}
        if thorough:
            # As the real store: an erasure withdraws the person from every key, those of `keys` or not.
            digests |= {digest for organisation, digest in self.lookups if organisation == organisation_id}
        for digest in digests:
            persons = self.lookups.get((organisation_id, digest), {})
            persons.pop(person_id, None)
            if not persons:
                self.lookups.pop((organisation_id, digest), None)

    async def found_by(self, organisation_id: str, key: str) -> list[str]:
        await asyncio.sleep(0)
        return sorted(self.lookups.get((organisation_id, _key_digest(key)), ()))

    async def found_by_up_to(self, organisation_id: str, key: str, limit: int) -> tuple[list[str], bool]:
        await asyncio.sleep(0)
        persons = list(self.lookups.get((organisation_id, _key_digest(key)), ()))
        return persons[:limit], len(persons) > limit

    async def lookup_lengths(self, organisation_id: str, keys: Sequence[str]) -> dict[str, int]:
        await asyncio.sleep(0)
        return {key: len(self.lookups.get((organisation_id, _key_digest(key)), ())) for key in keys}

    async def every_profile(self, organisation_id: str | None) -> AsyncIterator[StoredProfile]:
        for (organisation, _), profile in list(self.profiles.items()):
            if organisation_id is None or organisation == organisation_id:
                await asyncio.sleep(0)
                yield profile

    async def count_profiles(self, organisation_id: str | None) -> int:
        await asyncio.sleep(0)
        return sum(organisation_id is None or organisation == organisation_id for organisation, _ in self.profiles)

    async def segment_sizes(self, organisation_id: str) -> Mapping[str, int]:
        await asyncio.sleep(0)
        sizes: dict[str, int] = {}
        for (organisation, _), profile in self.profiles.items():
            for segment in profile.segments if organisation == organisation_id else ():
                sizes[segment] = sizes.get(segment, 0) + 1
        return sizes

    async def segment_members(
        self, organisation_id: str, segment: str, *, after: str | None, limit: int
    ) -> list[StoredProfile]:
        await asyncio.sleep(0)
        members = sorted(
            (profile for (organisation, _), profile in self.profiles.items() if organisation == organisation_id),
            key=lambda profile: profile.person_id,
        )
        return [
            profile
            for profile in members
            if segment in profile.segments and (after is None or profile.person_id > after)
        ][:limit]

    async def profile_states(
        self, organisation_id: str, *, fields: Collection[str], page_size: int
    ) -> AsyncIterator[list[ProfileState]]:
        held = [
            profile.state
            for (organisation, _), profile in sorted(self.profiles.items())
            if organisation == organisation_id and not profile.is_merged
        ]
        for start in range(0, len(held), page_size):
            await asyncio.sleep(0)
            # Only the fields asked for, as the real store reads them: a fold reading another would see defaults.
            yield [
                ProfileState(
                    **{
                        field.name: getattr(state, field.name)
                        for field in dataclass_fields(state)
                        if field.name in fields
                    }
                )
                for state in held[start : start + page_size]
            ]

    async def organisations(self) -> list[str]:
        await asyncio.sleep(0)
        return sorted({organisation for organisation, _ in self.profiles})

    async def record_segment_sizes(
        self, organisation_id: str, day: date, sizes: Mapping[str, int], *, recorded_at: datetime
    ) -> None:
        await asyncio.sleep(0)
        self.segment_sizes_by_day[organisation_id, day] = dict(sizes)

    async def recorded_segment_sizes(self, organisation_id: str, days: Iterable[date]) -> dict[date, Mapping[str, int]]:
        await asyncio.sleep(0)
        return {
            day: dict(sizes)
            for day in set(days)
            if (sizes := self.segment_sizes_by_day.get((organisation_id, day))) is not None
        }

    async def segment_sizes_recorded_day(self) -> date | None:
        await asyncio.sleep(0)
        return self.segment_sizes_day

    async def mark_segment_sizes_recorded(self, day: date) -> None:
        await asyncio.sleep(0)
        self.segment_sizes_day = day

    async def log_privacy(self, entry: PrivacyEntry) -> None:
        await asyncio.sleep(0)
        self.privacy.append(entry)

    async def privacy_entries(self, organisation_id: str, person_digest: str) -> list[PrivacyEntry]:
        await asyncio.sleep(0)
        return [
            entry
            for entry in self.privacy
            if (entry.organisation_id, entry.person_digest) == (organisation_id, person_digest)
        ]

    async def profiles_naming(self, organisation_id: str, person_id: str) -> list[str]:
        await asyncio.sleep(0)
        return [
            profile.person_id
            for (organisation, holder), profile in self.profiles.items()
            if organisation == organisation_id and holder != person_id and person_id in repr(profile)
        ]

    async def search(self, organisation_id: str, needles: Iterable[str]) -> dict[str, int]:
        await asyncio.sleep(0)
        wanted = [needle.lower() for needle in needles if needle]
        return {"memory": sum(1 for line in self.documents() if any(needle in line.lower() for needle in wanted))}

    def documents(self) -> list[str]:
        """Everything stored, one line per document, as a test reads it for a person's id."""
        return sorted(
            [repr(profile) for profile in self.profiles.values()]
            + [repr(item) for item in self.changes.items()]
            + [repr(item) for item in self.origins.items()]
            + [repr(item) for item in self.logged_facts.items()]
            + [repr(item) for item in self.fired.items()]
            + [repr(item) for item in self.erased]
            + [repr(item) for item in self.due.items()]
            + [repr(item) for item in self.lookups.items()]
            + [repr(item) for item in self.privacy]
            + [repr(item) for item in self.segment_sizes_by_day.items()]
            + [repr(item) for item in self.filtered.items()]
        )


def _digest(organisation_id: str, person_id: str) -> tuple[str, str]:
    return organisation_id, hashlib.sha256(f"{organisation_id}|{person_id}".encode()).hexdigest()


def _name(key: tuple[datetime, int]) -> str:
    return f"{key[0].isoformat()}|{key[1]:02d}"


def _key_digest(key: str) -> str:
    # Like the real store: a look-up key (an email, a phone, a name's sound) is kept only as a digest.
    return hashlib.sha256(key.encode()).hexdigest()


def _part_of(entry: DueEntry) -> int:
    # Spread over the parts by person, so that sweeps meet slots of several parts.
    return zlib.crc32(f"{entry.organisation_id}|{entry.person_id}".encode()) % PARTS
