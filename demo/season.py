"""A season of a mid-size Québec theatre as its upstream systems report it, the same for the same seed and day.

The patrons come from the identity benchmark's synthetic audience (`bench.identity.synthetic`): Québec names with
typos, nicknames and lost accents, households sharing a family email or a home phone, walk-up buyers who leave a
name and a postal code. Each of their records becomes what the system it came from would send:

- box office: CSV exports as a Québec ticketing system writes them (French headers, `;`, Windows-1252 when every
  character fits, else UTF-8 with a BOM, dates `JJ/MM/AAAA 20 h 00`, amounts `1 234,50 $`), one row per order;
- shop: Shopify `orders/create` webhooks, and `orders/paid` for the orders paid later (the same order again, which
  ingest recognises), with the REST Admin API's order and customer fields (shopify.dev, Order and Customer resources);
- newsletter: Mailchimp list webhooks, form-encoded with bracketed keys (`data[merges][FNAME]`), subscribes then
  unsubscribes (Mailchimp's "About webhooks" guide); opens of three campaigns, which Mailchimp reports through its
  API rather than webhooks, arrive as CloudEvents as a connector would send them;
- gifts and door scans: CloudEvents 1.0 in structured JSON for `POST /v1/events`;
- privacy: the shop's mandatory privacy webhooks, a few customers asking for a copy of their data
  (`customers/data_request`) and one asking to be erased (`customers/redact`), after their orders.

Dates are laid out around `now`: eight productions run one after another from twelve weeks before it to four weeks
after it, so recent purchases, last night's performance and the current season give the profile rules something to
fire on.
"""

import hashlib
import json
import random
import re
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bench.identity.synthetic import (
    BOX_OFFICE,
    DONATIONS,
    NEWSLETTER,
    SHOP,
    SyntheticRecord,
    generate_audience,
)
from services.ingest.domain.drafts import country_code, plain

ZONE = ZoneInfo("America/Montreal")
CURRENCY = "CAD"
EXPORT_ROWS = 500
EVENTS_PER_BATCH = 250
MAILCHIMP_LIST_ID = "5f1e2d3c4b"

# Upstream formats written here; each is accepted by the ingest parsers (tests/unit/demo checks it).
BOXOFFICE_HEADER = (
    "No de commande",
    "Type",
    "Date de commande",
    "Canal de vente",
    "No de client",
    "Prénom",
    "Nom de famille",
    "Courriel",
    "Téléphone",
    "Adresse",
    "Ville",
    "Province",
    "Code postal",
    "Pays",
    "Langue",
    "Spectacle",
    "Date de représentation",
    "Salle",
    "Catégorie de billet",
    "Quantité",
    "Montant",
    "Date d'expiration",
)


@dataclass(frozen=True)
class Production:
    title: str
    language: str
    genre: str
    venue: str

    @property
    def production_id(self) -> str:
        # The id the box-office importer derives from the title, so door scans name the same production.
        return re.sub(r"[^a-z0-9]+", "-", plain(self.title)).strip("-")


