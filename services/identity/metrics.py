"""The identity service's own metrics, beside the HTTP and Kafka ones every service exports."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IdentityMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.resolutions = Counter(
            "parterre_identity_resolutions",
            "Facts resolved, by organisation and outcome: new, external_id, email, phone, probabilistic, "
            "review_pending, erased, suppressed, nothing_to_suppress (an erasure asking that the person not be added "
            "again, after one that did not ask it: their identifiers are gone, none can be kept out).",
            ["organisation", "outcome"],
            registry=registry,
        )
        self.filtered = Counter(
            "parterre_identity_filtered_facts",
            "Upstream facts identity carries no further on purpose, by organisation and reason: suppressed (a person "
            "erased who asked not to be added again), erasure_unknown_person (an erasure naming nobody known). Each "
            "counted once: with profiled and dead-lettered, they add up to what ingest accepted.",
            ["organisation", "reason"],
            registry=registry,
        )
        self.merges = Counter(
            "parterre_identity_merges",
            "Merges made, by organisation and who decided (rule, reviewer).",
            ["organisation", "decided_by"],
            registry=registry,
        )
        self.fresh_reads = Counter(
            "parterre_identity_fresh_reads",
            "Times this instance stopped answering a consumer batch from memory and read the store afresh, by "
            "organisation and cause: start (its first batch), epoch (another process counted a write), append or "
            "claim (a version or an identifier found taken by another process). Rising steadily: another instance "
            "writes the same organisation.",
            ["organisation", "cause"],
            registry=registry,
        )
        self.resolution_seconds = Histogram(
            "parterre_identity_resolution_duration_seconds",
            "Time to resolve one fact, store work included. A fact resolved with its consumer batch counts the whole "
            "batch's time, its publication included: what the fact waited.",
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.blocks_outdated = Gauge(
            "parterre_identity_blocks_outdated",
            "1 while persons stored before the blocking keys last changed may be filed under older keys only, so that "
            "records of theirs are less likely to find them: run `parterre identity refile-blocks`. Checked at start, "
            "then every PARTERRE_IDENTITY_BLOCKS_CHECK_SECONDS while 1.",
            registry=registry,
        )
        self.identifiers_outdated = Gauge(
            "parterre_identity_identifiers_outdated",
            "1 while persons stored by a release before 2026-12 may hold addresses in the form it wrote them (a domain "
            "in the DNS's xn-- form), which facts naming them accented do not find: run `parterre identity "
            "rekey-identifiers`. Checked at start, then every PARTERRE_IDENTITY_BLOCKS_CHECK_SECONDS while 1.",
            registry=registry,
        )
