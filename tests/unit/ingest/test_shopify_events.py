"""Shopify webhooks become shared events: orders, refunds, customers, consent and privacy requests."""

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest.domain.errors import AdapterError
from services.ingest.domain.shopify import (
    SUPPORTED_TOPICS,
    ShopifyReading,
    attributed_order_id,
    awaits_its_order,
    buyer_reference,
    read_shopify_webhook,
    reads_topic,
    redacted_order_ids,
    with_buyer,
)
from shared.events import (
    ConsentGrantedV1,
    ConsentPurpose,
    ConsentWithdrawnV1,
    Envelope,
    LegalBasis,
    PersonDetailsUpdatedV1,
    PersonErasureRequestedV1,
    PersonRef,
    PrivacyAccessRequestedV1,
    ShopOrderCancelledV1,
    ShopOrderPlacedV1,
    ShopOrderRefundedV1,
    SourceRedactionRequestedV1,
    parse_data,
)
from tests.unit.ingest.vendor_fixtures import ORGANISATION, RECEIVED_AT, shopify_payload, types_of

SOURCE = "nord-shopify"
Mutation = Callable[[dict[str, Any]], None]


def events(topic: str, payload: dict[str, Any], *, order_buyer: PersonRef | None = None) -> list[Envelope]:
    return read_shopify_webhook(
        topic, payload, organisation_id=ORGANISATION, source=SOURCE, received_at=RECEIVED_AT, order_buyer=order_buyer
    ).events


def events_or_error(topic: str, payload: dict[str, Any]) -> list[Envelope] | AdapterError:
    try:
        return events(topic, payload)
    except AdapterError as exc:
        return exc


def order_placed(payload: dict[str, Any]) -> ShopOrderPlacedV1:
    placed = parse_data(events("orders/create", payload)[0])
    assert isinstance(placed, ShopOrderPlacedV1)
    return placed


def test_a_new_order_becomes_an_order_placed_with_its_lines_total_and_buyer() -> None:
    envelopes = events("orders/create", shopify_payload("orders-create"))

    placed = parse_data(envelopes[0])
    assert isinstance(placed, ShopOrderPlacedV1)
    assert placed.order_id == "5512345678901"
    assert [(line.sku, line.quantity, line.unit_price.amount) for line in placed.lines] == [
        ("PROG-BS-2026", 2, Decimal("8.00")),
        ("LIV-TREMBLAY-BS", 1, Decimal("17.95")),
        ("variant:44100000003", 1, Decimal("25.00")),
    ]
    assert placed.lines[1].product_name.fr == "Les Belles-sœurs (texte intégral)"
    assert placed.total.amount == Decimal("67.78")
    assert placed.total.currency == "CAD"
    person = placed.person
    assert (person.source, person.external_id, person.email) == (SOURCE, "7012345678", "helene.damours@example.ca")
    assert (person.first_name, person.last_name) == ("Hélène", "D'Amours")
    assert (person.street, person.address_2, person.city) == ("4521, rue Saint-Denis", "app. 3", "Montréal")
    assert (person.region, person.postal_code, person.country, person.locale) == ("QC", "H2J 2L1", "CA", "fr-CA")


def test_the_envelope_of_an_order_says_where_and_when_it_happened_upstream() -> None:
    envelope = events("orders/create", shopify_payload("orders-create"))[0]

    assert envelope.type == "parterre.shop.order_placed.v1"
    assert envelope.source == f"/orgs/{ORGANISATION}/sources/{SOURCE}"
    assert envelope.organisation_id == ORGANISATION
    # Its `processed_at`, one second before Shopify recorded it (`created_at`).
    assert envelope.time == datetime.fromisoformat("2026-10-01T14:31:07-04:00")
    assert envelope.ingested_at == RECEIVED_AT
    assert envelope.subject == "order/5512345678901"


def test_a_buyer_subscribed_to_email_marketing_also_gives_express_consent() -> None:
    envelopes = events("orders/create", shopify_payload("orders-create"))

    assert types_of(envelopes) == ["parterre.shop.order_placed.v1", "parterre.consent.granted.v1"]
    consent = parse_data(envelopes[1])
    assert isinstance(consent, ConsentGrantedV1)
    assert (consent.purpose, consent.basis) == (ConsentPurpose.MARKETING_EMAIL, LegalBasis.EXPRESS)
    assert consent.captured_at == datetime.fromisoformat("2026-03-14T10:02:11-04:00")
    assert consent.wording_version == "shopify:confirmed_opt_in"
    assert consent.evidence is not None
    assert "#1042" in consent.evidence
    assert consent.person.external_id == "7012345678"


def test_order_created_and_order_paid_for_one_order_are_the_same_events() -> None:
    created = events("orders/create", shopify_payload("orders-create"))
    paid = events("orders/paid", shopify_payload("orders-paid"))

    assert [envelope.id for envelope in created] == [envelope.id for envelope in paid]


def test_a_replayed_webhook_gives_identical_events() -> None:
    first = events("orders/create", shopify_payload("orders-create"))
    again = events("orders/create", shopify_payload("orders-create"))

    assert first == again


def test_two_orders_never_share_an_event_id() -> None:
    other = shopify_payload("orders-create")
    other["id"] = 5512345670000

    assert events("orders/create", other)[0].id != events("orders/create", shopify_payload("orders-create"))[0].id


def test_a_customer_without_email_is_known_by_id_and_phone_and_gives_no_email_consent() -> None:
    envelopes = events("orders/create", shopify_payload("orders-create-no-email"))

    placed = parse_data(envelopes[0])
    assert isinstance(placed, ShopOrderPlacedV1)
    assert placed.person.email is None
    assert (placed.person.external_id, placed.person.phone) == ("7012349999", "+14185550177")
    assert (placed.person.first_name, placed.person.last_name) == ("Jean-François", "Côté")
    # The SMS consent in the customer record is a clear opt-in; no email consent is claimed.
    assert types_of(envelopes) == ["parterre.shop.order_placed.v1", "parterre.consent.granted.v1"]
    sms = parse_data(envelopes[1])
    assert isinstance(sms, ConsentGrantedV1)
    assert sms.purpose is ConsentPurpose.SMS


def test_lines_without_a_sku_are_named_by_their_variant_then_their_product() -> None:
    placed = order_placed(shopify_payload("orders-create-no-email"))

    assert [line.sku for line in placed.lines] == ["variant:44100000010", "product:9100000011"]


def test_a_guest_checkout_without_customer_record_is_known_by_the_order_email_and_billing_name() -> None:
    payload = shopify_payload("orders-create")
    billing = payload["billing_address"]
    payload["customer"] = None

    placed = order_placed(payload)

    assert placed.person.external_id is None
    assert placed.person.email == "helene.damours@example.ca"
    assert (placed.person.first_name, placed.person.city) == (billing["first_name"], billing["city"])


@pytest.mark.parametrize(
    ("locale", "language"),
    [("fr-CA", "fr"), ("fr", "fr"), ("en-CA", "en"), ("es", "en"), (None, "en")],
)
def test_line_titles_are_in_the_buyers_language_and_in_english_when_it_is_unknown(
    locale: str | None, language: str
) -> None:
    payload = shopify_payload("orders-create")
    payload["customer_locale"] = locale

    title = order_placed(payload).lines[0].product_name

    assert title.model_dump(exclude_none=True) == {language: "Programme de soirée — Les Belles-sœurs"}


def test_the_old_checkout_checkbox_grants_consent_when_the_customer_has_no_consent_record() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["email_marketing_consent"] = None

    envelopes = events("orders/create", payload)

    consent = parse_data(envelopes[1])
    assert isinstance(consent, ConsentGrantedV1)
    assert consent.wording_version == "shopify:buyer_accepts_marketing"
    assert consent.captured_at == envelopes[0].time


@pytest.mark.parametrize("state", ["not_subscribed", "pending", "invalid", "redacted"])
def test_a_consent_state_that_is_not_a_clear_yes_or_no_gives_no_consent_event(state: str) -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["email_marketing_consent"]["state"] = state

    assert types_of(events("orders/create", payload)) == ["parterre.shop.order_placed.v1"]


def test_an_unparseable_order_time_falls_back_to_the_time_of_receipt() -> None:
    payload = shopify_payload("orders-create")
    payload["created_at"] = "le 1er octobre"
    payload["processed_at"] = None

    assert events("orders/create", payload)[0].time == RECEIVED_AT


def test_unexpected_extra_fields_are_ignored() -> None:
    payload = shopify_payload("orders-create")
    payload["x_new_shopify_field"] = {"anything": [1, 2, 3]}
    payload["line_items"][0]["x_bundle"] = True

    assert events("orders/create", payload) == events("orders/create", shopify_payload("orders-create"))


def test_a_refund_names_its_order_the_amount_paid_back_and_the_refunded_skus() -> None:
    envelopes = events("refunds/create", shopify_payload("refunds-create"))

    assert types_of(envelopes) == ["parterre.shop.order_refunded.v1"]
    refunded = parse_data(envelopes[0])
    assert isinstance(refunded, ShopOrderRefundedV1)
    assert refunded.order_id == "5512345678901"
    assert (refunded.amount.amount, refunded.amount.currency) == (Decimal("20.64"), "CAD")
    assert refunded.line_skus == ["LIV-TREMBLAY-BS"]
    assert envelopes[0].time == datetime.fromisoformat("2026-10-06T09:12:44-04:00")


