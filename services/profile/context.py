"""The profile service's wired adapters and rules, built once when the service starts."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from services.profile.domain.rules import load_segments, load_triggers
from services.profile.domain.seasons import SeasonCalendar
from services.profile.handlers import ProfileDeps, ProfileRules
from services.profile.reports import OverviewCache
from services.profile.settings import ProfileSettings
from shared.events import Envelope
from shared.kafka import RecordPublisher, record_for
from shared.yaml_models import read_config_file


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def load_rules(settings: ProfileSettings) -> ProfileRules:
    """Segments, triggers and the season calendar; a bad file stops the start with the line to fix."""
    segments_path, triggers_path = settings.segments_path(), settings.triggers_path()
    return ProfileRules(
        segments=load_segments(read_config_file(segments_path), file_name=str(segments_path)),
        triggers=load_triggers(read_config_file(triggers_path), file_name=str(triggers_path)),
        seasons=SeasonCalendar(start_month=settings.profile_season_start_month, timezone=settings.profile_timezone),
        default_region=settings.profile_default_region,
    )


class ProfileMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.facts = Counter(
            "parterre_profile_facts",
            "Identity events handled, by organisation and outcome: applied, duplicate, republished, ignored, late "
            "(a fact for a merged person), merged, unmerged, household (a person counted in a household), unchanged "
            "(a household shown already, or decided before the one shown), erased, "
            "erased_person.",
            ["organisation", "outcome"],
            registry=registry,
        )
        self.filtered = Counter(
            "parterre_profile_filtered_facts",
            "Upstream facts folded into no profile on purpose, by organisation and reason: erasure_request (carried "
            "out, not folded), not_a_profile_fact (an access request), erased_person (a fact for a person erased), "
            "erased (a fact taken out with its person's history). Each counted once: with profiled and "
            "dead-lettered, they add up to what ingest accepted.",
            ["organisation", "reason"],
            registry=registry,
        )
        self.announcements = Counter(
            "parterre_profile_announcements",
            "Events published by type: profile changed, segment entered or exited, trigger fired.",
            ["organisation", "type"],
            registry=registry,
        )
        self.handling = Histogram(
            "parterre_profile_handling_seconds",
            "Time to apply one identity event: the store's work and the publication of what it announced.",
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        )
        self.latency = Histogram(
            "parterre_profile_event_latency_seconds",
            "From the moment ingest accepted an upstream fact to the moment its profile was updated and announced.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.swept = Counter(
            "parterre_profile_swept",
            "Profiles the time sweep visited, by outcome: swept (time changed them), refiled (filed early, for a "
            "due moment put off since: filed again for it), unchanged (filed for a moment they are no longer due "
            "at), erased_person, failed (the visit raised: logged, and tried again a quarter of an hour later, twice "
            "as long after each failure in a row, a day apart at most).",
            ["outcome"],
            registry=registry,
        )
        self.sweep_behind = Gauge(
            "parterre_profile_sweep_behind_seconds",
            "How far behind now the sweep's position was after its last run; grows if sweeps fail or cannot keep up.",
            registry=registry,
        )
        self.kept_profiles = Gauge(
            "parterre_profile_kept_profiles",
            "Profiles kept in memory after a batch stored them (PARTERRE_PROFILE_KEPT_PROFILES at most).",
            registry=registry,
        )
        self.kept_profiles_bytes = Gauge(
            "parterre_profile_kept_profiles_bytes",
            "What the profiles kept in memory take together, by the service's estimate "
            "(PARTERRE_PROFILE_KEPT_PROFILES_MB at most).",
            registry=registry,
        )


@dataclass(frozen=True)
class ProfileContext:
    settings: ProfileSettings
    deps: ProfileDeps
    publisher: RecordPublisher
    metrics: ProfileMetrics
    overviews: OverviewCache = field(default_factory=OverviewCache)

    async def publish(self, envelopes: tuple[Envelope, ...]) -> None:
        """Returns once Kafka has every event (acks=all)."""
        if envelopes:
            await self.publisher.publish_many([record_for(envelope) for envelope in envelopes])
        for envelope in envelopes:
            self.metrics.announcements.labels(envelope.organisation_id, envelope.type).inc()


def _profile_context(request: Request) -> ProfileContext:
    context = request.app.state.runtime.extras["profile"]
    assert isinstance(context, ProfileContext)
    return context


ProfileDep = Annotated[ProfileContext, Depends(_profile_context)]
