"""Notify's use cases: turn profile's events into queued deliveries, attempt one delivery, replay, erase a person.

Every effect is idempotent: a delivery's id derives from the event and the subscription, so an event delivered
again finds its deliveries stored; an attempt is claimed by inserting its numbered id, so two workers never make
the same attempt; a redelivered `profile changed` older than the contact is ignored by its version.
"""

import asyncio
import contextlib
import logging
import secrets as random_ids
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from services.notify.adapters.mailchimp import MailchimpAudience
from services.notify.domain.contacts import (
    CHANNEL_OF_PURPOSE,
    Contact,
    OptOut,
    Suppression,
    apply_change,
    check_send,
    message_language,
)
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.mailchimp import (
    ARCHIVED,
    CLEANED,
    LAPSES,
    MAILCHIMP_PURPOSE,
    UNSUBSCRIBED,
    WITHDRAWALS,
    changed_in_mailchimp,
    cleaned_in_mailchimp,
    member_body,
    member_email,
    members_to_forget,
    opted_in_in_mailchimp,
    subscriber_hash,
    tags_body,
    unsubscribed_in_mailchimp,
)
from services.notify.domain.messages import attempt_id, delivery_id, message_id, personalised_trigger, webhook_body
from services.notify.domain.retries import Decision, RetrySchedule, Verdict, decide
from services.notify.domain.signing import new_secret, signature_headers
from services.notify.domain.subscriptions import (
    DisabledReason,
    EventFilter,
    MailchimpTarget,
    MessageKind,
    SigningSecret,
    Subscription,
    TargetKind,
    matching_subscriptions,
    rotate,
)
from services.notify.ports import (
    AttemptRecord,
    Clock,
    Delivery,
    DeliveryStatus,
    HttpAnswer,
    NotifyStore,
    Outbound,
    QueueEntry,
)
from shared.events import Envelope, ProfileChangedV1, ProfileErasedV1, SegmentEnteredV1, SegmentExitedV1, TriggerFiredV1
from shared.events.common import Channel, ConsentPurpose

# Why a delivery went to the dead letters without an attempt (its `last_error`).
SUBSCRIPTION_DELETED = "subscription_deleted"
SUBSCRIPTION_DISABLED = "subscription_disabled"
QUEUE_FULL = "queue_full"

log = logging.getLogger(__name__)

Recorded = TypeVar("Recorded")


@dataclass(frozen=True)
class NotifyRules:
    schedule: RetrySchedule
    cap: FrequencyCap
    rotation_overlap: timedelta
    attempt_lease: timedelta
    # Most deliveries a subscription's queue holds; past it, the oldest are given up on.
    max_queue: int = 10_000
    # How long a disabled subscription's queued deliveries wait for it to come back.
    disabled_max_age: timedelta = timedelta(hours=72)


@dataclass(frozen=True)
class NotifyDeps:
    store: NotifyStore
    clock: Clock
    rules: NotifyRules
    # The Mailchimp attempts under way in this process, one at most per person and subscription (`_mailchimp_turn`).
    mailchimp_turns: set[str] = field(default_factory=set, compare=False)


# Intake: events become deliveries


async def _queue_deliveries(
    envelope: Envelope,
    deps: NotifyDeps,
    wanted: list[tuple[Subscription, Mapping[str, Any] | None]],
    *,
    kind: MessageKind,
    data: Mapping[str, Any],
    person_id: str | None,
    purpose: ConsentPurpose | None = None,
    suppressed: Suppression | None = None,
) -> list[Delivery]:
    now = deps.clock.now()
    message = message_id(envelope.organisation_id, envelope.id)
    added = []
    for subscription, fields in wanted:
        delivery = Delivery(
            delivery_id=delivery_id(subscription.subscription_id, message),
            organisation_id=envelope.organisation_id,
            subscription_id=subscription.subscription_id,
            message_id=message,
            kind=kind.value,
            data=data if fields is None else {**data, "changed": dict(fields)},
            occurred_at=envelope.time,
            created_at=now,
            person_id=person_id,
            purpose=None if purpose is None else purpose.value,
            status=DeliveryStatus.PENDING if suppressed is None else DeliveryStatus.SUPPRESSED,
            next_attempt_at=now if suppressed is None else None,
            last_error=None if suppressed is None else suppressed.value,
        )
        if await deps.store.add_delivery(delivery):
            added.append(delivery)
    return added


async def accept_trigger(envelope: Envelope, trigger: TriggerFiredV1, deps: NotifyDeps) -> list[Delivery]:
    """Queues the trigger for each subscription that wants it; a marketing message first passes the frequency cap."""
    organisation_id, store = envelope.organisation_id, deps.store
    subscriptions = await store.subscriptions(organisation_id)
    if not _wanted_trigger(subscriptions, trigger) or await store.is_erased(organisation_id, trigger.person_id):
        return []
    return await _queue_trigger(envelope, trigger, subscriptions, deps)


def _wanted_trigger(
    subscriptions: list[Subscription], trigger: TriggerFiredV1
) -> list[tuple[Subscription, Mapping[str, Any] | None]]:
    return matching_subscriptions(subscriptions, MessageKind.TRIGGER_FIRED, name=trigger.rule)


async def _queue_trigger(
    envelope: Envelope, trigger: TriggerFiredV1, subscriptions: list[Subscription], deps: NotifyDeps
) -> list[Delivery]:
    """Queues a trigger of a person not erased for the subscriptions that want it, frequency cap permitting."""
    organisation_id, store = envelope.organisation_id, deps.store
    wanted = _wanted_trigger(subscriptions, trigger)
    if not wanted:
        return []
    suppressed = None
    message = message_id(organisation_id, envelope.id)
    decided = await store.delivery(delivery_id(wanted[0][0].subscription_id, message))
    if decided is not None:
        # Accepted before (Kafka delivers it again): the cap decided then. Judged again now, when the window has
        # moved on, a message the cap held back would be counted against the allowance, and never sent.
        if decided.status is DeliveryStatus.SUPPRESSED and decided.last_error == Suppression.FREQUENCY_CAP.value:
            suppressed = Suppression.FREQUENCY_CAP
    elif trigger.purpose is not None and _reaches_the_person(trigger, trigger.purpose):
        # Counted when accepted, not when sent: a person's triggers arrive in order on one partition, so this
        # read-then-write has a single writer per person, which a check at send time (many lanes) would not.
        now = deps.clock.now()
        sent = await store.sends(organisation_id, trigger.person_id)
        if not deps.rules.cap.admits(sent, message, now):
            suppressed = Suppression.FREQUENCY_CAP
        elif message not in sent:
            # Only when first accepted: a redelivery counted again from now would hold a place in the person's
            # allowance for longer than the window, and suppress a later message the cap admits.
            expired = [old for old in sent if old not in deps.rules.cap.recent(sent, now)]
            await store.record_send(organisation_id, trigger.person_id, message, now, expired)
    return await _queue_deliveries(
        envelope,
        deps,
        wanted,
        kind=MessageKind.TRIGGER_FIRED,
        data=trigger.model_dump(mode="json"),
        person_id=trigger.person_id,
        purpose=trigger.purpose,
        suppressed=suppressed,
    )


