"""Shopify webhooks to Parterre events: HMAC verification, and orders, refunds, customers and privacy requests."""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import ValidationError

from services.ingest.domain.drafts import FUTURE_TIME_ALLOWED, Draft, language_of, normalise_locale, wrap
from services.ingest.domain.errors import AdapterError, Problems
from services.ingest.domain.ids import content_digest
from services.ingest.domain.payload import JsonNode, first_present
from shared.events import (
    ConsentGrantedV1,
    ConsentPurpose,
    ConsentWithdrawnV1,
    Envelope,
    FieldError,
    Language,
    LegalBasis,
    PersonDetailsUpdatedV1,
    PersonErasureRequestedV1,
    PersonRef,
    PrivacyAccessRequestedV1,
    ShopOrderCancelledV1,
    ShopOrderLine,
    ShopOrderPlacedV1,
    ShopOrderRefundedV1,
    SourceRedactionRequestedV1,
    field_errors,
)

__all__ = [
    "SUPPORTED_TOPICS",
    "AdapterError",
    "ShopifyReading",
    "Unpublished",
    "attributed_order_id",
    "awaits_its_order",
    "buyer_reference",
    "read_shopify_webhook",
    "reads_topic",
    "redacted_order_ids",
    "verify_shopify_hmac",
    "with_buyer",
]

TOPIC_HEADER = "X-Shopify-Topic"
# Shopify's line item titles come in the shop's language, which webhooks do not state; the buyer's locale is the
# best hint there is, and English is Shopify's default shop language.
DEFAULT_TITLE_LANGUAGE: Language = "en"
# A refund names its order but not the customer (Shopify's refund resource has only `order_id`, and `user_id` is
# the staff member). Until the order's buyer is known, the refund stands for "whoever placed order N": such an
# event must wait for its order and never reach Kafka, where identity would take `order:N` for a new person.
_AWAITING_ORDER_PREFIX = "order:"
_SHA256_DIGEST_BYTES = 32
# The bounds of the contracts' short and long texts; what Parterre writes itself is cut to fit rather than refused.
MAX_LABEL = 150
MAX_EVIDENCE = 5000


