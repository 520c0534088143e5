"""Identity: quality (pairwise precision, recall, F1) and speed, batch and streaming, beside Splink on the same data."""

import asyncio
import csv
import json
import multiprocessing
import multiprocessing.connection
import os
import sys
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import median_low
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.identity.generate import INPUT_FILE, TRUTH_FILE
from bench.identity.quality import PairwiseQuality, pairwise_quality
from bench.identity.synthetic import generate_audience, read_truth, write_audience
from bench.support import REPO_ROOT, MeasuredRun, Result, Servers, discard_run, run_measured
from services.identity.bootstrap import create_app
from services.identity.context import IdentityContext
from services.identity.domain.batch_input import BatchLineError, read_batch_line
from services.identity.domain.normalise import parse_birth_date
from services.identity.handlers import active_person
from services.identity.settings import IdentitySettings
from shared.events import Envelope, EventValidationError, PersonRef, build_envelope
from shared.events.audience import PersonDetailsUpdatedV1
from shared.kafka import ORGANISATION_HEADER, decode_headers, record_for
from shared.topic_admin import ensure_topics
from shared.topics import IDENTITY_RESOLUTIONS, all_topic_partitions, dead_letter_partitions

WORK = REPO_ROOT / ".local" / "bench" / "identity"
SEED = 7
SPLINK_THRESHOLDS = (0.9, 0.95, 0.99)
F1_GOAL = ">= 0.98, precision >= 0.99"


def audience(people: int) -> Path:
    """The generated audience of `people` persons (made once, then reused: generation is deterministic)."""
    directory = WORK / f"people-{people}-seed-{SEED}"
    if not (directory / TRUTH_FILE).exists():
        directory.mkdir(parents=True, exist_ok=True)
        write_audience(generate_audience(people, SEED), directory / INPUT_FILE, directory / TRUTH_FILE)
    return directory


def _quality_note(quality: PairwiseQuality) -> str:
    return f"P {quality.precision:.4f}, R {quality.recall:.4f} over {quality.true_pairs:,} true pairs"


# A budget far below what the 100,000-people audience holds (about 500 MB): most of it waits in the temporary file.
SMALL_BATCH_MEMORY_MB = 64


def _resolve(people: int, output: Path, *options: str) -> tuple[MeasuredRun, dict[str, Any], dict[str, str]]:
    """`parterre identity resolve` on the audience: the run, its summary, and the person of each record."""
    directory = audience(people)
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "shared.cli", "identity", "resolve"]
    run = run_measured(
        [*command, "--input", str(directory / INPUT_FILE), "--output", str(output), *options], environment
    )
    if run.returncode != 0:
        raise RuntimeError(f"parterre identity resolve failed:\n{run.stderr[-3000:]}")
    summary = json.loads(run.stderr.strip().splitlines()[-1])
    with output.open(encoding="utf-8") as assignments:
        predicted = {row["record_id"]: row["person_id"] for row in csv.DictReader(assignments)}
    return run, summary, predicted


def measure_batch(people: int) -> list[Result]:
    directory = audience(people)
    run, summary, predicted = _resolve(people, directory / "parterre.csv")
    truth = read_truth(directory / TRUTH_FILE)
    quality = pairwise_quality(_accepted(truth, predicted), predicted)
    with_refused = pairwise_quality(truth, predicted)
    records = summary["lines"]
    bounded = measure_bounded_batch(people, predicted)
    return [
        *bounded,
        Result(
            f"identity: batch F1, {people:,} people",
            quality.f1,
            "F1",
            goal=F1_GOAL,
            note=(
                f"{_quality_note(quality)}; {records:,} records; {summary['skipped']} that name nobody skipped "
                f"(counted as missed: F1 {with_refused.f1:.4f})"
            ),
        ),
        Result(
            f"identity: batch speed, {people:,} people",
            records / run.seconds,
            "records/s",
            goal=">= 20000",
            note=(
                f"`parterre identity resolve`, whole command incl. start-up: {run.seconds:.1f} s, "
                f"{run.cpu_seconds:.1f} s of CPU (lines prepared in a second process)"
            ),
        ),
        Result(
            f"identity: batch peak memory, {people:,} people",
            run.peak_rss_mb,
            "MB resident",
            goal="flat",
            note=(
                f"the command and the process preparing its lines (pages they share counted once); {records:,} "
                "records in, all held in memory (within the default --memory-mb)"
            ),
        ),
    ]


