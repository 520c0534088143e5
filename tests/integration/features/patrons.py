"""One patron as each upstream system reports them, in that system's own format, for the feature tests.

Every patron is new to the platform: a unique email, box-office customer number, Shopify customer id and street
number, so that tests sharing one platform never meet each other's patrons. Names are the test's to choose.

The formats, and the project fixtures the bodies start from (tests/fixtures/vendors, described in its README):
- box office: a Québec ticketing export with the columns of `demo.season.BOXOFFICE_HEADER` (`;`-separated, CRLF,
  Windows-1252, dates `JJ/MM/AAAA 20 h 00`, amounts `54,50 $`), as `billetterie-fr-windows-1252.csv` shows;
- Shopify: `orders/create` webhook bodies, `shopify/orders-create.json` (an online order) and
  `shopify/orders-create-no-email.json` (a point-of-sale order), the REST Admin API's Order resource
  (shopify.dev/docs/api/admin-rest/latest/resources/order); `customers/update`, `shopify/customers-update.json`,
  its Customer resource; each with the buyer's details and ids replaced, and signed as Shopify signs them;
- Mailchimp: the list webhooks `mailchimp/subscribe.form` and `mailchimp/unsubscribe.form` (form-encoded,
  bracketed keys, `fired_at` in UTC; mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/) with
  the member replaced;
- CloudEvents 1.0 in structured JSON (github.com/cloudevents/spec, json-format.md) for `POST /v1/events`.
"""

import copy
import hashlib
import json
import unicodedata
import urllib.parse
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from demo.season import BOXOFFICE_HEADER, SourceIds, french_amount

VENDORS = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"
ZONE = ZoneInfo("America/Montreal")
# A theatre's season runs from September 1 (services/profile: `SeasonCalendar`'s default).
SEASON_START_MONTH = 9


@dataclass(frozen=True)
class Production:
    title: str
    venue: str
    production_id: str


BELLES_SOEURS = Production("Les Belles-sœurs", "Grande salle", "les-belles-soeurs")
ALBERTINE = Production("Albertine, en cinq temps", "Petite salle", "albertine-en-cinq-temps")
HOSANNA = Production("Hosanna", "Studio", "hosanna")


@dataclass(frozen=True)
class Patron:
    first_name: str
    last_name: str
    email: str
    # The ids each system knows them by: the box office's customer number, Shopify's customer id, and Mailchimp's
    # member id (derived from the lower-cased address, 10 hex digits in webhooks).
    boxoffice_id: str
    shopify_customer_id: int
    street: str

    @property
    def mailchimp_id(self) -> str:
        return hashlib.md5(self.email.casefold().encode(), usedforsecurity=False).hexdigest()[:10]

    def upstream_ids(self, sources: SourceIds) -> dict[str, str]:
        """Source id → this patron's id there, for the three systems that know them by an id."""
        return {
            sources.boxoffice: self.boxoffice_id,
            sources.shop: str(self.shopify_customer_id),
            sources.newsletter: self.mailchimp_id,
        }


def new_patron(first_name: str, last_name: str) -> Patron:
    token = uuid.uuid4().hex
    spelled = unicodedata.normalize("NFKD", f"{first_name}.{last_name}".casefold())
    mailbox = "".join(char for char in spelled if char.isascii() and (char.isalnum() or char == "."))
    return Patron(
        first_name=first_name,
        last_name=last_name,
        email=f"{mailbox}.{token[:8]}@example.ca",
        boxoffice_id=f"C-{token[8:16].upper()}",
        shopify_customer_id=7_000_000_000 + int(token[16:24], 16) % 1_000_000_000,
        street=f"{int(token[24:28], 16) % 9000 + 100}, rue Saint-Denis",
    )


def evenings_this_season(now: datetime, count: int) -> list[datetime]:
    """`count` evenings at 20 h, a week apart, all in the season `now` is in: the coming weeks, or the past ones
    when the season ends before them."""
    local = now.astimezone(ZONE)
    first_year = local.year if local.month >= SEASON_START_MONTH else local.year - 1
    season_ends = datetime(first_year + 1, SEASON_START_MONTH, 1, tzinfo=ZONE)
    direction = 1 if local + timedelta(weeks=count + 1) < season_ends else -1
    return [
        (local + direction * timedelta(weeks=week)).replace(hour=20, minute=0, second=0, microsecond=0)
        for week in range(1, count + 1)
    ]


# Box office


