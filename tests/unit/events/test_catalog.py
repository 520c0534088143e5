"""The event type catalog: every type's example round-trips, bad data is refused field by field, docs are complete."""

import copy
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from pydantic import BaseModel, ValidationError

from shared.events import (
    AudienceFact,
    Envelope,
    EventData,
    EventType,
    EventValidationError,
    FieldError,
    LocalizedText,
    PersonDetail,
    PersonRef,
    TicketPurchasedV1,
    UnknownEventTypeError,
    all_event_types,
    build_envelope,
    data_model_for,
    event_type,
    field_errors,
    kafka_key,
    parse_data,
    parse_event,
)
from shared.events.errors import french_reason
from shared.events.identity import PersonResolvedV1
from shared.events.registry import EVENT_TYPE_PATTERN
from shared.topics import AUDIENCE_FACTS

EVENT_TYPES = all_event_types()
TYPE_NAMES = [registered.name for registered in EVENT_TYPES]
SENT_AT = datetime(2026, 10, 17, 23, 42, 13, tzinfo=UTC)

Mutation = Callable[[dict[str, Any]], None]


def envelope_of(data: EventData, **attributes: Any) -> Envelope:
    defaults: dict[str, Any] = {
        "organisation_id": "theatre-du-nord",
        "source": "/orgs/theatre-du-nord/sources/billetterie-principale",
        "id": "evt-0001",
        "time": SENT_AT,
    }
    return build_envelope(data, **{**defaults, **attributes})


def example_data(type_name: str) -> EventData:
    registered = event_type(type_name)
    return registered.model.model_validate(registered.example)


def wire_event(type_name: str, data: dict[str, Any]) -> bytes:
    wire = envelope_of(example_data(type_name)).to_wire()
    return json.dumps({**wire, "data": data}).encode()


def _walk(document: dict[str, Any], path: str) -> tuple[Any, str | int]:
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    node: Any = document
    for part in parents:
        node = node[part]
    return node, last


def without(path: str) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        parent, last = _walk(document, path)
        del parent[last]

    mutate.__name__ = f"without {path}"
    return mutate