@pytest.mark.parametrize("topic", ["orders/create", "orders/paid", "orders/updated", "orders/cancelled"])
def test_a_test_order_is_no_sale_and_gives_no_event(topic: str) -> None:
    # Shopify's Order resource: `test` says whether the order was placed in test mode (its Bogus Gateway).
    order = {**shopify_payload("orders-create"), "test": True}

    assert events(topic, order) == []
    assert events(topic, {**order, "test": False}) != []


def test_a_cancelled_order_becomes_an_order_cancelled_by_its_buyer_at_its_cancellation_time() -> None:
    [envelope] = events("orders/cancelled", shopify_payload("orders-cancelled"))

    cancelled = parse_data(envelope)
    assert isinstance(cancelled, ShopOrderCancelledV1)
    assert (cancelled.order_id, cancelled.reason) == ("5512345678901", "customer")
    assert (cancelled.person.external_id, cancelled.person.email) == ("7012345678", "helene.damours@example.ca")
    assert envelope.type == "parterre.shop.order_cancelled.v1"
    assert envelope.time == datetime.fromisoformat("2026-10-03T09:12:44-04:00")


def test_a_cancellation_reason_longer_than_the_event_holds_is_cut_and_the_cancellation_kept() -> None:
    order = {**shopify_payload("orders-cancelled"), "cancel_reason": "Annulée par le client : " + "x" * 300}

    [envelope] = events("orders/cancelled", order)

    cancelled = parse_data(envelope)
    assert isinstance(cancelled, ShopOrderCancelledV1)
    assert cancelled.reason == ("Annulée par le client : " + "x" * 300)[:200]


def test_a_cancellation_told_again_is_one_fact_and_never_the_orders_placement() -> None:
    cancelled = events("orders/cancelled", shopify_payload("orders-cancelled"))
    placed = events("orders/create", shopify_payload("orders-create"))

    assert cancelled == events("orders/cancelled", shopify_payload("orders-cancelled"))
    assert {envelope.id for envelope in cancelled}.isdisjoint(envelope.id for envelope in placed)


def test_an_order_delivered_after_its_cancellation_gives_its_placement_and_the_same_cancellation() -> None:
    # `orders/paid` or a replay may come after `orders/cancelled`: the order it carries says it was cancelled.
    order = {**shopify_payload("orders-cancelled")}
    cancellation = events("orders/cancelled", order)

    envelopes = events("orders/paid", order)

    assert types_of(envelopes)[0] == "parterre.shop.order_placed.v1"
    assert [envelope for envelope in envelopes if envelope.type == "parterre.shop.order_cancelled.v1"] == cancellation
    assert "parterre.shop.order_cancelled.v1" not in types_of(events("orders/paid", shopify_payload("orders-paid")))


def test_a_cancellation_without_its_time_is_dated_when_it_was_received() -> None:
    [envelope] = events("orders/cancelled", {**shopify_payload("orders-cancelled"), "cancelled_at": None})

    assert envelope.time == RECEIVED_AT


def test_a_cancellation_without_its_order_id_is_refused_naming_it() -> None:
    order = shopify_payload("orders-cancelled")
    del order["id"]

    with pytest.raises(AdapterError) as caught:
        events("orders/cancelled", order)

    assert [error.field for error in caught.value.errors] == ["id"]


def test_the_refund_of_a_test_order_gives_no_event() -> None:
    refund = shopify_payload("refunds-create")
    tested = {**refund, "transactions": [{**item, "test": True} for item in refund["transactions"]]}

    assert events("refunds/create", tested) == []
    assert refund["transactions"]
    assert events("refunds/create", refund) != []


def test_a_test_transaction_in_a_real_refund_is_not_counted_as_paid_back() -> None:
    refund = shopify_payload("refunds-create")
    real = refund["transactions"][0]
    tested = {**real, "id": 66002, "gateway": "bogus", "test": True, "amount": "100.00"}

    [envelope] = events("refunds/create", {**refund, "transactions": [real, tested]})

    assert envelope.data["amount"]["amount"] == "20.64"


@pytest.mark.parametrize("status", ["failure", "error"])
def test_a_refund_whose_payments_back_all_failed_tells_no_money_paid_back(status: str) -> None:
    refund = shopify_payload("refunds-create")
    failed = [{**item, "status": status} for item in refund["transactions"]]
    retried = {**refund["transactions"][0], "id": 66003, "status": "success"}

    assert events("refunds/create", {**refund, "transactions": failed}) == []
    # Paid back at the second try: the same refund, now with money moved.
    [envelope] = events("refunds/create", {**refund, "transactions": [*failed, retried]})
    assert envelope.data["amount"]["amount"] == "20.64"


def _paying_back(refund: dict[str, Any], status: str, amount: str) -> dict[str, Any]:
    """The refund paid back through one transaction of `status` and `amount`."""
    return {**refund, "transactions": [{**refund["transactions"][0], "status": status, "amount": amount}]}


def test_a_refund_of_an_amount_alone_being_paid_back_is_told_at_that_amount_not_refused() -> None:
    # Shopify Payments pays a refund back later when the shop's balance is too low: its transaction is `pending`.
    # Refused, the delivery would be retried until Shopify dropped the webhook.
    goodwill = {**shopify_payload("refunds-create"), "refund_line_items": []}

    [envelope] = events("refunds/create", _paying_back(goodwill, "pending", "10.00"))

    assert envelope.data["amount"] == {"amount": "10.00", "currency": "CAD"}
    assert envelope.data["line_skus"] == []


def test_a_refund_of_a_line_being_paid_back_less_a_fee_is_told_at_the_money_going_back_as_when_it_succeeds() -> None:
    # A restocking fee kept: the line is refunded, $10 of its $20.64 goes back. When the payment succeeds, the same
    # refund comes again (`orders/updated`) under its id, and is taken for a repeat: it must be right the first time.
    refund = shopify_payload("refunds-create")
    order = shopify_payload("orders-updated")

    pending = events("refunds/create", _paying_back(refund, "pending", "10.00"))
    succeeded = events("orders/updated", {**order, "refunds": [_paying_back(refund, "success", "10.00")]})

    [envelope] = pending
    assert envelope.data["amount"] == {"amount": "10.00", "currency": "CAD"}
    [paid] = [envelope for envelope in succeeded if envelope.type == "parterre.shop.order_refunded.v1"]
    assert (paid.id, paid.data["amount"]) == (envelope.id, envelope.data["amount"])


@pytest.mark.parametrize("topic", ["refunds/create", "orders/updated"])
def test_a_refund_whose_payments_back_all_failed_is_acknowledged_unpublished_saying_why(topic: str) -> None:
    refund = shopify_payload("refunds-create")
    failed = {**refund, "transactions": [{**refund["transactions"][0], "status": "failure"}]}
    payload = failed if topic == "refunds/create" else {**shopify_payload("orders-updated"), "refunds": [failed]}

    reading = read_shopify_webhook(topic, payload, organisation_id=ORGANISATION, source=SOURCE, received_at=RECEIVED_AT)

    assert "parterre.shop.order_refunded.v1" not in types_of(reading.events)
    [unpublished] = reading.unpublished
    assert (unpublished.event_type, unpublished.reason) == ("parterre.shop.order_refunded.v1", "refund_not_paid_back")
    assert "9900123456" in unpublished.about
    assert "5512345678901" in unpublished.about


def _refund_in_dollars(amount: str) -> dict[str, Any]:
    """The refund of `refunds-create.json` paid back in US dollars, the buyer's currency, by a shop selling in Canadian
    dollars (Shopify Markets): every `presentment_money` in USD, every `shop_money` in CAD as before."""
    refund = shopify_payload("refunds-create")
    for total in ("total_duties_set", "total_additional_fees_set"):
        refund[total]["presentment_money"]["currency_code"] = "USD"
    [line] = refund["refund_line_items"]
    line["subtotal_set"]["presentment_money"] = {"amount": "13.24", "currency_code": "USD"}
    line["total_tax_set"]["presentment_money"] = {"amount": "1.98", "currency_code": "USD"}
    refund["transactions"] = [{**refund["transactions"][0], "amount": amount, "currency": "USD"}]
    return refund


def _order_in_dollars(*refunds: dict[str, Any]) -> dict[str, Any]:
    """The order of `orders-updated.json` as the buyer paid it in US dollars: 67.78 CAD to the shop, 50.00 USD."""
    order = shopify_payload("orders-updated")
    order["presentment_currency"] = "USD"
    order["total_price_set"]["presentment_money"] = {"amount": "50.00", "currency_code": "USD"}
    order["refunds"] = list(refunds)
    return order


def refunds_of(envelopes: list[Envelope]) -> list[dict[str, Any]]:
    return [envelope.data for envelope in envelopes if envelope.type == "parterre.shop.order_refunded.v1"]


def test_an_order_paid_back_in_full_in_the_buyers_currency_is_refunded_its_whole_total_in_the_shops() -> None:
    # Summed against the order's 67.78 CAD, a refund told as 50.00 USD would leave the order partly kept, and a
    # purchase implying consent for two years.
    envelopes = events("orders/updated", _order_in_dollars(_refund_in_dollars("50.00")))

    [placed] = [envelope.data for envelope in envelopes if envelope.type == "parterre.shop.order_placed.v1"]
    [refunded] = refunds_of(envelopes)
    assert refunded["amount"] == placed["total"] == {"amount": "67.78", "currency": "CAD"}


def test_a_refund_in_the_buyers_currency_is_converted_at_the_orders_own_rate_to_the_cent() -> None:
    [refunded] = refunds_of(events("orders/updated", _order_in_dollars(_refund_in_dollars("10.00"))))

    # 10.00 USD x 67.78 CAD / 50.00 USD = 13.556 CAD.
    assert refunded["amount"] == {"amount": "13.56", "currency": "CAD"}


