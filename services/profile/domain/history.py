"""A person's history as the profile reads it: the upstream facts that change a profile, with when and whence."""

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.events.audience import (
    AudienceFact,
    ConsentGrantedV1,
    ConsentWithdrawnV1,
    DonationMadeV1,
    EmailBouncedV1,
    EmailClickedV1,
    EmailOpenedV1,
    FormSubmittedV1,
    NewsletterCleanedV1,
    NewsletterCleanedV2,
    NewsletterSubscribedV1,
    NewsletterUnsubscribedV1,
    PersonDetailsUpdatedV1,
    ShopOrderCancelledV1,
    ShopOrderPlacedV1,
    ShopOrderRefundedV1,
    SocialEngagedV1,
    SubscriptionPurchasedV1,
    TicketExchangedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
    TicketScannedV1,
)
from shared.events.common import EventData, PerformanceRef
from shared.events.envelope import Envelope
from shared.events.identity import PersonResolvedV1
from shared.events.registry import event_type_of, parse_data
from shared.records import quick_init

# Erasure and access requests are not folded: erasure deletes the person's history, access reads it.
PROFILE_FACTS: tuple[type[AudienceFact], ...] = (
    TicketPurchasedV1,
    TicketRefundedV1,
    TicketExchangedV1,
    TicketScannedV1,
    SubscriptionPurchasedV1,
    ShopOrderPlacedV1,
    ShopOrderRefundedV1,
    ShopOrderCancelledV1,
    DonationMadeV1,
    NewsletterSubscribedV1,
    NewsletterUnsubscribedV1,
    NewsletterCleanedV1,
    NewsletterCleanedV2,
    EmailOpenedV1,
    EmailClickedV1,
    EmailBouncedV1,
    SocialEngagedV1,
    FormSubmittedV1,
    ConsentGrantedV1,
    ConsentWithdrawnV1,
    PersonDetailsUpdatedV1,
)
# The facts about one performance: tickets bought or exchanged for it, a ticket scanned at it.
PERFORMANCE_FACTS: tuple[type[AudienceFact], ...] = (TicketPurchasedV1, TicketExchangedV1, TicketScannedV1)


@quick_init
@dataclass(frozen=True, slots=True)
class ProfileEvent:
    """One upstream fact about a person, as a profile is folded from it.

    `event_id` is the upstream event's id: the same id is the same fact, however often it is delivered.
    """

    event_id: str
    type: str
    # When the fact happened upstream, in UTC.
    time: datetime
    data: AudienceFact
    # The upstream system's slug, e.g. `billetterie-principale`.
    source: str


def performance_about(data: EventData) -> PerformanceRef | None:
    """The performance a fact is about (see `PERFORMANCE_FACTS`): its id and start; None for a fact about none."""
    match data:
        case TicketPurchasedV1() | TicketScannedV1():
            return data.performance
        case TicketExchangedV1():
            return data.to_performance
    return None


def profile_event(envelope: Envelope, data: EventData) -> ProfileEvent | None:
    """The profile's view of an upstream event; None for a type that does not change a profile.

    Raises ValueError when `data` is not of the envelope's type.
    """
    if not isinstance(data, PROFILE_FACTS):
        return None
    registered = event_type_of(data).name
    if registered != envelope.type:
        raise ValueError(f"event {envelope.id} is a {envelope.type} but its data is a {registered}")
    return ProfileEvent(
        event_id=envelope.id,
        type=envelope.type,
        time=envelope.time.astimezone(UTC),
        data=data,
        source=data.person.source,
    )


def resolved_profile_event(resolved: PersonResolvedV1) -> ProfileEvent | None:
    """The profile's view of the upstream fact identity resolved; raises `EventValidationError` for bad data."""
    return profile_event(resolved.original, parse_data(resolved.original))
