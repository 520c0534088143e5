"""Each service killed with SIGKILL in the middle of a season and started again: nothing is lost, nothing is
counted twice, and no message reaches a marketing tool twice under two ids.

`make test` runs a small season sent as fast as ingest takes it; `make chaos` runs the same at full size, offered
at a steady rate, with a poison message among the season's events (sizes from `PARTERRE_CHAOS_PATRONS` and
`PARTERRE_CHAOS_RECORDS_PER_SECOND`)."""

import asyncio
import os
import signal
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from demo.run import DemoConfig, run_demo
from infra.platform.fleet import SERVICES, Fleet
from shared.kafka import DLQ_ATTEMPTS
from shared.settings import ServiceSettings
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions
from tests.integration.demo.poison import DeadLetter, publish_poison, wait_for_dead_letter
from tests.integration.ports import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

# Downstream first, while the season is still arriving; ingest last, while its clients retry.
KILL_ORDER = ("identity", "profile", "notify", "ingest")


@dataclass(frozen=True)
class Load:
    patrons: int
    records_per_second: float | None
    seconds_between_kills: float
    poison: bool
    drain_timeout_seconds: float


def test_killing_each_service_mid_stream_loses_and_doubles_nothing(settings: ServiceSettings, tmp_path: Path) -> None:
    outcome = _season_under_fire(
        settings,
        tmp_path,
        Load(patrons=120, records_per_second=None, seconds_between_kills=2.5, poison=False, drain_timeout_seconds=240),
    )
    _assert_reconciled(outcome, poisoned=False)


@pytest.mark.chaos
def test_at_full_size_under_steady_load_each_killed_service_and_a_poison_message_lose_and_double_nothing(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    patrons = int(os.environ.get("PARTERRE_CHAOS_PATRONS", "1200"))
    rate = float(os.environ.get("PARTERRE_CHAOS_RECORDS_PER_SECOND", "300"))
    # A season of this size is about five upstream records per patron: the four kills spread over its sending.
    seconds_between_kills = max(patrons * 5 / rate / 5, 2.5)
    outcome = _season_under_fire(
        settings,
        tmp_path,
        Load(patrons, rate, seconds_between_kills, poison=True, drain_timeout_seconds=900),
    )
    summary = outcome.summary
    print(
        f"\nchaos: {patrons:,} patrons, {summary.intake.records_sent:,} records offered at {rate:,.0f}/s "
        f"over {summary.seconds_sending:,.1f} s; killed {', '.join(outcome.killed)} every "
        f"{seconds_between_kills:.1f} s\n"
        f"  accepted {summary.intake.accepted:,} · profiled {summary.stored.facts_profiled:,} · "
        f"dead letters {dict(summary.drained.new_dead_letters)} · drained in {summary.drained.seconds:,.1f} s\n"
        f"  deliveries succeeded {summary.stored.deliveries['succeeded']:,} · receiver verified "
        f"{summary.receiver_verified:,}, repeated ids {summary.receiver_repeated}, refused {summary.receiver_refused}\n"
        + (
            f"  poison dead-lettered after {outcome.poison.seconds:.1f} s, "
            f"{outcome.poison.headers[DLQ_ATTEMPTS]} attempt(s)"
            if outcome.poison
            else "  poison not dead-lettered within 60 s"
        )
    )
    _assert_reconciled(outcome, poisoned=True)


@dataclass(frozen=True)
class Outcome:
    summary: Any
    killed: list[str]
    namespace: str
    poison: DeadLetter | None


def _season_under_fire(settings: ServiceSettings, tmp_path: Path, load: Load) -> Outcome:
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
        patrons=load.patrons,
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
        records_per_second=load.records_per_second,
        drain_timeout_seconds=load.drain_timeout_seconds,
        show_progress=False,
    )
    killed: list[str] = []

    async def kill_each_in_turn() -> None:
        for name in KILL_ORDER:
            await asyncio.sleep(load.seconds_between_kills)
            [state] = [state for state in fleet.status() if state.name == name]
            if state.pid is None:
                continue
            os.kill(state.pid, signal.SIGKILL)
            killed.append(name)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(fleet.up, lambda _line: None)

    async def poison_among_the_season() -> DeadLetter | None:
        if not load.poison:
            return None
        await asyncio.sleep(load.seconds_between_kills / 2)
        event_id = await publish_poison(settings.kafka_bootstrap, namespace, config.organisation_id)
        return await wait_for_dead_letter(
            settings.kafka_bootstrap, namespace, "parterre-identity", event_id, deadline_seconds=60
        )

    async def season_under_fire() -> tuple[Any, DeadLetter | None]:
        summary, _, poison = await asyncio.gather(
            run_demo(config, say=lambda _line: None), kill_each_in_turn(), poison_among_the_season()
        )
        return summary, poison

    try:
        fleet.up(progress=lambda _line: None)
        summary, poison = asyncio.run(season_under_fire())
    finally:
        fleet.down(progress=lambda _line: None)
    return Outcome(summary, killed, namespace, poison)


def _assert_reconciled(outcome: Outcome, *, poisoned: bool) -> None:
    summary = outcome.summary
    assert outcome.killed == list(KILL_ORDER)
    intake, stored = summary.intake, summary.stored
    assert intake.accepted > 0
    # The reconciliation: every event ingest accepted reached a profile exactly once, none was dead-lettered; the
    # poison, which never went through ingest, is the one dead letter there may be.
    assert stored.facts_profiled == intake.accepted
    dead_letters = {
        name.removeprefix(outcome.namespace): count for name, count in summary.drained.new_dead_letters.items()
    }
    assert dead_letters == {
        "parterre-identity": 1 if poisoned else 0,
        "parterre-profile": 0,
        "parterre-notify-changes": 0,
        "parterre-notify-triggers": 0,
    }
    if poisoned:
        assert outcome.poison is not None, "the poison message did not reach identity's dead-letter topic within 60 s"
        assert int(outcome.poison.headers[DLQ_ATTEMPTS]) <= 3
    # A message may arrive twice after a crash, but always under its one id: the receiver counts ids.
    assert stored.deliveries["succeeded"] == summary.receiver_verified
    assert summary.receiver_refused == 0
