"""What a profile remembers of each ticket, performance, subscription and shop order, and how two memories merge."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from services.profile.domain.seasons import SeasonCalendar, add_months
from services.profile.domain.strategies import MOST_RECENT, OLDEST, SUM, Stamp, Strategy, check_table, field_by_field
from shared.addresses import postal_code_key
from shared.events.audience import SubscriptionKind
from shared.records import quick_init

# A pass or membership that gives neither an end nor a renewal date is taken to last a year.
OPEN_ENDED_SUBSCRIPTION_MONTHS = 12
# A renewing plan stays valid this long past its renewal date while the renewal is on its way: the renewal is
# charged during that day, later when a payment fails and is tried again (Stripe's default retries run for up to
# two weeks), and reaches the profile after that. Without it, every member stops being one at midnight of the day.
RENEWAL_GRACE = timedelta(days=14)


@quick_init
@dataclass(frozen=True, slots=True)
class PostalAddress:
    """An address as one source gave it in one fact: its parts belong together and are never mixed with another's.
    The city is not among them: the profile shows the latest city given, with an address or alone."""

    postal_code: str
    street: str | None = None
    address_2: str | None = None
    region: str | None = None
    country: str | None = None

    def same_place(self, other: "PostalAddress") -> bool:
        """Whether `other` names the same postal code (and country, when both give one): a fuller record of it.
        Codes are compared without case, spaces or dashes, as sources write `sw1a 2aa` or `H2J-2L1`."""
        return postal_code_key(self.postal_code) == postal_code_key(other.postal_code) and (
            self.country is None or other.country is None or self.country == other.country
        )


@quick_init
@dataclass(frozen=True, slots=True)
class PerformanceRecord:
    stamp: Stamp
    production_id: str
    starts_at: datetime
    genre: str | None = None
    venue: str | None = None
    # The production's title as the box office gave it; absent from performances stored before titles were kept.
    title_fr: str | None = None
    title_en: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Acquisition:
    """How a ticket came to the person: bought in an order, or received in an exchange."""

    stamp: Stamp
    performance_id: str
    price: Decimal
    order_id: str | None
    by_exchange: bool = False
    # A purchase's share of its order's total (fees and taxes included), so that a ticket's payment counts once
    # however many events tell it; None for an exchange, and for a purchase stored before shares were kept, whose
    # total is in `ProfileState.ticket_paid`.
    paid: Decimal | None = None
    # The box office that sold it, which the purchase's implied consent names; empty for an exchange, and for a
    # purchase stored before it was kept.
    source: str = ""


@quick_init
@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket; its purchase, refund and exchange may arrive in any order."""

    acquired: Acquisition | None = None
    refunded: Stamp | None = None
    exchanged: Stamp | None = None
    # Its purchase, kept when an exchange that keeps the ticket's id replaces `acquired`: its order still counts.
    bought: Acquisition | None = None

    @property
    def held(self) -> Acquisition | None:
        """The acquisition of a ticket the person still holds: bought, not refunded, and not given in exchange since
        (exchanged away then back under its id, it is held again)."""
        if self.refunded is not None or self.acquired is None:
            return None
        return self.acquired if self.exchanged is None or self.acquired.stamp > self.exchanged else None


# A purchase told by two events (an order sent again under another event id: a webhook, then an import of the box
# office's history or a re-export) is kept as first told, with its share of the order total, whatever order the
# events arrive in. A resend repeats what was said, and a box office changes an order by a refund or an exchange,
# never by telling its purchase again: a later report is no truer, and keeping the first makes spend, purchase time
# and order come from one event.
TICKET_MERGE = field_by_field(
    check_table(TicketRecord, {"acquired": MOST_RECENT, "refunded": OLDEST, "exchanged": MOST_RECENT, "bought": OLDEST})
)


@dataclass(frozen=True, slots=True)
class TicketRefund:
    """Money paid back for tickets, kept with the tickets it names: it counts against the spend once one of them was
    bought in the same history (see `ProfileState.ticket_refunds`)."""

    stamp: Stamp
    ticket_ids: frozenset[str]
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """A season pass or membership, as its latest purchase or renewal describes it."""

    stamp: Stamp
    kind: SubscriptionKind
    starts_on: date
    renews_on: date | None = None
    ends_on: date | None = None
    season: str | None = None
    # Where it was bought, which its implied consent names; empty for a pass stored before it was kept.
    source: str = ""

    def due_at(self, seasons: SeasonCalendar) -> datetime:
        """The instant it comes up for renewal: after its last day, at its renewal date, or a year after it starts."""
        if self.ends_on is not None:
            return seasons.start_of_day(self.ends_on + timedelta(days=1))
        if self.renews_on is not None:
            return seasons.start_of_day(self.renews_on)
        return add_months(seasons.start_of_day(self.starts_on), OPEN_ENDED_SUBSCRIPTION_MONTHS)

    def runs_until(self, seasons: SeasonCalendar) -> datetime:
        """The instant it stops being valid: when it is due, or RENEWAL_GRACE later for a plan that renews itself."""
        due = self.due_at(seasons)
        return due + RENEWAL_GRACE if self.ends_on is None and self.renews_on is not None else due


@quick_init
@dataclass(frozen=True, slots=True)
class Gift:
    """A gift as the first event telling it gave it: its amount, and where it was given, which its implied consent
    names (empty for a gift stored before it was kept)."""

    value: Decimal
    stamp: Stamp
    source: str = ""


@dataclass(frozen=True, slots=True)
class ShopPlacement:
    stamp: Stamp
    total: Decimal
    categories: frozenset[str] = frozenset()
    # The shop's source, which the purchase's implied consent names; empty for orders stored before it was kept.
    source: str = ""


@dataclass(frozen=True, slots=True)
class ShopOrderRecord:
    """One shop order: what was paid when it was placed, what was refunded since, and when it was cancelled."""

    placed: ShopPlacement | None = None
    refunded: Decimal = Decimal(0)
    # A cancelled order is no purchase, even when nothing was refunded: one placed and never paid for has no refund.
    cancelled: Stamp | None = None

    @property
    def kept(self) -> ShopPlacement | None:
        """The placement of an order the person kept: placed, neither cancelled nor refunded in full."""
        if (
            self.placed is None
            or self.cancelled is not None
            or (self.refunded > 0 and self.refunded >= self.placed.total)
        ):
            return None
        return self.placed

    @property
    def net(self) -> Decimal:
        """What the person paid and kept; a refund of an order not (yet) in this history counts for nothing, and a
        cancelled order nothing at all, so its refunds are not taken twice from the spend."""
        if self.placed is None or self.cancelled is not None:
            return Decimal(0)
        return max(self.placed.total - self.refunded, Decimal(0))


SHOP_ORDER_MERGE: Strategy = field_by_field(
    check_table(ShopOrderRecord, {"placed": MOST_RECENT, "refunded": SUM, "cancelled": OLDEST})
)