def _reaches_the_person(trigger: TriggerFiredV1, purpose: ConsentPurpose) -> bool:
    """Whether the trigger names a contact point on its purpose's channel: profile fires a rule for someone without
    the consent it needs too, and such a message, never sent, must not use up their allowance of messages."""
    channel = CHANNEL_OF_PURPOSE[purpose]
    return any(point.channel is channel for point in trigger.contact_points)


async def accept_segment_change(
    envelope: Envelope, change: SegmentEnteredV1 | SegmentExitedV1, deps: NotifyDeps
) -> list[Delivery]:
    """Keeps the segment's membership (for exports, and the tags of Mailchimp members) and queues the change for the
    subscriptions that want it."""
    organisation_id, store = envelope.organisation_id, deps.store
    if await store.is_erased(organisation_id, change.person_id):
        return []
    entered = isinstance(change, SegmentEnteredV1)
    await store.set_membership(organisation_id, change.segment, change.person_id, entered)
    return await _queue_segment_change(envelope, change, await store.subscriptions(organisation_id), deps)


async def _queue_segment_change(
    envelope: Envelope, change: SegmentEnteredV1 | SegmentExitedV1, subscriptions: list[Subscription], deps: NotifyDeps
) -> list[Delivery]:
    kind = MessageKind.SEGMENT_ENTERED if isinstance(change, SegmentEnteredV1) else MessageKind.SEGMENT_EXITED
    wanted = matching_subscriptions(subscriptions, kind, name=change.segment)
    return await _queue_deliveries(
        envelope, deps, wanted, kind=kind, data=change.model_dump(mode="json"), person_id=change.person_id
    )


async def accept_profile_change(envelope: Envelope, change: ProfileChangedV1, deps: NotifyDeps) -> list[Delivery]:
    """Folds the change into the person's contact, then queues it for subscriptions that want one of its fields."""
    organisation_id, store = envelope.organisation_id, deps.store
    if await store.is_erased(organisation_id, change.person_id):
        return []
    contact = await store.contact(organisation_id, change.person_id) or Contact(change.person_id)
    applied = apply_change(contact, change.changed, change.profile_version, envelope.time)
    if applied is not None:
        await store.save_contact(organisation_id, applied)
    return await _queue_profile_change(envelope, change, await store.subscriptions(organisation_id), deps)


async def _queue_profile_change(
    envelope: Envelope, change: ProfileChangedV1, subscriptions: list[Subscription], deps: NotifyDeps
) -> list[Delivery]:
    wanted = matching_subscriptions(subscriptions, MessageKind.PROFILE_CHANGED, changed=change.changed)
    data = {"person_id": change.person_id, "profile_version": change.profile_version}
    return await _queue_deliveries(
        envelope, deps, wanted, kind=MessageKind.PROFILE_CHANGED, data=data, person_id=change.person_id
    )


PersonEvent = ProfileChangedV1 | SegmentEnteredV1 | SegmentExitedV1 | TriggerFiredV1


async def accept_together(
    events: Sequence[tuple[Envelope, PersonEvent]], deps: NotifyDeps, *, concurrency: int = 1
) -> list[list[Delivery] | None]:
    """Accepts a consumer batch's events as one at a time in order would, with fewer store commands; returns what
    each queued, or None for the events it left to be accepted one at a time (all of a person's whose acceptance
    failed: whatever part of it was done, accepting them again is idempotent).

    The subscriptions of each organisation are read once for the batch, as if all its events had been accepted
    when it was read. That is acceptable: which events a subscription gets after it is stored already depends on
    how far behind the consumer is, and a batch moves that cut by at most its own duration; the next batch reads
    afresh. A subscription deleted while the batch runs may still be queued for, as with one event at a time
    between its read and its insert, only for longer: that delivery waits in a queue no worker serves (the
    deletion gave up on those queued before it).

    Whether each person is erased is asked once for the batch, and the contacts its changes concern are read
    together, each with their changes folded into it in order. The contacts are saved together, before anything is
    queued for them. Each person's segment exits are written as the last move left them, and the segments entered,
    of every person, in one command: all before anything is queued for them, since a Mailchimp attempt tags a member
    as the membership is when it is made.
    A person's events must all be here and in their order, and no erasure of theirs among them:
    an erasure is accepted one at a time, and so is everything of theirs after it.
    """
    subscriptions = {
        organisation_id: await deps.store.subscriptions(organisation_id)
        for organisation_id in dict.fromkeys(envelope.organisation_id for envelope, _ in events)
    }
    by_person: dict[tuple[str, str], list[int]] = {}
    for index, (envelope, event) in enumerate(events):
        by_person.setdefault((envelope.organisation_id, event.person_id), []).append(index)
    outcomes: list[list[Delivery] | None] = [None] * len(events)
    # What each person's events make of their contact; a person whose contact could not be read is left out.
    contacts: dict[tuple[str, str], _FoldedContact] = {}
    slots = asyncio.Semaphore(concurrency)

    async def fold_contacts(organisation_id: str) -> None:
        changes = {
            person_id: [
                (envelope.time, event)
                for envelope, event in (events[index] for index in indexes)
                if isinstance(event, ProfileChangedV1)
            ]
            for (organisation, person_id), indexes in by_person.items()
            if organisation == organisation_id
        }
        for person_id, folded in (await _folded_contacts(organisation_id, changes, deps)).items():
            contacts[(organisation_id, person_id)] = folded

    async def accept_persons(person: tuple[str, str], indexes: list[int]) -> None:
        if person not in contacts:
            return
        if contacts[person].erased:
            for index in indexes:
                outcomes[index] = []
            return
        persons_events = [events[index] for index in indexes]
        async with slots:
            try:
                queued = await _accept_persons_events(persons_events, subscriptions[person[0]], deps)
            except Exception as exc:  # the person's events are accepted one at a time, with retries and dead letters
                log.warning("accepting %d events of a person together failed: %r", len(indexes), exc)
                return
        for index, deliveries in zip(indexes, queued, strict=True):
            outcomes[index] = deliveries

    # Each organisation's erasures and contacts read side by side.
    await asyncio.gather(*(fold_contacts(organisation_id) for organisation_id in subscriptions))
    for organisation_id in subscriptions:
        changed = {
            person: folded.changed
            for person, folded in contacts.items()
            if person[0] == organisation_id and folded.changed is not None
        }
        new_persons = [person[1] for person in changed if contacts[person].new]
        try:
            await deps.store.save_contacts(organisation_id, list(changed.values()), new_persons=new_persons)
        except Exception as exc:  # as above: what was done is done again, the same, one event at a time
            log.warning("saving %d contacts together failed: %r", len(changed), exc)
            for person in changed:
                del contacts[person]
    for organisation_id in subscriptions:
        entering = {
            person: [
                segment for segment, member in _memberships([events[index] for index in indexes]).items() if member
            ]
            for person, indexes in by_person.items()
            if person[0] == organisation_id and person in contacts and not contacts[person].erased
        }
        memberships = [(segment, person[1]) for person, segments in entering.items() for segment in segments]
        if not memberships:
            continue
        try:
            await deps.store.enter_segments(organisation_id, memberships)
        except Exception as exc:  # as above
            log.warning("recording %d segment memberships together failed: %r", len(memberships), exc)
            for person, segments in entering.items():
                if segments:
                    del contacts[person]
    await asyncio.gather(*(accept_persons(person, indexes) for person, indexes in by_person.items()))
    return outcomes


