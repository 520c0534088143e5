"""Profile speed: resolved facts applied per second with Kafka and the store beside it, and the latency from
ingest to profile while facts arrive at a steady 1,000 a second, and at a rate profile keeps up with."""

import asyncio
import hashlib
import math
import sys
import time
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from bench import store_ceiling
from bench.support import Result, Servers, discard_run, ticket_purchases
from services.profile.adapters.mongo import PROFILES
from services.profile.bootstrap import create_app
from services.profile.settings import ProfileSettings
from shared.events import Envelope, build_envelope
from shared.events.identity import Match, MatchMethod, PersonResolvedV1
from shared.kafka import record_for
from shared.mongo import Document, mongo_client
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions, dead_letter_partitions


def resolved_purchases(count: int, organisation_id: str, persons: int) -> list[Envelope]:
    """Ticket purchases as identity publishes them once resolved: `persons` patrons, each buying in turn."""
    resolved = []
    known: set[str] = set()
    for upstream in ticket_purchases(count, organisation_id, customers=persons):
        data = upstream.data
        customer = str(data["person"]["external_id"])
        person_id = "per_" + hashlib.sha256(customer.encode()).hexdigest()[:12]
        # Each patron their own email; the catalog's example gives everyone Élise's.
        person = {**data["person"], "email": f"patron.{customer}@example.com"}
        tickets = [{**ticket, "ticket_id": f"{upstream.id}-{n}"} for n, ticket in enumerate(data["tickets"])]
        original = upstream.model_copy(update={"data": {**data, "person": person, "tickets": tickets}})
        # Identity tells it created the person with their first fact only.
        method = MatchMethod.EMAIL if person_id in known else MatchMethod.NEW
        known.add(person_id)
        resolved.append(
            build_envelope(
                PersonResolvedV1(original=original, person_id=person_id, match=Match(method=method, confidence=1.0)),
                organisation_id=organisation_id,
                source=f"/orgs/{organisation_id}/identity",
                id=f"resolved-{upstream.id}",
                time=upstream.time,
                person_id=person_id,
            )
        )
    return resolved


def _stamped(envelope: Envelope, at: datetime) -> Envelope:
    """The fact as if ingest had accepted its upstream event at `at`, for the latency measure."""
    original = envelope.data["original"]
    return envelope.model_copy(
        update={"data": {**envelope.data, "original": {**original, "ingesttime": at.isoformat()}}}
    )


class _Producer:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
        self._topic = topic

    async def __aenter__(self) -> "_Producer":
        await self._producer.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._producer.stop()

    async def send(self, envelopes: list[Envelope]) -> None:
        pending = []
        for envelope in envelopes:
            record = record_for(envelope)
            headers = [(name, value.encode()) for name, value in record.headers.items()]
            pending.append(
                await self._producer.send(self._topic, record.value, key=record.key.encode(), headers=headers)
            )
        await asyncio.gather(*pending)


