"""Trigger rules: each shipped rule fires on its transition and not otherwise, once per period, with consent."""

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from textwrap import dedent
from typing import Any
from uuid import uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.profile.domain.profile import EMPTY_PROFILE, fold, view
from services.profile.domain.rules import (
    TRIGGER_NAMESPACE,
    TriggerDecision,
    contact_points,
    evaluate_segments,
    evaluate_triggers,
    load_triggers,
    time_conditions_due,
)
from services.profile.domain.seasons import SeasonCalendar
from shared.events.common import Channel, ConsentPurpose
from shared.events.profile import ContactPoint, TriggerFiredV1
from tests.unit.profile.facts import THEATRE, performance, purchase, refund, subscription

from .shipped import AS_OF, PERSON, SCAN, SEGMENTS, TRIGGERS, fired, swept

MONTREAL_WINTER = timezone(timedelta(hours=-5), "EST")
EMAIL_CONSENT = {
    "emails": ["elise.gagnon@example.com"],
    "consent.marketing_email.status": "granted",
    "consent.marketing_email.basis": "express",
    "consent.marketing_email.allowed": True,
}


def patron(**fields: Any) -> dict[str, Any]:
    """A French-speaking patron who agreed to marketing email, with `fields` (dots written as `__`)."""
    return {"preferred_language": "fr", **EMAIL_CONSENT} | {
        name.replace("__", "."): value for name, value in fields.items()
    }


# Welcome after a first purchase


def test_a_first_ticket_purchase_fires_the_welcome_once_ever() -> None:
    after = patron(tickets_bought=2, productions=1, first_purchase_at=AS_OF - timedelta(minutes=5))
    decision = fired(patron(), after)["welcome-first-purchase"]
    assert decision.dedupe_key == f"welcome-first-purchase:{PERSON}:once"
    assert decision.trigger_id == str(uuid5(TRIGGER_NAMESPACE, decision.dedupe_key))
    assert decision.contact_points == ((Channel.EMAIL, "elise.gagnon@example.com"),)
    assert decision.facts["productions"] == 1
    assert decision.language == "fr"


def test_a_second_purchase_in_the_first_month_repeats_the_welcome_key_which_the_store_refuses() -> None:
    first = patron(tickets_bought=2, first_purchase_at=AS_OF - timedelta(days=3))
    second = first | {"tickets_bought": 4}
    assert fired(first, second)["welcome-first-purchase"].dedupe_key == f"welcome-first-purchase:{PERSON}:once"


def test_a_first_purchase_imported_from_years_ago_is_not_welcomed() -> None:
    after = patron(tickets_bought=30, first_purchase_at=datetime(2019, 3, 2, tzinfo=UTC))
    assert "welcome-first-purchase" not in fired(patron(), after)


def test_the_welcome_is_not_sent_once_the_first_month_has_passed() -> None:
    bought = patron(tickets_bought=1, first_purchase_at=AS_OF)
    assert "welcome-first-purchase" in swept(bought, as_of=AS_OF + timedelta(days=29))
    assert "welcome-first-purchase" not in swept(bought, as_of=AS_OF + timedelta(days=30))


# Subscription offer at the third production of a season


def season(label: str, productions: int, **fields: Any) -> dict[str, Any]:
    return patron(season__current__label=label, season__current__productions=productions, **fields)


@pytest.mark.parametrize("not_a_subscriber", [{"is_subscriber": False}, {}], ids=["false", "unknown"])
def test_a_third_production_this_season_fires_the_subscription_offer_for_a_non_subscriber(
    not_a_subscriber: dict[str, Any],
) -> None:
    decision = fired(season("2026-2027", 2, **not_a_subscriber), season("2026-2027", 3, **not_a_subscriber))[
        "subscription-offer-third-production"
    ]
    assert decision.dedupe_key == f"subscription-offer-third-production:{PERSON}:2026-2027"
    assert decision.facts["season.current.productions"] == 3


def test_a_subscriber_reaching_a_third_production_gets_no_offer() -> None:
    assert "subscription-offer-third-production" not in fired(
        season("2026-2027", 2, is_subscriber=True), season("2026-2027", 3, is_subscriber=True)
    )


def test_the_fourth_production_does_not_fire_the_offer_again() -> None:
    assert "subscription-offer-third-production" not in fired(season("2026-2027", 3), season("2026-2027", 4))


def test_three_productions_of_the_coming_season_booked_in_summer_make_the_offer_when_it_begins() -> None:
    # Offered last season already: the new season is a new chance, though the condition held on both sides.
    begun = fired(season("2025-2026", 3), season("2026-2027", 3), cause=None, event_id=None)
    assert begun["subscription-offer-third-production"].dedupe_key.endswith(":2026-2027")
    # Or, the season's start not swept yet, at the next purchase of that season.
    fourth = fired(season("2025-2026", 3), season("2026-2027", 4))["subscription-offer-third-production"]
    assert fourth.dedupe_key.endswith(":2026-2027")


def test_two_productions_bought_at_once_still_cross_the_third() -> None:
    assert "subscription-offer-third-production" in fired(season("2026-2027", 2), season("2026-2027", 4))


def test_the_offer_fires_again_at_the_third_production_of_the_next_season_under_a_new_key() -> None:
    this_season = fired(season("2026-2027", 2), season("2026-2027", 3))["subscription-offer-third-production"]
    next_season = fired(season("2027-2028", 2), season("2027-2028", 3), as_of=AS_OF + timedelta(days=365))[
        "subscription-offer-third-production"
    ]
    assert next_season.dedupe_key == f"subscription-offer-third-production:{PERSON}:2027-2028"
    assert next_season.trigger_id != this_season.trigger_id