def verify_shopify_hmac(raw_body: bytes, header_value: str | None, secrets: Sequence[str]) -> bool:
    """Whether `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body under any of `secrets`.

    Several secrets are valid at once while one is rotated. Every secret is compared, in constant time, so the time
    taken does not tell which one nearly matched.
    """
    if not header_value:
        return False
    try:
        presented = base64.b64decode(header_value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(presented) != _SHA256_DIGEST_BYTES:
        return False
    # An empty secret would let anyone sign: it is never a valid key.
    expected = [hmac.new(secret.encode(), raw_body, hashlib.sha256).digest() for secret in secrets if secret]
    matches = [hmac.compare_digest(digest, presented) for digest in expected]
    return any(matches)


@dataclass(frozen=True)
class Unpublished:
    """A fact a webhook tells that is acknowledged and not published, and why (`reason`, a metric label), said by the
    upstream ids it concerns (`about`), never by personal information. Refused, the delivery would have Shopify retry
    it, then remove the webhook."""

    event_type: str
    reason: str
    about: str


# The reason a refund whose every payment back failed is not published: no money went back.
REFUND_NOT_PAID_BACK = "refund_not_paid_back"
# The reason a refund paid back in the buyer's currency is not published from `refunds/create`: only its order gives
# the rate to the shop's currency, and the order's `orders/updated` publishes it.
REFUND_VALUED_WITH_ITS_ORDER = "refund_valued_with_its_order"
# The reason a refund paid back in the buyer's currency is not published from its order either: neither the order
# nor the refund's lines tell what it is in the shop's currency.
REFUND_CURRENCY_UNCONVERTIBLE = "refund_currency_unconvertible"


@dataclass(frozen=True)
class _Context:
    source: str
    received_at: datetime
    problems: Problems
    # The person's details that cannot be read, left out of the events (see `_person`).
    left_out: list[FieldError]
    # The facts read and not published, with the reason (see `Unpublished`).
    unpublished: list[Unpublished]
    order_buyer: PersonRef | None = None


_TopicReader = Callable[[JsonNode, _Context], list[Draft]]


@dataclass(frozen=True)
class ShopifyReading:
    """The events one Shopify webhook reports, the person's details left out of them because they cannot be read,
    each named by its JSON path with the reason, and the facts it tells that are not published, with the reason."""

    events: list[Envelope]
    left_out: tuple[FieldError, ...] = ()
    unpublished: tuple[Unpublished, ...] = ()


def read_shopify_webhook(
    topic: str,
    payload: Mapping[str, Any],
    *,
    organisation_id: str,
    source: str,
    received_at: datetime,
    order_buyer: PersonRef | None = None,
) -> ShopifyReading:
    """The events one Shopify webhook reports; raises `AdapterError` naming each unusable field by its JSON path.

    Ids derive from Shopify's own ids (order, refund, customer, request, shop), never from the delivery id, so a
    retried delivery, or `orders/paid` after `orders/create` for one order, repeats the same event ids. A refund or a
    cancellation is attributed to `order_buyer` (see `buyer_reference`); without it, a refund `awaits_its_order` and
    a cancellation goes to the customer its order names. A detail of the person that cannot be read and does not
    name them (an address line too long, a country that is no code) is left out, and reported in `left_out`.
    """
    normalised_topic = topic.strip().lower()
    reader = _READERS.get(normalised_topic)
    if reader is None:
        raise AdapterError.single(
            TOPIC_HEADER,
            f"topic {topic!r} is not supported; Parterre reads {', '.join(SUPPORTED_TOPICS)}",
            "unsupported_topic",
        )
    problems = Problems()
    root = JsonNode.root(payload, problems)
    if not root.is_object():
        problems.raise_if_any()
    context = _Context(source, received_at, problems, left_out=[], unpublished=[], order_buyer=order_buyer)
    drafts = reader(root, context)
    problems.raise_if_any()
    envelopes = wrap(drafts, organisation_id=organisation_id, source=source, ingested_at=received_at)
    # Each detail once, however many of the events name the person.
    return ShopifyReading(envelopes, tuple(dict.fromkeys(context.left_out)), tuple(context.unpublished))


def _order_placed(order: JsonNode, context: _Context, *, undated_no: "_Dating | None" = None) -> list[Draft]:
    """The sale, the consent it reports and its cancellation; a no the customer record does not date is dated by
    `undated_no`, else by the order."""
    if order["test"].flag():
        # A checkout tried in test mode (Shopify's Bogus Gateway): no sale, no buyer, no consent given.
        return []
    problems = context.problems
    order_id = order["id"].identifier(required=True)
    currency = _currency(order["currency"])
    total = order["total_price"].decimal(required=True)
    customer = order["customer"]
    has_customer = customer.is_object()
    # A locale that cannot be read is left out of the buyer's details (`_person`), and the next one says the language.
    locale = next(
        (tag for node in (customer["locale"], order["customer_locale"]) if (tag := _readable_locale(node))), None
    )
    language = language_of(locale) or DEFAULT_TITLE_LANGUAGE
    lines = [line for node in order["line_items"].elements(required=True) if (line := _line(node, currency, language))]
    person = _order_person(order, customer if has_customer else None, context)
    time = _dated(order, context)
    if problems or person is None:
        return []
    placed = problems.validate(
        ShopOrderPlacedV1,
        {"person": person, "order_id": order_id, "lines": lines, "total": {"amount": total, "currency": currency}},
        {"order_id": "id", "lines": "line_items", "total.amount": "total_price", "total.currency": "currency"},
        whole="$",
    )
    if placed is None:
        return []
    anchor = f"order/{order_id}"
    drafts = [Draft(placed, ("shopify", "order", str(order_id)), time, subject=anchor)]
    if undated_no is None:
        # The order's report of the customer's present state is as late as Shopify's record of the order: an order
        # imported from another platform took place years before, when the patron may not have said no yet.
        recorded_at = order["created_at"].timestamp()
        undated_no = _Dating(max(time, recorded_at) if recorded_at else time, anchor)
    order_name = order["name"].text() or f"#{order_id}"
    places = _buyer_detail_places(order, customer)
    passed_over = {name: [node.path for node in _passed_over(name, places[name])] for name in ("email", "phone")}
    drafts += _consents(
        person,
        customer,
        checkout_opt_in=order["buyer_accepts_marketing"].flag(),
        context=f"order {order_name}",
        anchor=anchor,
        time=time,
        received_at=context.received_at,
        undated_no=undated_no,
        # The customer's consents are for the address and number its record gives, or the order's own when it gives
        # none: one found past an unreadable one (`_order_person`) is neither.
        customer_unread=frozenset(name for name, unread in passed_over.items() if unread),
        # The checkbox is ticked for the address typed at the checkout, the order's `email`.
        checkout_address_unread=order["email"].path in passed_over["email"],
    )
    # An order delivered again after its cancellation (a replay, `orders/paid` late) still says it was cancelled.
    if (cancelled_at := order["cancelled_at"].timestamp()) is not None:
        drafts += _cancellation(order, placed.order_id, context.order_buyer or placed.person, cancelled_at, context)
    return drafts


def _dated(order_or_refund: JsonNode, context: _Context) -> datetime:
    """When an order or a refund took place: Shopify's `processed_at`, else when Shopify recorded it (`created_at`).

    They differ for an order imported from another platform or a point-of-sale sale synced late, whose
    `processed_at` is set in the past: dated when it was recorded, a sale of years ago would seem recent (and imply
    consent anew). Event ids do not depend on it, so a fact already ingested keeps its id. An app sets
    `processed_at`: one over a day ahead of the webhook (a year mistyped) is passed over for `created_at`, which
    Shopify sets, as it would date the sale, and the checkbox consent with it, in the future.
    """
    processed_at = order_or_refund["processed_at"].timestamp()
    if processed_at is not None and processed_at > context.received_at + FUTURE_TIME_ALLOWED:
        processed_at = None
    return processed_at or order_or_refund["created_at"].timestamp() or context.received_at


def _order_updated(order: JsonNode, context: _Context) -> list[Draft]:
    """Shopify sends `orders/updated` for every change to an order: fulfilment, note, tags, payment, refund,
    cancellation. Only what Parterre models becomes events, under the ids the topic of that very change gives them
    (`orders/paid`, `orders/cancelled`, `refunds/create`), so both deliveries of one change make one fact. A no the
    customer record does not date is the update's own: dated, and told, by when the order was updated."""
    reported_at = order["updated_at"].timestamp() or context.received_at
    undated_no = _Dating(reported_at, f"order/{order['id'].text()}@{reported_at.isoformat()}")
    drafts = _order_placed(order, context, undated_no=undated_no)
    placed = next((draft.data for draft in drafts if isinstance(draft.data, ShopOrderPlacedV1)), None)
    if placed is not None:
        buyer = context.order_buyer or buyer_reference(placed)
    elif order["test"].flag() or context.problems or context.order_buyer is None:
        # A test order, a sale naming nobody, or a payload with problems: its refunds are no one's either.
        return drafts
    else:
        # An order that no longer names anyone (staff removed its customer) is still its known buyer's, as its
        # `orders/cancelled` and `refunds/create` say.
        buyer = context.order_buyer
        if order["cancelled_at"].timestamp() is not None:
            drafts += _order_cancelled(order, context)
    money = _order_money(order)
    for refund in order["refunds"].elements():
        if refund.is_object(required=True):
            drafts += _refund(refund, buyer, context, money)
    return drafts


def _order_cancelled(order: JsonNode, context: _Context) -> list[Draft]:
    if order["test"].flag():
        return []
    order_id = order["id"].identifier(required=True)
    customer = order["customer"]
    # Staff may have changed the order's customer since, or removed it: the cancellation goes with the order to its
    # buyer, when known.
    person = context.order_buyer or _order_person(order, customer if customer.is_object() else None, context)
    cancelled_at = order["cancelled_at"].timestamp() or context.received_at
    if context.problems or person is None or order_id is None:
        return []
    return _cancellation(order, order_id, person, cancelled_at, context)


# What `ShopOrderCancelledV1.reason` holds (Shopify's own reasons are single words: `customer`, `fraud`…).
_MAX_CANCEL_REASON = 200


def _cut(text: str | None, most: int) -> str | None:
    return None if text is None else text[:most].rstrip() or None


def _cancellation(order: JsonNode, order_id: str, person: PersonRef, time: datetime, context: _Context) -> list[Draft]:
    """The cancellation of an order, one fact however often Shopify tells it (its id is the order's)."""
    cancelled = context.problems.validate(
        ShopOrderCancelledV1,
        # Cut to what the event holds rather than refused: the cancellation stands whatever its reason says.
        {"person": person, "order_id": order_id, "reason": _cut(order["cancel_reason"].text(), _MAX_CANCEL_REASON)},
        {"order_id": "id", "reason": "cancel_reason"},
        whole="$",
    )
    if cancelled is None:
        return []
    return [Draft(cancelled, ("shopify", "order-cancelled", order_id), time, subject=f"order/{order_id}")]


def _line(line: JsonNode, currency: str | None, language: Language) -> ShopOrderLine | None:
    problems = line.problems
    if not line.is_object(required=True):
        return None
    before = len(problems)
    sku = _sku(line)
    title = first_present(line["title"], line["name"]).text(required=True)
    quantity = line["quantity"].integer(required=True)
    price = line["price"].decimal(required=True)
    # A bad currency is reported once, at `currency`, not again for every line.
    if len(problems) > before or currency is None:
        return None
    return problems.validate(
        ShopOrderLine,
        {
            "sku": sku,
            "product_name": {language: title},
            "quantity": quantity,
            "unit_price": {"amount": price, "currency": currency},
        },
        {
            "sku": line["sku"].path,
            "product_name": line["title"].path,
            "quantity": line["quantity"].path,
            "unit_price.amount": line["price"].path,
            "unit_price.currency": "currency",
        },
        whole=line.path,
    )


def _currency(node: JsonNode) -> str | None:
    currency = node.text(required=True)
    if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isupper()):
        node.problems.add(node.path, "should be an ISO 4217 currency code such as CAD", "currency_invalid")
        return None
    return currency


