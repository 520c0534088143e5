"""`make demo` at a small scale: the four services started on free ports with a Kafka namespace and a database of
their own, a season of 80 patrons sent through them, and a summary whose numbers agree with one another."""

from pathlib import Path

import pytest

from demo.run import run_demo
from infra.platform.isolated import isolated_platform
from shared.settings import ServiceSettings
from tests.integration.demo.platform import TO_THE_DEMO_RECEIVER, demo_config

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_small_season_goes_through_every_service_and_the_summary_adds_up(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    # A platform of its own on the shared broker: its topics and groups hold nothing but this test's events.
    async with isolated_platform(
        tmp_path,
        settings.kafka_bootstrap,
        settings.mongo_url,
        database=settings.mongo_database,
        extra_environment=TO_THE_DEMO_RECEIVER,
    ) as platform:
        config = demo_config(platform, settings, patrons=80, seed=5, drain_timeout_seconds=150)
        summary = await run_demo(config, say=lambda _line: None)

    intake, stored = summary.intake, summary.stored
    assert intake.records_sent == summary.season.records
    assert intake.accepted > 0
    # Every event ingest accepted reached a profile; nothing was dead-lettered.
    assert stored.facts_profiled == intake.accepted
    assert not any(summary.drained.new_dead_letters.values())
    assert 0 < stored.people <= summary.season.records
    assert sum(summary.segments.values()) > 0
    # What notify says it delivered is what the receiver verified, and at least one trigger got there.
    assert stored.deliveries["succeeded"] == summary.receiver_verified
    assert summary.receiver_by_type["parterre.trigger.fired.v1"] >= 1
    assert summary.receiver_refused == 0
    assert summary.showcase_person_id is not None
    assert "curl -s -H" in summary.render()
