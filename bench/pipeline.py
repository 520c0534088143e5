"""The whole pipeline: upstream events sent through ingest's `POST /v1/events` until identity resolved them and
profile applied them, on a platform of its own (four services, a Kafka namespace and a database of their own).

Three runs, each on a fresh platform: as many events as the pipeline takes, timed from the first send until the
last is profiled; then a steady 1,000 events/s offered, and a steady 200 events/s, a rate the pipeline keeps up
with, each with profile's ingest-to-profile latency histogram read when sending stops. Every run is bounded in time:
one that stops before the pipeline drained says so. Events go in `POST`s of `demo.traffic.BATCH`, as an upstream
system sending its events in batches does: the services then take each post's events as one batch, and the latency
at a rate kept up with is about the time a post's events take through identity and profile together."""

import asyncio
import contextlib
import math
import os
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from pymongo.asynchronous.database import AsyncDatabase

from bench.cpu_budget import CpuMeter, kafka_pid, store_pid
from bench.support import Result, Servers
from demo.traffic import BATCH, Sent, send_steadily, upstream_events
from infra.platform.isolated import IsolatedPlatform, isolated_platform
from infra.platform.kafka_state import pipeline_state
from services.profile.adapters.mongo import FACT_LOG
from shared.mongo import Document, mongo_client
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore

LATENCY_METRIC = "parterre_profile_event_latency_seconds"
POLL_SECONDS = 2.0
# The pause between polls once the rest should be profiled before the next one, so that the run's end is read to
# within it: polled every 2 s to the end, runs of 10-12 s read 480-490 or 580 events/s and nothing between.
LAST_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Size:
    sustained_events: int
    sustained_wait_seconds: float
    steady_per_second: float
    steady_seconds: float
    patrons: int = 3000
    # A rate the pipeline keeps up with on this machine (it takes 500-600 events/s at most): the latency there is
    # what an event waits with no backlog ahead of it, which the run at 1,000 events/s cannot show.
    kept_up_per_second: float = 200


FULL = Size(sustained_events=15_000, sustained_wait_seconds=240, steady_per_second=1000, steady_seconds=30)
QUICK = Size(sustained_events=1_000, sustained_wait_seconds=45, steady_per_second=1000, steady_seconds=3)


async def measure(servers: Servers, *, quick: bool, ceiling: float | None) -> list[Result]:
    size = QUICK if quick else FULL
    sustained, cpu = await _sustained(servers, size)
    latency = await _latency(servers, size, size.steady_per_second, goal="<= 250 (p99)")
    kept_up = await _latency(servers, size, size.kept_up_per_second, goal="")
    results = [sustained, cpu, *latency, *kept_up]
    if ceiling:
        results.append(
            Result(
                "end-to-end / raw Kafka ceiling",
                sustained.value / ceiling,
                "ratio",
                goal=f">= {2000 / ceiling:.4f} (2,000 events/s)",
                note=f"the ceiling: {ceiling:,.0f} msg/s produced and consumed once, measured in this run; "
                "the pipeline goes through Kafka three times and the store at each stage",
            )
        )
    return results


@dataclass(frozen=True)
class _Progress:
    profiled: int
    seconds: float
    drained: bool


async def _sustained(servers: Servers, size: Size) -> tuple[Result, Result]:
    async with _platform(servers) as (platform, database, organisation_id, token):
        events = upstream_events(size.sustained_events, organisation_id=organisation_id, patrons=size.patrons)
        meter = CpuMeter(_processes(servers, platform))
        meter.start()
        sending = asyncio.create_task(
            send_steadily(events, platform.url("ingest"), token, per_second=None, concurrency=4)
        )
        started = time.monotonic()
        sent: Sent | None = None
        progress = _Progress(0, 0.0, False)
        pause = POLL_SECONDS
        while time.monotonic() - started < size.sustained_wait_seconds:
            await asyncio.sleep(pause)
            if sending.done():
                sent = sending.result()
            # Progress is read from profile's histogram, not counted in the store: a count walks the whole fact log
            # on FerretDB, and polling it took a tenth of the store's CPU that the run charges to the pipeline.
            profiled = await asyncio.to_thread(_observed, platform.url("profile"))
            if sent is not None and profiled >= sent.accepted:
                profiled = await _profiled(database, organisation_id)
            progress = _Progress(profiled, time.monotonic() - started, sent is not None and profiled >= sent.accepted)
            if progress.drained:
                break
            if sent is not None and sent.accepted - profiled <= profiled / progress.seconds * POLL_SECONDS:
                pause = LAST_POLL_SECONDS
        if not progress.drained:
            # Out of time: the store says how far the pipeline got, whatever the histogram (a restart resets it).
            profiled = await _profiled(database, organisation_id)
            drained = sent is not None and profiled >= sent.accepted
            progress = _Progress(profiled, time.monotonic() - started, drained)
        spent = meter.stop()
        if sent is None:
            sending.cancel()
        lags = await _lags(servers, platform)
    accepted = sent.accepted if sent else progress.profiled
    rate = progress.profiled / progress.seconds if progress.seconds else 0.0
    if progress.drained and sent is not None:
        how = f"{accepted:,} events, all profiled after {progress.seconds:.0f} s"
    else:
        how = (
            f"stopped after {progress.seconds:.0f} s before draining: {progress.profiled:,} of "
            f"{accepted if sent else size.sustained_events:,} profiled (behind: {lags})"
        )
    ingest_rate = f"; ingest took them at {sent.accepted / sent.seconds:,.0f} events/s" if sent and sent.seconds else ""
    throughput = Result(
        "end-to-end: POST /v1/events to profile",
        rate,
        "events/s",
        goal=">= 2000 sustained",
        note=f"{how}{ingest_rate}; purchases, scans, opens, donations of {size.patrons:,} patrons",
    )
    cores = os.cpu_count() or 1
    profiled = max(progress.profiled, 1)
    cpu = Result(
        "end-to-end: CPU per event, every process",
        1000 * sum(spent.seconds.values()) / profiled,
        "ms/event",
        goal=f"<= {1000 * cores / 2000:.2f} (2,000 events/s on {cores} cores)",
        note=f"the same run; {spent.per_event_note(profiled)}",
    )
    return throughput, cpu


