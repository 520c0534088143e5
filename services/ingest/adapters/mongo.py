"""The ingest service's collections: upstream sources with their credentials, and event ids already published."""

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from services.ingest.domain.sources import Source, SourceKind, hash_source_key, rotated
from services.ingest.ports import NOBODY, Claim, Nobody
from shared.events import Envelope, PersonRef
from shared.mongo import Document, IndexSpec, delete_all, found_by_id, insert_new

SOURCES = "ingest_sources"
EVENT_CLAIMS = "ingest_event_claims"
PUBLISHED_EVENTS = "ingest_published_events"
ORDER_BUYERS = "ingest_order_buyers"
log = logging.getLogger(__name__)

INDEXES = (IndexSpec(SOURCES, [("organisation_id", ASCENDING), ("_id", ASCENDING)]),)


class MongoPublicationLedger:
    """Claims of event ids, each claim naming its batch, and one confirmation per batch Kafka acknowledged.

    Keyed by organisation so one's ids never hide another's. The hot path (new events) is one `insert_many`
    of the claims and one `insert_one` of the batch's confirmation: FerretDB's SQLite backend writes about
    11,000 small documents a second, one at a time, so each write saved per event is throughput. Only
    duplicates cost queries: their claims' batches are read, then each batch's confirmation by `_id`.

    Batch ids start with their claim time, which tells an abandoned claim from one in flight. Claims from
    before batches (with `claimed_at`, confirmed one by one) are still honoured.
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
        # Confirmations waiting in the background for the store: referenced so they are not collected mid-way.
        self._confirming: set[asyncio.Task[bool]] = set()

    async def claim(
        self, organisation_id: str, event_ids: Sequence[str], *, sources: Mapping[str, str] | None = None
    ) -> Claim:
        batch = _new_batch()
        keys = {_key(organisation_id, event_id): event_id for event_id in event_ids}
        # Each claim names its event's source, so that another source's event under the same id is told apart.
        source_of = {key: source for key, event_id in keys.items() if (source := (sources or {}).get(event_id))}
        claims = [{"_id": key, "batch": batch, **_named(source_of.get(key))} for key in keys]
        inserted = await insert_new(self._claims, claims)
        refused = {key for key, new in zip(keys, inserted, strict=True) if not new}
        claimed = {event_id for key, event_id in keys.items() if key not in refused}
        in_flight: set[str] = set()
        reused: dict[str, str] = {}
        if refused:
            taken, pending, others = await self._take_over_abandoned(refused, batch, source_of)
            claimed |= {keys[key] for key in taken}
            in_flight = {keys[key] for key in pending}
            reused = {keys[key]: source for key, source in others.items()}
        return Claim(batch, frozenset(claimed), frozenset(in_flight), reused)

    async def confirm(self, organisation_id: str, claim: Claim) -> None:
        # Kafka has the events. Unconfirmed, they would read as in flight, then be taken for abandoned and published
        # (and answered as accepted) again: a store away for a moment (a restart) is waited out, for half that time,
        # and a longer absence is waited out in the background so the request is answered meanwhile.
        key = _confirmation_key(claim.batch)
        confirmation = {"_id": key, "organisation_id": organisation_id, "published_at": _now()}
        if await self._store_confirmation(confirmation, within=self._abandoned_after.total_seconds() / 2):
            return
        log.warning("batch %s published, its confirmation waits for the store", claim.batch)
        retry = asyncio.create_task(self._store_confirmation(confirmation, within=None))
        self._confirming.add(retry)
        retry.add_done_callback(self._confirming.discard)

    async def _store_confirmation(self, confirmation: Document, *, within: float | None) -> bool:
        """Inserts the confirmation, trying again while the store is unreachable, for `within` seconds at most
        (None: until it answers); False if that time ran out."""
        deadline = None if within is None else time.monotonic() + within
        pause = 0.1
        while True:
            try:
                await insert_new(self._published, [confirmation])
                return True
            except ConnectionFailure:
                if deadline is not None and time.monotonic() + pause > deadline:
                    return False
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def release(self, organisation_id: str, claim: Claim) -> None:
        keys = [_key(organisation_id, event_id) for event_id in claim.event_ids]
        held = await found_by_id(self._claims, keys, {"batch": 1})
        # By `_id` alone (see `found_by_id`): a claim taken over between the read and the delete, by a request
        # that found this one abandoned, is released too, and its events may then reach Kafka twice, which
        # consumers ignore by event id.
        await delete_all(self._claims, [key for key, document in held.items() if document.get("batch") == claim.batch])

    async def _take_over_abandoned(
        self, keys: set[str], batch: str, source_of: Mapping[str, str]
    ) -> tuple[set[str], set[str], dict[str, str]]:
        """The keys taken over, those still in flight elsewhere, and those another source's event holds (with it).

        An unconfirmed claim is either in flight in another request (leave it) or was left by a publisher that died
        before Kafka acknowledged (publish it again). Age tells them apart; the conditional update lets only one
        taker win. A key released meanwhile is in flight too: its next claimer publishes it. A claim naming no
        source (made before claims named theirs) is taken for the same source's.
        """
        held = await found_by_id(self._claims, sorted(keys))
        reused = {
            key: claim["source"]
            for key, claim in held.items()
            if claim.get("source") and source_of.get(key) and claim["source"] != source_of[key]
        }
        ours = [claim for key, claim in held.items() if key not in reused]
        confirmed = await self._confirmed(ours)
        cutoff = _now() - self._abandoned_after
        taken: set[str] = set()
        for claim in ours:
            if claim["_id"] in confirmed or _claimed_at(claim) >= cutoff:
                continue
            holder = {"batch": claim["batch"]} if "batch" in claim else {"claimed_at": claim["claimed_at"]}
            result = await self._claims.update_one(
                {"_id": claim["_id"], **holder},
                {"$set": {"batch": batch, **_named(source_of.get(claim["_id"]))}, "$unset": {"claimed_at": ""}},
            )
            if result.modified_count == 1:
                taken.add(claim["_id"])
        return taken, keys - confirmed - taken - set(reused), reused

    async def _confirmed(self, claims: list[Document]) -> set[str]:
        """The keys among `claims` whose publication Kafka acknowledged."""
        batches = {claim["batch"] for claim in claims if "batch" in claim}
        confirmed_batches = {
            batch for batch in batches if await self._published.find_one({"_id": _confirmation_key(batch)})
        }
        confirmed = {claim["_id"] for claim in claims if claim.get("batch") in confirmed_batches}
        one_by_one = sorted(claim["_id"] for claim in claims if "batch" not in claim)
        if one_by_one:
            confirmed |= set(await found_by_id(self._published, one_by_one, {"_id": 1}))
        return confirmed


def _named(source: str | None) -> Document:
    return {} if source is None else {"source": source}


def _key(organisation_id: str, event_id: str) -> str:
    return f"{organisation_id}/{event_id}"


def _confirmation_key(batch: str) -> str:
    # `:` never appears in an organisation id, so this cannot be an event's own (older) confirmation key.
    return f"batch:{batch}"


def _new_batch() -> str:
    return f"{_now().strftime(_BATCH_TIME)}-{uuid.uuid4().hex}"


def _claimed_at(claim: Document) -> datetime:
    if "batch" in claim:
        return datetime.strptime(claim["batch"].split("-", 1)[0], _BATCH_TIME).replace(tzinfo=UTC)
    moment: datetime = claim["claimed_at"]
    return moment


_BATCH_TIME = "%Y%m%dT%H%M%S.%f"


def _now() -> datetime:
    return datetime.now(UTC)


class MongoOrderBuyers:
    """One document per shop order, `_id` = organisation/source/order: its buyer, and refunds waiting for it.

    Every read and write is by `_id` alone (the only filter FerretDB answers from an index); a source's
    erasure, rare, is the one query on another field.
    """

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def buyer(self, organisation_id: str, source: str, order_id: str) -> PersonRef | None:
        document = await self._collection.find_one({"_id": _order_key(organisation_id, source, order_id)})
        return _buyer_of(document)

    async def remember(
        self, organisation_id: str, source: str, order_id: str, buyer: PersonRef | Nobody
    ) -> list[Envelope]:
        # An order that names nobody, and later names someone (the customer added since), is theirs.
        update = (
            {"$set": {"nobody": True}}
            if buyer is NOBODY
            else {"$set": {"buyer": buyer.model_dump(mode="json", exclude_none=True)}, "$unset": {"nobody": ""}}
        )
        document = await self._upsert(organisation_id, source, order_id, update)
        waiting = (document or {}).get("waiting_refunds") or {}
        return [Envelope.from_json_bytes(raw) for raw in waiting.values()]

    async def wait_for_order(
        self, organisation_id: str, source: str, order_id: str, refund: Envelope
    ) -> PersonRef | Nobody | None:
        # One atomic write that also reads: if the order's buyer landed first it is returned, and if it lands
        # after, its own write returns this refund. Either way one side publishes it.
        document = await self._upsert(
            organisation_id, source, order_id, {"$set": {f"waiting_refunds.{refund.id}": refund.to_json_bytes()}}
        )
        if (document or {}).get("nobody") and not (document or {}).get("buyer"):
            return NOBODY
        return _buyer_of(document)

    async def _upsert(
        self, organisation_id: str, source: str, order_id: str, update: dict[str, Any]
    ) -> Document | None:
        """The order's document after `update`, created if need be."""

        async def upsert() -> Document | None:
            return await self._collection.find_one_and_update(
                {"_id": _order_key(organisation_id, source, order_id)},
                {**update, "$setOnInsert": {"organisation_id": organisation_id, "source": source}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )

        try:
            return await upsert()
        except DuplicateKeyError:
            # Two deliveries of one order often come together (`orders/create` and `orders/paid`, sent again after
            # both were turned away), and FerretDB does not retry an upsert that lost the race to insert, as
            # MongoDB does: the document exists now, and the update applies to it.
            return await upsert()

    async def release(self, organisation_id: str, source: str, order_id: str, refund_ids: Sequence[str]) -> None:
        if refund_ids:
            await self._collection.update_one(
                {"_id": _order_key(organisation_id, source, order_id)},
                {"$unset": {f"waiting_refunds.{refund_id}": "" for refund_id in refund_ids}},
            )

    async def forget_orders(self, organisation_id: str, source: str, order_ids: Sequence[str]) -> None:
        for order_id in order_ids:
            await self._collection.delete_one({"_id": _order_key(organisation_id, source, order_id)})

    async def forget_source(self, organisation_id: str, source: str) -> None:
        await self._collection.delete_many({"organisation_id": organisation_id, "source": source})


def _order_key(organisation_id: str, source: str, order_id: str) -> str:
    return f"{organisation_id}/{source}/{order_id}"


def _buyer_of(document: Document | None) -> PersonRef | None:
    if document is None or not document.get("buyer"):
        return None
    return PersonRef.model_validate(document["buyer"])


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

    async def record_redaction_request(self, source_id: str, requested_at: datetime) -> None:
        # The first request is the one on record: Shopify's retries repeat it later.
        await self._collection.update_one({"_id": source_id}, {"$min": {"redaction_requested_at": requested_at}})

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
        redaction_requested_at=document.get("redaction_requested_at"),
    )