def test_a_refund_in_the_buyers_currency_delivered_alone_waits_for_its_order_to_be_told_once_at_one_value() -> None:
    # `refunds/create` carries no rate; told by its lines (20.64 CAD), it would be taken for the same refund its
    # order's update tells at 13.56 CAD, whichever came first.
    refund = _refund_in_dollars("10.00")

    alone = read_shopify_webhook(
        "refunds/create", refund, organisation_id=ORGANISATION, source=SOURCE, received_at=RECEIVED_AT
    )
    with_its_order = events("orders/updated", _order_in_dollars(refund))

    assert alone.events == []
    [unpublished] = alone.unpublished
    assert (unpublished.event_type, unpublished.reason) == (
        "parterre.shop.order_refunded.v1",
        "refund_valued_with_its_order",
    )
    assert "USD" in unpublished.about
    assert "CAD" in unpublished.about
    assert [refunded["amount"] for refunded in refunds_of(with_its_order)] == [{"amount": "13.56", "currency": "CAD"}]


def test_a_refund_transaction_giving_its_shop_money_is_told_in_it_wherever_it_is_delivered() -> None:
    refund = _refund_in_dollars("10.00")
    refund["transactions"][0]["amount_set"] = {
        "shop_money": {"amount": "13.55", "currency_code": "CAD"},
        "presentment_money": {"amount": "10.00", "currency_code": "USD"},
    }

    [alone] = events("refunds/create", refund)
    [refunded] = refunds_of(events("orders/updated", _order_in_dollars(refund)))

    assert alone.data["amount"] == refunded["amount"] == {"amount": "13.55", "currency": "CAD"}


def test_an_order_without_its_rate_tells_a_refund_in_the_buyers_currency_by_its_lines_or_not_at_all() -> None:
    rateless = _order_in_dollars(_refund_in_dollars("10.00"))
    del rateless["total_price_set"]
    amount_alone = _refund_in_dollars("10.00")
    amount_alone["refund_line_items"] = []

    [by_its_lines] = refunds_of(events("orders/updated", rateless))
    reading = read_shopify_webhook(
        "orders/updated",
        {**rateless, "refunds": [amount_alone]},
        organisation_id=ORGANISATION,
        source=SOURCE,
        received_at=RECEIVED_AT,
    )

    assert by_its_lines["amount"] == {"amount": "20.64", "currency": "CAD"}
    assert refunds_of(reading.events) == []
    assert [unpublished.reason for unpublished in reading.unpublished] == ["refund_currency_unconvertible"]


def test_a_refund_without_any_transaction_is_told_by_its_lines_price() -> None:
    refund = {**shopify_payload("refunds-create"), "transactions": []}

    [envelope] = events("refunds/create", refund)

    assert envelope.data["amount"] == {"amount": "20.64", "currency": "CAD"}


def test_a_refund_telling_no_amount_is_refused_saying_so_in_both_languages() -> None:
    refund = {**shopify_payload("refunds-create"), "transactions": [], "refund_line_items": []}

    with pytest.raises(AdapterError) as caught:
        events("refunds/create", refund)

    [error] = caught.value.errors
    assert error.reason.startswith("no refund transaction paid or being paid back and no priced refund line")
    assert error.reason_fr.startswith("aucune transaction de remboursement versée ou en cours de versement ni ligne")


@pytest.mark.parametrize("amount", ["1e1000000", "1000000000000000", "9" * 5000])
def test_a_refund_amount_no_money_can_be_is_refused_naming_it_not_a_crash(amount: str) -> None:
    refund = shopify_payload("refunds-create")
    refund["transactions"] = [{**refund["transactions"][0], "amount": amount}, refund["transactions"][0]]

    with pytest.raises(AdapterError) as caught:
        events("refunds/create", refund)

    [error] = caught.value.errors
    assert (error.field, error.code) == ("transactions.0.amount", "number_too_large")
    assert "too large to be an amount" in error.reason
    assert "trop grand pour être un montant" in error.reason_fr
    assert len(error.reason) < 120


def test_a_quantity_of_thousands_of_digits_is_refused_naming_it_not_a_crash() -> None:
    order = shopify_payload("orders-create")
    order["line_items"][0]["quantity"] = "9" * 5000

    with pytest.raises(AdapterError) as caught:
        events("orders/create", order)

    [error] = caught.value.errors
    assert (error.field, error.code) == ("line_items.0.quantity", "number_too_large")
    assert "more than 18 digits" in error.reason
    assert "plus de 18 chiffres" in error.reason_fr


def test_a_quantity_written_as_a_float_of_a_whole_number_is_read_and_one_with_decimals_named() -> None:
    order = shopify_payload("orders-create")
    order["line_items"][0]["quantity"] = 2.0
    halved = copy.deepcopy(order)
    halved["line_items"][0]["quantity"] = 2.5

    placed = order_placed(order)
    with pytest.raises(AdapterError) as caught:
        events("orders/create", halved)

    assert placed.lines[0].quantity == 2
    [error] = caught.value.errors
    assert error.reason == "should be a whole number, not a number with decimals"


def test_a_refund_whose_transactions_state_no_currency_is_in_the_currency_the_refund_presents() -> None:
    # As Shopify's own example of the refunds/create webhook has them (shopify.dev, webhook reference): `null`.
    refund = shopify_payload("refunds-create")
    refund["transactions"] = [{**item, "currency": None} for item in refund["transactions"]]

    refunded = parse_data(events("refunds/create", refund)[0])
    del refund["total_duties_set"]
    with pytest.raises(AdapterError) as caught:
        events("refunds/create", refund)

    assert isinstance(refunded, ShopOrderRefundedV1)
    assert (refunded.amount.amount, refunded.amount.currency) == (Decimal("20.64"), "CAD")
    assert [error.field for error in caught.value.errors] == ["transactions.0.currency"]


def test_a_refund_read_without_its_orders_buyer_awaits_that_order() -> None:
    refund = events("refunds/create", shopify_payload("refunds-create"))[0]

    assert attributed_order_id("refunds/create", shopify_payload("refunds-create")) == "5512345678901"
    assert awaits_its_order(refund) == "5512345678901"


def test_a_refund_is_the_same_persons_as_its_order_by_the_orders_customer_id() -> None:
    placed = order_placed(shopify_payload("orders-create"))
    buyer = buyer_reference(placed)

    refund = events("refunds/create", shopify_payload("refunds-create"), order_buyer=buyer)[0]

    refunded = parse_data(refund)
    assert isinstance(refunded, ShopOrderRefundedV1)
    assert refunded.person == PersonRef(source=SOURCE, external_id="7012345678")
    assert refunded.person.partition_key() == placed.person.partition_key()
    assert awaits_its_order(refund) is None


def test_a_cancellation_goes_to_its_orders_buyer_even_when_staff_changed_the_customer_since() -> None:
    buyer = buyer_reference(order_placed(shopify_payload("orders-create")))
    reassigned = shopify_payload("orders-cancelled")
    reassigned["customer"] = {**reassigned["customer"], "id": 7099999999, "email": "autre@example.ca"}

    [envelope] = events("orders/cancelled", reassigned, order_buyer=buyer)

    assert attributed_order_id("orders/cancelled", reassigned) == "5512345678901"
    cancelled = parse_data(envelope)
    assert isinstance(cancelled, ShopOrderCancelledV1)
    assert cancelled.person == PersonRef(source=SOURCE, external_id="7012345678")
    assert envelope.id == events("orders/cancelled", shopify_payload("orders-cancelled"))[0].id


def test_a_cancellation_of_an_order_that_no_longer_names_anyone_goes_to_its_known_buyer() -> None:
    buyer = PersonRef(source=SOURCE, external_id="7012345678")
    anonymous = shopify_payload("orders-cancelled")
    for name in ("customer", "email", "contact_email", "phone", "billing_address", "shipping_address"):
        anonymous.pop(name, None)

    [envelope] = events("orders/cancelled", anonymous, order_buyer=buyer)

    assert envelope.type == "parterre.shop.order_cancelled.v1"
    assert envelope.data["person"]["external_id"] == "7012345678"
    # Its buyer unknown too: there is no one to tell, and the delivery is acknowledged.
    assert events("orders/cancelled", anonymous) == []


@pytest.mark.parametrize("topic", ["orders/create", "orders/paid", "orders/updated", "orders/cancelled"])
def test_a_sale_naming_nobody_is_acknowledged_with_nothing_to_publish(topic: str) -> None:
    # A walk-in sale at the shop's point of sale: no customer, email, phone or address. Refused, Shopify would retry
    # the delivery, then remove the webhook and every order after it.
    walk_in = shopify_payload("orders-paid")
    for name in ("customer", "email", "contact_email", "phone", "billing_address", "shipping_address"):
        walk_in[name] = None
    walk_in["source_name"] = "pos"

    assert events(topic, walk_in) == []
    # A customer update naming nobody is still refused: it is no sale, and says nothing usable.
    with pytest.raises(AdapterError, match="names nobody"):
        events("customers/update", {"id": None, "email": None, "phone": None, "first_name": None, "last_name": None})


