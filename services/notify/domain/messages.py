"""Messages as receivers get them: deterministic ids, and the Standard Webhooks JSON body."""

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.events.common import Channel, Language


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def message_id(organisation_id: str, event_id: str) -> str:
    """The `webhook-id` of the message an event becomes: the same however often the event is delivered to notify."""
    return f"msg_{_digest(organisation_id, event_id)}"


def delivery_id(subscription_id: str, message: str) -> str:
    """One message to one subscription: the unit that is queued, retried and replayed."""
    return f"dlv_{_digest(subscription_id, message)}"


def attempt_id(delivery: str, attempt: int) -> str:
    return f"{delivery}_{attempt}"


def personalised_trigger(
    data: Mapping[str, Any], language: Language, contact_points: Sequence[tuple[Channel, str]]
) -> dict[str, Any]:
    """The trigger's data as it stands at send time: the person's language now, and the contact points still allowed."""
    return {
        **data,
        "language": language,
        "contact_points": [{"channel": channel.value, "value": value} for channel, value in contact_points],
    }


def webhook_body(kind: str, timestamp: datetime, data: Mapping[str, Any]) -> bytes:
    """The payload shape Standard Webhooks recommends: `type`, `timestamp` (when it happened), `data`."""
    payload = {"type": kind, "timestamp": timestamp.isoformat(), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