def _accepted(truth: Mapping[str, str], accepted: Mapping[str, str]) -> dict[str, str]:
    """The truth of the records the platform accepts (those `accepted` maps), which every F1 here is scored on.

    As streaming: a record that names nobody (a family name and a postal code alone) is refused by the event
    contract, so streaming never sees it, and the batch skips it with a reason.
    """
    return {record_id: person for record_id, person in truth.items() if record_id in accepted}


def measure_bounded_batch(people: int, in_memory: Mapping[str, str]) -> list[Result]:
    """The same batch within `SMALL_BATCH_MEMORY_MB`: the persons beyond it wait in a temporary file."""
    run, summary, predicted = _resolve(
        people, audience(people) / "parterre-bounded.csv", "--memory-mb", str(SMALL_BATCH_MEMORY_MB)
    )
    if predicted != in_memory:
        raise RuntimeError(f"{people:,} people: --memory-mb {SMALL_BATCH_MEMORY_MB} resolved otherwise than in memory")
    return [
        Result(
            f"identity: batch speed with --memory-mb {SMALL_BATCH_MEMORY_MB}, {people:,} people",
            summary["lines"] / run.seconds,
            "records/s",
            note="the same persons as all in memory (checked)",
        ),
        Result(
            f"identity: batch peak memory with --memory-mb {SMALL_BATCH_MEMORY_MB}, {people:,} people",
            run.peak_rss_mb,
            "MB resident",
            goal="flat",
            note=(
                f"the command and the process preparing its lines (pages they share counted once): start-ups and "
                f"the budget, caches included; {summary['lines']:,} lines"
            ),
        ),
    ]


def measure_estimated(people: int) -> list[Result]:
    """`parterre identity estimate` on the audience, then `resolve --model` with the model it wrote."""
    directory = audience(people)
    model = directory / "estimated-model.yaml"
    output = directory / "parterre-estimated.csv"
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "shared.cli", "identity"]
    estimate = run_measured(
        [*command, "estimate", "--input", str(directory / INPUT_FILE), "--output", str(model), "--seed", str(SEED)],
        environment,
    )
    if estimate.returncode != 0:
        raise RuntimeError(f"parterre identity estimate failed:\n{estimate.stderr[-3000:]}")
    fitted = json.loads(estimate.stderr.strip().splitlines()[-1])
    resolve = run_measured(
        [*command, "resolve", "--input", str(directory / INPUT_FILE), "--output", str(output), "--model", str(model)],
        environment,
    )
    if resolve.returncode != 0:
        raise RuntimeError(f"parterre identity resolve --model failed:\n{resolve.stderr[-3000:]}")
    with output.open(encoding="utf-8") as assignments:
        predicted = {row["record_id"]: row["person_id"] for row in csv.DictReader(assignments)}
    quality = pairwise_quality(_accepted(read_truth(directory / TRUTH_FILE), predicted), predicted)
    return [
        Result(
            f"identity: batch F1 with EM-estimated model, {people:,} people",
            quality.f1,
            "F1",
            goal="ours >= the configured model's",
            note=f"{_quality_note(quality)}; m by EM on {fitted['blocked_pairs']:,} blocked pairs "
            f"({fitted['iterations']} iterations), u from {fitted['random_pairs']:,} random pairs",
        ),
        Result(
            f"identity: model estimate time, {people:,} people",
            estimate.seconds,
            "s",
            note=f"`parterre identity estimate`, whole command incl. start-up, {fitted['records']:,} records; "
            f"peak memory {estimate.peak_rss_mb:.0f} MB RSS",
        ),
    ]


