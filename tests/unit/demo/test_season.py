"""The demo's season: the same for the same seed, shaped as each upstream system sends it, and read by ingest's own
parsers as it would be over HTTP."""

import io
import json
import urllib.parse
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import cache

from demo.season import (
    EVENTS_PER_BATCH,
    PRODUCTIONS,
    Season,
    french_amount,
    generate_season,
    schedule,
    season_moment,
)
from demo.send import shopify_hmac
from services.ingest.domain.api_events import EventLimits, read_api_events
from services.ingest.domain.boxoffice import AcceptedRow, RejectedRow, read_boxoffice_csv
from services.ingest.domain.mailchimp import mailchimp_events
from services.ingest.domain.shopify import read_shopify_webhook, verify_shopify_hmac

NOW = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
ORGANISATION = "theatre-demo"


@cache
def season(seed: int = 11) -> Season:
    return generate_season(200, seed=seed, now=NOW, organisation_id=ORGANISATION)


def test_the_same_seed_gives_the_same_season_and_another_seed_another() -> None:
    again = generate_season(200, seed=11, now=NOW, organisation_id=ORGANISATION)
    other = season(12)

    assert again.boxoffice_exports == season().boxoffice_exports
    assert again.shopify == season().shopify
    assert again.mailchimp_subscribes == season().mailchimp_subscribes
    assert again.cloudevents == season().cloudevents
    assert other.boxoffice_exports != season().boxoffice_exports


def test_forty_performances_of_eight_productions_the_last_past_one_last_night() -> None:
    performances = schedule(NOW)
    past = [performance for performance in performances if performance.starts_at < NOW]

    assert len(performances) == 40
    assert Counter(performance.production for performance in performances) == dict.fromkeys(PRODUCTIONS, 5)
    assert {production.language for production in PRODUCTIONS} == {"fr", "en"}
    assert timedelta(0) < NOW - max(performance.starts_at for performance in past) < timedelta(days=1)


def test_amounts_are_written_the_french_way() -> None:
    from decimal import Decimal

    assert french_amount(Decimal("1234.5")) == "1\u00a0234,50\u00a0$"
    assert french_amount(Decimal("54.50")) == "54,50\u00a0$"


def test_the_box_office_exports_are_french_semicolon_files_the_importer_reads() -> None:
    outcomes = []
    for export in season().boxoffice_exports:
        text = export.decode("utf-8-sig") if export.startswith(b"\xef\xbb\xbf") else export.decode("cp1252")
        header = text.splitlines()[0]
        assert header.startswith("No de commande;Type;Date de commande;")
        assert "Date de représentation" in header
        outcomes += list(
            read_boxoffice_csv(
                io.BytesIO(export), organisation_id=ORGANISATION, source=season().sources.boxoffice, imported_at=NOW
            )
        )
    accepted = [outcome for outcome in outcomes if isinstance(outcome, AcceptedRow)]
    rejected = [outcome for outcome in outcomes if isinstance(outcome, RejectedRow)]
    types = Counter(envelope.type for outcome in accepted for envelope in outcome.envelopes)

    assert len(outcomes) == season().boxoffice_rows
    # Only walk-up buyers who left no name at all are refused, as the importer must.
    assert len(rejected) < len(outcomes) * 0.03
    assert {error.code for outcome in rejected for error in outcome.errors} <= {"person_unidentifiable"}
    assert types["parterre.ticket.purchased.v1"] > 0
    assert season().facts["walk-up orders"] > 0
    sample = next(outcome for outcome in accepted if outcome.envelopes[0].type == "parterre.ticket.purchased.v1")
    data = sample.envelopes[0].data
    assert data["performance"]["production_id"] in {production.production_id for production in PRODUCTIONS}


def test_shopify_webhooks_verify_with_the_shops_secret_and_parse_into_orders() -> None:
    secret = "shpss_test"
    types: Counter[str] = Counter()
    for webhook in season().shopify:
        assert verify_shopify_hmac(webhook.body, shopify_hmac(secret, webhook.body), [secret])
        envelopes = read_shopify_webhook(
            webhook.topic,
            json.loads(webhook.body),
            organisation_id=ORGANISATION,
            source=season().sources.shop,
            received_at=NOW,
        ).events
        types.update(envelope.type for envelope in envelopes)

    assert {webhook.topic for webhook in season().shopify} == {"orders/create", "orders/paid"}
    assert types["parterre.shop.order_placed.v1"] == len(season().shopify)
    assert types["parterre.consent.granted.v1"] > 0


