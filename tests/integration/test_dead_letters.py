"""Operators list a service's dead letters and replay them over its HTTP API, on real Kafka and the real store."""

import asyncio
import collections
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.dead_letters import DEAD_LETTER_REPLAYS, PREVIEW_CHARACTERS, REPLAY_OF_HEADER
from shared.events import Envelope, all_event_types, build_envelope
from shared.kafka import DEAD_LETTER_VALUE_KEPT, ORGANISATION_HEADER, ConsumedRecord, decode_headers
from shared.mongo import Document
from shared.service import Runtime, ServiceParts, create_service_app, subscribe_to_events
from shared.settings import ServiceSettings
from shared.tokens import Scope, TokenStore
from shared.topic_admin import ensure_topics
from shared.topics import dead_letter_topic_for
from tests.integration.kafka_support import publish_envelopes, read_all
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

ORDERS_TOPIC = "probe.orders.v1"
ORDERS_GROUP = "probe-orders"
THEATRE = "theatre-du-nord"
FESTIVAL = "festival-sud"
EFFECTS = "probe_effects"


@dataclass
class ProbeConsumer:
    """A consumer whose effect is one document per event, made idempotent by the event id as every Parterre
    consumer's is; it fails every attempt at the events listed in `broken` (a bug not yet fixed)."""

    broken: set[str] = field(default_factory=set)
    handled: collections.Counter[str] = field(default_factory=collections.Counter)
    applied: collections.Counter[str] = field(default_factory=collections.Counter)

    async def handle(self, consumed: ConsumedRecord[Envelope], runtime: Runtime) -> None:
        envelope = consumed.message
        if envelope.id in self.broken:
            raise RuntimeError(f"no performance known for order {envelope.id}")
        effect = {"_id": envelope.id, "organisation_id": envelope.organisation_id}
        try:
            await runtime.database[EFFECTS].insert_one(effect)
        except DuplicateKeyError:
            pass
        else:
            self.applied[envelope.id] += 1
        self.handled[envelope.id] += 1


@dataclass
class ProbeService:
    app: FastAPI
    settings: ServiceSettings
    consumer: ProbeConsumer

    @property
    def topic(self) -> str:
        return self.settings.kafka_namespace + ORDERS_TOPIC

    @property
    def group_id(self) -> str:
        return self.settings.kafka_namespace + ORDERS_GROUP

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_topic_for(self.group_id)

    async def client(self, organisation_id: str, *scopes: Scope) -> httpx.AsyncClient:
        tokens: TokenStore = self.app.state.runtime.tokens
        issued = await tokens.issue(organisation_id, set(scopes) or {Scope.OPERATIONS_ADMIN}, "night operator")
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://probe",
            headers={"Authorization": f"Bearer {issued.token}"},
        )

    async def publish_poison(self, value: bytes, organisation_id: str, key: bytes | None) -> None:
        await self.send(self.topic, value, key, [(ORGANISATION_HEADER, organisation_id.encode())])

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes | None]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def replays_sent(self, expected: int) -> list[ConsumerRecord[bytes, bytes]]:
        """The replays on the group's topic, once the topic holds `expected` records (or after a short wait)."""
        sent = await read_all(self.settings.kafka_bootstrap, self.topic, expected=expected, deadline_seconds=5)
        return [record for record in sent if REPLAY_OF_HEADER in decode_headers(record.headers)]

    async def publish_order(self, envelope: Envelope) -> None:
        await publish_envelopes(self.settings.kafka_bootstrap, self.topic, [envelope])

    async def publish_failing_order(self) -> Envelope:
        """An order the consumer fails on every attempt, until `consumer.broken` is cleared."""
        purchase = order()
        self.consumer.broken.add(purchase.id)
        await self.publish_order(purchase)
        return purchase


