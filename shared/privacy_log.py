"""A service's log of the exports and erasures of what it holds about persons: Québec's Law 25 asks that they be
accounted for.

Each entry names the person by `person_digest` only, so the log outlives the person's erasure."""

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared.mongo import Document, IndexSpec
from shared.privacy import person_digest

EXPORTED = "exported"
# A segment's members taken away together (a spreadsheet of who they are and how to reach them): an export of many
# persons, logged under the segment's name (`segment_log_key`) rather than anyone's digest.
SEGMENT_EXPORTED = "segment_exported"


def segment_log_key(segment: str) -> str:
    """Where a segment's exports are logged, in place of a person's digest (which is hex, with no colon)."""
    return f"segment:{segment}"


def privacy_log_index(collection: str) -> IndexSpec:
    """The index a person's entries are read by, oldest first."""
    return IndexSpec(collection, [("organisation_id", ASCENDING), ("person_digest", ASCENDING), ("at", ASCENDING)])


class PrivacyLog:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def log(
        self,
        organisation_id: str,
        person_digest: str,
        action: str,
        *,
        at: datetime,
        requested_by: str,
        details: Mapping[str, Any],
    ) -> None:
        await self._collection.insert_one(
            {
                "_id": str(uuid.uuid4()),
                "organisation_id": organisation_id,
                "action": action,
                "person_digest": person_digest,
                "at": at,
                "requested_by": requested_by,
                "details": dict(details),
            }
        )

    async def entries(self, organisation_id: str, person_digest: str) -> list[dict[str, Any]]:
        """The person's entries, oldest first: `action`, `at`, `requested_by` and `details` each."""
        return await self._collection.find(
            {"organisation_id": organisation_id, "person_digest": person_digest}, {"_id": 0}, sort=[("at", ASCENDING)]
        ).to_list()

    async def log_export(
        self, organisation_id: str, person_id: str, *, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        """An export of what the service holds about `person_id`, logged under their digest."""
        await self.log(
            organisation_id,
            person_digest(organisation_id, person_id),
            EXPORTED,
            at=at,
            requested_by=requested_by,
            details=details,
        )

    async def log_segment_export(
        self, organisation_id: str, segment: str, *, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        await self.log(
            organisation_id,
            segment_log_key(segment),
            SEGMENT_EXPORTED,
            at=at,
            requested_by=requested_by,
            details=details,
        )

    async def entries_of(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        """`entries` of the person `person_id` names."""
        return await self.entries(organisation_id, person_digest(organisation_id, person_id))
