"""The Kafka broker, then the store, stopped in the middle of a season and started again on the same port and data:
every service reconnects on its own, nothing is lost, nothing is counted twice, and no message reaches a marketing
tool twice under two ids.

The servers other tests share are never stopped: these tests start a stack of their own (`infra.local`) on free
ports. `make test` runs a small season; `make chaos` runs the same at full size, offered at a steady rate
(`PARTERRE_CHAOS_PATRONS`, `PARTERRE_CHAOS_RECORDS_PER_SECOND`)."""

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from demo.run import Summary, run_demo
from infra.local.stack import LocalStack, MissingToolError, StackConfig
from infra.platform.fleet import Fleet, ServiceState
from infra.platform.isolated import isolated_platform
from shared.settings import ServiceSettings
from tests.integration.demo.platform import TO_THE_DEMO_RECEIVER, demo_config
from tests.integration.demo.reconciliation import assert_reconciled

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


@dataclass(frozen=True)
class Load:
    patrons: int
    records_per_second: float
    # From ingest's first accepted event to the server's stop: the season is still arriving then.
    seconds_before_stop: float
    seconds_stopped: float
    drain_timeout_seconds: float


# Stopped long enough that ingest's wait for Kafka (`publish_timeout_seconds`, 10 s) runs out: some requests are turned
# away and sent again.
SMALL = Load(patrons=100, records_per_second=40, seconds_before_stop=1, seconds_stopped=8, drain_timeout_seconds=120)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A broker and a store for this module alone, stopped at its end."""
    kafka_port, controller_port, mongo_port = _free_ports(3)
    stack = LocalStack(
        StackConfig(
            tmp_path_factory.mktemp("own-stack"),
            kafka_port=kafka_port,
            controller_port=controller_port,
            mongo_port=mongo_port,
        ),
        progress=lambda _line: None,
    )
    try:
        stack.up()
    except MissingToolError as missing:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(missing))
    try:
        yield stack
    finally:
        stack.down()


async def test_restarting_the_kafka_broker_mid_season_loses_and_doubles_nothing(
    own_stack: LocalStack, tmp_path: Path
) -> None:
    outcome = await _season_with_a_restart(own_stack, "kafka", tmp_path, SMALL)
    _assert_survived(outcome)


async def test_restarting_the_store_mid_season_loses_and_doubles_nothing(own_stack: LocalStack, tmp_path: Path) -> None:
    outcome = await _season_with_a_restart(own_stack, "ferretdb", tmp_path, SMALL)
    _assert_survived(outcome)


@pytest.mark.chaos
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("server", ["kafka", "ferretdb"])
async def test_at_full_size_under_steady_load_a_restarted_broker_or_store_loses_and_doubles_nothing(
    own_stack: LocalStack, tmp_path: Path, server: str
) -> None:
    patrons = int(os.environ.get("PARTERRE_CHAOS_PATRONS", "1200"))
    rate = float(os.environ.get("PARTERRE_CHAOS_RECORDS_PER_SECOND", "300"))
    outcome = await _season_with_a_restart(
        own_stack,
        server,
        tmp_path,
        Load(patrons, rate, seconds_before_stop=5, seconds_stopped=5, drain_timeout_seconds=900),
    )
    summary = outcome.summary
    print(
        f"\nchaos: {patrons:,} patrons, {summary.intake.records_sent:,} records offered at {rate:,.0f}/s over "
        f"{summary.seconds_sending:,.1f} s ({summary.intake.retries:,} retries); {server} stopped for "
        f"{outcome.seconds_away:,.1f} s in all\n"
        f"  accepted {summary.intake.accepted:,} · profiled {summary.stored.facts_profiled:,} · "
        f"dead letters {dict(summary.drained.new_dead_letters)} · drained in {summary.drained.seconds:,.1f} s\n"
        f"  deliveries made {summary.stored.delivered:,} · receiver verified "
        f"{summary.receiver_verified:,}, repeated ids {summary.receiver_repeated}, refused {summary.receiver_refused}"
    )
    _assert_survived(outcome)


@dataclass(frozen=True)
class Outcome:
    summary: Summary
    namespace: str
    # From the stop to the server answering again.
    seconds_away: float
    # What ingest had accepted when the server answered again.
    accepted_when_back: float
    pids_before: dict[str, int | None]
    pids_after: dict[str, int | None]
    # What each service's /readyz said last.
    readiness_after: dict[str, str]
    # Where the services wrote their logs.
    logs: Path


async def _season_with_a_restart(stack: LocalStack, server: str, tmp_path: Path, load: Load) -> Outcome:
    settings = ServiceSettings(
        kafka_bootstrap=stack.config.kafka_bootstrap,
        mongo_url=stack.config.mongo_url,
        mongo_database=f"restarts_{uuid.uuid4().hex[:12]}",
    )
    async with isolated_platform(
        tmp_path,
        settings.kafka_bootstrap,
        settings.mongo_url,
        database=settings.mongo_database,
        extra_environment=TO_THE_DEMO_RECEIVER,
    ) as platform:
        fleet = platform.fleet
        config = demo_config(
            platform,
            settings,
            patrons=load.patrons,
            seed=13,
            records_per_second=load.records_per_second,
            drain_timeout_seconds=load.drain_timeout_seconds,
        )
        pids_before = {state.name: state.pid for state in fleet.status()}

        async def restart_once_the_season_arrives() -> tuple[float, float]:
            # Only once the demo has set itself up (its account, its subscription) and ingest accepts its season.
            await _accepted_by_ingest(platform.url("ingest"), at_least=1)
            await asyncio.sleep(load.seconds_before_stop)
            stopped = time.monotonic()
            await asyncio.to_thread(stack.stop, server)
            await asyncio.sleep(load.seconds_stopped)
            await asyncio.to_thread(stack.up)
            return time.monotonic() - stopped, await _accepted_by_ingest(platform.url("ingest"))

        summary, (seconds_away, accepted_when_back) = await asyncio.gather(
            run_demo(config, say=lambda _line: None), restart_once_the_season_arrives()
        )
        states = await _once_ready(fleet, seconds=30)
    return Outcome(
        summary,
        platform.namespace,
        seconds_away,
        accepted_when_back,
        pids_before,
        {state.name: state.pid for state in states},
        {state.name: state.detail for state in states},
        tmp_path / "logs",
    )


def _assert_survived(outcome: Outcome) -> None:
    # The server went away in the middle of the season: some of it was still to come once the server was back.
    assert 0 < outcome.accepted_when_back < outcome.summary.intake.accepted
    # No service died and was started again: each rode out the restart in the process it started in.
    assert outcome.pids_after == outcome.pids_before
    assert set(outcome.readiness_after.values()) == {"ready"}, outcome.readiness_after
    try:
        assert_reconciled(outcome.summary, outcome.namespace)
    except AssertionError as failure:
        # Which failures spent a message's attempts tells why it was dead-lettered.
        raise AssertionError(f"{failure}\n{_failed_attempts(outcome.logs)}") from None


def _failed_attempts(logs: Path, most: int = 20) -> str:
    lines = [
        f"{log.stem}: {line.strip()[:400]}"
        for log in sorted(logs.glob("*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if "dead-lettered" in line or "failed on" in line
    ]
    return "\n".join(lines[:most]) or f"no failed attempt in the logs of {logs}"


async def _accepted_by_ingest(ingest_url: str, *, at_least: float = 0) -> float:
    """The events ingest's metrics count as accepted, once they are `at_least` that many."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        for _look in range(1500):
            answer = await client.get(f"{ingest_url}/metrics")
            answer.raise_for_status()
            accepted = sum(
                sample.value
                for family in text_string_to_metric_families(answer.text)
                if family.name == "parterre_ingest_events"
                for sample in family.samples
                if sample.name == "parterre_ingest_events_total" and sample.labels.get("outcome") == "accepted"
            )
            if accepted >= at_least:
                return accepted
            await asyncio.sleep(0.2)
    raise AssertionError(f"ingest did not accept {at_least} events within 5 minutes")


async def _once_ready(fleet: Fleet, *, seconds: float) -> list[ServiceState]:
    """The services' states once every one is ready, or as they are after `seconds`: a probe answering slowly on a
    busy machine is not a service that failed to reconnect."""
    deadline = time.monotonic() + seconds
    states = await asyncio.to_thread(fleet.status)
    while not all(state.ready for state in states) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        states = await asyncio.to_thread(fleet.status)
    return states


def _free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, all different: each is held until every one is chosen."""
    with ExitStack() as holding:
        ports = []
        for _ in range(count):
            probe = holding.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            ports.append(int(probe.getsockname()[1]))
        return ports
