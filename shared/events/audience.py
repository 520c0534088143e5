"""Facts upstream systems report about a person: tickets, shop, gifts, newsletters, email, social, forms, consent."""

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from shared.events.common import (
    MAX_EMAIL_LENGTH,
    ConsentPurpose,
    Day,
    EventData,
    ExternalId,
    LegalBasis,
    LocalizedText,
    LongText,
    Moment,
    Money,
    PerformanceRef,
    PersonRef,
    SeasonLabel,
    ShortText,
    check_email_shape,
)

MAX_ITEMS = 500
MAX_FORM_ANSWERS = 200

_ELISE: dict[str, Any] = {
    "source": "billetterie-principale",
    "external_id": "C-004521",
    "email": "elise.gagnon@example.com",
    "first_name": "Élise",
    "last_name": "Gagnon",
    "city": "Montréal",
    "postal_code": "H2J 2L1",
    "country": "CA",
    "locale": "fr-CA",
}
_BELLES_SOEURS: dict[str, Any] = {
    "production_id": "belles-soeurs-2026",
    "title": {"fr": "Les Belles-sœurs", "en": "The Sisters-in-Law"},
    "genre": "théâtre",
    "performance_id": "belles-soeurs-2026-10-17-20h",
    "starts_at": "2026-10-17T20:00:00-04:00",
    "venue": "Salle Jean-Duceppe",
}
_MAILCHIMP_PERSON: dict[str, Any] = {
    "source": "mailchimp-principal",
    "external_id": "8a25ff1d98",
    "email": "elise.gagnon@example.com",
    "first_name": "Élise",
    "last_name": "Gagnon",
}
_AUTOMNE_CAMPAIGN: dict[str, Any] = {"fr": "Programmation d'automne 2026", "en": "Fall 2026 season"}


class AudienceFact(EventData):
    """A fact an upstream system reports about one person, before identity knows who that person is."""

    person: PersonRef = Field(description="The person as the upstream system knows them.")


class SalesChannel(StrEnum):
    BOX_OFFICE = "box_office"
    ONLINE = "online"
    PHONE = "phone"


class Ticket(EventData):
    """One admission to a performance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ticket_id": "T-88210-1",
                    "seat": "Parterre, rangée F, siège 12",
                    "price_category": "Régulier",
                    "price": {"amount": "54.50", "currency": "CAD"},
                }
            ]
        }
    )

    ticket_id: ExternalId = Field(
        description="The ticket id in the box office. Purchases naming a ticket under several event ids (an order "
        "sent again, or imported after its webhook) are one purchase of it, counted once."
    )
    seat: ShortText | None = Field(default=None, description="Seat label; absent for general admission.")
    price_category: ShortText = Field(description="Price category as the box office names it, e.g. `Étudiant`.")
    price: Money = Field(description="What was paid for this ticket, taxes included.")


class TicketPurchasedV1(AudienceFact):
    """Tickets to one performance were bought in one order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "order_id": "O-88210",
                    "performance": _BELLES_SOEURS,
                    "tickets": [
                        {
                            "ticket_id": "T-88210-1",
                            "seat": "Parterre, rangée F, siège 12",
                            "price_category": "Régulier",
                            "price": {"amount": "54.50", "currency": "CAD"},
                        },
                        {
                            "ticket_id": "T-88210-2",
                            "seat": "Parterre, rangée F, siège 13",
                            "price_category": "Étudiant",
                            "price": {"amount": "32.00", "currency": "CAD"},
                        },
                    ],
                    "total": {"amount": "86.50", "currency": "CAD"},
                    "channel": "online",
                }
            ]
        }
    )

    order_id: ExternalId = Field(description="The order id in the box office.")
    performance: PerformanceRef = Field(description="The performance the tickets admit to.")
    tickets: list[Ticket] = Field(min_length=1, max_length=MAX_ITEMS, description="The tickets bought.")
    total: Money = Field(
        description="What the order's tickets in this event cost, fees and taxes included: the order total when "
        "the event tells the whole order."
    )
    channel: SalesChannel = Field(description="Where the sale happened.")


