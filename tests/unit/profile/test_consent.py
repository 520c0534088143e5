"""Consent per purpose: express until withdrawn, implied for 2 years or 6 months, and withdrawal against later facts."""

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.profile.domain.consent import (
    CASL,
    ConsentAction,
    ConsentFact,
    ConsentPolicy,
    ConsentStatus,
    current_consent,
    next_consent_change,
)
from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import ProfileState, fold, merge, view
from shared.events import ConsentPurpose, LegalBasis
from tests.unit.profile.facts import (
    THEATRE,
    at,
    days,
    donation,
    form,
    granted,
    performance,
    purchase,
    refund,
    shop_cancellation,
    shop_order,
    shop_refund,
    subscription,
    withdrawn,
)

EMAIL = ConsentPurpose.MARKETING_EMAIL
SHOW = performance(datetime(2026, 10, 17, 20, tzinfo=UTC))
BOUGHT = datetime(2024, 3, 10, 15, tzinfo=UTC)
LEAP_DAY = datetime(2024, 2, 29, 17, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def allowed(state: ProfileState, when: datetime, purpose: ConsentPurpose = EMAIL) -> bool:
    return current_consent(state, purpose).allowed_at(when)


def email_fields(events: list[ProfileEvent], when: datetime) -> dict[str, object]:
    fields = view(fold(events), as_of=when, seasons=THEATRE)
    return {
        key.removeprefix("consent.marketing_email."): value for key, value in fields.items() if "marketing_email" in key
    }


def test_a_ticket_purchase_implies_consent_for_two_years() -> None:
    state = fold([purchase(BOUGHT, SHOW)])
    consent = current_consent(state, EMAIL)

    assert consent.status is ConsentStatus.GRANTED
    assert consent.basis is LegalBasis.IMPLIED_PURCHASE
    assert consent.expires_at == datetime(2026, 3, 10, 15, tzinfo=UTC)
    assert consent.captured_at == BOUGHT
    assert consent.source == "billetterie-principale"
    assert consent.wording_version is None


@pytest.mark.parametrize(
    ("when", "is_allowed"),
    [
        (datetime(2026, 3, 9, 15, tzinfo=UTC), True),
        (datetime(2026, 3, 10, 15, tzinfo=UTC) - SECOND, True),
        (datetime(2026, 3, 10, 15, tzinfo=UTC), False),
        (datetime(2026, 3, 11, 15, tzinfo=UTC), False),
    ],
    ids=["the day before", "a second before", "two years to the instant", "the day after"],
)
def test_implied_consent_from_a_purchase_ends_two_years_after_it(when: datetime, is_allowed: bool) -> None:
    assert allowed(fold([purchase(BOUGHT, SHOW)]), when) is is_allowed


@pytest.mark.parametrize(
    ("when", "is_allowed"),
    [
        (datetime(2026, 2, 27, 17, tzinfo=UTC), True),
        (datetime(2026, 2, 28, 17, tzinfo=UTC), False),
        (datetime(2026, 3, 1, 17, tzinfo=UTC), False),
    ],
    ids=["the day before", "february 28", "march 1"],
)
def test_a_purchase_on_a_leap_day_implies_consent_until_february_28_two_years_on(
    when: datetime, is_allowed: bool
) -> None:
    state = fold([purchase(LEAP_DAY, SHOW)])

    assert current_consent(state, EMAIL).expires_at == datetime(2026, 2, 28, 17, tzinfo=UTC)
    assert allowed(state, when) is is_allowed


@pytest.mark.parametrize(
    ("when", "is_allowed"),
    [
        (at("2026-02-27T09:00:00-05:00"), True),
        (at("2026-02-28T09:00:00-05:00"), False),
        (at("2026-03-01T09:00:00-05:00"), False),
    ],
    ids=["the day before", "six months on, clamped to february 28", "the day after"],
)
def test_an_inquiry_implies_consent_for_six_months(when: datetime, is_allowed: bool) -> None:
    # At nine in Montréal, in summer time, and six months on at nine again, in winter time.
    state = fold([form(at("2025-08-31T09:00:00-04:00"), kind="inquiry")])
    consent = current_consent(state, EMAIL)

    assert consent.basis is LegalBasis.IMPLIED_INQUIRY
    assert consent.expires_at == at("2026-02-28T09:00:00-05:00")
    assert allowed(state, when) is is_allowed


@pytest.mark.parametrize(
    ("made", "first_day_without"),
    [
        # Evenings in Montréal that are already the next day in UTC: the term is counted on Montréal's calendar.
        ("2025-02-28T20:00:00-05:00", "2025-08-28T20:00:00-04:00"),
        ("2025-04-30T21:00:00-04:00", "2025-10-30T21:00:00-04:00"),
        ("2025-02-28T17:00:00-05:00", "2025-08-28T17:00:00-04:00"),
    ],
)
def test_an_inquiry_made_in_the_evening_lasts_six_months_of_the_organisation_s_calendar(
    made: str, first_day_without: str
) -> None:
    state = fold([form(at(made), kind="inquiry")])

    assert current_consent(state, EMAIL).expires_at == at(first_day_without)
    assert allowed(state, at(first_day_without) - SECOND)
    assert not allowed(state, at(first_day_without))


def test_a_purchase_made_in_the_evening_of_february_28_does_not_imply_consent_on_a_leap_day_two_years_on() -> None:
    state = fold([purchase(at("2022-02-28T20:00:00-05:00"), SHOW)])

    assert not allowed(state, at("2024-02-29T12:00:00-05:00"))


def test_the_calendar_of_implied_consent_is_the_organisation_s_time_zone() -> None:
    state = fold([form(at("2025-04-30T21:00:00-04:00"), kind="inquiry")])

    assert current_consent(state, EMAIL, zone=ZoneInfo("Europe/Paris")).expires_at == at("2025-11-01T03:00:00+01:00")
    # Asked of Montréal's calendar again: not the answer for the same instant on another.
    assert current_consent(state, EMAIL).expires_at == at("2025-10-30T21:00:00-04:00")
    assert current_consent(state, EMAIL, zone=UTC).expires_at == at("2025-11-01T01:00:00+00:00")


def test_a_contest_entry_implies_no_consent() -> None:
    assert current_consent(fold([form(BOUGHT, kind="contest")]), EMAIL).status is ConsentStatus.NONE


def test_a_donation_and_a_membership_imply_consent_on_their_own_basis_for_two_years() -> None:
    gift = current_consent(fold([donation(BOUGHT)]), EMAIL)
    membership = current_consent(fold([subscription(BOUGHT, kind="membership")]), EMAIL)
    season_pass = current_consent(fold([subscription(BOUGHT, kind="season_pass")]), EMAIL)
    order = current_consent(fold([shop_order(BOUGHT)]), EMAIL)

    assert (gift.basis, gift.expires_at) == (LegalBasis.IMPLIED_DONATION, datetime(2026, 3, 10, 15, tzinfo=UTC))
    assert membership.basis is LegalBasis.IMPLIED_MEMBERSHIP
    assert season_pass.basis is order.basis is LegalBasis.IMPLIED_PURCHASE


def test_a_shop_order_implies_consent_naming_the_shop() -> None:
    consent = current_consent(fold([shop_order(BOUGHT)]), EMAIL)

    assert (consent.basis, consent.source, consent.captured_at) == (
        LegalBasis.IMPLIED_PURCHASE,
        "shopify-boutique",
        BOUGHT,
    )


@pytest.mark.parametrize("reason", ["declined", "fraud", "customer", None])
@pytest.mark.parametrize("cancelled_first", [False, True])
def test_a_cancelled_shop_order_implies_no_consent_whichever_comes_first(
    reason: str | None, cancelled_first: bool
) -> None:
    history = [shop_order(BOUGHT, order_id="1"), shop_cancellation(BOUGHT + days(1), order_id="1", reason=reason)]

    state = fold(history[::-1] if cancelled_first else history)

    assert current_consent(state, EMAIL).status is ConsentStatus.NONE
    assert email_fields(history, BOUGHT + days(2))["allowed"] is False


@pytest.mark.parametrize("refunded_first", [False, True])
def test_a_shop_order_refunded_in_full_implies_no_consent_whichever_comes_first(refunded_first: bool) -> None:
    # Refunded in one go or in parts, not cancelled: the customer kept nothing, as a ticket order paid back whole.
    history = [
        shop_order(BOUGHT, order_id="1", total="38.59"),
        shop_refund(BOUGHT + days(1), order_id="1", amount="20.00"),
        shop_refund(BOUGHT + days(2), order_id="1", amount="18.59"),
    ]

    state = fold(history[::-1] if refunded_first else history)

    assert current_consent(state, EMAIL).status is ConsentStatus.NONE
    assert email_fields(history, BOUGHT + days(3))["allowed"] is False


def test_a_shop_order_refunded_in_part_still_implies_consent() -> None:
    state = fold([shop_order(BOUGHT, order_id="1", total="38.59"), shop_refund(BOUGHT + days(1), order_id="1")])

    consent = current_consent(state, EMAIL)
    assert (consent.basis, consent.captured_at) == (LegalBasis.IMPLIED_PURCHASE, BOUGHT)


def test_an_earlier_purchase_implies_consent_from_its_own_moment_once_a_later_shop_order_is_refunded_in_full() -> None:
    state = fold(
        [
            purchase(BOUGHT, SHOW),
            shop_order(BOUGHT + days(200), order_id="1", total="38.59"),
            shop_refund(BOUGHT + days(201), order_id="1", amount="38.59"),
        ]
    )

    consent = current_consent(state, EMAIL)
    assert (consent.captured_at, consent.source) == (BOUGHT, "billetterie-principale")


def test_an_earlier_shop_order_kept_implies_consent_once_a_later_one_is_cancelled() -> None:
    state = fold(
        [
            shop_order(BOUGHT, order_id="1"),
            shop_order(BOUGHT + days(200), order_id="2"),
            shop_cancellation(BOUGHT + days(201), order_id="2"),
        ]
    )

    consent = current_consent(state, EMAIL)
    assert (consent.captured_at, consent.expires_at) == (BOUGHT, datetime(2026, 3, 10, 15, tzinfo=UTC))


def test_a_cancelled_shop_order_leaves_a_ticket_purchases_consent_standing() -> None:
    state = fold(
        [
            purchase(BOUGHT, SHOW),
            shop_order(BOUGHT + days(5), order_id="1"),
            shop_cancellation(BOUGHT + days(6), order_id="1"),
        ]
    )

    consent = current_consent(state, EMAIL)
    assert (consent.basis, consent.captured_at, consent.source) == (
        LegalBasis.IMPLIED_PURCHASE,
        BOUGHT,
        "billetterie-principale",
    )


@pytest.mark.parametrize("refunded_first", [False, True])
def test_a_ticket_order_paid_back_whole_implies_no_consent_whichever_comes_first(refunded_first: bool) -> None:
    # A box office writes an order cancelled (a payment declined) as its tickets refunded.
    history = [purchase(BOUGHT, SHOW, "T-1", "T-2"), refund(BOUGHT + days(1), "T-1", "T-2", amount="109.00")]

    state = fold(history[::-1] if refunded_first else history)

    assert current_consent(state, EMAIL).status is ConsentStatus.NONE
    assert email_fields(history, BOUGHT + days(2))["allowed"] is False


def test_a_ticket_order_paid_back_in_part_still_implies_consent() -> None:
    state = fold([purchase(BOUGHT, SHOW, "T-1", "T-2"), refund(BOUGHT + days(1), "T-2")])

    consent = current_consent(state, EMAIL)
    assert (consent.basis, consent.captured_at) == (LegalBasis.IMPLIED_PURCHASE, BOUGHT)


@pytest.mark.parametrize(
    ("earlier", "source"),
    [
        (purchase(BOUGHT, SHOW, "T-0", order_id="O-0"), "billetterie-principale"),
        (subscription(BOUGHT), "billetterie-principale"),
        (shop_order(BOUGHT, order_id="1"), "shopify-boutique"),
    ],
    ids=["ticket order", "season pass", "shop order"],
)
def test_the_purchase_before_a_ticket_order_paid_back_whole_implies_consent_from_its_own_moment(
    earlier: ProfileEvent, source: str
) -> None:
    state = fold(
        [
            earlier,
            purchase(BOUGHT + days(200), SHOW, "T-1", order_id="O-1"),
            refund(BOUGHT + days(201), "T-1"),
        ]
    )

    consent = current_consent(state, EMAIL)
    assert (consent.basis, consent.captured_at, consent.source) == (LegalBasis.IMPLIED_PURCHASE, BOUGHT, source)


def test_a_ticket_purchase_told_again_under_another_event_id_and_then_paid_back_implies_nothing() -> None:
    first = purchase(BOUGHT, SHOW, "T-1")
    told_again = dataclasses.replace(purchase(BOUGHT, SHOW, "T-1"), event_id="import-T-1")

    state = fold([first, told_again, refund(BOUGHT + days(1), "T-1")])

    assert current_consent(state, EMAIL).status is ConsentStatus.NONE


def told_again(event: ProfileEvent, later: timedelta) -> ProfileEvent:
    """`event` told again `later` under another event id: a webhook, then an import of the same sale or gift."""
    return dataclasses.replace(event, event_id=f"{event.event_id}-import", time=event.time + later)


@pytest.mark.parametrize(
    ("first", "basis"),
    [
        (purchase(BOUGHT, SHOW, "T-1"), LegalBasis.IMPLIED_PURCHASE),
        (donation(BOUGHT, donation_id="DON-1"), LegalBasis.IMPLIED_DONATION),
        (subscription(BOUGHT, kind="season_pass"), LegalBasis.IMPLIED_PURCHASE),
        (subscription(BOUGHT, kind="membership"), LegalBasis.IMPLIED_MEMBERSHIP),
    ],
    ids=["ticket", "gift", "season pass", "membership"],
)
@pytest.mark.parametrize("told_first", [True, False], ids=["in order", "import first"])
def test_a_purchase_or_a_gift_told_again_later_implies_consent_from_its_first_report_only(
    first: ProfileEvent, basis: LegalBasis, told_first: bool
) -> None:
    history = [first, told_again(first, days(80))]

    consent = current_consent(fold(history if told_first else history[::-1]), EMAIL)

    assert (consent.basis, consent.captured_at) == (basis, BOUGHT)
    assert not consent.allowed_at(BOUGHT + days(731))


def test_a_pass_renewed_for_a_new_term_implies_consent_from_the_renewal() -> None:
    renewal = subscription(BOUGHT + days(365), starts_on=date(2027, 9, 1), ends_on=date(2028, 6, 30))

    consent = current_consent(fold([subscription(BOUGHT), renewal]), EMAIL)

    assert consent.captured_at == BOUGHT + days(365)


def test_of_two_gifts_each_told_twice_the_later_gift_implies_consent_from_its_first_report() -> None:
    first, second = donation(BOUGHT, donation_id="DON-1"), donation(BOUGHT + days(30), donation_id="DON-2")

    state = fold([first, second, told_again(first, days(100)), told_again(second, days(10))])

    assert current_consent(state, EMAIL).captured_at == BOUGHT + days(30)


def test_a_stored_profiles_gift_without_its_source_implies_consent_as_stored() -> None:
    state = fold([donation(BOUGHT, donation_id="DON-1")])
    gift = state.gifts["DON-1"]
    relationship = ConsentFact(gift.stamp, ConsentAction.GRANTED, LegalBasis.IMPLIED_DONATION, "zeffy-dons")
    # As a version before this one stored it: each gift its amount and moment alone, the latest among relationships.
    document = json.loads(json.dumps(state.to_document()))
    for stored_gift in document["gifts"]:
        del stored_gift["value"]["source"]
    stored = ProfileState.from_document(document)
    stored = dataclasses.replace(stored, relationships={"implied_donation": relationship})

    consent = current_consent(stored, EMAIL)
    assert (consent.basis, consent.captured_at, consent.source) == (LegalBasis.IMPLIED_DONATION, BOUGHT, "zeffy-dons")


def stored_before_orders_were_kept_apart(events: list[ProfileEvent]) -> ProfileState:
    """The profile a version before this one stored: orders and tickets without their source, and the latest
    purchase, ticket or order, among `relationships`."""
    state = fold(events)
    placements = [order.placed for order in state.shop_orders.values() if order.placed is not None]
    stored = state.relationships.get("implied_purchase")
    candidates = [stored] if stored is not None else []
    bought = [record.bought for record in state.tickets.values() if record.bought is not None]
    candidates += [
        ConsentFact(sale.stamp, ConsentAction.GRANTED, LegalBasis.IMPLIED_PURCHASE, sale.source) for sale in placements
    ]
    candidates += [
        ConsentFact(sale.stamp, ConsentAction.GRANTED, LegalBasis.IMPLIED_PURCHASE, sale.source) for sale in bought
    ]
    return dataclasses.replace(
        state,
        shop_orders={
            order_id: dataclasses.replace(order, placed=dataclasses.replace(order.placed, source=""))
            for order_id, order in state.shop_orders.items()
            if order.placed is not None
        },
        tickets={
            ticket_id: dataclasses.replace(
                record, bought=None if record.bought is None else dataclasses.replace(record.bought, source="")
            )
            for ticket_id, record in state.tickets.items()
        },
        relationships={**state.relationships, "implied_purchase": max(candidates, key=lambda fact: fact.stamp)},
    )


def test_a_stored_profiles_latest_shop_order_implies_consent_naming_its_shop_until_cancelled() -> None:
    stored = stored_before_orders_were_kept_apart([shop_order(BOUGHT, order_id="1")])
    cancelled = fold([shop_cancellation(BOUGHT + days(1), order_id="1")])

    assert current_consent(stored, EMAIL).source == "shopify-boutique"
    assert current_consent(merge(stored, cancelled), EMAIL).status is ConsentStatus.NONE


def test_a_stored_profiles_latest_shop_order_implies_no_consent_once_refunded_in_full() -> None:
    stored = stored_before_orders_were_kept_apart([shop_order(BOUGHT, order_id="1", total="38.59")])
    refunded = fold([shop_refund(BOUGHT + days(1), order_id="1", amount="38.59")])

    assert current_consent(merge(stored, refunded), EMAIL).status is ConsentStatus.NONE


@pytest.mark.parametrize(
    "earlier",
    [purchase(BOUGHT, SHOW), shop_order(BOUGHT, order_id="0")],
    ids=["ticket purchase", "shop order"],
)
def test_a_stored_profile_whose_latest_order_is_cancelled_names_no_purchase_it_hid(earlier: ProfileEvent) -> None:
    # What was stored says neither which source sold the earlier purchase nor, for a ticket, that there was one:
    # consent errs towards no contact rather than name no source.
    stored = stored_before_orders_were_kept_apart([earlier, shop_order(BOUGHT + days(5), order_id="1")])
    cancelled = fold([shop_cancellation(BOUGHT + days(6), order_id="1")])

    assert current_consent(stored, EMAIL).captured_at == BOUGHT + days(5)
    assert current_consent(merge(stored, cancelled), EMAIL).status is ConsentStatus.NONE
    later = fold([shop_order(BOUGHT + days(9), order_id="2")])
    assert current_consent(merge(merge(stored, cancelled), later), EMAIL).source == "shopify-boutique"


def test_express_consent_lasts_until_withdrawn_and_names_its_wording_and_source() -> None:
    fields = email_fields([granted(BOUGHT, wording_version="infolettre-fr-2024-01")], BOUGHT + days(3650))

    assert fields == {
        "status": "granted",
        "basis": "express",
        "expires_at": None,
        "captured_at": BOUGHT,
        "source": "billetterie-principale",
        "wording_version": "infolettre-fr-2024-01",
        "allowed": True,
    }


def test_consent_is_dated_when_it_was_captured_not_when_the_event_arrived() -> None:
    captured = BOUGHT - days(40)
    state = fold([granted(BOUGHT, basis="implied_inquiry", captured_at=captured)])

    # Captured at ten in Montréal (winter time): six months on, at ten again (summer time).
    assert current_consent(state, EMAIL).expires_at == at("2024-07-30T10:00:00-04:00")


@pytest.mark.parametrize("captured_first", [False, True])
def test_a_grant_dated_after_the_fact_telling_it_counts_from_that_fact_and_a_later_withdrawal_wins(
    captured_first: bool,
) -> None:
    # A year mistyped (2062), stored before ingest refused it: it must not outrank the unsubscribe a week later.
    grant = granted(BOUGHT, captured_at=datetime(2062, 3, 10, 15, tzinfo=UTC))
    history = [grant, withdrawn(BOUGHT + days(7))]

    consent = current_consent(fold(history[::-1] if captured_first else history), EMAIL)

    assert (consent.status, consent.captured_at) == (ConsentStatus.WITHDRAWN, BOUGHT + days(7))
    assert email_fields([grant], BOUGHT + days(1))["captured_at"] == BOUGHT


def test_a_withdrawal_dated_after_the_fact_telling_it_counts_from_that_fact() -> None:
    told = withdrawn(BOUGHT)
    mistyped = dataclasses.replace(
        told, data=told.data.model_copy(update={"captured_at": datetime(2062, 3, 10, 15, tzinfo=UTC)})
    )

    state = fold([mistyped, granted(BOUGHT + days(7))])

    consent = current_consent(state, EMAIL)
    assert (consent.status, consent.captured_at) == (ConsentStatus.GRANTED, BOUGHT + days(7))


def test_a_withdrawal_ends_express_and_implied_consent_given_before_it() -> None:
    fields = email_fields(
        [purchase(BOUGHT, SHOW), granted(BOUGHT + days(1)), withdrawn(BOUGHT + days(2))], BOUGHT + days(3)
    )

    assert fields["status"] == "withdrawn"
    assert fields["basis"] is None
    assert fields["captured_at"] == BOUGHT + days(2)
    assert fields["allowed"] is False


def test_a_purchase_after_an_unsubscribe_does_not_reopen_marketing_email() -> None:
    state = fold([granted(BOUGHT), withdrawn(BOUGHT + days(1)), purchase(BOUGHT + days(30), SHOW)])

    assert current_consent(state, EMAIL).status is ConsentStatus.WITHDRAWN
    assert not allowed(state, BOUGHT + days(31))


LATER_RELATIONSHIPS: dict[str, Callable[[datetime], ProfileEvent]] = {
    "purchase": lambda when: purchase(when, SHOW),
    "donation": donation,
    "inquiry": form,
    "membership": lambda when: subscription(when, kind="membership"),
}


@pytest.mark.parametrize("relationship", LATER_RELATIONSHIPS)
@pytest.mark.parametrize("withdrawn_basis", ["express", "implied_purchase", "implied_donation", "implied_inquiry"])
def test_a_withdrawal_naming_any_basis_bars_every_later_implied_basis(withdrawn_basis: str, relationship: str) -> None:
    later = LATER_RELATIONSHIPS[relationship](BOUGHT + days(30))
    state = fold([granted(BOUGHT, basis=withdrawn_basis), withdrawn(BOUGHT + days(1), basis=withdrawn_basis), later])
    consent = current_consent(state, EMAIL)

    assert (consent.status, consent.basis) == (ConsentStatus.WITHDRAWN, LegalBasis(withdrawn_basis))
    assert not allowed(state, BOUGHT + days(31))


def test_a_purchase_after_express_consent_is_withdrawn_does_not_reopen_marketing_email() -> None:
    fields = email_fields(
        [granted(BOUGHT), withdrawn(BOUGHT + days(1), basis="express"), purchase(BOUGHT + days(30), SHOW)],
        BOUGHT + days(31),
    )

    assert (fields["status"], fields["basis"], fields["allowed"]) == ("withdrawn", "express", False)


def test_a_later_express_grant_reopens_marketing_email() -> None:
    state = fold([purchase(BOUGHT, SHOW), withdrawn(BOUGHT + days(1)), granted(BOUGHT + days(60))])
    consent = current_consent(state, EMAIL)

    assert (consent.status, consent.basis) == (ConsentStatus.GRANTED, LegalBasis.EXPRESS)
    assert allowed(state, BOUGHT + days(61))


def test_once_reopened_by_an_express_grant_later_purchases_imply_consent_again() -> None:
    state = fold(
        [
            withdrawn(BOUGHT),
            granted(BOUGHT + days(10)),
            purchase(BOUGHT + days(20), SHOW),
            withdrawn(BOUGHT + days(30), basis="express"),
        ]
    )
    consent = current_consent(state, EMAIL)

    # The purchase came before the withdrawal, which names express consent only.
    assert (consent.basis, consent.captured_at) == (LegalBasis.IMPLIED_PURCHASE, BOUGHT + days(20))


def test_a_withdrawal_and_a_grant_at_the_same_instant_leave_consent_withdrawn() -> None:
    state = fold([granted(BOUGHT), withdrawn(BOUGHT)])

    assert current_consent(state, EMAIL).status is ConsentStatus.WITHDRAWN


def test_a_withdrawal_naming_one_basis_leaves_the_others() -> None:
    state = fold([donation(BOUGHT), purchase(BOUGHT, SHOW), withdrawn(BOUGHT + days(1), basis="implied_purchase")])

    assert current_consent(state, EMAIL).basis is LegalBasis.IMPLIED_DONATION


def test_a_withdrawal_for_sms_leaves_marketing_email_alone() -> None:
    state = fold([granted(BOUGHT), withdrawn(BOUGHT + days(1), purpose="sms")])

    assert current_consent(state, EMAIL).status is ConsentStatus.GRANTED
    assert current_consent(state, ConsentPurpose.SMS).status is ConsentStatus.WITHDRAWN


def test_of_several_implied_bases_the_one_that_runs_longest_is_reported() -> None:
    # The inquiry is later, but its six months end long before the purchase's two years.
    state = fold([purchase(BOUGHT, SHOW), form(BOUGHT + days(100))])

    assert current_consent(state, EMAIL).basis is LegalBasis.IMPLIED_PURCHASE


def test_an_expired_implied_basis_stays_granted_but_no_longer_allows_contact() -> None:
    fields = email_fields([purchase(BOUGHT, SHOW)], BOUGHT + days(800))

    assert (fields["status"], fields["basis"], fields["allowed"]) == ("granted", "implied_purchase", False)


def test_an_express_grant_for_one_purpose_is_not_consent_for_another() -> None:
    state = fold([granted(BOUGHT, purpose="survey")])

    assert current_consent(state, ConsentPurpose.SURVEY).basis is LegalBasis.EXPRESS
    assert current_consent(state, ConsentPurpose.POSTAL).status is ConsentStatus.NONE


def test_an_organisation_may_keep_sms_to_express_consent_only() -> None:
    policy = ConsentPolicy(implied_purposes=frozenset(ConsentPurpose) - {ConsentPurpose.SMS})
    state = fold([purchase(BOUGHT, SHOW)])

    assert current_consent(state, ConsentPurpose.SMS, policy=policy).status is ConsentStatus.NONE
    assert current_consent(state, EMAIL, policy=policy).status is ConsentStatus.GRANTED


def test_a_policy_without_a_term_for_every_implied_basis_is_refused() -> None:
    with pytest.raises(ValueError, match="implied_inquiry"):
        ConsentPolicy(implied_months={LegalBasis.IMPLIED_PURCHASE: 24})
    with pytest.raises(ValueError, match="express"):
        ConsentPolicy(implied_months={**CASL.implied_months, LegalBasis.EXPRESS: 12})


def test_the_next_consent_change_is_when_the_longest_implied_basis_runs_out() -> None:
    state = fold([purchase(BOUGHT, SHOW), form(BOUGHT + days(100))])

    assert next_consent_change(state, BOUGHT) == datetime(2026, 3, 10, 15, tzinfo=UTC)
    assert next_consent_change(state, datetime(2026, 3, 10, 15, tzinfo=UTC)) is None


def test_express_consent_and_withdrawals_never_change_with_time_alone() -> None:
    assert next_consent_change(fold([granted(BOUGHT)]), BOUGHT) is None
    withdrawals = [withdrawn(BOUGHT + days(1), purpose=purpose.value) for purpose in ConsentPurpose]
    assert next_consent_change(fold([purchase(BOUGHT, SHOW), *withdrawals]), BOUGHT) is None


def test_an_organisation_keeping_sms_to_express_consent_ignores_a_grant_for_sms_on_an_implied_basis() -> None:
    policy = ConsentPolicy(implied_purposes=frozenset(ConsentPurpose) - {ConsentPurpose.SMS})
    state = fold([granted(BOUGHT, purpose="sms", basis="implied_purchase")])

    consent = current_consent(state, ConsentPurpose.SMS, policy=policy)

    assert consent.status is ConsentStatus.NONE
    assert not consent.allowed_at(BOUGHT + days(1))
