"""The notify service's wired adapters and worker, built once when the service starts."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, Request

from services.notify.adapters.http import SafeOutbound
from services.notify.adapters.secrets import SecretBox, secret_box
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.messages import attempt_id
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.targets import OutboundPolicy
from services.notify.handlers import AttemptOutcome, NotifyDeps, NotifyRules
from services.notify.metrics import NotifyMetrics
from services.notify.settings import NotifySettings
from services.notify.worker import DeliveryWorker
from shared.events import DeliveryFailedV1, DeliverySucceededV1, Envelope, build_envelope
from shared.events.common import EventData
from shared.kafka import KafkaPublisher, record_for

# The `attempt` field of a delivery event tops out here; replays can take a delivery past it.
MAX_REPORTED_ATTEMPT = 100


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def notify_rules(settings: NotifySettings) -> NotifyRules:
    return NotifyRules(
        schedule=RetrySchedule(scale=settings.notify_retry_delay_scale, jitter=settings.notify_retry_jitter),
        cap=FrequencyCap(
            limit=settings.notify_frequency_cap_messages, window=timedelta(days=settings.notify_frequency_cap_days)
        ),
        rotation_overlap=timedelta(hours=settings.notify_secret_rotation_overlap_hours),
        attempt_lease=timedelta(seconds=settings.notify_attempt_lease_seconds),
        max_queue=settings.notify_max_queue_per_subscription,
        disabled_max_age=timedelta(hours=settings.notify_disabled_max_age_hours),
    )


def settings_secret_box(settings: NotifySettings) -> SecretBox:
    return secret_box(settings.notify_secrets_key.get_secret_value(), http_host=settings.http_host)


def outbound_policy(settings: NotifySettings) -> OutboundPolicy:
    return OutboundPolicy(
        allow_loopback=settings.notify_allow_loopback,
        allow_private=settings.notify_allow_private_networks,
        allow_plain_http=settings.notify_allow_plain_http,
    )


def delivery_event(outcome: AttemptOutcome, at: datetime) -> Envelope:
    """What operators and audits read of an attempt on `parterre.notify.deliveries.v1`; its id is the attempt's."""
    delivery = outcome.delivery
    attempt = attempt_id(delivery.delivery_id, outcome.number)
    status_code = None if outcome.answer is None else outcome.answer.status_code
    common = {
        "delivery_id": attempt,
        "subscription_id": delivery.subscription_id,
        "message_id": delivery.message_id,
        "attempt": min(outcome.number, MAX_REPORTED_ATTEMPT),
        "status_code": status_code,
    }
    data: EventData
    if outcome.verdict == "succeeded":
        data = DeliverySucceededV1(**common)
    else:
        data = DeliveryFailedV1(**common, error=(outcome.reason or outcome.verdict)[:5000], final=outcome.final)
    return build_envelope(
        data,
        organisation_id=delivery.organisation_id,
        source=f"/orgs/{delivery.organisation_id}/notify",
        id=attempt,
        time=outcome.at or at,
        subject=delivery.subscription_id,
    )


@dataclass
class NotifyContext:
    settings: NotifySettings
    deps: NotifyDeps
    outbound: SafeOutbound
    publisher: KafkaPublisher
    metrics: NotifyMetrics
    worker: DeliveryWorker | None = None

    async def announce(self, outcome: AttemptOutcome) -> None:
        """Publishes the attempt's outcome, then takes it out of the outbox once Kafka has it (acks=all)."""
        envelope = delivery_event(outcome, self.deps.clock.now())
        await self.publisher.publish(record_for(envelope))
        await self.deps.store.announced(attempt_id(outcome.delivery.delivery_id, outcome.number))

    def wake(self, subscription_id: str) -> None:
        if self.worker is not None:
            self.worker.wake(subscription_id)

    def subscriptions_changed(self) -> None:
        if self.worker is not None:
            self.worker.subscriptions_changed()


def _notify_context(request: Request) -> NotifyContext:
    context = request.app.state.runtime.extras["notify"]
    assert isinstance(context, NotifyContext)
    return context


NotifyDep = Annotated[NotifyContext, Depends(_notify_context)]