@dataclass(frozen=True)
class _FoldedContact:
    # The person is erased: none of their events is accepted.
    erased: bool
    # Their contact with the batch's changes folded in, or None if these change nothing.
    changed: Contact | None
    # No contact of theirs was stored when read.
    new: bool = False


async def _folded_contacts(
    organisation_id: str, changes: Mapping[str, Sequence[tuple[datetime, ProfileChangedV1]]], deps: NotifyDeps
) -> dict[str, _FoldedContact]:
    """What each person of one organisation makes of their contact with their `changes`; those whose contacts could
    not be read or folded are left out."""
    erased = await deps.store.erased_among(organisation_id, list(changes))
    changing = [person_id for person_id, changed in changes.items() if changed and person_id not in erased]
    stored: dict[str, Contact] | None = {}
    if changing:
        try:
            stored = await deps.store.contacts(organisation_id, changing)
        except Exception as exc:  # their events are accepted one at a time, with retries and dead letters
            log.warning("reading the contacts of %d persons together failed: %r", len(changing), exc)
            stored = None
    folded = {}
    for person_id, changed in changes.items():
        if person_id in erased or not changed:
            folded[person_id] = _FoldedContact(erased=person_id in erased, changed=None)
        elif stored is not None:
            try:
                known = stored.get(person_id)
                folded[person_id] = replace(_folded_contact(known or Contact(person_id), changed), new=known is None)
            except Exception as exc:  # as a failed read: this person's events are accepted one at a time
                log.warning("folding %d changes into a contact failed: %r", len(changed), exc)
    return folded


def _folded_contact(contact: Contact, changes: Sequence[tuple[datetime, ProfileChangedV1]]) -> _FoldedContact:
    """What a person not erased makes of their stored `contact` with their `changes` (each with the time it was
    announced), in order."""
    folded = False
    for announced_at, change in changes:
        applied = apply_change(contact, change.changed, change.profile_version, announced_at)
        if applied is not None:
            contact, folded = applied, True
    return _FoldedContact(erased=False, changed=contact if folded else None)


def _memberships(events: Sequence[tuple[Envelope, PersonEvent]]) -> dict[str, bool]:
    """Of one person's events in order: each segment they enter or leave, and whether the last of them left them in."""
    return {
        event.segment: isinstance(event, SegmentEnteredV1)
        for _, event in events
        if isinstance(event, SegmentEnteredV1 | SegmentExitedV1)
    }


async def _accept_persons_events(
    events: Sequence[tuple[Envelope, PersonEvent]], subscriptions: list[Subscription], deps: NotifyDeps
) -> list[list[Delivery]]:
    """Accepts one person's events, their contact saved already and the segments they entered recorded."""
    store = deps.store
    organisation_id, person_id = events[0][0].organisation_id, events[0][1].person_id
    for segment, member in _memberships(events).items():
        if not member:
            await store.set_membership(organisation_id, segment, person_id, member)
    queued = []
    for envelope, event in events:
        match event:
            case TriggerFiredV1():
                queued.append(await _queue_trigger(envelope, event, subscriptions, deps))
            case SegmentEnteredV1() | SegmentExitedV1():
                queued.append(await _queue_segment_change(envelope, event, subscriptions, deps))
            case ProfileChangedV1():
                queued.append(await _queue_profile_change(envelope, event, subscriptions, deps))
    return queued


async def erase_person(envelope: Envelope, erased: ProfileErasedV1, deps: NotifyDeps) -> int:
    """Forgets the person everywhere and cancels what was still to be sent to them, or could be once replayed (a
    dead delivery: `cancelled` as `erased`, for good); returns how many it cancelled, pending and dead. Their members
    in the Mailchimp audiences are queued for deletion."""
    store = deps.store
    # Noted before the addresses are compared: of two persons sharing an address erased side by side (on two
    # instances), each skipping a member the other still kept would leave it in Mailchimp for good. Each notes its
    # erasure first, then finds the other's noted (or finishes first, the other then finding it noted).
    await store.note_erasure(envelope.organisation_id, erased.person_id, erased.at)
    contact = await store.contact(envelope.organisation_id, erased.person_id)
    if contact is not None:
        # Queued before the contact goes: a redelivery of the erasure, the contact deleted, would find nothing to
        # queue; before it, it queues the same deliveries again, which the store takes once.
        await _queue_member_deletions(envelope, contact, deps)
    await store.erase(envelope.organisation_id, erased.person_id, erased.at)
    cancelled = 0
    for delivery in await store.person_deliveries(envelope.organisation_id, erased.person_id):
        if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.DEAD):
            await store.forget_person_in_delivery(delivery, DeliveryStatus.CANCELLED, Suppression.ERASED.value)
            cancelled += 1
        elif delivery.status is DeliveryStatus.SUPPRESSED:
            # Its reason is a code (`consent_withdrawn`), never a receiver's words: it stays to say why.
            await store.forget_person_in_delivery(delivery, DeliveryStatus.SUPPRESSED, delivery.last_error)
        else:
            await store.forget_person_in_delivery(delivery, None)
    return cancelled


