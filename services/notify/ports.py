"""What the notify handlers need from the outside world: the store, outbound HTTP, a clock, and a publisher."""

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from services.notify.domain.contacts import Contact, OptOut
from services.notify.domain.subscriptions import DisabledReason, SigningSecret, Subscription
from shared.events import Envelope


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    # Given up on: a 4xx, retries exhausted, a refused target, or the endpoint gone. Replayable.
    DEAD = "dead"
    # Not sent because consent, an erasure or the frequency cap forbade it when it was due.
    SUPPRESSED = "suppressed"
    # The person was erased before it was sent.
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Delivery:
    """One message to one subscription: queued, attempted until it succeeds or is given up on, replayable."""

    delivery_id: str
    organisation_id: str
    subscription_id: str
    message_id: str
    kind: str
    # What the message is about: the event's data as JSON, personalised again at each attempt.
    data: Mapping[str, Any]
    occurred_at: datetime
    created_at: datetime
    person_id: str | None = None
    purpose: str | None = None
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    replays: int = 0
    # Attempts made before the latest replay: the retry schedule starts over from there.
    round_start: int = 0


@dataclass(frozen=True)
class AttemptRecord:
    attempt_id: str
    delivery_id: str
    number: int
    claimed_at: datetime
    owner: str
    finished_at: datetime | None = None
    outcome: str | None = None
    status_code: int | None = None
    error: str | None = None
    duration_seconds: float | None = None
    # Whether the outcome ended the delivery (no retry follows); None while the attempt is under way.
    final: bool | None = None
    # When the next attempt is due after a failed one (the schedule's pause, or the receiver's Retry-After).
    retry_at: datetime | None = None


@dataclass(frozen=True)
class QueueEntry:
    delivery_id: str
    due_at: datetime
    since: datetime


@dataclass(frozen=True)
class HttpAnswer:
    """What a receiver answered; `status_code` None when no answer came (`error` says why)."""

    status_code: int | None
    error: str | None = None
    retry_after: str | None = None
    json: Mapping[str, Any] | None = None
    duration_seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)
    # Set when outbound safety refused the target: nothing was sent, and retrying will not help.
    refused: str | None = None


class Clock(Protocol):
    def now(self) -> datetime: ...


