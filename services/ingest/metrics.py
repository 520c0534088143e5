"""The ingest service's own metrics, beside the HTTP and Kafka ones every service exports."""

from prometheus_client import CollectorRegistry, Counter, Histogram


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "parterre_ingest_events",
            "Events by organisation, source, type and outcome (accepted, duplicate, rejected, awaiting_order, ignored) "
            "with the reason.",
            ["organisation", "source", "type", "outcome", "reason"],
            registry=registry,
        )
        self.publish_seconds = Histogram(
            "parterre_ingest_publish_duration_seconds",
            "Time for Kafka to acknowledge one batch of events.",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.batch_size = Histogram(
            "parterre_ingest_batch_size",
            "Events per published batch.",
            registry=registry,
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2500),
        )
        self.details_left_out = Counter(
            "parterre_ingest_details_left_out",
            "A person's details left out of the events published because they cannot be read, by organisation, "
            "source, field (its JSON path in the webhook) and reason code.",
            ["organisation", "source", "field", "reason"],
            registry=registry,
        )
        self.import_rows = Counter(
            "parterre_ingest_import_rows",
            "Box-office import rows by organisation, source and outcome (accepted, rejected).",
            ["organisation", "source", "outcome"],
            registry=registry,
        )