def test_an_order_update_that_changes_nothing_parterre_models_repeats_the_orders_events_under_their_ids() -> None:
    # Shopify sends `orders/updated` for a note, tags or a fulfilment too: acknowledged, it publishes nothing new.
    paid = shopify_payload("orders-paid")
    noted = {**paid, "note": "Livrer après 17 h", "tags": "cadeau", "updated_at": "2026-10-02T11:05:00-04:00"}

    assert events("orders/updated", noted) == events("orders/paid", paid)


def test_a_refund_an_order_update_shows_is_the_refund_refunds_create_gives_for_the_orders_buyer() -> None:
    # `orders/updated` carries the order with its `refunds`, each the resource `refunds/create` sends.
    envelopes = events("orders/updated", shopify_payload("orders-updated"))
    buyer = buyer_reference(order_placed(shopify_payload("orders-create")))

    [refund] = [envelope for envelope in envelopes if envelope.type == "parterre.shop.order_refunded.v1"]

    assert refund == events("refunds/create", shopify_payload("refunds-create"), order_buyer=buyer)[0]
    assert awaits_its_order(refund) is None
    assert types_of(envelopes) == [
        "parterre.shop.order_placed.v1",
        "parterre.consent.granted.v1",
        "parterre.shop.order_refunded.v1",
    ]


def test_an_order_update_attributes_its_refunds_and_cancellation_to_the_buyer_known_from_its_first_delivery() -> None:
    known = PersonRef(source=SOURCE, email="helene.damours@example.ca")
    order = {**shopify_payload("orders-updated"), "cancelled_at": "2026-10-07T10:00:00-04:00"}

    envelopes = events("orders/updated", order, order_buyer=known)

    attributed = [envelope.data["person"] for envelope in envelopes if envelope.type != "parterre.shop.order_placed.v1"]
    assert types_of(envelopes)[-2:] == ["parterre.shop.order_cancelled.v1", "parterre.shop.order_refunded.v1"]
    assert attributed[-2:] == [known.model_dump(mode="json")] * 2
    assert attributed_order_id("orders/updated", order) == "5512345678901"


def test_an_order_update_showing_a_cancellation_is_the_same_fact_as_orders_cancelled() -> None:
    cancelled = shopify_payload("orders-cancelled")

    updated = events("orders/updated", cancelled)

    [cancellation] = [envelope for envelope in updated if envelope.type == "parterre.shop.order_cancelled.v1"]
    assert [cancellation] == events("orders/cancelled", cancelled)


def test_an_order_update_of_an_order_that_no_longer_names_anyone_gives_its_known_buyer_what_the_topics_would() -> None:
    # Staff removed the order's customer: `orders/cancelled` and `refunds/create` still go to the buyer known from
    # the order's first delivery, and the `orders/updated` of the same change must say the same.
    buyer = PersonRef(source=SOURCE, external_id="7012345678")
    anonymous = {
        **shopify_payload("orders-updated"),
        "cancelled_at": "2026-10-07T10:00:00-04:00",
        "cancel_reason": "customer",
    }
    for name in ("customer", "email", "contact_email", "phone", "billing_address", "shipping_address"):
        anonymous.pop(name, None)

    updated = events("orders/updated", anonymous, order_buyer=buyer)

    assert updated == [
        *events("orders/cancelled", anonymous, order_buyer=buyer),
        *events("refunds/create", shopify_payload("refunds-create"), order_buyer=buyer),
    ]
    # Its buyer unknown too, it names no one: nothing to publish, as for the dedicated topics' sale.
    assert events("orders/updated", anonymous) == []
    assert events("orders/updated", {**anonymous, "test": True}, order_buyer=buyer) == []


def test_an_order_update_without_refunds_or_with_a_test_refund_gives_no_refund() -> None:
    order = shopify_payload("orders-updated")
    [refund] = order["refunds"]
    tested = {**refund, "transactions": [{**item, "test": True} for item in refund["transactions"]]}

    for refunds in (None, [], [tested]):
        envelopes = events("orders/updated", {**order, "refunds": refunds})
        assert "parterre.shop.order_refunded.v1" not in types_of(envelopes), refunds


def test_a_topic_parterre_reads_is_told_from_one_it_does_not_whatever_its_case() -> None:
    assert reads_topic("orders/updated")
    assert reads_topic(" Orders/Updated ")
    assert not reads_topic("products/create")
    assert not reads_topic("")


def test_an_order_delivered_late_with_its_cancelled_at_cancels_it_for_its_known_buyer() -> None:
    buyer = PersonRef(source=SOURCE, external_id="7012345678")
    reassigned = shopify_payload("orders-cancelled")
    reassigned["customer"] = {**reassigned["customer"], "id": 7099999999, "email": "autre@example.ca"}

    envelopes = events("orders/paid", reassigned, order_buyer=buyer)

    [cancellation] = [envelope for envelope in envelopes if envelope.type == "parterre.shop.order_cancelled.v1"]
    assert cancellation.data["person"]["external_id"] == "7012345678"
    assert attributed_order_id("orders/paid", reassigned) == "5512345678901"


def test_the_buyer_a_cancellation_names_is_kept_for_refunds_as_an_orders_would_be() -> None:
    cancelled = parse_data(events("orders/cancelled", shopify_payload("orders-cancelled"))[0])
    assert isinstance(cancelled, ShopOrderCancelledV1)

    assert buyer_reference(cancelled) == buyer_reference(order_placed(shopify_payload("orders-create")))


def test_a_guest_orders_buyer_is_kept_by_email_alone() -> None:
    payload = shopify_payload("orders-create")
    del payload["customer"]

    buyer = buyer_reference(order_placed(payload))

    assert buyer == PersonRef(source=SOURCE, email="helene.damours@example.ca")


def test_a_refund_that_waited_gets_the_buyer_and_keeps_its_id_and_content() -> None:
    waiting = events("refunds/create", shopify_payload("refunds-create"))[0]
    buyer = PersonRef(source=SOURCE, external_id="7012345678")

    attributed = with_buyer(waiting, buyer)

    assert attributed == events("refunds/create", shopify_payload("refunds-create"), order_buyer=buyer)[0]
    assert attributed.id == waiting.id
    assert awaits_its_order(attributed) is None


def test_only_refunds_can_await_an_order() -> None:
    placed = events("orders/create", shopify_payload("orders-create"))

    assert [awaits_its_order(envelope) for envelope in placed] == [None] * len(placed)
    assert attributed_order_id("customers/update", shopify_payload("customers-update")) is None


def test_a_refund_without_transactions_is_valued_at_its_lines_price_and_tax() -> None:
    payload = shopify_payload("refunds-create")
    payload["transactions"] = []

    refunded = parse_data(events("refunds/create", payload)[0])

    assert isinstance(refunded, ShopOrderRefundedV1)
    assert refunded.amount.amount == Decimal("20.64")


def test_a_new_customer_becomes_person_details_updated_listing_the_details_given() -> None:
    envelopes = events("customers/create", shopify_payload("customers-create"))

    updated = parse_data(envelopes[0])
    assert isinstance(updated, PersonDetailsUpdatedV1)
    assert updated.person.email is None
    assert updated.person.phone == "+14185550177"
    assert updated.previous_email is None
    assert updated.changed_fields == ["external_id", "phone", "first_name", "last_name"]
    assert envelopes[0].time == datetime.fromisoformat("2026-10-04T11:15:00-04:00")


def test_a_customer_update_that_unsubscribes_gives_the_new_details_and_a_withdrawal() -> None:
    envelopes = events("customers/update", shopify_payload("customers-update"))

    assert types_of(envelopes) == ["parterre.person.details_updated.v1", "parterre.consent.withdrawn.v1"]
    updated = parse_data(envelopes[0])
    assert isinstance(updated, PersonDetailsUpdatedV1)
    assert updated.person.email == "helene.damours@courriel.example.ca"
    withdrawn = parse_data(envelopes[1])
    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert withdrawn.purpose is ConsentPurpose.MARKETING_EMAIL
    assert withdrawn.captured_at == datetime.fromisoformat("2026-11-02T08:45:10-05:00")


def test_two_successive_customer_updates_are_two_facts_but_a_redelivery_is_one() -> None:
    first = shopify_payload("customers-update")
    later = copy.deepcopy(first)
    later["updated_at"] = "2026-11-03T09:00:00-05:00"

    assert events("customers/update", first)[0].id == events("customers/update", copy.deepcopy(first))[0].id
    assert events("customers/update", first)[0].id != events("customers/update", later)[0].id


def test_two_customer_updates_within_one_second_that_say_different_things_are_two_facts() -> None:
    first = shopify_payload("customers-update")
    same_second = copy.deepcopy(first)
    same_second["phone"] = "+15145550111"

    assert events("customers/update", first)[0].id != events("customers/update", same_second)[0].id
    # Its consent's evidence still names the update by its time.
    withdrawn = parse_data(events("customers/update", first)[1])
    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert "as of 2026-11-02T08:45:10-05:00" in (withdrawn.evidence or "")


def test_the_same_consent_reported_by_an_order_and_by_a_customer_update_is_one_event() -> None:
    order_consent = events("orders/create", shopify_payload("orders-create"))[1]
    customer = shopify_payload("orders-create")["customer"]

    customer_consent = events("customers/update", customer)[1]

    assert customer_consent.id == order_consent.id


def test_a_redact_request_asks_to_erase_the_customer() -> None:
    envelopes = events("customers/redact", shopify_payload("customers-redact"))

    erasure = parse_data(envelopes[0])
    assert isinstance(erasure, PersonErasureRequestedV1)
    assert (erasure.person.external_id, erasure.person.email) == ("7012345678", "helene.damours@example.ca")
    assert erasure.requested_by == "shopify:customers/redact"
    assert erasure.reason is not None
    assert "5512345678901" in erasure.reason
    assert envelopes[0].time == RECEIVED_AT