@pytest.fixture
async def probe(
    settings: ServiceSettings, unique_name: str, database: AsyncDatabase[Document]
) -> AsyncIterator[ProbeService]:
    """A service with one consumer group, in a Kafka namespace of its own; its topics and its database (the
    `database` fixture's) are deleted afterwards."""
    probe_settings = ServiceSettings(
        **{**settings.model_dump(), "kafka_namespace": f"{unique_name}.", "consumer_lag_interval_seconds": 0}
    )
    consumer = ProbeConsumer()

    def wire(runtime: Runtime) -> None:
        async def handle(consumed: ConsumedRecord[Envelope]) -> None:
            await consumer.handle(consumed, runtime)

        subscribe_to_events(runtime, topic=ORDERS_TOPIC, group_id=ORDERS_GROUP, handle=handle)

    app = create_service_app(probe_settings, ServiceParts(title="probe", description="probe", wire=wire))
    service = ProbeService(app, probe_settings, consumer)
    topics = {service.topic: 2, service.dead_letter_topic: 1}
    await ensure_topics(settings.kafka_bootstrap, topics)
    try:
        async with app.router.lifespan_context(app):
            yield service
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(list(topics))
        finally:
            await admin.close()


def order(organisation_id: str = THEATRE) -> Envelope:
    ticket = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")
    return build_envelope(
        ticket.model.model_validate(ticket.example),
        organisation_id=organisation_id,
        source=f"/orgs/{organisation_id}/sources/billetterie-principale",
        id=f"order-{uuid.uuid4().hex}",
        time=datetime.now(UTC),
    )


async def listed(client: httpx.AsyncClient, count: int = 1, **params: Any) -> list[dict[str, Any]]:
    """The listing once it holds `count` entries (dead-lettering happens in the background)."""
    items: list[dict[str, Any]] = []

    async def enough() -> bool:
        nonlocal items
        response = await client.get("/v1/dead-letters", params=params)
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        return len(items) >= count

    assert await eventually(enough, deadline_seconds=60), f"only {len(items)} dead letter(s) listed"
    return items


async def test_a_poison_message_is_listed_with_its_reason_and_a_bounded_preview(probe: ProbeService) -> None:
    poison = b"\x00\x01 not an event; " + b"x" * 5000
    await probe.publish_poison(poison, THEATRE, key=b"billetterie-principale:C-004521")

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        body = (await client.get("/v1/dead-letters", params={"group": ORDERS_GROUP, "limit": 5})).json()

    assert entry["id"].startswith(f"{probe.dead_letter_topic}:0:")
    assert entry["group"] == probe.group_id
    assert entry["topic"] == probe.topic
    assert entry["partition"] in (0, 1)
    assert entry["offset"] == 0
    assert entry["error_type"] == "EventValidationError"
    assert entry["reason"].startswith("EventValidationError")
    assert entry["key"] == "billetterie-principale:C-004521"
    assert (entry["event_type"], entry["event_id"]) == (None, None)
    assert entry["size_bytes"] == len(poison)
    assert entry["preview"].startswith("\x00\x01 not an event; xxx")
    assert len(entry["preview"]) == PREVIEW_CHARACTERS
    assert (entry["replays"], entry["last_replayed_at"], entry["last_replayed_by"]) == (0, None, None)
    assert datetime.fromisoformat(entry["dead_lettered_at"]) <= datetime.now(UTC)
    assert body["items"] == [entry]
    assert body["groups"] == [probe.group_id]


async def test_a_replayed_message_that_now_succeeds_is_consumed_again_and_its_effect_happens_once(
    probe: ProbeService,
) -> None:
    purchase = await probe.publish_failing_order()

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        assert (entry["event_type"], entry["event_id"]) == ("parterre.ticket.purchased.v1", purchase.id)
        assert entry["reason"] == f"RuntimeError: no performance known for order {purchase.id}"
        assert entry["attempts"] == probe.settings.consumer_max_attempts
        probe.consumer.broken.clear()

        replayed = await client.post(f"/v1/dead-letters/{entry['id']}/replay")
        assert replayed.status_code == 202, replayed.text
        assert await eventually(lambda: probe.consumer.handled[purchase.id] == 1)
        [after] = (await client.get("/v1/dead-letters")).json()["items"]
        twice = await client.post(f"/v1/dead-letters/{entry['id']}/replay")
        again = await client.post(f"/v1/dead-letters/{entry['id']}/replay", params={"again": "true"})
        assert again.status_code == 202, again.text
        assert await eventually(lambda: probe.consumer.handled[purchase.id] == 2)

    effects = await probe.app.state.runtime.database[EFFECTS].count_documents({"_id": purchase.id})
    assert effects == 1
    assert probe.consumer.applied[purchase.id] == 1
    assert replayed.json()["id"] == entry["id"]
    assert replayed.json()["replays"] == 1
    assert replayed.json()["last_replayed_by"]["name"] == "night operator"
    assert after["replays"] == 1
    assert after["last_replayed_at"] == replayed.json()["last_replayed_at"]
    assert twice.status_code == 409
    assert twice.json()["detail"]["code"] == "already_replayed"
    assert set(twice.json()["detail"]["message"]) == {"en", "fr"}
    assert again.json()["replays"] == 2
    assert again.json()["last_replayed_at"] > after["last_replayed_at"]


