"""The event type catalog: each type's name, data model, topic and key, and typed reading and writing of envelopes."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.events import audience, identity, notify, privacy, profile
from shared.events.common import ARRIVING, EventData, PersonRef
from shared.events.envelope import CLOUDEVENTS_SPEC_VERSION, Envelope
from shared.events.errors import EventValidationError, FieldError
from shared.topics import (
    AUDIENCE_FACTS,
    IDENTITY_RESOLUTIONS,
    NOTIFY_DELIVERIES,
    PRIVACY_REQUESTS,
    PROFILE_CHANGES,
    PROFILE_TRIGGERS,
    Topic,
)

EVENT_TYPE_PATTERN = r"^parterre\.[a-z]+\.[a-z_]+\.v[1-9][0-9]*$"


class UnknownEventTypeError(LookupError):
    """No data model is registered for this event type name, or for this model."""


@dataclass(frozen=True)
class EventType:
    """One event type: a versioned name bound to its data model, the topic it travels on and its Kafka key."""

    name: str
    model: type[EventData]
    description: str
    topic: Topic
    # The data field whose value keys the Kafka message, so every event about one entity stays in order.
    # A `PersonRef` field keys by the upstream customer (see `PersonRef.partition_key`), else by the event id.
    key_field: str
    # Bumped in its minor part for additive changes; a breaking change is a new type name (`.v2`).
    schema_version: str = "1.0"

    @property
    def example(self) -> dict[str, Any]:
        """The model's documented example data, which the tests round-trip."""
        extra = self.model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict), f"{self.model.__name__} has no examples"
        examples = extra["examples"]
        assert isinstance(examples, list)
        example = examples[0]
        assert isinstance(example, dict)
        return example


def _upstream(name: str, model: type[EventData], description: str, *, schema_version: str = "1.0") -> EventType:
    return EventType(name, model, description, AUDIENCE_FACTS, key_field="person", schema_version=schema_version)


