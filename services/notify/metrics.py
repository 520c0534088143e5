"""Notify's Prometheus metrics: deliveries by outcome, attempt latency, queues, and what consent held back."""

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "parterre_notify_deliveries",
            "Delivery attempts by subscription and outcome: succeeded, retry, dead, gone, suppressed, cancelled.",
            ["subscription", "outcome"],
            registry=registry,
        )
        self.attempt_seconds = Histogram(
            "parterre_notify_attempt_duration_seconds",
            "How long a receiver took to answer one attempt (or to time out).",
            ["subscription"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
            registry=registry,
        )
        self.queue_depth = Gauge(
            "parterre_notify_queue_depth",
            "Deliveries waiting for an attempt (due now or retrying later), by subscription.",
            ["subscription"],
            registry=registry,
        )
        self.oldest_pending = Gauge(
            "parterre_notify_oldest_pending_seconds",
            "Age of the oldest delivery still waiting, by subscription (0 when none waits).",
            ["subscription"],
            registry=registry,
        )
        self.suppressed = Counter(
            "parterre_notify_suppressed",
            "Messages not sent, by organisation and reason: consent withdrawn, expired or missing, opted out, "
            "no contact point, frequency cap, erased.",
            ["organisation", "reason"],
            registry=registry,
        )
        self.evicted = Counter(
            "parterre_notify_evicted",
            "Deliveries given up on without an attempt, by subscription and reason: queue_full (the queue held "
            "its most), subscription_disabled (disabled for too long), subscription_deleted.",
            ["subscription", "reason"],
            registry=registry,
        )
        self.events = Counter(
            "parterre_notify_events",
            "Profile events handled, by organisation, type and how many deliveries they queued (0 or more).",
            ["organisation", "type", "outcome"],
            registry=registry,
        )

    def forget_subscription(self, subscription_id: str) -> None:
        for gauge in (self.queue_depth, self.oldest_pending):
            with contextlib.suppress(KeyError):
                gauge.remove(subscription_id)
