"""The ingest service's collections: upstream sources with their credentials, and event ids already published."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from services.ingest.domain.sources import Source, SourceKind, hash_source_key, rotated
from shared.mongo import Document, IndexSpec

SOURCES = "ingest_sources"
EVENT_CLAIMS = "ingest_event_claims"
PUBLISHED_EVENTS = "ingest_published_events"
DUPLICATE_KEY = 11000
INDEXES = (IndexSpec(SOURCES, [("organisation_id", ASCENDING), ("_id", ASCENDING)]),)


class MongoPublicationLedger:
    """Claims and confirmations of event ids, keyed by organisation so one's ids never hide another's.

    Built from inserts and `_id` look-ups only: on FerretDB's SQLite backend those stay fast as the
    collections grow, while `$in` queries and updates scan the whole collection. The hot path (new events)
    is two `insert_many`; only duplicates cost a query.
    """

    def __init__(
        self,
        claims: AsyncCollection[Document],
        published: AsyncCollection[Document],
        *,
        abandoned_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._claims = claims
        self._published = published
        self._abandoned_after = abandoned_after

    async def claim(self, organisation_id: str, event_ids: Sequence[str]) -> set[str]:
        keys = {_key(organisation_id, event_id): event_id for event_id in event_ids}
        refused = await _insert_new(
            self._claims, [{"_id": key, "organisation_id": organisation_id, "claimed_at": _now()} for key in keys]
        )
        claimed = {event_id for key, event_id in keys.items() if key not in refused}
        if refused:
            published = {
                document["_id"]
                async for document in self._published.find({"_id": {"$in": sorted(refused)}}, {"_id": 1})
            }
            unconfirmed = refused - published
            if unconfirmed:
                claimed |= {keys[key] for key in await self._take_over_abandoned(unconfirmed)}
        return claimed

    async def confirm(self, organisation_id: str, event_ids: Sequence[str]) -> None:
        await _insert_new(
            self._published,
            [
                {"_id": _key(organisation_id, event_id), "organisation_id": organisation_id, "published_at": _now()}
                for event_id in event_ids
            ],
        )

    async def release(self, organisation_id: str, event_ids: Sequence[str]) -> None:
        await self._claims.delete_many({"_id": {"$in": [_key(organisation_id, event_id) for event_id in event_ids]}})

    async def _take_over_abandoned(self, keys: set[str]) -> set[str]:
        # An unconfirmed claim is either in flight in another request (leave it) or was left by a publisher
        # that died before Kafka acknowledged (publish it again). Age tells them apart; the conditional
        # update lets only one taker win.
        taken: set[str] = set()
        cutoff = _now() - self._abandoned_after
        async for claim in self._claims.find({"_id": {"$in": sorted(keys)}, "claimed_at": {"$lt": cutoff}}):
            result = await self._claims.update_one(
                {"_id": claim["_id"], "claimed_at": claim["claimed_at"]}, {"$set": {"claimed_at": _now()}}
            )
            if result.modified_count == 1:
                taken.add(claim["_id"])
        return taken


def _key(organisation_id: str, event_id: str) -> str:
    return f"{organisation_id}/{event_id}"


def _now() -> datetime:
    return datetime.now(UTC)


async def _insert_new(collection: AsyncCollection[Document], documents: list[Document]) -> set[str]:
    """Insert what is new; return the ids that existed already."""
    if not documents:
        return set()
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        return {documents[error["index"]]["_id"] for error in errors}
    return set()


class MongoSourceRegistry:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def find(self, source_id: str) -> Source | None:
        document = await self._collection.find_one({"_id": source_id})
        return None if document is None else _source(document)

    async def create(self, source: Source) -> None:
        await self._collection.insert_one(
            {
                "_id": source.source_id,
                "organisation_id": source.organisation_id,
                "kind": source.kind.value,
                "key_hashes": list(source.key_hashes),
                "signing_secrets": list(source.signing_secrets),
                "created_at": datetime.now(UTC),
            }
        )

    async def add_key(self, source_id: str, key: str) -> Source | None:
        return await self._rotate(source_id, "key_hashes", hash_source_key(key))

    async def add_signing_secret(self, source_id: str, secret: str) -> Source | None:
        return await self._rotate(source_id, "signing_secrets", secret)

    async def set_column_mapping(self, source_id: str, mapping_yaml: str | None) -> Source | None:
        """Stores (or with None, removes) a box office's column mapping, already validated by the caller."""
        result = await self._collection.update_one({"_id": source_id}, {"$set": {"column_mapping": mapping_yaml}})
        return None if result.matched_count == 0 else await self.find(source_id)

    async def list(self, organisation_id: str | None = None) -> list[Source]:
        query: dict[str, Any] = {} if organisation_id is None else {"organisation_id": organisation_id}
        return [_source(document) async for document in self._collection.find(query, sort=[("_id", ASCENDING)])]

    async def _rotate(self, source_id: str, field: str, value: str) -> Source | None:
        # A read then a version-free write: rotation is an operator's rare, manual act, and the last writer
        # winning leaves a valid state (at most two values, the newest first).
        current = await self._collection.find_one({"_id": source_id})
        if current is None:
            return None
        await self._collection.update_one(
            {"_id": source_id}, {"$set": {field: list(rotated(tuple(current.get(field, [])), value))}}
        )
        return await self.find(source_id)


def _source(document: Document) -> Source:
    return Source(
        source_id=document["_id"],
        organisation_id=document["organisation_id"],
        kind=SourceKind(document["kind"]),
        key_hashes=tuple(document.get("key_hashes", [])),
        signing_secrets=tuple(document.get("signing_secrets", [])),
        column_mapping=document.get("column_mapping"),
    )