async def _queue_member_deletions(envelope: Envelope, contact: Contact, deps: NotifyDeps) -> list[Delivery]:
    """Queues, for each Mailchimp audience the organisation syncs (a disabled one too), the permanent deletion of
    the erased person's members: archived or unsubscribed, a member keeps the person's address, name and history."""
    store, organisation_id = deps.store, envelope.organisation_id
    audiences = [
        subscription
        for subscription in await store.subscriptions(organisation_id)
        if subscription.kind is TargetKind.MAILCHIMP
    ]
    if not audiences:
        return []
    addresses = {*contact.emails, *contact.mailchimp_members.values()}
    ids = [subscription.subscription_id for subscription in audiences]
    shared = await store.addresses_of_others(organisation_id, contact.person_id, addresses, ids)
    hashes = members_to_forget(contact, shared)
    if not hashes:
        return []
    return await _queue_deliveries(
        envelope,
        deps,
        [(subscription, None) for subscription in audiences],
        kind=MessageKind.PROFILE_ERASED,
        # Subscriber hashes, not addresses: all the deletion needs, and dropped once the members are deleted.
        data={"subscriber_hashes": hashes},
        person_id=None,
    )


# Delivery: one attempt


@dataclass(frozen=True)
class AttemptOutcome:
    delivery: Delivery
    number: int
    verdict: str
    answer: HttpAnswer | None = None
    reason: str | None = None
    final: bool = True
    at: datetime | None = None


async def _close(
    deps: NotifyDeps, delivery: Delivery, claim: AttemptRecord, status: DeliveryStatus, reason: str
) -> AttemptOutcome:
    now = deps.clock.now()
    await deps.store.expect_announcement(claim.attempt_id, now)
    await deps.store.finish_attempt(replace(claim, finished_at=now, outcome=status.value, error=reason, final=True))
    await deps.store.update_delivery(
        delivery.delivery_id,
        {"status": status, "attempts": claim.number, "last_error": reason, "next_attempt_at": None},
    )
    await deps.store.dequeue(delivery.subscription_id, delivery.delivery_id)
    return AttemptOutcome(
        replace(delivery, status=status, attempts=claim.number), claim.number, status.value, None, reason, at=now
    )


async def _claim(deps: NotifyDeps, delivery: Delivery, owner: str) -> AttemptRecord | None:
    """This worker's claim on the delivery's next attempt; None if another worker holds it."""
    now, number = deps.clock.now(), delivery.attempts + 1
    claim = AttemptRecord(attempt_id(delivery.delivery_id, number), delivery.delivery_id, number, now, owner)
    held = await deps.store.claim_attempt(claim)
    if held is None:
        return claim
    # A worker makes one attempt at a delivery at a time, so its own unfinished claim is an attempt that broke off
    # (the store went away while it was recorded): taken up now, not a whole lease later.
    if held.finished_at is None and held.owner != owner and held.claimed_at + deps.rules.attempt_lease > now:
        return None
    if held.finished_at is not None and held.final and (status := _FINAL_STATUSES.get(held.outcome or "")):
        # Its worker recorded how the delivery ended (the receiver took it, refused it, or it was suppressed) and
        # died before moving the delivery on: that end stands. Another attempt would send a message taken already.
        await deps.store.update_delivery(
            delivery.delivery_id,
            {
                "status": status,
                "attempts": number,
                "next_attempt_at": None,
                "last_status_code": held.status_code,
                "last_error": held.error,
            },
        )
        await deps.store.dequeue(delivery.subscription_id, delivery.delivery_id)
        if held.outcome == Verdict.GONE.value:
            await deps.store.disable_subscription(
                delivery.subscription_id, held.error or "410 Gone", DisabledReason.RECEIVER_GONE
            )
        return None
    # Its worker died or broke off mid-attempt, or after recording a failed attempt but before moving the delivery
    # on: the attempt counts as made, and the next one is due now, or when the failed one said (a Retry-After).
    # Broken off mid-attempt, a receiver may so get a message twice; the `webhook-id` lets it tell.
    if held.finished_at is None:
        await deps.store.finish_attempt(replace(held, finished_at=now, outcome="interrupted"))
    due = held.retry_at if held.finished_at is not None and held.retry_at is not None else now
    await deps.store.update_delivery(delivery.delivery_id, {"attempts": number, "next_attempt_at": due})
    await deps.store.enqueue(delivery.subscription_id, delivery.delivery_id, due, delivery.created_at)
    if due > now:
        return None
    # Made now by this worker: told that nothing was attempted, the lane would leave it to rest as held elsewhere.
    return await _claim(deps, replace(delivery, attempts=number, next_attempt_at=due), owner)


# The delivery's status after each final outcome an attempt records (see `_record` and `_close`).
_FINAL_STATUSES = {
    Verdict.SUCCEEDED.value: DeliveryStatus.SUCCEEDED,
    Verdict.DEAD.value: DeliveryStatus.DEAD,
    Verdict.GONE.value: DeliveryStatus.DEAD,
    DeliveryStatus.SUPPRESSED.value: DeliveryStatus.SUPPRESSED,
    DeliveryStatus.CANCELLED.value: DeliveryStatus.CANCELLED,
}


async def _webhook_attempt(
    delivery: Delivery, subscription: Subscription, deps: NotifyDeps, outbound: Outbound
) -> HttpAnswer | Suppression:
    data = dict(delivery.data)
    if delivery.kind == MessageKind.TRIGGER_FIRED.value and delivery.person_id is not None:
        contact = await deps.store.contact(delivery.organisation_id, delivery.person_id)
        points = [(Channel(point["channel"]), point["value"]) for point in data.get("contact_points", ())]
        if delivery.purpose is not None:
            check = check_send(contact, ConsentPurpose(delivery.purpose), points, erased=False, now=deps.clock.now())
            if check.suppressed is not None:
                return check.suppressed
            points = list(check.contact_points)
        data = personalised_trigger(data, message_language(contact, data.get("language", "fr")), points)
    now = deps.clock.now()
    body = webhook_body(delivery.kind, delivery.occurred_at, data)
    headers = signature_headers(subscription.secrets_in_force(now), delivery.message_id, int(now.timestamp()), body)
    headers["Content-Type"] = "application/json"
    return await outbound.request("POST", subscription.url, body=body, headers=headers)


