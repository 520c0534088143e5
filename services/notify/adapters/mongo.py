"""Notify's state in MongoDB (or FerretDB): subscriptions, deliveries, their attempts and queues, and contacts.

Hot paths read and write by `_id` only, which FerretDB 1.x serves from its index: a subscription's queue is one
document (`pending.<delivery id>` = when it is due), an attempt is claimed by inserting its deterministic id, a
person's contact is `org|person`. Lists by other fields (the deliveries API, an erasure's sweep, a segment export)
are rare and may scan. Event data goes in as JSON text: profile field names contain dots, which keys may not.

FerretDB 1.x applies an update as read, modify, write back: two updates of one document at once keep only one's
changes (MongoDB applies each atomically). The queue and contact documents have several writers in one instance
(consumers of many persons, lanes, the API), so this store takes their updates one at a time per document. Several
instances sharing FerretDB would still race; that is what MongoDB is for.
"""

import contextlib
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.notify.adapters.secrets import SecretBox, SecretsKeyError
from services.notify.domain.contacts import (
    ADDRESS_FIELDS,
    Contact,
    OptOut,
    PurposeConsent,
    contact_details,
    opt_out_learnt,
)
from services.notify.domain.mailchimp import subscriber_hash
from services.notify.domain.messages import attempt_id
from services.notify.domain.subscriptions import (
    DisabledReason,
    EventFilter,
    MailchimpTarget,
    SigningSecret,
    Subscription,
    TargetKind,
)
from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus, QueueEntry
from shared.erasures import Erasures
from shared.mongo import Document, DocumentLocks, IndexSpec, found_by_id, insert_new, update_all
from shared.privacy import person_digest
from shared.privacy_log import PrivacyLog, privacy_log_index, segment_log_key

log = logging.getLogger(__name__)

SUBSCRIPTIONS = "notify_subscriptions"
DELIVERIES = "notify_deliveries"
ATTEMPTS = "notify_attempts"
QUEUES = "notify_queues"
# Attempts whose outcome event may not be published yet; small, since each leaves once its event is out.
OUTBOX = "notify_outbox"
# Contacts, and the tombstones of persons erased (`org|erased:<digest>`).
CONTACTS = "notify_contacts"
# `org|erasures#n`: every erasure of the organisation, listed in order (see `shared.erasures`).
ERASURES = "notify_erasures"
MEMBERSHIPS = "notify_segment_members"
# Every export of what notify holds about a person, naming them by digest only (Law 25 asks that they be accounted
# for; the log outlives the person's erasure).
PRIVACY_LOG = "notify_privacy_log"
# How often an opt-out is weighed again when the contact changed between its read and its write (other instances).
_OPT_OUT_TRIES = 3
# Used by MongoDB for the listing and erasure queries; FerretDB scans either way, and these are not hot paths.
INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(SUBSCRIPTIONS, [("organisation_id", 1), ("created_at", 1)]),
    IndexSpec(DELIVERIES, [("organisation_id", 1), ("subscription_id", 1), ("created_at", -1)]),
    IndexSpec(DELIVERIES, [("organisation_id", 1), ("person_id", 1)]),
    IndexSpec(MEMBERSHIPS, [("organisation_id", 1), ("segment", 1)]),
    privacy_log_index(PRIVACY_LOG),
)


def _membership_key(organisation_id: str, segment: str, person_id: str) -> str:
    return _key(organisation_id, f"{segment}|{person_id}")


def _membership_fields(organisation_id: str, segment: str, person_id: str) -> dict[str, str]:
    return {"organisation_id": organisation_id, "segment": segment, "person_id": person_id}


def _key(organisation_id: str, local: str) -> str:
    return f"{organisation_id}|{local}"


def _tombstone_key(organisation_id: str, person_id: str) -> str:
    # A digest, so that no document keeps the id of a person erased.
    return _key(organisation_id, f"erased:{person_digest(organisation_id, person_id)}")


