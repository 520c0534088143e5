"""Each service killed with SIGKILL in the middle of a season and started again: nothing is lost, nothing is
counted twice, and no message reaches a marketing tool twice under two ids.

`make test` runs a small season sent as fast as ingest takes it; `make chaos` runs the same at full size, offered
at a steady rate, with a poison message among the season's events (sizes from `PARTERRE_CHAOS_PATRONS` and
`PARTERRE_CHAOS_RECORDS_PER_SECOND`)."""

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.run import Summary, run_demo
from infra.platform.isolated import isolated_platform
from shared.kafka import DLQ_ATTEMPTS
from shared.settings import ServiceSettings
from tests.integration.demo.platform import TO_THE_DEMO_RECEIVER, demo_config
from tests.integration.demo.poison import DeadLetter, publish_poison, wait_for_dead_letter
from tests.integration.demo.reconciliation import assert_reconciled

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


async def test_killing_each_service_mid_stream_loses_and_doubles_nothing(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    outcome = await _season_under_fire(
        settings,
        tmp_path,
        Load(patrons=120, records_per_second=None, seconds_between_kills=2.5, poison=False, drain_timeout_seconds=240),
    )
    _assert_reconciled(outcome, poisoned=False)


@pytest.mark.chaos
@pytest.mark.timeout(1200)
async def test_at_full_size_under_steady_load_each_killed_service_and_a_poison_message_lose_and_double_nothing(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    patrons = int(os.environ.get("PARTERRE_CHAOS_PATRONS", "1200"))
    rate = float(os.environ.get("PARTERRE_CHAOS_RECORDS_PER_SECOND", "300"))
    # A season of this size is about five upstream records per patron: the four kills spread over its sending.
    seconds_between_kills = max(patrons * 5 / rate / 5, 2.5)
    outcome = await _season_under_fire(
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
        f"  deliveries made {summary.stored.delivered:,} · receiver verified "
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
    summary: Summary
    killed: list[str]
    namespace: str
    poison: DeadLetter | None


async def _season_under_fire(settings: ServiceSettings, tmp_path: Path, load: Load) -> Outcome:
    killed: list[str] = []
    async with isolated_platform(
        tmp_path,
        settings.kafka_bootstrap,
        settings.mongo_url,
        database=settings.mongo_database,
        extra_environment=TO_THE_DEMO_RECEIVER,
    ) as platform:
        fleet, namespace = platform.fleet, platform.namespace
        config = demo_config(
            platform,
            settings,
            patrons=load.patrons,
            seed=11,
            records_per_second=load.records_per_second,
            drain_timeout_seconds=load.drain_timeout_seconds,
        )

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

        summary, _, poison = await asyncio.gather(
            run_demo(config, say=lambda _line: None), kill_each_in_turn(), poison_among_the_season()
        )
    return Outcome(summary, killed, namespace, poison)


def _assert_reconciled(outcome: Outcome, *, poisoned: bool) -> None:
    assert outcome.killed == list(KILL_ORDER)
    # The poison never went through ingest: it is the one dead letter there may be.
    assert_reconciled(outcome.summary, outcome.namespace, poison_dead_letters=1 if poisoned else 0)
    if poisoned:
        assert outcome.poison is not None, "the poison message did not reach identity's dead-letter topic within 60 s"
        assert int(outcome.poison.headers[DLQ_ATTEMPTS]) <= 3