@pytest.mark.parametrize(
    ("cause", "event_id"), [(None, None), ("parterre.ticket.refunded.v1", "evt-2")], ids=["sweep", "fact"]
)
def test_a_pass_running_out_after_the_third_production_makes_no_offer(cause: str | None, event_id: str | None) -> None:
    # The pass ends June 30, the season in August: its holder did not reach a third production without one.
    holder = season("2026-2027", 3, is_subscriber=True)
    ran_out = season("2026-2027", 3, is_subscriber=False)

    assert "subscription-offer-third-production" not in fired(holder, ran_out, cause=cause, event_id=event_id)


def test_a_patron_whose_pass_ran_out_is_offered_one_on_reaching_a_third_production_of_the_next_season() -> None:
    next_season = fired(season("2027-2028", 2), season("2027-2028", 3), as_of=AS_OF + timedelta(days=365))
    assert "subscription-offer-third-production" in next_season


def test_a_pass_holder_s_profile_swept_when_the_pass_ends_makes_no_offer() -> None:
    # Three productions of 2026-2027 booked with a pass valid until June 30, 2027; the season runs to August 31.
    history = [
        subscription(datetime(2026, 8, 1, 15, tzinfo=UTC), starts_on=date(2026, 9, 1), ends_on=date(2027, 6, 30))
    ]
    for month, production in enumerate(["belles-soeurs", "hamlet", "cyrano"]):
        show = performance(datetime(2026, 10 + month, 10, 0, tzinfo=UTC), production_id=production)
        history.append(
            purchase(datetime(2026, 8, 2 + month, 15, tzinfo=UTC), show, f"T-{month}", order_id=f"O-{month}")
        )
    state = fold(history)
    pass_ends = datetime(2027, 7, 1, 4, tzinfo=UTC)

    before = view(state, as_of=pass_ends - timedelta(microseconds=1), seasons=THEATRE)
    after = view(state, as_of=pass_ends, seasons=THEATRE)

    assert (before["is_subscriber"], after["is_subscriber"], after["season.current.productions"]) == (True, False, 3)
    assert "subscription-offer-third-production" not in fired(before, after, as_of=pass_ends, cause=None, event_id=None)


def test_the_time_sweep_never_fires_the_offer() -> None:
    assert "subscription-offer-third-production" not in swept(season("2026-2027", 5))


# Lapsed buyer


LAST_PURCHASE = datetime(2025, 11, 10, 19, 0, tzinfo=UTC)


def test_the_sweep_fires_the_lapsed_rule_once_per_last_purchase_after_12_months() -> None:
    buyer = patron(tickets_bought=6, last_purchase_at=LAST_PURCHASE)
    decision = swept(buyer, as_of=datetime(2026, 11, 10, 19, 0, tzinfo=UTC))["lapsed-buyer"]
    assert decision.dedupe_key == f"lapsed-buyer:{PERSON}:2025-11-10T19:00:00Z"
    assert "lapsed-buyer" not in swept(buyer, as_of=datetime(2026, 11, 10, 18, 59, tzinfo=UTC))


def test_a_patron_who_never_bought_a_ticket_is_not_lapsed() -> None:
    assert "lapsed-buyer" not in swept(patron(tickets_bought=0, last_order_at=LAST_PURCHASE))


def test_a_patron_who_comes_back_and_lapses_again_is_asked_again() -> None:
    first = swept(patron(tickets_bought=6, last_purchase_at=LAST_PURCHASE))["lapsed-buyer"]
    returned = patron(tickets_bought=8, last_purchase_at=LAST_PURCHASE + timedelta(days=400))
    assert "lapsed-buyer" not in swept(returned, as_of=LAST_PURCHASE + timedelta(days=500))
    again = swept(returned, as_of=LAST_PURCHASE + timedelta(days=780))["lapsed-buyer"]
    assert again.dedupe_key != first.dedupe_key


def test_a_lapsed_buyer_is_asked_again_only_for_a_last_purchase_a_whole_lapse_after_the_one_asked_about() -> None:
    asked_about = datetime(2025, 11, 10, 19, 0, tzinfo=UTC)
    sent = [f"lapsed-buyer:{asked_about:%Y-%m-%dT%H:%M:%SZ}"]

    def win_back(last_purchase_at: datetime, as_of: datetime) -> bool:
        buyer = patron(tickets_bought=6, last_purchase_at=last_purchase_at)
        decisions = evaluate_triggers(
            TRIGGERS,
            buyer,
            buyer,
            as_of=as_of,
            cause_event_type=None,
            cause_event_id=None,
            person_id=PERSON,
            sent=sent,
        )
        return "lapsed-buyer" in {decision.rule for decision in decisions}

    # Imported history: a purchase five days after the one she was asked about, each a year old by now.
    assert not win_back(asked_about + timedelta(days=5), asked_about + timedelta(days=375))
    # She came back after being asked, and lapsed again: asked again.
    came_back = asked_about + timedelta(days=370)
    assert win_back(came_back, came_back + timedelta(days=366))


