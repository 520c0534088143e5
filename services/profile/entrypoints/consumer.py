"""The profile subscriber: identity's resolutions, merges and unmerges applied, announcements published, committed."""

import time
from datetime import UTC, datetime

from services.profile.context import ProfileContext
from services.profile.handlers import Handled, apply_merge, apply_resolved, apply_unmerge
from shared.events import Envelope, EventValidationError, parse_data
from shared.events.identity import PersonResolvedV1, PersonsMergedV1, PersonUnmergedV1
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_resolution(consumed: ConsumedRecord[Envelope], context: ProfileContext) -> None:
    started = time.perf_counter()
    envelope = consumed.message
    try:
        data = parse_data(envelope)
    except EventValidationError as exc:
        raise PermanentMessageError(str(exc)) from exc
    handled: Handled
    try:
        match data:
            case PersonResolvedV1():
                handled = await apply_resolved(envelope, data, context.deps)
            case PersonsMergedV1():
                handled = await apply_merge(envelope, data, context.deps)
            case PersonUnmergedV1():
                handled = await apply_unmerge(envelope, data, context.deps)
            case _:
                context.metrics.facts.labels(envelope.organisation_id, f"not_handled:{envelope.type}").inc()
                return
    except (EventValidationError, ValueError) as exc:
        raise PermanentMessageError(str(exc)) from exc
    await context.publish(handled.outputs)
    if handled.after_publish is not None:
        await handled.after_publish()
    context.metrics.facts.labels(envelope.organisation_id, handled.outcome).inc()
    context.metrics.handling.observe(time.perf_counter() - started)
    if isinstance(data, PersonResolvedV1) and data.original.ingested_at is not None:
        latency = datetime.now(UTC) - data.original.ingested_at
        context.metrics.latency.observe(max(latency.total_seconds(), 0.0))
