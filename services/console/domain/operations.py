"""What the operations page reads from the services' Prometheus metrics: the pipeline's counts for one
organisation, each consumer group's lag, and each subscription's delivery health."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

# The counter each stage of the pipeline keeps, by outcome, for each organisation.
STAGE_COUNTERS = {
    "ingest": "parterre_ingest_events_total",
    "identity": "parterre_identity_resolutions_total",
    "profile": "parterre_profile_facts_total",
}


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def read_metrics(text: str) -> list[Sample]:
    """The samples of a `/metrics` answer; ValueError when it is not Prometheus' text format."""
    return [
        Sample(sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


@dataclass(frozen=True)
class StageCounts:
    stage: str
    by_outcome: Mapping[str, float]

    @property
    def total(self) -> float:
        return sum(self.by_outcome.values())


def pipeline_counts(samples: Mapping[str, Sequence[Sample]], organisation_id: str) -> list[StageCounts]:
    """Each stage's messages by outcome for the organisation, counted since its service last started."""
    stages = []
    for stage, counter in STAGE_COUNTERS.items():
        outcomes: dict[str, float] = {}
        for sample in samples.get(stage, ()):
            if sample.name == counter and sample.labels.get("organisation") == organisation_id:
                outcome = sample.labels.get("outcome", "")
                outcomes[outcome] = outcomes.get(outcome, 0.0) + sample.value
        stages.append(StageCounts(stage, dict(sorted(outcomes.items()))))
    return stages


@dataclass(frozen=True)
class GroupLag:
    group: str
    topic: str
    lag: float


def consumer_lags(samples: Mapping[str, Sequence[Sample]]) -> list[GroupLag]:
    return sorted(
        (
            GroupLag(sample.labels.get("group", ""), sample.labels.get("topic", ""), sample.value)
            for service_samples in samples.values()
            for sample in service_samples
            if sample.name == "parterre_consumer_lag"
        ),
        key=lambda lag: (lag.group, lag.topic),
    )


@dataclass(frozen=True)
class SubscriptionHealth:
    subscription_id: str
    url: str | None
    enabled: bool
    # What notify says in English, and, since it gives one, a code the page says in its own language.
    disabled_reason: str | None
    disabled_reason_code: str | None
    # None when notify's metrics could not be read: unknown, not zero.
    queue_depth: float | None
    oldest_pending_seconds: float | None
    attempts: Mapping[str, float] | None = field(default_factory=dict)

    @property
    def healthy(self) -> bool | None:
        """Enabled, and neither a dead delivery nor a backlog older than an hour; None when enabled but notify's
        metrics, which would tell, could not be read."""
        if not self.enabled:
            return False
        if self.attempts is None or self.oldest_pending_seconds is None:
            return None
        return not self.attempts.get("dead") and self.oldest_pending_seconds < 3600


def subscription_health(
    subscriptions: Sequence[Mapping[str, Any]], notify_samples: Sequence[Sample] | None
) -> list[SubscriptionHealth]:
    """The organisation's subscriptions (notify's metrics are labelled by subscription, whose ids are its own);
    `notify_samples` None when notify's metrics could not be read, each subscription's figures then unknown."""
    by_subscription: dict[str, dict[str, Any]] = {}
    for sample in notify_samples or ():
        subscription = sample.labels.get("subscription")
        if subscription is None:
            continue
        found = by_subscription.setdefault(subscription, {"attempts": {}, "depth": 0.0, "oldest": 0.0})
        if sample.name == "parterre_notify_deliveries_total":
            outcome = sample.labels.get("outcome", "")
            found["attempts"][outcome] = found["attempts"].get(outcome, 0.0) + sample.value
        elif sample.name == "parterre_notify_queue_depth":
            found["depth"] = sample.value
        elif sample.name == "parterre_notify_oldest_pending_seconds":
            found["oldest"] = sample.value
    health = []
    for listed in subscriptions:
        figures = (
            None
            if notify_samples is None
            else by_subscription.get(listed["subscription_id"], {"attempts": {}, "depth": 0.0, "oldest": 0.0})
        )
        health.append(
            SubscriptionHealth(
                subscription_id=listed["subscription_id"],
                url=listed.get("url"),
                enabled=bool(listed["enabled"]),
                disabled_reason=listed.get("disabled_reason"),
                disabled_reason_code=listed.get("disabled_reason_code"),
                queue_depth=None if figures is None else figures["depth"],
                oldest_pending_seconds=None if figures is None else figures["oldest"],
                attempts=None if figures is None else dict(sorted(figures["attempts"].items())),
            )
        )
    return health
