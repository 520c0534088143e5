"""`make demo` at a small scale: the four services started on free ports with a database of their own, a season of
80 patrons sent through them, and a summary whose numbers agree with one another."""

import asyncio
import uuid
from pathlib import Path

import pytest

from demo.run import DemoConfig, run_demo
from infra.platform.fleet import SERVICES, Fleet
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions
from tests.integration.ports import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def test_a_small_season_goes_through_every_service_and_the_summary_adds_up(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    # A platform of its own on the shared broker: its topics and groups hold nothing but this test's events.
    namespace = f"test-{uuid.uuid4().hex[:10]}."
    asyncio.run(ensure_topics(settings.kafka_bootstrap, all_topic_partitions(namespace)))
    ports = tuple((name, free_port()) for name in SERVICES)
    fleet = Fleet(
        root=tmp_path,
        kafka_bootstrap=settings.kafka_bootstrap,
        mongo_url=settings.mongo_url,
        extra_environment=(
            ("PARTERRE_MONGO_DATABASE", settings.mongo_database),
            ("PARTERRE_KAFKA_NAMESPACE", namespace),
            ("PARTERRE_NOTIFY_ALLOW_LOOPBACK", "true"),
            ("PARTERRE_NOTIFY_ALLOW_PLAIN_HTTP", "true"),
        ),
        ports=ports,
    )
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports}
    config = DemoConfig(
        patrons=80,
        seed=5,
        ingest_url=url["ingest"],
        identity_url=url["identity"],
        profile_url=url["profile"],
        notify_url=url["notify"],
        kafka_bootstrap=settings.kafka_bootstrap,
        kafka_namespace=namespace,
        mongo_url=settings.mongo_url,
        mongo_database=settings.mongo_database,
        receiver_port=0,
        drain_timeout_seconds=150,
        show_progress=False,
    )
    try:
        fleet.up(progress=lambda _line: None)
        summary = asyncio.run(run_demo(config, say=lambda _line: None))
    finally:
        fleet.down(progress=lambda _line: None)

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