EVENT_TYPES: tuple[EventType, ...] = (
    _upstream(
        "parterre.ticket.purchased.v1",
        audience.TicketPurchasedV1,
        "Tickets to a performance were bought, at the box office, online or by phone.",
    ),
    _upstream("parterre.ticket.refunded.v1", audience.TicketRefundedV1, "Tickets were refunded."),
    _upstream(
        "parterre.ticket.exchanged.v1",
        audience.TicketExchangedV1,
        "Tickets were exchanged for tickets to another performance.",
    ),
    _upstream("parterre.ticket.scanned.v1", audience.TicketScannedV1, "A ticket was scanned at the door (attendance)."),
    _upstream(
        "parterre.subscription.purchased.v1",
        audience.SubscriptionPurchasedV1,
        "A season pass or a membership was bought or renewed.",
    ),
    _upstream("parterre.shop.order_placed.v1", audience.ShopOrderPlacedV1, "An order was placed in the shop."),
    _upstream(
        "parterre.shop.order_refunded.v1", audience.ShopOrderRefundedV1, "A shop order was refunded, wholly or partly."
    ),
    _upstream(
        "parterre.shop.order_cancelled.v1",
        audience.ShopOrderCancelledV1,
        "A shop order was cancelled: it no longer counts as a purchase.",
    ),
    _upstream("parterre.donation.made.v1", audience.DonationMadeV1, "A donation or a recurring gift instalment."),
    _upstream("parterre.newsletter.subscribed.v1", audience.NewsletterSubscribedV1, "A person joined a mailing list."),
    _upstream(
        "parterre.newsletter.unsubscribed.v1",
        audience.NewsletterUnsubscribedV1,
        "A person left a mailing list, or complained of spam.",
    ),
    _upstream(
        "parterre.newsletter.cleaned.v1",
        audience.NewsletterCleanedV1,
        "The newsletter tool removed an undeliverable or complaining address.",
    ),
    _upstream(
        "parterre.newsletter.cleaned.v2",
        audience.NewsletterCleanedV2,
        "The newsletter tool removed an address for a reason v1 does not name, or none.",
        schema_version="2.0",
    ),
    _upstream("parterre.email.opened.v1", audience.EmailOpenedV1, "A campaign email was opened."),
    _upstream("parterre.email.clicked.v1", audience.EmailClickedV1, "A link in a campaign email was clicked."),
    _upstream("parterre.email.bounced.v1", audience.EmailBouncedV1, "A campaign email bounced."),
    _upstream(
        "parterre.social.engaged.v1",
        audience.SocialEngagedV1,
        "A person followed, liked, commented on or shared on a social network.",
    ),
    _upstream(
        "parterre.form.submitted.v1",
        audience.FormSubmittedV1,
        "A web form was submitted: contest entry, inquiry, survey.",
    ),
    _upstream(
        "parterre.consent.granted.v1",
        audience.ConsentGrantedV1,
        "Consent to be contacted for a purpose was given, or implied by a relationship (CASL).",
    ),
    _upstream(
        "parterre.consent.withdrawn.v1",
        audience.ConsentWithdrawnV1,
        "Consent to be contacted for a purpose was withdrawn; notify must stop within 10 business days at most.",
    ),
    _upstream(
        "parterre.privacy.erasure_requested.v1",
        audience.PersonErasureRequestedV1,
        "Erasure of a person's personal information was requested (Law 25, Shopify customers/redact).",
    ),
    _upstream(
        "parterre.privacy.access_requested.v1",
        audience.PrivacyAccessRequestedV1,
        "A copy of a person's personal information was requested (Law 25, Shopify customers/data_request).",
    ),
    _upstream(
        "parterre.person.details_updated.v1",
        audience.PersonDetailsUpdatedV1,
        "An upstream system reported a person's current details: a new customer, an edit, a changed email.",
    ),
    EventType(
        "parterre.privacy.source_redaction_requested.v1",
        privacy.SourceRedactionRequestedV1,
        "Erasure of everything one upstream source reported was requested (Shopify shop/redact).",
        PRIVACY_REQUESTS,
        key_field="source",
    ),
    EventType(
        "parterre.person.resolved.v1",
        identity.PersonResolvedV1,
        "An upstream fact was attributed to a person, found or newly created.",
        IDENTITY_RESOLUTIONS,
        key_field="person_id",
        # 1.1: the person merged into it whose history the fact is part of.
        schema_version="1.1",
    ),
    EventType(
        "parterre.person.merged.v1",
        identity.PersonsMergedV1,
        "Persons were merged into a survivor.",
        IDENTITY_RESOLUTIONS,
        key_field="survivor_person_id",
        # 1.1: the household the merge moves the survivor to.
        schema_version="1.1",
    ),
    EventType(
        "parterre.person.unmerged.v1",
        identity.PersonUnmergedV1,
        "A merge was undone and the persons it folded were restored.",
        IDENTITY_RESOLUTIONS,
        key_field="survivor_person_id",
    ),
    EventType(
        "parterre.person.household_joined.v1",
        identity.HouseholdJoinedV1,
        "A person was counted in a household.",
        IDENTITY_RESOLUTIONS,
        key_field="person_id",
    ),
    EventType(
        "parterre.profile.changed.v1",
        profile.ProfileChangedV1,
        "Fields of a person's profile changed.",
        PROFILE_CHANGES,
        key_field="person_id",
    ),
    EventType(
        "parterre.profile.erased.v1",
        profile.ProfileErasedV1,
        "A person's profile was erased; consumers drop what they hold about the person.",
        PROFILE_CHANGES,
        key_field="person_id",
    ),
    EventType(
        "parterre.segment.entered.v1",
        profile.SegmentEnteredV1,
        "A person entered a segment.",
        PROFILE_CHANGES,
        key_field="person_id",
    ),
    EventType(
        "parterre.segment.exited.v1",
        profile.SegmentExitedV1,
        "A person left a segment.",
        PROFILE_CHANGES,
        key_field="person_id",
    ),
    EventType(
        "parterre.trigger.fired.v1",
        profile.TriggerFiredV1,
        "A marketing trigger rule fired for a person.",
        PROFILE_TRIGGERS,
        key_field="person_id",
    ),
    EventType(
        "parterre.delivery.succeeded.v1",
        notify.DeliverySucceededV1,
        "A webhook delivery to a marketing tool succeeded.",
        NOTIFY_DELIVERIES,
        key_field="subscription_id",
    ),
    EventType(
        "parterre.delivery.failed.v1",
        notify.DeliveryFailedV1,
        "A webhook delivery attempt to a marketing tool failed.",
        NOTIFY_DELIVERIES,
        key_field="subscription_id",
    ),
)


def _index_by_name(event_types: tuple[EventType, ...]) -> Mapping[str, EventType]:
    by_name = {event_type.name: event_type for event_type in event_types}
    if len(by_name) != len(event_types):
        raise RuntimeError("an event type name is registered twice")
    return by_name