def _sku(line: JsonNode) -> str | None:
    """The line's SKU; many shops leave SKUs empty, so the variant, then the product, then the line id stand in."""
    sku = line["sku"].text()
    if sku is not None:
        return sku
    for field in ("variant_id", "product_id", "id"):
        stand_in = line[field].identifier()
        if stand_in is not None:
            return f"{field.removesuffix('_id') or 'line'}:{stand_in}"
    line.problems.add(line["sku"].path, "the line has no sku, variant_id, product_id or id to name it", "missing")
    return None


def _order_person(order: JsonNode, customer: JsonNode | None, context: _Context) -> PersonRef | None:
    """The buyer: the customer record first, then what the order itself says (a guest checkout has no customer).
    None, and no problem, for a sale that names nobody (a walk-in sale at the shop's point of sale): there is no one to
    profile, and refusing the delivery would have Shopify retry it, then remove the webhook."""
    billing = order["billing_address"]
    nobody = JsonNode(None, "customer", context.problems)
    known = customer or nobody
    address = known["default_address"] if _apart(known["default_address"]).is_object() else billing
    places = _buyer_detail_places(order, known)
    person = _person(
        context,
        whole="customer",
        read_from=(known["default_address"], billing),
        external_id=known["id"],
        email=_first_readable("email", *places["email"]),
        phone=_first_readable("phone", *places["phone"]),
        first_name=_first_readable("first_name", *places["first_name"]),
        last_name=_first_readable("last_name", *places["last_name"]),
        address=address,
        locale=first_present(known["locale"], order["customer_locale"]),
        required=False,
    )
    if person is not None:
        # A detail given unreadably where another place gave it readably was still not taken: the shop should hear
        # of it, to mend that customer record, as of any detail left out.
        context.left_out.extend(
            error
            for name, nodes in places.items()
            for node in _passed_over(name, nodes)
            for error in _unreadable_as(name, node)
        )
    return person


def _customer_person(customer: JsonNode, context: _Context) -> PersonRef | None:
    address = customer["default_address"]
    read_from = [address]
    if not _apart(address).is_object():
        address = customer["addresses"][0]
        read_from.append(address)
    return _person(
        context,
        whole="$",
        read_from=read_from,
        external_id=customer["id"],
        email=customer["email"],
        phone=first_present(customer["phone"], address["phone"]),
        first_name=first_present(customer["first_name"], address["first_name"]),
        last_name=first_present(customer["last_name"], address["last_name"]),
        address=address,
        locale=customer["locale"],
    )


# The details a person can be known by, strongest first: identity links a Shopify customer by its id, else by the
# email (both can merge two known persons), else by the phone (which only links), else by the names; and the ids of
# consents and erasures, and the buyer a refund is kept for (`buyer_reference`), take the customer id, else the email.
_NAMING_DETAILS: tuple[tuple[str, ...], ...] = (("external_id",), ("email",), ("phone",), ("first_name", "last_name"))


