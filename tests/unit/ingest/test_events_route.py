"""The POST /v1/events route on fakes: what an upstream system sends reaches the sink as the events it meant."""

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

from prometheus_client import CollectorRegistry
from starlette.datastructures import Headers

from services.ingest.bootstrap import create_app
from services.ingest.entrypoints.http import EventsAnswer, post_events
from services.ingest.metrics import IngestMetrics
from shared.events import event_type
from shared.tokens import Principal, Scope
from tests.unit.ingest.recording_ports import NewIdsLedger, RecordingSink

ORGANISATION = "theatre-du-nord"
PRINCIPAL = Principal("tok_1", ORGANISATION, frozenset({Scope.EVENTS_WRITE}), "billetterie")


def _request(body: bytes, headers: dict[str, str]) -> SimpleNamespace:
    async def stream() -> AsyncIterator[bytes]:
        yield body

    return SimpleNamespace(headers=Headers({"content-length": str(len(body)), **headers}), stream=stream)


def _context(sink: RecordingSink) -> SimpleNamespace:
    return SimpleNamespace(
        sink=sink,
        ledger=NewIdsLedger(),
        settings=SimpleNamespace(
            max_batch_events=500, max_batch_bytes=512 * 1024, max_event_bytes=32 * 1024, publish_timeout_seconds=1.0
        ),
        metrics=IngestMetrics(CollectorRegistry()),
    )


async def test_an_event_in_cloudevents_binary_mode_is_published_with_the_attributes_of_its_ce_headers() -> None:
    # CloudEvents' HTTP binding (1.0.2, http-protocol-binding.md §3.1), the mode SDKs send by default: the body is the
    # event's data, the attributes are `ce-` headers.
    ticket = event_type("parterre.ticket.purchased.v1")
    headers = {
        "content-type": "application/json; charset=utf-8",
        "ce-specversion": "1.0",
        "ce-id": "billetterie:commande-5117:1",
        "ce-source": "/orgs/theatre-du-nord/sources/billetterie",
        "ce-type": ticket.name,
        "ce-time": "2026-10-03T19:30:00-04:00",
    }
    sink = RecordingSink()

    answer = await post_events(
        _request(json.dumps(ticket.example).encode(), headers),  # type: ignore[arg-type]
        PRINCIPAL,
        _context(sink),  # type: ignore[arg-type]
    )

    assert answer.status_code == 202, answer.body
    assert json.loads(bytes(answer.body))["results"] == [
        {"index": 0, "id": "billetterie:commande-5117:1", "status": "accepted"}
    ]
    [published] = sink.published
    assert (published.id, published.type) == ("billetterie:commande-5117:1", ticket.name)
    assert published.data == ticket.example


async def test_an_empty_cloudevents_batch_is_answered_202_with_nothing_accepted_or_refused() -> None:
    sink = RecordingSink()

    answer = await post_events(
        _request(b"[]", {"content-type": "application/cloudevents-batch+json"}),  # type: ignore[arg-type]
        PRINCIPAL,
        _context(sink),  # type: ignore[arg-type]
    )

    assert answer.status_code == 202, answer.body
    assert json.loads(bytes(answer.body)) == {"accepted": 0, "duplicates": 0, "rejected": 0, "results": []}
    assert sink.published == []


async def test_a_request_whose_every_event_is_rejected_answers_as_its_openapi_document_describes_it() -> None:
    answer = await post_events(
        _request(b'[{"specversion": "1.0"}, {"id": "x"}]', {"content-type": "application/json"}),  # type: ignore[arg-type]
        PRINCIPAL,
        _context(RecordingSink()),  # type: ignore[arg-type]
    )
    spec = create_app().openapi()
    operation = spec["paths"]["/v1/events"]["post"]
    listed = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    assert answer.status_code == 422
    body = json.loads(bytes(answer.body))
    # The per-event answer, not the error body of a refused request.
    assert listed == "EventsAnswer"
    assert EventsAnswer.model_validate(body).rejected == 2
    assert {"application/cloudevents+json", "application/cloudevents-batch+json", "application/json"} <= set(
        operation["requestBody"]["content"]
    )
    assert operation["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventsAnswer")


def test_the_documented_cloudevent_does_not_require_the_organisation_the_token_gives() -> None:
    # An event without `organisationid` is given the token's: a client built from the document must not be made to
    # send it.
    operation = create_app().openapi()["paths"]["/v1/events"]["post"]
    event = operation["requestBody"]["content"]["application/cloudevents+json"]["schema"]

    assert "organisationid" in event["properties"]
    assert "organisationid" not in event["required"]
    assert {"specversion", "id", "source", "type", "time", "data"} <= set(event["required"])
