"""Which upstream events a profile folds, read from their envelopes and from identity's resolutions."""

import re
from datetime import UTC, datetime

import pytest

from services.profile.domain.history import (
    PERFORMANCE_FACTS,
    PROFILE_FACTS,
    performance_about,
    profile_event,
    resolved_profile_event,
)
from shared.events import (
    EventType,
    EventValidationError,
    PersonResolvedV1,
    TicketExchangedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
    TicketScannedV1,
    all_event_types,
    build_envelope,
)
from tests.unit.profile.facts import EXAMPLES, ORGANISATION

SENT_AT = datetime(2026, 10, 17, 19, 42, 13, tzinfo=UTC)
UNFOLDED = {
    "parterre.privacy.erasure_requested.v1",
    "parterre.privacy.access_requested.v1",
    "parterre.privacy.source_redaction_requested.v1",
    "parterre.person.resolved.v1",
    "parterre.person.merged.v1",
    "parterre.person.unmerged.v1",
    "parterre.person.household_joined.v1",
    "parterre.profile.changed.v1",
    "parterre.profile.erased.v1",
    "parterre.segment.entered.v1",
    "parterre.segment.exited.v1",
    "parterre.trigger.fired.v1",
    "parterre.delivery.succeeded.v1",
    "parterre.delivery.failed.v1",
}


@pytest.mark.parametrize("registered", all_event_types(), ids=lambda registered: registered.name)
def test_every_upstream_fact_but_privacy_requests_changes_a_profile(registered: EventType) -> None:
    data = registered.model.model_validate(registered.example)
    envelope = build_envelope(
        data, organisation_id=ORGANISATION, source="/orgs/theatre-du-nord", id="e-1", time=SENT_AT
    )

    event = profile_event(envelope, data)

    assert (event is None) is (registered.name in UNFOLDED)
    assert len(PROFILE_FACTS) == len(all_event_types()) - len(UNFOLDED)


def test_tickets_bought_exchanged_or_scanned_name_their_performance_and_other_facts_none() -> None:
    performances = {model: performance_about(model.model_validate(EXAMPLES[model])) for model in PROFILE_FACTS}
    assert {model for model, performance in performances.items() if performance is not None} == set(PERFORMANCE_FACTS)
    for model, field in (
        (TicketScannedV1, "performance"),
        (TicketPurchasedV1, "performance"),
        (TicketExchangedV1, "to_performance"),
    ):
        performance = performances[model]
        assert performance is not None
        assert performance.performance_id == EXAMPLES[model][field]["performance_id"]
        assert performance.starts_at == datetime.fromisoformat(EXAMPLES[model][field]["starts_at"])


def test_a_profile_event_keeps_the_id_type_and_data_and_names_the_upstream_system() -> None:
    data = TicketPurchasedV1.model_validate(EXAMPLES[TicketPurchasedV1])
    envelope = build_envelope(
        data,
        organisation_id=ORGANISATION,
        source="/orgs/theatre-du-nord/sources/billetterie-principale",
        id="billetterie-principale:O-88210",
        time=datetime.fromisoformat("2026-09-02T14:31:08-04:00"),
    )

    event = profile_event(envelope, data)

    assert event is not None
    assert event.event_id == "billetterie-principale:O-88210"
    assert event.type == "parterre.ticket.purchased.v1"
    assert event.data is data
    assert event.source == "billetterie-principale"
    assert event.time == datetime(2026, 9, 2, 18, 31, 8, tzinfo=UTC)
    assert event.time.utcoffset() == UTC.utcoffset(None)


def test_data_of_another_type_than_its_envelope_is_refused() -> None:
    purchase = TicketPurchasedV1.model_validate(EXAMPLES[TicketPurchasedV1])
    refund = TicketRefundedV1.model_validate(EXAMPLES[TicketRefundedV1])
    envelope = build_envelope(purchase, organisation_id=ORGANISATION, source="/x", id="e-2", time=SENT_AT)

    with pytest.raises(ValueError, match=re.escape("its data is a parterre.ticket.refunded.v1")):
        profile_event(envelope, refund)


def test_the_fact_identity_resolved_is_read_from_its_original_envelope() -> None:
    registered = next(registered for registered in all_event_types() if registered.model is PersonResolvedV1)
    resolved = PersonResolvedV1.model_validate(registered.example)

    event = resolved_profile_event(resolved)

    assert event is not None
    assert event.event_id == "mailchimp-principal:subscribe:8a25ff1d98:1788373868"
    assert event.type == "parterre.newsletter.subscribed.v1"
    assert event.source == "mailchimp-principal"


def test_a_resolution_whose_original_data_is_invalid_raises_a_field_level_error() -> None:
    registered = next(registered for registered in all_event_types() if registered.model is PersonResolvedV1)
    example = registered.example
    broken = {**example, "original": {**example["original"], "data": {"person": {"source": "mailchimp-principal"}}}}
    resolved = PersonResolvedV1.model_validate(broken)

    with pytest.raises(EventValidationError):
        resolved_profile_event(resolved)