def _processes(servers: Servers, platform: IsolatedPlatform) -> dict[str, int | None]:
    """The run's processes by name: the platform's services, the two servers if they run on this machine, and
    this benchmark, which sends the load and reads the results."""
    processes: dict[str, int | None] = dict(platform.fleet.pids())
    processes["Kafka"] = kafka_pid(servers)
    processes["store"] = store_pid(servers)
    processes["benchmark"] = os.getpid()
    return processes


async def _latency(servers: Servers, size: Size, per_second: float, *, goal: str) -> list[Result]:
    """p50, p95 and p99 of the ingest-to-profile latency at `per_second` offered for `size.steady_seconds`; `goal`
    is the p99's."""
    count = int(per_second * size.steady_seconds)
    async with _platform(servers) as (platform, database, organisation_id, token):
        events = upstream_events(count, organisation_id=organisation_id, patrons=size.patrons, prefix="steady")
        sent = await send_steadily(events, platform.url("ingest"), token, per_second=per_second, concurrency=8)
        buckets = await asyncio.to_thread(_latency_buckets, platform.url("profile"))
        # Counted once the histogram is read, so that the count's walk of the fact log does not slow what it shows.
        profiled = await _profiled(database, organisation_id)
    observed = int(buckets[-1][1]) if buckets else 0
    behind = sent.accepted - profiled
    offered = f"{sent.accepted:,} events offered over {sent.seconds:.1f} s ({sent.accepted / sent.seconds:,.0f}/s)"
    results = []
    for quantile in (0.5, 0.95, 0.99):
        seconds = _quantile(quantile, buckets)
        over = math.isinf(seconds)
        value = buckets[-2][0] if over and len(buckets) > 1 else seconds
        results.append(
            Result(
                f"event-to-profile latency p{quantile * 100:.0f} at {per_second:,.0f} events/s",
                value * 1000,
                "ms" if not over else "ms (beyond the last bucket)",
                goal=goal if quantile == 0.99 else "",
                note=(
                    f"{offered} in posts of {BATCH}; {observed:,} profiled when sending stopped, {behind:,} still "
                    "behind (their latency is not counted yet); from profile's histogram buckets"
                    if quantile == 0.5
                    else ""
                ),
            )
        )
    return results


def _latency_buckets(profile_url: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of each bucket of the latency histogram, `+Inf` last."""
    with urllib.request.urlopen(f"{profile_url}/metrics", timeout=10) as answer:  # noqa: S310 - our own service
        text = answer.read().decode()
    buckets = []
    for family in text_string_to_metric_families(text):
        if family.name != LATENCY_METRIC:
            continue
        for sample in family.samples:
            if sample.name == f"{LATENCY_METRIC}_bucket":
                buckets.append((float(sample.labels["le"]), sample.value))
    return sorted(buckets)


def _observed(profile_url: str) -> int:
    """How many facts profile's latency histogram has observed: one for each upstream fact it applied."""
    buckets = _latency_buckets(profile_url)
    return int(buckets[-1][1]) if buckets else 0


def _quantile(quantile: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus's `histogram_quantile`: linear within the bucket the rank falls in; `inf` past the last bound."""
    if not buckets or buckets[-1][1] == 0:
        return math.nan
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return math.inf
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_bound, lower_count = bound, count
    return math.inf


async def _profiled(database: AsyncDatabase[Document], organisation_id: str) -> int:
    return await database[FACT_LOG].count_documents({"organisation_id": organisation_id, "number": {"$exists": True}})


async def _lags(servers: Servers, platform: IsolatedPlatform) -> str:
    groups = await pipeline_state(servers.kafka_bootstrap, platform.namespace)
    return ", ".join(f"{group.group_id.removeprefix(platform.namespace)} {group.lag:,}" for group in groups)


@contextlib.asynccontextmanager
async def _platform(
    servers: Servers,
) -> AsyncIterator[tuple[IsolatedPlatform, AsyncDatabase[Document], str, str]]:
    """A fresh platform, database and token; everything removed afterwards."""
    database_name = f"bench_{uuid.uuid4().hex[:8]}"
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
        database = client[database_name]
        try:
            issued = await TokenStore(database[TOKENS_COLLECTION]).issue(organisation_id, {Scope.EVENTS_WRITE}, "bench")
            with tempfile.TemporaryDirectory(prefix="parterre-bench-") as root:
                async with isolated_platform(
                    Path(root),
                    servers.kafka_bootstrap,
                    servers.mongo_url,
                    database=database_name,
                    extra_environment=(("PARTERRE_LOG_LEVEL", "WARNING"),),
                ) as platform:
                    yield platform, database, organisation_id, issued.token
        finally:
            await client.drop_database(database_name)