class TicketRefundedV1(AudienceFact):
    """Tickets were refunded (and released)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "order_id": "O-88210",
                    "ticket_ids": ["T-88210-2"],
                    "amount": {"amount": "32.00", "currency": "CAD"},
                    "reason": "Représentation annulée",
                }
            ]
        }
    )

    order_id: ExternalId | None = Field(default=None, description="The order the tickets came from, when known.")
    ticket_ids: list[ExternalId] = Field(min_length=1, max_length=MAX_ITEMS, description="The refunded tickets.")
    amount: Money = Field(description="The amount paid back.")
    reason: ShortText | None = Field(default=None, description="Why, as the box office recorded it.")


class TicketExchangedV1(AudienceFact):
    """Tickets were exchanged for tickets to another performance."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "order_id": "O-88210",
                    "from_ticket_ids": ["T-88210-1"],
                    "to_performance": {
                        **_BELLES_SOEURS,
                        "performance_id": "belles-soeurs-2026-10-24-14h",
                        "starts_at": "2026-10-24T14:00:00-04:00",
                    },
                    "to_tickets": [
                        {
                            "ticket_id": "T-90412-1",
                            "seat": "Balcon, rangée B, siège 4",
                            "price_category": "Régulier",
                            "price": {"amount": "54.50", "currency": "CAD"},
                        }
                    ],
                }
            ]
        }
    )

    order_id: ExternalId | None = Field(default=None, description="The order of the original tickets, when known.")
    from_ticket_ids: list[ExternalId] = Field(min_length=1, max_length=MAX_ITEMS, description="The tickets given back.")
    to_performance: PerformanceRef = Field(description="The performance the new tickets admit to.")
    to_tickets: list[Ticket] = Field(min_length=1, max_length=MAX_ITEMS, description="The tickets received.")


class TicketScannedV1(AudienceFact):
    """A ticket was scanned at the door: the person attended."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "ticket_id": "T-88210-1",
                    "performance": _BELLES_SOEURS,
                    "scanned_at": "2026-10-17T19:42:13-04:00",
                }
            ]
        }
    )

    ticket_id: ExternalId = Field(description="The ticket scanned.")
    performance: PerformanceRef = Field(description="The performance attended.")
    scanned_at: Moment = Field(description="When the ticket was scanned.")


class SubscriptionKind(StrEnum):
    SEASON_PASS = "season_pass"  # noqa: S105 (a season ticket, not a password)
    MEMBERSHIP = "membership"


class SubscriptionPurchasedV1(AudienceFact):
    """A season pass (abonnement) or a membership was bought or renewed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "subscription_id": "ABO-2026-00317",
                    "kind": "season_pass",
                    "plan": {"fr": "Abonnement 5 pièces", "en": "Five-play subscription"},
                    "season": "2026-2027",
                    "starts_on": "2026-09-01",
                    "ends_on": "2027-06-30",
                    "price": {"amount": "215.00", "currency": "CAD"},
                }
            ]
        }
    )

    subscription_id: ExternalId = Field(description="The pass or membership id upstream.")
    kind: SubscriptionKind = Field(description="A season pass or a membership.")
    plan: LocalizedText = Field(description="The plan's name.")
    season: SeasonLabel | None = Field(default=None, description="The season it covers, e.g. `2026-2027`.")
    starts_on: Day = Field(description="First day it is valid.")
    renews_on: Day | None = Field(default=None, description="Next automatic renewal, for renewing plans.")
    ends_on: Day | None = Field(default=None, description="Last day it is valid, for fixed-term plans.")
    price: Money = Field(description="What was paid.")

    @field_validator("renews_on", "ends_on")
    @classmethod
    def _not_before_start(cls, day: date | None, info: ValidationInfo) -> date | None:
        starts_on = info.data.get("starts_on")
        if day is not None and isinstance(starts_on, date) and day < starts_on:
            raise PydanticCustomError(
                "date_before_start", "{field} cannot be before starts_on", {"field": info.field_name}
            )
        return day


