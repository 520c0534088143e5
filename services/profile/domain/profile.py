"""A person's profile: a pure fold of their events, merged field by field, read as flat fields at a moment."""

import bisect
import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

import phonenumbers

from services.profile.domain.consent import (
    CASL,
    Consent,
    ConsentAction,
    ConsentFact,
    ConsentPolicy,
    consents,
    next_consent_change,
)
from services.profile.domain.documents import DocumentError, from_plain, to_plain
from services.profile.domain.history import ProfileEvent
from services.profile.domain.records import (
    SHOP_ORDER_MERGE,
    TICKET_MERGE,
    Acquisition,
    Gift,
    PerformanceRecord,
    PostalAddress,
    ShopOrderRecord,
    ShopPlacement,
    SubscriptionRecord,
    TicketRecord,
    TicketRefund,
)
from services.profile.domain.scores import (
    ATTENDANCE_DAYS,
    DEFAULT_RFM,
    LifecycleStage,
    RfmThresholds,
    engagement_score,
    lifecycle_stage,
    lifecycle_steps,
    recency_steps,
    rfm,
)
from services.profile.domain.seasons import Season, SeasonCalendar
from services.profile.domain.strategies import (
    ALL,
    MAX,
    MIN,
    MOST_RECENT,
    OLDEST,
    SUM,
    UNION,
    Stamp,
    Stamped,
    Strategy,
    check_table,
    per_key,
)
from shared.events.audience import (
    AudienceFact,
    BounceType,
    ConsentGrantedV1,
    ConsentWithdrawnV1,
    DonationMadeV1,
    EmailBouncedV1,
    EmailClickedV1,
    EmailOpenedV1,
    FormKind,
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
    SubscriptionKind,
    SubscriptionPurchasedV1,
    Ticket,
    TicketExchangedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
    TicketScannedV1,
)
from shared.events.common import ConsentPurpose, LegalBasis, PerformanceRef, PersonRef
from shared.memo import LastSeen
from shared.phones import without_extension
from shared.records import quick_init, replaced

DOCUMENT_FORMAT = 1
# Email opens and clicks are kept this long before the person's latest event: enough for `view` at any moment
# from that event on, since its widest window is 90 days; older ones are forgotten so the profile stays bounded.
ENGAGEMENT_MEMORY = timedelta(days=90)
ENGAGEMENT_WINDOWS = (timedelta(days=30), timedelta(days=90))
# A performance counts as missed this long after it began without a scan: box offices often send scans overnight.
NO_SHOW_GRACE = timedelta(days=1)
# Phone numbers without a country code are read as North American: Parterre's organisations are in Québec.
DEFAULT_PHONE_REGION = "CA"
_CANADIAN_POSTAL_CODE = re.compile(r"^([A-Z]\d[A-Z])[\s-]*(\d[A-Z]\d)$")
_CENT = Decimal("0.01")


class NewsletterStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    CLEANED = "cleaned"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ProfileState:
    """What a person's events tell, kept so that any order and any split of them folds to the same state.

    Each field combines by the strategy `MERGE_STRATEGIES` names for it. Times are UTC; maps are keyed by
    upstream ids (tickets, orders, lists) so a refund may arrive before its purchase.
    """

    # Identity
    first_name: Stamped[str] | None = None
    last_name: Stamped[str] | None = None
    emails: Mapping[str, Stamp] = field(default_factory=dict)
    # Each address's latest hard bounce or cleaning. It is undeliverable until a fact names it again after that
    # moment (see `undeliverable_emails`): the patron giving it anew is the only sign it works again.
    emails_undeliverable_at: Mapping[str, Stamp] = field(default_factory=dict)
    phones: Mapping[str, Stamp] = field(default_factory=dict)
    postal_code: Stamped[str] | None = None
    city: Stamped[str] | None = None
    # The latest address given with a postal code, and the latest given with a street too: a fact giving only
    # a postal code keeps the street known for that postal code, and one giving another postal code drops it.
    address: Stamped[PostalAddress] | None = None
    street_address: Stamped[PostalAddress] | None = None
    # A language the person chose (a details update naming the locale) wins over one a source merely reported.
    chosen_language: Stamped[str] | None = None
    reported_language: Stamped[str] | None = None
    sources: frozenset[str] = frozenset()
    # `source:external id` of every upstream record seen, so the profile can be found by an upstream id.
    external_ids: frozenset[str] = frozenset()
    latest_event_at: datetime | None = None
    # Consent: grants and withdrawals by purpose, and the latest inquiry implying consent. Tickets, passes, shop
    # orders and gifts imply consent from their own records (`consent_relationships`); profiles stored before they
    # did hold the latest purchase, membership and gift here too.
    consent_facts: Mapping[str, tuple[ConsentFact, ...]] = field(default_factory=dict)
    relationships: Mapping[str, ConsentFact] = field(default_factory=dict)
    # Box office
    tickets: Mapping[str, TicketRecord] = field(default_factory=dict)
    performances: Mapping[str, PerformanceRecord] = field(default_factory=dict)
    # The first scan of each performance attended.
    attended: Mapping[str, Stamp] = field(default_factory=dict)
    # What profiles stored before each ticket kept its share of its order's total (`Acquisition.paid`) summed, one
    # total per event, so an order told twice counted twice; nothing adds to it now.
    ticket_paid: Decimal = Decimal(0)
    # Refunds by event id. One counts against the spend only once a ticket it names was bought (or received in an
    # exchange) in this history: a refund whose purchase is another person's, or predates the import, pays back
    # nothing here. `ticket_refunded` is what profiles stored before refunds were kept one by one summed; nothing
    # adds to it now, and a profile folded again from its events has none.
    ticket_refunds: Mapping[str, TicketRefund] = field(default_factory=dict)
    ticket_refunded: Decimal = Decimal(0)
    # Ticket and pass purchases.
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    subscriptions: Mapping[str, SubscriptionRecord] = field(default_factory=dict)
    # The first pass or membership payment, which a renewal replaces in `subscriptions`; None in profiles stored
    # before it was kept.
    first_subscription_at: datetime | None = None
    # Each pass or membership payment's price by the pass and the term it pays for (`subscription_term`), so that
    # a payment told by two events (a webhook, then an import of history) counts once, and a renewal, a new term,
    # counts again. `subscription_payments` and `subscription_paid` are what profiles stored before payments were
    # kept apart counted and summed; nothing adds to them now.
    subscription_terms: Mapping[str, Stamped[Decimal]] = field(default_factory=dict)
    subscription_payments: int = 0
    subscription_paid: Decimal = Decimal(0)
    # Shop
    shop_orders: Mapping[str, ShopOrderRecord] = field(default_factory=dict)
    # Donations: each gift's amount and source by donation id, so a gift told by several events counts once, and
    # implies consent from when it was first told. `donations`, `donated` and `largest_donation` are what profiles
    # stored before gifts were kept one by one counted, summed and found largest; nothing adds to them now. The first
    # and the last moment are those of every event telling a gift: a gift told again at another moment moves them
    # out, never back, so a rule counted from them (a donor's anniversary, a lapsed donor) is not asked again.
    gifts: Mapping[str, Gift] = field(default_factory=dict)
    donations: int = 0
    donated: Decimal = Decimal(0)
    largest_donation: Decimal | None = None
    first_donation_at: datetime | None = None
    last_donation_at: datetime | None = None
    # Engagement: each list's latest status; opens and clicks sorted, within ENGAGEMENT_MEMORY of the latest event.
    newsletter_lists: Mapping[str, Stamped[str]] = field(default_factory=dict)
    opens: tuple[datetime, ...] = ()
    clicks: tuple[datetime, ...] = ()
    social_engagements: int = 0
    bounces: int = 0

    @property
    def consent_relationships(self) -> Mapping[str, ConsentFact]:
        """The latest relationship of each kind that implies consent: the latest inquiry (`relationships`), the latest
        ticket, shop order or pass not undone as a purchase, the latest membership and the latest gift.

        Each ticket, pass or membership payment and gift counts from the first event that told it, as its record
        keeps it: one told again later (a webhook, then an import of the box office's history; a donation platform's
        receipt) is the same purchase or gift, and must not restart its term: consent errs towards no contact.

        A shop order cancelled or refunded in full, or a ticket order whose every ticket was paid back (a box office
        writes a cancelled order so), implies nothing, whatever the reason (declined, fraud, the customer's change of
        mind). The purchase before it implies consent then, if any.

        Profiles stored before orders, tickets, passes and gifts kept their source hold the latest purchase,
        membership and gift in `relationships`: once it is undone, the purchases it hid cannot be named with their
        source, and imply nothing until the next one. Such a profile, folded again from its events (`parterre
        profile recompute`), counts each from its first report.
        """
        if not self.tickets and not self.shop_orders and not self.gifts and not self.subscription_terms:
            return self.relationships
        purchase, donation = LegalBasis.IMPLIED_PURCHASE.value, LegalBasis.IMPLIED_DONATION.value
        membership = LegalBasis.IMPLIED_MEMBERSHIP.value
        paid_back = self._tickets_paid_back()
        undone = {
            order.placed.stamp for order in self.shop_orders.values() if order.placed is not None and order.kept is None
        }
        stored = self.relationships.get(purchase)
        if stored is not None and (stored.stamp in undone or stored.stamp.time in paid_back):
            stored = None
        kept = {
            purchase: _latest_relationship(LegalBasis.IMPLIED_PURCHASE, stored, self._purchases_kept()),
            membership: _latest_relationship(
                LegalBasis.IMPLIED_MEMBERSHIP, self.relationships.get(membership), self._memberships_paid()
            ),
            donation: _latest_relationship(
                LegalBasis.IMPLIED_DONATION, self.relationships.get(donation), self._gifts_given()
            ),
        }
        others = {basis: fact for basis, fact in self.relationships.items() if basis not in kept}
        return others | {basis: fact for basis, fact in kept.items() if fact is not None}

    def _tickets_paid_back(self) -> frozenset[datetime]:
        """The moments of ticket purchases whose every ticket was refunded, none kept; `relationships` knows a
        purchase by its moment (one told again by another event has another event id)."""
        if not self.ticket_refunds and not self.ticket_refunded:
            # No refund told (the view asks this of every profile): no ticket to look at.
            return frozenset()
        refunded: set[datetime] = set()
        kept: set[datetime] = set()
        for record in self.tickets.values():
            if record.bought is not None:
                (refunded if record.refunded is not None else kept).add(record.bought.stamp.time)
        return frozenset(refunded - kept)

    def _purchases_kept(self) -> Iterator[tuple[Stamp, str]]:
        """When each purchase not undone whose source is known was first told, and its source."""
        for order in self.shop_orders.values():
            if order.kept is not None and order.kept.source:
                yield order.kept.stamp, order.kept.source
        for record in self.tickets.values():
            if record.bought is not None and record.refunded is None and record.bought.source:
                yield record.bought.stamp, record.bought.source
        yield from self._subscriptions_paid(SubscriptionKind.SEASON_PASS)

    def _memberships_paid(self) -> Iterator[tuple[Stamp, str]]:
        return self._subscriptions_paid(SubscriptionKind.MEMBERSHIP)

    def _subscriptions_paid(self, kind: SubscriptionKind) -> Iterator[tuple[Stamp, str]]:
        """When each payment of a pass or membership of `kind` whose source is known was first told, and its source:
        a payment told again (an import after the webhook) is the same term, a renewal a new one."""
        for term, paid in self.subscription_terms.items():
            # A term's key begins with its pass's id (`subscription_term`), whose record says what it is and who sold
            # it; a renewal may have moved the record's own moment past this term's.
            subscription = self.subscriptions.get(term.rsplit("|", 3)[0])
            if subscription is not None and subscription.kind is kind and subscription.source:
                yield paid.stamp, subscription.source

    def _gifts_given(self) -> Iterator[tuple[Stamp, str]]:
        """When each gift whose source is known was first told, and its source."""
        for gift in self.gifts.values():
            if gift.source:
                yield gift.stamp, gift.source

    @property
    def donation_count(self) -> int:
        """Gifts given: one per donation id, with those a profile stored before gifts were kept apart counted."""
        return self.donations + len(self.gifts)

    @property
    def subscription_payment_count(self) -> int:
        """Pass and membership payments: one per pass and term, with those a profile stored before counted."""
        return self.subscription_payments + len(self.subscription_terms)

    @property
    def subscription_total(self) -> Decimal:
        return sum((term.value for term in self.subscription_terms.values()), self.subscription_paid)

    @property
    def donation_total(self) -> Decimal:
        return sum((gift.value for gift in self.gifts.values()), self.donated)

    @property
    def largest_gift(self) -> Decimal | None:
        amounts = [gift.value for gift in self.gifts.values()]
        if self.largest_donation is not None:
            amounts.append(self.largest_donation)
        return max(amounts, default=None)

    @property
    def records_held(self) -> int:
        """How many tickets, orders, gifts, opens, addresses and other records the state holds: what its size grows
        with, one patron's history against another's."""
        return sum(len(getattr(self, name)) for name in RECORD_FIELDS)

    def to_document(self) -> dict[str, Any]:
        """The state as JSON-ready values, for the profile store; `from_document` reads it back unchanged. A record
        held in several places (an event's stamp, a purchase that is also the acquisition) is one object there too."""
        document: dict[str, Any] = to_plain(self)
        return {"format": DOCUMENT_FORMAT, **document}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> "ProfileState":
        """The state `to_document` wrote; raises `DocumentError` naming what does not fit."""
        if document.get("format") != DOCUMENT_FORMAT:
            raise DocumentError(
                f"profile document format {document.get('format')!r}; this code reads {DOCUMENT_FORMAT}"
            )
        state: ProfileState = from_plain({k: v for k, v in document.items() if k != "format"}, cls)
        return dataclasses.replace(
            state, tickets={ticket_id: _with_purchase(record) for ticket_id, record in state.tickets.items()}
        )