def test_a_data_request_becomes_privacy_access_requested_with_its_request_id_and_orders() -> None:
    envelopes = events("customers/data_request", shopify_payload("customers-data_request"))

    assert types_of(envelopes) == ["parterre.privacy.access_requested.v1"]
    access = parse_data(envelopes[0])
    assert isinstance(access, PrivacyAccessRequestedV1)
    assert access.request_id == "4471"
    assert access.order_ids == ["5512345678901"]
    assert access.requested_at == RECEIVED_AT
    assert access.requested_by == "shopify:customers/data_request"


def test_a_customer_redact_names_the_orders_ingest_must_forget() -> None:
    payload = shopify_payload("customers-redact")

    assert redacted_order_ids("customers/redact", payload) == ["5512345678901", "5512340000123"]
    assert redacted_order_ids("customers/update", payload) == []


def test_the_shop_redact_request_becomes_a_redaction_request_for_the_whole_source() -> None:
    envelopes = events("shop/redact", shopify_payload("shop-redact"))

    assert types_of(envelopes) == ["parterre.privacy.source_redaction_requested.v1"]
    redaction = parse_data(envelopes[0])
    assert isinstance(redaction, SourceRedactionRequestedV1)
    assert redaction.source == SOURCE
    assert redaction.upstream_account_id == "55123456"
    assert redaction.upstream_account_name == "boutique-theatre-du-nord.myshopify.com"
    assert redaction.requested_at == RECEIVED_AT
    assert redaction.requested_by == "shopify:shop/redact"


def test_a_retried_shop_redact_is_the_same_request() -> None:
    first = events("shop/redact", shopify_payload("shop-redact"))[0]
    retried = read_shopify_webhook(
        "shop/redact",
        shopify_payload("shop-redact"),
        organisation_id=ORGANISATION,
        source=SOURCE,
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
    ).events[0]

    assert retried.id == first.id


def test_a_shop_redact_without_shop_id_is_refused_naming_it() -> None:
    payload = shopify_payload("shop-redact")
    del payload["shop_id"]

    error = events_or_error("shop/redact", payload)

    assert isinstance(error, AdapterError)
    assert [problem.field for problem in error.errors] == ["shop_id"]


def test_an_unknown_topic_is_an_adapter_error_naming_the_topic_header_and_the_topics_read() -> None:
    with pytest.raises(AdapterError) as caught:
        events("products/create", {"id": 1})

    [error] = caught.value.errors
    assert (error.field, error.code) == ("X-Shopify-Topic", "unsupported_topic")
    assert "orders/create" in error.reason


def _set(path: str, value: Any) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    mutate.__name__ = f"{path}={value!r}"
    return mutate


def _drop(path: str) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = payload
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    mutate.__name__ = f"without {path}"
    return mutate


def _then(*mutations: Mutation) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(payload)

    mutate.__name__ = ", ".join(mutation.__name__ for mutation in mutations)
    return mutate


MALFORMED: list[tuple[str, str, Mutation, str]] = [
    ("orders/create", "orders-create", _drop("id"), "id"),
    ("orders/create", "orders-create", _drop("total_price"), "total_price"),
    ("orders/create", "orders-create", _set("currency", "dollars"), "currency"),
    ("orders/create", "orders-create", _set("line_items", []), "line_items"),
    ("orders/create", "orders-create", _set("line_items", "three"), "line_items"),
    ("orders/create", "orders-create", _set("line_items.2", "oops"), "line_items.2"),
    ("orders/create", "orders-create", _set("line_items.0.price", "abc"), "line_items.0.price"),
    ("orders/create", "orders-create", _set("line_items.0.price", "8.001"), "line_items.0.price"),
    ("orders/create", "orders-create", _set("line_items.0.price", -3), "line_items.0.price"),
    ("orders/create", "orders-create", _set("line_items.1.quantity", 0), "line_items.1.quantity"),
    ("orders/create", "orders-create", _set("line_items.1.quantity", "two"), "line_items.1.quantity"),
    # A digit to `str.isdigit`, not to `int`.
    ("orders/create", "orders-create", _set("line_items.1.quantity", "²"), "line_items.1.quantity"),
    ("orders/create", "orders-create", _set("customer", []), "customer"),
    # What names the buyer: the customer id, else (a guest checkout) the email.
    ("orders/create", "orders-create", _set("customer.id", [7012345678]), "customer.id"),
    ("orders/create", "orders-create", _set("customer.id", "7" * 257), "customer.id"),
    # A guest's email names them: unreadable, with no other address in the order to stand in, the sale is refused.
    (
        "orders/create",
        "orders-create",
        _then(_set("customer", None), _set("email", "helene at example.ca"), _drop("contact_email")),
        "email",
    ),
    ("orders/paid", "orders-paid", _set("total_price", {"amount": "67.78"}), "total_price"),
    ("orders/updated", "orders-updated", _drop("total_price"), "total_price"),
    ("orders/updated", "orders-updated", _set("refunds.0", "oops"), "refunds.0"),
    ("orders/updated", "orders-updated", _drop("refunds.0.order_id"), "refunds.0.order_id"),
    (
        "orders/updated",
        "orders-updated",
        _set("refunds.0.transactions.0.amount", "x"),
        "refunds.0.transactions.0.amount",
    ),
    ("refunds/create", "refunds-create", _drop("order_id"), "order_id"),
    ("refunds/create", "refunds-create", _set("transactions.0.amount", "x"), "transactions.0.amount"),
    ("customers/create", "customers-create", _drop("id"), "id"),
    ("customers/redact", "customers-redact", _drop("customer"), "customer"),
    ("customers/redact", "customers-redact", _set("customer.id", {"id": 7012345678}), "customer.id"),
    ("customers/data_request", "customers-data_request", _drop("data_request"), "data_request.id"),
    ("customers/data_request", "customers-data_request", _set("orders_requested.0", [1]), "orders_requested.0"),
]


@pytest.mark.parametrize(("topic", "fixture", "mutation", "field"), MALFORMED)
def test_a_malformed_payload_is_an_adapter_error_naming_the_offending_json_path(
    topic: str, fixture: str, mutation: Mutation, field: str
) -> None:
    payload = shopify_payload(fixture)
    mutation(payload)

    with pytest.raises(AdapterError) as caught:
        events(topic, payload)

    assert [error.field for error in caught.value.errors] == [field]
    assert all(error.reason for error in caught.value.errors)


ADDRESS = "customer.default_address"
# A detail of the person that cannot be read, what the person loses by it, and the JSON path it is reported under.
UNREADABLE_DETAILS: list[tuple[str, str, Mutation, str, str]] = [
    ("orders/create", "orders-create", _set(f"{ADDRESS}.address2", "app. 3 " * 30), "address_2", f"{ADDRESS}.address2"),
    ("orders/create", "orders-create", _set(f"{ADDRESS}.address1", "rue " * 51), "street", f"{ADDRESS}.address1"),
    ("orders/create", "orders-create", _set(f"{ADDRESS}.city", {"name": "Montréal"}), "city", f"{ADDRESS}.city"),
    (
        "orders/create",
        "orders-create",
        _set(f"{ADDRESS}.province_code", "Q" * 201),
        "region",
        f"{ADDRESS}.province_code",
    ),
    ("orders/create", "orders-create", _set(f"{ADDRESS}.zip", "H2J 2L1 " * 3), "postal_code", f"{ADDRESS}.zip"),
    ("orders/create", "orders-create", _set(f"{ADDRESS}.country_code", "Canada"), "country", f"{ADDRESS}.country_code"),
    # Each of the buyer's details below has no stand-in elsewhere in the order (see `STAND_INS`).
    (
        "orders/create",
        "orders-create",
        _then(_set("customer.phone", "514 555 0142 " * 4), _set("billing_address.phone", None)),
        "phone",
        "customer.phone",
    ),
    (
        "orders/create",
        "orders-create",
        _then(_set("customer.phone", None), _set("billing_address.phone", "+1 514 555 0142 poste " + "9" * 20)),
        "phone",
        "billing_address.phone",
    ),
    ("orders/create", "orders-create", _set("customer.locale", "Québécois"), "locale", "customer.locale"),
    (
        "orders/create",
        "orders-create",
        _then(_set("customer.first_name", "Hélène" * 40), _drop("billing_address.first_name")),
        "first_name",
        "customer.first_name",
    ),
    (
        "orders/create",
        "orders-create",
        _then(_set("customer.last_name", ["D'Amours"]), _drop("billing_address.last_name")),
        "last_name",
        "customer.last_name",
    ),
    # The customer id still names the buyer.
    (
        "orders/create",
        "orders-create",
        _then(_set("customer.email", "helene at example.ca"), _drop("email"), _drop("contact_email")),
        "email",
        "customer.email",
    ),
    ("orders/paid", "orders-paid", _set(f"{ADDRESS}.country_code", "Canada"), "country", f"{ADDRESS}.country_code"),
    (
        "orders/updated",
        "orders-updated",
        _then(_set("customer.email", "helene@"), _drop("email"), _drop("contact_email")),
        "email",
        "customer.email",
    ),
    ("customers/create", "customers-create", _set("phone", "418 555 0177 " * 4), "phone", "phone"),
    ("customers/update", "customers-update", _set("email", "nobody"), "email", "email"),
    ("customers/update", "customers-update", _set("phone", {"number": "+15145550142"}), "phone", "phone"),
    (
        "customers/update",
        "customers-update",
        _set("default_address.country_code", "Canada"),
        "country",
        "default_address.country_code",
    ),
    ("customers/redact", "customers-redact", _set("customer.email", "nobody"), "email", "customer.email"),
    ("customers/data_request", "customers-data_request", _set("customer.phone", "5" * 41), "phone", "customer.phone"),
]