def test_a_buyer_or_donor_who_lapsed_over_a_month_ago_as_old_history_imported_shows_is_not_asked() -> None:
    # Importing a patron's purchases one after another, each more than a year old, would ask once for each.
    buyer = patron(tickets_bought=2, last_purchase_at=LAST_PURCHASE)
    donor = patron(donations_count=1, last_donation_at=LAST_PURCHASE)
    for lapsed in (buyer, donor):
        assert {"lapsed-buyer", "lapsed-donor"} & set(swept(lapsed, as_of=LAST_PURCHASE + timedelta(days=380)))
        assert not {"lapsed-buyer", "lapsed-donor"} & set(swept(lapsed, as_of=LAST_PURCHASE + timedelta(days=400)))


LAST_GIFT = datetime(2025, 3, 10, 17, 0, tzinfo=UTC)


def test_the_sweep_asks_a_donor_again_12_months_after_their_last_gift_once_per_gift() -> None:
    donor = patron(donations_count=2, last_donation_at=LAST_GIFT)
    decision = swept(donor, as_of=datetime(2026, 3, 10, 17, 0, tzinfo=UTC))["lapsed-donor"]
    assert decision.dedupe_key == f"lapsed-donor:{PERSON}:2025-03-10T17:00:00Z"
    assert "lapsed-donor" not in swept(donor, as_of=datetime(2026, 3, 10, 16, 59, tzinfo=UTC))
    gave_again = patron(donations_count=3, last_donation_at=LAST_GIFT + timedelta(days=300))
    assert "lapsed-donor" not in swept(gave_again, as_of=datetime(2026, 3, 10, 17, 0, tzinfo=UTC))


def test_a_patron_who_never_gave_is_no_lapsed_donor() -> None:
    assert "lapsed-donor" not in swept(patron(donations_count=0, last_purchase_at=LAST_PURCHASE))


def test_an_event_of_a_lapsed_patron_repeats_the_key_the_sweep_already_stored() -> None:
    buyer = patron(tickets_bought=6, last_purchase_at=LAST_PURCHASE, opens_30d=1)
    opened = buyer | {"opens_30d": 2}
    from_event = fired(buyer, opened, cause="parterre.email.opened.v1")["lapsed-buyer"]
    assert from_event.dedupe_key == swept(buyer)["lapsed-buyer"].dedupe_key


# Thank-you after a scan


PERFORMANCE = "belles-soeurs-2026-11-15-20h"
CURTAIN = AS_OF - timedelta(hours=2)


def attended(performance_at: datetime, count: int = 1) -> dict[str, Any]:
    return patron(performances_attended=count, last_performance_at=performance_at)


def thanked(
    before: dict[str, Any], after: dict[str, Any], *, performance_at: datetime = CURTAIN, **cause: Any
) -> dict[str, TriggerDecision]:
    """The shipped rules a scan fires, of performance PERFORMANCE starting at `performance_at` unless told."""
    return fired(before, after, cause=SCAN, performance_at=performance_at, **{"performance_id": PERFORMANCE} | cause)


def test_a_scan_fires_a_thank_you_keyed_by_the_performance_scanned() -> None:
    before, after = attended(AS_OF - timedelta(days=40), 1), attended(CURTAIN, 2)
    decision = thanked(before, after, event_id="evt-scan-88210")["thank-you-after-performance"]
    assert decision.dedupe_key == f"thank-you-after-performance:{PERSON}:{PERFORMANCE}"
    redelivered = thanked(before, after, event_id="evt-scan-88210")["thank-you-after-performance"]
    assert redelivered.trigger_id == decision.trigger_id


def test_two_tickets_scanned_at_one_performance_thank_the_patron_once() -> None:
    after = attended(CURTAIN, 1)
    first = thanked(patron(), after, event_id="evt-scan-88210-1")["thank-you-after-performance"]
    second = thanked(after, after, event_id="evt-scan-88210-2")["thank-you-after-performance"]
    # The same key: the store refuses the second.
    assert second.dedupe_key == first.dedupe_key
    assert second.trigger_id == first.trigger_id


def test_scans_at_two_performances_thank_the_patron_for_each() -> None:
    after = attended(CURTAIN, 2)
    first = thanked(patron(), after, event_id="evt-scan-1")["thank-you-after-performance"]
    second = thanked(after, after, event_id="evt-scan-2", performance_id="belles-soeurs-2026-11-16-14h")
    assert second["thank-you-after-performance"].dedupe_key != first.dedupe_key


def test_a_scan_naming_no_performance_thanks_no_one() -> None:
    after = attended(CURTAIN)
    assert "thank-you-after-performance" not in thanked(patron(), after, performance_id=None)


def test_a_first_timer_scanned_before_the_curtain_rises_is_thanked() -> None:
    # The profile counts a performance once it has begun: at the door, it has none yet.
    assert "thank-you-after-performance" in thanked(patron(), patron(), performance_at=AS_OF + timedelta(minutes=18))


def test_the_same_change_from_another_event_thanks_no_one() -> None:
    after = attended(CURTAIN)
    purchase = fired(
        patron(), after, cause="parterre.ticket.purchased.v1", performance_id=PERFORMANCE, performance_at=CURTAIN
    )
    assert "thank-you-after-performance" not in purchase
    assert "thank-you-after-performance" not in swept(after)


def test_a_scan_of_a_performance_long_past_imported_late_is_not_thanked() -> None:
    assert "thank-you-after-performance" not in thanked(
        patron(), attended(AS_OF - timedelta(days=10)), performance_at=AS_OF - timedelta(days=10)
    )


