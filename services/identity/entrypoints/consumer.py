"""The identity subscriber: each upstream fact resolved to a person, its outputs published, then committed."""

import time

from services.identity.context import IdentityContext
from services.identity.handlers import resolve_fact, resolve_facts
from shared.events import Envelope, EventValidationError
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_facts(
    batch: list[ConsumedRecord[Envelope]], context: IdentityContext
) -> list[ConsumedRecord[Envelope]]:
    """A batch's plain facts resolved together and published with one wait for Kafka; returns the records left to
    `handle_fact` (erasures, redeliveries, contended claims, a few merges, and what follows them under the same key)."""
    started = time.perf_counter()
    outcomes = await resolve_facts(
        [consumed.message for consumed in batch], [consumed.key for consumed in batch], context.deps, context.publish
    )
    # Each fact of the batch waited for the whole batch: that is its resolution time.
    elapsed = time.perf_counter() - started
    left = []
    for consumed, outcome in zip(batch, outcomes, strict=True):
        if outcome is None:
            left.append(consumed)
            continue
        context.metrics.resolution_seconds.observe(elapsed)
        context.metrics.resolutions.labels(consumed.message.organisation_id, outcome.outcome).inc()
        if outcome.decision is not None and outcome.decision.merge is not None:
            context.metrics.merges.labels(consumed.message.organisation_id, "rule").inc()
    return left


async def handle_fact(consumed: ConsumedRecord[Envelope], context: IdentityContext) -> None:
    envelope = consumed.message
    started = time.perf_counter()
    try:
        # As in a batch: reads answer from what this process knows while no other process writes.
        async with context.deps.store.trusting({envelope.organisation_id}):
            outcome = await resolve_fact(envelope, context.deps)
    except (EventValidationError, TypeError) as exc:
        # The fact itself is unusable (unknown type, data its contract refuses): retrying cannot help.
        raise PermanentMessageError(str(exc)) from exc
    context.metrics.resolution_seconds.observe(time.perf_counter() - started)
    await context.publish(outcome.outputs)
    context.metrics.resolutions.labels(envelope.organisation_id, outcome.outcome).inc()
    if outcome.filtered is not None:
        context.metrics.filtered.labels(envelope.organisation_id, outcome.filtered).inc()
    if outcome.decision is not None and outcome.decision.merge is not None:
        context.metrics.merges.labels(envelope.organisation_id, "rule").inc()