@dataclass(frozen=True)
class TicketOrder:
    number: str
    ordered_at: datetime
    production: Production
    starts_at: datetime
    quantity: int = 2
    category: str = "Régulier"
    unit_price: Decimal = Decimal("54.50")

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


def ticket_order(production: Production, starts_at: datetime, ordered_at: datetime) -> TicketOrder:
    return TicketOrder(f"B-{uuid.uuid4().hex[:10].upper()}", ordered_at, production, starts_at)


def boxoffice_export(patron: Patron, orders: list[TicketOrder], *, refunded: Collection[str] = ()) -> bytes:
    """The export file holding `orders`, one row each, those whose number `refunded` holds marked `Remboursée`."""
    rows = [
        [
            order.number,
            "Billet",
            _french_moment(order.ordered_at),
            "En ligne",
            patron.boxoffice_id,
            patron.first_name,
            patron.last_name,
            patron.email,
            "",
            patron.street,
            "Montréal",
            "QC",
            "H2J 2L1",
            "Canada",
            "FR",
            order.production.title,
            _french_moment(order.starts_at),
            order.production.venue,
            order.category,
            str(order.quantity),
            french_amount(order.amount),
            "",
            "Remboursée" if order.number in refunded else "Payée",
        ]
        for order in orders
    ]
    lines = [";".join(_csv_cell(cell) for cell in row) for row in [[*BOXOFFICE_HEADER, "Statut"], *rows]]
    text = "\r\n".join(lines) + "\r\n"
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        return text.encode("utf-8-sig")


def _french_moment(moment: datetime) -> str:
    local = moment.astimezone(ZONE)
    return f"{local:%d/%m/%Y} {local:%H} h {local:%M}"


def _csv_cell(cell: str) -> str:
    if any(char in cell for char in ';"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


# Shopify


@dataclass(frozen=True)
class ShopifyWebhook:
    topic: str
    webhook_id: str
    body: bytes


def shopify_order(patron: Patron, created_at: datetime) -> ShopifyWebhook:
    """An `orders/create` webhook for an order of the shop's usual three lines, placed by `patron`, who subscribed
    to the shop's email marketing when they opened their account."""
    template = json.loads((VENDORS / "shopify" / "orders-create.json").read_bytes())
    order: dict[str, Any] = copy.deepcopy(template)
    order_id = 5_500_000_000_000 + uuid.uuid4().int % 100_000_000_000
    stamp = created_at.astimezone(ZONE).isoformat(timespec="seconds")
    name = f"{patron.first_name} {patron.last_name}"
    order.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        token=uuid.uuid4().hex[:12],
        email=patron.email,
        contact_email=patron.email,
        phone=None,
        created_at=stamp,
        processed_at=stamp,
        updated_at=stamp,
    )
    for address in (order["billing_address"], order["shipping_address"], order["customer"]["default_address"]):
        address.update(
            first_name=patron.first_name, last_name=patron.last_name, name=name, address1=patron.street, phone=None
        )
    customer = order["customer"]
    customer.update(
        id=patron.shopify_customer_id,
        admin_graphql_api_id=f"gid://shopify/Customer/{patron.shopify_customer_id}",
        email=patron.email,
        first_name=patron.first_name,
        last_name=patron.last_name,
        phone=None,
        tags="",
    )
    customer["default_address"]["customer_id"] = patron.shopify_customer_id
    body = json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()
    return ShopifyWebhook("orders/create", str(uuid.uuid4()), body)


def shopify_counter_order(patron: Patron, created_at: datetime) -> ShopifyWebhook:
    """An `orders/create` webhook from the shop's point of sale at the theatre's counter: the customer account holds
    her name only, no email (`shopify/orders-create-no-email.json`, its phone and SMS opt-in left out)."""
    order: dict[str, Any] = json.loads((VENDORS / "shopify" / "orders-create-no-email.json").read_bytes())
    order_id = 5_600_000_000_000 + uuid.uuid4().int % 100_000_000_000
    stamp = created_at.astimezone(ZONE).isoformat(timespec="seconds")
    order.update(
        id=order_id,
        admin_graphql_api_id=f"gid://shopify/Order/{order_id}",
        phone=None,
        created_at=stamp,
        processed_at=stamp,
    )
    order["customer"].update(
        id=patron.shopify_customer_id,
        admin_graphql_api_id=f"gid://shopify/Customer/{patron.shopify_customer_id}",
        first_name=patron.first_name,
        last_name=patron.last_name,
        phone=None,
        sms_marketing_consent=None,
        created_at=stamp,
        updated_at=stamp,
    )
    body = json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()
    return ShopifyWebhook("orders/create", str(uuid.uuid4()), body)