def test_a_late_scan_of_a_show_long_past_is_not_thanked_though_the_patron_saw_another_yesterday() -> None:
    yesterday = attended(AS_OF - timedelta(days=1), 1)
    late = thanked(yesterday, attended(AS_OF - timedelta(days=1), 2), performance_at=AS_OF - timedelta(days=10))
    assert "thank-you-after-performance" not in late


# Donor anniversary


FIRST_GIFT = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)


def donor(first_gift: datetime = FIRST_GIFT) -> dict[str, Any]:
    return patron(donations_count=1, donations_total=Decimal(100), first_donation_at=first_gift)


def test_the_donor_anniversary_fires_on_each_anniversary_of_the_first_gift() -> None:
    assert "donor-anniversary" not in swept(donor(), as_of=datetime(2026, 3, 10, 14, 59, tzinfo=UTC))
    first = swept(donor(), as_of=datetime(2026, 3, 10, 15, 0, tzinfo=UTC))["donor-anniversary"]
    assert first.dedupe_key == f"donor-anniversary:{PERSON}:2026-03-10"
    # A sweep a few days late (the service was stopped) still marks it, under the same key.
    days_late = swept(donor(), as_of=datetime(2026, 3, 17, 14, 59, tzinfo=UTC))["donor-anniversary"]
    assert days_late.dedupe_key == first.dedupe_key
    second = swept(donor(), as_of=datetime(2027, 3, 12, tzinfo=UTC))["donor-anniversary"]
    assert second.dedupe_key == f"donor-anniversary:{PERSON}:2027-03-10"


def test_an_anniversary_passed_more_than_a_week_ago_waits_for_the_next() -> None:
    assert "donor-anniversary" not in swept(donor(), as_of=datetime(2026, 3, 17, 15, 0, tzinfo=UTC))
    assert "donor-anniversary" not in swept(donor(), as_of=datetime(2026, 12, 24, tzinfo=UTC))


def test_an_older_first_gift_imported_since_is_not_celebrated_months_after_its_anniversary() -> None:
    # Thanked on March 10 for the first gift known then; in June, a 2024 gift from the old system is imported.
    imported = donor(datetime(2024, 9, 1, 12, 0, tzinfo=UTC))
    before, after = donor(), imported
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    assert "donor-anniversary" not in fired(before, after, as_of=as_of)
    assert "donor-anniversary" not in swept(imported, as_of=as_of)
    on_the_day = swept(imported, as_of=datetime(2026, 9, 1, 12, 0, tzinfo=UTC))["donor-anniversary"]
    assert on_the_day.dedupe_key == f"donor-anniversary:{PERSON}:2026-09-01"


def test_a_gift_on_february_29_is_remembered_on_the_28th_and_on_the_29th_in_leap_years() -> None:
    leap_donor = donor(datetime(2024, 2, 29, 12, 0, tzinfo=UTC))
    keys = [
        swept(leap_donor, as_of=datetime(year, 3, 1, tzinfo=UTC))["donor-anniversary"].dedupe_key
        for year in (2025, 2027, 2028)
    ]
    assert [key.rsplit(":", 1)[1] for key in keys] == ["2025-02-28", "2027-02-28", "2028-02-29"]


def test_a_patron_who_never_gave_has_no_anniversary() -> None:
    assert "donor-anniversary" not in swept(patron(donations_count=0))


GIFT_ANNIVERSARY = load_triggers(
    dedent("""\
        triggers:
          gift-anniversary:
            title: {fr: Anniversaire du premier don, en: Anniversary of the first gift}
            description: Thank a donor on each anniversary of their first gift.
            when: {field: donations_count, op: gte, value: 1}
            period: year
            counted_from: first_donation_at
        """)
)


def test_a_rule_counted_in_years_from_a_date_fires_on_each_anniversary_though_its_condition_tests_no_time() -> None:
    def keys(before: dict[str, Any], after: dict[str, Any], as_of: datetime, cause: str | None) -> list[str]:
        decisions = evaluate_triggers(
            GIFT_ANNIVERSARY,
            before,
            after,
            as_of=as_of,
            cause_event_type=cause,
            cause_event_id=None if cause is None else "evt-gift",
            person_id=PERSON,
        )
        return [decision.dedupe_key.rsplit(":", 1)[1] for decision in decisions]

    gift = "parterre.donation.made.v1"
    assert keys({}, donor(), FIRST_GIFT, gift) == ["2025-03-10"]
    assert time_conditions_due([GIFT_ANNIVERSARY], donor(), FIRST_GIFT + timedelta(days=30)) == datetime(
        2026, 3, 10, 15, 0, tzinfo=UTC
    )
    assert keys(donor(), donor(), datetime(2026, 3, 10, 15, 0, tzinfo=UTC), None) == ["2026-03-10"]
    # Given first weeks after an anniversary (imported), it waits for the next one rather than never firing.
    imported_at = datetime(2026, 4, 1, tzinfo=UTC)
    assert keys({}, donor(), imported_at, gift) == []
    # At 11:00 in Montréal, the hour of the gift there, in winter time in 2027.
    assert time_conditions_due([GIFT_ANNIVERSARY], donor(), imported_at) == datetime(2027, 3, 10, 16, 0, tzinfo=UTC)
    assert keys(donor(), donor(), datetime(2027, 3, 10, 16, 0, tzinfo=UTC), None) == ["2027-03-10"]


# Express consent before implied consent expires


