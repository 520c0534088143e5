"""Profile use cases: fold each resolved fact into its person's profile once, and announce what changed."""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID, uuid5

from services.profile.domain.history import resolved_profile_event
from services.profile.domain.profile import apply, next_time_change, view
from services.profile.domain.rules import (
    SegmentDefinitions,
    TriggerRules,
    evaluate_segments,
    evaluate_triggers,
    segment_changes,
    time_conditions_due,
)
from services.profile.domain.seasons import SeasonCalendar
from services.profile.ports import ProfileStore, StoredProfile
from shared.events import Envelope, build_envelope
from shared.events.identity import PersonResolvedV1
from shared.events.profile import ProfileChangedV1, SegmentEnteredV1, SegmentExitedV1

# Fixed forever: the ids of what profile publishes derive from it, so a republication is recognised downstream.
OUTPUT_NAMESPACE = UUID("5e0d2c7a-8b4f-4a91-b3d6-9c1e7f2a6b40")
# Writers of one person race only around a consumer rebalance; a few fresh attempts settle it.
MAX_ATTEMPTS = 8


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class ProfileRules:
    segments: SegmentDefinitions
    triggers: TriggerRules
    seasons: SeasonCalendar


@dataclass(frozen=True)
class ProfileDeps:
    store: ProfileStore
    rules: ProfileRules
    clock: Clock


@dataclass(frozen=True)
class AppliedFact:
    outputs: tuple[Envelope, ...]
    outcome: str


class ProfileBusyError(Exception):
    """Another writer kept taking this person's next fact number: the consumer retries the fact later."""


def output_id(organisation_id: str, *parts: str) -> str:
    return str(uuid5(OUTPUT_NAMESPACE, "|".join((organisation_id, *parts))))


def plain(value: Any) -> Any:
    """A profile field as JSON: money as text to the cent, moments in ISO 8601, sets as sorted lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(plain(item) for item in value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    return value


async def apply_resolved(envelope: Envelope, resolved: PersonResolvedV1, deps: ProfileDeps) -> AppliedFact:
    """Fold the fact into the person's profile exactly once; a redelivery republishes the same events."""
    fact = resolved_profile_event(resolved)
    if fact is None:
        return AppliedFact((), "ignored")
    organisation_id, person_id = envelope.organisation_id, resolved.person_id
    for _attempt in range(MAX_ATTEMPTS):
        stored = await deps.store.profile(organisation_id, person_id) or StoredProfile(organisation_id, person_id)
        number = await deps.store.log_fact(organisation_id, fact.event_id, person_id, stored.applied + 1)
        if number is None:
            continue
        if number <= stored.applied:
            if stored.last_event_id == fact.event_id:
                # Applied, then the process died before Kafka had its events: the very same ones again.
                return AppliedFact(tuple(Envelope.from_json_bytes(raw) for raw in stored.last_outputs), "republished")
            return AppliedFact((), "duplicate")
        if number != stored.applied + 1:
            continue
        after_state = apply(stored.state, fact)
        as_of = max(deps.clock.now(), fact.time)
        outputs = _announce(envelope, resolved, stored, after_state, as_of, deps)
        fired = []
        for trigger in outputs.triggers:
            # Once per person, rule and period: the stored dedupe key lets through only its first fact.
            data = trigger.data
            if await deps.store.claim_trigger(organisation_id, str(data["dedupe_key"]), fact.event_id):
                fired.append(trigger)
        outputs = replace(outputs, envelopes=outputs.envelopes + tuple(fired))
        await deps.store.save(
            replace(
                stored,
                state=after_state,
                version=stored.version + 1,
                applied=number,
                segments=outputs.segments,
                due_at=outputs.due_at,
                last_event_id=fact.event_id,
                last_outputs=tuple(output.to_json_bytes() for output in outputs.envelopes),
            )
        )
        return AppliedFact(outputs.envelopes, "applied")
    raise ProfileBusyError(f"{person_id}: another writer kept taking the next fact number")


@dataclass(frozen=True)
class _Announcement:
    envelopes: tuple[Envelope, ...]
    segments: frozenset[str]
    due_at: datetime | None
    # Trigger events not yet checked against the dedupe keys already stored.
    triggers: tuple[Envelope, ...] = ()


def _announce(
    envelope: Envelope,
    resolved: PersonResolvedV1,
    stored: StoredProfile,
    after_state: Any,
    as_of: datetime,
    deps: ProfileDeps,
) -> _Announcement:
    rules, organisation_id, person_id = deps.rules, envelope.organisation_id, resolved.person_id
    cause = resolved.original.id
    before = view(stored.state, as_of=as_of, seasons=rules.seasons)
    after = view(after_state, as_of=as_of, seasons=rules.seasons)
    changed = {name: plain(value) for name, value in after.items() if before.get(name) != value}
    segments = evaluate_segments(rules.segments, after, as_of)
    changes = segment_changes(stored.segments, segments)
    triggers = evaluate_triggers(
        rules.triggers,
        before,
        after,
        as_of=as_of,
        cause_event_type=resolved.original.type,
        cause_event_id=cause,
        person_id=person_id,
    )
    common: dict[str, Any] = {
        "organisation_id": organisation_id,
        "source": f"/orgs/{organisation_id}/profile",
        "time": as_of,
        "subject": person_id,
        "correlation_id": envelope.correlation_id or resolved.original.id,
        "person_id": person_id,
    }
    outputs: list[Envelope] = []
    if changed:
        outputs.append(
            build_envelope(
                ProfileChangedV1(person_id=person_id, changed=changed, profile_version=stored.version + 1),
                id=output_id(organisation_id, "changed", cause, person_id),
                **common,
            )
        )
    for name in changes.entered:
        outputs.append(
            build_envelope(
                SegmentEnteredV1(segment=name, person_id=person_id, at=as_of),
                id=output_id(organisation_id, "entered", cause, person_id, name),
                **common,
            )
        )
    for name in changes.exited:
        outputs.append(
            build_envelope(
                SegmentExitedV1(segment=name, person_id=person_id, at=as_of),
                id=output_id(organisation_id, "exited", cause, person_id, name),
                **common,
            )
        )
    fired = tuple(build_envelope(decision.as_event(), id=decision.trigger_id, **common) for decision in triggers)
    due_candidates = [
        moment
        for moment in (
            next_time_change(after_state, as_of, seasons=rules.seasons),
            time_conditions_due([rules.segments, rules.triggers], after, as_of),
        )
        if moment is not None
    ]
    return _Announcement(tuple(outputs), segments, min(due_candidates, default=None), fired)