def _person(
    context: _Context,
    *,
    whole: str,
    read_from: Sequence[JsonNode] = (),
    external_id: JsonNode,
    email: JsonNode,
    phone: JsonNode,
    first_name: JsonNode,
    last_name: JsonNode,
    address: JsonNode,
    locale: JsonNode,
    required: bool = True,
) -> PersonRef | None:
    """The person the details name, or None after noting why.

    The strongest detail given (see `_NAMING_DETAILS`) names the person: unreadable, it is refused, as leaving it out
    would give the facts to someone else, or to no one. Any other detail is only kept for the profile: unreadable, it
    is left out (noted in `context.left_out`) and the rest is kept, since refusing the delivery would lose the sale and
    its consent, and have Shopify retry it, then remove the webhook. So is an object the details are read from
    (`read_from`, an address) that is not an object. None, and no problem, for details that name nobody and are not
    `required`: see `_order_person`.
    """
    fields = {
        "external_id": external_id,
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "street": address["address1"],
        "address_2": address["address2"],
        "city": address["city"],
        "region": first_present(address["province_code"], address["province"]),
        "postal_code": address["zip"],
        "country": address["country_code"],
        "locale": locale,
    }
    origins = {name: node.where for name, node in fields.items()}
    values: dict[str, Any] = {"source": context.source}
    unreadable: dict[str, list[FieldError]] = {}
    for name, node in fields.items():
        apart = _apart(node)
        values[name] = apart.text()
        if apart.problems:
            unreadable[name] = apart.problems.errors
    if values["locale"] is not None:
        values["locale"] = normalise_locale(values["locale"])
    for name, errors in _invalid_details(values, origins).items():
        unreadable.setdefault(name, []).extend(errors)
    given = {name for name, node in fields.items() if not node.absent}
    naming = next((names for names in _NAMING_DETAILS if given.issuperset(names)), ())
    refused = [error for name in naming for error in unreadable.get(name, [])]
    for error in refused:
        context.problems.add(error.field, error.reason, error.code, fr=error.reason_fr)
    if refused:
        return None
    if not naming:
        if required:
            context.problems.add(
                whole, "names nobody: no customer id, email, phone, or first and last name", "person_unidentifiable"
            )
        return None
    readable = {name: value for name, value in values.items() if name not in unreadable}
    person = context.problems.validate(PersonRef, readable, origins, whole=whole)
    if person is not None:
        context.left_out.extend(_unreadable_objects(read_from))
        context.left_out.extend(error for errors in unreadable.values() for error in errors)
    return person


def _first_readable(name: str, *nodes: JsonNode) -> JsonNode:
    """The first of `nodes` that reads as the person's detail `name`, else the first holding a value (whose problem
    is then the one noted): an order says the buyer's email, phone and names in more than one place, and one place
    that cannot be read gives way to the next rather than leaving the detail out."""
    return next((node for node in nodes if not node.absent and _reads_as(name, node)), first_present(*nodes))


def _buyer_detail_places(order: JsonNode, customer: JsonNode) -> dict[str, tuple[JsonNode, ...]]:
    """Where an order says each of the buyer's details, the customer record first."""
    billing = order["billing_address"]
    return {
        "email": (customer["email"], order["email"], order["contact_email"]),
        "phone": (customer["phone"], order["phone"], billing["phone"]),
        "first_name": (customer["first_name"], billing["first_name"]),
        "last_name": (customer["last_name"], billing["last_name"]),
    }


def _passed_over(name: str, nodes: Sequence[JsonNode]) -> tuple[JsonNode, ...]:
    """The places giving the detail `name` unreadably that `_first_readable` passes over."""
    chosen = _first_readable(name, *nodes)
    return tuple(node for node in nodes[: nodes.index(chosen)] if not node.absent)


def _reads_as(name: str, node: JsonNode) -> bool:
    """Whether `node` holds a value a `PersonRef` takes as its detail `name`."""
    return _apart(node).text() is not None and not _unreadable_as(name, node)


def _unreadable_as(name: str, node: JsonNode) -> list[FieldError]:
    """Why a `PersonRef` cannot take what `node` holds as its detail `name`: nothing when it can, or holds nothing."""
    apart = _apart(node)
    text = apart.text()
    if apart.problems:
        return apart.problems.errors
    if text is None:
        return []
    return _invalid_details({name: text}, {name: node.where}).get(name, [])


def _apart(node: JsonNode) -> JsonNode:
    """`node` read apart from its payload: what is wrong with it is noted in its own `problems`, refusing nothing."""
    return JsonNode(node.value, node.path, Problems())


def _invalid_details(values: Mapping[str, Any], origins: Mapping[str, str]) -> dict[str, list[FieldError]]:
    """Why each detail `PersonRef` refuses is refused, by detail, under the JSON path it came from."""
    try:
        PersonRef.model_validate(values)
    except ValidationError as exc:
        invalid: dict[str, list[FieldError]] = {}
        for error in field_errors(exc):
            name = error.field.split(".", 1)[0]
            # The person as a whole (no one named) is `_person`'s to judge, not a detail to leave out.
            if name in origins:
                invalid.setdefault(name, []).append(error.model_copy(update={"field": origins[name]}))
        return invalid
    return {}


def _readable_locale(node: JsonNode) -> str | None:
    """The BCP 47 tag `node` gives, or None when it gives none a `PersonRef` would take."""
    text = _apart(node).text()
    if text is None:
        return None
    locale = normalise_locale(text)
    return None if _invalid_details({"locale": locale}, {"locale": node.where}) else locale


def _unreadable_objects(nodes: Sequence[JsonNode]) -> list[FieldError]:
    errors: list[FieldError] = []
    for node in nodes:
        apart = _apart(node)
        apart.is_object()
        errors += apart.problems.errors
    return errors


