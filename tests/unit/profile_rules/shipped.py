"""The shipped segments and trigger rules, loaded once, and the helpers the rule tests share."""

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.profile.domain.rules import TriggerDecision, evaluate_triggers, load_segments, load_triggers

SERVICE_DIR = Path(__file__).resolve().parents[3] / "services" / "profile"
SEGMENTS_FILE = SERVICE_DIR / "segments.yaml"
TRIGGERS_FILE = SERVICE_DIR / "triggers.yaml"
SEGMENTS = load_segments(SEGMENTS_FILE.read_text(encoding="utf-8"), file_name=str(SEGMENTS_FILE))
TRIGGERS = load_triggers(TRIGGERS_FILE.read_text(encoding="utf-8"), file_name=str(TRIGGERS_FILE))

AS_OF = datetime(2026, 11, 15, 19, 0, tzinfo=UTC)
PERSON = "per_7f3a9c2e41d8"
PURCHASE = "parterre.ticket.purchased.v1"
SCAN = "parterre.ticket.scanned.v1"

Profile = Mapping[str, Any]


def fired(
    before: Profile,
    after: Profile,
    *,
    as_of: datetime = AS_OF,
    cause: str | None = PURCHASE,
    event_id: str | None = "evt-1",
    performance_id: str | None = None,
    performance_at: datetime | None = None,
    person_id: str = PERSON,
) -> dict[str, TriggerDecision]:
    """The shipped rules a change fires, by rule name."""
    decisions = evaluate_triggers(
        TRIGGERS,
        before,
        after,
        as_of=as_of,
        cause_event_type=cause,
        cause_event_id=event_id,
        cause_performance_id=performance_id,
        cause_performance_at=performance_at,
        person_id=person_id,
    )
    return {decision.rule: decision for decision in decisions}


def swept(profile: Profile, *, as_of: datetime = AS_OF) -> dict[str, TriggerDecision]:
    """The shipped rules the time sweep fires for an unchanged profile, by rule name."""
    return fired(profile, profile, as_of=as_of, cause=None, event_id=None)