def _subscription_document(subscription: Subscription, box: SecretBox) -> Document:
    events = subscription.events
    return {
        "_id": subscription.subscription_id,
        "organisation_id": subscription.organisation_id,
        "kind": subscription.kind.value,
        "url": subscription.url,
        "events": {
            "triggers": sorted(events.triggers),
            "segments_entered": sorted(events.segments_entered),
            "segments_exited": sorted(events.segments_exited),
            "profile_fields": sorted(events.profile_fields),
        },
        "enabled": subscription.enabled,
        "created_at": subscription.created_at,
        "secrets": _secrets_document(subscription.secrets, box),
        "description": subscription.description,
        "disabled_reason": subscription.disabled_reason,
        "disabled_reason_code": subscription.disabled_reason_code,
        "mailchimp": None
        if subscription.mailchimp is None
        else {
            "api_url": subscription.mailchimp.api_url,
            "api_key": box.seal(subscription.mailchimp.api_key),
            "list_id": subscription.mailchimp.list_id,
        },
        "max_in_flight": subscription.max_in_flight,
    }


def _secrets_document(secrets: Iterable[SigningSecret], box: SecretBox) -> list[Document]:
    return [
        {"secret": box.seal(entry.secret), "created_at": entry.created_at, "expires_at": entry.expires_at}
        for entry in secrets
    ]


@dataclass
class ResealReport:
    subscriptions: int = 0
    resealed: int = 0
    unreadable: list[str] = field(default_factory=list)
    changed_meanwhile: list[str] = field(default_factory=list)


def _resealed(document: Document, box: SecretBox) -> tuple[Document, Document]:
    """What to set for the subscription's sealed values to be sealed with the first key, and what must still hold
    for the values read to be those stored (sealed values differ at every sealing, so they name what was read)."""
    changes: Document = {}
    unchanged: Document = {}
    secrets = document.get("secrets", [])
    again = [box.resealed(entry["secret"]) for entry in secrets]
    if any(value is not None for value in again):
        changes["secrets"] = [
            {**entry, "secret": entry["secret"] if value is None else value}
            for entry, value in zip(secrets, again, strict=True)
        ]
        unchanged["secrets"] = {"$size": len(secrets)}
        unchanged["$and"] = [{"secrets.secret": entry["secret"]} for entry in secrets]
    mailchimp = document.get("mailchimp")
    if mailchimp and (key := box.resealed(mailchimp["api_key"])) is not None:
        changes["mailchimp.api_key"] = key
        unchanged["mailchimp.api_key"] = mailchimp["api_key"]
    return changes, unchanged


def _subscription_from(document: Document, box: SecretBox) -> Subscription:
    events = document["events"]
    mailchimp = document.get("mailchimp")
    return Subscription(
        subscription_id=document["_id"],
        organisation_id=document["organisation_id"],
        kind=TargetKind(document["kind"]),
        url=document["url"],
        events=EventFilter(
            triggers=frozenset(events["triggers"]),
            segments_entered=frozenset(events["segments_entered"]),
            segments_exited=frozenset(events["segments_exited"]),
            profile_fields=frozenset(events["profile_fields"]),
        ),
        enabled=document["enabled"],
        created_at=document["created_at"],
        secrets=tuple(
            SigningSecret(box.open(entry["secret"]), entry["created_at"], entry.get("expires_at"))
            for entry in document.get("secrets", ())
        ),
        description=document.get("description"),
        disabled_reason=document.get("disabled_reason"),
        disabled_reason_code=document.get("disabled_reason_code"),
        mailchimp=None
        if not mailchimp
        else MailchimpTarget(**{**mailchimp, "api_key": box.open(mailchimp["api_key"])}),
        max_in_flight=document.get("max_in_flight"),
    )