# Under Kafka's 1 MB as sent; with the dead letter's headers added, over it: the dead letter keeps its start only.
TOO_LARGE_TO_DEAD_LETTER_WHOLE = b"x" * 1_048_300
# aiokafka's producer default, which the services keep.
MAX_REQUEST_SIZE = 1_048_576


async def test_a_dead_letter_cut_to_fit_is_listed_as_cut_and_replayed_whole_from_its_source_topic(
    probe: ProbeService,
) -> None:
    await probe.publish_poison(TOO_LARGE_TO_DEAD_LETTER_WHOLE, THEATRE, key=b"billetterie-principale:C-1")

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        replayed = await client.post(f"/v1/dead-letters/{entry['id']}/replay")

    assert entry["truncated"] == f"1048300 bytes, the first {DEAD_LETTER_VALUE_KEPT} kept"
    assert entry["size_bytes"] == DEAD_LETTER_VALUE_KEPT
    assert replayed.status_code == 202, replayed.text
    sent = await read_all(probe.settings.kafka_bootstrap, probe.topic, expected=2)
    [replay] = [record for record in sent if REPLAY_OF_HEADER in decode_headers(record.headers)]
    assert replay.value == TOO_LARGE_TO_DEAD_LETTER_WHOLE
    assert replay.key == b"billetterie-principale:C-1"


def largest_value_sent_with(key: bytes, headers: list[tuple[str, bytes | None]]) -> bytes:
    """A value as large as a producer sends with `key` and `headers` under its 1 MB limit, by its own estimate."""
    length = MAX_REQUEST_SIZE - int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"", headers))
    while DefaultRecordBatchBuilder.estimate_size_in_bytes(key, b"x" * length, headers) > MAX_REQUEST_SIZE:
        length -= 1
    return b"x" * length


async def test_a_record_too_large_to_take_the_replay_header_is_replayed_as_it_first_came(probe: ProbeService) -> None:
    key = b"billetterie-principale:C-2"
    headers: list[tuple[str, bytes | None]] = [(ORGANISATION_HEADER, THEATRE.encode())]
    largest = largest_value_sent_with(key, headers)
    await probe.send(probe.topic, largest, key, headers)

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        replayed = await client.post(f"/v1/dead-letters/{entry['id']}/replay")

    assert entry["truncated"] is not None
    assert replayed.status_code == 202, replayed.text
    first, replay = await read_all(probe.settings.kafka_bootstrap, probe.topic, expected=2)
    assert (replay.value, replay.key, list(replay.headers)) == (first.value, first.key, list(first.headers))
    assert replay.value == largest
    assert replayed.json()["replays"] == 1