PRODUCTIONS = (
    Production("Les Belles-sœurs", "fr", "théâtre", "Grande salle"),
    Production("Albertine, en cinq temps", "fr", "théâtre", "Petite salle"),
    Production("The Glass Menagerie", "en", "drama", "Grande salle"),
    Production("Le Dîner de cons", "fr", "comédie", "Grande salle"),
    Production("Hosanna", "fr", "théâtre", "Studio"),
    Production("A Midsummer Night's Dream", "en", "comedy", "Grande salle"),
    Production("Les Fées ont soif", "fr", "théâtre", "Petite salle"),
    Production("Death of a Salesman", "en", "drama", "Grande salle"),
)
RUN_DAYS = 14
# Days after a run's opening; the sixth run's last evening is yesterday's.
PERFORMANCE_DAYS = (2, 3, 4, 10, 13)
# A French theatre's price list; quantities and categories as orders have them.
PRICE_CATEGORIES = (("Régulier", Decimal("54.50")), ("Aîné", Decimal("46.00")), ("Étudiant", Decimal("32.00")))
PRICE_WEIGHTS = (0.6, 0.25, 0.15)
QUANTITY_WEIGHTS = {1: 0.35, 2: 0.45, 3: 0.08, 4: 0.12}
SEASON_PASS = ("Abonnement 4 pièces", Decimal("189.00"))
SEASON_PASS_RATE = 0.06
PRODUCTIONS_PER_BUYER_WEIGHTS = {1: 0.5, 2: 0.3, 3: 0.2}
CHANNELS = {"En ligne": 0.6, "Guichet": 0.25, "Téléphone": 0.15}
SCAN_RATE = 0.93
ORDERS_PAID_LATER_RATE = 0.5
SHOP_MARKETING_OPT_IN_RATE = 0.35
UNSUBSCRIBE_RATE = 0.1
OPEN_RATE = 0.45
# Shop customers asking for a copy of their data; at least one does, and one other asks to be erased.
ACCESS_REQUEST_RATE = 0.02
SHOP_ID = 55123456
ENGLISH_RATE = 0.22
MERCHANDISE = (
    ("PROG-2627", "Programme de saison", Decimal("10.00")),
    ("TSHIRT-PARTERRE", "T-shirt du théâtre", Decimal("30.00")),
    ("SAC-TOILE", "Sac fourre-tout", Decimal("20.00")),
    ("CARTE-CADEAU-50", "Carte-cadeau 50 $", Decimal("50.00")),
    ("AFFICHE-BELLES-SOEURS", "Affiche — Les Belles-sœurs", Decimal("15.00")),
    ("TEXTE-ALBERTINE", "Texte de la pièce — Albertine, en cinq temps", Decimal("22.95")),
)
DONATION_AMOUNTS = {25: 0.2, 50: 0.3, 100: 0.25, 250: 0.13, 500: 0.08, 1000: 0.03, 3000: 0.01}
CAMPAIGN_DAYS = (20, 50, 75)


@dataclass(frozen=True)
class Performance:
    production: Production
    starts_at: datetime

    @property
    def performance_id(self) -> str:
        local = self.starts_at.astimezone(ZONE)
        return f"{self.production.production_id}-{local:%Y-%m-%d}-{local:%Hh%M}"

    def reference(self) -> dict[str, Any]:
        production = self.production
        return {
            "production_id": production.production_id,
            "title": {production.language: production.title},
            "genre": production.genre,
            "performance_id": self.performance_id,
            "starts_at": self.starts_at.isoformat(),
            "venue": production.venue,
        }


@dataclass(frozen=True)
class SourceIds:
    """The organisation's upstream systems, as registered with `parterre sources create`."""

    boxoffice: str
    shop: str
    newsletter: str
    donations: str

    @classmethod
    def for_organisation(cls, organisation_id: str) -> "SourceIds":
        return cls(
            f"{organisation_id}-billetterie",
            f"{organisation_id}-boutique",
            f"{organisation_id}-infolettre",
            f"{organisation_id}-dons",
        )


@dataclass(frozen=True)
class ShopifyWebhook:
    topic: str
    webhook_id: str
    body: bytes


@dataclass(frozen=True)
class Season:
    organisation_id: str
    sources: SourceIds
    now: datetime
    patrons: int
    performances: tuple[Performance, ...]
    boxoffice_exports: tuple[bytes, ...]
    boxoffice_rows: int
    shopify: tuple[ShopifyWebhook, ...]
    # Sent once the shop's orders are in: a request to erase a customer comes after what it erases.
    shopify_privacy: tuple[ShopifyWebhook, ...]
    mailchimp_subscribes: tuple[bytes, ...]
    mailchimp_unsubscribes: tuple[bytes, ...]
    cloudevents: tuple[dict[str, Any], ...]
    # What the data holds, for the summary: walk-up rows, family emails, events by type, and so on.
    facts: Counter[str] = field(default_factory=Counter)
    # An address several systems know one patron by: the profile worth opening first.
    showcase_email: str | None = None

    @property
    def records(self) -> int:
        """Upstream records sent: CSV rows, webhooks and API events."""
        return (
            self.boxoffice_rows
            + len(self.shopify)
            + len(self.shopify_privacy)
            + len(self.mailchimp_subscribes)
            + len(self.mailchimp_unsubscribes)
            + len(self.cloudevents)
        )