def shopify_customer_update(patron: Patron, updated_at: datetime) -> ShopifyWebhook:
    """A `customers/update` webhook: the patron's shop account now holds her email and address; she did not
    subscribe to the shop's emails (`shopify/customers-update.json`, the Customer resource)."""
    customer: dict[str, Any] = json.loads((VENDORS / "shopify" / "customers-update.json").read_bytes())
    stamp = updated_at.astimezone(ZONE).isoformat(timespec="seconds")
    name = f"{patron.first_name} {patron.last_name}"
    customer.update(
        id=patron.shopify_customer_id,
        admin_graphql_api_id=f"gid://shopify/Customer/{patron.shopify_customer_id}",
        email=patron.email,
        first_name=patron.first_name,
        last_name=patron.last_name,
        phone=None,
        tags="",
        updated_at=stamp,
        email_marketing_consent={
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
        },
    )
    for address in (customer["default_address"], *customer["addresses"]):
        address.update(
            customer_id=patron.shopify_customer_id,
            first_name=patron.first_name,
            last_name=patron.last_name,
            name=name,
            address1=patron.street,
            phone=None,
        )
    body = json.dumps(customer, ensure_ascii=False, separators=(",", ":")).encode()
    return ShopifyWebhook("customers/update", str(uuid.uuid4()), body)


# Mailchimp


def mailchimp_subscribe(patron: Patron, fired_at: datetime) -> bytes:
    return _mailchimp_form("subscribe", patron, fired_at)


def mailchimp_unsubscribe(patron: Patron, fired_at: datetime) -> bytes:
    """The member unsubscribed themselves (`action` unsub, `reason` manual) from a campaign's link."""
    return _mailchimp_form("unsubscribe", patron, fired_at)


def _mailchimp_form(kind: str, patron: Patron, fired_at: datetime) -> bytes:
    template = (VENDORS / "mailchimp" / f"{kind}.form").read_text()
    fields = dict(urllib.parse.parse_qsl(template, keep_blank_values=True))
    assert fields["type"] == kind
    # The template's member has a phone, which several test patrons would then share: it is left out.
    fields.pop("data[merges][PHONE]", None)
    fields.update(
        {
            "fired_at": fired_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "data[id]": patron.mailchimp_id,
            "data[email]": patron.email,
            "data[merges][EMAIL]": patron.email,
            "data[merges][FNAME]": patron.first_name,
            "data[merges][LNAME]": patron.last_name,
        }
    )
    if "data[merges][ADDRESS][addr1]" in fields:
        fields["data[merges][ADDRESS][addr1]"] = patron.street
    return urllib.parse.urlencode(fields).encode()


# CloudEvents


def ticket_purchased_event(
    organisation_id: str, sources: SourceIds, patron: Patron, order: TicketOrder
) -> dict[str, Any]:
    """`parterre.ticket.purchased.v1` as the box office's online sales report it the moment an order is paid."""
    starts_at = order.starts_at.astimezone(ZONE)
    performance_id = f"{order.production.production_id}-{starts_at:%Y-%m-%d}-{starts_at:%Hh%M}"
    price = {"amount": f"{order.unit_price:.2f}", "currency": "CAD"}
    return {
        "specversion": "1.0",
        "id": f"{sources.boxoffice}:order/{order.number}",
        "source": f"/orgs/{organisation_id}/sources/{sources.boxoffice}",
        "type": "parterre.ticket.purchased.v1",
        "time": order.ordered_at.astimezone(ZONE).isoformat(),
        "subject": f"order/{order.number}",
        "datacontenttype": "application/json",
        "data": {
            "person": {
                "source": sources.boxoffice,
                "external_id": patron.boxoffice_id,
                "email": patron.email,
                "first_name": patron.first_name,
                "last_name": patron.last_name,
                "locale": "fr-CA",
            },
            "order_id": order.number,
            "performance": {
                "production_id": order.production.production_id,
                "title": {"fr": order.production.title},
                "performance_id": performance_id,
                "starts_at": starts_at.isoformat(),
                "venue": order.production.venue,
            },
            "tickets": [
                {"ticket_id": f"{order.number}-{seat}", "price_category": order.category, "price": price}
                for seat in range(1, order.quantity + 1)
            ],
            "total": {"amount": f"{order.amount:.2f}", "currency": "CAD"},
            "channel": "online",
        },
    }