def measure_splink(people: int) -> list[Result]:
    try:
        from bench.identity.splink_baseline import run_splink_at_thresholds
    except ImportError:
        return [Result(f"identity: Splink F1, {people:,} people", 0, "F1", note="splink not installed: make bench")]
    directory = audience(people)
    # Scored on the records ours was (`measure_batch` wrote their persons): the same pairs for both.
    with (directory / "parterre.csv").open(encoding="utf-8") as assignments:
        ours = {row["record_id"]: row["person_id"] for row in csv.DictReader(assignments)}
    truth = _accepted(read_truth(directory / TRUTH_FILE), ours)
    best: tuple[PairwiseQuality, float, float] | None = None
    for clusters, splink_run in run_splink_at_thresholds(directory / INPUT_FILE, SPLINK_THRESHOLDS):
        quality = pairwise_quality(truth, {key: value for key, value in clusters.items() if key in truth})
        if best is None or quality.f1 > best[0].f1:
            best = (quality, splink_run.threshold, splink_run.total_seconds)
    assert best is not None
    quality, threshold, seconds = best
    return [
        Result(
            f"identity: Splink 5 F1, {people:,} people",
            quality.f1,
            "F1",
            goal="ours >= Splink's",
            note=f"{_quality_note(quality)}; best of thresholds {SPLINK_THRESHOLDS}: {threshold:g}, {seconds:.0f} s",
        )
    ]


def _facts(directory: Path, organisation_id: str) -> Iterator[Envelope]:
    with (directory / INPUT_FILE).open(encoding="utf-8") as lines:
        yield from facts_of_lines(lines, organisation_id)


def facts_of_lines(lines: Iterable[str], organisation_id: str) -> Iterator[Envelope]:
    """Each generated record (a batch-input line) as the fact ingest would publish; records ingest would refuse
    are left out."""
    today = date.today()
    for line in lines:
        try:
            batch = read_batch_line(line)
        except BatchLineError:
            continue
        if batch is None:
            continue
        record = batch.record
        birth = parse_birth_date(record.birth_date, today=today) if record.birth_date else None
        country = record.country if record.country and len(record.country) == 2 else None
        try:
            person = PersonRef(
                source=record.source or "bench",
                external_id=record.external_id,
                email=record.email,
                phone=record.phone,
                first_name=record.first_name,
                last_name=record.last_name,
                street=record.street,
                address_2=record.address_2,
                city=record.city,
                region=record.region,
                postal_code=record.postal_code,
                country=country,
                birth_date=birth,
            )
            yield build_envelope(
                PersonDetailsUpdatedV1(person=person),
                organisation_id=organisation_id,
                source=f"/orgs/{organisation_id}/sources/{person.source}",
                id=batch.record_id,
                time=datetime(2026, 9, 1, tzinfo=UTC),
            )
        except (ValueError, EventValidationError):
            continue


async def measure_streaming(servers: Servers, people: int) -> list[Result]:
    directory = audience(people)
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    namespace, settings = await _run_topics(servers, organisation_id)
    facts = list(_facts(directory, organisation_id))
    await _publish(servers.kafka_bootstrap, namespace + FACTS_TOPIC, facts)
    database = settings.mongo_database
    app = create_app(settings, facts_topic=FACTS_TOPIC, group_id=IDENTITY_GROUP)
    reader = await _ResolutionsReadApart(servers.kafka_bootstrap, organisation_id, namespace, len(facts)).start()
    try:
        started = time.monotonic()
        async with app.router.lifespan_context(app):
            resolved, finished = await reader.read()
            seconds = finished - started
            context = app.state.runtime.extras["identity"]
            assert isinstance(context, IdentityContext)
            final = await _final_persons(context, organisation_id, set(resolved.values()))
            predicted = {record_id: final[person_id] for record_id, person_id in resolved.items()}
            histogram = _histogram(app.state.runtime.registry)
    finally:
        try:
            await reader.stop()
        finally:
            await discard_run(servers, database, namespace)
    truth = read_truth(directory / TRUTH_FILE)
    quality = pairwise_quality(_accepted(truth, predicted), predicted)
    within_20ms = histogram.get(0.02, 0) / max(histogram.get(float("inf"), 1), 1)
    p99_bound = next(
        (bound for bound, count in sorted(histogram.items()) if count >= 0.99 * histogram[float("inf")]), 0
    )
    return [
        Result(
            f"identity: streaming F1, {people:,} people",
            quality.f1,
            "F1",
            goal=F1_GOAL,
            note=f"{_quality_note(quality)}; {len(predicted):,} of {len(facts):,} facts resolved",
        ),
        Result(
            f"identity: streaming speed, {people:,} people",
            len(resolved) / seconds,
            "resolutions/s",
            goal=">= 2000",
            note=f"Kafka in and out, store: the local stack; start-up included; {within_20ms:.1%} took <= 20 ms",
        ),
        Result(
            f"identity: streaming p99 per resolution, {people:,} people",
            p99_bound * 1000,
            "ms (bucket bound)",
            goal="< 20",
            note="from parterre_identity_resolution_duration_seconds; store work, not queueing",
        ),
    ]