def implied(expires_in: timedelta, basis: str = "implied_purchase", status: str = "granted") -> dict[str, Any]:
    return patron(
        consent__marketing_email__basis=basis,
        consent__marketing_email__status=status,
        consent__marketing_email__allowed=status == "granted",
        consent__marketing_email__expires_at=AS_OF + expires_in,
    )


def test_implied_consent_ending_within_30_days_fires_a_request_for_express_consent() -> None:
    decision = swept(implied(timedelta(days=20)))["express-consent-before-expiry"]
    assert decision.contact_points == ((Channel.EMAIL, "elise.gagnon@example.com"),)
    assert decision.facts["consent.marketing_email.basis"] == "implied_purchase"
    assert decision.dedupe_key.startswith(f"express-consent-before-expiry:{PERSON}:2026-12-05T")


@pytest.mark.parametrize(
    "profile",
    [
        implied(timedelta(days=40)),
        implied(timedelta(days=20), basis="express"),
        implied(timedelta(days=20), status="withdrawn"),
        implied(-timedelta(days=1)),
    ],
    ids=["far from expiry", "express consent", "withdrawn", "already expired"],
)
def test_no_request_is_made_for_consent_that_is_not_implied_and_about_to_end(profile: dict[str, Any]) -> None:
    assert "express-consent-before-expiry" not in swept(profile)


def test_implied_consent_renewed_by_a_purchase_leads_to_a_new_request_before_its_new_end() -> None:
    first = swept(implied(timedelta(days=20)))["express-consent-before-expiry"]
    later = swept(implied(timedelta(days=750)), as_of=AS_OF + timedelta(days=730))["express-consent-before-expiry"]
    assert later.dedupe_key != first.dedupe_key


# High-value patron


def spent(
    tickets: str, shop: str | None = None, donations: str | None = None, subscriptions: str | None = None
) -> dict[str, Any]:
    amounts = {
        "ticket_spend": tickets,
        "shop_spend": shop,
        "donations_total": donations,
        "subscription_spend": subscriptions,
    }
    return patron(**{name: Decimal(amount) for name, amount in amounts.items() if amount is not None})


def test_crossing_2500_dollars_in_tickets_shop_and_gifts_fires_the_high_value_rule_once() -> None:
    decision = fired(spent("1800", "200"), spent("1800", "200", "500"))["high-value-patron"]
    assert decision.dedupe_key == f"high-value-patron:{PERSON}:once"
    assert decision.facts["donations_total"] == Decimal(500)
    assert "high-value-patron" not in fired(spent("1800", "200", "500"), spent("2100", "200", "500"))


def test_season_passes_and_memberships_count_towards_the_high_value_rule() -> None:
    decision = fired(spent("300"), spent("300", subscriptions="2200"))["high-value-patron"]
    assert decision.facts["subscription_spend"] == Decimal(2200)
    assert "high-value-patron" not in fired(spent("300"), spent("300", subscriptions="2199.99"))


def test_a_membership_of_2600_dollars_alone_makes_a_high_value_patron_as_it_makes_the_top_monetary_score() -> None:
    membership = subscription(AS_OF - timedelta(days=1), kind="membership", price="2600.00", ends_on=None)
    after = view(fold([membership]), as_of=AS_OF, seasons=SeasonCalendar())
    assert (after["rfm.monetary"], after["subscription_spend"]) == (5, Decimal("2600.00"))
    assert "high-value-patron" in fired(view(EMPTY_PROFILE, as_of=AS_OF, seasons=SeasonCalendar()), after)


def test_exactly_2500_dollars_is_high_value_and_missing_amounts_count_as_nothing() -> None:
    assert "high-value-patron" in fired(spent("2499.99"), spent("2500.00"))
    assert "high-value-patron" not in fired(spent("2000"), spent("2499.99"))


# Dedupe keys per period

PERIOD_RULES = load_triggers(
    dedent("""\
        triggers:
          every-once:
            title: {fr: Once., en: Once.}
            description: Once.
            when: {field: tickets_bought, op: gt, value: 0}
            period: once
          every-season:
            title: {fr: Once a season., en: Once a season.}
            description: Once a season.
            when: {field: tickets_bought, op: gt, value: 0}
            period: season
          every-year:
            title: {fr: Once a calendar year., en: Once a calendar year.}
            description: Once a calendar year.
            when: {field: tickets_bought, op: gt, value: 0}
            period: year
          every-month:
            title: {fr: Once a calendar month., en: Once a calendar month.}
            description: Once a calendar month.
            when: {field: tickets_bought, op: gt, value: 0}
            period: month
          every-event:
            title: {fr: Once an event., en: Once an event.}
            description: Once an event.
            when: {field: tickets_bought, op: gt, value: 0}
            period: per_event
          every-performance:
            title: {fr: Once a performance., en: Once a performance.}
            description: Once a performance.
            on: [parterre.ticket.purchased.v1]
            when: {field: tickets_bought, op: gt, value: 0}
            period: per_performance
          once-per-first-purchase:
            title: {fr: Once per first purchase date., en: Once per first purchase date.}
            description: Once per first purchase date.
            when: {field: tickets_bought, op: gt, value: 0}
            period: once
            counted_from: first_purchase_at
          monthly-since-first-purchase:
            title: {fr: Once a month since the first purchase., en: Once a month since the first purchase.}
            description: Once a month since the first purchase.
            when: {field: tickets_bought, op: gt, value: 0}
            period: month
            counted_from: first_purchase_at
        """)
)