def test_a_few_shop_customers_ask_for_their_data_and_one_other_to_be_erased_never_the_showcase_patron() -> None:
    requests = []
    for webhook in season().shopify_privacy:
        [envelope] = read_shopify_webhook(
            webhook.topic,
            json.loads(webhook.body),
            organisation_id=ORGANISATION,
            source=season().sources.shop,
            received_at=NOW,
        ).events
        requests.append(envelope)
    erasures = [envelope for envelope in requests if envelope.type == "parterre.privacy.erasure_requested.v1"]
    access = [envelope for envelope in requests if envelope.type == "parterre.privacy.access_requested.v1"]

    assert len(erasures) == season().facts["erasure requests"] == 1
    assert len(access) == season().facts["access requests"] >= 1
    assert len(requests) == len(season().shopify_privacy)
    emails = {str(envelope.data["person"]["email"]) for envelope in requests}
    assert len(emails) == len(requests)
    assert season().showcase_email not in emails
    # Each names the orders the customer placed in the shop.
    placed = {json.loads(webhook.body)["id"] for webhook in season().shopify}
    assert set(json.loads(season().shopify_privacy[-1].body)["orders_to_redact"]) <= placed


def test_mailchimp_webhooks_are_forms_that_subscribe_then_unsubscribe() -> None:
    kinds: Counter[str] = Counter()
    for body in season().mailchimp_subscribes + season().mailchimp_unsubscribes:
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        assert form["data[list_id]"]
        assert form["data[email]"]
        envelopes = mailchimp_events(
            form, organisation_id=ORGANISATION, source=season().sources.newsletter, received_at=NOW
        )
        kinds.update(envelope.type for envelope in envelopes)

    assert kinds["parterre.newsletter.subscribed.v1"] == len(season().mailchimp_subscribes)
    assert kinds["parterre.newsletter.unsubscribed.v1"] == len(season().mailchimp_unsubscribes) > 0


def test_gifts_opens_and_door_scans_are_cloudevents_the_events_api_accepts() -> None:
    events = list(season().cloudevents)
    verdicts = []
    for start in range(0, len(events), EVENTS_PER_BATCH):
        body = json.dumps(events[start : start + EVENTS_PER_BATCH]).encode()
        verdicts += read_api_events(
            body,
            "application/cloudevents-batch+json",
            organisation_id=ORGANISATION,
            received_at=NOW,
            limits=EventLimits(),
        )
    accepted = Counter(verdict.envelope.type for verdict in verdicts if verdict.envelope is not None)

    assert {event["type"] for event in events} == {
        "parterre.donation.made.v1",
        "parterre.email.opened.v1",
        "parterre.ticket.scanned.v1",
    }
    assert sum(accepted.values()) >= len(events) * 0.97
    assert len({event["id"] for event in events}) == len(events)
    # No scan is of a performance still to come.
    scans = [event for event in events if event["type"] == "parterre.ticket.scanned.v1"]
    assert all(datetime.fromisoformat(event["data"]["scanned_at"]) < NOW for event in scans)


def test_some_family_emails_are_shared_and_one_patron_is_known_to_several_systems() -> None:
    big = generate_season(1000, seed=3, now=NOW, organisation_id=ORGANISATION)

    assert big.facts["shared family emails"] > 0
    assert big.showcase_email is not None


def test_every_run_of_one_day_sends_the_same_records_and_the_next_day_another_season() -> None:
    morning = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)  # 09:05 in Montréal
    late_evening = datetime(2026, 11, 30, 4, 55, tzinfo=UTC)  # 23:55 in Montréal, the same day
    first = generate_season(200, seed=11, now=season_moment(morning), organisation_id=ORGANISATION)
    again = generate_season(200, seed=11, now=season_moment(late_evening), organisation_id=ORGANISATION)

    assert season_moment(morning) == datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
    assert again.shopify == first.shopify
    assert again.mailchimp_subscribes == first.mailchimp_subscribes
    assert again.mailchimp_unsubscribes == first.mailchimp_unsubscribes
    assert again.cloudevents == first.cloudevents
    assert again.boxoffice_exports == first.boxoffice_exports
    assert season_moment(late_evening + timedelta(minutes=10)) == datetime(2026, 11, 30, 5, 0, tzinfo=UTC)