def season_moment(now: datetime) -> datetime:
    """The moment a run at `now` lays its season around: the start of that day in Montréal. Upstream systems date
    their records (a Mailchimp `fired_at`, a Shopify `updated_at`) and some ids follow from those dates, so every run
    of one day sends the same records, and a second run is recognised record by record."""
    start = datetime.combine(now.astimezone(ZONE).date(), time(0, 0), tzinfo=ZONE)
    return start.astimezone(UTC)


def generate_season(patrons: int, *, seed: int, now: datetime, organisation_id: str) -> Season:
    """The season's records for about `patrons` people, identical for the same arguments."""
    if now.utcoffset() is None:
        raise ValueError("now must carry its UTC offset")
    return _SeasonWriter(patrons, seed, now.astimezone(UTC), organisation_id).write()


def schedule(now: datetime) -> tuple[Performance, ...]:
    """Forty performances of eight productions, one run after another, the last of the sixth run last night."""
    today = now.astimezone(ZONE).date()
    first_opening = today - timedelta(days=6 * RUN_DAYS)
    performances = []
    for index, production in enumerate(PRODUCTIONS):
        opening = first_opening + timedelta(days=index * RUN_DAYS)
        for rank, offset in enumerate(PERFORMANCE_DAYS):
            # The second performance of each run is a Sunday-style matinée.
            hour = time(14) if rank == 1 else time(20)
            day = opening + timedelta(days=offset)
            performances.append(Performance(production, datetime.combine(day, hour, tzinfo=ZONE)))
    return tuple(performances)


@dataclass
class _Order:
    paid_at: datetime
    kind: str
    channel: str
    record: SyntheticRecord
    locale: str
    performance: Performance | None = None
    category: str = ""
    quantity: int = 1
    amount: Decimal = Decimal(0)
    ends_on: str = ""
    number: str = ""


