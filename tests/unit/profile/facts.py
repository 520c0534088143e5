"""Upstream facts about Élise Gagnon for the profile tests, each built from its type's catalog example."""

import copy
import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.profile.domain.history import ProfileEvent, profile_event
from services.profile.domain.seasons import SeasonCalendar
from shared.events import (
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
    all_event_types,
    build_envelope,
)

ORGANISATION = "theatre-du-nord"
THEATRE = SeasonCalendar()
EXAMPLES: dict[type[Any], dict[str, Any]] = {registered.model: registered.example for registered in all_event_types()}
_ids = itertools.count(1)


def at(text: str) -> datetime:
    """A moment written in ISO 8601 with its offset, e.g. `2026-10-17T20:00:00-04:00`."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, "give the offset"
    return moment


def money(amount: str | Decimal) -> dict[str, str]:
    return {"amount": str(amount), "currency": "CAD"}


def fact(model: type[AudienceFact], when: datetime, *, event_id: str | None = None, **changes: Any) -> ProfileEvent:
    """The catalog example of `model` with `changes`, as the profile receives it at `when`."""
    values = copy.deepcopy(EXAMPLES[model]) | changes
    data = model.model_validate(values)
    envelope = build_envelope(
        data,
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/{data.person.source}",
        id=event_id or f"evt-{next(_ids):06d}",
        time=when,
    )
    event = profile_event(envelope, data)
    assert event is not None, f"{model.__name__} should change a profile"
    return event


def performance(
    starts_at: datetime,
    *,
    production_id: str = "belles-soeurs-2026",
    genre: str | None = "théâtre",
    venue: str | None = "Salle Jean-Duceppe",
) -> dict[str, Any]:
    return {
        "production_id": production_id,
        "title": {"fr": production_id},
        "genre": genre,
        "performance_id": f"{production_id}-{starts_at.isoformat()}",
        "starts_at": starts_at.isoformat(),
        "venue": venue,
    }


def performance_id(show: dict[str, Any]) -> str:
    return str(show["performance_id"])


def purchase(
    when: datetime,
    show: dict[str, Any],
    *ticket_ids: str,
    price: str = "54.50",
    total: str | None = None,
    order_id: str = "O-1",
    **changes: Any,
) -> ProfileEvent:
    ids = ticket_ids or ("T-1",)
    tickets = [{"ticket_id": ticket_id, "price_category": "Régulier", "price": money(price)} for ticket_id in ids]
    amount = total if total is not None else str(Decimal(price) * len(ids))
    return fact(
        TicketPurchasedV1, when, order_id=order_id, performance=show, tickets=tickets, total=money(amount), **changes
    )


def refund(when: datetime, *ticket_ids: str, amount: str = "54.50", **changes: Any) -> ProfileEvent:
    return fact(TicketRefundedV1, when, ticket_ids=list(ticket_ids), amount=money(amount), **changes)


def exchange(
    when: datetime, from_ids: list[str], show: dict[str, Any], to_ids: list[str], *, price: str = "54.50"
) -> ProfileEvent:
    to_tickets = [{"ticket_id": ticket_id, "price_category": "Régulier", "price": money(price)} for ticket_id in to_ids]
    return fact(TicketExchangedV1, when, from_ticket_ids=from_ids, to_performance=show, to_tickets=to_tickets)


def scan(when: datetime, show: dict[str, Any], ticket_id: str = "T-1") -> ProfileEvent:
    return fact(TicketScannedV1, when, ticket_id=ticket_id, performance=show, scanned_at=when.isoformat())


def subscription(
    when: datetime,
    *,
    kind: str = "season_pass",
    starts_on: date = date(2026, 9, 1),
    ends_on: date | None = date(2027, 6, 30),
    renews_on: date | None = None,
    price: str = "215.00",
    subscription_id: str = "ABO-1",
) -> ProfileEvent:
    return fact(
        SubscriptionPurchasedV1,
        when,
        subscription_id=subscription_id,
        kind=kind,
        starts_on=starts_on.isoformat(),
        ends_on=None if ends_on is None else ends_on.isoformat(),
        renews_on=None if renews_on is None else renews_on.isoformat(),
        price=money(price),
    )


def shop_order(
    when: datetime,
    *,
    order_id: str = "450789469",
    total: str = "38.59",
    categories: tuple[str | None, ...] = ("livres",),
) -> ProfileEvent:
    lines = [
        {
            "sku": f"SKU-{category}",
            "product_name": {"fr": category or "Carte-cadeau"},
            "category": category,
            "quantity": 1,
            "unit_price": money(total),
        }
        for category in categories or (None,)
    ]
    return fact(ShopOrderPlacedV1, when, order_id=order_id, lines=lines, total=money(total))


def shop_refund(when: datetime, *, order_id: str = "450789469", amount: str = "17.95") -> ProfileEvent:
    return fact(ShopOrderRefundedV1, when, order_id=order_id, amount=money(amount))


def shop_cancellation(when: datetime, *, order_id: str = "450789469", reason: str | None = "customer") -> ProfileEvent:
    return fact(ShopOrderCancelledV1, when, order_id=order_id, reason=reason)


def donation(when: datetime, amount: str = "100.00", *, donation_id: str | None = None) -> ProfileEvent:
    return fact(DonationMadeV1, when, amount=money(amount), donation_id=donation_id or f"DON-{when.isoformat()}")


def newsletter(status: str, when: datetime, *, list_id: str = "a6b5da1054", **changes: Any) -> ProfileEvent:
    models: dict[str, type[AudienceFact]] = {
        "subscribed": NewsletterSubscribedV1,
        "unsubscribed": NewsletterUnsubscribedV1,
        "cleaned": NewsletterCleanedV1,
        "cleaned for another reason": NewsletterCleanedV2,
    }
    model = models[status]
    return fact(model, when, list_id=list_id, **changes)


def opened(when: datetime) -> ProfileEvent:
    return fact(EmailOpenedV1, when)


def clicked(when: datetime) -> ProfileEvent:
    return fact(EmailClickedV1, when)


def bounced(when: datetime, **changes: Any) -> ProfileEvent:
    return fact(EmailBouncedV1, when, **changes)


def social(when: datetime) -> ProfileEvent:
    return fact(SocialEngagedV1, when)


def form(when: datetime, kind: str = "inquiry") -> ProfileEvent:
    return fact(FormSubmittedV1, when, kind=kind)


def granted(
    when: datetime,
    purpose: str = "marketing_email",
    basis: str = "express",
    *,
    captured_at: datetime | None = None,
    wording_version: str = "infolettre-fr-2026-03",
    **changes: Any,
) -> ProfileEvent:
    return fact(
        ConsentGrantedV1,
        when,
        purpose=purpose,
        basis=basis,
        wording_version=wording_version,
        captured_at=(captured_at or when).isoformat(),
        **changes,
    )


def withdrawn(
    when: datetime, purpose: str = "marketing_email", basis: str | None = None, **changes: Any
) -> ProfileEvent:
    return fact(ConsentWithdrawnV1, when, purpose=purpose, basis=basis, captured_at=when.isoformat(), **changes)


def details(when: datetime, changed_fields: list[str], **person: Any) -> ProfileEvent:
    who = {"source": "billetterie-principale", "external_id": "C-004521"} | person
    return fact(PersonDetailsUpdatedV1, when, person=who, previous_email=None, changed_fields=changed_fields)


def person(**changes: Any) -> dict[str, Any]:
    """Élise as the box office knows her, with `changes`."""
    who: dict[str, Any] = copy.deepcopy(EXAMPLES[TicketPurchasedV1]["person"])
    return who | changes


def days(count: float) -> timedelta:
    return timedelta(days=count)


UTC_NOON = datetime(2026, 10, 1, 12, tzinfo=UTC)