def _delivery_document(delivery: Delivery) -> Document:
    return {
        "_id": delivery.delivery_id,
        "organisation_id": delivery.organisation_id,
        "subscription_id": delivery.subscription_id,
        "message_id": delivery.message_id,
        "kind": delivery.kind,
        "data": json.dumps(delivery.data, ensure_ascii=False, default=str),
        "occurred_at": delivery.occurred_at,
        "created_at": delivery.created_at,
        "person_id": delivery.person_id,
        "purpose": delivery.purpose,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "replays": delivery.replays,
        "round_start": delivery.round_start,
    }


def _delivery_from(document: Document) -> Delivery:
    return Delivery(
        delivery_id=document["_id"],
        organisation_id=document["organisation_id"],
        subscription_id=document["subscription_id"],
        message_id=document["message_id"],
        kind=document["kind"],
        data=json.loads(document["data"]) if document.get("data") else {},
        occurred_at=document["occurred_at"],
        created_at=document["created_at"],
        person_id=document.get("person_id"),
        purpose=document.get("purpose"),
        status=DeliveryStatus(document["status"]),
        attempts=document.get("attempts", 0),
        next_attempt_at=document.get("next_attempt_at"),
        last_status_code=document.get("last_status_code"),
        last_error=document.get("last_error"),
        replays=document.get("replays", 0),
        round_start=document.get("round_start", 0),
    )


def _attempt_from(document: Document) -> AttemptRecord:
    return AttemptRecord(
        attempt_id=document["_id"],
        delivery_id=document["delivery_id"],
        number=document["number"],
        claimed_at=document["claimed_at"],
        owner=document["owner"],
        finished_at=document.get("finished_at"),
        outcome=document.get("outcome"),
        status_code=document.get("status_code"),
        error=document.get("error"),
        duration_seconds=document.get("duration_seconds"),
        final=document.get("final"),
        retry_at=document.get("retry_at"),
    )


def _contact_fields(contact: Contact) -> Document:
    return {
        "person_id": contact.person_id,
        "profile_version": contact.profile_version,
        **contact_details(contact),
        "announced": sorted(contact.announced),
    }


def _contact_from(document: Document) -> Contact:
    return Contact(
        person_id=document["person_id"],
        profile_version=document.get("profile_version", 0),
        emails=tuple(document.get("emails") or ()),
        # A contact stored before notify kept them reads as having none.
        undeliverable_emails=tuple(document.get("undeliverable_emails") or ()),
        phones=tuple(document.get("phones") or ()),
        first_name=document.get("first_name"),
        last_name=document.get("last_name"),
        **{name: document.get(name) for name in ADDRESS_FIELDS},
        preferred_language=document.get("preferred_language"),
        consents={purpose: PurposeConsent(**values) for purpose, values in (document.get("consents") or {}).items()},
        opt_outs=dict(document.get("opt_outs") or {}),
        mailchimp_members=dict(document.get("mailchimp_members") or {}),
        mailchimp_archived={
            subscription_id: frozenset(hashes)
            for subscription_id, hashes in (document.get("mailchimp_archived") or {}).items()
            if hashes
        },
        announced=frozenset(document.get("announced") or ()),
    )