# Below what identity handles at most, so that what a fact waits is its batch's work, not a backlog: a quiet hour,
# and a busy one at half the goal's rate.
PACED_RATES = (100, 1_000)
PACED_SECONDS = 30
# Facts arrive in a steady trickle, a few every 5 ms, as webhooks and ticket sales do: sent in bursts a twentieth of a
# second apart, 1,000 facts/s came as batches of 50, each taking 23 ms (p50) against 6 ms for a few facts.
PACED_TICK_SECONDS = 0.005


# At 1,000 facts/s identity is busy most of the time (0.8-0.9 ms of wall time a fact in batches of 10-20), and a
# run settles on a batch size it keeps: with batches of 10 facts (p50), 89-97% of facts took <= 20 ms; of 15,
# 57-90%; of 20-25, 37-73% (24 runs on this machine, on asyncio's loop and on uvloop alike). One run says little;
# the median of a few, each shown, says what to expect.
PACED_RUNS = 3


@dataclass(frozen=True)
class _PacedRun:
    p99_bound: float
    within_20ms: float
    facts: int
    sending_seconds: float
    per_tick: int


async def measure_paced_streaming(servers: Servers, people: int, rate: int, *, runs: int = 1) -> list[Result]:
    """Facts sent at `rate` a second while identity runs: each consumer batch holds what arrived while the last one
    was resolved, and the p99 per resolution is what one fact waits when identity keeps up. Of `runs` runs, the
    medians of the p99 and of the share within 20 ms; the note shows every run."""
    done = [await _paced_run(servers, people, rate) for _run in range(runs)]
    p99_bound = median_low(run.p99_bound for run in done)
    within_20ms = median_low(run.within_20ms for run in done)
    first = done[0]
    note = (
        f"{first.facts:,} facts sent over {first.sending_seconds:.1f} s, {first.per_tick} every "
        f"{first.per_tick / rate * 1000:.0f} ms, each resolved; {within_20ms:.1%} took <= 20 ms"
    )
    if runs > 1:
        note += (
            f" (median of {runs} runs: "
            + ", ".join(f"{run.within_20ms:.1%} with p99 {run.p99_bound * 1000:.0f} ms" for run in done)
            + ")"
        )
    return [
        Result(
            f"identity: streaming p99 per resolution at {rate:,} facts/s",
            p99_bound * 1000,
            "ms (bucket bound)",
            goal="< 20",
            note=note,
        )
    ]


