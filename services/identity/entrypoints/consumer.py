"""The identity subscriber: each upstream fact resolved to a person, its outputs published, then committed."""

import time

from services.identity.context import IdentityContext
from services.identity.handlers import resolve_fact
from shared.events import Envelope, EventValidationError
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_fact(consumed: ConsumedRecord[Envelope], context: IdentityContext) -> None:
    envelope = consumed.message
    started = time.perf_counter()
    try:
        outcome = await resolve_fact(envelope, context.deps)
    except (EventValidationError, TypeError) as exc:
        # The fact itself is unusable (unknown type, data its contract refuses): retrying cannot help.
        raise PermanentMessageError(str(exc)) from exc
    context.metrics.resolution_seconds.observe(time.perf_counter() - started)
    await context.publish(outcome.outputs)
    context.metrics.resolutions.labels(envelope.organisation_id, outcome.outcome).inc()
    if outcome.decision is not None and outcome.decision.merge is not None:
        context.metrics.merges.labels(envelope.organisation_id, "rule").inc()
