"""The profile subscriber: identity's resolutions, merges and unmerges applied, announcements published, committed."""

import time
from datetime import UTC, datetime

from services.profile.context import ProfileContext
from services.profile.handlers import apply_facts, apply_identity_event
from shared.events import Envelope, EventValidationError, parse_data
from shared.events.identity import PersonResolvedV1
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_resolutions(
    batch: list[ConsumedRecord[Envelope]], context: ProfileContext
) -> list[ConsumedRecord[Envelope]]:
    """A batch's plain facts applied together and announced with one wait for Kafka; returns the records left to
    `handle_resolution`: merges, unmerges, erasures and whatever follows them under the same key."""
    started = time.perf_counter()
    together: list[tuple[ConsumedRecord[Envelope], PersonResolvedV1]] = []
    blocked: set[bytes | None] = set()
    for consumed in batch:
        try:
            data = parse_data(consumed.message)
        except EventValidationError:
            data = None
        if consumed.key in blocked or not isinstance(data, PersonResolvedV1):
            blocked.add(consumed.key)
            continue
        together.append((consumed, data))
    if not together:
        return batch
    handled = await apply_facts([(consumed.message, data) for consumed, data in together], context.deps)
    await context.publish(handled.outputs)
    elapsed = time.perf_counter() - started
    done: set[int] = set()
    for (consumed, data), outcome, filtered in zip(together, handled.outcomes, handled.filtered, strict=True):
        if outcome is None:
            continue
        done.add(id(consumed))
        context.metrics.facts.labels(consumed.message.organisation_id, outcome).inc()
        if filtered is not None:
            context.metrics.filtered.labels(consumed.message.organisation_id, filtered).inc()
        context.metrics.handling.observe(elapsed)
        _observe_latency(context, data)
    return [consumed for consumed in batch if id(consumed) not in done]


def _observe_latency(context: ProfileContext, data: PersonResolvedV1) -> None:
    if data.original.ingested_at is not None:
        latency = datetime.now(UTC) - data.original.ingested_at
        context.metrics.latency.observe(max(latency.total_seconds(), 0.0))


async def handle_resolution(consumed: ConsumedRecord[Envelope], context: ProfileContext) -> None:
    started = time.perf_counter()
    envelope = consumed.message
    try:
        data = parse_data(envelope)
    except EventValidationError as exc:
        raise PermanentMessageError(str(exc)) from exc
    try:
        handled = await apply_identity_event(envelope, context.deps)
    except (EventValidationError, ValueError) as exc:
        raise PermanentMessageError(str(exc)) from exc
    if handled is None:
        context.metrics.facts.labels(envelope.organisation_id, f"not_handled:{envelope.type}").inc()
        return
    await context.publish(handled.outputs)
    if handled.after_publish is not None:
        await handled.after_publish()
    context.metrics.facts.labels(envelope.organisation_id, handled.outcome).inc()
    for reason in handled.filtered:
        context.metrics.filtered.labels(envelope.organisation_id, reason).inc()
    context.metrics.handling.observe(time.perf_counter() - started)
    if isinstance(data, PersonResolvedV1):
        _observe_latency(context, data)