async def _paced_run(servers: Servers, people: int, rate: int) -> _PacedRun:
    directory = audience(people)
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    namespace, settings = await _run_topics(servers, organisation_id)
    facts_topic = namespace + FACTS_TOPIC
    facts = list(_facts(directory, organisation_id))[: rate * PACED_SECONDS]
    database = settings.mongo_database
    app = create_app(settings, facts_topic=FACTS_TOPIC, group_id=IDENTITY_GROUP)
    reader = await _ResolutionsReadApart(servers.kafka_bootstrap, organisation_id, namespace, len(facts)).start()
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap, acks="all")
    await producer.start()
    per_tick = max(round(rate * PACED_TICK_SECONDS), 1)
    try:
        async with app.router.lifespan_context(app):
            sent = []
            started = time.perf_counter()
            for tick, start in enumerate(range(0, len(facts), per_tick)):
                for envelope in facts[start : start + per_tick]:
                    record = record_for(envelope)
                    headers = [(name, value.encode()) for name, value in record.headers.items()]
                    sent.append(
                        await producer.send(facts_topic, record.value, key=record.key.encode(), headers=headers)
                    )
                # On a schedule kept from the start, so that a late tick does not slow the rest.
                await asyncio.sleep(max(started + (tick + 1) * per_tick / rate - time.perf_counter(), 0))
            sending_seconds = time.perf_counter() - started
            await asyncio.gather(*sent)
            resolved, _finished = await reader.read()
            histogram = _histogram(app.state.runtime.registry)
    finally:
        try:
            await producer.stop()
            await reader.stop()
        finally:
            await discard_run(servers, database, namespace)
    total = histogram.get(float("inf"), 0)
    if len(resolved) < len(facts):
        raise RuntimeError(f"identity resolved {len(resolved):,} of the {len(facts):,} facts sent at {rate}/s")
    if not total:
        raise RuntimeError("identity resolved the facts but observed no resolution time")
    return _PacedRun(
        p99_bound=next(bound for bound, count in sorted(histogram.items()) if count >= 0.99 * total),
        within_20ms=histogram.get(0.02, 0) / total,
        facts=len(facts),
        sending_seconds=sending_seconds,
        per_tick=per_tick,
    )


async def _final_persons(context: IdentityContext, organisation_id: str, person_ids: set[str]) -> dict[str, str]:
    """Each person id as it ends, followed through the merges made after it was published; 32 read at once."""
    ordered = sorted(person_ids)
    final: dict[str, str] = {}
    for start in range(0, len(ordered), 32):
        chunk = ordered[start : start + 32]
        persons = await asyncio.gather(*(active_person(context.store, organisation_id, one) for one in chunk))
        final.update(
            (person_id, person.person_id if person is not None else person_id)
            for person_id, person in zip(chunk, persons, strict=True)
        )
    return final


def _histogram(registry: object) -> dict[float, float]:
    buckets: dict[float, float] = {}
    for metric in registry.collect():  # type: ignore[attr-defined]
        if metric.name != "parterre_identity_resolution_duration_seconds":
            continue
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                buckets[float(sample.labels["le"])] = sample.value
    return buckets


# The topic the benchmarks send identity's facts on, within the run's namespace.
FACTS_TOPIC = "bench.facts"
# Identity's consumer group in the benchmarks, within the run's namespace.
IDENTITY_GROUP = "bench-identity"


async def _run_topics(servers: Servers, organisation_id: str) -> tuple[str, IdentitySettings]:
    """A Kafka namespace and a database of the run's own, and identity's settings for them: what identity published
    stayed in the catalog's topics (parterre.identity.resolutions.v1 held 6.7 GiB on this machine's broker after some
    weeks of runs). The caller deletes both."""
    namespace = f"{organisation_id}."
    await ensure_topics(
        servers.kafka_bootstrap,
        {
            **all_topic_partitions(namespace),
            namespace + FACTS_TOPIC: 6,
            **dead_letter_partitions(namespace + IDENTITY_GROUP),
        },
    )
    settings = IdentitySettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        mongo_database=f"bench_{uuid.uuid4().hex[:8]}",
        kafka_namespace=namespace,
    )
    return namespace, settings