def _consents(
    person: PersonRef,
    customer: JsonNode,
    *,
    checkout_opt_in: bool | None,
    context: str,
    anchor: str,
    time: datetime,
    received_at: datetime,
    undated_no: "_Dating | None" = None,
    customer_unread: frozenset[str] = frozenset(),
    checkout_address_unread: bool = False,
) -> list[Draft]:
    """Consent the payload reports: Shopify's consent states, else the older checkout checkbox.

    `customer_unread`: the details (`email`, `phone`) `person` gives from a place found past one that could not be
    read: a yes the customer record states is for that address or number no one knows, not for the one given instead.
    `checkout_address_unread`: so for the checkout's checkbox, when the address typed there could not be read.

    Only clear statements become events: `subscribed` grants, `unsubscribed` withdraws; `not_subscribed`, `pending`
    (double opt-in not yet confirmed) and an unticked checkbox say nothing either way.
    """
    drafts: list[Draft] = []
    # A yes Shopify does not date is dated when the customer was created, not at this order or edit: Shopify keeps
    # reporting it unchanged after the patron unsubscribed elsewhere (in Mailchimp), and each report dated anew would
    # be taken for a consent given again after that withdrawal. A no it does not date keeps the report's date: the
    # later a withdrawal, the surer it wins. That is `time`, unless the report is later than its record (an order
    # updated since it was placed: `undated_no`).
    created_at = customer["created_at"].timestamp()
    customer_id = customer["id"].text()
    undated_yes = _Dating(
        created_at or time, f"customer/{customer_id}@created" if created_at and customer_id else anchor
    )
    undated_no = undated_no or _Dating(time, anchor)
    email_consent = customer["email_marketing_consent"]
    if email_consent.is_object():
        stated = _consent_state(
            person,
            email_consent,
            ConsentPurpose.MARKETING_EMAIL,
            context,
            yes=undated_yes,
            no=undated_no,
            received_at=received_at,
        )
        # A yes from someone who gave no address is no email consent either (see below); a no can only hold back.
        yes_has_an_address = person.email is not None and "email" not in customer_unread
        drafts += [draft for draft in stated if yes_has_an_address or not isinstance(draft.data, ConsentGrantedV1)]
    elif person.email is not None and (
        (customer["accepts_marketing"].flag() and "email" not in customer_unread)
        or (checkout_opt_in and not checkout_address_unread)
    ):
        # The deprecated flags say the box was ticked, not when: the checkout's checkbox was ticked at this order,
        # the customer record's at some time since it was created. Ticked by someone who gave no address, it is no
        # email consent: an address linked to them later would be mailed on a yes never given for it.
        flag = "buyer_accepts_marketing" if checkout_opt_in else "accepts_marketing"
        dating = _Dating(time, anchor) if checkout_opt_in else undated_yes
        granted = ConsentGrantedV1(
            person=person,
            purpose=ConsentPurpose.MARKETING_EMAIL,
            basis=LegalBasis.EXPRESS,
            wording_version=f"shopify:{flag}",
            captured_at=dating.at,
            evidence=f"Shopify {flag} was true on {context}"[:MAX_EVIDENCE],
        )
        drafts.append(Draft(granted, ("shopify", "consent", "marketing_email", "granted", dating.key), dating.at))
    sms_consent = customer["sms_marketing_consent"]
    if sms_consent.is_object():
        stated = _consent_state(
            person, sms_consent, ConsentPurpose.SMS, context, yes=undated_yes, no=undated_no, received_at=received_at
        )
        # As for email: a yes with no number (none given, or one left out unread) is a yes for a number never asked.
        yes_has_a_number = person.phone is not None and "phone" not in customer_unread
        drafts += [draft for draft in stated if yes_has_a_number or not isinstance(draft.data, ConsentGrantedV1)]
    return drafts


@dataclass(frozen=True)
class _Dating:
    """The date a consent Shopify does not date is given, and what its event id is keyed by instead."""

    at: datetime
    key: str


def _consent_state(
    person: PersonRef,
    consent: JsonNode,
    purpose: ConsentPurpose,
    context: str,
    *,
    yes: _Dating,
    no: _Dating,
    received_at: datetime,
) -> list[Draft]:
    state = consent["state"].text()
    if state not in {"subscribed", "unsubscribed"}:
        return []
    updated_raw = consent["consent_updated_at"].text()
    undated = yes if state == "subscribed" else no
    stated_at = consent["consent_updated_at"].timestamp()
    if stated_at is not None and stated_at > received_at + FUTURE_TIME_ALLOWED:
        # Apps may set the date (a year mistyped in an import): one ahead of the report is not believed, as ingest
        # refuses an event dated so. A yes dated ahead would outrank every withdrawal until that day.
        stated_at = None
    captured_at = stated_at or undated.at
    # Keyed by when the consent last changed, so the same consent seen through an order, its payment and a customer
    # update is one event; without that date, as `_consents` dates it.
    when = updated_raw if updated_raw and stated_at else undated.key
    person_key = person.external_id or (person.email or "").casefold()
    id_parts = ("shopify", "consent", purpose.value, state, person_key, when)
    level = (consent["opt_in_level"].text() or "unknown_opt_in_level")[:MAX_LABEL]
    collected_from = consent["consent_collected_from"].text()
    evidence = (
        f"Shopify {consent.path}: {state} ({level}"
        + (f", collected from {collected_from}" if collected_from else "")
        + f"), updated {updated_raw or 'at an unstated time'}; reported with {context}"
    )[:MAX_EVIDENCE]
    if state == "subscribed":
        granted = ConsentGrantedV1(
            person=person,
            purpose=purpose,
            basis=LegalBasis.EXPRESS,
            wording_version=f"shopify:{level}",
            captured_at=captured_at,
            evidence=evidence,
        )
        return [Draft(granted, id_parts, captured_at)]
    withdrawn = ConsentWithdrawnV1(person=person, purpose=purpose, captured_at=captured_at, evidence=evidence)
    return [Draft(withdrawn, id_parts, captured_at)]


