"""POST /v1/events on the real Kafka and store: what is accepted lands once, keyed; what is not is explained."""

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events import Envelope, all_event_types, kafka_key
from shared.kafka import ORGANISATION_HEADER, decode_headers
from tests.integration.ingest.conftest import IngestHarness
from tests.integration.kafka_support import TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

TICKET = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")


def ticket_event(event_id: str, **overrides: Any) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/orgs/test/sources/billetterie",
        "type": TICKET.name,
        "time": "2026-10-03T19:30:00-04:00",
        "data": TICKET.example,
    }
    event.update(overrides)
    return event


async def post(ingest: IngestHarness, body: Any, **headers: str) -> Any:
    return await ingest.client.post(
        "/v1/events",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **ingest.authorised(), **headers},
    )


async def test_a_batch_lands_on_kafka_keyed_by_upstream_customer_with_only_its_valid_events(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    broken = ticket_event("evt-broken", data={**TICKET.example, "tickets": []})
    response = await post(ingest, [ticket_event("evt-1"), broken, ticket_event("evt-2")])

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 1, 0)
    assert body["results"][1]["status"] == "rejected"
    assert body["results"][1]["errors"][0]["field"].startswith("data.tickets")
    records = await facts.read(expected=2)
    landed = {Envelope.from_json_bytes(record.value).id: record for record in records}
    assert set(landed) == {"evt-1", "evt-2"}
    for record in landed.values():
        envelope = Envelope.from_json_bytes(record.value)
        assert envelope.organisation_id == ingest.organisation_id
        assert envelope.ingested_at is not None
        assert record.key == kafka_key(envelope).encode()
        assert decode_headers(record.headers)[ORGANISATION_HEADER] == ingest.organisation_id


async def test_sending_the_same_event_again_is_accepted_but_published_once(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    first = await post(ingest, ticket_event("evt-once"))
    again = await post(ingest, [ticket_event("evt-once"), ticket_event("evt-once")])

    twice_in_one_batch = await post(ingest, [ticket_event("evt-pair"), ticket_event("evt-pair")])

    assert first.json()["accepted"] == 1
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)
    assert [result["status"] for result in twice_in_one_batch.json()["results"]] == ["accepted", "duplicate"]
    published = [Envelope.from_json_bytes(r.value).id for r in await facts.read_quietly(2)]
    assert sorted(published) == ["evt-once", "evt-pair"]


async def test_another_source_s_event_under_an_id_already_known_is_refused_never_taken_for_a_repeat(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    box_office, shop = "/orgs/test/sources/billetterie", "/orgs/test/sources/boutique"
    # Two systems numbering their events alike: CloudEvents makes them two events, by source and id.
    batch = await post(ingest, [ticket_event("1001", source=box_office), ticket_event("1001", source=shop)])
    later = await post(ingest, ticket_event("1002", source=box_office))
    shop_later = await post(ingest, [ticket_event("1002", source=shop), ticket_event("1002", source=shop)])
    box_office_again = await post(ingest, ticket_event("1002", source=box_office))
    # The box office's own event again, behind the shop's under its id: a repeat, however the batch is ordered.
    behind = await post(ingest, [ticket_event("1001", source=shop), ticket_event("1001", source=box_office)])

    assert batch.status_code == 202
    assert (batch.json()["accepted"], batch.json()["duplicates"], batch.json()["rejected"]) == (1, 0, 1)
    accepted, refused = batch.json()["results"]
    assert accepted["status"] == "accepted"
    assert refused["status"] == "rejected"
    [error] = refused["errors"]
    assert (error["field"], error["code"]) == ("id", "id_reused")
    assert box_office in error["reason"]
    assert "uniques" in error["reason_fr"]
    assert later.json()["accepted"] == 1
    assert shop_later.status_code == 422
    assert [result["status"] for result in shop_later.json()["results"]] == ["rejected", "rejected"]
    assert box_office_again.json()["duplicates"] == 1
    assert [result["status"] for result in behind.json()["results"]] == ["rejected", "duplicate"]
    assert behind.json()["results"][0]["errors"][0]["code"] == "id_reused"
    published = [Envelope.from_json_bytes(r.value) for r in await facts.read_quietly(3)]
    assert sorted((envelope.id, envelope.source) for envelope in published) == [
        ("1001", box_office),
        ("1002", box_office),
    ]


async def test_a_batch_of_invalid_events_only_gets_422(ingest: IngestHarness) -> None:
    response = await post(ingest, [ticket_event("x", time="yesterday")])

    assert response.status_code == 422
    assert response.json()["results"][0]["errors"][0]["field"] == "time"


async def test_over_the_limits_is_413_and_nothing_is_published(ingest: IngestHarness, facts: TopicTail) -> None:
    too_many = await post(ingest, [{"id": f"e{number}"} for number in range(501)])
    too_big = await ingest.client.post(
        "/v1/events",
        content=b"[" + b" " * (512 * 1024) + b"]",
        headers={"Content-Type": "application/json", **ingest.authorised()},
    )

    assert too_many.status_code == 413
    assert too_many.json()["detail"]["code"] == "too_many_events"
    assert too_big.status_code == 413
    assert set(too_big.json()["detail"]["message"]) == {"en", "fr"}
    assert await facts.read_quietly(1) == []


async def test_without_a_token_nothing_is_accepted(ingest: IngestHarness) -> None:
    response = await ingest.client.post("/v1/events", json=ticket_event("e"))

    assert response.status_code == 401


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
        st.builds(
            lambda overrides: json.dumps(ticket_event("fuzz", **overrides)).encode(),
            st.dictionaries(
                st.sampled_from(["id", "type", "time", "source", "data", "specversion", "subject", "organisationid"]),
                st.none() | st.integers() | st.text(max_size=30) | st.lists(st.integers(), max_size=3),
                max_size=3,
            ),
        ),
    ),
    content_type=st.sampled_from(["application/json", "application/cloudevents+json", "text/plain", ""]),
)
async def test_fuzzed_bodies_never_produce_a_server_error(
    ingest: IngestHarness, body: bytes, content_type: str
) -> None:
    response = await ingest.client.post(
        "/v1/events", content=body, headers={"Content-Type": content_type, **ingest.authorised()}
    )

    assert response.status_code in {202, 400, 413, 415, 422}, response.text


async def test_the_events_metric_counts_each_accepted_and_duplicate_event_by_type(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    registry = ingest.app.state.runtime.registry

    def counted(outcome: str) -> float:
        labels = {"organisation": ingest.organisation_id, "source": "api", "type": TICKET.name, "outcome": outcome}
        return registry.get_sample_value("parterre_ingest_events_total", {**labels, "reason": ""}) or 0.0

    await post(ingest, [ticket_event("evt-m1"), ticket_event("evt-m2"), ticket_event("evt-m3")])
    await post(ingest, [ticket_event("evt-m1"), ticket_event("evt-m4")])

    assert counted("accepted") == 4
    assert counted("duplicate") == 1