class ShopOrderLine(EventData):
    """One product line of a shop order."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "PROG-BS-2026",
                    "product_name": {"fr": "Programme de soirée", "en": "Evening programme"},
                    "category": "programmes",
                    "quantity": 2,
                    "unit_price": {"amount": "8.00", "currency": "CAD"},
                }
            ]
        }
    )

    sku: ExternalId = Field(description="The product variant's SKU.")
    product_name: LocalizedText = Field(description="The product's name.")
    category: ShortText | None = Field(default=None, description="Product category, e.g. `livres` or `affiches`.")
    quantity: int = Field(ge=1, le=10_000, description="How many were bought.")
    unit_price: Money = Field(description="Price of one unit.")


class ShopOrderPlacedV1(AudienceFact):
    """An order was placed in the shop (merchandise, books, gift cards)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {
                        "source": "shopify-boutique",
                        "external_id": "207119551",
                        "email": "elise.gagnon@example.com",
                        "first_name": "Élise",
                        "last_name": "Gagnon",
                    },
                    "order_id": "450789469",
                    "lines": [
                        {
                            "sku": "PROG-BS-2026",
                            "product_name": {"fr": "Programme de soirée", "en": "Evening programme"},
                            "category": "programmes",
                            "quantity": 2,
                            "unit_price": {"amount": "8.00", "currency": "CAD"},
                        },
                        {
                            "sku": "LIV-TREMBLAY-BS",
                            "product_name": {"fr": "Les Belles-sœurs (texte intégral)"},
                            "category": "livres",
                            "quantity": 1,
                            "unit_price": {"amount": "17.95", "currency": "CAD"},
                        },
                    ],
                    "total": {"amount": "38.59", "currency": "CAD"},
                }
            ]
        }
    )

    order_id: ExternalId = Field(description="The order id in the shop.")
    lines: list[ShopOrderLine] = Field(min_length=1, max_length=MAX_ITEMS, description="The products ordered.")
    total: Money = Field(description="The order total, shipping and taxes included.")


class ShopOrderRefundedV1(AudienceFact):
    """A shop order was refunded, in whole or in part."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "shopify-boutique", "external_id": "207119551"},
                    "order_id": "450789469",
                    "amount": {"amount": "17.95", "currency": "CAD"},
                    "line_skus": ["LIV-TREMBLAY-BS"],
                }
            ]
        }
    )

    order_id: ExternalId = Field(description="The refunded order.")
    amount: Money = Field(description="The amount paid back.")
    line_skus: list[ExternalId] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="SKUs of the refunded lines; empty when the shop does not itemise the refund.",
    )


class ShopOrderCancelledV1(AudienceFact):
    """A shop order was cancelled: it no longer counts as a purchase, whatever was refunded of it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "shopify-boutique", "external_id": "207119551"},
                    "order_id": "450789469",
                    "reason": "customer",
                }
            ]
        }
    )

    order_id: ExternalId = Field(description="The cancelled order.")
    reason: ShortText | None = Field(
        default=None,
        description="Why, as the shop says it, e.g. Shopify's `customer`, `inventory`, `fraud`, `declined`, `staff`.",
    )