def _customer_details(customer: JsonNode, context: _Context) -> list[Draft]:
    customer_id = customer["id"].identifier(required=True)
    person = _customer_person(customer, context)
    if context.problems or person is None:
        return []
    # Shopify sends the whole record without saying what changed: every detail it carries is current.
    changed = [name for name, value in person if name != "source" and value is not None]
    updated = PersonDetailsUpdatedV1.model_validate({"person": person, "changed_fields": changed})
    time = customer["updated_at"].timestamp() or customer["created_at"].timestamp() or context.received_at
    # Each edit is its own fact: two edits that end at the same details must not be taken for one redelivery, nor
    # two edits within one second (Shopify's `updated_at` has no finer grain) that end at different ones.
    details = content_digest(person.model_dump(mode="json"))
    updated_at = customer["updated_at"].text()
    version = updated_at or details
    edit = (updated_at, details) if updated_at else (details,)
    anchor = f"customer/{customer_id}"
    drafts = [Draft(updated, ("shopify", "customer", str(customer_id), *edit), time, subject=anchor)]
    drafts += _consents(
        person,
        customer,
        checkout_opt_in=None,
        context=f"customer {customer_id} as of {version}",
        anchor=f"{anchor}@{version}",
        time=time,
        received_at=context.received_at,
    )
    return drafts


def _privacy_subject(request: JsonNode, context: _Context) -> PersonRef | None:
    customer = request["customer"]
    if not customer.is_object(required=True):
        return None
    return _person(
        context,
        whole="customer",
        external_id=customer["id"],
        email=customer["email"],
        phone=customer["phone"],
        first_name=customer["first_name"],
        last_name=customer["last_name"],
        address=JsonNode(None, "customer.address", context.problems),
        locale=customer["locale"],
    )


def _order_ids(orders: JsonNode) -> list[str]:
    return [order_id for node in orders.elements() if (order_id := node.identifier(required=True)) is not None]


def _erasure_requested(request: JsonNode, context: _Context) -> list[Draft]:
    person = _privacy_subject(request, context)
    orders = _order_ids(request["orders_to_redact"])
    if context.problems or person is None:
        return []
    reason = (
        "Shopify customers/redact: the shop was asked to erase this customer's data"
        + (f" (orders {', '.join(orders)})" if orders else "")
    )[:MAX_EVIDENCE]
    erasure = PersonErasureRequestedV1(
        person=person,
        reason=reason,
        requested_by="shopify:customers/redact",
        # The request concerns what the shop holds; buying again later starts a new relationship, which may be kept.
        do_not_readd=False,
    )
    key = person.external_id or (person.email or "").casefold()
    return [Draft(erasure, ("shopify", "customers/redact", key, *sorted(orders)), context.received_at)]


def _access_requested(request: JsonNode, context: _Context) -> list[Draft]:
    person = _privacy_subject(request, context)
    request_id = request["data_request"]["id"].identifier(required=True)
    orders = _order_ids(request["orders_requested"])
    if context.problems or person is None or request_id is None:
        return []
    access = context.problems.validate(
        PrivacyAccessRequestedV1,
        {
            "person": person,
            "request_id": request_id,
            "requested_at": context.received_at,
            "requested_by": "shopify:customers/data_request",
            "order_ids": orders,
        },
        {"request_id": "data_request.id", "order_ids": "orders_requested"},
        whole="$",
    )
    if access is None:
        return []
    return [Draft(access, ("shopify", "customers/data_request", request_id), context.received_at)]


def _refunded(refund: JsonNode, context: _Context) -> list[Draft]:
    return _refund(refund, context.order_buyer, context, None)


def _refund(refund: JsonNode, buyer: PersonRef | None, context: _Context, order: "_OrderMoney | None") -> list[Draft]:
    """A refund, whether delivered alone (`refunds/create`) or within its `order` (`orders/updated`): one fact, whose
    id is the refund's. Without `buyer`, it stands for whoever placed its order until that order is known.

    It is told in the shop's currency, as its order is (see `_refunded_amount`): one paid back in the buyer's own
    currency is converted at its order's rate, which only `orders/updated` carries; its `refunds/create` is
    acknowledged and not published, so that both deliveries of the refund cannot tell it at two values.
    """
    transactions = [node for node in refund["transactions"].elements() if node.is_object()]
    if transactions and all(node["test"].flag() for node in transactions):
        # The refund of a test order (no event was made of it), paid back through the test gateway.
        return []
    paying_back = [node for node in transactions if node["kind"].text() == "refund" and not node["test"].flag()]
    problems = context.problems
    refund_id = refund["id"].identifier(required=True)
    order_id = refund["order_id"].identifier(required=True)
    if paying_back and all(node["status"].text() in _FAILED_TRANSACTION for node in paying_back):
        # Every payment back failed: no money moved. The lines' price would tell of a refund that did not happen; one
        # paid back later comes in the order's next update, under this refund's id.
        context.unpublished.append(
            Unpublished(
                "parterre.shop.order_refunded.v1",
                REFUND_NOT_PAID_BACK,
                f"refund {refund_id} of order {order_id}: every payment back failed, no money went back",
            )
        )
        return []
    valued = _refunded_amount(refund, order)
    line_skus = [sku for node in refund["refund_line_items"].elements() if (sku := _refunded_sku(node))]
    if problems or order_id is None:
        return []
    if isinstance(valued, _NotInShopMoney):
        context.unpublished.append(
            Unpublished(
                "parterre.shop.order_refunded.v1",
                REFUND_VALUED_WITH_ITS_ORDER if order is None else REFUND_CURRENCY_UNCONVERTIBLE,
                f"refund {refund_id} of order {order_id}: paid back in {valued.currency}, not the shop's "
                f"{valued.shop_currency}, "
                + (
                    "which only its order's rate converts: published from the order's orders/updated"
                    if order is None
                    else "and neither the order's total nor the refund's lines tell it in the shop's currency"
                ),
            )
        )
        return []
    amount, currency, amount_origin = valued
    refunded = problems.validate(
        ShopOrderRefundedV1,
        {
            "person": buyer or {"source": context.source, "external_id": _awaiting(order_id)},
            "order_id": order_id,
            "amount": {"amount": amount, "currency": currency},
            "line_skus": line_skus,
        },
        {
            "person": refund["order_id"].path,
            "order_id": refund["order_id"].path,
            "amount": amount_origin,
            "line_skus": refund["refund_line_items"].path,
        },
        whole=refund.where,
    )
    if refunded is None:
        return []
    time = _dated(refund, context)
    return [Draft(refunded, ("shopify", "refund", str(refund_id)), time, subject=f"order/{order_id}")]


