"""Reading POST /v1/events bodies: limits, organisation, per-event field errors, valid events kept."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.ingest.domain.api_events import EventLimits, RequestRejectedError, read_api_events
from shared.events import Envelope, all_event_types, event_type, parse_data
from shared.topics import AUDIENCE_FACTS

RECEIVED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ORGANISATION = "theatre-du-nord"
LIMITS = EventLimits(max_events=5, max_batch_bytes=64 * 1024, max_event_bytes=4 * 1024)


def ticket_event(event_id: str = "evt-1", **overrides: Any) -> dict[str, Any]:
    ticket_type = next(event for event in all_event_types() if event.name == "parterre.ticket.purchased.v1")
    event = {
        "specversion": "1.0",
        "id": event_id,
        "source": "/orgs/theatre-du-nord/sources/billetterie",
        "type": ticket_type.name,
        "time": "2026-10-03T19:30:00-04:00",
        "data": ticket_type.example,
    }
    event.update(overrides)
    return event


def read(body: Any, content_type: str = "application/json", limits: EventLimits = LIMITS) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return read_api_events(raw, content_type, organisation_id=ORGANISATION, received_at=RECEIVED, limits=limits)


def test_a_single_valid_event_is_accepted_stamped_with_its_organisation_and_ingest_time() -> None:
    [verdict] = read(ticket_event())

    assert verdict.accepted
    assert verdict.envelope is not None
    assert verdict.envelope.organisation_id == ORGANISATION
    assert verdict.envelope.ingested_at == RECEIVED


def test_a_batch_keeps_the_valid_events_and_names_the_index_field_and_reason_of_the_invalid_ones() -> None:
    broken = ticket_event("evt-2")
    broken["data"] = {**broken["data"], "total": {"amount": "-3", "currency": "CAD"}}
    verdicts = read([ticket_event("evt-1"), broken, ticket_event("evt-3", time="not a time")])

    assert [verdict.accepted for verdict in verdicts] == [True, False, False]
    assert [verdict.index for verdict in verdicts] == [0, 1, 2]
    assert any(error.field.startswith("data.total.amount") for error in verdicts[1].errors)
    assert [error.field for error in verdicts[2].errors] == ["time"]
    assert all(error.reason for verdict in verdicts[1:] for error in verdict.errors)


def test_an_event_naming_another_organisation_is_refused_on_that_field() -> None:
    [verdict] = read([ticket_event(organisationid="festival-sud")])

    assert not verdict.accepted
    assert [(error.field, error.code) for error in verdict.errors] == [("organisationid", "forbidden")]


def test_only_upstream_facts_may_be_sent() -> None:
    other = next(event for event in all_event_types() if event.topic != AUDIENCE_FACTS)
    [verdict] = read([ticket_event(type=other.name, data=other.example)])

    assert [error.code for error in verdict.errors] == ["not_an_upstream_fact"]


def test_an_upstream_fact_may_not_name_a_person_by_parterre_s_own_id() -> None:
    # Identity erases the person an erasure request names this way: an upstream system could erase anyone.
    erasure = next(event for event in all_event_types() if event.name == "parterre.privacy.erasure_requested.v1")
    data = {**erasure.example, "person": {"source": "parterre-identity", "external_id": "per_7f3a9c2e41d8"}}
    [verdict] = read([ticket_event(type=erasure.name, data=data)])

    assert [(error.field, error.code) for error in verdict.errors] == [("data.person.source", "reserved")]


def test_an_unknown_type_is_refused_on_the_type_field() -> None:
    [verdict] = read([ticket_event(type="parterre.ticket.teleported.v1")])

    assert [error.field for error in verdict.errors] == ["type"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{}", "text/plain", 415, "unsupported_media_type"),
        (b"{}", None, 415, "unsupported_media_type"),
        (b"{not json", "application/json", 400, "malformed_json"),
        (b"\xff\xfe", "application/json", 400, "malformed_json"),
        (b"[]", "application/json", 400, "no_events"),
        (b'"a string"', "application/json", 400, "no_events"),
        (json.dumps([ticket_event(f"e{n}") for n in range(6)]).encode(), "application/json", 413, "too_many_events"),
        (b" " * (64 * 1024 + 1), "application/json", 413, "payload_too_large"),
    ],
)
def test_a_request_that_cannot_be_read_is_refused_whole_with_a_precise_status(
    body: bytes, content_type: str | None, status: int, code: str
) -> None:
    with pytest.raises(RequestRejectedError) as refused:
        read_api_events(body, content_type, organisation_id=ORGANISATION, received_at=RECEIVED, limits=LIMITS)

    assert (refused.value.status, refused.value.code) == (status, code)
    assert refused.value.en
    assert refused.value.fr


@pytest.mark.parametrize(
    "body",
    [
        # Valid JSON that Python will not turn into values: an integer beyond its 4,300 digits, arrays 5,000 deep.
        b'{"id": ' + b"7" * 5000 + b"}",
        b"[" * 5000 + b"]" * 5000,
    ],
    ids=["integer-of-5000-digits", "arrays-nested-5000-deep"],
)
def test_json_too_long_in_a_number_or_too_deep_to_read_is_refused_as_malformed_not_a_crash(body: bytes) -> None:
    with pytest.raises(RequestRejectedError) as refused:
        read(body)

    assert (refused.value.status, refused.value.code) == (400, "malformed_json")
    assert refused.value.fr


@pytest.mark.parametrize(
    ("body", "en", "fr"),
    [
        (
            b'{"id": "x",}',
            "Expecting property name enclosed in double quotes at line 1, column 12",
            "nom de propriété entre guillemets doubles attendu à la ligne 1, colonne 12",
        ),
        (
            b'{"id":\n "x" "y"}',
            "Expecting ',' delimiter at line 2, column 6",
            "virgule attendue à la ligne 2, colonne 6",
        ),
        # Windows-1252, as many French systems still write: `é` is the byte 0xE9.
        (
            '{"subject": "Théâtre"}'.encode("cp1252"),
            "it is not UTF-8 (byte 0xE9 at position 15); send JSON in UTF-8",
            "il n'est pas en UTF-8 (octet 0xE9 à la position 15) ; envoyez le JSON en UTF-8",
        ),
    ],
)
def test_a_body_that_is_not_json_is_refused_saying_where_in_each_language(body: bytes, en: str, fr: str) -> None:
    with pytest.raises(RequestRejectedError) as refused:
        read(body)

    assert (refused.value.status, refused.value.code) == (400, "malformed_json")
    assert refused.value.en == f"The body is not valid JSON: {en}."
    assert refused.value.fr == f"Le corps n'est pas du JSON valide : {fr}."


def test_an_oversized_event_is_refused_alone_in_a_batch_and_with_413_when_sent_alone() -> None:
    huge = ticket_event("big", subject="x" * 5000)

    verdicts = read([ticket_event("small"), huge])
    assert [verdict.accepted for verdict in verdicts] == [True, False]
    assert verdicts[1].errors[0].code == "too_large"
    with pytest.raises(RequestRejectedError) as refused:
        read(huge)
    assert refused.value.status == 413


def test_an_event_measured_in_utf8_is_accepted_up_to_the_byte_limit_and_refused_one_byte_over() -> None:
    base = len(json.dumps(ticket_event("é", subject="é"), ensure_ascii=False, separators=(",", ":")).encode())
    # Each `é` is two bytes in UTF-8 (six as the `\u00e9` escape `json.dumps` writes by default).
    at_limit = EventLimits(max_event_bytes=base)

    assert read([ticket_event("é", subject="é")], limits=at_limit)[0].accepted
    assert not read([ticket_event("é", subject="éé")], limits=at_limit)[0].accepted


def test_an_escaped_lone_surrogate_is_refused_with_a_reason_not_a_crash() -> None:
    # `json.dumps` escapes the lone surrogate as `\ud800`, as a client might send it.
    body = json.dumps([ticket_event("ok"), ticket_event("bad", subject="\ud800")])

    verdicts = read(body.encode())

    assert [verdict.accepted for verdict in verdicts] == [True, False]
    assert [(error.field, error.code) for error in verdicts[1].errors] == [("$", "unicode_invalid")]


def test_an_event_nested_deeper_than_it_can_be_stored_is_refused_saying_so() -> None:
    nested: object = "fond"
    for _ in range(300):
        nested = [nested]
    deep = ticket_event("deep")
    deep["data"] = {**deep["data"], "note": nested}

    verdicts = read([ticket_event("ok"), deep])

    assert [verdict.accepted for verdict in verdicts] == [True, False]
    [error] = verdicts[1].errors
    assert (error.field, error.code) == ("$", "nested_too_deep")
    assert error.reason == "contains values nested too deep to be stored"
    assert error.reason_fr == "contient des valeurs trop imbriquées pour être enregistrées"


def test_cloudevents_media_types_are_accepted() -> None:
    for media_type in ("application/cloudevents+json; charset=utf-8", "application/cloudevents-batch+json"):
        assert read([ticket_event()], content_type=media_type)[0].accepted


# CloudEvents' JSON format (1.0.2), read as the specification says


def errors_of(verdict: Any) -> list[tuple[str, str]]:
    return [(error.field, error.code) for error in verdict.errors]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON;charset=UTF-8"])
def test_a_json_media_type_with_parameters_is_json(content_type: str) -> None:
    [verdict] = read([ticket_event(datacontenttype=content_type)])

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.datacontenttype == "application/json"


def test_a_null_organisation_is_read_as_absent_and_is_the_token_s() -> None:
    [verdict] = read([ticket_event(organisationid=None)])

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.organisation_id == ORGANISATION


@pytest.mark.parametrize("attribute", ["datacontenttype", "schemaversion", "subject"])
def test_a_null_optional_attribute_is_read_as_absent(attribute: str) -> None:
    event = ticket_event()
    event[attribute] = None

    [verdict] = read([event])

    assert verdict.accepted, errors_of(verdict)


@pytest.mark.parametrize("schema_version", [None, ...], ids=["null", "absent"])
def test_an_event_of_a_second_version_type_without_a_schema_version_is_read_at_that_version(
    schema_version: object,
) -> None:
    # An event without one is read at its type's first schema: for a `.v2` type, 2.0, not the 1.0 of `.v1` types.
    cleaned = event_type("parterre.newsletter.cleaned.v2")
    event = ticket_event(type=cleaned.name, data=cleaned.example)
    if schema_version is None:
        event["schemaversion"] = None

    [verdict] = read([event])

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.schema_version == "2.0"


def test_a_null_required_attribute_is_reported_missing() -> None:
    [verdict] = read([ticket_event(id=None)])

    assert errors_of(verdict) == [("id", "missing")]


@pytest.mark.parametrize("time", [1788373868, "1788373868", 1788373868.5, " 1788373868 ", "1.788373868e9", ".5"])
def test_a_time_given_as_seconds_since_1970_is_refused_naming_time(time: Any) -> None:
    [verdict] = read([ticket_event(time=time)])

    assert errors_of(verdict) == [("time", "rfc3339_time")]


def test_a_time_in_data_given_as_seconds_since_1970_is_refused_naming_it() -> None:
    consent = next(event for event in all_event_types() if event.name == "parterre.consent.granted.v1")
    data = {**consent.example, "captured_at": 1788373868}

    [verdict] = read([ticket_event(type=consent.name, data=data)])

    assert errors_of(verdict) == [("data.captured_at", "rfc3339_time")]


@pytest.mark.parametrize("day", [0, "0", 1788307200, "1788307200", 86400.0])
def test_a_birth_date_given_as_a_number_is_refused_naming_it(day: Any) -> None:
    example = ticket_event()["data"]
    data = {**example, "person": {**example["person"], "birth_date": day}}

    [verdict] = read([ticket_event(data=data)])

    assert errors_of(verdict) == [("data.person.birth_date", "iso_date")]


def test_a_subscription_s_days_given_as_numbers_are_refused_naming_them() -> None:
    subscription = next(event for event in all_event_types() if event.name == "parterre.subscription.purchased.v1")
    data = {**subscription.example, "starts_on": 1788220800, "ends_on": "1819756800"}

    [verdict] = read([ticket_event(type=subscription.name, data=data)])

    assert errors_of(verdict) == [("data.starts_on", "iso_date"), ("data.ends_on", "iso_date")]


def test_an_event_stored_before_times_in_seconds_were_refused_still_reads_back() -> None:
    consent = next(event for event in all_event_types() if event.name == "parterre.consent.granted.v1")
    # Ingest kept `data` as sent: a fact accepted then, in Kafka or the profile's log, is read again as it was.
    stored = Envelope.from_json_bytes(
        json.dumps(
            ticket_event(type=consent.name, data={**consent.example, "captured_at": 1788373868})
            | {"organisationid": ORGANISATION}
        ).encode()
    )

    granted = parse_data(stored)

    assert granted.model_dump()["captured_at"] == datetime.fromtimestamp(1788373868, UTC)


def test_an_extension_name_longer_than_the_advised_twenty_characters_is_kept() -> None:
    [verdict] = read([ticket_event(comexampleextensionname="value")])

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.extensions == {"comexampleextensionname": "value"}


def test_every_refusal_of_an_event_says_its_reason_in_french_too() -> None:
    parterre_person = ticket_event("evt-reserved")
    parterre_person["data"] = {
        **parterre_person["data"],
        "person": {"source": "parterre-identity", "external_id": "per_1"},
    }
    fax = ticket_event("evt-fax")
    fax["data"] = {**fax["data"], "channel": "fax"}
    verdicts = read(
        [
            "not an object",
            ticket_event("evt-other", organisationid="festival-sud"),
            ticket_event("evt-profile", type="parterre.profile.changed.v1"),
            ticket_event("evt-unknown", type="parterre.nothing.v1"),
            parterre_person,
            fax,
            {**ticket_event("evt-big"), "padding": "x" * LIMITS.max_event_bytes},
            consent_event("evt-consent", "granted", "2062-10-03T19:30:00-04:00"),
        ],
        limits=EventLimits(max_events=10, max_batch_bytes=64 * 1024, max_event_bytes=4 * 1024),
    )
    errors = [error for verdict in verdicts for error in verdict.errors]

    assert [error.code for error in errors] == [
        "type_error",
        "forbidden",
        "not_an_upstream_fact",
        "unknown_type",
        "reserved",
        "enum",
        "too_large",
        "captured_in_future",
    ]
    for error in errors:
        assert "valeur refusée" not in error.reason_fr, error.code
        assert " or " not in error.reason_fr, error.reason_fr


# CloudEvents' HTTP binding (1.0.2, http-protocol-binding.md §3.1): in binary mode the body is the event's `data`, in
# its `Content-Type`, and every other attribute is a `ce-` header, percent-encoded.


def binary_headers(**overrides: str) -> dict[str, str]:
    event = ticket_event()
    headers = {f"ce-{name}": event[name] for name in ("specversion", "id", "source", "type", "time")}
    headers.update(overrides)
    return headers


def read_binary(headers: dict[str, str], body: Any, content_type: str = "application/json; charset=utf-8") -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return read_api_events(
        raw, content_type, organisation_id=ORGANISATION, received_at=RECEIVED, limits=LIMITS, headers=headers
    )


def test_an_event_in_binary_mode_is_read_from_its_ce_headers_with_the_body_as_its_data() -> None:
    data = ticket_event()["data"]

    # A subject percent-encoded, an extension double-quoted as the binding's earlier versions wrote it.
    headers = binary_headers(**{"ce-subject": "Si%C3%A8ge%2013", "ce-partner": '"box \\"office\\""'})

    [verdict] = read_binary(headers, data)

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.id == "evt-1"
    assert verdict.envelope.type == "parterre.ticket.purchased.v1"
    assert verdict.envelope.subject == "Siège 13"
    assert verdict.envelope.extensions == {"partner": 'box "office"'}
    assert verdict.envelope.data == data
    assert verdict.envelope.organisation_id == ORGANISATION


def test_a_binary_mode_event_lacking_an_attribute_is_refused_naming_only_that_attribute() -> None:
    headers = binary_headers()
    del headers["ce-type"]

    [verdict] = read_binary(headers, ticket_event()["data"])

    assert errors_of(verdict) == [("type", "missing")]


def test_a_binary_mode_header_that_is_not_percent_encoded_utf8_is_refused_naming_it() -> None:
    # %C0%A0 is an overlong encoding of a space, which the binding says must be rejected.
    with pytest.raises(RequestRejectedError) as refused:
        read_binary(binary_headers(**{"ce-subject": "a%C0%A0b"}), ticket_event()["data"])

    assert (refused.value.status, refused.value.code) == (400, "malformed_header")
    assert "ce-subject" in refused.value.en
    assert "ce-subject" in refused.value.fr


def test_an_event_in_structured_mode_with_ce_headers_beside_it_is_read_from_its_body() -> None:
    # The binding lets structured mode repeat attributes as headers; the body's are the event's.
    [verdict] = read_binary(binary_headers(**{"ce-id": "other"}), ticket_event(), "application/cloudevents+json")

    assert verdict.accepted, errors_of(verdict)
    assert verdict.envelope.id == "evt-1"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", "-1E400", "2.5e308"])
def test_a_value_json_has_not_or_a_number_beyond_a_double_is_refused_not_stored_as_null(value: str) -> None:
    # Python's reader takes `NaN` and `Infinity`, and reads `1e400` as infinity: the event would reach Kafka with
    # `null` in its place.
    event = ticket_event()
    event["data"] = {**event["data"], "note": "placeholder"}
    body = json.dumps(event).replace('"placeholder"', value)

    with pytest.raises(RequestRejectedError) as refused:
        read(body.encode())

    assert (refused.value.status, refused.value.code) == (400, "malformed_json")
    assert value.lstrip("-") in refused.value.en
    assert value.lstrip("-") in refused.value.fr


def test_an_empty_batch_in_cloudevents_batched_mode_is_nothing_to_judge_not_a_refusal() -> None:
    # CloudEvents' HTTP binding (1.0.2, §3.3.2): "The batch MAY be empty."
    assert read(b"[]", "application/cloudevents-batch+json; charset=utf-8") == []


def test_a_number_too_large_is_named_cut_short_not_echoed_whole() -> None:
    # The body may be half a megabyte of digits: the refusal names the number, it does not send it back twice.
    number = "1" + "0" * 60_000 + "e400"
    event = ticket_event()
    event["data"] = {**event["data"], "note": "placeholder"}
    body = json.dumps(event).replace('"placeholder"', number)

    with pytest.raises(RequestRejectedError) as refused:
        read(body.encode())

    assert (refused.value.status, refused.value.code) == (400, "malformed_json")
    assert len(refused.value.en) < 200
    assert len(refused.value.fr) < 200
    assert "1000000000" in refused.value.en


def test_an_event_dated_more_than_a_day_after_its_receipt_is_refused_alone_naming_both_moments() -> None:
    ahead = ticket_event("evt-ahead", time=(RECEIVED + timedelta(days=1, minutes=1)).isoformat())
    # A clock upstream running ahead, or a zone taken for UTC, is let through.
    skewed = ticket_event("evt-skewed", time=(RECEIVED + timedelta(hours=5)).isoformat())

    first, second = read([ahead, skewed])

    assert not first.accepted
    [error] = first.errors
    assert (error.field, error.code) == ("time", "time_in_future")
    assert error.reason == (
        "is 2026-11-30T12:01:00+00:00, more than a day after it was received (2026-11-29T12:00:00+00:00): an event is "
        "sent once it happened"
    )
    assert error.reason_fr.startswith("vaut 2026-11-30T12:01:00+00:00, plus d'un jour après sa réception")
    assert second.accepted


def consent_event(event_id: str, kind: str, captured_at: str) -> dict[str, Any]:
    consent_type = next(event for event in all_event_types() if event.name == f"parterre.consent.{kind}.v1")
    data = {**consent_type.example, "captured_at": captured_at}
    return ticket_event(event_id, type=consent_type.name, time="2026-10-03T19:30:00-04:00", data=data)


@pytest.mark.parametrize("kind", ["granted", "withdrawn"])
def test_consent_captured_more_than_a_day_after_its_event_s_time_is_refused_naming_both_moments(kind: str) -> None:
    # A year mistyped: a grant dated 2062 would outrank every unsubscribe until then.
    mistyped = consent_event("evt-mistyped", kind, "2062-10-03T19:30:00-04:00")
    # A form's clock a little ahead of the system telling it is let through, as an event's time is.
    skewed = consent_event("evt-skewed", kind, "2026-10-04T19:29:00-04:00")
    earlier = consent_event("evt-earlier", kind, "2026-09-02T14:31:08-04:00")

    first, second, third = read([mistyped, skewed, earlier], "application/cloudevents-batch+json")

    assert not first.accepted
    [error] = first.errors
    assert (error.field, error.code) == ("data.captured_at", "captured_in_future")
    assert error.reason == (
        "is 2062-10-03T19:30:00-04:00, more than a day after the event's time (2026-10-03T19:30:00-04:00): consent is "
        "told once it was captured"
    )
    assert error.reason_fr.startswith("vaut 2062-10-03T19:30:00-04:00, plus d'un jour après l'heure de l'événement")
    assert second.accepted, errors_of(second)
    assert third.accepted, errors_of(third)


def test_consent_captured_in_the_future_is_refused_in_binary_mode_too() -> None:
    event = consent_event("evt-1", "granted", "2062-10-03T19:30:00-04:00")

    [verdict] = read_binary(binary_headers(**{"ce-type": event["type"]}), event["data"])

    assert errors_of(verdict) == [("data.captured_at", "captured_in_future")]


def test_an_unknown_type_is_refused_naming_the_upstream_fact_types_in_each_language() -> None:
    [verdict] = read(ticket_event(type="com.example.someevent"))

    [error] = verdict.errors
    assert error.code == "unknown_type"
    assert "parterre.ticket.purchased.v1" in error.reason
    assert "parterre.ticket.purchased.v1" in error.reason_fr
    # Sent here, a type of Parterre's own outputs is refused: it is not offered.
    assert "parterre.profile.changed.v1" not in error.reason
    assert "parterre.profile.changed.v1" not in error.reason_fr