class DonationMadeV1(AudienceFact):
    """A donation was made (one-off, or one instalment of a recurring gift)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {
                        "source": "zeffy-dons",
                        "email": "elise.gagnon@example.com",
                        "first_name": "Élise",
                        "last_name": "Gagnon",
                        "locale": "fr",
                    },
                    "donation_id": "ZF-2026-118734",
                    "amount": {"amount": "100.00", "currency": "CAD"},
                    "campaign": {"fr": "Campagne annuelle 2026", "en": "2026 annual campaign"},
                    "recurring": False,
                    "tax_receipt_requested": True,
                }
            ]
        }
    )

    donation_id: ExternalId = Field(
        description="The donation (or instalment) id upstream. Events naming one id are one gift, counted once "
        "(a platform's retry under a fresh event id, an import of history)."
    )
    amount: Money = Field(description="The amount given.")
    campaign: LocalizedText | None = Field(default=None, description="The fundraising campaign, if any.")
    recurring: bool = Field(default=False, description="Whether it belongs to a recurring (monthly, yearly) gift.")
    tax_receipt_requested: bool = Field(default=False, description="Whether the donor asked for a tax receipt.")


class NewsletterSubscribedV1(AudienceFact):
    """A person subscribed to a mailing list."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _MAILCHIMP_PERSON,
                    "list_id": "a6b5da1054",
                    "list_name": "Infolettre du Théâtre du Nord",
                }
            ]
        }
    )

    list_id: ExternalId = Field(description="The list (audience) id in the newsletter tool.")
    list_name: ShortText | None = Field(default=None, description="The list's name.")


class UnsubscribeReason(StrEnum):
    MANUAL = "manual"
    ABUSE = "abuse"


class NewsletterUnsubscribedV1(AudienceFact):
    """A person left a mailing list, or was removed from it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _MAILCHIMP_PERSON,
                    "list_id": "a6b5da1054",
                    "list_name": "Infolettre du Théâtre du Nord",
                    "reason": "manual",
                    "campaign_id": "cb398d21d2",
                }
            ]
        }
    )

    list_id: ExternalId = Field(description="The list left.")
    list_name: ShortText | None = Field(default=None, description="The list's name.")
    reason: UnsubscribeReason | None = Field(
        default=None, description="`manual` when the person unsubscribed, `abuse` after a spam complaint."
    )
    campaign_id: ExternalId | None = Field(default=None, description="The campaign whose link was used, if any.")


class CleanedReason(StrEnum):
    HARD = "hard"
    ABUSE = "abuse"


class NewsletterCleanedV1(AudienceFact):
    """The newsletter tool removed an address it can no longer send to."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "mailchimp-principal", "email": "ancienne.adresse@example.com"},
                    "list_id": "a6b5da1054",
                    "list_name": "Infolettre du Théâtre du Nord",
                    "reason": "hard",
                    "campaign_id": "4fjk2ma9xd",
                }
            ]
        }
    )

    list_id: ExternalId = Field(description="The list the address was removed from.")
    list_name: ShortText | None = Field(default=None, description="The list's name.")
    reason: CleanedReason = Field(description="`hard` after a hard bounce, `abuse` after a spam complaint.")
    campaign_id: ExternalId | None = Field(default=None, description="The campaign that revealed it, if known.")


class NewsletterCleanedV2(AudienceFact):
    """The newsletter tool removed an address it can no longer send to, for a reason `v1` does not name, or none.

    A type of its own, since `v1` requires one of its reasons: a reader of `v1` keeps reading every address cleaned
    for those, and the address is just as dead for any other.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "mailchimp-principal", "email": "ancienne.adresse@example.com"},
                    "list_id": "a6b5da1054",
                    "reason": "bounce-limit-reached",
                }
            ]
        }
    )

    list_id: ExternalId = Field(description="The list the address was removed from.")
    list_name: ShortText | None = Field(default=None, description="The list's name.")
    reason: ShortText | None = Field(
        default=None, description="The reason as the tool gave it (at most 40 characters); absent when it gave none."
    )
    campaign_id: ExternalId | None = Field(default=None, description="The campaign that revealed it, if known.")


class EmailEngagement(AudienceFact):
    """Something a person did with, or something that happened to, one email campaign."""

    campaign_id: ExternalId = Field(description="The campaign id in the email tool.")
    campaign_name: LocalizedText = Field(description="The campaign's name.")


class EmailOpenedV1(EmailEngagement):
    """A person opened a campaign email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"person": _MAILCHIMP_PERSON, "campaign_id": "5aa2102003", "campaign_name": _AUTOMNE_CAMPAIGN}]
        }
    )