def _latest_relationship(
    basis: LegalBasis, stored: ConsentFact | None, told: Iterable[tuple[Stamp, str]]
) -> ConsentFact | None:
    """The latest of `stored` and the relationships `told` (when each was first told, and its source) of `basis`; the
    fact is made for the latest alone, as a patron may hold hundreds of tickets."""
    latest = max(told, key=_first_item, default=None)
    if latest is None or (stored is not None and stored.stamp >= latest[0]):
        return stored
    return ConsentFact(latest[0], ConsentAction.GRANTED, basis, latest[1])


def _first_item(pair: tuple[Stamp, str]) -> Stamp:
    return pair[0]


def subscription_term(subscription_id: str, starts_on: date, ends_on: date | None, renews_on: date | None) -> str:
    """The key of one payment of a pass or membership: the pass and the term it pays for. A renewal moves its end or
    its next renewal, whether or not it keeps the day the pass was first valid."""
    return "|".join(
        [subscription_id, starts_on.isoformat(), *(day.isoformat() if day else "" for day in (ends_on, renews_on))]
    )


def _with_purchase(record: TicketRecord) -> TicketRecord:
    """A ticket stored before purchases were kept apart from exchanges has its purchase in `acquired` alone, until an
    exchange keeping its id replaces it: kept as `bought` on reading, so that its order still counts afterwards."""
    acquired = record.acquired
    if record.bought is not None or acquired is None or acquired.by_exchange:
        return record
    return dataclasses.replace(record, bought=acquired)


# The merge strategy of every field, as in Apache Unomi: `merge`, `apply` and `fold` all combine through it.
MERGE_STRATEGIES: Mapping[str, Strategy] = check_table(
    ProfileState,
    {
        "first_name": MOST_RECENT,
        "last_name": MOST_RECENT,
        "emails": per_key(MAX),
        "emails_undeliverable_at": per_key(MAX),
        "phones": per_key(MAX),
        "postal_code": MOST_RECENT,
        "city": MOST_RECENT,
        "address": MOST_RECENT,
        "street_address": MOST_RECENT,
        "chosen_language": MOST_RECENT,
        "reported_language": MOST_RECENT,
        "sources": UNION,
        "external_ids": UNION,
        "latest_event_at": MAX,
        "consent_facts": per_key(ALL),
        "relationships": per_key(MOST_RECENT),
        "tickets": per_key(TICKET_MERGE),
        "performances": per_key(MOST_RECENT),
        "attended": per_key(OLDEST),
        "ticket_paid": SUM,
        # Keyed by event id: both sides of a merge holding one key hold the same refund.
        "ticket_refunds": per_key(OLDEST),
        "ticket_refunded": SUM,
        "first_purchase_at": MIN,
        "first_subscription_at": MIN,
        "last_purchase_at": MAX,
        "subscriptions": per_key(MOST_RECENT),
        # A payment told twice is kept as first told, as a gift is.
        "subscription_terms": per_key(OLDEST),
        "subscription_payments": SUM,
        "subscription_paid": SUM,
        "shop_orders": per_key(SHOP_ORDER_MERGE),
        # A gift told by two events (a donation platform's retry under a fresh id, an import of history) is kept as
        # first told, as a ticket keeps its first purchase (TICKET_MERGE): a retry repeats what was said, so a later
        # report is no truer, and the choice must not depend on the order events arrive in.
        "gifts": per_key(OLDEST),
        "donations": SUM,
        "donated": SUM,
        "largest_donation": MAX,
        "first_donation_at": MIN,
        "last_donation_at": MAX,
        "newsletter_lists": per_key(MOST_RECENT),
        "opens": ALL,
        "clicks": ALL,
        "social_engagements": SUM,
        "bounces": SUM,
    },
)

EMPTY_PROFILE = ProfileState()
# The fields holding records (maps, sets and sequences), which `ProfileState.records_held` counts.
RECORD_FIELDS = tuple(
    name
    for name in ProfileState.__dataclass_fields__
    if isinstance(getattr(EMPTY_PROFILE, name), Mapping | frozenset | tuple)
)


def merge(a: ProfileState, b: ProfileState) -> ProfileState:
    """Two parts of one person's history as one, field by field; the order of `a` and `b` does not matter.

    The parts must come from different events (identity resolves each event to one person, so the histories
    of two persons being merged never share one): `merge(fold(A), fold(B)) == fold(A + B)`.
    """
    merged = ProfileState(
        **{name: strategy.combine(getattr(a, name), getattr(b, name)) for name, strategy in MERGE_STRATEGIES.items()}
    )
    return _forget_old_engagement(merged)


def apply(state: ProfileState, event: ProfileEvent) -> ProfileState:
    """`state` with one more event; the event must not be in `state` already (the event log de-duplicates).

    The same as `merge(state, contribution(event))`, combining only the fields the event tells: every strategy has
    its field's empty value as identity, so the others would come out as they are (and the consumer applies every
    fact this way, where building and merging two whole profiles cost a tenth of its time).
    """
    told = _contributed(event)
    combined = {name: MERGE_STRATEGIES[name].combine(getattr(state, name), value) for name, value in told.items()}
    return _forget_old_engagement(replaced(state, **combined))


def fold(events: Iterable[ProfileEvent]) -> ProfileState:
    """The profile of a history: the same for any order of the events, and an event id counts once."""
    unique: dict[str, ProfileEvent] = {}
    for event in events:
        kept = unique.get(event.event_id)
        # One id is one fact; should two deliveries differ, the choice must not depend on their order.
        if kept is None or _comes_first(event, kept):
            unique[event.event_id] = event
    parts = [contribution(event) for event in unique.values()]
    # Pairwise, like a tournament: each record is copied log n times, not once per event.
    while len(parts) > 1:
        parts = [
            merge(*parts[index : index + 2]) if index + 1 < len(parts) else parts[index]
            for index in range(0, len(parts), 2)
        ]
    return parts[0] if parts else EMPTY_PROFILE


def _comes_first(event: ProfileEvent, other: ProfileEvent) -> bool:
    """A total order of two deliveries of one event id: by time and type, then (rarely reached) by content."""
    if (event.time, event.type) != (other.time, other.type):
        return (event.time, event.type) < (other.time, other.type)
    return (event.source, event.data.model_dump_json()) < (other.source, other.data.model_dump_json())


def contribution(event: ProfileEvent) -> ProfileState:
    """What one event alone tells of its person."""
    return ProfileState(**_contributed(event))


