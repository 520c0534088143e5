"""Profiles in MongoDB (or FerretDB): one document per person, changed by conditional single-document updates."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.profile.domain.profile import ProfileState
from services.profile.ports import StoredProfile
from shared.mongo import Document, IndexSpec

PROFILES = "profile_profiles"
FACT_LOG = "profile_fact_log"
FIRED_TRIGGERS = "profile_fired_triggers"
INDEXES: tuple[IndexSpec, ...] = ()


def _key(organisation_id: str, local: str) -> str:
    return f"{organisation_id}|{local}"


class MongoProfileStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._profiles = database[PROFILES]
        self._log = database[FACT_LOG]
        self._fired = database[FIRED_TRIGGERS]

    async def profile(self, organisation_id: str, person_id: str) -> StoredProfile | None:
        document = await self._profiles.find_one({"_id": _key(organisation_id, person_id)})
        if document is None:
            return None
        return StoredProfile(
            organisation_id=organisation_id,
            person_id=person_id,
            state=ProfileState.from_document(document["state"]),
            version=document["version"],
            applied=document["applied"],
            segments=frozenset(document.get("segments", ())),
            due_at=document.get("due_at"),
            last_event_id=document.get("last_event_id"),
            last_outputs=tuple(bytes(raw) for raw in document.get("last_outputs", ())),
        )

    async def log_fact(self, organisation_id: str, event_id: str, person_id: str, number: int) -> int | None:
        try:
            await self._log.insert_one(
                {
                    "_id": _key(organisation_id, event_id),
                    "organisation_id": organisation_id,
                    "person_id": person_id,
                    "number": number,
                }
            )
        except DuplicateKeyError:
            logged = await self._log.find_one({"_id": _key(organisation_id, event_id)})
            assert logged is not None, "a duplicate key means the fact is logged"
            number = int(logged["number"])
        # A conditional update would guard the profile too, but FerretDB 1.x only looks `_id` up by index when
        # it is the whole filter: a unique (person, number) document fences writers instead, at insert speed.
        fence = _key(organisation_id, f"{person_id}#{number}")
        try:
            await self._log.insert_one({"_id": fence, "organisation_id": organisation_id, "event_id": event_id})
        except DuplicateKeyError:
            holder = await self._log.find_one({"_id": fence})
            if holder is None or holder.get("event_id") != event_id:
                return None
        return number

    async def save(self, profile: StoredProfile) -> None:
        document: dict[str, Any] = {
            "organisation_id": profile.organisation_id,
            "person_id": profile.person_id,
            "state": profile.state.to_document(),
            "version": profile.version,
            "applied": profile.applied,
            "segments": sorted(profile.segments),
            "due_at": profile.due_at,
            "last_event_id": profile.last_event_id,
            "last_outputs": list(profile.last_outputs),
        }
        await self._profiles.replace_one(
            {"_id": _key(profile.organisation_id, profile.person_id)}, document, upsert=True
        )

    async def claim_trigger(self, organisation_id: str, dedupe_key: str, event_id: str) -> bool:
        key = _key(organisation_id, dedupe_key)
        try:
            await self._fired.insert_one({"_id": key, "organisation_id": organisation_id, "event_id": event_id})
        except DuplicateKeyError:
            fired = await self._fired.find_one({"_id": key})
            return fired is not None and fired.get("event_id") == event_id
        return True