def attributed_order_id(topic: str, payload: Mapping[str, Any]) -> str | None:
    """The order whose buyer a payload's events are attributed to, to find that buyer before reading it: the order a
    `refunds/create` refunds, or the one an order topic carries (its cancellation, if it says it was cancelled, goes
    to the buyer known from its first delivery); None for other topics."""
    match topic.strip().lower():
        case "refunds/create":
            return JsonNode.root(payload, Problems())["order_id"].identifier()
        case "orders/create" | "orders/paid" | "orders/updated" | "orders/cancelled":
            return JsonNode.root(payload, Problems())["id"].identifier()
    return None


def redacted_order_ids(topic: str, payload: Mapping[str, Any]) -> list[str]:
    """The orders a `customers/redact` payload names (`orders_to_redact`); empty for other topics."""
    if topic.strip().lower() != "customers/redact":
        return []
    return _order_ids(JsonNode.root(payload, Problems())["orders_to_redact"])


def buyer_reference(order: ShopOrderPlacedV1 | ShopOrderCancelledV1) -> PersonRef:
    """What a later refund of this order says of its buyer: the one strongest identifier the order gave.

    The customer id when there is one (identity links it exactly), else the email, else the phone, else the
    names. Only this is kept while the order may still be refunded, not the address or the rest.
    """
    person = order.person
    for strongest in ("external_id", "email", "phone"):
        value = getattr(person, strongest)
        if value is not None:
            return PersonRef.model_validate({"source": person.source, strongest: value})
    return PersonRef(source=person.source, first_name=person.first_name, last_name=person.last_name)


def awaits_its_order(envelope: Envelope) -> str | None:
    """The order id a refund waits for when its buyer was unknown as it was read, else None."""
    if envelope.type != "parterre.shop.order_refunded.v1":
        return None
    external_id = envelope.data.get("person", {}).get("external_id")
    if isinstance(external_id, str) and external_id == _awaiting(str(envelope.data.get("order_id"))):
        return str(envelope.data["order_id"])
    return None


def with_buyer(refund: Envelope, buyer: PersonRef) -> Envelope:
    """A refund that waited for its order, now attributed to the order's buyer; its id and content are unchanged."""
    data = {**refund.data, "person": buyer.model_dump(mode="json")}
    ShopOrderRefundedV1.model_validate(data)
    return refund.model_copy(update={"data": data})


def _awaiting(order_id: str) -> str:
    return f"{_AWAITING_ORDER_PREFIX}{order_id}"


def _refunded_sku(refund_line: JsonNode) -> str | None:
    if not refund_line.is_object():
        return None
    if refund_line["line_item"].is_object():
        return _sku(refund_line["line_item"])
    line_item_id = refund_line["line_item_id"].identifier(required=True)
    return None if line_item_id is None else f"line:{line_item_id}"


# A transaction's status when its gateway refused it or could not be reached (Shopify's `failure` and `error`).
_FAILED_TRANSACTION = frozenset({"failure", "error"})
# A refund transaction's status when its money went back (`success`) or is going back (`pending`: Shopify Payments
# pays it once the shop's balance allows). A pending one that succeeds later comes again under the same refund id,
# so it must count now or never.
_PAYING_BACK = frozenset({"success", "pending", None})


