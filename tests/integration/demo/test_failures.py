"""Each service killed with SIGKILL in the middle of a season and started again: nothing is lost, nothing is
counted twice, and no message reaches a marketing tool twice under two ids."""

import asyncio
import os
import signal
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


def test_killing_each_service_mid_stream_loses_and_doubles_nothing(settings: ServiceSettings, tmp_path: Path) -> None:
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
        patrons=120,
        seed=11,
        ingest_url=url["ingest"],
        identity_url=url["identity"],
        profile_url=url["profile"],
        notify_url=url["notify"],
        kafka_bootstrap=settings.kafka_bootstrap,
        kafka_namespace=namespace,
        mongo_url=settings.mongo_url,
        mongo_database=settings.mongo_database,
        receiver_port=0,
        drain_timeout_seconds=240,
        show_progress=False,
    )
    killed: list[str] = []

    async def kill_each_in_turn() -> None:
        # Downstream first, while the season is still arriving; ingest last, while its clients retry.
        for name in ("identity", "profile", "notify", "ingest"):
            await asyncio.sleep(2.5)
            [state] = [state for state in fleet.status() if state.name == name]
            if state.pid is None:
                continue
            os.kill(state.pid, signal.SIGKILL)
            killed.append(name)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(fleet.up, lambda _line: None)

    async def season_under_fire() -> object:
        summary, _ = await asyncio.gather(run_demo(config, say=lambda _line: None), kill_each_in_turn())
        return summary

    try:
        fleet.up(progress=lambda _line: None)
        summary = asyncio.run(season_under_fire())
    finally:
        fleet.down(progress=lambda _line: None)

    assert killed == ["identity", "profile", "notify", "ingest"]
    intake, stored = summary.intake, summary.stored  # type: ignore[attr-defined]
    assert intake.accepted > 0
    # The reconciliation: every event ingest accepted reached a profile exactly once, none was dead-lettered.
    assert stored.facts_profiled == intake.accepted
    assert not any(summary.drained.new_dead_letters.values())  # type: ignore[attr-defined]
    # A message may arrive twice after a crash, but always under its one id: the receiver counts ids.
    assert stored.deliveries["succeeded"] == summary.receiver_verified  # type: ignore[attr-defined]
    assert summary.receiver_refused == 0  # type: ignore[attr-defined]