def reading_of(topic: str, payload: dict[str, Any]) -> ShopifyReading:
    return read_shopify_webhook(topic, payload, organisation_id=ORGANISATION, source=SOURCE, received_at=RECEIVED_AT)


def person_of(envelope: Envelope) -> PersonRef:
    person = getattr(parse_data(envelope), "person", None)
    assert isinstance(person, PersonRef)
    return person


@pytest.mark.parametrize(("topic", "fixture", "mutation", "detail", "field"), UNREADABLE_DETAILS)
def test_a_detail_of_the_person_that_cannot_be_read_is_left_out_and_named_and_the_rest_is_published(
    topic: str, fixture: str, mutation: Mutation, detail: str, field: str
) -> None:
    untouched = events(topic, shopify_payload(fixture))
    payload = shopify_payload(fixture)
    mutation(payload)

    reading = reading_of(topic, payload)

    [left_out] = reading.left_out
    assert left_out.field == field
    assert left_out.reason
    assert left_out.reason_fr
    assert left_out.code
    first = reading.events[0]
    assert first.type == untouched[0].type
    person, before = person_of(first), person_of(untouched[0])
    assert getattr(person, detail) is None
    assert getattr(before, detail) is not None
    assert person.model_dump(exclude={detail}) == before.model_dump(exclude={detail})
    # What the event is about is untouched: its order, amounts and lines, or the request.
    assert first.data.keys() == untouched[0].data.keys()
    for name in first.data.keys() - {"person", "changed_fields"}:
        assert first.data[name] == untouched[0].data[name]


# A buyer's detail the customer record gives unreadable, the place in the order that stands in for it, and the
# unreadable place passed over.
STAND_INS: list[tuple[Mutation, str, str, str]] = [
    (_set("customer.email", "helene at example.ca"), "email", "helene.damours@example.ca", "customer.email"),
    (
        _then(_set("customer", None), _set("email", "helene at example.ca")),
        "email",
        "helene.damours@example.ca",
        "email",
    ),
    (_set("customer.phone", "514 555 0142 " * 4), "phone", "+1 514 555 0142", "customer.phone"),
    (_set("customer.first_name", "Hélène" * 40), "first_name", "Hélène", "customer.first_name"),
    (_set("customer.last_name", ["D'Amours"]), "last_name", "D'Amours", "customer.last_name"),
]


@pytest.mark.parametrize(("mutation", "detail", "stand_in", "passed_over"), STAND_INS)
def test_a_buyer_detail_that_cannot_be_read_gives_way_to_the_same_detail_elsewhere_in_the_order(
    mutation: Mutation, detail: str, stand_in: str, passed_over: str
) -> None:
    payload = shopify_payload("orders-create")
    mutation(payload)

    reading = reading_of("orders/create", payload)

    # The order's email (or, for a guest, its contact email), its phone, its billing names: the same buyer's.
    assert getattr(person_of(reading.events[0]), detail) == stand_in
    # The unreadable one was not taken: the shop is told, to mend it, as of any detail left out.
    [left_out] = reading.left_out
    assert left_out.field == passed_over
    assert left_out.reason
    assert left_out.reason_fr
    assert left_out.code


def test_a_detail_given_readably_in_every_place_leaves_nothing_out() -> None:
    payload = shopify_payload("orders-create")
    # Another readable address in the order's own field: the customer record's is taken, nothing is passed over.
    payload["email"] = "h.damours@example.ca"

    reading = reading_of("orders/create", payload)

    assert person_of(reading.events[0]).email == "helene.damours@example.ca"
    assert reading.left_out == ()


def test_a_yes_the_customer_record_states_for_its_unreadable_email_or_phone_is_not_given_to_the_stand_in() -> None:
    untouched = reading_of("orders/create", shopify_payload("orders-create")).events
    payload = shopify_payload("orders-create")
    payload["customer"]["email"] = "helene at example.ca"

    reading = reading_of("orders/create", payload)

    purposes = [getattr(parse_data(envelope), "purpose", None) for envelope in untouched]
    assert ConsentPurpose.MARKETING_EMAIL in purposes
    assert person_of(reading.events[0]).email == "helene.damours@example.ca"
    assert types_of(reading.events) == ["parterre.shop.order_placed.v1"]
    # So for a phone: the customer's yes to text messages is for its own number, which no one could read.
    texted = shopify_payload("orders-create-no-email")
    assert ConsentPurpose.SMS in [
        getattr(parse_data(envelope), "purpose", None) for envelope in reading_of("orders/create", texted).events
    ]
    texted["customer"]["phone"] = "418 555 0177 " * 4
    reading = reading_of("orders/create", texted)
    assert person_of(reading.events[0]).phone == "+14185550177"
    assert ConsentPurpose.SMS not in [getattr(parse_data(envelope), "purpose", None) for envelope in reading.events]


@pytest.mark.parametrize(("checkout_ticked", "granted"), [(True, True), (False, False)])
def test_the_checkout_checkbox_is_for_the_order_address_even_when_the_customer_record_email_is_unreadable(
    checkout_ticked: bool, granted: bool
) -> None:
    payload = shopify_payload("orders-create")
    del payload["customer"]["email_marketing_consent"]
    payload["customer"]["email"] = "helene at example.ca"
    # The customer record's own box is for its own address: unread, it grants nothing.
    payload["customer"]["accepts_marketing"] = True
    payload["buyer_accepts_marketing"] = checkout_ticked

    reading = reading_of("orders/create", payload)

    consents = [data for envelope in reading.events if isinstance(data := parse_data(envelope), ConsentGrantedV1)]
    assert [(consent.person.email, consent.wording_version) for consent in consents] == (
        [("helene.damours@example.ca", "shopify:buyer_accepts_marketing")] if granted else []
    )


# The customer record gives no email (or no phone), so the order's own stands for it; that one cannot be read, and the
# next place in the order that reads is a third address or number, for which no one said yes.
PASSED_OVER: list[tuple[str, Mutation, str, ConsentPurpose, str]] = [
    (
        "orders-create",
        _then(
            _set("customer.email", None),
            _set("email", "helene at example.ca"),
            _set("contact_email", "h@example.ca"),
        ),
        "email",
        ConsentPurpose.MARKETING_EMAIL,
        "h@example.ca",
    ),
    (
        "orders-create-no-email",
        _then(
            _set("customer.phone", None),
            _set("phone", "418 555 0177 " * 4),
            _set("billing_address", {"phone": "+1 418 555 0188"}),
        ),
        "phone",
        ConsentPurpose.SMS,
        "+1 418 555 0188",
    ),
]


@pytest.mark.parametrize(("fixture", "mutation", "detail", "purpose", "stand_in"), PASSED_OVER)
@pytest.mark.parametrize("state", ["subscribed", "unsubscribed"])
def test_a_yes_the_customer_record_states_is_not_given_to_a_stand_in_found_past_an_unreadable_detail(
    fixture: str, mutation: Mutation, detail: str, purpose: ConsentPurpose, stand_in: str, state: str
) -> None:
    payload = shopify_payload(fixture)
    mutation(payload)
    consent = "email_marketing_consent" if purpose is ConsentPurpose.MARKETING_EMAIL else "sms_marketing_consent"
    payload["customer"][consent] = {"state": state, "consent_updated_at": "2026-10-04T11:15:00-04:00"}

    reading = reading_of("orders/create", payload)

    assert getattr(person_of(reading.events[0]), detail) == stand_in
    stated = [data for envelope in reading.events if getattr(data := parse_data(envelope), "purpose", None) == purpose]
    # A no still holds back whatever address or number the person is reached at.
    assert [type(data) for data in stated] == ([] if state == "subscribed" else [ConsentWithdrawnV1])


@pytest.mark.parametrize(
    "mutation",
    [
        _then(_set("customer", None), _set("email", "helene at example.ca"), _set("contact_email", "h@example.ca")),
        _then(
            _set("customer.email", "helene at example.ca"),
            _set("email", "helene at example.ca"),
            _set("contact_email", "h@example.ca"),
        ),
    ],
)
def test_the_checkout_checkbox_is_no_yes_for_an_address_standing_in_for_the_order_address_that_cannot_be_read(
    mutation: Mutation,
) -> None:
    payload = shopify_payload("orders-create")
    mutation(payload)
    if isinstance(payload["customer"], dict):
        del payload["customer"]["email_marketing_consent"]
    payload["buyer_accepts_marketing"] = True

    reading = reading_of("orders/create", payload)

    assert person_of(reading.events[0]).email == "h@example.ca"
    assert types_of(reading.events) == ["parterre.shop.order_placed.v1"]


def test_an_order_whose_customer_email_cannot_be_read_keeps_the_sale_but_gives_no_email_consent() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["email"] = "helene at example.ca"
    del payload["email"], payload["contact_email"]

    reading = reading_of("orders/create", payload)

    # A yes to email marketing given for an address no one can read is a yes for no address.
    assert types_of(reading.events) == ["parterre.shop.order_placed.v1"]
    assert reading.events[0].id == events("orders/create", shopify_payload("orders-create"))[0].id
    placed = parse_data(reading.events[0])
    assert isinstance(placed, ShopOrderPlacedV1)
    assert (placed.person.external_id, placed.person.email) == ("7012345678", None)
    assert buyer_reference(placed) == PersonRef(source=SOURCE, external_id="7012345678")