def _handled(registry: object) -> float:
    return sum(
        sample.value
        for metric in registry.collect()  # type: ignore[attr-defined]
        if metric.name == "parterre_profile_facts"
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _p99(registry: object, metric_name: str) -> float:
    buckets: dict[float, float] = {}
    for metric in registry.collect():  # type: ignore[attr-defined]
        if metric.name == metric_name:
            for sample in metric.samples:
                if sample.name.endswith("_bucket"):
                    buckets[float(sample.labels["le"])] = sample.value
    total = buckets.get(float("inf"), 0)
    return next((bound for bound, count in sorted(buckets.items()) if total and count >= 0.99 * total), float("nan"))


async def _run(
    servers: Servers,
    facts: list[Envelope],
    organisation_id: str,
    *,
    rate: float | None,
    stored_profiles: list[Document] | None = None,
) -> dict[str, float]:
    """Starts profile on a topic of its own, sends `facts` (all at once, or paced at `rate` a second) and waits
    until every one is applied; returns the seconds taken and the p99s observed. `stored_profiles` receives the
    profile documents the run left."""
    # A Kafka namespace of the run's own, deleted afterwards: what profile announced stayed in the catalog's topics
    # (parterre.profile.changes.v1 held 7.3 GiB on this machine's broker after some weeks of runs).
    namespace, topic, group_id = f"{organisation_id}.", "bench.resolutions", "bench-profile"
    database = f"bench_{uuid.uuid4().hex[:8]}"
    await ensure_topics(
        servers.kafka_bootstrap,
        {**all_topic_partitions(namespace), namespace + topic: 6, **dead_letter_partitions(namespace + group_id)},
    )
    settings = ProfileSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url=servers.mongo_url,
        mongo_database=database,
        kafka_namespace=namespace,
        profile_sweep_interval_seconds=0,
    )
    app = create_app(settings, resolutions_topic=topic, group_id=group_id)
    registry = app.state.runtime.registry
    try:
        async with (
            app.router.lifespan_context(app),
            _Producer(servers.kafka_bootstrap, namespace + topic) as producer,
        ):
            started = time.perf_counter()
            if rate is None:
                await producer.send(facts)
            else:
                # A second's worth at a time, each stamped as accepted by ingest when it is sent.
                per_tick = max(int(rate / 10), 1)
                for start in range(0, len(facts), per_tick):
                    tick = time.perf_counter()
                    await producer.send([_stamped(fact, datetime.now(UTC)) for fact in facts[start : start + per_tick]])
                    await asyncio.sleep(max(0.1 - (time.perf_counter() - tick), 0))
            last, idle, shown = 0.0, time.monotonic(), 0.0
            while (handled := _handled(registry)) < len(facts) and time.monotonic() - idle < 60:
                if handled != last:
                    last, idle = handled, time.monotonic()
                if time.monotonic() - shown >= 5:
                    shown = time.monotonic()
                    print(f"  profile: {handled:,.0f}/{len(facts):,} applied", file=sys.stderr, flush=True)
                await asyncio.sleep(0.2)
            seconds = time.perf_counter() - started
            print(file=sys.stderr)
            return {
                "seconds": seconds,
                "handled": _handled(registry),
                "latency_p99": _p99(registry, "parterre_profile_event_latency_seconds"),
                "handling_p99": _p99(registry, "parterre_profile_handling_seconds"),
            }
    finally:
        try:
            if stored_profiles is not None:
                async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
                    stored_profiles.extend(await client[database][PROFILES].find({}).to_list(None))
        finally:
            await discard_run(servers, database, namespace)


KEPT_UP_RATE = 200


async def measure(servers: Servers, *, quick: bool) -> list[Result]:
    count, persons = (2_000, 500) if quick else (20_000, 5_000)
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    profiles: list[Document] = []
    facts = resolved_purchases(count, organisation_id, persons)
    flood = await _run(servers, facts, organisation_id, rate=None, stored_profiles=profiles)
    ceiling = await store_ceiling.measure(servers, profiles)
    paced_count = 5_000 if quick else 30_000
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    paced = await _run(servers, resolved_purchases(paced_count, organisation_id, persons), organisation_id, rate=1_000)
    # Below what profile handles at most: what a fact waits when profile keeps up.
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    kept_up_count = 1_000 if quick else 6_000
    kept_up = await _run(
        servers, resolved_purchases(kept_up_count, organisation_id, persons), organisation_id, rate=KEPT_UP_RATE
    )
    return [
        Result(
            f"profile: updates, {count:,} facts for {persons:,} patrons",
            flood["handled"] / flood["seconds"],
            "updates/s",
            goal=">= 2000",
            note=f"all sent at once; p99 per fact {flood['handling_p99'] * 1000:,.0f} ms (bucket bound)",
        ),
        Result(
            "profile: ingest-to-profile p99 at 1,000 facts/s",
            paced["latency_p99"] * 1000,
            "ms (bucket bound)",
            goal="< 250",
            note=f"{paced['handled']:,.0f} of {paced_count:,} facts applied in {paced['seconds']:,.0f} s; "
            "profile alone (identity not in the path)"
            + ("; inf: beyond the histogram's last bound, 60 s" if math.isinf(paced["latency_p99"]) else ""),
        ),
        Result(
            f"profile: ingest-to-profile p99 at {KEPT_UP_RATE} facts/s",
            kept_up["latency_p99"] * 1000,
            "ms (bucket bound)",
            goal="< 250",
            note=f"{kept_up['handled']:,.0f} of {kept_up_count:,} facts applied in {kept_up['seconds']:,.0f} s; "
            "below profile's most, so no backlog",
        ),
        *ceiling,
    ]