@dataclass(frozen=True)
class _OrderMoney:
    """What an order tells of its money: the shop's currency (`currency`), and its own exchange rate, its total in the
    buyer's currency and in the shop's (`total_price_set`), when it gives both."""

    shop_currency: str | None
    presentment_currency: str | None = None
    presentment_total: Decimal | None = None
    shop_total: Decimal | None = None

    def in_shop_money(self, amount: Decimal, currency: str) -> Decimal | None:
        """`amount` of the buyer's `currency` at the order's rate, to the cent; None without that rate."""
        if currency != self.presentment_currency or not self.presentment_total or self.shop_total is None:
            return None
        # Multiplied before dividing: the order's whole total paid back is its shop total exactly, so an order
        # refunded in full is not seen as partly kept.
        return (amount * self.shop_total / self.presentment_total).quantize(_CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class _NotInShopMoney:
    """A refund paid back in `currency` that cannot be told in the shop's `shop_currency` from what was delivered."""

    currency: str
    shop_currency: str


_CENT = Decimal("0.01")


def _order_money(order: JsonNode) -> _OrderMoney:
    # Read apart: an order's own money is checked where it is placed, not again for each of its refunds.
    total = order["total_price_set"]
    shop, presented = total["shop_money"], total["presentment_money"]
    shop_currency = _apart(order["currency"]).text()
    if _apart(shop["currency_code"]).text() != shop_currency:
        return _OrderMoney(shop_currency)
    return _OrderMoney(
        shop_currency,
        presentment_currency=_apart(presented["currency_code"]).text(),
        presentment_total=_apart(presented["amount"]).decimal(),
        shop_total=_apart(shop["amount"]).decimal(),
    )


def _refund_shop_currency(refund: JsonNode) -> str | None:
    """The shop's currency, as a refund delivered alone tells it: the `shop_money` of its lines or of its totals."""
    sets = [
        line[part]
        for line in refund["refund_line_items"].elements()
        for part in ("subtotal_set", "total_tax_set")
        if line.is_object()
    ]
    sets += [refund["total_duties_set"], refund["total_additional_fees_set"]]
    return next((code for node in sets if (code := _apart(node["shop_money"]["currency_code"]).text())), None)


def _refunded_amount(refund: JsonNode, order: _OrderMoney | None) -> tuple[Decimal, str | None, str] | _NotInShopMoney:
    """What went back to the buyer, in the shop's currency: the refund transactions paid or being paid back
    (`success`, `pending`), else, when there is none at all, the refunded lines' price and tax (their `shop_money`).

    An order and its refunds are told in one currency, the shop's (the organisation's, which spend totals assume),
    as the order's `total_price` and line prices are: a profile subtracts one from the other. A transaction's
    `amount` is in the buyer's (presentment) currency, which Shopify Markets lets differ from the shop's. It is taken
    as is when it is the shop's currency (or when the refund states no shop money at all, as payloads before
    multi-currency did); in the shop's money the transaction gives (`amount_set.shop_money`) when it gives it; else
    converted at the order's own rate, its `total_price_set` in both currencies, which `orders/updated` carries; else,
    within its order without that rate, told by the refunded lines' `shop_money`. Otherwise it cannot be told in the
    shop's money here, and is never told in another: `_NotInShopMoney`.
    """
    problems = refund.problems
    paid_back = [
        node
        for node in refund["transactions"].elements()
        if node.is_object()
        and node["kind"].text() == "refund"
        and node["status"].text() in _PAYING_BACK
        # Paid back through the test gateway: no money moved.
        and not node["test"].flag()
    ]
    shop_currency = order.shop_currency if order is not None else _refund_shop_currency(refund)
    # Read once, and only when needed: a line's price is no part of a refund its transactions tell.
    lines: list[tuple[Decimal, str | None]] | None = None
    if paid_back:
        # Shopify's own example of this webhook gives its transactions a null currency: what they paid back is in the
        # currency the buyer paid in, which the refund's money sets present.
        stated = refund["total_duties_set"]["presentment_money"]["currency_code"].value
        presented = (stated.strip() or None) if isinstance(stated, str) else None
        amounts: list[Decimal] = []
        currencies: set[str] = set()
        unconverted: _NotInShopMoney | None = None
        for node in paid_back:
            given = node["amount_set"]["shop_money"]
            if given.is_object():
                amount = given["amount"].decimal(required=True)
                currency = given["currency_code"].text(required=True)
            else:
                amount = node["amount"].decimal(required=True)
                currency = node["currency"].text(required=presented is None) or presented
            if amount is None or currency is None:
                continue
            if shop_currency is None or currency == shop_currency:
                amounts.append(amount)
                currencies.add(currency)
            elif order is not None and (converted := order.in_shop_money(amount, currency)) is not None:
                amounts.append(converted)
                currencies.add(shop_currency)
            else:
                unconverted = _NotInShopMoney(currency, shop_currency)
                break
        if unconverted is None:
            if len(currencies) > 1:
                problems.add(
                    refund["transactions"].path,
                    f"refund transactions mix currencies: {sorted(currencies)}",
                    "mixed_currency",
                )
            return sum(amounts, Decimal(0)), next(iter(currencies), None), paid_back[0]["amount"].path
        lines = _priced_lines(refund)
        if order is None or not lines:
            return unconverted
    if lines is None:
        lines = _priced_lines(refund)
    total = sum((amount for amount, _ in lines), Decimal(0))
    currency = next((code for _, code in lines if code), None)
    if currency is None:
        problems.add(
            refund["transactions"].path,
            "no refund transaction paid or being paid back and no priced refund line: the amount and its currency "
            "are unknown",
            "missing",
            fr="aucune transaction de remboursement versée ou en cours de versement ni ligne remboursée avec son "
            "prix : le montant et sa devise sont inconnus",
        )
    return total, currency, refund["refund_line_items"].path


def _priced_lines(refund: JsonNode) -> list[tuple[Decimal, str | None]]:
    """The refunded lines' subtotal and tax in the shop's money, each with its currency."""
    priced: list[tuple[Decimal, str | None]] = []
    for line in refund["refund_line_items"].elements():
        if not line.is_object():
            continue
        for part in ("subtotal_set", "total_tax_set"):
            money = line[part]["shop_money"]
            amount = money["amount"].decimal()
            if amount is not None:
                priced.append((amount, money["currency_code"].text()))
    return priced


def _shop_redaction(request: JsonNode, context: _Context) -> list[Draft]:
    shop_id = request["shop_id"].identifier(required=True)
    domain = request["shop_domain"].text()
    if context.problems or shop_id is None:
        return []
    redaction = context.problems.validate(
        SourceRedactionRequestedV1,
        {
            "source": context.source,
            "upstream_account_id": shop_id,
            "upstream_account_name": domain[:MAX_LABEL] if domain else None,
            "requested_at": context.received_at,
            "requested_by": "shopify:shop/redact",
            "reason": "Shopify shop/redact: the shop uninstalled the app and asks that its data be erased",
        },
        {"upstream_account_id": "shop_id", "upstream_account_name": "shop_domain"},
        whole="$",
    )
    if redaction is None:
        return []
    # One request per shop: Shopify's retries, and a repeat after a reinstall and a new uninstall, are one fact.
    return [Draft(redaction, ("shopify", "shop/redact", shop_id), context.received_at, subject=f"shop/{shop_id}")]


_READERS: dict[str, _TopicReader] = {
    "orders/create": _order_placed,
    "orders/paid": _order_placed,
    "orders/updated": _order_updated,
    "orders/cancelled": _order_cancelled,
    "refunds/create": _refunded,
    "customers/create": _customer_details,
    "customers/update": _customer_details,
    "customers/redact": _erasure_requested,
    "customers/data_request": _access_requested,
    "shop/redact": _shop_redaction,
}
SUPPORTED_TOPICS = tuple(_READERS)


def reads_topic(topic: str) -> bool:
    """Whether Parterre reads this Shopify topic; the events of any other say nothing it models."""
    return topic.strip().lower() in _READERS