async def _mailchimp_attempt(
    delivery: Delivery, target: MailchimpTarget, deps: NotifyDeps, outbound: Outbound
) -> HttpAnswer | Suppression:
    """Brings the person's member up to date: created or updated if consent allows, unsubscribed if withdrawn."""
    if delivery.kind == MessageKind.PROFILE_ERASED.value:
        return await _delete_members(delivery, target, deps, outbound)
    person_id = delivery.person_id
    if person_id is None:
        return Suppression.ERASED
    store, now = deps.store, deps.clock.now()
    contact = await store.contact(delivery.organisation_id, person_id)
    if contact is None:
        return Suppression.NO_CONTACT_POINT
    kept = contact.mailchimp_members.get(delivery.subscription_id)
    if not contact.emails and kept is None:
        # A person who gives no address any more may still have the member the sync kept: a withdrawal reaches it.
        return Suppression.NO_CONTACT_POINT
    # With every address undeliverable there is no member to keep up to date, but a withdrawal still reaches them all.
    email = member_email(contact)
    points = [] if email is None else [(Channel.EMAIL, email)]
    check = check_send(contact, MAILCHIMP_PURPOSE, points, erased=False, now=now)
    if not contact.consent(MAILCHIMP_PURPOSE).known and check.allowed:
        # An audience is for people who said yes: without an announced consent, nobody is added to it.
        return Suppression.NO_CONSENT
    audience = MailchimpAudience(outbound)
    # Every address the person gave, and the one their member is kept under should they no longer give it.
    addresses = tuple(dict.fromkeys((*contact.emails, *([kept] if kept else []))))
    if check.suppressed in WITHDRAWALS:
        return await _for_every_address(addresses, lambda address: audience.unsubscribe_member(target, address))
    # Consent no longer known for someone the sync made a member (an unmerge took their consent to another
    # profile): they are no longer someone who said yes, and leave the audience as a lapse does.
    no_longer_known = check.suppressed is Suppression.NO_CONSENT and kept is not None
    if check.suppressed in LAPSES or no_longer_known:
        # The members found unsubscribed, as Mailchimp answered.
        opted_out: list[Mapping[str, Any]] = []

        async def archive(address: str) -> HttpAnswer:
            # An archived member shows no status: one who unsubscribed in Mailchimp is read first, and their
            # unsubscribe kept, or consent implied again would bring them back subscribed.
            member = await audience.get_member(target, address)
            if member.json is not None and unsubscribed_in_mailchimp(member.json):
                opted_out.append(member.json)
                return member
            if not _succeeded(member):
                return member
            if member.json is not None and cleaned_in_mailchimp(member.json):
                # Left cleaned: archived, it would lose the mark that it bounces, and be brought back subscribed.
                return member
            archived = await audience.archive_member(target, address)
            if _succeeded(archived):
                # Noted as archived by this sync: only such a member is brought back when consent is given again.
                await store.record_mailchimp_archived(
                    delivery.organisation_id, person_id, delivery.subscription_id, address, archived=True
                )
            return archived

        answer = await _for_every_address(addresses, archive)
        if opted_out:
            # The earliest Mailchimp dates, as the opt-out in force keeps; an undated one when none is dated.
            earliest = min(opted_out, key=lambda member: changed_in_mailchimp(member) or now)
            await _record_opt_out(delivery, earliest, now, deps)
        return answer
    if check.suppressed is not None or email is None:
        return check.suppressed or Suppression.NO_CONTACT_POINT
    if kept is not None and subscriber_hash(kept) != subscriber_hash(email):
        unmoved = await _move_member(audience, target, kept, email)
        if unmoved is not None:
            if unmoved.json is not None and unsubscribed_in_mailchimp(unmoved.json):
                await _record_opt_out(delivery, unmoved.json, now, deps)
            return unmoved
    answer = await audience.upsert_member(target, email, member_body(contact, email, fallback="fr"))
    if answer.status_code == MEMBER_NOT_CHANGED and (answer.json or {}).get("title") == IN_COMPLIANCE_STATE:
        # The person unsubscribed there, or Mailchimp removed them for a bounce or a complaint: Parterre stops emailing
        # them too, rather than meeting the same refusal at each change.
        await _record_opt_out(delivery, {}, now, deps)
        return answer
    if not _succeeded(answer):
        return answer
    if kept != email:
        await store.record_mailchimp_member(delivery.organisation_id, person_id, delivery.subscription_id, email)
    if answer.json is not None and answer.json.get("status") == ARCHIVED:
        if subscriber_hash(email) not in contact.mailchimp_archived.get(delivery.subscription_id, frozenset()):
            # Archived in Mailchimp by someone else, often after an unsubscribe that archiving hides: left archived,
            # as Mailchimp asks that no one who left be subscribed again without their consent given there.
            return answer
        # Archived by this sync when an implied consent lapsed, and allowed again since.
        answer = await audience.unarchive_member(target, email)
        if not _succeeded(answer):
            return answer
        await store.record_mailchimp_archived(
            delivery.organisation_id, person_id, delivery.subscription_id, email, archived=False
        )
    if answer.json is not None and unsubscribed_in_mailchimp(answer.json):
        # The person left the audience in Mailchimp: Parterre stops emailing them from now on.
        await _record_opt_out(delivery, answer.json, now, deps)
        return answer
    if answer.json is not None and cleaned_in_mailchimp(answer.json):
        # This address bounces; the person's consent stands, and a member of theirs under another address is kept.
        return answer
    if delivery.kind in (MessageKind.SEGMENT_ENTERED.value, MessageKind.SEGMENT_EXITED.value):
        # The membership as it is now, not as the delivery tells it: a person's deliveries may be attempted in
        # another order than they were queued (a retry, one left for the person's turn), and an entry attempted
        # after the exit that followed it must not tag the member again.
        segment = delivery.data["segment"]
        entered = await store.is_member(delivery.organisation_id, segment, person_id)
        return await audience.update_tags(target, email, tags_body(segment, entered=entered))
    if delivery.kind == MessageKind.TRIGGER_FIRED.value:
        return await audience.update_tags(target, email, tags_body(delivery.data["rule"], entered=True))
    return answer


async def _delete_members(
    delivery: Delivery, target: MailchimpTarget, deps: NotifyDeps, outbound: Outbound
) -> HttpAnswer:
    """Deletes an erased person's members for good, each under its subscriber hash; one not there (404) is gone."""
    audience = MailchimpAudience(outbound)
    hashes = [str(member_hash) for member_hash in delivery.data.get("subscriber_hashes", ())]
    answer = await _for_every_address(
        hashes, lambda member_hash: audience.delete_member_permanently(target, member_hash)
    )
    if _succeeded(answer):
        # The hashes still name the person to whoever has their address: once the members are gone, they go too.
        await deps.store.forget_person_in_delivery(delivery, None)
    return answer


async def _record_opt_out(delivery: Delivery, member: Mapping[str, Any], now: datetime, deps: NotifyDeps) -> None:
    """Notes the unsubscribe Mailchimp's answer shows, with the member's `last_changed` and `timestamp_opt`."""
    assert delivery.person_id is not None
    opt_out = OptOut(
        MAILCHIMP_PURPOSE.value, now, changed_at=changed_in_mailchimp(member), opted_in_at=opted_in_in_mailchimp(member)
    )
    await deps.store.record_opt_out(delivery.organisation_id, delivery.person_id, opt_out)


# Mailchimp's answer to a change of one member it will not make (a `cleaned` one): that address is settled.
MEMBER_NOT_CHANGED = 400
# The `title` of Mailchimp's 400 for an address it will not subscribe again: unsubscribed, bounced or reported there.
IN_COMPLIANCE_STATE = "Member In Compliance State"


