"""Notify's subscribers: profile changes and segment moves, and fired triggers, turned into queued deliveries."""

from services.notify.context import NotifyContext
from services.notify.handlers import (
    PersonEvent,
    accept_profile_change,
    accept_segment_change,
    accept_together,
    accept_trigger,
    erase_person,
)
from services.notify.ports import Delivery
from shared.events import (
    Envelope,
    EventValidationError,
    ProfileChangedV1,
    ProfileErasedV1,
    SegmentEnteredV1,
    SegmentExitedV1,
    TriggerFiredV1,
    parse_data,
)
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_profile_events(
    batch: list[ConsumedRecord[Envelope]], context: NotifyContext
) -> list[ConsumedRecord[Envelope]]:
    """A batch's changes, segment moves and triggers accepted together; returns the records left to
    `handle_profile_event`: erasures, what does not parse or is keyed by someone else than its person, the events
    of a person whose acceptance failed, and what follows any of them under the same key."""
    together: list[tuple[ConsumedRecord[Envelope], PersonEvent]] = []
    left: list[ConsumedRecord[Envelope]] = []
    blocked: set[bytes | None] = set()
    for consumed in batch:
        event = None if consumed.key in blocked else _plain_event(consumed)
        if event is None:
            blocked.add(consumed.key)
            left.append(consumed)
        else:
            together.append((consumed, event))
    outcomes = await accept_together(
        [(consumed.message, event) for consumed, event in together],
        context.deps,
        concurrency=context.settings.notify_consumer_concurrency,
    )
    for (consumed, _event), queued in zip(together, outcomes, strict=True):
        if queued is None:
            left.append(consumed)
        else:
            _count_queued(consumed.message, queued, context)
    return left


def _plain_event(consumed: ConsumedRecord[Envelope]) -> PersonEvent | None:
    """The event if the batch may accept it: a person's change, segment move or trigger, keyed by that person (so
    that all of a person's events, and only theirs, share a key and its order)."""
    try:
        event = parse_data(consumed.message)
    except EventValidationError:
        return None
    if not isinstance(event, ProfileChangedV1 | SegmentEnteredV1 | SegmentExitedV1 | TriggerFiredV1):
        return None
    return event if consumed.key == event.person_id.encode() else None


async def handle_profile_event(consumed: ConsumedRecord[Envelope], context: NotifyContext) -> None:
    envelope = consumed.message
    try:
        data = parse_data(envelope)
    except EventValidationError as exc:
        raise PermanentMessageError(str(exc)) from exc
    queued: list[Delivery]
    match data:
        case TriggerFiredV1():
            queued = await accept_trigger(envelope, data, context.deps)
        case SegmentEnteredV1() | SegmentExitedV1():
            queued = await accept_segment_change(envelope, data, context.deps)
        case ProfileChangedV1():
            queued = await accept_profile_change(envelope, data, context.deps)
        case ProfileErasedV1():
            cancelled = await erase_person(envelope, data, context.deps)
            context.metrics.suppressed.labels(envelope.organisation_id, "erased").inc(cancelled)
            context.metrics.events.labels(envelope.organisation_id, envelope.type, "erased").inc()
            return
        case _:
            context.metrics.events.labels(envelope.organisation_id, envelope.type, "not_handled").inc()
            return
    _count_queued(envelope, queued, context)


def _count_queued(envelope: Envelope, queued: list[Delivery], context: NotifyContext) -> None:
    for delivery in queued:
        if delivery.last_error is not None:
            context.metrics.suppressed.labels(envelope.organisation_id, delivery.last_error).inc()
        context.wake(delivery.subscription_id)
    context.metrics.events.labels(envelope.organisation_id, envelope.type, "queued" if queued else "none").inc()