def _index_by_model(event_types: tuple[EventType, ...]) -> Mapping[type[EventData], EventType]:
    # One model per type lets `build_envelope` find the type name from the data alone.
    by_model = {event_type.model: event_type for event_type in event_types}
    if len(by_model) != len(event_types):
        raise RuntimeError("a data model is registered under two event types")
    return by_model


_BY_NAME = _index_by_name(EVENT_TYPES)
_BY_MODEL = _index_by_model(EVENT_TYPES)


def all_event_types() -> tuple[EventType, ...]:
    """Every registered event type, in catalog order."""
    return EVENT_TYPES


def event_type(type_name: str) -> EventType:
    """The registered event type of this name; raises `UnknownEventTypeError`."""
    try:
        return _BY_NAME[type_name]
    except KeyError:
        raise UnknownEventTypeError(
            f"unknown event type {type_name!r}; known types: {', '.join(sorted(_BY_NAME))}"
        ) from None


def data_model_for(type_name: str) -> type[EventData]:
    """The data model of this event type; raises `UnknownEventTypeError`."""
    return event_type(type_name).model


def event_type_of(data: EventData) -> EventType:
    """The event type whose data model `data` is an instance of; raises `UnknownEventTypeError`."""
    try:
        return _BY_MODEL[type(data)]
    except KeyError:
        raise UnknownEventTypeError(f"{type(data).__name__} is not the data model of any event type") from None


def parse_data(envelope: Envelope, *, arriving: bool = False) -> EventData:
    """The envelope's data as its type's model; raises `EventValidationError` with `data.`-prefixed paths.

    `arriving`: the event comes from outside now, and is held to the rules stored events may predate."""
    try:
        registered = event_type(envelope.type)
    except UnknownEventTypeError as exc:
        raise EventValidationError([FieldError(field="type", reason=str(exc), code="unknown_event_type")]) from None
    if _major(envelope.schema_version) != _major(registered.schema_version):
        raise EventValidationError(
            [
                FieldError(
                    field="schemaversion",
                    reason=f"{envelope.type} has schema version {registered.schema_version}; "
                    f"a change of major version needs a new type name",
                    code="schema_version_unsupported",
                )
            ]
        )
    try:
        return registered.model.model_validate(envelope.data, context={ARRIVING: True} if arriving else None)
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(exc, under=("data",)) from exc


def parse_event(raw: bytes) -> tuple[Envelope, EventData]:
    """Parse CloudEvents JSON bytes and their typed data; raises `EventValidationError`."""
    envelope = Envelope.from_json_bytes(raw)
    return envelope, parse_data(envelope)


def build_envelope(
    data: EventData,
    *,
    organisation_id: str,
    source: str,
    id: str,
    time: datetime,
    subject: str | None = None,
    correlation_id: str | None = None,
    person_id: str | None = None,
    ingested_at: datetime | None = None,
) -> Envelope:
    """Wrap `data` in an envelope whose type and schema version come from the catalog.

    Raises `UnknownEventTypeError` for an unregistered model, `EventValidationError` for bad attributes.
    """
    registered = event_type_of(data)
    attributes: dict[str, Any] = {
        "specversion": CLOUDEVENTS_SPEC_VERSION,
        "id": id,
        "source": source,
        "type": registered.name,
        "time": time,
        "subject": subject,
        "data": data.model_dump(mode="json"),
        "organisationid": organisation_id,
        "schemaversion": registered.schema_version,
        "correlationid": correlation_id,
        "personid": person_id,
        "ingesttime": ingested_at,
    }
    try:
        return Envelope.model_validate(attributes)
    except ValidationError as exc:
        raise EventValidationError.from_pydantic(exc) from exc


def kafka_key(envelope: Envelope) -> str:
    """The Kafka message key of this event: the entity its type's `key_field` names.

    Only the key field is validated (a publisher has validated the whole event already, and this runs for
    every message on the hot path). Raises `EventValidationError` when the type is unknown or the key field
    is invalid.
    """
    registered = event_type(envelope.type)
    value = envelope.data.get(registered.key_field)
    if registered.model.model_fields[registered.key_field].annotation is PersonRef:
        try:
            person = PersonRef.model_validate(value)
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(exc, under=("data", registered.key_field)) from exc
        return person.partition_key() or envelope.id
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    data = parse_data(envelope)  # raises the precise error of a missing or malformed key field
    return str(getattr(data, registered.key_field))


def _major(version: str) -> str:
    return version.split(".", 1)[0]