async def _move_member(
    audience: MailchimpAudience, target: MailchimpTarget, kept: str, email: str
) -> HttpAnswer | None:
    """The person's latest address is no longer the one their member is kept under: the member moves to it, status,
    tags and history with it, rather than a second member getting every campaign twice, one of them at an address the
    person may have left. None when the sync may go on to `email`; else the attempt's answer: a failure, to be tried
    again whole (each call can be repeated), or the old member showing the person unsubscribed there.

    A member Mailchimp cleaned stays where it is: its address bounces, the new one need not. When `email` is a member
    already, the old member is archived, as the sync put it there for this person, unless it shows the person
    unsubscribed, which stops the sync, or the member under `email` is cleaned (the old one is then the only one
    that reaches the person). A refusal to move with no member under `email` leaves the old member as it is."""
    old = await audience.get_member(target, kept)
    if old.status_code == 404:
        # Gone from the audience: deleted there, or moved by an attempt broken off before it was noted.
        return None
    if not _succeeded(old):
        return old
    status = (old.json or {}).get("status")
    if status == CLEANED:
        return None
    moved = await audience.move_member(target, kept, email)
    if moved.status_code == 404 or _succeeded(moved):
        return None
    if moved.status_code != MEMBER_NOT_CHANGED:
        return moved
    if status == UNSUBSCRIBED:
        return old
    if status == ARCHIVED:
        return None
    # A 400 is not always `Member Exists` (an address Mailchimp takes for fake, one forgotten on request): the old
    # member goes only for a member under the new address, and not one that bounces, or the person would get nothing.
    new = await audience.get_member(target, email)
    if new.status_code == 404:
        return moved
    if not _succeeded(new):
        return new
    if new.json is not None and cleaned_in_mailchimp(new.json):
        return None
    archived = await audience.archive_member(target, kept)
    return None if archived.status_code in (404, MEMBER_NOT_CHANGED) or _succeeded(archived) else archived


def _succeeded(answer: HttpAnswer) -> bool:
    return answer.status_code is not None and 200 <= answer.status_code < 300


async def _for_every_address(addresses: Sequence[str], call: Callable[[str], Awaitable[HttpAnswer]]) -> HttpAnswer:
    """`call` for each address, in turn; the first answer that is neither a success, a 404 (never a member under
    that address) nor a 400 (a member Mailchimp will not change) is the attempt's, a retryable one first, to be tried
    again whole: each call can be repeated."""
    duration = 0.0
    failed: HttpAnswer | None = None
    refused: HttpAnswer | None = None
    for address in addresses:
        answer = await call(address)
        duration += answer.duration_seconds
        if answer.status_code != 404 and not _succeeded(answer):
            # The other addresses are still seen to: a refusal of one (a `cleaned` member) must not leave them.
            retryable = answer.status_code is None or answer.status_code >= 500 or answer.status_code in (408, 425, 429)
            if retryable and failed is None:
                failed = answer
            elif retryable or answer.status_code == MEMBER_NOT_CHANGED:
                log.warning("Mailchimp refused a change of one member: %s", answer.status_code)
            elif refused is None:
                # Not about one member (a revoked key, another data centre, a redirect): the person is still in the
                # audience as before, so the delivery must end dead and replayable, not succeeded.
                refused = answer
    return failed or refused or HttpAnswer(200, duration_seconds=duration)


async def attempt_delivery(
    delivery_id_: str,
    subscription: Subscription,
    deps: NotifyDeps,
    outbound: Outbound,
    *,
    owner: str,
    draw: float,
) -> AttemptOutcome | None:
    """Makes the delivery's next attempt if it is due and pending, and records what came of it.

    None when there was nothing to do: the delivery is no longer pending, not due yet (its queue entry is moved to
    when it is), or another worker holds the attempt.
    Raises `MailchimpTurnTakenError`, claiming nothing, while another attempt of this process about the same person
    to the same Mailchimp subscription is under way.
    """
    store = deps.store
    delivery = await store.delivery(delivery_id_)
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        await store.dequeue(subscription.subscription_id, delivery_id_)
        return None
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > deps.clock.now():
        # Queued sooner than its last attempt said (a Retry-After, the schedule): the outcome was stored and its
        # queue entry not moved on (the store failed in between, see `_record`). Sent now, the receiver that asked
        # for an hour would hear again at once; the entry goes where the delivery says instead.
        await store.enqueue(subscription.subscription_id, delivery_id_, delivery.next_attempt_at, delivery.created_at)
        return None
    turn = _mailchimp_turn(delivery, subscription)
    if turn is not None:
        if turn in deps.mailchimp_turns:
            raise MailchimpTurnTakenError(delivery_id_)
        deps.mailchimp_turns.add(turn)
    try:
        return await _claimed_attempt(delivery, subscription, deps, outbound, owner=owner, draw=draw)
    finally:
        if turn is not None:
            deps.mailchimp_turns.discard(turn)


class MailchimpTurnTakenError(Exception):
    """Another attempt of this process about the same person to the same Mailchimp subscription is under way: this
    one is to be made later (its lane rests it a poll)."""


def _mailchimp_turn(delivery: Delivery, subscription: Subscription) -> str | None:
    """For a Mailchimp attempt about a person: what it holds from before its claim until its outcome is recorded,
    and what no other attempt of this process starts while it does.

    Each attempt reads the person's contact, then changes their member from what it read. Two at once, one having
    read the address the person gave before and the other the new one, would leave a member under each: the old one
    subscribed again after the other moved it. One after the other, the second reads what the first did. Only the
    attempts of one process keep apart so: instances that share a Mailchimp subscription can still meet."""
    if subscription.kind is not TargetKind.MAILCHIMP or delivery.person_id is None:
        return None
    return f"{subscription.subscription_id}|{delivery.organisation_id}|{delivery.person_id}"


async def _claimed_attempt(
    delivery: Delivery,
    subscription: Subscription,
    deps: NotifyDeps,
    outbound: Outbound,
    *,
    owner: str,
    draw: float,
) -> AttemptOutcome | None:
    store = deps.store
    claim = await _claim(deps, delivery, owner)
    if claim is None:
        return None
    try:
        if await _about_an_erased_person(delivery, deps):
            await store.forget_person_in_delivery(delivery, DeliveryStatus.CANCELLED, Suppression.ERASED.value)
            return await _close(deps, delivery, claim, DeliveryStatus.CANCELLED, Suppression.ERASED.value)
        if subscription.kind is TargetKind.MAILCHIMP and subscription.mailchimp is not None:
            result = await _mailchimp_attempt(delivery, subscription.mailchimp, deps, outbound)
        else:
            result = await _webhook_attempt(delivery, subscription, deps, outbound)
    except BaseException:
        # Stopped mid-attempt (a shutdown): free the claim so the next start makes this attempt at once.
        await _uninterrupted(store.release_attempt(claim.attempt_id))
        raise
    if isinstance(result, Suppression):
        return await _uninterrupted(_close(deps, delivery, claim, DeliveryStatus.SUPPRESSED, result.value))
    return await _uninterrupted(_record(deps, delivery, subscription, claim, result, draw))