class MongoNotifyStore:
    """Notify's state; signing secrets and API keys pass through `box` on their way in and out."""

    def __init__(self, database: AsyncDatabase[Document], box: SecretBox) -> None:
        self._box = box
        self._one_writer = DocumentLocks()
        self._subscriptions = database[SUBSCRIPTIONS]
        self._deliveries = database[DELIVERIES]
        self._attempts = database[ATTEMPTS]
        self._queues = database[QUEUES]
        self._outbox = database[OUTBOX]
        self._contacts = database[CONTACTS]
        self._privacy = PrivacyLog(database[PRIVACY_LOG])
        self._memberships = database[MEMBERSHIPS]
        self._erasures = Erasures(database[CONTACTS], database[ERASURES], _tombstone_key)

    # Subscriptions

    async def subscription(self, subscription_id: str) -> Subscription | None:
        document = await self._subscriptions.find_one({"_id": subscription_id})
        return None if document is None else _subscription_from(document, self._box)

    async def subscriptions(
        self, organisation_id: str | None = None, *, readable_only: bool = False
    ) -> list[Subscription]:
        query = {} if organisation_id is None else {"organisation_id": organisation_id}
        documents = await self._subscriptions.find(query, sort=[("created_at", 1)]).to_list()
        if not readable_only:
            return [_subscription_from(document, self._box) for document in documents]
        found = []
        for document in documents:
            try:
                found.append(_subscription_from(document, self._box))
            except SecretsKeyError as exc:
                log.error("subscription %s is left out until its key is given back: %s", document["_id"], exc)
        return found

    async def reseal_secrets(self) -> ResealReport:
        """Every subscription's signing secrets and Mailchimp key sealed again with the first key held, so that the
        keys after it can be let go. One changed meanwhile (a rotation) is left for the next run; one that no key
        opens is named."""
        report = ResealReport()
        async for document in self._subscriptions.find({}):
            report.subscriptions += 1
            try:
                changes, unchanged = _resealed(document, self._box)
            except SecretsKeyError:
                report.unreadable.append(document["_id"])
                continue
            if not changes:
                continue
            result = await self._subscriptions.update_one({"_id": document["_id"], **unchanged}, {"$set": changes})
            if result.matched_count == 1:
                report.resealed += 1
            else:
                report.changed_meanwhile.append(document["_id"])
        return report

    async def save_subscription(self, subscription: Subscription, fields: Collection[str] | None = None) -> None:
        document = _subscription_document(subscription, self._box)
        if fields is None:
            await self._subscriptions.replace_one({"_id": subscription.subscription_id}, document, upsert=True)
            return
        await self._subscriptions.update_one(
            {"_id": subscription.subscription_id}, {"$set": {field: document[field] for field in fields}}
        )

    async def replace_secrets(
        self, subscription_id: str, read: Sequence[SigningSecret], secrets: Sequence[SigningSecret]
    ) -> bool:
        # Sealed secrets differ at every sealing: the ones read are recognised by their number and their making. One
        # equality each: FerretDB 1.x finds no document by `$all` of several values along an array's path.
        unchanged: Document = {"_id": subscription_id, "secrets": {"$size": len(read)}}
        if read:
            unchanged["$and"] = [{"secrets.created_at": entry.created_at} for entry in read]
        # FerretDB 1.x reads the document and writes it back outside a transaction, so two updates at once may both
        # find it unchanged: the lock makes this process's rotations one at a time (see `DocumentLocks`).
        async with self._one_writer.hold(f"{SUBSCRIPTIONS}/{subscription_id}/secrets"):
            result = await self._subscriptions.update_one(
                unchanged, {"$set": {"secrets": _secrets_document(secrets, self._box)}}
            )
        return result.matched_count == 1

    async def delete_subscription(self, subscription_id: str) -> bool:
        result = await self._subscriptions.delete_one({"_id": subscription_id})
        async with self._one_writer.hold(f"{QUEUES}/{subscription_id}"):
            await self._queues.delete_one({"_id": subscription_id})
        return result.deleted_count == 1

    async def disable_subscription(self, subscription_id: str, reason: str, code: DisabledReason) -> None:
        await self._subscriptions.update_one(
            {"_id": subscription_id},
            {"$set": {"enabled": False, "disabled_reason": reason, "disabled_reason_code": code.value}},
        )

    # Deliveries and their queues

    async def add_delivery(self, delivery: Delivery) -> bool:
        try:
            await self._deliveries.insert_one(_delivery_document(delivery))
            added = True
        except DuplicateKeyError:
            added = False
            stored = await self.delivery(delivery.delivery_id)
            if stored is None or stored.status is not DeliveryStatus.PENDING:
                return False
            delivery = stored
        # Queued after the insert: a crash in between leaves the event uncommitted, and its redelivery lands here.
        if delivery.status is DeliveryStatus.PENDING:
            due = delivery.next_attempt_at or delivery.created_at
            await self.enqueue(delivery.subscription_id, delivery.delivery_id, due, delivery.created_at)
        return added

    async def delivery(self, delivery_id: str) -> Delivery | None:
        document = await self._deliveries.find_one({"_id": delivery_id})
        return None if document is None else _delivery_from(document)

    async def deliveries(
        self,
        organisation_id: str,
        *,
        subscription_id: str | None,
        status: str | None,
        limit: int,
        person_id: str | None = None,
    ) -> list[Delivery]:
        query: dict[str, Any] = {"organisation_id": organisation_id}
        if subscription_id is not None:
            query["subscription_id"] = subscription_id
        if person_id is not None:
            query["person_id"] = person_id
        if status is not None:
            query["status"] = status
        documents = await self._deliveries.find(query, sort=[("created_at", -1)], limit=limit).to_list()
        return [_delivery_from(document) for document in documents]

    async def person_deliveries(self, organisation_id: str, person_id: str) -> list[Delivery]:
        documents = await self._deliveries.find({"organisation_id": organisation_id, "person_id": person_id}).to_list()
        return [_delivery_from(document) for document in documents]

    async def update_delivery(self, delivery_id: str, changes: Mapping[str, Any]) -> None:
        values = {name: value.value if isinstance(value, DeliveryStatus) else value for name, value in changes.items()}
        await self._deliveries.update_one({"_id": delivery_id}, {"$set": values})

    async def forget_person_in_delivery(
        self, delivery: Delivery, status: DeliveryStatus | None, reason: str | None = None
    ) -> None:
        # Errors go too: a receiver's answer, kept as the error, may quote the person's address back.
        changes: dict[str, Any] = {"data": "", "person_id": None, "last_error": None}
        if status is not None:
            changes.update(status=status.value, last_error=reason, next_attempt_at=None)
        await self._deliveries.update_one({"_id": delivery.delivery_id}, {"$set": changes})
        # Attempt ids follow from the delivery's, so each is found by its `_id`; one more than counted may exist.
        attempts = [attempt_id(delivery.delivery_id, number) for number in range(1, delivery.attempts + 2)]
        # One update per `_id`: FerretDB 1.24 as released reads the whole collection for any other filter.
        await update_all(self._attempts, [(attempt, {"$set": {"error": None}}) for attempt in attempts], upsert=False)
        if status is not None:
            await self.dequeue(delivery.subscription_id, delivery.delivery_id)

    async def queue(self, subscription_id: str) -> list[QueueEntry]:
        document = await self._queues.find_one({"_id": subscription_id})
        pending: Mapping[str, Mapping[str, datetime]] = (document or {}).get("pending") or {}
        return [QueueEntry(delivery_id, entry["due"], entry["since"]) for delivery_id, entry in pending.items()]

    async def enqueue(self, subscription_id: str, delivery_id: str, due_at: datetime, since: datetime) -> None:
        async with self._one_writer.hold(f"{QUEUES}/{subscription_id}"):
            await self._queues.update_one(
                {"_id": subscription_id},
                {"$set": {f"pending.{delivery_id}": {"due": due_at, "since": since}}},
                upsert=True,
            )

    async def dequeue(self, subscription_id: str, delivery_id: str) -> None:
        async with self._one_writer.hold(f"{QUEUES}/{subscription_id}"):
            await self._queues.update_one({"_id": subscription_id}, {"$unset": {f"pending.{delivery_id}": ""}})

    async def claim_attempt(self, record: AttemptRecord) -> AttemptRecord | None:
        try:
            await self._attempts.insert_one(
                {
                    "_id": record.attempt_id,
                    "delivery_id": record.delivery_id,
                    "number": record.number,
                    "claimed_at": record.claimed_at,
                    "owner": record.owner,
                }
            )
        except DuplicateKeyError:
            held = await self._attempts.find_one({"_id": record.attempt_id})
            return None if held is None else _attempt_from(held)
        return None

    async def finish_attempt(self, record: AttemptRecord) -> None:
        await self._attempts.update_one(
            {"_id": record.attempt_id},
            {
                "$set": {
                    "finished_at": record.finished_at,
                    "outcome": record.outcome,
                    "status_code": record.status_code,
                    "error": record.error,
                    "duration_seconds": record.duration_seconds,
                    "final": record.final,
                    "retry_at": record.retry_at,
                }
            },
        )

    async def release_attempt(self, attempt_id: str) -> None:
        await self._attempts.delete_one({"_id": attempt_id})

    async def attempt(self, attempt_id: str) -> AttemptRecord | None:
        document = await self._attempts.find_one({"_id": attempt_id})
        return None if document is None else _attempt_from(document)

    async def expect_announcement(self, attempt_id: str, at: datetime) -> None:
        await self._outbox.update_one({"_id": attempt_id}, {"$setOnInsert": {"noted_at": at}}, upsert=True)

    async def unannounced(self, noted_before: datetime, limit: int) -> list[str]:
        # No filter: FerretDB would scan for one anyway, and the outbox holds only what is not yet out.
        documents = await self._outbox.find({}, limit=limit).to_list()
        return [document["_id"] for document in documents if document["noted_at"] < noted_before]

    async def announced(self, attempt_id: str) -> None:
        await self._outbox.delete_one({"_id": attempt_id})

    async def attempts(self, delivery: Delivery) -> list[AttemptRecord]:
        found = []
        for number in range(1, delivery.attempts + 2):
            document = await self._attempts.find_one({"_id": f"{delivery.delivery_id}_{number}"})
            if document is not None:
                found.append(_attempt_from(document))
        return found

    # Contacts, the frequency record, erasures and segment memberships

    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        document = await self._contacts.find_one({"_id": _key(organisation_id, person_id)})
        return None if document is None or "person_id" not in document else _contact_from(document)

    async def contacts(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, Contact]:
        found = await found_by_id(self._contacts, [_key(organisation_id, person_id) for person_id in person_ids])
        return {
            str(document["person_id"]): _contact_from(document)
            for document in found.values()
            if "person_id" in document
        }

    async def _update_contact(
        self, organisation_id: str, person_id: str, update: Mapping[str, Any], *, unless_erased: bool = False
    ) -> None:
        key = _key(organisation_id, person_id)
        async with self._one_writer.hold(f"{CONTACTS}/{key}"):
            # What an attempt learns as it ends (an opt-out, a send) may come after the person's erasure: it would
            # make their contact again. The erasure marks them before it deletes, under this same hold.
            if unless_erased and await self.is_erased(organisation_id, person_id):
                return
            await self._contacts.update_one({"_id": key}, update, upsert=True)

    async def save_contact(self, organisation_id: str, contact: Contact) -> None:
        await self._update_contact(
            organisation_id,
            contact.person_id,
            {"$set": {"organisation_id": organisation_id, **_contact_fields(contact)}},
        )

    async def save_contacts(
        self, organisation_id: str, contacts: Sequence[Contact], *, new_persons: Collection[str] = ()
    ) -> None:
        fields = {
            _key(organisation_id, contact.person_id): {"organisation_id": organisation_id, **_contact_fields(contact)}
            for contact in contacts
        }
        first = [key for person_id in dict.fromkeys(new_persons) if (key := _key(organisation_id, person_id)) in fields]
        async with contextlib.AsyncExitStack() as held:
            # In one order, so that two batches holding some of the same persons never wait on each other.
            for key in sorted(fields):
                await held.enter_async_context(self._one_writer.hold(f"{CONTACTS}/{key}"))
            # A contact stored nowhere goes in with one insert: an upsert makes the store look for it first (FerretDB
            # spent 160-300 µs of CPU a new contact upserted, 55 inserted). One stored meanwhile all the same (an
            # opt-out heard, another instance) is refused, and updated below as the others are.
            inserted = await insert_new(self._contacts, [{"_id": key, **fields[key]} for key in first])
            stored = {key for key, done in zip(first, inserted, strict=True) if done}
            await update_all(
                self._contacts, [(key, {"$set": value}) for key, value in fields.items() if key not in stored]
            )

    async def record_opt_out(self, organisation_id: str, person_id: str, opt_out: OptOut) -> None:
        purpose = opt_out.purpose
        key, field = _key(organisation_id, person_id), f"opt_outs.{purpose}"
        async with self._one_writer.hold(f"{CONTACTS}/{key}"):
            if await self.is_erased(organisation_id, person_id):
                return
            for tried in range(1, _OPT_OUT_TRIES + 1):
                document = await self._contacts.find_one({"_id": key})
                kept = None if document is None else (document.get("opt_outs") or {}).get(purpose)
                contact = _contact_from(document) if document is not None and "person_id" in document else None
                learnt = opt_out_learnt(
                    contact or Contact(person_id),
                    purpose,
                    opt_out.at,
                    changed_at=opt_out.changed_at,
                    opted_in_at=opt_out.opted_in_at,
                )
                if learnt is None:
                    return
                # Only over the opt-out just weighed: another instance's write meanwhile is weighed again.
                try:
                    await self._contacts.update_one(
                        {"_id": key, field: {"$exists": False} if kept is None else kept},
                        {"$set": {field: learnt, "organisation_id": organisation_id, "person_id": person_id}},
                        upsert=True,
                    )
                except DuplicateKeyError:
                    # The guard matched nothing and the upsert met the document: it changed since it was read.
                    if tried == _OPT_OUT_TRIES:
                        raise
                    continue
                return

    async def record_mailchimp_member(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str
    ) -> None:
        await self._update_contact(
            organisation_id,
            person_id,
            {
                "$set": {
                    f"mailchimp_members.{subscription_id}": email,
                    "organisation_id": organisation_id,
                    "person_id": person_id,
                }
            },
            unless_erased=True,
        )

    async def record_mailchimp_archived(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str, *, archived: bool
    ) -> None:
        # By subscriber hash (hex): an address holds dots, which a field's name cannot.
        mark = f"mailchimp_archived.{subscription_id}.{subscriber_hash(email)}"
        update: dict[str, Any] = {"$set": {mark: True}} if archived else {"$unset": {mark: ""}}
        update.setdefault("$set", {}).update(organisation_id=organisation_id, person_id=person_id)
        await self._update_contact(organisation_id, person_id, update, unless_erased=True)

    async def forget_mailchimp_members(self, organisation_id: str, subscription_id: str) -> int:
        kept = f"mailchimp_members.{subscription_id}"
        holders = [
            document["_id"]
            async for document in self._contacts.find(
                {"organisation_id": organisation_id, kept: {"$exists": True}}, {"_id": 1}
            )
        ]
        forgotten = 0
        for key in holders:
            # One contact at a time, under the hold every contact write takes: FerretDB 1.x updates a document by
            # reading and writing it back, so an update of many at once would lose a change made to one meanwhile.
            async with self._one_writer.hold(f"{CONTACTS}/{key}"):
                result = await self._contacts.update_one({"_id": key}, {"$unset": {kept: ""}})
            forgotten += result.modified_count
        return forgotten

    async def addresses_of_others(
        self, organisation_id: str, person_id: str, addresses: Collection[str], subscription_ids: Collection[str]
    ) -> frozenset[str]:
        wanted = sorted(set(addresses))
        if not wanted:
            return frozenset()
        kept = [f"mailchimp_members.{subscription_id}" for subscription_id in subscription_ids]
        # Read at an erasure only: the organisation's contacts are scanned rather than an index kept on every write.
        others = self._contacts.find(
            {
                "organisation_id": organisation_id,
                "_id": {"$ne": _key(organisation_id, person_id)},
                "$or": [{"emails": {"$in": wanted}}, *({field: {"$in": wanted}} for field in kept)],
            },
            {"person_id": 1, "emails": 1, "mailchimp_members": 1},
        )
        given: set[str] = set()
        async for document in others:
            # A sharer being erased too no longer keeps the address: read its tombstone itself, not through the
            # cache of persons found not erased, as two erasures of sharers may run side by side.
            if await self._erasures.is_erased(organisation_id, document["person_id"]):
                continue
            given.update(document.get("emails") or ())
            given.update((document.get("mailchimp_members") or {}).values())
        return frozenset(given.intersection(wanted))

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        await self._privacy.log_export(organisation_id, person_id, at=at, requested_by=requested_by, details=details)

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        return await self._privacy.entries_of(organisation_id, person_id)

    async def log_segment_export(
        self, organisation_id: str, segment: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        await self._privacy.log_segment_export(
            organisation_id, segment, at=at, requested_by=requested_by, details=details
        )

    async def segment_exports_logged(self, organisation_id: str, segment: str) -> list[dict[str, Any]]:
        return await self._privacy.entries(organisation_id, segment_log_key(segment))

    async def sends(self, organisation_id: str, person_id: str) -> dict[str, datetime]:
        document = await self._contacts.find_one({"_id": _key(organisation_id, person_id)}, {"sends": 1})
        return dict((document or {}).get("sends") or {})

    async def record_send(
        self, organisation_id: str, person_id: str, message_id: str, at: datetime, expired: Sequence[str]
    ) -> None:
        update: dict[str, Any] = {
            "$set": {f"sends.{message_id}": at, "organisation_id": organisation_id, "person_id": person_id}
        }
        if expired:
            update["$unset"] = {f"sends.{message}": "" for message in expired}
        await self._update_contact(organisation_id, person_id, update, unless_erased=True)

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return await self._erasures.is_erased(organisation_id, person_id)

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        return await self._erasures.among(organisation_id, person_ids)

    async def note_erasure(self, organisation_id: str, person_id: str, at: datetime) -> None:
        await self._erasures.mark(organisation_id, person_id, {"erased_at": at})

    async def erase(self, organisation_id: str, person_id: str, at: datetime) -> None:
        await self.note_erasure(organisation_id, person_id, at)
        key = _key(organisation_id, person_id)
        async with self._one_writer.hold(f"{CONTACTS}/{key}"):
            await self._contacts.delete_one({"_id": key})
        await self._memberships.delete_many({"organisation_id": organisation_id, "person_id": person_id})

    async def set_membership(self, organisation_id: str, segment: str, person_id: str, member: bool) -> None:
        key = _membership_key(organisation_id, segment, person_id)
        if member:
            await self._memberships.update_one(
                {"_id": key}, {"$set": _membership_fields(organisation_id, segment, person_id)}, upsert=True
            )
        else:
            await self._memberships.delete_one({"_id": key})

    async def segments_of(self, organisation_id: str, person_id: str) -> list[str]:
        documents = self._memberships.find({"organisation_id": organisation_id, "person_id": person_id}, {"segment": 1})
        return sorted([str(document["segment"]) async for document in documents])

    async def is_member(self, organisation_id: str, segment: str, person_id: str) -> bool:
        key = _membership_key(organisation_id, segment, person_id)
        return await self._memberships.find_one({"_id": key}, {"_id": 1}) is not None

    async def enter_segments(self, organisation_id: str, memberships: Sequence[tuple[str, str]]) -> None:
        # Inserted, not upserted: FerretDB takes a batch of inserts for less than one single-document write, and a
        # membership stored already holds the very same fields.
        await insert_new(
            self._memberships,
            [
                {"_id": _membership_key(organisation_id, segment, person_id)}
                | _membership_fields(organisation_id, segment, person_id)
                for segment, person_id in dict.fromkeys(memberships)
            ],
        )

    async def segment_members(self, organisation_id: str, segment: str) -> list[str]:
        documents = await self._memberships.find(
            {"organisation_id": organisation_id, "segment": segment}, {"person_id": 1}
        ).to_list()
        return sorted(document["person_id"] for document in documents)