async def _publish(bootstrap: str, topic: str, facts: list[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        pending = []
        for envelope in facts:
            record = record_for(envelope)
            headers = [(name, value.encode()) for name, value in record.headers.items()]
            pending.append(await producer.send(topic, record.value, key=record.key.encode(), headers=headers))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


class _Resolutions:
    """Reads the person.resolved events one organisation's facts produce: record id → person id."""

    def __init__(self, bootstrap: str, organisation_id: str, namespace: str) -> None:
        self._bootstrap = bootstrap
        self._organisation_id = organisation_id
        self._topic = namespace + IDENTITY_RESOLUTIONS.name
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)

    async def start(self) -> "_Resolutions":
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            [description] = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(self._topic, entry["partition"]) for entry in description["partitions"]]
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:
            await self._consumer.position(partition)
        return self

    async def read(self, expected: int, idle_seconds: float = 60) -> dict[str, str]:
        resolved: dict[str, str] = {}
        last_progress = time.monotonic()
        while len(resolved) < expected and time.monotonic() - last_progress < idle_seconds:
            for batch in (await self._consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in batch:
                    if decode_headers(record.headers).get(ORGANISATION_HEADER) != self._organisation_id:
                        continue
                    event = json.loads(record.value)
                    if event["type"] == "parterre.person.resolved.v1":
                        resolved[event["data"]["original"]["id"]] = event["data"]["person_id"]
                        last_progress = time.monotonic()
            print(f"\r  streaming: {len(resolved):,}/{expected:,} resolved", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return resolved

    async def stop(self) -> None:
        await self._consumer.stop()


def _read_resolutions(
    bootstrap: str, organisation_id: str, namespace: str, expected: int, answers: multiprocessing.connection.Connection
) -> None:
    """`_ResolutionsReadApart`'s process: "ready" once at the topic's end, then the resolutions and the moment
    (`time.monotonic`, one clock for every process of the machine) the last was read; or the failure, as text."""

    async def read() -> None:
        reader = await _Resolutions(bootstrap, organisation_id, namespace).start()
        try:
            answers.send("ready")
            resolved = await reader.read(expected)
            answers.send((resolved, time.monotonic()))
        finally:
            await reader.stop()

    try:
        asyncio.run(read())
    except BaseException:
        answers.send(traceback.format_exc())
        raise


class _ResolutionsReadApart:
    """`_Resolutions` read in a process of its own: fetching and decoding every resolution identity publishes took
    2-4% of the samples of the process identity ran in (py-spy, 10,000 people), work of the benchmark that the
    service, a process of its own, never does."""

    def __init__(self, bootstrap: str, organisation_id: str, namespace: str, expected: int) -> None:
        # Spawned, not forked: this process runs an event loop and threads of its own.
        context = multiprocessing.get_context("spawn")
        self._answers, answering = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_read_resolutions,
            args=(bootstrap, organisation_id, namespace, expected, answering),
            name="bench-resolutions-reader",
            daemon=True,
        )
        self._answering = answering

    async def start(self) -> "_ResolutionsReadApart":
        self._process.start()
        # Only the child writes: its end closed here, a child that dies shows as the end of the pipe.
        self._answering.close()
        try:
            await self._answer()
        except BaseException:
            await self.stop()
            raise
        return self

    async def read(self) -> tuple[dict[str, str], float]:
        """The resolutions, and the moment the last was read on `time.monotonic`'s clock."""
        resolved, finished = await self._answer()
        return resolved, finished

    async def _answer(self) -> Any:
        try:
            answer = await asyncio.to_thread(self._answers.recv)
        except EOFError:
            raise RuntimeError(f"the resolutions reader ended (exit code {self._process.exitcode})") from None
        if isinstance(answer, str) and answer != "ready":
            raise RuntimeError(f"the resolutions reader failed:\n{answer}")
        return answer

    async def stop(self) -> None:
        # Done reading, it ends at once; still reading (the run failed), it is stopped.
        await asyncio.to_thread(self._process.join, 5)
        if self._process.is_alive():
            self._process.terminate()
            await asyncio.to_thread(self._process.join)
        self._answers.close()


async def measure(servers: Servers, *, quick: bool) -> list[Result]:
    sizes = (10_000,) if quick else (10_000, 100_000)
    results: list[Result] = []
    for people in sizes:
        results += measure_batch(people)
        results += measure_estimated(people)
        results += measure_splink(people)
    # 100,000 people (250,308 facts) stream for about ten minutes on this machine (450-600 resolutions/s): only in a
    # full run.
    for people in (2_000,) if quick else (10_000, 100_000):
        results += await measure_streaming(servers, people)
    for rate in PACED_RATES:
        results += await measure_paced_streaming(
            servers, 2_000 if quick else 10_000, rate, runs=1 if quick else PACED_RUNS
        )
    return results