def _contributed(event: ProfileEvent) -> dict[str, Any]:
    """The fields of `contribution(event)` the event sets; every other is its field's empty value."""
    stamp = Stamp(event.time, event.event_id)
    chosen = isinstance(event.data, PersonDetailsUpdatedV1) and "locale" in event.data.changed_fields
    fields = _identity(event.data.person, stamp, language_chosen=chosen)
    if isinstance(event.data, _DEAD_ADDRESS_FACTS):
        # The address bounced or was cleaned: no sign the patron still uses it, so it is not made the latest one
        # (the first of `emails`, which tools write to); known from another fact, it keeps that fact's moment.
        fields.pop("emails", None)
        if _is_undeliverable(event.data) and event.data.person.email is not None:
            fields["emails_undeliverable_at"] = {email_address(event.data.person.email): stamp}
    fields["sources"] = frozenset({event.source})
    if event.data.person.external_id is not None:
        fields["external_ids"] = frozenset({external_key(event.data.person.source, event.data.person.external_id)})
    fields["latest_event_at"] = event.time
    fields.update(_facts(event.data, stamp, event.source))
    return fields


_DEAD_ADDRESS_FACTS = (EmailBouncedV1, NewsletterCleanedV1, NewsletterCleanedV2)


def _is_undeliverable(data: AudienceFact) -> bool:
    """Whether the fact says mail to its address cannot arrive: a hard bounce, or a cleaning for any reason (the
    tool sends there no more). A soft bounce is a full mailbox or a server down for a while: the address stands."""
    if isinstance(data, EmailBouncedV1):
        return data.bounce_type is BounceType.HARD
    return isinstance(data, NewsletterCleanedV1 | NewsletterCleanedV2)