def replaced(path: str, value: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        parent, last = _walk(document, path)
        parent[last] = value

    mutate.__name__ = f"{path}={value!r}"
    return mutate


# One or more broken variants of each type's example, and the one field the error must name.
BAD_EXAMPLES: list[tuple[str, Mutation, str]] = [
    ("parterre.ticket.purchased.v1", without("person"), "data.person"),
    ("parterre.ticket.purchased.v1", replaced("person", {"source": "billetterie-principale"}), "data.person"),
    ("parterre.ticket.purchased.v1", replaced("person.email", "elise gagnon@example.com"), "data.person.email"),
    ("parterre.ticket.purchased.v1", replaced("person.country", "Canada"), "data.person.country"),
    ("parterre.ticket.purchased.v1", replaced("person.source", "Billetterie"), "data.person.source"),
    ("parterre.ticket.purchased.v1", replaced("tickets", []), "data.tickets"),
    ("parterre.ticket.purchased.v1", replaced("tickets.1.price.amount", "32.005"), "data.tickets.1.price.amount"),
    ("parterre.ticket.purchased.v1", replaced("total.currency", "cad"), "data.total.currency"),
    ("parterre.ticket.purchased.v1", replaced("channel", "kiosque"), "data.channel"),
    (
        "parterre.ticket.purchased.v1",
        replaced("performance.starts_at", "2026-10-17T20:00:00"),
        "data.performance.starts_at",
    ),
    ("parterre.ticket.purchased.v1", replaced("performance.title", {}), "data.performance.title"),
    ("parterre.ticket.refunded.v1", replaced("ticket_ids", []), "data.ticket_ids"),
    ("parterre.ticket.refunded.v1", replaced("amount.amount", "-32.00"), "data.amount.amount"),
    ("parterre.ticket.exchanged.v1", without("to_performance"), "data.to_performance"),
    ("parterre.ticket.exchanged.v1", replaced("from_ticket_ids.0", ""), "data.from_ticket_ids.0"),
    ("parterre.ticket.scanned.v1", replaced("scanned_at", "2026-10-17T19:42:13"), "data.scanned_at"),
    ("parterre.subscription.purchased.v1", replaced("ends_on", "2026-06-30"), "data.ends_on"),
    ("parterre.subscription.purchased.v1", replaced("kind", "abonnement"), "data.kind"),
    ("parterre.subscription.purchased.v1", replaced("season", "26-27"), "data.season"),
    (
        "parterre.shop.order_placed.v1",
        replaced("lines.0.unit_price.amount", "8.001"),
        "data.lines.0.unit_price.amount",
    ),
    ("parterre.shop.order_placed.v1", replaced("lines.0.quantity", 0), "data.lines.0.quantity"),
    (
        "parterre.shop.order_placed.v1",
        replaced("lines.1.product_name", {"es": "Las cuñadas"}),
        "data.lines.1.product_name",
    ),
    ("parterre.shop.order_refunded.v1", without("order_id"), "data.order_id"),
    ("parterre.shop.order_cancelled.v1", replaced("reason", ""), "data.reason"),
    ("parterre.donation.made.v1", replaced("amount.currency", "CA$"), "data.amount.currency"),
    ("parterre.donation.made.v1", replaced("recurring", "peut-être"), "data.recurring"),
    ("parterre.newsletter.subscribed.v1", without("list_id"), "data.list_id"),
    ("parterre.newsletter.unsubscribed.v1", replaced("reason", "ennui"), "data.reason"),
    ("parterre.newsletter.cleaned.v1", replaced("reason", "soft"), "data.reason"),
    ("parterre.newsletter.cleaned.v2", without("list_id"), "data.list_id"),
    ("parterre.newsletter.cleaned.v2", replaced("reason", ""), "data.reason"),
    ("parterre.email.opened.v1", replaced("campaign_name", {"de": "Herbst"}), "data.campaign_name"),
    ("parterre.email.clicked.v1", replaced("url", "javascript:alert(1)"), "data.url"),
    ("parterre.email.bounced.v1", replaced("bounce_type", "permanent"), "data.bounce_type"),
    ("parterre.social.engaged.v1", replaced("kind", "retweet"), "data.kind"),
    ("parterre.social.engaged.v1", replaced("network", "Instagram"), "data.network"),
    ("parterre.form.submitted.v1", replaced("answers.spectacle_prefere", 12), "data.answers.spectacle_prefere"),
    ("parterre.form.submitted.v1", replaced("kind", "petition"), "data.kind"),
    ("parterre.consent.granted.v1", replaced("purpose", "telemarketing"), "data.purpose"),
    ("parterre.consent.granted.v1", replaced("basis", "implied_newsletter"), "data.basis"),
    ("parterre.consent.granted.v1", replaced("captured_at", "2026-09-02T14:31:08"), "data.captured_at"),
    ("parterre.consent.withdrawn.v1", without("captured_at"), "data.captured_at"),
    ("parterre.privacy.erasure_requested.v1", without("do_not_readd"), "data.do_not_readd"),
    ("parterre.privacy.access_requested.v1", without("request_id"), "data.request_id"),
    ("parterre.privacy.access_requested.v1", replaced("requested_at", "2026-11-05T09:12:44"), "data.requested_at"),
    ("parterre.privacy.access_requested.v1", replaced("order_ids.1", ""), "data.order_ids.1"),
    (
        "parterre.person.details_updated.v1",
        replaced("previous_email", "elise gagnon@example.com"),
        "data.previous_email",
    ),
    ("parterre.person.details_updated.v1", replaced("changed_fields", ["source"]), "data.changed_fields.0"),
    ("parterre.person.details_updated.v1", replaced("changed_fields", ["courriel"]), "data.changed_fields.0"),
    ("parterre.privacy.source_redaction_requested.v1", without("source"), "data.source"),
    (
        "parterre.privacy.source_redaction_requested.v1",
        replaced("requested_at", "2026-11-07T14:02:00"),
        "data.requested_at",
    ),
    ("parterre.person.resolved.v1", replaced("match.confidence", 1.5), "data.match.confidence"),
    ("parterre.person.resolved.v1", replaced("match.method", "guess"), "data.match.method"),
    ("parterre.person.resolved.v1", replaced("original.organisationid", "Théâtre"), "data.original.organisationid"),
    ("parterre.person.resolved.v1", replaced("history_of", "per_7f3a9c2e41d8"), "data.history_of"),
    ("parterre.person.merged.v1", replaced("merged_person_ids", ["per_7f3a9c2e41d8"]), "data.merged_person_ids"),
    ("parterre.person.merged.v1", replaced("evidence.0", {"identifier_type": "email"}), "data.evidence.0"),
    ("parterre.person.merged.v1", replaced("evidence.0.value_hash", "not-a-hash"), "data.evidence.0.value_hash"),
    ("parterre.person.merged.v1", replaced("decided_by", "magic"), "data.decided_by"),
    ("parterre.person.unmerged.v1", replaced("restored_person_ids", []), "data.restored_person_ids"),
    ("parterre.person.household_joined.v1", without("household_id"), "data.household_id"),
    ("parterre.person.household_joined.v1", replaced("joined_at", "2026-09-02T18:31:10"), "data.joined_at"),
    ("parterre.person.household_joined.v1", replaced("joined_with", "per_19b0c7d2aa05"), "data.joined_with"),
    ("parterre.profile.changed.v1", replaced("profile_version", 0), "data.profile_version"),
    ("parterre.profile.changed.v1", replaced("changed", {}), "data.changed"),
    ("parterre.profile.erased.v1", without("at"), "data.at"),
    ("parterre.profile.erased.v1", replaced("at", "2027-01-15T14:02:00"), "data.at"),
    ("parterre.segment.entered.v1", replaced("at", "hier"), "data.at"),
    ("parterre.segment.exited.v1", without("person_id"), "data.person_id"),
    ("parterre.trigger.fired.v1", replaced("language", "es"), "data.language"),
    ("parterre.trigger.fired.v1", replaced("purpose", "carrier_pigeon"), "data.purpose"),
    ("parterre.trigger.fired.v1", replaced("contact_points.0.channel", "pigeon"), "data.contact_points.0.channel"),
    ("parterre.delivery.succeeded.v1", replaced("attempt", 0), "data.attempt"),
    ("parterre.delivery.failed.v1", without("final"), "data.final"),
    ("parterre.delivery.failed.v1", replaced("status_code", 99), "data.status_code"),
]


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_each_types_example_round_trips_through_an_envelope_and_json_bytes(type_name: str) -> None:
    original = example_data(type_name)

    sent = envelope_of(original, subject="sujet", correlation_id="import-42", person_id="per_7f3a9c2e41d8")
    received = Envelope.from_json_bytes(sent.to_json_bytes())

    assert received == sent
    assert received.type == type_name
    assert parse_data(received) == original


@pytest.mark.parametrize(("type_name", "mutation", "field"), BAD_EXAMPLES)
def test_a_broken_example_is_rejected_with_an_error_naming_the_offending_field(
    type_name: str, mutation: Mutation, field: str
) -> None:
    data = copy.deepcopy(event_type(type_name).example)
    mutation(data)

    with pytest.raises(EventValidationError) as caught:
        parse_event(wire_event(type_name, data))

    assert [error.field for error in caught.value.errors] == [field]
    for error in caught.value.errors:
        assert error.reason_fr, error.code
        assert "valeur refusée" not in error.reason_fr, (error.code, error.reason)


def test_a_reason_is_said_in_french_with_the_error_s_own_limits() -> None:
    with pytest.raises(ValidationError) as caught:
        TicketPurchasedV1.model_validate(
            {**event_type("parterre.ticket.purchased.v1").example, "total": {"amount": "1.001", "currency": "CAD"}}
        )

    assert [error.reason_fr for error in field_errors(caught.value)] == ["doit avoir au plus 2 décimales"]
    assert french_reason("string_too_long", {"max_length": 200}) == "doit contenir au plus 200 caractères"
    assert french_reason("enum", {"expected": "'box_office', 'online' or 'phone'"}) == (
        "doit être l'une de ces valeurs : 'box_office', 'online' ou 'phone'"
    )
    # Without the limit its template names, or for a code not known, the reason stays French and names the code.
    assert french_reason("string_too_long") == "valeur refusée (code string_too_long)"
    assert FieldError(field="x", reason="is odd", code="odd").reason_fr == "valeur refusée (code odd)"
    assert FieldError(field="x", reason="is odd", reason_fr="est étrange", code="odd").reason_fr == "est étrange"


def test_every_event_type_has_at_least_one_bad_example() -> None:
    assert set(TYPE_NAMES) == {type_name for type_name, _, _ in BAD_EXAMPLES}


def _object_schemas(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield schema.get("title", "root"), schema
    yield from schema.get("$defs", {}).items()


@pytest.mark.parametrize(
    "model", [registered.model for registered in EVENT_TYPES] + [Envelope], ids=lambda model: model.__name__
)
def test_every_field_of_every_model_is_described_and_every_model_has_an_example(model: type[BaseModel]) -> None:
    for name, schema in _object_schemas(model.model_json_schema()):
        if "properties" not in schema:
            continue  # an enum
        undocumented = [field for field, spec in schema["properties"].items() if not spec.get("description")]
        assert not undocumented, f"{name} fields without a description: {undocumented}"
        assert schema.get("examples"), f"{name} has no example"
        assert schema.get("description"), f"{name} has no docstring"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_each_types_example_validates_as_documented_in_its_json_schema(type_name: str) -> None:
    registered = event_type(type_name)
    schema_example = registered.model.model_json_schema()["examples"][0]

    assert registered.model.model_validate(schema_example) == example_data(type_name)


@pytest.mark.parametrize("registered", EVENT_TYPES, ids=TYPE_NAMES)
def test_each_type_name_is_versioned_and_its_key_field_exists(registered: EventType) -> None:
    assert re.fullmatch(EVENT_TYPE_PATTERN, registered.name)
    assert registered.name.endswith(f".v{registered.schema_version.split('.')[0]}")
    assert registered.key_field in registered.model.model_fields
    assert registered.description


@pytest.mark.parametrize("registered", EVENT_TYPES, ids=TYPE_NAMES)
def test_upstream_facts_and_only_they_travel_on_the_audience_facts_topic(registered: EventType) -> None:
    assert (registered.topic == AUDIENCE_FACTS) == issubclass(registered.model, AudienceFact)


def test_the_data_model_of_a_type_is_found_by_its_name() -> None:
    assert data_model_for("parterre.ticket.purchased.v1") is TicketPurchasedV1


def test_an_unknown_type_name_is_a_clear_error_listing_the_known_ones() -> None:
    with pytest.raises(UnknownEventTypeError, match=r"'parterre\.ticket\.sold\.v1'.*parterre\.ticket\.purchased\.v1"):
        data_model_for("parterre.ticket.sold.v1")


def test_an_envelope_of_an_unknown_type_is_rejected_naming_type() -> None:
    envelope = envelope_of(example_data("parterre.ticket.scanned.v1")).model_copy(update={"type": "com.example.x"})

    with pytest.raises(EventValidationError) as caught:
        parse_data(envelope)

    assert [(error.field, error.code) for error in caught.value.errors] == [("type", "unknown_event_type")]


def test_a_newer_minor_schema_version_is_read_and_its_new_fields_are_ignored_but_kept_in_the_envelope() -> None:
    data = {**event_type("parterre.ticket.scanned.v1").example, "gate": "Porte B"}
    raw = json.loads(wire_event("parterre.ticket.scanned.v1", data))

    envelope, typed = parse_event(json.dumps({**raw, "schemaversion": "1.4"}).encode())

    assert typed == example_data("parterre.ticket.scanned.v1")
    assert envelope.data["gate"] == "Porte B"


def test_a_person_resolved_told_before_it_could_name_whose_history_it_is_is_the_person_s_own_fact() -> None:
    raw = json.loads(wire_event("parterre.person.resolved.v1", event_type("parterre.person.resolved.v1").example))
    assert "history_of" not in raw["data"]

    _envelope, typed = parse_event(json.dumps({**raw, "schemaversion": "1.0"}).encode())

    assert isinstance(typed, PersonResolvedV1)
    assert typed.history_of is None


def test_another_major_schema_version_under_the_same_type_name_is_rejected_naming_schemaversion() -> None:
    raw = json.loads(wire_event("parterre.ticket.scanned.v1", event_type("parterre.ticket.scanned.v1").example))

    with pytest.raises(EventValidationError) as caught:
        parse_event(json.dumps({**raw, "schemaversion": "2.0"}).encode())

    assert [error.field for error in caught.value.errors] == ["schemaversion"]


def test_building_an_envelope_takes_the_type_name_and_schema_version_from_the_catalog() -> None:
    envelope = envelope_of(example_data("parterre.donation.made.v1"))

    assert envelope.type == "parterre.donation.made.v1"
    assert envelope.schema_version == event_type("parterre.donation.made.v1").schema_version
    assert envelope.specversion == "1.0"


def test_building_an_envelope_with_a_naive_time_is_rejected_naming_time() -> None:
    with pytest.raises(EventValidationError) as caught:
        envelope_of(example_data("parterre.donation.made.v1"), time=datetime(2026, 10, 17, 19, 42))

    assert [error.field for error in caught.value.errors] == ["time"]


def test_building_an_envelope_for_data_of_no_registered_type_is_a_clear_error() -> None:
    with pytest.raises(UnknownEventTypeError, match="LocalizedText"):
        envelope_of(LocalizedText(fr="Bonjour"))


def test_a_resolved_fact_embeds_the_original_event_as_it_was_published() -> None:
    resolved = example_data("parterre.person.resolved.v1")

    embedded = resolved.model_dump(mode="json")["original"]

    assert embedded["organisationid"] == "theatre-du-nord"
    assert "subject" not in embedded


@pytest.mark.parametrize(
    ("type_name", "key"),
    [
        ("parterre.ticket.purchased.v1", "billetterie-principale:C-004521"),
        ("parterre.donation.made.v1", "elise.gagnon@example.com"),
        ("parterre.person.resolved.v1", "per_7f3a9c2e41d8"),
        ("parterre.person.merged.v1", "per_7f3a9c2e41d8"),
        ("parterre.trigger.fired.v1", "per_7f3a9c2e41d8"),
        ("parterre.delivery.failed.v1", "sub_crm"),
    ],
)
def test_the_kafka_key_follows_the_entity_the_catalog_names(type_name: str, key: str) -> None:
    assert kafka_key(envelope_of(example_data(type_name))) == key


def test_an_upstream_fact_about_a_person_known_only_by_name_and_phone_is_keyed_by_its_event_id() -> None:
    person = {"source": "billetterie-principale", "first_name": "Élise", "last_name": "Gagnon", "phone": "5145550199"}
    data = {**event_type("parterre.ticket.scanned.v1").example, "person": person}

    scanned = envelope_of(data_model_for("parterre.ticket.scanned.v1").model_validate(data), id="evt-scan-9")

    assert kafka_key(scanned) == "evt-scan-9"


def test_field_errors_of_a_pydantic_error_can_be_placed_under_data() -> None:
    with pytest.raises(ValidationError) as caught:
        TicketPurchasedV1.model_validate({**event_type("parterre.ticket.purchased.v1").example, "tickets": []})

    errors = field_errors(caught.value, under=("data",))

    assert [(error.field, error.code) for error in errors] == [("data.tickets", "too_short")]
    assert "[]" not in errors[0].reason, "the rejected input may be personal; it is not echoed back"


def test_the_details_a_person_update_can_name_are_exactly_the_fields_of_a_person_reference_but_its_source() -> None:
    assert set(get_args(PersonDetail)) == set(PersonRef.model_fields) - {"source"}


def test_a_details_update_keys_by_the_upstream_person_like_every_upstream_fact() -> None:
    updated = envelope_of(example_data("parterre.person.details_updated.v1"))

    assert kafka_key(updated) == "mailchimp-principal:8a25ff1d98"
