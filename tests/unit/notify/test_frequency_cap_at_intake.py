"""The frequency cap as triggers are accepted: which messages count against a person's allowance."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.subscriptions import EventFilter, Subscription, TargetKind
from services.notify.handlers import NotifyDeps, NotifyRules, accept_trigger
from services.notify.ports import Delivery, DeliveryStatus, NotifyStore
from shared.events import TriggerFiredV1, build_envelope
from shared.events.common import Channel, ConsentPurpose

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
EVERY_TRIGGER = Subscription(
    "sub_crm",
    "theatre",
    TargetKind.WEBHOOK,
    "https://crm.example/hook",
    EventFilter(triggers=frozenset({"*"})),
    True,
    NOW,
)


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class IntakeStore:
    """The part of the store accepting a trigger uses: subscriptions, erasures, the frequency record, deliveries."""

    def __init__(self) -> None:
        self.sent: dict[str, datetime] = {}
        self.deliveries: dict[str, Delivery] = {}

    async def subscriptions(
        self, organisation_id: str | None = None, *, readable_only: bool = False
    ) -> list[Subscription]:
        return [EVERY_TRIGGER]

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return False

    async def sends(self, organisation_id: str, person_id: str) -> dict[str, datetime]:
        return dict(self.sent)

    async def record_send(
        self, organisation_id: str, person_id: str, message_id: str, at: datetime, expired: Sequence[str]
    ) -> None:
        self.sent[message_id] = at
        for message in expired:
            self.sent.pop(message, None)

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return self.deliveries.get(delivery_id)

    async def add_delivery(self, delivery: Delivery) -> bool:
        if delivery.delivery_id in self.deliveries:
            return False
        self.deliveries[delivery.delivery_id] = delivery
        return True


def _accept(store: IntakeStore, number: int, purpose: ConsentPurpose, points: list[tuple[Channel, str]]) -> Delivery:
    [delivery] = _accepted(store, number, purpose, points)
    return delivery


def _accepted(
    store: IntakeStore,
    number: int,
    purpose: ConsentPurpose,
    points: list[tuple[Channel, str]],
    *,
    at: datetime = NOW,
) -> list[Delivery]:
    trigger = TriggerFiredV1.model_validate(
        {
            "trigger_id": f"trg_{number}",
            "rule": f"rule-{number}",
            "purpose": purpose.value,
            "dedupe_key": f"rule-{number}:per_1:2026",
            "person_id": "per_1",
            "language": "fr",
            "contact_points": [{"channel": channel.value, "value": value} for channel, value in points],
            "fired_at": NOW.isoformat(),
        }
    )
    envelope = build_envelope(trigger, organisation_id="theatre", source="test", id=f"evt_{number}", time=NOW)
    rules = NotifyRules(RetrySchedule(), FrequencyCap(limit=3), timedelta(hours=24), timedelta(minutes=1))
    return asyncio.run(accept_trigger(envelope, trigger, NotifyDeps(cast(NotifyStore, store), Clock(at), rules)))


def test_a_trigger_naming_no_contact_point_on_its_channel_does_not_use_up_the_persons_frequency_cap() -> None:
    # Profile fires a rule even for someone without the consent its purpose needs; such a message can never be sent.
    store = IntakeStore()
    for number in range(3):
        _accept(store, number, ConsentPurpose.MARKETING_EMAIL, [])

    consented = _accept(store, 3, ConsentPurpose.SMS, [(Channel.SMS, "+15145550199")])

    assert consented.status is DeliveryStatus.PENDING
    assert list(store.sent) == [consented.message_id]


def test_a_trigger_delivered_again_days_later_still_counts_from_when_it_was_first_accepted() -> None:
    store = IntakeStore()
    email = [(Channel.EMAIL, "elise@example.com")]
    for day in range(3):
        _accepted(store, day, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(days=day))
    # Kafka delivers the first again (offsets reset after an outage): nothing is queued, nothing more is counted.
    assert _accepted(store, 0, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(days=3)) == []

    # A week and a half-day after the first, it has left the window: the fourth message is within the cap.
    [fourth] = _accepted(store, 3, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(days=7, hours=12))

    assert fourth.status is DeliveryStatus.PENDING


def test_a_trigger_the_cap_held_back_delivered_again_once_the_window_moved_on_is_not_counted() -> None:
    store = IntakeStore()
    email = [(Channel.EMAIL, "elise@example.com")]
    for hour in range(3):
        _accepted(store, hour, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(hours=hour))
    [held_back] = _accepted(store, 9, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(days=6, hours=23))
    assert held_back.status is DeliveryStatus.SUPPRESSED

    # Kafka delivers it again after the first three left the window: it was decided, and is never sent.
    again = _accepted(store, 9, ConsentPurpose.MARKETING_EMAIL, email, at=NOW + timedelta(days=7, hours=2))

    assert again == []
    assert store.deliveries[held_back.delivery_id].status is DeliveryStatus.SUPPRESSED
    assert held_back.message_id not in store.sent, "a message never sent holds no place in the allowance"
