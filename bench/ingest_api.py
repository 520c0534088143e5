"""Ingest alone: events per second through POST /v1/events batches (400 events of 1.2 KB fit in 512 KB)."""

import asyncio
import json
import time
import uuid

import httpx

from bench.support import Result, Servers, cpu_seconds, discard_run, service_process, ticket_purchases
from infra.platform.fleet import free_port
from shared.mongo import mongo_client
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions

# Batches sent a second time, after all of them: enough to time, few enough to keep the run short.
RESENT_BATCHES = 10


async def measure(servers: Servers, count: int = 100_000, batch: int = 400, concurrency: int = 4) -> list[Result]:
    database = f"bench_{uuid.uuid4().hex[:8]}"
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    # The run's events go to topics of its own, deleted afterwards, not to the catalog's.
    namespace = f"{organisation_id}."
    await ensure_topics(servers.kafka_bootstrap, all_topic_partitions(namespace))
    async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
        token = (
            await TokenStore(client[database][TOKENS_COLLECTION]).issue(organisation_id, {Scope.EVENTS_WRITE}, "bench")
        ).token
        bodies = [
            json.dumps([envelope.to_wire() for envelope in chunk], separators=(",", ":")).encode()
            for chunk in _chunks(ticket_purchases(count, organisation_id), batch)
        ]
        port = free_port()
        environment = {
            "PARTERRE_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
            "PARTERRE_MONGO_URL": servers.mongo_url,
            "PARTERRE_MONGO_DATABASE": database,
            "PARTERRE_HTTP_PORT": str(port),
            "PARTERRE_KAFKA_NAMESPACE": namespace,
        }
        try:
            with service_process("services.ingest", environment, port) as service:
                cpu_before = cpu_seconds(service.pid)
                seconds, latencies = await _post_all(port, token, bodies, concurrency)
                service_cpu = cpu_seconds(service.pid) - cpu_before
                # A sender that never heard the answer sends again (a webhook retried): every event is a duplicate
                # then, recognised among all the ids stored so far.
                resent = bodies[:RESENT_BATCHES]
                resend_seconds, _ = await _post_all(port, token, resent, concurrency, expect_duplicates=True)
        finally:
            await discard_run(servers, database, namespace)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return [
        Result(
            "ingest: POST /v1/events",
            count / seconds,
            "events/s",
            goal=">= 5000",
            note=f"batches of {batch}, {concurrency} in flight; p99 per batch {p99:.0f} ms; "
            f"service CPU {service_cpu / count * 1e6:.0f} µs an event",
        ),
        Result(
            "ingest: POST /v1/events sent again",
            sum(len(json.loads(body)) for body in resent) / resend_seconds,
            "events/s",
            note=f"{len(resent)} of those batches again, each event a duplicate among the {count:,} stored",
        ),
    ]


async def _post_all(
    port: int, token: str, bodies: list[bytes], concurrency: int, *, expect_duplicates: bool = False
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            sent = time.perf_counter()
            response = await client.post("/v1/events", content=body, headers=headers)
            latencies.append(time.perf_counter() - sent)
            expected = "duplicates" if expect_duplicates else "accepted"
            if response.status_code != 202 or response.json()[expected] != len(json.loads(body)):
                raise RuntimeError(f"ingest refused a benchmark batch: {response.status_code} {response.text[:500]}")

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def _chunks(items: list, size: int) -> list[list]:  # type: ignore[type-arg]
    return [items[start : start + size] for start in range(0, len(items), size)]
