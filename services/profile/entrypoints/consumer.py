"""The profile subscriber: each resolved fact folded into its person's profile, announcements published, committed."""

from services.profile.context import ProfileContext
from services.profile.handlers import apply_resolved
from shared.events import Envelope, EventValidationError, parse_data
from shared.events.identity import PersonResolvedV1
from shared.kafka import ConsumedRecord, PermanentMessageError


async def handle_resolution(consumed: ConsumedRecord[Envelope], context: ProfileContext) -> None:
    envelope = consumed.message
    try:
        data = parse_data(envelope)
    except EventValidationError as exc:
        raise PermanentMessageError(str(exc)) from exc
    if not isinstance(data, PersonResolvedV1):
        # Merges and unmerges are folded by a later version of this service; they are not errors.
        context.metrics.facts.labels(envelope.organisation_id, f"not_yet_handled:{envelope.type}").inc()
        return
    try:
        applied = await apply_resolved(envelope, data, context.deps)
    except (EventValidationError, ValueError) as exc:
        raise PermanentMessageError(str(exc)) from exc
    await context.publish(applied.outputs)
    context.metrics.facts.labels(envelope.organisation_id, applied.outcome).inc()
