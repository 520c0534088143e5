"""A profile store in memory with the Mongo store's behaviour, for fast handler tests.

`tests/integration/profile/test_store_contract.py` runs the same scenarios on the real store, so this stays honest.
"""

import asyncio
import hashlib
from collections.abc import Iterable

from services.profile.ports import StoredProfile
from shared.events import Envelope


class MemoryProfileStore:
    def __init__(self) -> None:
        self.profiles: dict[tuple[str, str], StoredProfile] = {}
        # (organisation, person, number) -> (change, upstream envelope as JSON text for a fact)
        self.changes: dict[tuple[str, str, int], tuple[str, str | None]] = {}
        # (organisation, event id) -> (person, number)
        self.logged_facts: dict[tuple[str, str], tuple[str, int]] = {}
        self.fired: dict[tuple[str, str], str] = {}
        self.erased: set[tuple[str, str]] = set()

    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None:
        await asyncio.sleep(0)
        return self.profiles.get((organisation_id, person_id))

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

    async def take_turn(self, organisation_id: str, person_id: str, number: int, change: str) -> bool:
        await asyncio.sleep(0)
        return self._take(organisation_id, person_id, number, change, None)

    def _take(self, organisation_id: str, person_id: str, number: int, change: str, envelope: str | None) -> bool:
        holder = self.changes.setdefault((organisation_id, person_id, number), (change, envelope))
        return holder[0] == change

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

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        await asyncio.sleep(0)
        return self.fired.setdefault((organisation_id, dedupe_key), event_id) == event_id

    async def mark_erased(self, organisation_id: str, person_id: str) -> None:
        await asyncio.sleep(0)
        self.erased.add(_digest(organisation_id, person_id))

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        await asyncio.sleep(0)
        return _digest(organisation_id, person_id) in self.erased

    async def purge(
        self,
        organisation_id: str,
        person_id: str,
        *,
        changes: Iterable[str] = (),
        triggers: Iterable[str] = (),
    ) -> None:
        await asyncio.sleep(0)
        profile = self.profiles.get((organisation_id, person_id))
        for dedupe_key in {*triggers, *(() if profile is None else profile.fired)}:
            self.fired.pop((organisation_id, dedupe_key), None)
        for key in [key for key in self.changes if key[:2] == (organisation_id, person_id)]:
            change, envelope = self.changes.pop(key)
            if envelope is not None:
                self._forget_fact(organisation_id, person_id, change)
        for change in changes:
            self._forget_fact(organisation_id, person_id, change)

    def _forget_fact(self, organisation_id: str, person_id: str, event_id: str) -> None:
        logged = self.logged_facts.get((organisation_id, event_id))
        if logged is not None and logged[0] == person_id:
            del self.logged_facts[(organisation_id, event_id)]

    async def delete_profile(self, organisation_id: str, person_id: str) -> None:
        await asyncio.sleep(0)
        self.profiles.pop((organisation_id, person_id), None)

    def documents(self) -> list[str]:
        """Everything stored, one line per document, as a test reads it for a person's id."""
        return sorted(
            [repr(profile) for profile in self.profiles.values()]
            + [repr(item) for item in self.changes.items()]
            + [repr(item) for item in self.logged_facts.items()]
            + [repr(item) for item in self.fired.items()]
            + [repr(item) for item in self.erased]
        )


def _digest(organisation_id: str, person_id: str) -> tuple[str, str]:
    return organisation_id, hashlib.sha256(f"{organisation_id}|{person_id}".encode()).hexdigest()