async def _uninterrupted(recording: Coroutine[Any, Any, Recorded]) -> Recorded:
    """Stores an attempt's outcome (or frees its claim) whole even if the worker is stopped meanwhile, then lets the
    stop go on.

    Cut in the middle, an outcome would leave its claim unfinished, and the delivery would wait a whole attempt
    lease after the restart before anyone tried it again.
    """
    task = asyncio.ensure_future(recording)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        # Shielded each time: a stop cancels again a task that goes on (see `shared.tasks.cancel_and_wait`).
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        task.result()
        raise


async def _record(
    deps: NotifyDeps,
    delivery: Delivery,
    subscription: Subscription,
    claim: AttemptRecord,
    answer: HttpAnswer,
    draw: float,
) -> AttemptOutcome:
    store, now = deps.store, deps.clock.now()
    if answer.refused is not None:
        decision = Decision(Verdict.DEAD, reason=f"refused by outbound safety: {answer.refused}")
    else:
        decision = decide(
            attempt=claim.number - delivery.round_start,
            status_code=answer.status_code,
            error=answer.error,
            retry_after=answer.retry_after,
            now=now,
            schedule=deps.rules.schedule,
            draw=draw,
        )
    status = {
        Verdict.SUCCEEDED: DeliveryStatus.SUCCEEDED,
        Verdict.RETRY: DeliveryStatus.PENDING,
        Verdict.DEAD: DeliveryStatus.DEAD,
        Verdict.GONE: DeliveryStatus.DEAD,
    }[decision.verdict]
    error = decision.reason if decision.verdict is not Verdict.SUCCEEDED else None
    if answer.error and decision.verdict is not Verdict.SUCCEEDED and answer.status_code is not None:
        error = f"{decision.reason}: {answer.error}"[:1000]
    if error and delivery.person_id is not None and await store.is_erased(delivery.organisation_id, delivery.person_id):
        # Erased while the receiver answered: its words may quote the person, and the erasure already went by.
        error = None
    # Noted before the outcome is stored, so a crash between storing and publishing leaves it to publish later.
    await store.expect_announcement(claim.attempt_id, now)
    await store.finish_attempt(
        replace(
            claim,
            finished_at=now,
            outcome=decision.verdict.value,
            status_code=answer.status_code,
            error=error,
            duration_seconds=answer.duration_seconds,
            final=decision.final,
            retry_at=decision.retry_at,
        )
    )
    current = await store.delivery(delivery.delivery_id)
    if current is None or current.status is not DeliveryStatus.PENDING:
        # Given up on while this attempt was under way (its subscription deleted, its queue full): the attempt is
        # on record, and the delivery stays where that put it rather than being queued again. It counts as made, so
        # a replay's first attempt is a new one, not this one taken for its own.
        if current is not None and current.attempts < claim.number:
            await store.update_delivery(delivery.delivery_id, {"attempts": claim.number})
        return AttemptOutcome(current or delivery, claim.number, decision.verdict.value, answer, error, True, at=now)
    await store.update_delivery(
        delivery.delivery_id,
        {
            "status": status,
            "attempts": claim.number,
            "next_attempt_at": decision.retry_at,
            "last_status_code": answer.status_code,
            "last_error": error,
        },
    )
    if decision.retry_at is not None:
        await store.enqueue(subscription.subscription_id, delivery.delivery_id, decision.retry_at, delivery.created_at)
    else:
        await store.dequeue(subscription.subscription_id, delivery.delivery_id)
    if decision.verdict is Verdict.GONE:
        await store.disable_subscription(
            subscription.subscription_id, decision.reason or "410 Gone", DisabledReason.RECEIVER_GONE
        )
    return AttemptOutcome(
        replace(delivery, status=status, attempts=claim.number),
        claim.number,
        decision.verdict.value,
        answer,
        error,
        decision.final,
        at=now,
    )


async def unannounced_outcomes(deps: NotifyDeps, *, limit: int = 100) -> list[AttemptOutcome]:
    """Stored outcomes whose event was never published (the worker died first), to publish again.

    An outcome waits one attempt lease before it counts as left behind: until then its own worker may still be
    publishing it. Publishing twice is harmless, since an outcome's event id is its attempt's id.
    """
    store = deps.store
    outcomes = []
    for attempt_id_ in await store.unannounced(deps.clock.now() - deps.rules.attempt_lease, limit):
        record = await store.attempt(attempt_id_)
        if record is not None and record.finished_at is None:
            continue  # under way, or abandoned: the next claim finishes it as interrupted
        delivery = None if record is None else await store.delivery(record.delivery_id)
        if record is None or record.outcome == "interrupted" or delivery is None:
            # Released, never stored, or forgotten: there is no outcome to announce.
            await store.announced(attempt_id_)
            continue
        answer = None if record.status_code is None else HttpAnswer(record.status_code)
        outcomes.append(
            AttemptOutcome(
                delivery,
                record.number,
                record.outcome or "interrupted",
                answer,
                record.error,
                True if record.final is None else record.final,
                at=record.finished_at,
            )
        )
    return outcomes


# A delivery's status in French words (of `une livraison`), for what a refused replay says.
_STATUS_IN_FRENCH = {
    DeliveryStatus.PENDING: "en attente",
    DeliveryStatus.SUCCEEDED: "réussie",
    DeliveryStatus.SUPPRESSED: "non envoyée",
    DeliveryStatus.CANCELLED: "annulée",
    DeliveryStatus.DEAD: "abandonnée",
}


class ReplayRefusedError(Exception):
    """Only a delivery that was given up on (dead) can be replayed; says the delivery's status, and `french` in
    words (of a delivery, `une livraison`)."""

    def __init__(self, status: DeliveryStatus) -> None:
        super().__init__(status.value)
        self.french = _STATUS_IN_FRENCH[status]


class SubscriptionDeletedError(Exception):
    """The delivery's subscription was deleted: there is nowhere to send it again."""


class PersonErasedError(Exception):
    """The delivery is about a person erased since: nothing about them goes out any more."""