class _SeasonWriter:
    def __init__(self, patrons: int, seed: int, now: datetime, organisation_id: str) -> None:
        self.patrons = patrons
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = now
        self.organisation_id = organisation_id
        self.sources = SourceIds.for_organisation(organisation_id)
        self.performances = schedule(now)
        self.past = [performance for performance in self.performances if performance.starts_at < now]
        self.window_start = self.performances[0].starts_at - timedelta(days=30)
        self.facts: Counter[str] = Counter()
        self.locales: dict[str, str] = {}
        self.scans: list[dict[str, Any]] = []
        # The shop's order ids of each customer record, for their privacy requests.
        self.shop_orders: dict[str, list[int]] = {}

    def write(self) -> Season:
        records = list(generate_audience(self.patrons, self.seed))
        by_source: dict[str, list[SyntheticRecord]] = {}
        for record in records:
            by_source.setdefault(record.source, []).append(record)
        self._count_households(records)
        showcase = _showcase(records)
        exports, rows = self._boxoffice(by_source.get(BOX_OFFICE, []))
        shopify = self._shopify(by_source.get(SHOP, []))
        privacy = self._shopify_privacy(by_source.get(SHOP, []), showcase)
        subscribes, unsubscribes, opens = self._mailchimp(by_source.get(NEWSLETTER, []))
        donations = self._donations(by_source.get(DONATIONS, []))
        events = donations + opens + self.scans
        self.facts.update(event["type"] for event in events)
        return Season(
            organisation_id=self.organisation_id,
            sources=self.sources,
            now=self.now,
            patrons=self.patrons,
            performances=self.performances,
            boxoffice_exports=exports,
            boxoffice_rows=rows,
            shopify=shopify,
            shopify_privacy=privacy,
            mailchimp_subscribes=subscribes,
            mailchimp_unsubscribes=unsubscribes,
            cloudevents=tuple(events),
            facts=self.facts,
            showcase_email=showcase,
        )

    # people

    def locale(self, record: SyntheticRecord) -> str:
        """A patron's language, the same in every system that knows it."""
        if record.true_person_id not in self.locales:
            chooser = random.Random(f"{self.seed}:{record.true_person_id}")
            self.locales[record.true_person_id] = "en" if chooser.random() < ENGLISH_RATE else "fr"
        return self.locales[record.true_person_id]

    def _count_households(self, records: Sequence[SyntheticRecord]) -> None:
        holders: dict[str, set[str]] = {}
        for record in records:
            if record.email:
                holders.setdefault(record.email.casefold(), set()).add(record.true_person_id)
        self.facts["shared family emails"] = sum(1 for people in holders.values() if len(people) > 1)

    def moment_between(self, earliest: datetime, latest: datetime) -> datetime:
        earliest = max(earliest, self.window_start)
        latest = min(latest, self.now - timedelta(minutes=5))
        if latest <= earliest:
            return latest
        seconds = (latest - earliest).total_seconds()
        return (earliest + timedelta(seconds=self.rng.uniform(0, seconds))).replace(microsecond=0)

    # box office

    def _boxoffice(self, records: Sequence[SyntheticRecord]) -> tuple[tuple[bytes, ...], int]:
        orders: list[_Order] = []
        for record in records:
            orders += self._orders_of(record)
        orders.sort(key=lambda order: (order.paid_at, order.record.record_id))
        for number, order in enumerate(orders, start=1):
            order.number = f"B-{number:06d}"
        self.scans = [self._scan(order) for order in orders if self._scanned(order)]
        rows = [self._row(order) for order in orders]
        exports = tuple(_csv_file(rows[start : start + EXPORT_ROWS]) for start in range(0, len(rows), EXPORT_ROWS))
        return exports, len(rows)

    def _orders_of(self, record: SyntheticRecord) -> list[_Order]:
        rng = self.rng
        locale = self.locale(record)
        walk_up = record.external_id is None and record.email is None
        if walk_up:
            # At the door: one or two tickets paid in cash minutes before the curtain.
            performance = rng.choice(self.past)
            self.facts["walk-up orders"] += 1
            return [
                self._tickets(
                    record,
                    locale,
                    performance,
                    performance.starts_at - timedelta(minutes=rng.randint(10, 40)),
                    "Guichet",
                )
            ]
        orders = []
        if record.external_id is not None and rng.random() < SEASON_PASS_RATE:
            plan, price = SEASON_PASS
            paid_at = self.moment_between(self.window_start, self.performances[0].starts_at)
            season_end = paid_at.astimezone(ZONE).year + (1 if paid_at.astimezone(ZONE).month >= 9 else 0)
            orders.append(
                _Order(
                    paid_at,
                    "Abonnement",
                    "Guichet",
                    record,
                    locale,
                    category=plan,
                    amount=price,
                    ends_on=f"31/08/{season_end}",
                )
            )
        count = _weighted(rng, PRODUCTIONS_PER_BUYER_WEIGHTS)
        for production in rng.sample(PRODUCTIONS, count):
            performance = rng.choice([item for item in self.performances if item.production is production])
            paid_at = self.moment_between(
                performance.starts_at - timedelta(days=45), performance.starts_at - timedelta(hours=1)
            )
            orders.append(self._tickets(record, locale, performance, paid_at, _weighted(rng, CHANNELS)))
        return orders

    def _tickets(
        self, record: SyntheticRecord, locale: str, performance: Performance, paid_at: datetime, channel: str
    ) -> _Order:
        rng = self.rng
        category, price = rng.choices(PRICE_CATEGORIES, PRICE_WEIGHTS)[0]
        quantity = _weighted(rng, QUANTITY_WEIGHTS) if channel != "Guichet" else rng.choice((1, 1, 2))
        return _Order(
            paid_at,
            "Billet",
            channel,
            record,
            locale,
            performance=performance,
            category=category,
            quantity=quantity,
            amount=price * quantity,
        )

    def _row(self, order: _Order) -> list[str]:
        record = order.record
        performance = order.performance
        local_paid = order.paid_at.astimezone(ZONE)
        return [
            order.number,
            order.kind,
            f"{local_paid:%d/%m/%Y} {local_paid:%H} h {local_paid:%M}",
            order.channel,
            record.external_id or "",
            record.first_name or "",
            record.last_name or "",
            record.email or "",
            record.phone or "",
            record.street or "",
            record.city or "",
            record.region or "",
            record.postal_code or "",
            record.country or "",
            order.locale.upper(),
            performance.production.title if performance else "",
            _performance_date(performance) if performance else "",
            performance.production.venue if performance else "",
            order.category,
            str(order.quantity),
            french_amount(order.amount),
            order.ends_on,
        ]

    def _scanned(self, order: _Order) -> bool:
        performance = order.performance
        return performance is not None and performance.starts_at < self.now and self.rng.random() < SCAN_RATE

    def _scan(self, order: _Order) -> dict[str, Any]:
        assert order.performance is not None
        performance = order.performance
        scanned_at = performance.starts_at - timedelta(minutes=self.rng.randint(3, 45), seconds=self.rng.randint(0, 59))
        person = _person(order.record, self.sources.boxoffice, order.locale)
        data = {
            "person": person,
            "ticket_id": f"{order.number}-1",
            "performance": performance.reference(),
            "scanned_at": scanned_at.astimezone(ZONE).isoformat(),
        }
        return self._event("parterre.ticket.scanned.v1", f"scan/{order.number}-1", scanned_at, data)

    # shop

    def _shopify(self, records: Sequence[SyntheticRecord]) -> tuple[ShopifyWebhook, ...]:
        rng = self.rng
        placed = [(self.moment_between(self.window_start, self.now), record) for record in records]
        placed.sort(key=lambda pair: (pair[0], pair[1].record_id))
        webhooks = []
        for number, (created_at, record) in enumerate(placed, start=1):
            order = self._shopify_order(number, created_at, record)
            self.shop_orders.setdefault(record.record_id, []).append(order["id"])
            paid_later = rng.random() < ORDERS_PAID_LATER_RATE
            if paid_later:
                order["financial_status"] = "pending"
            webhooks.append(_shopify_webhook("orders/create", order, f"create-{order['id']}"))
            if paid_later:
                paid = {**order, "financial_status": "paid", "updated_at": _shop_time(created_at + timedelta(hours=2))}
                webhooks.append(_shopify_webhook("orders/paid", paid, f"paid-{order['id']}"))
        self.facts["shop orders"] = len(placed)
        return tuple(webhooks)

    def _shopify_privacy(self, records: Sequence[SyntheticRecord], showcase: str | None) -> tuple[ShopifyWebhook, ...]:
        """A few customers ask for a copy of their data, one other to be erased; never the showcase patron. Drawn
        apart from the rest of the season, which stays as it was without them."""
        chooser = random.Random(f"{self.seed}:privacy")
        customers = [record for record in records if record.email and record.email != showcase]
        if not customers:
            return ()
        erased, *others = chooser.sample(customers, len(customers))
        asking = [record for record in others if chooser.random() < ACCESS_REQUEST_RATE] or others[:1]
        webhooks = []
        for number, record in enumerate(asking, start=1):
            request = {
                **_privacy_payload(record, self.sources.shop),
                "orders_requested": self.shop_orders.get(record.record_id, []),
                "data_request": {"id": 4400 + number},
            }
            webhooks.append(_shopify_webhook("customers/data_request", request, f"data-request-{number}"))
        orders = self.shop_orders.get(erased.record_id, [])
        redact = {**_privacy_payload(erased, self.sources.shop), "orders_to_redact": orders}
        webhooks.append(_shopify_webhook("customers/redact", redact, f"redact-{erased.record_id}"))
        self.facts["access requests"] = len(asking)
        self.facts["erasure requests"] = 1
        return tuple(webhooks)

    def _shopify_order(self, number: int, created_at: datetime, record: SyntheticRecord) -> dict[str, Any]:
        rng = self.rng
        locale = self.locale(record)
        lines: list[dict[str, Any]] = []
        for line_number, (sku, title, price) in enumerate(rng.sample(MERCHANDISE, rng.choice((1, 1, 2, 3))), start=1):
            quantity = rng.choice((1, 1, 1, 2))
            lines.append(
                {
                    "id": 90_000_000_000 + number * 10 + line_number,
                    "product_id": 7_000_000_000 + MERCHANDISE.index((sku, title, price)),
                    "variant_id": 8_000_000_000 + MERCHANDISE.index((sku, title, price)),
                    "sku": sku,
                    "title": title,
                    "name": title,
                    "quantity": quantity,
                    "price": f"{price:.2f}",
                    "vendor": "Boutique du théâtre",
                    "requires_shipping": not sku.startswith("CARTE"),
                    "taxable": True,
                    "gift_card": sku.startswith("CARTE"),
                }
            )
        subtotal = sum((Decimal(line["price"]) * line["quantity"] for line in lines), Decimal(0))
        # Québec sales taxes: GST 5 % and QST 9.975 %.
        tax = (subtotal * Decimal("0.14975")).quantize(Decimal("0.01"))
        address = {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "address1": record.street,
            "address2": record.address_2,
            "city": record.city,
            "province": "Quebec",
            "province_code": "QC",
            "zip": record.postal_code,
            "country": "Canada",
            "country_code": "CA",
            "phone": record.phone,
        }
        opted_in = rng.random() < SHOP_MARKETING_OPT_IN_RATE
        stamp = _shop_time(created_at)
        customer_id = int(record.external_id) if record.external_id and record.external_id.isdigit() else None
        customer = {
            "id": customer_id,
            "email": record.email,
            "first_name": record.first_name,
            "last_name": record.last_name,
            "phone": record.phone,
            "state": "enabled",
            "currency": CURRENCY,
            "created_at": stamp,
            "updated_at": stamp,
            "tags": "",
            "verified_email": True,
            "default_address": {**address, "default": True, "customer_id": customer_id},
            "email_marketing_consent": {
                "state": "subscribed" if opted_in else "not_subscribed",
                "opt_in_level": "single_opt_in",
                "consent_updated_at": stamp if opted_in else None,
            },
        }
        order_id = 5_800_000_000_000 + number
        return {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{1000 + number}",
            "order_number": 1000 + number,
            "email": record.email,
            "contact_email": record.email,
            "phone": record.phone,
            "created_at": stamp,
            "processed_at": stamp,
            "updated_at": stamp,
            "currency": CURRENCY,
            "presentment_currency": CURRENCY,
            "customer_locale": f"{locale}-CA",
            "buyer_accepts_marketing": opted_in,
            "financial_status": "paid",
            "fulfillment_status": None,
            "source_name": "web",
            "taxes_included": False,
            "subtotal_price": f"{subtotal:.2f}",
            "total_tax": f"{tax:.2f}",
            "total_price": f"{subtotal + tax:.2f}",
            "line_items": lines,
            "billing_address": address,
            "shipping_address": address,
            "customer": customer,
        }

    # newsletter

    def _mailchimp(
        self, records: Sequence[SyntheticRecord]
    ) -> tuple[tuple[bytes, ...], tuple[bytes, ...], list[dict[str, Any]]]:
        rng = self.rng
        campaigns = [
            (
                f"c{index}{hashlib.sha256(f'{self.seed}:{index}'.encode()).hexdigest()[:8]}",
                self.window_start + timedelta(days=days, hours=10),
            )
            for index, days in enumerate(CAMPAIGN_DAYS)
        ]
        campaigns = [(campaign_id, sent_at) for campaign_id, sent_at in campaigns if sent_at < self.now]
        subscribes: list[tuple[datetime, bytes]] = []
        unsubscribes: list[tuple[datetime, bytes]] = []
        opens = []
        # One mailbox opens a campaign once, however many list entries (a family's, a patron's two) share it.
        opened: set[tuple[str, str]] = set()
        for record in records:
            if not record.email:
                continue
            joined = self.moment_between(self.window_start, self.now - timedelta(days=1))
            member = _member_fields(record, self.locale(record))
            subscribes.append((joined, _mailchimp_form("subscribe", joined, member, {"data[ip_opt]": "198.51.100.7"})))
            left: datetime | None = None
            if rng.random() < UNSUBSCRIBE_RATE:
                left = self.moment_between(joined + timedelta(hours=1), self.now)
                extra = {"data[action]": "unsub", "data[reason]": "manual"}
                if campaigns:
                    extra["data[campaign_id]"] = rng.choice(campaigns)[0]
                unsubscribes.append((left, _mailchimp_form("unsubscribe", left, member, extra)))
            for campaign_id, sent_at in campaigns:
                mailbox = (campaign_id, record.email.casefold())
                if mailbox in opened:
                    continue
                if joined < sent_at and (left is None or sent_at < left) and rng.random() < OPEN_RATE:
                    opened.add(mailbox)
                    opened_at = min(sent_at + timedelta(minutes=rng.randint(5, 2880)), self.now - timedelta(minutes=1))
                    opens.append(self._open(record, campaign_id, opened_at))
        subscribes.sort(key=lambda pair: pair[0])
        unsubscribes.sort(key=lambda pair: pair[0])
        self.facts["newsletter subscribes"] = len(subscribes)
        self.facts["newsletter unsubscribes"] = len(unsubscribes)
        return tuple(body for _, body in subscribes), tuple(body for _, body in unsubscribes), opens

    def _open(self, record: SyntheticRecord, campaign_id: str, opened_at: datetime) -> dict[str, Any]:
        email = record.email or ""
        data = {
            "person": {"source": self.sources.newsletter, "external_id": _member_id(email), "email": email},
            "campaign_id": campaign_id,
            "campaign_name": {"fr": f"Infolettre {campaign_id[:2]}", "en": f"Newsletter {campaign_id[:2]}"},
        }
        return self._event("parterre.email.opened.v1", f"open/{campaign_id}/{_member_id(email)}", opened_at, data)

    # gifts

    def _donations(self, records: Sequence[SyntheticRecord]) -> list[dict[str, Any]]:
        rng = self.rng
        events = []
        for number, record in enumerate(records, start=1):
            amount = Decimal(_weighted(rng, DONATION_AMOUNTS))
            given_at = self.moment_between(self.window_start, self.now)
            donation_id = f"DON-{given_at.astimezone(ZONE):%Y}-{number:06d}"
            data = {
                "person": _person(record, self.sources.donations, self.locale(record)),
                "donation_id": donation_id,
                "amount": {"amount": f"{amount:.2f}", "currency": CURRENCY},
                "campaign": {"fr": "Campagne annuelle", "en": "Annual campaign"},
                "recurring": amount <= Decimal(25) and rng.random() < 0.5,
                "tax_receipt_requested": amount >= Decimal(20),
            }
            events.append(self._event("parterre.donation.made.v1", f"donation/{donation_id}", given_at, data))
        return events

    def _event(self, kind: str, subject: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
        source = data["person"]["source"]
        return {
            "specversion": "1.0",
            "id": f"{source}:{subject}",
            "source": f"/orgs/{self.organisation_id}/sources/{source}",
            "type": kind,
            "time": at.astimezone(ZONE).isoformat(),
            "subject": subject,
            "datacontenttype": "application/json",
            "organisationid": self.organisation_id,
            "data": data,
        }


def french_amount(amount: Decimal) -> str:
    """`1234.5` → `1 234,50 $`, with the no-break spaces French typography puts there."""
    grouped = f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return f"{grouped}\u00a0$"


def _performance_date(performance: Performance) -> str:
    local = performance.starts_at.astimezone(ZONE)
    return f"{local:%d/%m/%Y} {local:%H} h {local:%M}"


def _csv_file(rows: Iterable[list[str]]) -> bytes:
    lines = [";".join(_csv_cell(cell) for cell in BOXOFFICE_HEADER)]
    lines += [";".join(_csv_cell(cell) for cell in row) for row in rows]
    text = "\r\n".join(lines) + "\r\n"
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        return text.encode("utf-8-sig")


def _csv_cell(cell: str) -> str:
    if any(char in cell for char in ';"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _person(record: SyntheticRecord, source: str, locale: str) -> dict[str, Any]:
    person: dict[str, Any] = {"source": source, "locale": locale}
    for name in ("external_id", "email", "phone", "first_name", "last_name", "street", "address_2", "city"):
        value = getattr(record, name)
        if value:
            person[name] = value
    if record.region:
        person["region"] = record.region
    if record.postal_code:
        person["postal_code"] = record.postal_code
    if record.country:
        person["country"] = country_code(record.country) or "CA"
    return person


def _member_id(email: str) -> str:
    # Mailchimp's member id is derived from the lower-cased address (an MD5 digest); its webhooks carry 10 hex digits.
    return hashlib.md5(email.casefold().encode(), usedforsecurity=False).hexdigest()[:10]


def _member_fields(record: SyntheticRecord, locale: str) -> dict[str, str]:
    email = record.email or ""
    fields = {
        "data[id]": _member_id(email),
        "data[list_id]": MAILCHIMP_LIST_ID,
        "data[email]": email,
        "data[email_type]": "html",
        "data[merges][EMAIL]": email,
        "data[merges][LANGUE]": locale.upper(),
    }
    if record.first_name:
        fields["data[merges][FNAME]"] = record.first_name
    if record.last_name:
        fields["data[merges][LNAME]"] = record.last_name
    return fields


def _mailchimp_form(kind: str, at: datetime, member: dict[str, str], extra: dict[str, str]) -> bytes:
    fired_at = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return urllib.parse.urlencode({"type": kind, "fired_at": fired_at, **member, **extra}).encode()


def _shop_time(at: datetime) -> str:
    return at.astimezone(ZONE).isoformat()


def _privacy_payload(record: SyntheticRecord, shop: str) -> dict[str, Any]:
    """What Shopify's customer privacy webhooks say of the shop and the customer (shopify.dev, "Privacy law
    compliance")."""
    customer_id = int(record.external_id) if record.external_id and record.external_id.isdigit() else None
    return {
        "shop_id": SHOP_ID,
        "shop_domain": f"{shop}.myshopify.com",
        "customer": {"id": customer_id, "email": record.email, "phone": record.phone},
    }


def _shopify_webhook(topic: str, order: dict[str, Any], delivery: str) -> ShopifyWebhook:
    body = json.dumps(order, ensure_ascii=False, separators=(",", ":")).encode()
    webhook_id = str(hashlib.sha256(delivery.encode()).hexdigest()[:32])
    return ShopifyWebhook(topic, f"{webhook_id[:8]}-{webhook_id[8:12]}-{webhook_id[12:16]}-{webhook_id[16:]}", body)


def _weighted(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), list(weights.values()))[0]


def _showcase(records: Sequence[SyntheticRecord]) -> str | None:
    """The email of the patron whose records come from the most systems (ties: the first such patron)."""
    systems: dict[str, set[str]] = {}
    emails: dict[str, str] = {}
    for record in records:
        systems.setdefault(record.true_person_id, set()).add(record.source)
        if record.email and record.true_person_id not in emails:
            emails[record.true_person_id] = record.email
    ranked = sorted((-len(sources), person) for person, sources in systems.items() if person in emails)
    return emails[ranked[0][1]] if ranked else None