async def test_a_dead_letter_cut_to_fit_whose_whole_record_retention_deleted_is_refused_replay(
    probe: ProbeService,
) -> None:
    await probe.publish_poison(TOO_LARGE_TO_DEAD_LETTER_WHOLE, THEATRE, key=b"billetterie-principale:C-1")
    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        admin = AIOKafkaAdminClient(bootstrap_servers=probe.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_records(
                {TopicPartition(probe.topic, entry["partition"]): RecordsToDelete(entry["offset"] + 1)}
            )
        finally:
            await admin.close()

        refused = await client.post(f"/v1/dead-letters/{entry['id']}/replay")
        [after] = (await client.get("/v1/dead-letters")).json()["items"]

    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["code"] == "truncated"
    assert set(refused.json()["detail"]["message"]) == {"en", "fr"}
    assert after["replays"] == 0


async def test_two_replays_of_one_entry_at_once_publish_it_once(probe: ProbeService) -> None:
    purchase = await probe.publish_failing_order()

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        probe.consumer.broken.clear()
        answers = await asyncio.gather(
            *(client.post(f"/v1/dead-letters/{entry['id']}/replay") for _ in range(4)), return_exceptions=True
        )
        assert await eventually(lambda: probe.consumer.handled[purchase.id] >= 1)
        await asyncio.sleep(2)  # a second replay would be consumed by now

    statuses = sorted(answer.status_code for answer in answers if isinstance(answer, httpx.Response))
    assert statuses == [202, 409, 409, 409]
    assert probe.consumer.handled[purchase.id] == 1
    replays = await probe.app.state.runtime.database[DEAD_LETTER_REPLAYS].count_documents(
        {"dead_letter_id": entry["id"]}
    )
    assert replays == 1


@pytest.mark.parametrize(("key", "shown"), [(None, None), (b"", ""), (b"\xff\xfeC-004521", "\ufffd\ufffdC-004521")])
async def test_a_replay_sends_the_key_the_message_came_with_none_empty_or_no_utf8_alike(
    probe: ProbeService, key: bytes | None, shown: str | None
) -> None:
    """Kafka spreads records without a key over the partitions and puts those with an empty key on one."""
    await probe.publish_poison(b"{not json", THEATRE, key=key)

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        replayed = await client.post(f"/v1/dead-letters/{entry['id']}/replay")

    assert entry["key"] == shown
    assert replayed.status_code == 202, replayed.text
    [replay] = await probe.replays_sent(expected=2)
    assert replay.key == key
    assert replay.value == b"{not json"


async def test_a_replay_sends_the_headers_the_message_came_with_in_order_one_given_twice_kept_twice(
    probe: ProbeService,
) -> None:
    headers: list[tuple[str, bytes | None]] = [
        ("traceparent", b"00-first"),
        (ORGANISATION_HEADER, THEATRE.encode()),
        ("x-export-batch", b"\xff\xfe\x00"),
        ("traceparent", b"00-second"),
        ("x-empty", None),
    ]
    await probe.send(probe.topic, b"{not json", b"billetterie-principale:C-1", headers)

    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        replayed = await client.post(f"/v1/dead-letters/{entry['id']}/replay")

    assert replayed.status_code == 202, replayed.text
    [replay] = await probe.replays_sent(expected=2)
    assert list(replay.headers) == [*headers, (REPLAY_OF_HEADER, entry["id"].encode())]


async def test_a_message_dead_lettered_twice_is_listed_once_and_a_replay_of_either_is_its_replay(
    probe: ProbeService,
) -> None:
    purchase = await probe.publish_failing_order()

    async with await probe.client(THEATRE) as client:
        [first] = await listed(client)
        # Written again, as by a consumer that stopped between the dead letter and its commit, then failed again.
        [dead] = await read_all(probe.settings.kafka_bootstrap, probe.dead_letter_topic, expected=1)
        await probe.send(probe.dead_letter_topic, dead.value, dead.key, list(dead.headers))
        [once] = await listed(client)
        second = f"{probe.dead_letter_topic}:0:{dead.offset + 1}"
        probe.consumer.broken.clear()

        replayed = await client.post(f"/v1/dead-letters/{first['id']}/replay")
        assert await eventually(lambda: probe.consumer.handled[purchase.id] == 1)
        second_replayed = await client.post(f"/v1/dead-letters/{second}/replay")
        [after] = await listed(client)

    assert once["copies"] == 2
    assert once["id"] in (first["id"], second)
    assert replayed.status_code == 202, replayed.text
    assert second_replayed.status_code == 409, second_replayed.text
    assert second_replayed.json()["detail"]["code"] == "already_replayed"
    assert set(second_replayed.json()["detail"]["message"]) == {"en", "fr"}
    assert (after["copies"], after["replays"]) == (2, 1)
    assert len(await probe.replays_sent(expected=3)) == 1
    assert probe.consumer.handled[purchase.id] == 1


async def test_a_replay_recorded_under_the_dead_letters_own_id_still_counts(probe: ProbeService) -> None:
    """Replays were filed by dead letter before they were filed by the record that failed."""
    await probe.publish_poison(b"{not json", THEATRE, key=b"k")
    async with await probe.client(THEATRE) as client:
        [entry] = await listed(client)
        await probe.app.state.runtime.database[DEAD_LETTER_REPLAYS].insert_one(
            {
                "_id": entry["id"],
                "organisation_id": THEATRE,
                "group_id": probe.group_id,
                "replayed_at": datetime(2026, 3, 1, tzinfo=UTC),
                "token_id": "tok-earlier",
                "token_name": "day operator",
                "topic": probe.topic,
            }
        )
        [seen] = await listed(client)
        refused = await client.post(f"/v1/dead-letters/{entry['id']}/replay")
        again = await client.post(f"/v1/dead-letters/{entry['id']}/replay", params={"again": "true"})

    assert (seen["replays"], seen["last_replayed_by"]["name"]) == (1, "day operator")
    assert refused.status_code == 409
    assert again.status_code == 202, again.text
    assert again.json()["replays"] == 2


async def test_a_replay_that_fails_again_is_dead_lettered_as_a_new_entry_naming_the_first(
    probe: ProbeService,
) -> None:
    purchase = await probe.publish_failing_order()

    async with await probe.client(THEATRE) as client:
        [first] = await listed(client)
        replayed = await client.post(f"/v1/dead-letters/{first['id']}/replay")
        newest, older = await listed(client, count=2)

    assert replayed.status_code == 202
    assert newest["id"] != first["id"]
    assert newest["replay_of"] == first["id"]
    assert newest["event_id"] == purchase.id
    assert newest["topic"] == probe.topic
    assert (newest["replays"], older["id"], older["replays"]) == (0, first["id"], 1)
    assert probe.consumer.applied[purchase.id] == 0


async def test_another_organisations_token_can_neither_see_nor_replay_an_entry(probe: ProbeService) -> None:
    await probe.publish_poison(b"{not json", THEATRE, key=b"k")

    async with await probe.client(THEATRE) as theatre:
        [entry] = await listed(theatre)
    async with await probe.client(FESTIVAL) as festival:
        seen = await festival.get("/v1/dead-letters")
        replay = await festival.post(f"/v1/dead-letters/{entry['id']}/replay")
        topic, partition, offset = entry["id"].rsplit(":", 2)
        nothing_there = await festival.post(f"/v1/dead-letters/{topic}:{partition}:{int(offset) + 1000}/replay")

    assert seen.status_code == 200
    assert seen.json()["items"] == []
    # Answered as an entry that is not there: a 403 would tell another organisation's entry is.
    assert (replay.status_code, replay.json()) == (nothing_there.status_code, nothing_there.json())
    assert replay.json()["detail"]["code"] == "dead_letter_not_found"
    assert await probe.app.state.runtime.database[DEAD_LETTER_REPLAYS].count_documents({}) == 0


async def test_a_token_without_the_operations_scope_gets_403_and_none_gets_401(probe: ProbeService) -> None:
    async with await probe.client(THEATRE, Scope.SUBSCRIPTIONS_ADMIN, Scope.PROFILES_READ) as client:
        listing = await client.get("/v1/dead-letters")
        replay = await client.post(f"/v1/dead-letters/{probe.dead_letter_topic}:0:0/replay")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=probe.app), base_url="http://probe") as anonymous:
        unauthenticated = await anonymous.get("/v1/dead-letters")

    assert listing.status_code == replay.status_code == 403
    assert "operations:admin" in listing.json()["detail"]["message"]["en"]
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize(
    "dead_letter_id",
    ["not-an-id", "{dead_letter_topic}:0:999", "{dead_letter_topic}:3:0", "parterre.deadletter.someone-else:0:0"],
)
async def test_an_unknown_entry_or_group_answers_404(probe: ProbeService, dead_letter_id: str) -> None:
    async with await probe.client(THEATRE) as client:
        replay = await client.post(
            f"/v1/dead-letters/{dead_letter_id.format(dead_letter_topic=probe.dead_letter_topic)}/replay"
        )
        group = await client.get("/v1/dead-letters", params={"group": "parterre-identity"})

    assert replay.status_code == 404
    assert replay.json()["detail"]["code"] == "dead_letter_not_found"
    assert group.status_code == 404
    assert group.json()["detail"]["code"] == "group_not_found"


async def test_a_service_without_consumers_serves_no_dead_letter_routes(settings: ServiceSettings) -> None:
    app = create_service_app(settings, ServiceParts(title="probe", description="probe"))

    assert "/v1/dead-letters" not in {getattr(route, "path", None) for route in app.routes}