class EmailClickedV1(EmailEngagement):
    """A person clicked a link in a campaign email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _MAILCHIMP_PERSON,
                    "campaign_id": "5aa2102003",
                    "campaign_name": _AUTOMNE_CAMPAIGN,
                    "url": "https://theatredunord.example.com/fr/spectacles/belles-soeurs?utm_source=infolettre",
                }
            ]
        }
    )

    url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")] = Field(
        description="The link clicked."
    )


class BounceType(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class EmailBouncedV1(EmailEngagement):
    """A campaign email could not be delivered."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "mailchimp-principal", "email": "ancienne.adresse@example.com"},
                    "campaign_id": "5aa2102003",
                    "campaign_name": _AUTOMNE_CAMPAIGN,
                    "bounce_type": "hard",
                    "diagnostic": "550 5.1.1 mailbox unavailable",
                }
            ]
        }
    )

    bounce_type: BounceType = Field(description="`hard` (permanent) or `soft` (temporary).")
    diagnostic: ShortText | None = Field(default=None, description="The receiving server's answer, if known.")


class SocialEngagementKind(StrEnum):
    FOLLOW = "follow"
    LIKE = "like"
    COMMENT = "comment"
    SHARE = "share"


class SocialEngagedV1(AudienceFact):
    """A person engaged with the organisation on a social network."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "instagram", "external_id": "17841400008460056"},
                    "network": "instagram",
                    "kind": "comment",
                    "handle": "@elise.au.theatre",
                    "post_id": "3412876512098345123",
                }
            ]
        }
    )

    network: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")] = Field(
        description="The network, lower case, e.g. `instagram`, `facebook`, `tiktok`, `x`."
    )
    kind: SocialEngagementKind = Field(description="What the person did.")
    handle: ShortText = Field(description="The person's handle on that network.")
    post_id: ExternalId | None = Field(default=None, description="The post engaged with; absent for a follow.")


class FormKind(StrEnum):
    CONTEST = "contest"
    INQUIRY = "inquiry"
    SURVEY = "survey"
    OTHER = "other"


class FormSubmittedV1(AudienceFact):
    """A person submitted a web form: a contest entry, an inquiry, a survey."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {
                        "source": "formulaires-web",
                        "email": "elise.gagnon@example.com",
                        "first_name": "Élise",
                        "last_name": "Gagnon",
                    },
                    "form_id": "concours-premiere-2026",
                    "form_name": "Concours : gagnez votre soirée de première",
                    "kind": "contest",
                    "answers": {"spectacle_prefere": "Les Belles-sœurs", "comment_nous_avez_vous_connus": "Radio"},
                }
            ]
        }
    )

    form_id: ExternalId = Field(description="The form id.")
    form_name: ShortText | None = Field(default=None, description="The form's title.")
    kind: FormKind = Field(description="What the form is for; an inquiry grants 6 months of implied consent.")
    answers: dict[ShortText, LongText] = Field(
        default_factory=dict, max_length=MAX_FORM_ANSWERS, description="Answers by question key, as text."
    )


class ConsentGrantedV1(AudienceFact):
    """A person gave consent to be contacted for one purpose, or a relationship implied it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "purpose": "marketing_email",
                    "basis": "express",
                    "wording_version": "infolettre-fr-2026-03",
                    "captured_at": "2026-09-02T14:31:08-04:00",
                    "evidence": "Case cochée au formulaire d'achat, commande O-88210",
                }
            ]
        }
    )

    purpose: ConsentPurpose = Field(description="What the person may be contacted for.")
    basis: LegalBasis = Field(description="Express consent, or the relationship that implies it.")
    wording_version: ShortText = Field(description="Version of the consent text shown, to prove what was agreed to.")
    captured_at: Moment = Field(description="When consent was given, or the implying relationship began.")
    evidence: LongText | None = Field(
        default=None, description="How it can be proven: form id, order id, IP address note."
    )


class ConsentWithdrawnV1(AudienceFact):
    """A person withdrew consent for one purpose."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": _ELISE,
                    "purpose": "sms",
                    "captured_at": "2026-11-05T09:12:44-05:00",
                    "evidence": "Réponse ARRÊT au SMS du 2026-11-04",
                }
            ]
        }
    )

    purpose: ConsentPurpose = Field(description="What the person no longer wants to be contacted for.")
    basis: LegalBasis | None = Field(
        default=None, description="The basis withdrawn; absent means every basis for this purpose."
    )
    wording_version: ShortText | None = Field(default=None, description="Version of the withdrawal text shown, if any.")
    captured_at: Moment = Field(description="When the person withdrew consent.")
    evidence: LongText | None = Field(default=None, description="How it can be proven.")