def _identity(person: PersonRef, stamp: Stamp, *, language_chosen: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, text in (
        ("first_name", person.first_name),
        ("last_name", person.last_name),
        ("city", person.city),
        ("postal_code", None if person.postal_code is None else _postal_code(person.postal_code)),
    ):
        if text is not None and text.strip():
            fields[name] = Stamped(text.strip(), stamp)
    address = _address(person)
    if address is not None:
        fields["address"] = Stamped(address, stamp)
        if address.street is not None:
            fields["street_address"] = fields["address"]
    if person.email is not None:
        fields["emails"] = {email_address(person.email): stamp}
    if person.phone is not None and person.phone.strip():
        fields["phones"] = {_phone_number(person.phone, person.country): stamp}
    language = None if person.locale is None else person.locale.split("-")[0].lower()
    if language in ("fr", "en"):
        fields["chosen_language" if language_chosen else "reported_language"] = Stamped(language, stamp)
    return fields


def _facts(data: AudienceFact, stamp: Stamp, source: str) -> dict[str, Any]:
    match data:
        case TicketPurchasedV1():
            performance_id = data.performance.performance_id
            shares = _ticket_shares(data.total.amount, data.tickets)
            return {
                "tickets": {
                    ticket.ticket_id: TicketRecord(acquired=bought, bought=bought)
                    for ticket in data.tickets
                    for bought in (
                        Acquisition(
                            stamp,
                            performance_id,
                            ticket.price.amount,
                            data.order_id,
                            paid=shares[ticket.ticket_id],
                            source=source,
                        ),
                    )
                },
                "performances": _performance(data.performance, stamp),
                "first_purchase_at": stamp.time,
                "last_purchase_at": stamp.time,
            }
        case TicketRefundedV1():
            return {
                "tickets": {ticket_id: TicketRecord(refunded=stamp) for ticket_id in data.ticket_ids},
                "ticket_refunds": {stamp.event_id: TicketRefund(stamp, frozenset(data.ticket_ids), data.amount.amount)},
            }
        case TicketExchangedV1():
            performance_id = data.to_performance.performance_id
            received = {
                ticket.ticket_id: TicketRecord(
                    acquired=Acquisition(stamp, performance_id, ticket.price.amount, data.order_id, by_exchange=True)
                )
                for ticket in data.to_tickets
            }
            # A ticket id kept across the exchange is the same ticket, moved: it stays held.
            given = {
                ticket_id: TicketRecord(exchanged=stamp)
                for ticket_id in data.from_ticket_ids
                if ticket_id not in received
            }
            return {"tickets": given | received, "performances": _performance(data.to_performance, stamp)}
        case TicketScannedV1():
            return {
                "attended": {data.performance.performance_id: Stamp(data.scanned_at.astimezone(UTC), stamp.event_id)},
                "performances": _performance(data.performance, stamp),
            }
        case SubscriptionPurchasedV1():
            record = SubscriptionRecord(
                stamp, data.kind, data.starts_on, data.renews_on, data.ends_on, data.season, source=source
            )
            return {
                "subscriptions": {data.subscription_id: record},
                "first_subscription_at": stamp.time,
                "subscription_terms": {
                    subscription_term(data.subscription_id, data.starts_on, data.ends_on, data.renews_on): Stamped(
                        data.price.amount, stamp
                    )
                },
                "first_purchase_at": stamp.time,
                "last_purchase_at": stamp.time,
            }
        case ShopOrderPlacedV1():
            categories = frozenset(line.category for line in data.lines if line.category is not None)
            # Its implied consent is found among the orders not cancelled when consent is asked (see
            # `ProfileState.consent_relationships`): a cancellation may come later, or first.
            placed = ShopPlacement(stamp, data.total.amount, categories, source)
            return {"shop_orders": {data.order_id: ShopOrderRecord(placed=placed)}}
        case ShopOrderRefundedV1():
            return {"shop_orders": {data.order_id: ShopOrderRecord(refunded=data.amount.amount)}}
        case ShopOrderCancelledV1():
            return {"shop_orders": {data.order_id: ShopOrderRecord(cancelled=stamp)}}
        case DonationMadeV1():
            return {
                "gifts": {data.donation_id: Gift(data.amount.amount, stamp, source)},
                "first_donation_at": stamp.time,
                "last_donation_at": stamp.time,
            }
        case NewsletterSubscribedV1():
            return {"newsletter_lists": {data.list_id: Stamped(NewsletterStatus.SUBSCRIBED.value, stamp)}}
        case NewsletterUnsubscribedV1():
            return {"newsletter_lists": {data.list_id: Stamped(NewsletterStatus.UNSUBSCRIBED.value, stamp)}}
        case NewsletterCleanedV1() | NewsletterCleanedV2():
            return {"newsletter_lists": {data.list_id: Stamped(NewsletterStatus.CLEANED.value, stamp)}}
        case EmailOpenedV1():
            return {"opens": (stamp.time,)}
        case EmailClickedV1():
            return {"clicks": (stamp.time,)}
        case EmailBouncedV1():
            return {"bounces": 1}
        case SocialEngagedV1():
            return {"social_engagements": 1}
        case FormSubmittedV1(kind=FormKind.INQUIRY):
            return {"relationships": _relationship(LegalBasis.IMPLIED_INQUIRY, stamp, source)}
        case ConsentGrantedV1() | ConsentWithdrawnV1():
            action = ConsentAction.GRANTED if isinstance(data, ConsentGrantedV1) else ConsentAction.WITHDRAWN
            # Consent is dated when it was captured, which is never after the fact telling it: a capture dated later
            # (a year mistyped, stored before ingest refused it) would outrank every withdrawal until that day.
            captured = Stamp(min(data.captured_at.astimezone(UTC), stamp.time), stamp.event_id)
            fact = ConsentFact(captured, action, data.basis, source, data.wording_version)
            return {"consent_facts": {data.purpose.value: (fact,)}}
    return {}


def _ticket_shares(total: Decimal, tickets: list[Ticket]) -> dict[str, Decimal]:
    """Each ticket's share of an order's `total`, in proportion to its price (evenly when every ticket is free), to
    the cent: the first tickets take the odd cents, so that the shares add up to the total."""
    cents = int(total.scaleb(2))
    weights = [int(ticket.price.amount.scaleb(2)) for ticket in tickets]
    if not any(weights):
        weights = [1] * len(tickets)
    parts = [cents * weight // sum(weights) for weight in weights]
    for rank in range(cents - sum(parts)):
        parts[rank] += 1
    shares: dict[str, Decimal] = {}
    for ticket, part in zip(tickets, parts, strict=True):
        shares[ticket.ticket_id] = shares.get(ticket.ticket_id, Decimal(0)) + Decimal(part).scaleb(-2)
    return shares


def _performance(performance: PerformanceRef, stamp: Stamp) -> dict[str, PerformanceRecord]:
    record = PerformanceRecord(
        stamp,
        performance.production_id,
        performance.starts_at.astimezone(UTC),
        performance.genre,
        performance.venue,
        performance.title.fr,
        performance.title.en,
    )
    return {performance.performance_id: record}


def _relationship(basis: LegalBasis, stamp: Stamp, source: str) -> dict[str, ConsentFact]:
    return {basis.value: ConsentFact(stamp, ConsentAction.GRANTED, basis, source)}


def _address(person: PersonRef) -> PostalAddress | None:
    """The address a fact gives, if it gives a postal code: without one no mail can be sent to it."""
    postal_code = _present(person.postal_code)
    if postal_code is None:
        return None
    country = _present(person.country)
    return PostalAddress(
        postal_code=_postal_code(postal_code),
        street=_present(person.street),
        address_2=_present(person.address_2),
        region=_present(person.region),
        country=None if country is None else country.upper(),
    )


def _present(text: str | None) -> str | None:
    return None if text is None or not text.strip() else text.strip()


def _mailing_address(state: ProfileState) -> dict[str, str | None]:
    """The address parts the profile shows: those of one address, filled from the latest street given for its
    postal code. The city is the latest given, as before addresses were kept whole: sources give one alone (a
    newsletter sign-up), and mail finds its way by the postal code. A profile stored before then shows its postal
    code and city until a fact gives an address."""
    city = _value(state.city)
    if state.address is None:
        postal_code = _value(state.postal_code)
        return {
            "street": None,
            "address_2": None,
            "city": city,
            "region": None,
            "postal_code": postal_code,
            "country": None,
        }
    address = state.address.value
    if address.street is None and state.street_address is not None and address.same_place(state.street_address.value):
        fuller = state.street_address.value
        address = dataclasses.replace(
            fuller,
            postal_code=address.postal_code,
            address_2=address.address_2 or fuller.address_2,
            region=address.region or fuller.region,
            country=address.country or fuller.country,
        )
    return {
        "street": address.street,
        "address_2": address.address_2,
        "city": city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
    }


def _postal_code(text: str) -> str:
    compact = text.strip().upper()
    canadian = _CANADIAN_POSTAL_CODE.match(compact)
    return f"{canadian[1]} {canadian[2]}" if canadian else text.strip()


@functools.lru_cache(maxsize=4096)
def external_key(source: str, external_id: str) -> str:
    return f"{source}:{external_id}"


def email_address(text: str) -> str:
    """An email as profiles keep it, and as a look-up compares it."""
    return text.strip().lower()


def phone_number(text: str, country: str | None = None) -> str:
    """A phone as profiles keep it, and as a look-up compares it."""
    return _phone_number(text, country)


def _phone_number(text: str, country: str | None) -> str:
    """The number in E.164 (`+15145550199`) when it reads as a possible number, without the extension written after
    it (`poste 12`, as identity reads it); else as given, spaces tidied."""
    try:
        number = phonenumbers.parse(without_extension(text), country or DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return " ".join(text.split())
    if not phonenumbers.is_possible_number(number):
        return " ".join(text.split())
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _forget_old_engagement(state: ProfileState) -> ProfileState:
    if state.latest_event_at is None or not (state.opens or state.clicks):
        return state
    horizon = state.latest_event_at - ENGAGEMENT_MEMORY
    # The horizon only moves forward, so what is forgotten does not depend on the order events came in.
    opens = state.opens[bisect.bisect_left(state.opens, horizon) :]
    clicks = state.clicks[bisect.bisect_left(state.clicks, horizon) :]
    if len(opens) == len(state.opens) and len(clicks) == len(state.clicks):
        return state
    return replaced(state, opens=opens, clicks=clicks)


_CONSENT_PARTS = ("status", "basis", "expires_at", "captured_at", "source", "wording_version", "allowed")
# Each purpose's field names, made once: a view names every purpose's seven, and an enum's `value` is a Python
# descriptor in 3.11 (35 reads a view).
_CONSENT_FIELDS: dict[ConsentPurpose, tuple[str, ...]] = {
    purpose: tuple(f"consent.{purpose._value_}.{part}" for part in _CONSENT_PARTS) for purpose in ConsentPurpose
}
_SEASON_PARTS = ("tickets", "productions", "spend", "label")

# The flat fields `view` gives, the names segment and trigger rules use.
PROFILE_FIELD_NAMES: tuple[str, ...] = (
    *("first_name", "last_name", "emails", "undeliverable_emails", "phones"),
    *("street", "address_2", "city", "region", "postal_code", "country"),
    *("preferred_language", "sources"),
    "external_ids",
    "household_id",
    *(f"consent.{purpose.value}.{part}" for purpose in ConsentPurpose for part in _CONSENT_PARTS),
    *("tickets_bought", "ticket_spend", "performances_attended", "no_shows", "productions", "genres", "venues"),
    *("first_purchase_at", "last_purchase_at", "last_performance_at", "is_subscriber", "subscription_renewal_at"),
    "subscription_spend",
    *(f"season.{which}.{part}" for which in ("current", "previous") for part in _SEASON_PARTS),
    *("shop_orders", "shop_spend", "last_order_at", "shop_categories"),
    *("donations_count", "donations_total", "largest_donation", "first_donation_at", "last_donation_at"),
    *("newsletter_status", "opens_30d", "opens_90d", "clicks_30d", "clicks_90d", "social_engagements", "bounces"),
    *("rfm.recency", "rfm.frequency", "rfm.monetary", "rfm.score", "lifecycle_stage", "engagement_score"),
)


@quick_init
@dataclass(frozen=True, slots=True)
class _BoxOffice:
    """The tickets a person holds and the performances they booked or attended, read once per view."""

    held: tuple[Acquisition, ...]
    # Performances the person holds a ticket for or was scanned at.
    booked: Mapping[str, PerformanceRecord]
    # Performances the person holds a ticket for and was never scanned at.
    unscanned: tuple[PerformanceRecord, ...]

    @classmethod
    def of(cls, state: ProfileState) -> "_BoxOffice":
        held = tuple(acquired for record in state.tickets.values() if (acquired := record.held) is not None)
        held_performances = {acquired.performance_id for acquired in held}
        booked = {
            performance_id: state.performances[performance_id]
            for performance_id in held_performances | state.attended.keys()
            if performance_id in state.performances
        }
        unscanned = tuple(
            booked[performance_id]
            for performance_id in sorted(held_performances - state.attended.keys())
            if performance_id in booked
        )
        return cls(held, booked, unscanned)


@quick_init
@dataclass(frozen=True, slots=True)
class _Transactions:
    """Purchases (tickets, passes, shop) and gifts, as RFM and the lifecycle count them; and the first and last
    purchase of tickets or passes among them, as the profile shows them."""

    count: int
    spend: Decimal
    first_at: datetime | None
    last_at: datetime | None
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None

    @classmethod
    def of(cls, state: ProfileState, ticket_spend: Decimal, shop_spend: Decimal) -> "_Transactions":
        # A ticket order refunded in full is no transaction, as a shop order refunded in full is none: an order
        # counts while one of its tickets is not refunded (one given in exchange was paid for, and counts).
        bought = [record.bought for record in state.tickets.values() if record.bought is not None]
        kept_tickets = [
            record.bought for record in state.tickets.values() if record.bought is not None and record.refunded is None
        ]
        ticket_orders = {purchase.order_id for purchase in kept_tickets}
        refunded_times = {purchase.stamp.time for purchase in bought if purchase.order_id not in ticket_orders}
        kept_orders = [kept for order in state.shop_orders.values() if (kept := order.kept) is not None]
        box_office_times = [
            *(purchase.stamp.time for purchase in kept_tickets),
            # The latest payment of each pass: a renewal replaces the record, never an earlier payment's time.
            *(record.stamp.time for record in state.subscriptions.values()),
            *([state.first_subscription_at] if state.first_subscription_at is not None else []),
        ]
        # The first ticket or pass payment is kept as a time alone: unless it is a refunded order's, it counts (a
        # pass's first payment, its record since replaced by a renewal).
        first_paid = None if state.first_purchase_at in refunded_times else state.first_purchase_at
        first_purchase_at = _earliest(first_paid, *box_office_times)
        last_purchase_at = _latest(*box_office_times)
        shop_times = [order.stamp.time for order in kept_orders]
        return cls(
            count=len(ticket_orders) + state.subscription_payment_count + len(kept_orders) + state.donation_count,
            spend=ticket_spend + state.subscription_total + shop_spend + state.donation_total,
            first_at=_earliest(first_purchase_at, *shop_times, state.first_donation_at),
            last_at=_latest(last_purchase_at, *shop_times, state.last_donation_at),
            first_purchase_at=first_purchase_at,
            last_purchase_at=last_purchase_at,
        )


def view(
    state: ProfileState,
    *,
    as_of: datetime,
    seasons: SeasonCalendar,
    household_id: str | None = None,
    consent_policy: ConsentPolicy = CASL,
    rfm_thresholds: RfmThresholds = DEFAULT_RFM,
) -> dict[str, Any]:
    """The profile as flat fields (`PROFILE_FIELD_NAMES`) at `as_of`, a moment at or after its latest event.

    `household_id` is identity's to know: no event carries it. Money is Decimal to the cent, times are UTC.
    What the less obvious fields count:
    - `emails`: every address known, the latest given first; `undeliverable_emails`: those of them that bounced hard
      or were cleaned since they were last given (a purchase or a sign-up naming one after that makes it
      deliverable again). Contact points leave them out.
    - `tickets_bought`: tickets held, bought or received in an exchange, neither refunded nor given in exchange;
      `ticket_spend`: order totals less the refunds of tickets bought here (exchanges move tickets, not money); a
      ticket's purchase counts once however many events tell it, for its share of the total the first one gives,
      and so does a refund of the same tickets and amount.
    - `productions`, `genres`, `venues`, `last_performance_at`: performances held or attended (scanned), the last
      being the latest that has begun; `no_shows`: performances held, never scanned, begun NO_SHOW_GRACE ago.
    - `season.*`: tickets held for performances of that season, at their face value.
    - `subscription_spend`: the price of every season pass and membership bought or renewed.
    - `is_subscriber`: holds a pass or membership still valid, a renewing one until RENEWAL_GRACE past its renewal
      date; `subscription_renewal_at`: when the latest comes up for renewal (the day after its last day).
    - `first_purchase_at`, `last_purchase_at`: tickets and passes, but ticket orders refunded in full. RFM and the
      lifecycle count every transaction (tickets by order, passes, shop orders kept, gifts); `shop_*` count orders
      neither cancelled nor refunded in full.
    - `donations_*`, `largest_donation`: one gift per donation id however many events tell it, for the amount the
      first told; `first_donation_at`, `last_donation_at`: the first and the latest moment any of them told.
    - `newsletter_status`: `subscribed` if subscribed to any list, else the latest status of any list.
    - `rfm.*` and `lifecycle_stage` are None for someone who never bought or gave anything.
    """
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    timeless = _timeless_of(state, seasons, consent_policy)
    box, transactions = timeless.box, timeless.transactions
    subscribed = _subscribed(state, as_of, seasons)
    scores = rfm(
        last_transaction_at=transactions.last_at,
        transactions=transactions.count,
        spend=transactions.spend,
        as_of=as_of,
        thresholds=rfm_thresholds,
    )
    opens_30d, opens_90d = (_within(state.opens, as_of, window) for window in ENGAGEMENT_WINDOWS)
    clicks_30d, clicks_90d = (_within(state.clicks, as_of, window) for window in ENGAGEMENT_WINDOWS)
    fields: dict[str, Any] = {**timeless.personal, "household_id": household_id}
    for consent_fields, allowed_name, consent in timeless.consents:
        fields |= consent_fields
        fields[allowed_name] = consent.allowed_at(as_of)
    started = [performance.starts_at for performance in box.booked.values() if performance.starts_at <= as_of]
    fields |= {
        **timeless.ticketing,
        "no_shows": sum(performance.starts_at + NO_SHOW_GRACE <= as_of for performance in box.unscanned),
        **timeless.booked,
        "first_purchase_at": transactions.first_purchase_at,
        "last_purchase_at": transactions.last_purchase_at,
        "last_performance_at": max(started, default=None),
        "is_subscriber": subscribed,
        "subscription_renewal_at": timeless.renewal_at,
        "subscription_spend": _money(state.subscription_total),
        **timeless.season_fields("current", seasons.current(as_of)),
        **timeless.season_fields("previous", seasons.previous(as_of)),
        **timeless.giving,
        "opens_30d": opens_30d,
        "opens_90d": opens_90d,
        "clicks_30d": clicks_30d,
        "clicks_90d": clicks_90d,
        "social_engagements": state.social_engagements,
        "bounces": state.bounces,
        "rfm.recency": None if scores is None else scores.recency,
        "rfm.frequency": None if scores is None else scores.frequency,
        "rfm.monetary": None if scores is None else scores.monetary,
        "rfm.score": None if scores is None else scores.score,
        "lifecycle_stage": _optional_value(_stage(state, subscribed, transactions, as_of)),
        "engagement_score": engagement_score(
            opens_90d=opens_90d,
            clicks_90d=clicks_90d,
            last_attended_at=timeless.last_attended_at,
            recency=None if scores is None else scores.recency,
            social_engagements=state.social_engagements,
            as_of=as_of,
        ),
    }
    return fields


@quick_init
@dataclass(frozen=True)
class _Timeless:
    """The parts of `view` that time does not change, worked out once per state: a change views its state
    several times (after it, and at the next moments time may change it)."""

    box: _BoxOffice
    transactions: _Transactions
    # In `view`'s order: the fields before `household_id`; each purpose's consent fields but `allowed`, with the
    # name of that one; the ticketing fields before `no_shows`, and those after it up to `venues`; the shop and
    # giving fields up to `newsletter_status`.
    personal: Mapping[str, Any]
    consents: tuple[tuple[Mapping[str, Any], str, Consent], ...]
    ticketing: Mapping[str, Any]
    booked: Mapping[str, Any]
    renewal_at: datetime | None
    giving: Mapping[str, Any]
    last_attended_at: datetime | None
    seasons: dict[tuple[str, Season], dict[str, Any]] = field(default_factory=dict)

    def season_fields(self, which: str, season: Season) -> dict[str, Any]:
        known = self.seasons.get((which, season))
        if known is None:
            known = self.seasons[(which, season)] = _season_fields(which, season, self.box)
        return known


def _refunded_here(state: ProfileState) -> Decimal:
    """The refunds that pay back a purchase of this history: those naming a ticket bought or received here. A refund
    naming the same tickets and amount as another is that refund told again (under another event id: a retry, an
    import of the box office's history after its webhook) and pays back once; one of another amount is another
    refund of them (the fees, then the rest)."""
    tickets = state.tickets
    first_told: dict[tuple[frozenset[str], Decimal], TicketRefund] = {}
    for refund in state.ticket_refunds.values():
        told = (refund.ticket_ids, refund.amount)
        kept = first_told.get(told)
        if kept is None or refund.stamp < kept.stamp:
            first_told[told] = refund
    return sum(
        (
            refund.amount
            for refund in first_told.values()
            if any(
                (record := tickets.get(ticket_id)) is not None
                and (record.bought is not None or record.acquired is not None)
                for ticket_id in refund.ticket_ids
            )
        ),
        Decimal(0),
    )


def _consent_fields(purpose: ConsentPurpose, consent: Consent) -> tuple[dict[str, Any], str, Consent]:
    """The purpose's consent as a view's fields, the name of its `allowed` field, and the consent itself."""
    status, basis, expires_at, captured_at, source, wording_version, allowed = _CONSENT_FIELDS[purpose]
    return (
        {
            status: consent.status._value_,
            basis: None if consent.basis is None else consent.basis._value_,
            expires_at: consent.expires_at,
            captured_at: consent.captured_at,
            source: consent.source,
            wording_version: consent.wording_version,
        },
        allowed,
        consent,
    )


def _timeless(state: ProfileState, seasons: SeasonCalendar, consent_policy: ConsentPolicy) -> _Timeless:
    box = _BoxOffice.of(state)
    paid = sum(
        (
            purchase.paid
            for record in state.tickets.values()
            if (purchase := record.bought) is not None and purchase.paid is not None
        ),
        state.ticket_paid,
    )
    ticket_spend = max(paid - state.ticket_refunded - _refunded_here(state), Decimal(0))
    shop_spend = sum((order.net for order in state.shop_orders.values()), Decimal(0))
    kept_orders = [kept for order in state.shop_orders.values() if (kept := order.kept) is not None]
    language = state.chosen_language or state.reported_language
    return _Timeless(
        box=box,
        transactions=_Transactions.of(state, ticket_spend, shop_spend),
        personal={
            "first_name": _value(state.first_name),
            "last_name": _value(state.last_name),
            "emails": _most_recent_first(state.emails),
            "undeliverable_emails": _undeliverable_emails(state),
            "phones": _most_recent_first(state.phones),
            **_mailing_address(state),
            "preferred_language": _value(language),
            "sources": sorted(state.sources),
            "external_ids": sorted(state.external_ids),
        },
        consents=tuple(
            _consent_fields(purpose, consent)
            for purpose, consent in consents(state, policy=consent_policy, zone=seasons.zone).items()
        ),
        ticketing={
            "tickets_bought": len(box.held),
            "ticket_spend": _money(ticket_spend),
            "performances_attended": len(state.attended),
        },
        booked={
            "productions": len({performance.production_id for performance in box.booked.values()}),
            "genres": sorted({performance.genre for performance in box.booked.values() if performance.genre}),
            "venues": sorted({performance.venue for performance in box.booked.values() if performance.venue}),
        },
        renewal_at=_latest(*(record.due_at(seasons).astimezone(UTC) for record in state.subscriptions.values())),
        giving={
            "shop_orders": len(kept_orders),
            "shop_spend": _money(shop_spend),
            "last_order_at": max((order.stamp.time for order in kept_orders), default=None),
            "shop_categories": sorted({category for order in kept_orders for category in order.categories}),
            "donations_count": state.donation_count,
            "donations_total": _money(state.donation_total),
            "largest_donation": None if (largest := state.largest_gift) is None else _money(largest),
            "first_donation_at": state.first_donation_at,
            "last_donation_at": state.last_donation_at,
            "newsletter_status": _newsletter_status(state.newsletter_lists),
        },
        last_attended_at=_last_attended(state),
    )


_timeless_of = LastSeen(_timeless)


def lifecycle_stage_of(state: ProfileState, *, as_of: datetime, seasons: SeasonCalendar) -> LifecycleStage | None:
    """The `lifecycle_stage` `view` gives at `as_of`, without the rest of the view: for reports over many profiles."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of must be timezone-aware")
    transactions = _Transactions.of(state, Decimal(0), Decimal(0))
    return _stage(state, _subscribed(state, as_of, seasons), transactions, as_of)


def _subscribed(state: ProfileState, as_of: datetime, seasons: SeasonCalendar) -> bool:
    return any(record.runs_until(seasons) > as_of for record in state.subscriptions.values())


def _stage(
    state: ProfileState, subscribed: bool, transactions: _Transactions, as_of: datetime
) -> LifecycleStage | None:
    return lifecycle_stage(
        subscribed=subscribed,
        last_donation_at=state.last_donation_at,
        first_transaction_at=transactions.first_at,
        last_transaction_at=transactions.last_at,
        as_of=as_of,
    )


def next_time_change(
    state: ProfileState,
    as_of: datetime,
    *,
    seasons: SeasonCalendar,
    consent_policy: ConsentPolicy = CASL,
    rfm_thresholds: RfmThresholds = DEFAULT_RFM,
    viewed: Mapping[str, Any] | None = None,
) -> datetime | None:
    """The earliest moment after `as_of` at which `view` changes with no new event, so a sweep visits only
    profiles that are due. A season's end changes every profile (its labels), so this is never later than that.
    `viewed` is the view at `as_of` with the same settings, when the caller has it already.
    """
    settings: dict[str, Any] = {"seasons": seasons, "consent_policy": consent_policy, "rfm_thresholds": rfm_thresholds}
    # Time never changes the household: the views compared carry the one viewed.
    settings["household_id"] = None if viewed is None else viewed.get("household_id")
    now = view(state, as_of=as_of, **settings) if viewed is None else viewed
    # Every moment a time-dependent field may change; those where nothing does (a stage hidden by a subscription)
    # are skipped by comparing views.
    for moment in sorted(
        {moment for moment in _time_steps(state, as_of, seasons, consent_policy, rfm_thresholds) if moment > as_of}
    ):
        if view(state, as_of=moment, **settings) != now:
            return moment
    return None


def _time_steps(
    state: ProfileState,
    as_of: datetime,
    seasons: SeasonCalendar,
    consent_policy: ConsentPolicy,
    rfm_thresholds: RfmThresholds,
) -> Iterable[datetime]:
    # What `view` worked out of the same state already: only its times are read here.
    timeless = _timeless_of(state, seasons, consent_policy)
    box, transactions = timeless.box, timeless.transactions
    yield seasons.current(as_of).ends_at
    for moment in (*state.opens, *state.clicks):
        yield moment
        yield from (moment + window for window in ENGAGEMENT_WINDOWS)
    consent_expiry = next_consent_change(state, as_of, policy=consent_policy, zone=seasons.zone)
    if consent_expiry is not None:
        yield consent_expiry
    yield from (record.runs_until(seasons) for record in state.subscriptions.values())
    yield from lifecycle_steps(
        last_donation_at=state.last_donation_at,
        first_transaction_at=transactions.first_at,
        last_transaction_at=transactions.last_at,
    )
    yield from recency_steps(transactions.last_at, rfm_thresholds)
    yield from (performance.starts_at for performance in box.booked.values())
    yield from (performance.starts_at + NO_SHOW_GRACE for performance in box.unscanned)
    if timeless.last_attended_at is not None:
        yield timeless.last_attended_at + timedelta(days=ATTENDANCE_DAYS)


@dataclass(frozen=True)
class TicketLine:
    """A performance the person holds tickets for or attended, as a patron's page lists it."""

    season: str
    production_id: str
    title_fr: str | None
    title_en: str | None
    performance_id: str
    starts_at: datetime
    venue: str | None
    tickets: int
    spend: Decimal
    attended: bool


def ticket_history(state: ProfileState, seasons: SeasonCalendar) -> list[TicketLine]:
    """The performances held or attended, latest first, each with its season, tickets held and their face value."""
    box = _BoxOffice.of(state)
    lines = []
    for performance_id, performance in box.booked.items():
        tickets = [acquired for acquired in box.held if acquired.performance_id == performance_id]
        lines.append(
            TicketLine(
                season=seasons.season_of(performance.starts_at).label,
                production_id=performance.production_id,
                title_fr=performance.title_fr,
                title_en=performance.title_en,
                performance_id=performance_id,
                starts_at=performance.starts_at,
                venue=performance.venue,
                tickets=len(tickets),
                spend=_money(sum((acquired.price for acquired in tickets), Decimal(0))),
                attended=performance_id in state.attended,
            )
        )
    return sorted(lines, key=lambda line: (line.starts_at, line.performance_id), reverse=True)


def _season_fields(which: str, season: Season, box: _BoxOffice) -> dict[str, Any]:
    in_season = {
        performance_id: performance
        for performance_id, performance in box.booked.items()
        if season.starts_at <= performance.starts_at < season.ends_at
    }
    tickets = [acquired for acquired in box.held if acquired.performance_id in in_season]
    return {
        f"season.{which}.tickets": len(tickets),
        f"season.{which}.productions": len({performance.production_id for performance in in_season.values()}),
        f"season.{which}.spend": _money(sum((acquired.price for acquired in tickets), Decimal(0))),
        f"season.{which}.label": season.label,
    }


def _within(moments: tuple[datetime, ...], as_of: datetime, window: timedelta) -> int:
    """How many of the sorted `moments` fall in the `window` that ends at `as_of` (after its start, up to as_of)."""
    return bisect.bisect_right(moments, as_of) - bisect.bisect_right(moments, as_of - window)


def _newsletter_status(lists: Mapping[str, Stamped[str]]) -> str:
    """`subscribed` when subscribed to any list; else the latest status of any; `none` without lists."""
    if any(status.value == NewsletterStatus.SUBSCRIBED for status in lists.values()):
        return NewsletterStatus.SUBSCRIBED.value
    latest = max(lists.values(), key=lambda status: status.stamp, default=None)
    return NewsletterStatus.NONE.value if latest is None else latest.value


def _last_attended(state: ProfileState) -> datetime | None:
    return max((scan.time for scan in state.attended.values()), default=None)


def _undeliverable_emails(state: ProfileState) -> list[str]:
    """The addresses of `emails` last found undeliverable no earlier than they were last given, most recent first.

    Compared by time alone: a failure and a giving at the same instant leave no sign the address works again, so
    it stays undeliverable (better to skip a working address once than to keep writing to a dead one).
    """
    failed = state.emails_undeliverable_at
    if not failed:
        return []
    given = state.emails
    return [email for email in _most_recent_first(given) if email in failed and failed[email].time >= given[email].time]


def _most_recent_first(seen: Mapping[str, Stamp]) -> list[str]:
    return sorted(seen, key=lambda value: (seen[value], value), reverse=True)


def _value(stamped: Stamped[str] | None) -> str | None:
    return None if stamped is None else stamped.value


def _optional_value(stage: Any) -> str | None:
    return None if stage is None else str(stage.value)


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT)


def _earliest(*moments: datetime | None) -> datetime | None:
    return min((moment for moment in moments if moment is not None), default=None)


def _latest(*moments: datetime | None) -> datetime | None:
    return max((moment for moment in moments if moment is not None), default=None)