def period_keys(before: dict[str, Any], after: dict[str, Any], **options: Any) -> dict[str, str]:
    arguments: dict[str, Any] = {
        "as_of": AS_OF,
        "cause_event_type": "parterre.ticket.purchased.v1",
        "cause_event_id": "evt-77",
        "cause_performance_id": "belles-soeurs-2026-11-20-20h",
        "person_id": PERSON,
    } | options
    decisions = evaluate_triggers(PERIOD_RULES, before, after, **arguments)
    person = arguments["person_id"]
    return {decision.rule: decision.dedupe_key.removeprefix(f"{decision.rule}:{person}:") for decision in decisions}


def test_each_period_names_its_part_of_the_dedupe_key() -> None:
    after = {
        "tickets_bought": 1,
        "season.current.label": "2026-2027",
        "first_purchase_at": datetime(2026, 1, 10, 20, 30, tzinfo=UTC),
    }
    assert period_keys({}, after) == {
        "every-once": "once",
        "every-season": "2026-2027",
        "every-year": "2026",
        "every-month": "2026-11",
        "every-event": "evt-77",
        "every-performance": "belles-soeurs-2026-11-20-20h",
        "once-per-first-purchase": "2026-01-10T20:30:00Z",
        "monthly-since-first-purchase": "2026-11-10",
    }


def test_a_period_that_cannot_be_named_fires_nothing() -> None:
    keys = period_keys({}, {"tickets_bought": 1}, cause_event_id=None, cause_performance_id=None)
    assert set(keys) == {"every-once", "every-year", "every-month"}


def test_a_counted_from_date_stored_with_another_offset_gives_the_same_key() -> None:
    bought = datetime(2026, 1, 31, 20, 30, tzinfo=UTC)
    in_utc = period_keys({}, {"tickets_bought": 1, "first_purchase_at": bought})
    elsewhere = period_keys({}, {"tickets_bought": 1, "first_purchase_at": bought.astimezone(MONTREAL_WINTER)})
    assert in_utc["once-per-first-purchase"] == elsewhere["once-per-first-purchase"]


def test_two_persons_firing_one_rule_in_one_period_get_different_keys_and_ids() -> None:
    one = period_keys({}, {"tickets_bought": 1}, person_id="per_a")
    other = period_keys({}, {"tickets_bought": 1}, person_id="per_b")
    assert one == other, "the same periods"
    decisions = [
        evaluate_triggers(
            PERIOD_RULES,
            {},
            {"tickets_bought": 1},
            as_of=AS_OF,
            cause_event_type=None,
            cause_event_id=None,
            person_id=person,
        )
        for person in ("per_a", "per_b")
    ]
    assert {d.dedupe_key for d in decisions[0]}.isdisjoint({d.dedupe_key for d in decisions[1]})
    assert {d.trigger_id for d in decisions[0]}.isdisjoint({d.trigger_id for d in decisions[1]})


# Contact points and consent


def test_no_contact_point_is_given_without_consent_for_the_purpose() -> None:
    profile = {"emails": ["a@b.example"], "phones": ["+15145550199"], "postal_code": "H2J 2L1"}
    for purpose in ConsentPurpose:
        assert contact_points(profile, purpose) == []
    assert contact_points(profile | {"consent.marketing_email.allowed": False}, ConsentPurpose.MARKETING_EMAIL) == []
    assert contact_points(profile | {"consent.marketing_email.allowed": "yes"}, ConsentPurpose.MARKETING_EMAIL) == []


def test_each_purpose_gives_the_channel_its_consent_covers() -> None:
    profile: dict[str, Any] = {
        "emails": ["a@b.example", "c@d.example", "a@b.example"],
        "phones": ["+15145550199"],
        "city": "Montréal",
        "postal_code": "H2J 2L1",
    } | {f"consent.{purpose}.allowed": True for purpose in ConsentPurpose}
    assert contact_points(profile, ConsentPurpose.MARKETING_EMAIL) == [
        (Channel.EMAIL, "a@b.example"),
        (Channel.EMAIL, "c@d.example"),
    ]
    assert contact_points(profile, ConsentPurpose.SMS) == [(Channel.SMS, "+15145550199")]
    assert contact_points(profile, ConsentPurpose.POSTAL) == [(Channel.POSTAL, "Montréal, H2J 2L1")]
    assert contact_points(profile, ConsentPurpose.SURVEY) == contact_points(profile, ConsentPurpose.MARKETING_EMAIL)


def test_an_address_the_profile_names_undeliverable_is_no_contact_point_for_any_email_purpose() -> None:
    profile: dict[str, Any] = {
        "emails": ["morte@example.com", "vivante@example.com"],
        "undeliverable_emails": ["morte@example.com"],
        "phones": ["+15145550199"],
    } | {f"consent.{purpose}.allowed": True for purpose in ConsentPurpose}

    for purpose in (ConsentPurpose.MARKETING_EMAIL, ConsentPurpose.SURVEY):
        assert contact_points(profile, purpose) == [(Channel.EMAIL, "vivante@example.com")]
    assert contact_points(profile, ConsentPurpose.SMS) == [(Channel.SMS, "+15145550199")]
    every_address_dead = profile | {"undeliverable_emails": profile["emails"]}
    assert contact_points(every_address_dead, ConsentPurpose.MARKETING_EMAIL) == []