class Outbound(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpAnswer:
        """One HTTP request to a target outbound safety allows; never raises for a network failure."""


class Publisher(Protocol):
    async def publish(self, envelopes: Sequence[Envelope]) -> None: ...


class SubscriptionStore(Protocol):
    async def subscription(self, subscription_id: str) -> Subscription | None: ...

    async def subscriptions(
        self, organisation_id: str | None = None, *, readable_only: bool = False
    ) -> list[Subscription]:
        """The subscriptions (of one organisation, or of all), oldest first. One whose secrets no key held opens
        raises `SecretsKeyError`, so that what it would be given fails and is tried again; with `readable_only`, it
        is logged and left out instead (the worker, so that it alone waits for its key, not every organisation)."""

    async def save_subscription(self, subscription: Subscription, fields: Collection[str] | None = None) -> None:
        """Stores the subscription; with `fields`, only those (so a change made meanwhile to another field, such
        as a 410 disabling it, is kept)."""

    async def replace_secrets(
        self, subscription_id: str, read: Sequence[SigningSecret], secrets: Sequence[SigningSecret]
    ) -> bool:
        """Stores `secrets` as the subscription's if its secrets are still those `read` (by when each was made);
        False, storing nothing, if another rotation changed them since."""

    async def delete_subscription(self, subscription_id: str) -> bool: ...

    async def disable_subscription(self, subscription_id: str, reason: str, code: DisabledReason) -> None: ...


class DeliveryStore(Protocol):
    async def add_delivery(self, delivery: Delivery) -> bool:
        """Stores and queues a new delivery; False if it existed (it is queued again if still pending)."""

    async def delivery(self, delivery_id: str) -> Delivery | None: ...

    async def deliveries(
        self,
        organisation_id: str,
        *,
        subscription_id: str | None,
        status: str | None,
        limit: int,
        person_id: str | None = None,
    ) -> list[Delivery]:
        """Newest first; each filter given narrows the list."""

    async def person_deliveries(self, organisation_id: str, person_id: str) -> list[Delivery]: ...

    async def update_delivery(self, delivery_id: str, changes: Mapping[str, Any]) -> None: ...

    async def forget_person_in_delivery(
        self, delivery: Delivery, status: DeliveryStatus | None, reason: str | None = None
    ) -> None:
        """Drops what the delivery and its attempts say about its person (its data, their id, the errors a receiver
        wrote); with `status`, ends it so, `reason` (a code, never a receiver's words) saying why."""

    async def queue(self, subscription_id: str) -> list[QueueEntry]: ...

    async def enqueue(self, subscription_id: str, delivery_id: str, due_at: datetime, since: datetime) -> None: ...

    async def dequeue(self, subscription_id: str, delivery_id: str) -> None: ...

    async def claim_attempt(self, record: AttemptRecord) -> AttemptRecord | None:
        """Stores the claim; None if it is now this claim, else the claim already held."""

    async def finish_attempt(self, record: AttemptRecord) -> None: ...

    async def release_attempt(self, attempt_id: str) -> None: ...

    async def attempt(self, attempt_id: str) -> AttemptRecord | None: ...

    async def attempts(self, delivery: Delivery) -> list[AttemptRecord]: ...

    async def expect_announcement(self, attempt_id: str, at: datetime) -> None:
        """Notes, before the attempt's outcome is stored, that it is to be published (the outbox)."""

    async def unannounced(self, noted_before: datetime, limit: int) -> list[str]:
        """Attempts noted before `noted_before` whose outcome is not known to be published yet."""

    async def announced(self, attempt_id: str) -> None:
        """The attempt's outcome is published (or there is none to publish): it leaves the outbox."""


class ContactStore(Protocol):
    async def contact(self, organisation_id: str, person_id: str) -> Contact | None: ...

    async def contacts(self, organisation_id: str, person_ids: Iterable[str]) -> dict[str, Contact]:
        """`contact` of each person, by person id (those without one left out), in a few commands."""

    async def save_contact(self, organisation_id: str, contact: Contact) -> None:
        """Stores the profile-announced fields; leaves the opt-outs, the Mailchimp members and the frequency record
        alone."""

    async def save_contacts(
        self, organisation_id: str, contacts: Sequence[Contact], *, new_persons: Collection[str] = ()
    ) -> None:
        """Saves each contact (one per person) as `save_contact` would, in a few commands. `new_persons`: those whose
        contact was found stored nowhere when read (a contact stored meanwhile all the same is saved as the others)."""

    async def record_opt_out(self, organisation_id: str, person_id: str, opt_out: OptOut) -> None:
        """Notes that a tool reported the person unsubscribed, as `opt_out_learnt` weighs the report against what the
        contact holds; nothing once the person is erased."""

    async def record_mailchimp_member(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str
    ) -> None:
        """Notes the address the subscription keeps the person's member under (see `Contact.mailchimp_members`);
        nothing once the person is erased."""

    async def record_mailchimp_archived(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str, *, archived: bool
    ) -> None:
        """Notes that the subscription archived the person's member under `email` itself, or (`archived` false)
        brought it back (see `Contact.mailchimp_archived`)."""

    async def forget_mailchimp_members(self, organisation_id: str, subscription_id: str) -> int:
        """Lets go of the address a deleted subscription kept each of the organisation's persons under; returns how
        many contacts held one."""

    async def addresses_of_others(
        self, organisation_id: str, person_id: str, addresses: Collection[str], subscription_ids: Collection[str]
    ) -> frozenset[str]:
        """Those of `addresses` another person of the organisation gives, or has a member kept under by one of the
        subscriptions; a person whose erasure is noted gives none."""

    async def sends(self, organisation_id: str, person_id: str) -> dict[str, datetime]: ...

    async def log_export(
        self, organisation_id: str, person_id: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        """Notes an export of what notify holds about the person, naming them by digest only."""

    async def exports_logged(self, organisation_id: str, person_id: str) -> list[dict[str, Any]]:
        """The exports noted for the person, oldest first: `action`, `at`, `requested_by`, `details`."""

    async def log_segment_export(
        self, organisation_id: str, segment: str, at: datetime, requested_by: str, details: Mapping[str, Any]
    ) -> None:
        """Notes an export of a segment's members (`shared.privacy_log.segment_log_key`)."""

    async def segment_exports_logged(self, organisation_id: str, segment: str) -> list[dict[str, Any]]:
        """The exports noted for the segment, oldest first: `action`, `at`, `requested_by`, `details`."""

    async def record_send(
        self, organisation_id: str, person_id: str, message_id: str, at: datetime, expired: Sequence[str]
    ) -> None: ...

    async def is_erased(self, organisation_id: str, person_id: str) -> bool: ...

    async def erased_among(self, organisation_id: str, person_ids: Iterable[str]) -> frozenset[str]:
        """The erased among `person_ids`; persons found not erased before cost no read while nobody is erased."""

    async def note_erasure(self, organisation_id: str, person_id: str, at: datetime) -> None:
        """Remembers the erasure by a digest (`is_erased` is true from then on); `erase` does it too."""

    async def erase(self, organisation_id: str, person_id: str, at: datetime) -> None:
        """Forgets the person's contact, sends and segment memberships, and remembers the erasure by a digest."""

    async def set_membership(self, organisation_id: str, segment: str, person_id: str, member: bool) -> None: ...

    async def segments_of(self, organisation_id: str, person_id: str) -> list[str]:
        """The segments notify records the person in (for segment exports), by name."""

    async def is_member(self, organisation_id: str, segment: str, person_id: str) -> bool:
        """Whether notify records the person in the segment now."""

    async def enter_segments(self, organisation_id: str, memberships: Sequence[tuple[str, str]]) -> None:
        """Records each (segment, person) membership, as `set_membership` entering it would, in one command."""

    async def segment_members(self, organisation_id: str, segment: str) -> list[str]: ...


class NotifyStore(SubscriptionStore, DeliveryStore, ContactStore, Protocol):
    """Everything notify keeps: one protocol so a handler takes one store."""