# A person reference with this source names a person by Parterre's own id (its `external_id`): Parterre's services
# use it to ask for an erasure; upstream systems may not (ingest refuses it).
PARTERRE_PERSON_SOURCE = "parterre-identity"


class PersonErasureRequestedV1(AudienceFact):
    """Someone asked that all personal information about a person be erased (Law 25, Shopify `customers/redact`)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "shopify-boutique", "external_id": "191167", "email": "john@example.com"},
                    "reason": "Demande de la personne par courriel au responsable de la protection des renseignements",
                    "requested_by": "person",
                    "do_not_readd": True,
                }
            ]
        }
    )

    reason: LongText | None = Field(default=None, description="Why, as recorded.")
    requested_by: ShortText = Field(
        description="Who asked: `person`, a staff member, or the upstream mechanism (e.g. `shopify:customers/redact`)."
    )
    do_not_readd: bool = Field(
        description="Whether the person must not be re-created from later upstream facts (a suppression entry)."
    )


# The details a `PersonRef` can carry; `source` names the system, it is not a detail of the person.
PersonDetail = Literal[
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "street",
    "address_2",
    "city",
    "region",
    "postal_code",
    "country",
    "birth_date",
    "locale",
]


class PersonDetailsUpdatedV1(AudienceFact):
    """An upstream system reported a person's current contact details: a new customer, an edit, a new email."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {**_MAILCHIMP_PERSON, "email": "elise.gagnon@courriel.example.ca"},
                    "previous_email": "elise.gagnon@example.com",
                    "changed_fields": ["email"],
                }
            ]
        }
    )

    previous_email: str | None = Field(
        default=None,
        max_length=MAX_EMAIL_LENGTH,
        description="The address the person had before, when the email changed; identity links the two.",
    )
    changed_fields: list[PersonDetail] = Field(
        default_factory=list,
        max_length=20,
        description="The `person` fields the source says changed. A source that sends the whole record without "
        "saying what changed lists every field it carries; identity treats them all as current.",
    )

    @field_validator("previous_email")
    @classmethod
    def _previous_email_looks_like_an_email(cls, email: str | None) -> str | None:
        return None if email is None else check_email_shape(email)


class PrivacyAccessRequestedV1(AudienceFact):
    """Someone asked for a copy of the personal information held about a person (Law 25 access and portability)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "person": {"source": "shopify-boutique", "external_id": "191167", "email": "john@example.com"},
                    "request_id": "9999",
                    "requested_at": "2026-11-05T09:12:44-05:00",
                    "requested_by": "shopify:customers/data_request",
                    "order_ids": ["299938", "280263", "220458"],
                }
            ]
        }
    )

    request_id: ExternalId = Field(description="The request's id upstream, to answer it and prove it was answered.")
    requested_at: Moment = Field(description="When the request was made; Law 25 gives 30 days to answer.")
    requested_by: ShortText = Field(
        description="Who asked, or through which channel: `person`, a staff member, or the upstream mechanism "
        "(e.g. `shopify:customers/data_request`)."
    )
    order_ids: list[ExternalId] = Field(
        default_factory=list,
        max_length=MAX_ITEMS,
        description="Orders the request names, when the upstream system lists them (Shopify `orders_requested`).",
    )