@pytest.mark.parametrize(
    ("topic", "fixture", "phone_of"),
    [
        ("orders/create", "orders-create-no-email", lambda payload: payload["customer"]),
        ("customers/create", "customers-create", lambda payload: payload),
    ],
)
def test_a_phone_that_cannot_be_read_is_left_out_with_the_yes_to_sms_given_for_it(
    topic: str, fixture: str, phone_of: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    untouched = reading_of(topic, shopify_payload(fixture)).events
    assert ConsentPurpose.SMS in [getattr(parse_data(envelope), "purpose", None) for envelope in untouched]
    payload = shopify_payload(fixture)
    phone_of(payload)["phone"] = "418 555 0177 " * 4
    for holder in (payload, payload.get("billing_address"), phone_of(payload).get("default_address")):
        if isinstance(holder, dict) and holder is not phone_of(payload):
            holder["phone"] = None

    reading = reading_of(topic, payload)

    # A yes to text messages given for a number no one can read is a yes for whatever number is linked later.
    assert [error.field for error in reading.left_out] == ["customer.phone" if topic.startswith("orders") else "phone"]
    assert ConsentPurpose.SMS not in [getattr(parse_data(envelope), "purpose", None) for envelope in reading.events]
    assert reading.events[0].type == untouched[0].type


def test_the_reason_a_detail_is_left_out_is_worded_as_a_refused_fields_in_english_and_french() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["default_address"]["country_code"] = "Canada"

    [left_out] = reading_of("orders/create", payload).left_out

    assert left_out.model_dump() == {
        "field": "customer.default_address.country_code",
        "reason": "String should match pattern '^[A-Z]{2}$'",
        "reason_fr": "n'a pas la forme attendue (^[A-Z]{2}$)",
        "code": "string_pattern_mismatch",
    }


def test_an_address_that_is_not_an_object_is_left_out_and_the_billing_address_read_instead() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["default_address"] = "4521, rue Saint-Denis, app. 3, Montréal"

    reading = reading_of("orders/create", payload)

    assert [(error.field, error.code) for error in reading.left_out] == [(ADDRESS, "type_error")]
    person = person_of(reading.events[0])
    assert (person.street, person.city, person.country) == ("4521, rue Saint-Denis", "Montréal", "CA")


def test_several_unreadable_details_are_each_left_out_and_named() -> None:
    payload = shopify_payload("customers-update")
    payload["email"] = "nobody"
    payload["last_name"] = "D'Amours" * 30
    payload["default_address"]["address2"] = "app. 3" * 40

    reading = reading_of("customers/update", payload)

    assert sorted(error.field for error in reading.left_out) == ["default_address.address2", "email", "last_name"]
    updated = parse_data(reading.events[0])
    assert isinstance(updated, PersonDetailsUpdatedV1)
    assert {"email", "last_name", "address_2"}.isdisjoint(updated.changed_fields)
    assert "first_name" in updated.changed_fields


def test_a_buyer_locale_that_cannot_be_read_leaves_the_titles_in_the_language_of_the_orders_locale() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["locale"] = "Québécois"

    placed = parse_data(reading_of("orders/create", payload).events[0])

    assert isinstance(placed, ShopOrderPlacedV1)
    assert placed.lines[1].product_name.fr == "Les Belles-sœurs (texte intégral)"


def test_a_guest_whose_only_name_cannot_be_read_is_refused_not_taken_for_a_sale_naming_nobody() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"] = None
    payload["email"] = payload["contact_email"] = None
    payload["billing_address"]["phone"] = None
    payload["billing_address"]["last_name"] = "D'Amours" * 30

    with pytest.raises(AdapterError) as caught:
        events("orders/create", payload)

    assert [error.field for error in caught.value.errors] == ["billing_address.last_name"]


def test_a_payload_that_is_not_an_object_is_an_adapter_error() -> None:
    with pytest.raises(AdapterError) as caught:
        events("orders/create", ["not", "an", "order"])  # type: ignore[arg-type]

    assert [error.field for error in caught.value.errors] == ["$"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


FIXTURE_OF_TOPIC = {
    "orders/create": "orders-create",
    "orders/paid": "orders-paid",
    "orders/updated": "orders-updated",
    "orders/cancelled": "orders-cancelled",
    "refunds/create": "refunds-create",
    "customers/create": "customers-create",
    "customers/update": "customers-update",
    "customers/redact": "customers-redact",
    "customers/data_request": "customers-data_request",
    "shop/redact": "shop-redact",
}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(SUPPORTED_TOPICS), data=st.data(), replacement=json_values)
def test_any_value_anywhere_in_a_real_payload_gives_events_or_an_adapter_error_never_a_crash(
    topic: str, data: st.DataObject, replacement: Any
) -> None:
    payload = shopify_payload(FIXTURE_OF_TOPIC[topic])
    path = data.draw(st.sampled_from(_paths(payload)))
    node: Any = payload
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = replacement

    outcome = events_or_error(topic, payload)

    if isinstance(outcome, AdapterError):
        assert outcome.errors
        assert all(error.field and error.reason for error in outcome.errors)
    else:
        assert all(envelope.time.tzinfo is not None for envelope in outcome)


@given(payload=st.dictionaries(st.text(max_size=12), json_values, max_size=6), topic=st.sampled_from(SUPPORTED_TOPICS))
def test_an_arbitrary_json_object_gives_events_or_an_adapter_error_never_a_crash(
    payload: dict[str, Any], topic: str
) -> None:
    outcome = events_or_error(topic, payload)

    if isinstance(outcome, AdapterError):
        assert outcome.errors


def test_every_supported_topic_has_a_fixture() -> None:
    assert set(FIXTURE_OF_TOPIC) == set(SUPPORTED_TOPICS)


@pytest.mark.parametrize(("fixture", "topic"), [(fixture, topic) for topic, fixture in FIXTURE_OF_TOPIC.items()])
def test_a_payload_whose_details_all_read_leaves_nothing_out(fixture: str, topic: str) -> None:
    # Its events are pinned byte for byte in the ingest output, as they were before details could be left out.
    assert reading_of(topic, shopify_payload(fixture)).left_out == ()


def test_the_order_time_is_kept_with_its_offset() -> None:
    envelope = events("orders/create", shopify_payload("orders-create"))[0]

    assert envelope.time.astimezone(UTC) == datetime(2026, 10, 1, 18, 31, 7, tzinfo=UTC)


def _imported(payload: dict[str, Any]) -> dict[str, Any]:
    """An order or refund as an import from another platform brings it: it took place in 2023, and Shopify recorded
    it in 2026 (its `created_at`)."""
    return {**payload, "processed_at": "2023-05-01T19:30:00-04:00", "created_at": "2026-10-01T14:31:08-04:00"}


def test_an_order_imported_from_another_platform_is_dated_when_it_took_place_and_so_is_its_checkout_consent() -> None:
    # Dated when Shopify recorded it, a sale of 2023 would seem recent, and imply consent until 2028.
    order = _imported(shopify_payload("orders-paid"))
    order["buyer_accepts_marketing"] = True
    order["customer"] = {**order["customer"], "email_marketing_consent": None}
    took_place = datetime.fromisoformat("2023-05-01T19:30:00-04:00")

    envelopes = events("orders/create", order)

    assert types_of(envelopes) == ["parterre.shop.order_placed.v1", "parterre.consent.granted.v1"]
    assert [envelope.time for envelope in envelopes] == [took_place, took_place]
    consent = parse_data(envelopes[1])
    assert isinstance(consent, ConsentGrantedV1)
    assert consent.captured_at == took_place


def test_an_undated_no_on_an_imported_order_is_dated_when_shopify_recorded_the_order_not_at_the_old_sale() -> None:
    # The patron unsubscribed after the 2023 sale; the order came into Shopify in 2026 with their state as it is now.
    order = _imported(shopify_payload("orders-paid"))
    order["customer"] = {
        **order["customer"],
        "created_at": "2026-03-14T10:00:00-04:00",
        "email_marketing_consent": {"state": "unsubscribed", "opt_in_level": None, "consent_updated_at": None},
    }

    [withdrawn] = [
        data
        for envelope in events("orders/create", order)
        if isinstance(data := parse_data(envelope), ConsentWithdrawnV1)
    ]

    assert withdrawn.captured_at == datetime.fromisoformat("2026-10-01T14:31:08-04:00")


def test_an_order_and_refund_keep_their_event_ids_whichever_time_dates_them() -> None:
    # Ingested before they were dated by `processed_at`: delivered again, they must still be taken for repeats.
    order = shopify_payload("orders-updated")
    imported = _imported({**order, "refunds": [_imported(refund) for refund in order["refunds"]]})

    before = events("orders/updated", order)
    after = events("orders/updated", imported)

    assert [envelope.id for envelope in after] == [envelope.id for envelope in before]
    dated = [envelope.time for envelope in after if envelope.type.startswith("parterre.shop.")]
    assert dated == [datetime.fromisoformat("2023-05-01T19:30:00-04:00")] * 2


def test_a_refund_is_dated_when_it_was_processed_else_when_shopify_recorded_it() -> None:
    refund = _imported(shopify_payload("refunds-create"))

    [processed] = events("refunds/create", refund)
    [recorded] = events("refunds/create", {**refund, "processed_at": None})

    assert processed.time == datetime.fromisoformat("2023-05-01T19:30:00-04:00")
    assert recorded.time == datetime.fromisoformat("2026-10-01T14:31:08-04:00")


def test_an_order_an_app_dates_over_a_day_ahead_is_dated_when_shopify_recorded_it_and_so_is_its_consent() -> None:
    # A year mistyped by the app that set `processed_at`: the sale, and the checkbox with it, dated in 2062.
    order = {
        **shopify_payload("orders-paid"),
        "processed_at": "2062-10-01T14:31:07-04:00",
        "buyer_accepts_marketing": True,
    }
    order["customer"] = {**order["customer"], "email_marketing_consent": None}
    recorded = datetime.fromisoformat(order["created_at"])

    envelopes = events("orders/create", order)

    assert [envelope.time for envelope in envelopes] == [recorded, recorded]
    consent = parse_data(envelopes[1])
    assert isinstance(consent, ConsentGrantedV1)
    assert consent.captured_at == recorded


def undated_subscriber(updated_at: str) -> dict[str, Any]:
    """A customer record, edited at `updated_at`, whose yes to email marketing Shopify does not date."""
    customer = shopify_payload("customers-update")
    customer["updated_at"] = updated_at
    customer["email_marketing_consent"] = {"state": "subscribed", "opt_in_level": "single_opt_in"}
    return customer


def test_an_undated_yes_reported_by_each_customer_edit_is_one_consent_dated_when_the_customer_was_created() -> None:
    # Between the two edits, the patron unsubscribed in Mailchimp: the second edit must not say yes anew.
    first = events("customers/update", undated_subscriber("2026-11-02T08:45:10-05:00"))[1]
    second = events("customers/update", undated_subscriber("2026-11-20T14:00:00-05:00"))[1]

    granted = parse_data(second)
    assert isinstance(granted, ConsentGrantedV1)
    created_at = datetime.fromisoformat(shopify_payload("customers-update")["created_at"])
    assert granted.captured_at == created_at
    assert second.id == first.id
    assert second.time == created_at


def test_the_old_customer_flag_is_dated_when_the_customer_was_created_and_told_once() -> None:
    def flagged(updated_at: str) -> dict[str, Any]:
        customer = undated_subscriber(updated_at)
        customer["email_marketing_consent"] = None
        customer["accepts_marketing"] = True
        return customer

    first = events("customers/update", flagged("2026-11-02T08:45:10-05:00"))[1]
    second = events("customers/update", flagged("2026-11-20T14:00:00-05:00"))[1]

    granted = parse_data(second)
    assert isinstance(granted, ConsentGrantedV1)
    assert granted.wording_version == "shopify:accepts_marketing"
    assert granted.captured_at == datetime.fromisoformat(shopify_payload("customers-update")["created_at"])
    assert second.id == first.id


def test_an_undated_no_is_dated_by_the_edit_that_reports_it() -> None:
    customer = undated_subscriber("2026-11-20T14:00:00-05:00")
    customer["email_marketing_consent"] = {"state": "unsubscribed", "consent_updated_at": None}

    withdrawn = parse_data(events("customers/update", customer)[1])

    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert withdrawn.captured_at == datetime.fromisoformat("2026-11-20T14:00:00-05:00")


def consent_stated(customer: dict[str, Any], purpose: ConsentPurpose) -> tuple[Envelope, Any]:
    """The event and data of the consent `customer` states for `purpose`, as `customers/update` reports it."""
    [stated] = [
        (envelope, data)
        for envelope in events("customers/update", customer)
        if getattr(data := parse_data(envelope), "purpose", None) == purpose
    ]
    return stated


@pytest.mark.parametrize("state", ["subscribed", "unsubscribed"])
@pytest.mark.parametrize(
    ("consent", "purpose"),
    [("email_marketing_consent", ConsentPurpose.MARKETING_EMAIL), ("sms_marketing_consent", ConsentPurpose.SMS)],
)
def test_a_consent_dated_more_than_a_day_after_its_report_is_read_as_undated(
    state: str, consent: str, purpose: ConsentPurpose
) -> None:
    # An app setting the date with a year mistyped: a yes dated 2062 would outrank every unsubscribe until then.
    customer = shopify_payload("customers-update")
    customer["updated_at"] = "2026-11-20T09:00:00-05:00"
    customer[consent] = {
        "state": state,
        "opt_in_level": "single_opt_in",
        "consent_updated_at": "2062-11-20T09:00:00-05:00",
    }
    undated = copy.deepcopy(customer)
    undated[consent]["consent_updated_at"] = None

    envelope, stated = consent_stated(customer, purpose)

    assert (envelope.id, stated.captured_at) == (consent_stated(undated, purpose)[0].id, envelope.time)
    assert stated.captured_at < RECEIVED_AT
    assert "updated 2062-11-20T09:00:00-05:00" in (stated.evidence or "")


def test_a_consent_dated_less_than_a_day_after_its_report_keeps_its_date() -> None:
    # Shopify's clock a few hours ahead of this one: let through, as an event dated so is.
    customer = shopify_payload("customers-update")
    customer["email_marketing_consent"] = {"state": "subscribed", "consent_updated_at": "2026-11-20T20:00:00-05:00"}

    _, stated = consent_stated(customer, ConsentPurpose.MARKETING_EMAIL)

    assert stated.captured_at == datetime.fromisoformat("2026-11-20T20:00:00-05:00")


def unsubscribed_since_the_order(updated_at: str | None) -> dict[str, Any]:
    """The order `orders/create` sent, updated at `updated_at` (fulfilled, tagged), its customer unsubscribed since
    with no date given."""
    payload = shopify_payload("orders-create")
    payload["updated_at"] = updated_at
    payload["customer"]["email_marketing_consent"] = {"state": "unsubscribed", "consent_updated_at": None}
    return payload


def withdrawal_in(envelopes: list[Envelope]) -> tuple[Envelope, ConsentWithdrawnV1]:
    [withdrawal] = [
        (envelope, data) for envelope in envelopes if isinstance(data := parse_data(envelope), ConsentWithdrawnV1)
    ]
    return withdrawal


def test_an_undated_no_an_order_update_reports_is_dated_when_the_order_was_updated() -> None:
    # Months after the sale: dated at the order's creation, it would lose to a yes given in Mailchimp in between.
    payload = unsubscribed_since_the_order("2027-03-15T10:00:00-04:00")

    envelope, withdrawn = withdrawal_in(events("orders/updated", payload))

    assert withdrawn.captured_at == envelope.time == datetime.fromisoformat("2027-03-15T10:00:00-04:00")
    created_envelope, created = withdrawal_in(events("orders/create", payload))
    # An order's own report dates it when Shopify recorded the order, not when the sale took place (before it).
    assert created.captured_at == datetime.fromisoformat(payload["created_at"])
    # Two reports of the no, each its own fact: the later does not hide behind the earlier's id.
    assert created_envelope.id != envelope.id
    assert envelope.id == withdrawal_in(events("orders/updated", copy.deepcopy(payload)))[0].id


def test_an_undated_no_an_order_update_without_its_date_reports_is_dated_when_it_was_received() -> None:
    _, withdrawn = withdrawal_in(events("orders/updated", unsubscribed_since_the_order(None)))

    assert withdrawn.captured_at == RECEIVED_AT


def test_an_undated_yes_an_order_update_reports_is_still_dated_when_the_customer_was_created() -> None:
    payload = unsubscribed_since_the_order("2027-03-15T10:00:00-04:00")
    payload["customer"]["email_marketing_consent"] = {"state": "subscribed", "consent_updated_at": None}

    granted = [
        data
        for envelope in events("orders/updated", payload)
        if isinstance(data := parse_data(envelope), ConsentGrantedV1)
    ]

    assert [data.captured_at for data in granted] == [datetime.fromisoformat(payload["customer"]["created_at"])]


def test_an_order_with_an_undated_yes_on_its_customer_dates_it_when_the_customer_was_created() -> None:
    payload = shopify_payload("orders-create")
    payload["customer"]["email_marketing_consent"] = {"state": "subscribed", "consent_updated_at": None}

    granted = parse_data(events("orders/create", payload)[1])

    assert isinstance(granted, ConsentGrantedV1)
    assert granted.captured_at == datetime.fromisoformat(payload["customer"]["created_at"])


def phone_only_order_with_the_checkout_box_ticked() -> dict[str, Any]:
    payload = shopify_payload("orders-create-no-email")
    payload["buyer_accepts_marketing"] = True
    return payload


def phone_only_customer_with_the_old_flag_set() -> dict[str, Any]:
    customer = shopify_payload("customers-create")
    customer["accepts_marketing"] = True
    return customer


def phone_only_customer_subscribed_to_email() -> dict[str, Any]:
    customer = shopify_payload("customers-create")
    customer["email_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": "single_opt_in",
        "consent_updated_at": customer["created_at"],
    }
    return customer


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("orders/create", phone_only_order_with_the_checkout_box_ticked),
        ("customers/update", phone_only_customer_with_the_old_flag_set),
        ("customers/update", phone_only_customer_subscribed_to_email),
    ],
    ids=["checkout-checkbox", "customer-flag", "email-consent-state"],
)
def test_a_marketing_yes_from_a_buyer_without_email_is_no_email_consent(
    topic: str, payload: Callable[[], dict[str, Any]]
) -> None:
    granted = [parse_data(envelope) for envelope in events(topic, payload())]

    purposes = [data.purpose for data in granted if isinstance(data, ConsentGrantedV1)]
    assert purposes == [ConsentPurpose.SMS]