def test_a_trigger_fired_for_a_patron_whose_only_address_is_undeliverable_names_no_email() -> None:
    after = patron(tickets_bought=2, productions=1, first_purchase_at=AS_OF - timedelta(minutes=5))
    dead = after | {"undeliverable_emails": after["emails"]}

    assert fired(patron(), dead)["welcome-first-purchase"].contact_points == ()


def test_a_patron_with_more_addresses_than_a_trigger_carries_gets_the_most_recent_ones() -> None:
    # Seen under 34 addresses over the years: the trigger event carries at most 20, and must still be valid.
    emails = [f"patron.{n}@example.com" for n in range(34)]
    profile = {"emails": emails, "consent.marketing_email.allowed": True}

    points = contact_points(profile, ConsentPurpose.MARKETING_EMAIL)

    assert points == [(Channel.EMAIL, email) for email in emails[:20]]
    TriggerFiredV1(
        trigger_id="t",
        rule="welcome-first-purchase",
        dedupe_key="k",
        person_id="per_a",
        language="fr",
        contact_points=[ContactPoint(channel=channel, value=value) for channel, value in points],
        fired_at=AS_OF,
    )


def test_consent_to_sms_gives_nothing_to_a_patron_without_a_phone_and_postal_nothing_without_a_postal_code() -> None:
    assert contact_points({"consent.sms.allowed": True, "emails": ["a@b.example"]}, ConsentPurpose.SMS) == []
    assert contact_points({"consent.postal.allowed": True, "city": "Québec"}, ConsentPurpose.POSTAL) == []


def test_implied_consent_that_ended_counts_as_none_even_if_still_marked_allowed() -> None:
    profile = {
        "emails": ["a@b.example"],
        "consent.marketing_email.allowed": True,
        "consent.marketing_email.expires_at": AS_OF,
    }
    assert contact_points(profile, ConsentPurpose.MARKETING_EMAIL, as_of=AS_OF) == []
    assert contact_points(profile, ConsentPurpose.MARKETING_EMAIL, as_of=AS_OF - timedelta(seconds=1)) != []


def test_a_trigger_for_a_patron_without_consent_fires_with_no_contact_points_in_their_language() -> None:
    after = {"preferred_language": "en", "emails": ["a@b.example"], "ticket_spend": Decimal(3000)}
    decision = fired({"preferred_language": "en"}, after)["high-value-patron"]
    assert decision.contact_points == ()
    assert decision.language == "en"


def test_a_decision_becomes_a_trigger_event_whose_facts_serialise() -> None:
    decision = fired(spent("2400"), spent("2400", "150"))["high-value-patron"]
    event = decision.as_event()
    assert event.dedupe_key == decision.dedupe_key
    assert event.contact_points[0].channel is Channel.EMAIL
    data = json.loads(event.model_dump_json())
    assert data["facts"]["shop_spend"] == "150"
    assert data["fired_at"] == "2026-11-15T19:00:00Z"


def test_a_trigger_with_the_longest_email_and_performance_id_the_events_accept_becomes_an_event() -> None:
    # What ingest accepts must not fail the trigger it makes: an email of 226 characters (up to 254 are valid), and a
    # performance id of 256, which with the rule and person makes a key longer than a dedupe key may be.
    email = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 30}.ca"
    long_performance = "p" * 256
    after = attended(CURTAIN, 2) | {"emails": [email]}
    decision = thanked(attended(AS_OF - timedelta(days=40), 1), after, performance_id=long_performance)[
        "thank-you-after-performance"
    ]
    event = decision.as_event()
    assert event.contact_points == [ContactPoint(channel=Channel.EMAIL, value=email)]
    assert len(event.dedupe_key) <= 256
    assert event.dedupe_key.startswith(f"thank-you-after-performance:{PERSON}:#")
    other = thanked(attended(AS_OF - timedelta(days=40), 1), after, performance_id=long_performance[:-1] + "q")
    assert other["thank-you-after-performance"].dedupe_key != decision.dedupe_key


# Determinism

amounts = st.none() | st.decimals(min_value=0, max_value=4000, places=2)
moments = st.none() | st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
trigger_profiles = st.fixed_dictionaries(
    {},
    optional={
        "tickets_bought": st.integers(0, 5),
        "ticket_spend": amounts,
        "shop_spend": amounts,
        "donations_total": amounts,
        "first_purchase_at": moments,
        "last_purchase_at": moments,
        "last_performance_at": moments,
        "first_donation_at": moments,
        "season.current.label": st.sampled_from(["2026-2027", "2027-2028"]),
        "season.current.productions": st.integers(0, 5),
        "is_subscriber": st.booleans(),
        "consent.marketing_email.allowed": st.booleans(),
        "consent.marketing_email.basis": st.sampled_from(["express", "implied_purchase"]),
        "consent.marketing_email.status": st.just("granted"),
        "consent.marketing_email.expires_at": moments,
        "emails": st.just(["a@b.example"]),
    },
)


@given(trigger_profiles, trigger_profiles, st.sampled_from([None, SCAN, "parterre.ticket.purchased.v1"]))
def test_the_same_change_always_fires_the_same_triggers_with_the_same_ids(
    before: dict[str, Any], after: dict[str, Any], cause: str | None
) -> None:
    def evaluate(first: dict[str, Any], second: dict[str, Any]) -> list[Any]:
        return evaluate_triggers(
            TRIGGERS, first, second, as_of=AS_OF, cause_event_type=cause, cause_event_id="evt-1", person_id=PERSON
        )

    decisions = evaluate(before, after)
    assert evaluate(before, after) == decisions
    assert evaluate(dict(reversed(before.items())), dict(reversed(after.items()))) == decisions
    assert all(decision.trigger_id == str(uuid5(TRIGGER_NAMESPACE, decision.dedupe_key)) for decision in decisions)