async def _about_an_erased_person(delivery: Delivery, deps: NotifyDeps) -> bool:
    """Whether the delivery's person was erased. Every delivery is queued naming its person, and names nobody once
    the erasure forgot them in it; one naming them still may be of an erasure under way, or broken off."""
    if delivery.kind == MessageKind.PROFILE_ERASED.value:
        # The erasure's own deletion of the person's Mailchimp members: it names nobody, and is to be made.
        return False
    if delivery.person_id is None:
        return True
    return await deps.store.is_erased(delivery.organisation_id, delivery.person_id)


async def replay_delivery(organisation_id: str, delivery_id_: str, deps: NotifyDeps) -> Delivery | None:
    """Queues a dead delivery again with a fresh retry schedule; None if the organisation has no such delivery."""
    delivery = await deps.store.delivery(delivery_id_)
    if delivery is None or delivery.organisation_id != organisation_id:
        return None
    if await _about_an_erased_person(delivery, deps):
        # Checked again when it is attempted: an erasure that comes after this check cancels it then.
        raise PersonErasedError(delivery.delivery_id)
    if delivery.status is not DeliveryStatus.DEAD:
        raise ReplayRefusedError(delivery.status)
    if await deps.store.subscription(delivery.subscription_id) is None:
        raise SubscriptionDeletedError(delivery.subscription_id)
    now = deps.clock.now()
    await deps.store.update_delivery(
        delivery.delivery_id,
        {
            "status": DeliveryStatus.PENDING,
            "round_start": delivery.attempts,
            "replays": delivery.replays + 1,
            "next_attempt_at": now,
        },
    )
    await deps.store.enqueue(delivery.subscription_id, delivery.delivery_id, now, now)
    return replace(delivery, status=DeliveryStatus.PENDING, round_start=delivery.attempts, replays=delivery.replays + 1)


async def dead_letter(deps: NotifyDeps, subscription_id: str, delivery_ids: Iterable[str], reason: str) -> int:
    """Gives up on queued deliveries without an attempt (they stay replayable); returns how many it moved."""
    moved = 0
    for delivery_id_ in delivery_ids:
        delivery = await deps.store.delivery(delivery_id_)
        if delivery is not None and delivery.status is DeliveryStatus.PENDING:
            await deps.store.update_delivery(
                delivery_id_, {"status": DeliveryStatus.DEAD, "last_error": reason, "next_attempt_at": None}
            )
            moved += 1
        await deps.store.dequeue(subscription_id, delivery_id_)
    return moved


async def trim_queue(
    deps: NotifyDeps, subscription: Subscription, entries: list[QueueEntry], busy: Collection[str]
) -> dict[str, int]:
    """Gives up on what a queue may no longer hold; returns how many went, by reason.

    A queue holds at most `max_queue` deliveries (the oldest, by when they were queued, go first); a disabled
    subscription's deliveries wait `disabled_max_age` for it to be re-enabled. Attempts under way are left alone.
    """
    rules, now = deps.rules, deps.clock.now()
    waiting = sorted((entry for entry in entries if entry.delivery_id not in busy), key=lambda entry: entry.since)
    moved: dict[str, int] = {}
    expired: list[str] = []
    if not subscription.enabled:
        expired = [entry.delivery_id for entry in waiting if now - entry.since >= rules.disabled_max_age]
        if expired:
            moved[SUBSCRIPTION_DISABLED] = await dead_letter(
                deps, subscription.subscription_id, expired, SUBSCRIPTION_DISABLED
            )
        waiting = [entry for entry in waiting if entry.delivery_id not in set(expired)]
    # Every expired entry left the queue, those whose delivery had ended (left behind by a crash) too, though only
    # the pending ones are counted as given up on.
    excess = len(entries) - len(expired) - rules.max_queue
    if excess > 0:
        oldest = [entry.delivery_id for entry in waiting[:excess]]
        moved[QUEUE_FULL] = await dead_letter(deps, subscription.subscription_id, oldest, QUEUE_FULL)
    return moved


# Subscriptions


def new_subscription_id() -> str:
    return f"sub_{random_ids.token_hex(8)}"


async def create_subscription(
    organisation_id: str,
    *,
    kind: TargetKind,
    url: str,
    events: EventFilter,
    description: str | None,
    enabled: bool,
    mailchimp: MailchimpTarget | None,
    max_in_flight: int | None,
    deps: NotifyDeps,
) -> tuple[Subscription, str]:
    """The new subscription and its signing secret, which is shown this once."""
    secret = new_secret()
    now = deps.clock.now()
    subscription = Subscription(
        subscription_id=new_subscription_id(),
        organisation_id=organisation_id,
        kind=kind,
        url=url,
        events=events,
        enabled=enabled,
        created_at=now,
        secrets=(SigningSecret(secret, now),),
        description=description,
        mailchimp=mailchimp,
        max_in_flight=max_in_flight,
    )
    await deps.store.save_subscription(subscription)
    return subscription, secret


class SecretsChangedError(Exception):
    """Another rotation changed the subscription's secrets since they were read: the one it gave signs now."""


async def rotate_secret(subscription: Subscription, deps: NotifyDeps) -> tuple[Subscription, str]:
    """The subscription with a new signing secret, and that secret; raises SecretsChangedError, storing nothing, if
    another rotation came first (two at once, a double click): each answers with a secret shown once, and only the
    last stored would sign, the other's receiver refusing every delivery."""
    now = deps.clock.now()
    secret = new_secret()
    rotated = replace(
        subscription,
        secrets=rotate(subscription.secrets, secret, now=now, overlap_until=now + deps.rules.rotation_overlap),
    )
    if not await deps.store.replace_secrets(subscription.subscription_id, subscription.secrets, rotated.secrets):
        raise SecretsChangedError(subscription.subscription_id)
    return rotated, secret


async def delete_subscription(subscription: Subscription, deps: NotifyDeps) -> int:
    """Deletes the subscription after giving up on what it still had queued, so nothing is left pending forever, and
    letting go of the addresses it kept persons' Mailchimp members under, which nothing needs any more; returns how
    many deliveries it gave up on. Asked again after a failure, it finishes."""
    queued = [entry.delivery_id for entry in await deps.store.queue(subscription.subscription_id)]
    moved = await dead_letter(deps, subscription.subscription_id, queued, SUBSCRIPTION_DELETED)
    if subscription.kind is TargetKind.MAILCHIMP:
        # Turned off first, so that no attempt starts and notes an address again meanwhile.
        await deps.store.disable_subscription(
            subscription.subscription_id, "deleted by an administrator", DisabledReason.BY_ADMINISTRATOR
        )
        await deps.store.forget_mailchimp_members(subscription.organisation_id, subscription.subscription_id)
    await deps.store.delete_subscription(subscription.subscription_id)
    return moved


def owner_id() -> str:
    """Names this worker process in the attempts it claims."""
    return f"worker_{random_ids.token_hex(6)}"
