"""Nothing about an erased person goes out after the erasure: not a delivery given up on before it, replayed, nor one
left behind by an erasure that broke off. On the real store, with a receiver that records what it is sent."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.adapters.mongo import MongoNotifyStore
from services.notify.adapters.secrets import SecretBox, new_key
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.signing import new_secret
from services.notify.domain.subscriptions import EventFilter, SigningSecret, Subscription, TargetKind
from services.notify.handlers import (
    NotifyDeps,
    NotifyRules,
    PersonErasedError,
    accept_profile_change,
    accept_trigger,
    attempt_delivery,
    erase_person,
    replay_delivery,
)
from services.notify.ports import Delivery, DeliveryStatus, HttpAnswer
from shared.events import Envelope, EventData, build_envelope
from shared.events.profile import ProfileChangedV1, ProfileErasedV1, TriggerFiredV1
from shared.mongo import Document

pytestmark = [pytest.mark.mongo]

ORGANISATION = "theatre-du-nord"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
GRANTED = {
    "emails": ["elise@example.com"],
    "consent.marketing_email.status": "granted",
    "consent.marketing_email.allowed": True,
}


class Clock:
    def now(self) -> datetime:
        return NOW


@dataclass
class Receiver:
    """Answers with each scripted answer in turn, then 204; keeps every request's body."""

    answers: list[HttpAnswer] = field(default_factory=list)
    bodies: list[bytes | None] = field(default_factory=list)

    async def request(self, method: str, url: str, *, body: bytes | None = None, **_: Any) -> HttpAnswer:
        self.bodies.append(body)
        return self.answers.pop(0) if self.answers else HttpAnswer(204)


SUBSCRIPTION = Subscription(
    "sub_crm",
    ORGANISATION,
    TargetKind.WEBHOOK,
    "https://crm.example.com/hooks",
    EventFilter(triggers=frozenset({"*"})),
    True,
    NOW,
    secrets=(SigningSecret(new_secret(), NOW),),
)


def _envelope(data: EventData, event_id: str) -> Envelope:
    return build_envelope(
        data,
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/profile",
        id=event_id,
        time=NOW,
        person_id="per_elise",
    )


async def _dead_delivery(database: AsyncDatabase[Document], receiver: Receiver) -> tuple[NotifyDeps, Delivery]:
    """Élise's welcome message, which the receiver refused (400): given up on, replayable."""
    rules = NotifyRules(RetrySchedule(jitter=0), FrequencyCap(limit=100), timedelta(hours=24), timedelta(minutes=1))
    deps = NotifyDeps(store=MongoNotifyStore(database, SecretBox([new_key()])), clock=Clock(), rules=rules)
    await deps.store.save_subscription(SUBSCRIPTION)
    granted = ProfileChangedV1(person_id="per_elise", changed=GRANTED, profile_version=1)
    await accept_profile_change(_envelope(granted, "granted"), granted, deps)
    trigger = TriggerFiredV1(
        trigger_id="trg_welcome",
        rule="welcome",
        purpose="marketing_email",
        dedupe_key="welcome:per_elise",
        person_id="per_elise",
        language="fr",
        contact_points=[{"channel": "email", "value": "elise@example.com"}],
        facts={},
        fired_at=NOW,
    )
    [delivery] = await accept_trigger(_envelope(trigger, "welcome"), trigger, deps)
    receiver.answers.append(HttpAnswer(400, error="elise@example.com: unknown list"))
    outcome = await attempt_delivery(delivery.delivery_id, SUBSCRIPTION, deps, receiver, owner="w1", draw=0.5)
    assert outcome is not None
    assert outcome.delivery.status is DeliveryStatus.DEAD
    return deps, delivery


async def _erase(deps: NotifyDeps) -> None:
    erased = ProfileErasedV1(person_id="per_elise", at=NOW)
    await erase_person(_envelope(erased, "erased"), erased, deps)


async def test_a_delivery_given_up_on_before_the_erasure_is_cancelled_by_it_and_cannot_be_replayed(
    database: AsyncDatabase[Document],
) -> None:
    receiver = Receiver()
    deps, delivery = await _dead_delivery(database, receiver)

    await _erase(deps)
    stored = await deps.store.delivery(delivery.delivery_id)
    with pytest.raises(PersonErasedError):
        await replay_delivery(ORGANISATION, delivery.delivery_id, deps)
    again = await attempt_delivery(delivery.delivery_id, SUBSCRIPTION, deps, receiver, owner="w1", draw=0.5)

    assert stored is not None
    assert (stored.status, stored.last_error, stored.person_id, stored.data) == (
        DeliveryStatus.CANCELLED,
        "erased",
        None,
        {},
    )
    assert again is None
    assert len(receiver.bodies) == 1, "nothing went out after the erasure"


async def test_a_delivery_an_earlier_version_left_dead_after_the_erasure_is_neither_replayed_nor_sent(
    database: AsyncDatabase[Document],
) -> None:
    receiver = Receiver()
    deps, delivery = await _dead_delivery(database, receiver)
    # What an erasure used to leave: the delivery dead, naming nobody, its data dropped.
    await deps.store.erase(ORGANISATION, "per_elise", NOW)
    [held] = await deps.store.person_deliveries(ORGANISATION, "per_elise")
    await deps.store.forget_person_in_delivery(held, None)

    with pytest.raises(PersonErasedError):
        await replay_delivery(ORGANISATION, delivery.delivery_id, deps)
    # Queued again all the same (replayed by an earlier version, before it was upgraded): its attempt sends nothing.
    await deps.store.update_delivery(
        delivery.delivery_id, {"status": DeliveryStatus.PENDING, "round_start": 1, "next_attempt_at": NOW}
    )
    outcome = await attempt_delivery(delivery.delivery_id, SUBSCRIPTION, deps, receiver, owner="w1", draw=0.5)
    stored = await deps.store.delivery(delivery.delivery_id)

    assert outcome is not None
    assert outcome.verdict == "cancelled"
    assert stored is not None
    assert (stored.status, stored.last_error) == (DeliveryStatus.CANCELLED, "erased")
    assert len(receiver.bodies) == 1, "nothing went out after the erasure"


async def test_a_replay_asked_while_an_erasure_is_under_way_is_refused(database: AsyncDatabase[Document]) -> None:
    receiver = Receiver()
    deps, delivery = await _dead_delivery(database, receiver)
    # The erasure is noted, and has not reached the person's deliveries yet (or broke off before it did).
    await deps.store.erase(ORGANISATION, "per_elise", NOW)

    with pytest.raises(PersonErasedError):
        await replay_delivery(ORGANISATION, delivery.delivery_id, deps)
    stored = await deps.store.delivery(delivery.delivery_id)

    assert stored is not None
    assert stored.status is DeliveryStatus.DEAD
    assert len(receiver.bodies) == 1