@given(trigger_profiles, trigger_profiles)
def test_a_merge_looks_only_at_rules_counted_by_a_fixed_period_that_fire_when_their_condition_comes_to_hold(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    def evaluate(*, conditions_only: bool) -> set[str]:
        decisions = evaluate_triggers(
            TRIGGERS,
            before,
            after,
            as_of=AS_OF,
            cause_event_type=None,
            cause_event_id=None,
            person_id=PERSON,
            conditions_only=conditions_only,
        )
        return {decision.rule for decision in decisions}

    looked_at = {rule.name for rule in TRIGGERS.rules if not rule.fires_while_true and rule.counted_from is None}

    assert evaluate(conditions_only=True) == evaluate(conditions_only=False) & looked_at
    assert looked_at == {"subscription-offer-third-production", "high-value-patron"}


def test_a_ticket_scanned_days_ahead_of_its_performance_is_not_thanked_yet() -> None:
    assert "thank-you-after-performance" not in thanked(patron(), patron(), performance_at=AS_OF + timedelta(days=7))
    assert "thank-you-after-performance" not in thanked(patron(), patron(), performance_at=AS_OF + timedelta(hours=4))


SHOW_2023 = performance(datetime(2023, 11, 10, 0, tzinfo=UTC), production_id="annule-2023")
SHOW_2025 = performance(datetime(2025, 2, 1, 0, tzinfo=UTC))
SHOW_2026 = performance(datetime(2026, 3, 1, 0, tzinfo=UTC), production_id="giselle")


def test_a_first_real_purchase_after_an_order_refunded_in_full_years_ago_is_welcomed() -> None:
    # A show cancelled in 2023, refunded in full: the patron bought nothing until 2026.
    history = [
        purchase(datetime(2023, 9, 1, 15, tzinfo=UTC), SHOW_2023, "T-OLD", order_id="O-OLD"),
        refund(datetime(2023, 10, 1, 15, tzinfo=UTC), "T-OLD"),
        purchase(datetime(2026, 1, 10, 15, tzinfo=UTC), SHOW_2026, "T-NEW", order_id="O-NEW"),
    ]
    as_of = datetime(2026, 1, 11, tzinfo=UTC)
    profile = view(fold(history), as_of=as_of, seasons=THEATRE)

    assert profile["first_purchase_at"] == datetime(2026, 1, 10, 15, tzinfo=UTC)
    assert "welcome-first-purchase" in swept(profile, as_of=as_of)


def test_a_buyer_whose_only_recent_order_was_refunded_in_full_lapses_from_the_purchase_kept() -> None:
    history = [
        purchase(datetime(2025, 1, 10, 15, tzinfo=UTC), SHOW_2025, "T-1", order_id="O-1"),
        purchase(datetime(2025, 12, 1, 15, tzinfo=UTC), SHOW_2026, "T-2", order_id="O-2"),
        refund(datetime(2025, 12, 2, 15, tzinfo=UTC), "T-2"),
    ]
    as_of = datetime(2026, 2, 1, tzinfo=UTC)
    profile = view(fold(history), as_of=as_of, seasons=THEATRE)

    assert profile["lifecycle_stage"] == "lapsed"
    assert profile["last_purchase_at"] == datetime(2025, 1, 10, 15, tzinfo=UTC)
    assert "lapsed-buyers" in evaluate_segments(SEGMENTS, profile, as_of)
    assert "lapsed-buyer" in swept(profile, as_of=as_of)
    # An order with one of its tickets refunded is kept: its time still counts.
    partly = [
        history[0],
        purchase(datetime(2025, 12, 1, 15, tzinfo=UTC), SHOW_2026, "T-2", "T-3", order_id="O-2"),
        refund(datetime(2025, 12, 2, 15, tzinfo=UTC), "T-2"),
    ]
    assert view(fold(partly), as_of=as_of, seasons=THEATRE)["last_purchase_at"] == datetime(2025, 12, 1, 15, tzinfo=UTC)


def test_a_member_renewing_is_no_first_time_buyer_because_an_older_order_was_refunded_in_full() -> None:
    membership: dict[str, Any] = {"kind": "membership", "ends_on": None, "subscription_id": "MEM-1"}
    history = [
        purchase(datetime(2023, 9, 1, 15, tzinfo=UTC), SHOW_2023, "T-OLD", order_id="O-OLD"),
        refund(datetime(2023, 10, 1, 15, tzinfo=UTC), "T-OLD"),
        # The first real purchase, then its renewal, which replaces the membership's record.
        subscription(
            datetime(2024, 9, 1, 15, tzinfo=UTC), starts_on=date(2024, 9, 1), renews_on=date(2025, 9, 1), **membership
        ),
        subscription(
            datetime(2025, 9, 1, 15, tzinfo=UTC), starts_on=date(2025, 9, 1), renews_on=date(2026, 9, 1), **membership
        ),
    ]
    as_of = datetime(2025, 9, 2, tzinfo=UTC)
    profile = view(fold(history), as_of=as_of, seasons=THEATRE)

    assert profile["first_purchase_at"] == datetime(2024, 9, 1, 15, tzinfo=UTC)
    assert "welcome-first-purchase" not in swept(profile, as_of=as_of)
