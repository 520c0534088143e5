"""`make up` / `make status` / `make down`: the four services started in the background, ready, then stopped."""

import asyncio
import urllib.request
from pathlib import Path

import pytest

from infra.platform.fleet import SERVICES, Fleet
from infra.platform.kafka_state import pipeline_state
from shared.settings import ServiceSettings
from tests.integration.ports import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def test_the_services_start_in_the_background_answer_ready_and_stop(settings: ServiceSettings, tmp_path: Path) -> None:
    fleet = Fleet(
        root=tmp_path,
        kafka_bootstrap=settings.kafka_bootstrap,
        mongo_url=settings.mongo_url,
        extra_environment=(("PARTERRE_MONGO_DATABASE", settings.mongo_database),),
        ports=tuple((name, free_port()) for name in SERVICES),
    )
    try:
        started = fleet.up(progress=lambda _line: None)
        again = fleet.up(progress=lambda _line: None)
        with urllib.request.urlopen(f"{started[0].url}/healthz", timeout=5) as answer:
            healthy = answer.status
        groups = asyncio.run(pipeline_state(settings.kafka_bootstrap))
    finally:
        fleet.down(progress=lambda _line: None)
    stopped = fleet.status()

    assert [state.name for state in started] == list(SERVICES)
    assert all(state.ready for state in started)
    # A second `up` reuses the running processes.
    assert [state.pid for state in again] == [state.pid for state in started]
    assert healthy == 200
    assert {group.group_id for group in groups} >= {"parterre-identity", "parterre-profile"}
    assert all(group.lag >= 0 and group.dead_letters >= 0 for group in groups)
    assert [state.pid for state in stopped] == [None] * len(SERVICES)
    assert all(fleet.log_file(name).exists() for name in SERVICES)
