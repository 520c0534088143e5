"""Notify's subscribers: profile changes and segment moves, and fired triggers, turned into queued deliveries."""

from services.notify.context import NotifyContext
from services.notify.handlers import (
    accept_profile_change,
    accept_segment_change,
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
    for delivery in queued:
        if delivery.last_error is not None:
            context.metrics.suppressed.labels(envelope.organisation_id, delivery.last_error).inc()
        context.wake(delivery.subscription_id)
    context.metrics.events.labels(envelope.organisation_id, envelope.type, "queued" if queued else "none").inc()
