"""Every profile field, computed from concrete histories of upstream facts."""

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import (
    PROFILE_FIELD_NAMES,
    ProfileState,
    apply,
    fold,
    merge,
    next_time_change,
    view,
)
from services.profile.domain.rule_conditions import CAUSE_PERFORMANCE_AT, PROFILE_FIELDS
from services.profile.domain.rules import contact_points
from services.profile.domain.scores import RfmThresholds
from services.profile.domain.seasons import SeasonCalendar
from shared.events.common import Channel, ConsentPurpose
from tests.unit.profile.facts import (
    THEATRE,
    bounced,
    clicked,
    days,
    details,
    donation,
    exchange,
    newsletter,
    opened,
    performance,
    person,
    purchase,
    refund,
    scan,
    shop_cancellation,
    shop_order,
    shop_refund,
    social,
    subscription,
    withdrawn,
)

MONTREAL = ZoneInfo("America/Montreal")
BELLES_SOEURS = performance(datetime(2026, 10, 17, 20, tzinfo=MONTREAL))
MATINEE = performance(datetime(2026, 10, 24, 14, tzinfo=MONTREAL))
GISELLE = performance(
    datetime(2026, 11, 20, 19, 30, tzinfo=MONTREAL),
    production_id="giselle-2026",
    genre="danse",
    venue="Théâtre Maisonneuve",
)
LAST_SEASON = performance(
    datetime(2026, 3, 5, 20, tzinfo=MONTREAL), production_id="hamlet-2026", genre="théâtre", venue="Salle Fred-Barry"
)
BOUGHT = datetime(2026, 9, 2, 18, 31, tzinfo=UTC)
AFTER_THE_SHOWS = datetime(2026, 12, 1, 12, tzinfo=UTC)


def profile(events: list[ProfileEvent], when: datetime = AFTER_THE_SHOWS, **settings: Any) -> dict[str, Any]:
    return view(fold(events), as_of=when, seasons=settings.pop("seasons", THEATRE), **settings)


def pick(fields: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: fields[name] for name in names}


# The shape of a profile


def test_a_profile_has_exactly_the_documented_fields() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS)])

    assert list(fields) == list(PROFILE_FIELD_NAMES)
    assert len(PROFILE_FIELD_NAMES) == len(set(PROFILE_FIELD_NAMES))


def test_the_profile_fields_are_the_ones_segment_and_trigger_rules_may_name() -> None:
    # Besides the profile's, trigger rules may name the start of the performance of the fact they handle.
    assert set(PROFILE_FIELD_NAMES) == set(PROFILE_FIELDS) - {CAUSE_PERFORMANCE_AT}


def test_a_person_with_no_history_has_an_empty_profile() -> None:
    fields = profile([])

    assert fields["emails"] == []
    assert fields["tickets_bought"] == 0
    assert fields["ticket_spend"] == Decimal("0.00")
    assert fields["consent.marketing_email.status"] == "none"
    assert fields["consent.marketing_email.allowed"] is False
    assert fields["newsletter_status"] == "none"
    assert fields["lifecycle_stage"] is None
    assert fields["rfm.score"] is None
    assert fields["engagement_score"] == 0


def test_money_is_decimal_to_the_cent_and_times_are_timezone_aware() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS), donation(BOUGHT, "100")])

    assert fields["ticket_spend"] == Decimal("54.50")
    assert str(fields["donations_total"]) == "100.00"
    assert all(value.utcoffset() is not None for value in fields.values() if isinstance(value, datetime)), (
        "every time is aware"
    )


def test_a_view_needs_a_timezone_aware_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        view(fold([]), as_of=datetime(2026, 12, 1), seasons=THEATRE)


# Identity


def test_the_most_recent_name_and_address_win_whatever_the_order_facts_arrive_in() -> None:
    older = purchase(BOUGHT, BELLES_SOEURS, person=person(last_name="Tremblay", city="Laval", postal_code="h7n1a1"))
    newer = purchase(BOUGHT + days(30), MATINEE, person=person(last_name="Gagnon", city="Montréal"))

    for history in ([older, newer], [newer, older]):
        fields = profile(history)
        assert pick(fields, "first_name", "last_name", "city", "postal_code") == {
            "first_name": "Élise",
            "last_name": "Gagnon",
            "city": "Montréal",
            "postal_code": "H2J 2L1",
        }


def test_a_canadian_postal_code_is_written_the_canadian_post_way_others_as_given() -> None:
    canadian = profile([purchase(BOUGHT, BELLES_SOEURS, person=person(postal_code=" h2j2l1 "))])
    french = profile([purchase(BOUGHT, BELLES_SOEURS, person=person(postal_code="75011", country="FR"))])

    assert canadian["postal_code"] == "H2J 2L1"
    assert french["postal_code"] == "75011"


ADDRESS_PARTS = ("street", "address_2", "city", "region", "postal_code", "country")
SAINT_DENIS = person(street="4521, rue Saint-Denis", address_2="app. 3", region="QC")
LAVAL = person(street="12, boul. des Laurentides", city="Laval", region="QC", postal_code="H7N 1A1")


def test_an_address_is_shown_whole_as_the_latest_fact_with_a_postal_code_gave_it_whatever_the_order() -> None:
    older = purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)
    moved = purchase(BOUGHT + days(30), MATINEE, person=LAVAL)

    for history in ([older, moved], [moved, older]):
        assert pick(profile(history), *ADDRESS_PARTS) == {
            "street": "12, boul. des Laurentides",
            # The second line was the old address's: it is not carried over to the new one.
            "address_2": None,
            "city": "Laval",
            "region": "QC",
            "postal_code": "H7N 1A1",
            "country": "CA",
        }


def test_a_later_fact_giving_only_the_same_postal_code_keeps_the_street_known_for_it() -> None:
    full = purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)
    walk_up = purchase(BOUGHT + days(30), MATINEE, person=person(city=None, country=None, postal_code="h2j2l1"))

    for history in ([full, walk_up], [walk_up, full]):
        assert pick(profile(history), *ADDRESS_PARTS) == {
            "street": "4521, rue Saint-Denis",
            "address_2": "app. 3",
            "city": "Montréal",
            "region": "QC",
            "postal_code": "H2J 2L1",
            "country": "CA",
        }


def test_a_later_fact_giving_another_postal_code_alone_drops_the_street_of_the_old_one() -> None:
    full = purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)
    moved = purchase(BOUGHT + days(30), MATINEE, person=person(city=None, country=None, postal_code="G1R 4P5"))

    fields = profile([moved, full])

    assert pick(fields, *ADDRESS_PARTS) == {
        "street": None,
        "address_2": None,
        # The latest city given: mail finds its way by the postal code.
        "city": "Montréal",
        "region": None,
        "postal_code": "G1R 4P5",
        "country": None,
    }


@pytest.mark.parametrize("written", ["h2j2l1", "h2j-2l1", " H2J 2L1 "])
def test_the_same_postal_code_written_another_way_keeps_the_street_and_a_new_second_line_replaces_the_old(
    written: str,
) -> None:
    full = purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)
    later = purchase(BOUGHT + days(30), MATINEE, person=person(postal_code=written, address_2="app. 7"))

    assert pick(profile([later, full]), "street", "address_2", "postal_code") == {
        "street": "4521, rue Saint-Denis",
        "address_2": "app. 7",
        "postal_code": "H2J 2L1",
    }


def test_a_foreign_postal_code_written_in_lower_case_is_the_same_place() -> None:
    london = person(street="10 Downing Street", city="London", postal_code="SW1A 2AA", country="GB")
    again = person(city="London", postal_code="sw1a 2aa", country="GB")

    fields = profile(
        [purchase(BOUGHT + days(1), MATINEE, person=again), purchase(BOUGHT, BELLES_SOEURS, person=london)]
    )

    assert pick(fields, "street", "postal_code", "country") == {
        "street": "10 Downing Street",
        "postal_code": "sw1a 2aa",
        "country": "GB",
    }


def test_a_profile_stored_before_addresses_were_kept_whole_keeps_its_city_when_a_postal_code_alone_comes() -> None:
    stored_before = replace(
        fold([purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)]), address=None, street_address=None
    )
    walk_up = purchase(BOUGHT + days(30), MATINEE, person=person(city=None, country=None, postal_code="h2j2l1"))

    before = view(stored_before, as_of=AFTER_THE_SHOWS, seasons=THEATRE)
    assert pick(before, "street", "city", "postal_code") == {
        "street": None,
        "city": "Montréal",
        "postal_code": "H2J 2L1",
    }
    after = view(apply(stored_before, walk_up), as_of=AFTER_THE_SHOWS, seasons=THEATRE)
    assert pick(after, "city", "postal_code") == {"city": "Montréal", "postal_code": "H2J 2L1"}


def test_a_city_given_without_a_postal_code_after_the_address_is_shown_with_it() -> None:
    walk_up = purchase(BOUGHT, BELLES_SOEURS, person=person(city=None, postal_code="G1R 4P5"))
    sign_up = details(BOUGHT + days(3), ["city"], city="Québec")

    assert pick(profile([sign_up, walk_up]), "city", "postal_code") == {"city": "Québec", "postal_code": "G1R 4P5"}


def test_a_postal_contact_point_is_one_line_of_the_whole_address() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS, person=SAINT_DENIS)])
    consenting = fields | {f"consent.{ConsentPurpose.POSTAL}.allowed": True}

    assert contact_points(consenting, ConsentPurpose.POSTAL) == [
        (Channel.POSTAL, "4521, rue Saint-Denis, app. 3, Montréal, QC, H2J 2L1")
    ]


def test_a_postal_contact_point_abroad_ends_with_its_country() -> None:
    paris = person(street="12 rue Oberkampf", city="Paris", region=None, postal_code="75011", country="FR")
    fields = profile([purchase(BOUGHT, BELLES_SOEURS, person=paris)])
    consenting = fields | {f"consent.{ConsentPurpose.POSTAL}.allowed": True}

    assert contact_points(consenting, ConsentPurpose.POSTAL) == [(Channel.POSTAL, "12 rue Oberkampf, Paris, 75011, FR")]


def test_emails_are_lower_case_most_recently_seen_first() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, person=person(email="Elise.Gagnon@Example.com")),
            details(BOUGHT + days(5), ["email"], email="elise@courriel.example.ca"),
            purchase(BOUGHT + days(2), MATINEE, person=person(email="elise.gagnon@example.com")),
        ]
    )

    assert fields["emails"] == ["elise@courriel.example.ca", "elise.gagnon@example.com"]


def test_phones_written_differently_are_one_number_in_e164() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, person=person(phone="514 555-0199")),
            purchase(BOUGHT + days(1), MATINEE, person=person(phone="+1 (514) 555-0199")),
            purchase(BOUGHT + days(2), GISELLE, person=person(phone="poste 12")),
        ]
    )

    assert fields["phones"] == ["poste 12", "+15145550199"]


def test_a_phone_with_its_extension_is_the_number_identity_links_and_a_look_up_finds() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, person=person(phone="514 555-0199 poste 12")),
            purchase(BOUGHT + days(1), MATINEE, person=person(phone="514-555-0199;ext=12")),
        ]
    )

    assert fields["phones"] == ["+15145550199"]


def test_a_language_the_person_chose_wins_over_a_later_locale_a_source_reported() -> None:
    fields = profile(
        [
            details(BOUGHT, ["locale"], locale="en-CA"),
            purchase(BOUGHT + days(10), BELLES_SOEURS, person=person(locale="fr-CA")),
        ]
    )

    assert fields["preferred_language"] == "en"


def test_without_a_choice_the_latest_reported_locale_gives_the_language() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, person=person(locale="fr-CA")),
            purchase(BOUGHT + days(10), MATINEE, person=person(locale="en")),
            purchase(BOUGHT + days(20), GISELLE, person=person(locale="es-MX")),
        ]
    )

    assert fields["preferred_language"] == "en"


def test_a_person_no_source_gave_a_language_for_has_none() -> None:
    assert profile([purchase(BOUGHT, BELLES_SOEURS, person=person(locale=None))])["preferred_language"] is None


def test_sources_list_every_upstream_system_once() -> None:
    fields = profile(
        [purchase(BOUGHT, BELLES_SOEURS), shop_order(BOUGHT), opened(BOUGHT), shop_order(BOUGHT, order_id="2")]
    )

    assert fields["sources"] == ["billetterie-principale", "mailchimp-principal", "shopify-boutique"]


def test_the_household_comes_from_identity_not_from_events() -> None:
    state = fold([purchase(BOUGHT, BELLES_SOEURS)])

    assert view(state, as_of=AFTER_THE_SHOWS, seasons=THEATRE)["household_id"] is None
    assert view(state, as_of=AFTER_THE_SHOWS, seasons=THEATRE, household_id="hh_42")["household_id"] == "hh_42"


# Box office


def test_tickets_bought_and_their_spend_add_up_over_orders() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", price="54.50", total="115.00", order_id="O-1"),
            purchase(BOUGHT + days(3), GISELLE, "T-3", price="72.25", order_id="O-2"),
        ]
    )

    assert pick(fields, "tickets_bought", "ticket_spend", "productions") == {
        "tickets_bought": 3,
        "ticket_spend": Decimal("187.25"),
        "productions": 2,
    }


def test_an_order_sent_again_under_another_event_id_is_paid_for_once() -> None:
    # A box office's webhook, then the same order in an import of its history or a re-export, under a fresh id.
    told = purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", price="54.50", total="115.00", order_id="O-1")
    again = replace(told, event_id="evt-reexported")

    fields = profile([told, again, purchase(BOUGHT + days(3), GISELLE, "T-3", price="72.25", order_id="O-2")])

    assert pick(fields, "tickets_bought", "ticket_spend", "rfm.frequency", "rfm.monetary") == {
        "tickets_bought": 3,
        "ticket_spend": Decimal("187.25"),
        "rfm.frequency": 2,
        "rfm.monetary": 2,
    }


def test_a_refund_sent_again_under_another_event_id_pays_back_once_and_another_refund_of_the_order_counts() -> None:
    told = purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", price="54.50", total="115.00", order_id="O-1")
    refunded = refund(BOUGHT + days(2), "T-1", amount="57.50")
    again = replace(refunded, event_id="evt-refund-reexported", time=refunded.time + days(30))
    other_ticket = refund(BOUGHT + days(3), "T-2", amount="57.50")

    assert profile([told, refunded, again])["ticket_spend"] == Decimal("57.50")
    assert profile([told, again, refunded, other_ticket])["ticket_spend"] == Decimal("0.00")
    # The fees paid back, then the rest: two refunds of one ticket.
    fees_back = refund(BOUGHT + days(1), "T-1", amount="7.50")
    rest_back = refund(BOUGHT + days(5), "T-1", amount="50.00")
    assert profile([told, fees_back, rest_back])["ticket_spend"] == Decimal("57.50")


def test_an_order_told_in_one_event_per_row_counts_every_row_once() -> None:
    # An attendee report writes a row per attendee of order 301, each with its own tickets and amount.
    rows = [
        purchase(BOUGHT, BELLES_SOEURS, "T-301-1", "T-301-2", price="25.00", order_id="301"),
        purchase(BOUGHT, BELLES_SOEURS, "T-301-3", price="25.00", order_id="301"),
        purchase(BOUGHT, GISELLE, "T-301-4", price="40.00", total="42.50", order_id="301"),
    ]

    fields = profile([*rows, *(replace(row, event_id=f"{row.event_id}-again") for row in rows)])

    assert pick(fields, "tickets_bought", "ticket_spend") == {"tickets_bought": 4, "ticket_spend": Decimal("117.50")}


def test_when_two_events_for_one_order_disagree_on_its_total_the_first_told_counts_in_any_order() -> None:
    first = purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", total="115.00", order_id="O-1")
    corrected = purchase(BOUGHT + days(1), BELLES_SOEURS, "T-1", "T-2", total="109.00", order_id="O-1")

    assert profile([first, corrected])["ticket_spend"] == profile([corrected, first])["ticket_spend"]
    assert profile([corrected, first])["ticket_spend"] == Decimal("115.00")


def test_a_profile_stored_when_order_totals_were_summed_keeps_its_spend() -> None:
    state = fold([purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", total="115.00", order_id="O-1")])
    # Read back as the store gives it: the document's records share their parts (a purchase is its acquisition).
    document = json.loads(json.dumps(state.to_document()))
    # As such a profile was stored: the sum of the totals, and no ticket's share of one.
    for ticket in document["tickets"]:
        for kept in ("acquired", "bought"):
            del ticket["value"][kept]["paid"]
    document["ticket_paid"] = "115.00"
    stored = ProfileState.from_document(document)
    assert view(stored, as_of=AFTER_THE_SHOWS, seasons=THEATRE)["ticket_spend"] == Decimal("115.00")

    later = apply(stored, purchase(BOUGHT + days(3), GISELLE, "T-3", price="72.25", order_id="O-2"))

    assert view(later, as_of=AFTER_THE_SHOWS, seasons=THEATRE)["ticket_spend"] == Decimal("187.25")


def test_a_refund_subtracts_its_tickets_and_the_amount_paid_back() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2"),
            refund(BOUGHT + days(1), "T-2", amount="50.00"),
        ]
    )

    assert (fields["tickets_bought"], fields["ticket_spend"]) == (1, Decimal("59.00"))


def test_a_refund_that_arrives_before_its_purchase_still_subtracts() -> None:
    late = [refund(BOUGHT + days(1), "T-2"), purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2")]

    assert profile(late)["tickets_bought"] == 1


def test_a_refund_of_a_purchase_in_another_persons_history_cannot_make_spend_negative() -> None:
    assert profile([refund(BOUGHT, "T-9", amount="80.00")])["ticket_spend"] == Decimal("0.00")


def test_a_refund_of_tickets_in_another_persons_history_takes_nothing_from_the_spend_on_tickets_held() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS, "T-1", order_id="O-1"), refund(BOUGHT, "T-9", amount="50.00")])

    assert (fields["tickets_bought"], fields["ticket_spend"]) == (1, Decimal("54.50"))


def test_a_refund_that_arrives_before_its_purchase_pays_back_once_the_purchase_is_there() -> None:
    refunded = refund(BOUGHT + days(1), "T-2", amount="50.00")
    bought = purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", order_id="O-1")

    assert profile([refunded])["ticket_spend"] == Decimal("0.00")
    assert (
        profile([refunded, bought])["ticket_spend"] == profile([bought, refunded])["ticket_spend"] == Decimal("59.00")
    )


def test_a_refund_on_one_side_of_a_merge_pays_back_the_purchase_on_the_other() -> None:
    bought = fold([purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", order_id="O-1")])
    refunded = fold([refund(BOUGHT + days(1), "T-2", amount="50.00")])

    fields = view(merge(bought, refunded), as_of=AFTER_THE_SHOWS, seasons=THEATRE)

    assert (fields["tickets_bought"], fields["ticket_spend"]) == (1, Decimal("59.00"))


def test_a_profile_stored_when_refunds_were_summed_keeps_its_spend_and_counts_new_refunds_of_its_tickets() -> None:
    state = fold(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", order_id="O-1"),
            refund(BOUGHT + days(1), "T-2", amount="50.00"),
        ]
    )
    document = state.to_document()
    # As such a profile was stored: the sum, and no refund kept apart.
    del document["ticket_refunds"]
    document["ticket_refunded"] = "50.00"
    stored = ProfileState.from_document(document)
    assert view(stored, as_of=AFTER_THE_SHOWS, seasons=THEATRE)["ticket_spend"] == Decimal("59.00")

    later = apply(stored, refund(BOUGHT + days(2), "T-1", amount="54.50"))

    assert view(later, as_of=AFTER_THE_SHOWS, seasons=THEATRE)["ticket_spend"] == Decimal("4.50")


def test_an_exchange_moves_tickets_to_another_performance_and_keeps_the_spend() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2"),
            exchange(BOUGHT + days(5), ["T-1", "T-2"], GISELLE, ["T-7"], price="72.25"),
        ],
        when=datetime(2026, 11, 25, tzinfo=UTC),
    )

    assert pick(fields, "tickets_bought", "ticket_spend", "productions", "genres", "venues") == {
        "tickets_bought": 1,
        "ticket_spend": Decimal("109.00"),
        "productions": 1,
        "genres": ["danse"],
        "venues": ["Théâtre Maisonneuve"],
    }
    assert fields["last_performance_at"] == datetime(2026, 11, 21, 0, 30, tzinfo=UTC)
    assert fields["no_shows"] == 1


def test_a_ticket_exchanged_away_and_back_under_its_first_id_is_held_again() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1"),
            exchange(BOUGHT + days(1), ["T-1"], GISELLE, ["T-5"]),
            exchange(BOUGHT + days(2), ["T-5"], BELLES_SOEURS, ["T-1"]),
        ],
        when=BOUGHT + days(3),
    )

    assert pick(fields, "tickets_bought", "productions") == {"tickets_bought": 1, "productions": 1}


def test_a_scan_counts_attendance_once_per_performance() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2"),
            scan(datetime(2026, 10, 17, 23, 41, tzinfo=UTC), BELLES_SOEURS, "T-1"),
            scan(datetime(2026, 10, 17, 23, 42, tzinfo=UTC), BELLES_SOEURS, "T-2"),
        ]
    )

    assert (fields["performances_attended"], fields["no_shows"]) == (1, 0)


def test_a_past_performance_with_tickets_and_no_scan_is_a_no_show_a_day_after_it_began() -> None:
    history = [purchase(BOUGHT, BELLES_SOEURS), purchase(BOUGHT, GISELLE, "T-9", order_id="O-2")]
    began = datetime(2026, 10, 18, 0, tzinfo=UTC)

    assert profile(history, when=began + timedelta(hours=23))["no_shows"] == 0
    assert profile(history, when=began + days(1))["no_shows"] == 1
    assert profile(history, when=datetime(2026, 11, 30, tzinfo=UTC))["no_shows"] == 2


def test_refunded_tickets_are_no_no_show() -> None:
    assert profile([purchase(BOUGHT, BELLES_SOEURS), refund(BOUGHT + days(1), "T-1")])["no_shows"] == 0


def test_genres_and_venues_list_what_the_person_booked_or_attended() -> None:
    fields = profile(
        [
            purchase(BOUGHT, BELLES_SOEURS),
            purchase(BOUGHT, GISELLE, "T-5", order_id="O-5"),
            scan(datetime(2026, 3, 5, 23, 50, tzinfo=UTC), LAST_SEASON, "T-friend"),
        ]
    )

    assert fields["genres"] == ["danse", "théâtre"]
    assert fields["venues"] == ["Salle Fred-Barry", "Salle Jean-Duceppe", "Théâtre Maisonneuve"]
    assert fields["productions"] == 3


def test_first_and_last_purchase_count_tickets_and_passes() -> None:
    fields = profile(
        [
            purchase(BOUGHT + days(10), BELLES_SOEURS),
            subscription(BOUGHT),
            purchase(BOUGHT + days(20), GISELLE, "T-5", order_id="O-5"),
            shop_order(BOUGHT + days(40)),
        ]
    )

    assert (fields["first_purchase_at"], fields["last_purchase_at"]) == (BOUGHT, BOUGHT + days(20))


def test_the_last_performance_is_the_latest_one_booked_that_has_begun() -> None:
    history = [purchase(BOUGHT, BELLES_SOEURS), purchase(BOUGHT, GISELLE, "T-5", order_id="O-5")]

    assert profile(history, when=datetime(2026, 11, 1, tzinfo=UTC))["last_performance_at"] == datetime(
        2026, 10, 18, 0, tzinfo=UTC
    )
    assert profile(history, when=datetime(2026, 9, 30, tzinfo=UTC))["last_performance_at"] is None


def test_a_season_pass_makes_a_subscriber_until_the_day_after_it_ends_in_montreal() -> None:
    history = [subscription(BOUGHT, starts_on=date(2026, 9, 1), ends_on=date(2027, 6, 30))]
    ends = datetime(2027, 7, 1, tzinfo=MONTREAL)

    assert profile(history, when=ends - timedelta(seconds=1))["is_subscriber"] is True
    assert profile(history, when=ends)["is_subscriber"] is False
    assert profile(history)["subscription_renewal_at"] == ends


def test_a_pass_bought_in_spring_for_next_season_already_makes_a_subscriber() -> None:
    history = [subscription(datetime(2026, 5, 1, tzinfo=UTC), starts_on=date(2026, 9, 1))]

    assert profile(history, when=datetime(2026, 5, 2, tzinfo=UTC))["is_subscriber"] is True


def test_a_renewing_membership_lapses_two_weeks_after_its_renewal_date_unless_renewed() -> None:
    first = subscription(
        BOUGHT, kind="membership", starts_on=date(2026, 9, 1), ends_on=None, renews_on=date(2027, 9, 1)
    )
    renewal = subscription(
        datetime(2027, 9, 3, 9, tzinfo=UTC),
        kind="membership",
        starts_on=date(2027, 9, 1),
        ends_on=None,
        renews_on=date(2028, 9, 1),
    )
    due = datetime(2027, 9, 1, tzinfo=MONTREAL)

    # The renewal is charged on the day, or days later when its payment is tried again: still a member meanwhile.
    assert profile([first], when=due)["is_subscriber"] is True
    assert profile([first], when=due)["subscription_renewal_at"] == due
    assert profile([first], when=due + days(14) - timedelta(seconds=1))["is_subscriber"] is True
    assert profile([first], when=due + days(14))["is_subscriber"] is False
    assert profile([first], when=due + days(14))["lifecycle_stage"] != "subscriber"
    assert profile([first, renewal], when=due + days(30))["is_subscriber"] is True
    assert profile([first, renewal], when=due + days(2))["subscription_renewal_at"] == datetime(
        2028, 9, 1, tzinfo=MONTREAL
    )


def test_a_pass_with_a_last_day_lapses_the_day_after_it_with_no_grace() -> None:
    history = [subscription(BOUGHT, starts_on=date(2026, 9, 1), ends_on=date(2027, 6, 30))]
    day_after = datetime(2027, 7, 1, tzinfo=MONTREAL)

    assert profile(history, when=day_after - timedelta(seconds=1))["is_subscriber"] is True
    assert profile(history, when=day_after)["is_subscriber"] is False


def test_subscription_spend_adds_every_pass_and_membership_bought_or_renewed() -> None:
    history = [
        subscription(BOUGHT, price="215.00"),
        subscription(BOUGHT, kind="membership", price="120.00", subscription_id="MEM-1"),
        subscription(
            BOUGHT + days(365), kind="membership", price="125.50", subscription_id="MEM-1", ends_on=date(2028, 6, 30)
        ),
    ]

    assert profile([])["subscription_spend"] == Decimal("0.00")
    assert profile(history, when=BOUGHT + days(366))["subscription_spend"] == Decimal("460.50")


def test_a_pass_payment_told_by_two_events_counts_once_and_each_renewal_counts() -> None:
    paid = subscription(BOUGHT, price="215.00", subscription_id="ABO-9")
    # The same payment, imported with the box office's history after its webhook: another event id.
    told_again = replace(subscription(BOUGHT, price="215.00", subscription_id="ABO-9"), event_id="import-ABO-9")
    # Renewed: the day it was first valid kept, its next renewal moved on.
    monthly = subscription(BOUGHT, kind="membership", price="10.00", subscription_id="MEM-7", ends_on=None)
    renewals = [
        replace(
            subscription(
                BOUGHT + days(30 * month),
                kind="membership",
                price="10.00",
                subscription_id="MEM-7",
                ends_on=None,
                renews_on=date(2026, 10 + month, 1),
            ),
            event_id=f"renewal-{month}",
        )
        for month in (0, 1)
    ]

    for history in ([paid, told_again], [told_again, paid]):
        assert pick(profile(history), "subscription_spend", "rfm.frequency") == {
            "subscription_spend": Decimal("215.00"),
            "rfm.frequency": 1,
        }
    assert profile([monthly, *renewals], when=BOUGHT + days(61))["subscription_spend"] == Decimal("30.00")


def test_a_profile_stored_when_pass_payments_were_summed_keeps_them() -> None:
    document = fold([opened(BOUGHT)]).to_document()
    document |= {"subscription_payments": 2, "subscription_paid": "430.00"}
    stored = ProfileState.from_document(document)

    later = apply(stored, subscription(BOUGHT + days(365), price="230.00", ends_on=date(2028, 6, 30)))

    assert pick(view(later, as_of=AFTER_THE_SHOWS, seasons=THEATRE), "subscription_spend", "rfm.frequency") == {
        "subscription_spend": Decimal("660.00"),
        "rfm.frequency": 3,
    }


def test_a_pass_with_no_end_or_renewal_date_lasts_a_year() -> None:
    history = [subscription(BOUGHT, starts_on=date(2026, 9, 1), ends_on=None)]

    assert profile(history)["subscription_renewal_at"] == datetime(2027, 9, 1, tzinfo=MONTREAL)


def test_season_fields_count_tickets_productions_and_spend_by_the_season_of_the_performance() -> None:
    fields = profile(
        [
            purchase(datetime(2026, 1, 10, tzinfo=UTC), LAST_SEASON, "T-0", price="40.00", order_id="O-0"),
            purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", price="54.50", order_id="O-1"),
            purchase(BOUGHT, MATINEE, "T-3", price="32.00", order_id="O-2"),
            purchase(BOUGHT, GISELLE, "T-4", price="72.25", order_id="O-3"),
            refund(BOUGHT + days(1), "T-4", amount="72.25"),
        ]
    )

    assert pick(
        fields,
        *(
            f"season.{which}.{part}"
            for which in ("current", "previous")
            for part in ("tickets", "productions", "spend", "label")
        ),
    ) == {
        "season.current.tickets": 3,
        "season.current.productions": 1,
        "season.current.spend": Decimal("141.00"),
        "season.current.label": "2026-2027",
        "season.previous.tickets": 1,
        "season.previous.productions": 1,
        "season.previous.spend": Decimal("40.00"),
        "season.previous.label": "2025-2026",
    }


def test_a_festival_counts_seasons_by_calendar_year() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS)], seasons=SeasonCalendar(start_month=1))

    assert (fields["season.current.label"], fields["season.previous.label"]) == ("2026", "2025")
    assert fields["season.current.tickets"] == 1


# Shop


def test_shop_orders_spend_and_categories() -> None:
    fields = profile(
        [
            shop_order(BOUGHT, order_id="1", total="38.59", categories=("livres", "programmes")),
            shop_order(BOUGHT + days(3), order_id="2", total="25.00", categories=("affiches",)),
            shop_refund(BOUGHT + days(4), order_id="1", amount="17.95"),
        ]
    )

    assert pick(fields, "shop_orders", "shop_spend", "last_order_at", "shop_categories") == {
        "shop_orders": 2,
        "shop_spend": Decimal("45.64"),
        "last_order_at": BOUGHT + days(3),
        "shop_categories": ["affiches", "livres", "programmes"],
    }


def test_an_order_refunded_in_full_no_longer_counts() -> None:
    fields = profile(
        [
            shop_order(BOUGHT, order_id="1", total="38.59", categories=("livres",)),
            shop_order(BOUGHT + days(3), order_id="2", total="25.00", categories=("affiches",)),
            shop_refund(BOUGHT + days(4), order_id="2", amount="25.00"),
        ]
    )

    assert pick(fields, "shop_orders", "shop_spend", "last_order_at", "shop_categories") == {
        "shop_orders": 1,
        "shop_spend": Decimal("38.59"),
        "last_order_at": BOUGHT,
        "shop_categories": ["livres"],
    }


@pytest.mark.parametrize("cancelled_first", [False, True])
def test_a_cancelled_order_counts_for_nothing_whichever_comes_first(cancelled_first: bool) -> None:
    # An order placed and never paid for (a manual payment) is cancelled with no refund to take it back.
    history = [
        shop_order(BOUGHT, order_id="1", total="38.59", categories=("livres",)),
        shop_order(BOUGHT + days(3), order_id="2", total="25.00", categories=("affiches",)),
        shop_cancellation(BOUGHT + days(4), order_id="2"),
    ]

    fields = profile(history[::-1] if cancelled_first else history)

    assert pick(fields, "shop_orders", "shop_spend", "last_order_at", "shop_categories", "rfm.frequency") == {
        "shop_orders": 1,
        "shop_spend": Decimal("38.59"),
        "last_order_at": BOUGHT,
        "shop_categories": ["livres"],
        "rfm.frequency": 1,
    }


def test_a_cancelled_order_refunded_in_part_takes_nothing_off_the_spend_of_the_others() -> None:
    fields = profile(
        [
            shop_order(BOUGHT, order_id="1", total="38.59"),
            shop_order(BOUGHT + days(1), order_id="2", total="25.00"),
            shop_refund(BOUGHT + days(2), order_id="2", amount="10.00"),
            shop_cancellation(BOUGHT + days(2), order_id="2"),
        ]
    )

    assert pick(fields, "shop_orders", "shop_spend") == {"shop_orders": 1, "shop_spend": Decimal("38.59")}


def test_someone_whose_only_order_was_cancelled_has_bought_nothing() -> None:
    fields = profile([shop_order(BOUGHT, order_id="1"), shop_cancellation(BOUGHT + days(1), order_id="1")])

    assert pick(fields, "shop_orders", "shop_spend", "rfm.score", "lifecycle_stage") == {
        "shop_orders": 0,
        "shop_spend": Decimal("0.00"),
        "rfm.score": None,
        "lifecycle_stage": None,
    }


# Donations


def test_donations_count_total_largest_first_and_last() -> None:
    fields = profile(
        [donation(BOUGHT + days(30), "50"), donation(BOUGHT, "250.00"), donation(BOUGHT + days(60), "25.50")]
    )

    assert pick(
        fields, "donations_count", "donations_total", "largest_donation", "first_donation_at", "last_donation_at"
    ) == {
        "donations_count": 3,
        "donations_total": Decimal("325.50"),
        "largest_donation": Decimal("250.00"),
        "first_donation_at": BOUGHT,
        "last_donation_at": BOUGHT + days(60),
    }


def test_a_gift_sent_again_under_another_event_id_counts_once() -> None:
    # A donation platform's retry names the same donation under a fresh event id.
    gift = donation(BOUGHT, "250.00", donation_id="ZF-1")
    retried = replace(gift, event_id="evt-retried")

    fields = profile([gift, retried, donation(BOUGHT + days(30), "50", donation_id="ZF-2")], when=BOUGHT + days(31))

    assert pick(
        fields,
        "donations_count",
        "donations_total",
        "largest_donation",
        "first_donation_at",
        "last_donation_at",
        "rfm.frequency",
        "rfm.monetary",
    ) == {
        "donations_count": 2,
        "donations_total": Decimal("300.00"),
        "largest_donation": Decimal("250.00"),
        "first_donation_at": BOUGHT,
        "last_donation_at": BOUGHT + days(30),
        "rfm.frequency": 2,
        "rfm.monetary": 3,
    }


def test_when_two_events_for_one_gift_disagree_on_its_amount_the_first_told_counts_in_any_order() -> None:
    first = donation(BOUGHT, "250.00", donation_id="ZF-1")
    later = donation(BOUGHT + days(1), "25.00", donation_id="ZF-1")

    for history in ([first, later], [later, first]):
        assert pick(profile(history), "donations_count", "donations_total", "largest_donation") == {
            "donations_count": 1,
            "donations_total": Decimal("250.00"),
            "largest_donation": Decimal("250.00"),
        }


def test_a_profile_stored_when_gifts_were_summed_keeps_its_donations() -> None:
    document = fold([opened(BOUGHT)]).to_document()
    # As such a profile was stored: two gifts summed, none kept apart.
    document |= {
        "donations": 2,
        "donated": "300.00",
        "largest_donation": "250.00",
        "first_donation_at": BOUGHT.isoformat(),
        "last_donation_at": (BOUGHT + days(30)).isoformat(),
    }
    stored = ProfileState.from_document(document)
    names = ("donations_count", "donations_total", "largest_donation", "first_donation_at", "last_donation_at")
    assert pick(view(stored, as_of=AFTER_THE_SHOWS, seasons=THEATRE), *names) == {
        "donations_count": 2,
        "donations_total": Decimal("300.00"),
        "largest_donation": Decimal("250.00"),
        "first_donation_at": BOUGHT,
        "last_donation_at": BOUGHT + days(30),
    }

    later = apply(stored, donation(BOUGHT + days(40), "75.00", donation_id="ZF-3"))

    assert pick(view(later, as_of=AFTER_THE_SHOWS, seasons=THEATRE), *names) == {
        "donations_count": 3,
        "donations_total": Decimal("375.00"),
        "largest_donation": Decimal("250.00"),
        "first_donation_at": BOUGHT,
        "last_donation_at": BOUGHT + days(40),
    }


def test_someone_who_never_gave_has_no_largest_donation() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS)])

    assert (fields["donations_count"], fields["donations_total"], fields["largest_donation"]) == (
        0,
        Decimal("0.00"),
        None,
    )


# Engagement


@pytest.mark.parametrize(
    ("history", "status"),
    [
        (["subscribed"], "subscribed"),
        (["subscribed", "unsubscribed"], "unsubscribed"),
        (["subscribed", "cleaned"], "cleaned"),
        (["subscribed", "cleaned for another reason"], "cleaned"),
        (["unsubscribed", "subscribed"], "subscribed"),
        ([], "none"),
    ],
)
def test_the_newsletter_status_is_the_latest_one(history: list[str], status: str) -> None:
    events = [newsletter(kind, BOUGHT + days(index)) for index, kind in enumerate(history)]

    assert profile(events)["newsletter_status"] == status


def test_subscribed_to_any_list_is_subscribed() -> None:
    events = [
        newsletter("subscribed", BOUGHT, list_id="infolettre"),
        newsletter("unsubscribed", BOUGHT + days(1), list_id="danse"),
    ]

    assert profile(events)["newsletter_status"] == "subscribed"


def test_opens_and_clicks_are_counted_over_the_last_30_and_90_days() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    events = [
        opened(now - days(1)),
        opened(now - days(30) + timedelta(seconds=1)),
        opened(now - days(30)),
        opened(now - days(89)),
        opened(now - days(90)),
        opened(now - days(200)),
        clicked(now - days(10)),
        clicked(now - days(60)),
    ]

    assert pick(profile(events, when=now), "opens_30d", "opens_90d", "clicks_30d", "clicks_90d") == {
        "opens_30d": 2,
        "opens_90d": 4,
        "clicks_30d": 1,
        "clicks_90d": 2,
    }


def test_social_engagements_and_bounces_are_counted() -> None:
    fields = profile([social(BOUGHT), social(BOUGHT + days(1)), bounced(BOUGHT)])

    assert (fields["social_engagements"], fields["bounces"]) == (2, 1)


# Scores


def test_rfm_of_a_recent_frequent_generous_patron_is_555() -> None:
    history = [
        purchase(BOUGHT - days(index * 7), BELLES_SOEURS, f"T-{index}", price="120.00", order_id=f"O-{index}")
        for index in range(10)
    ]

    fields = profile(history, when=BOUGHT + days(10))

    assert pick(fields, "rfm.recency", "rfm.frequency", "rfm.monetary", "rfm.score") == {
        "rfm.recency": 5,
        "rfm.frequency": 5,
        "rfm.monetary": 5,
        "rfm.score": "555",
    }


@pytest.mark.parametrize(
    ("elapsed_days", "recency"),
    [(0, 5), (89, 5), (90, 4), (179, 4), (180, 3), (364, 3), (365, 2), (729, 2), (730, 1), (3000, 1)],
)
def test_recency_steps_down_at_90_180_365_and_730_days(elapsed_days: int, recency: int) -> None:
    assert profile([donation(BOUGHT, "20")], when=BOUGHT + days(elapsed_days))["rfm.recency"] == recency


@pytest.mark.parametrize(("transactions", "frequency"), [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (9, 4), (10, 5)])
def test_frequency_counts_orders_passes_shop_orders_and_gifts(transactions: int, frequency: int) -> None:
    kinds = [
        lambda index: purchase(BOUGHT, BELLES_SOEURS, f"T-{index}", order_id=f"O-{index}"),
        lambda index: subscription(BOUGHT, subscription_id=f"ABO-{index}"),
        lambda index: shop_order(BOUGHT, order_id=f"S-{index}"),
        lambda index: donation(BOUGHT, "1", donation_id=f"D-{index}"),
    ]
    history = [kinds[index % 4](index) for index in range(transactions)]

    assert profile(history, when=BOUGHT + days(1))["rfm.frequency"] == frequency


@pytest.mark.parametrize("kind", ["tickets", "shop"])
def test_an_order_refunded_in_full_is_no_transaction_for_rfm_or_the_lifecycle(kind: str) -> None:
    now = BOUGHT + days(400)
    if kind == "tickets":
        kept = purchase(BOUGHT, BELLES_SOEURS, "T-1", order_id="O-1")
        later = [purchase(now - days(10), BELLES_SOEURS, "T-2", order_id="O-2"), refund(now - days(9), "T-2")]
    else:
        kept = shop_order(BOUGHT, order_id="S-1", total="54.50")
        later = [
            shop_order(now - days(10), order_id="S-2", total="54.50"),
            shop_refund(now - days(9), order_id="S-2", amount="54.50"),
        ]

    fields = profile([kept, *later], when=now)

    assert pick(fields, "rfm.recency", "rfm.frequency", "lifecycle_stage") == {
        "rfm.recency": 2,
        "rfm.frequency": 1,
        "lifecycle_stage": "lapsed",
    }


def test_an_order_with_one_ticket_refunded_of_two_still_counts() -> None:
    history = [purchase(BOUGHT, BELLES_SOEURS, "T-1", "T-2", order_id="O-1"), refund(BOUGHT + days(1), "T-2")]

    assert pick(profile(history, when=BOUGHT + days(2)), "rfm.frequency", "rfm.recency") == {
        "rfm.frequency": 1,
        "rfm.recency": 5,
    }


def test_someone_whose_only_ticket_order_was_refunded_has_bought_nothing() -> None:
    fields = profile([purchase(BOUGHT, BELLES_SOEURS, "T-1"), refund(BOUGHT + days(1), "T-1")], when=BOUGHT + days(5))

    assert pick(fields, "tickets_bought", "rfm.score", "lifecycle_stage") == {
        "tickets_bought": 0,
        "rfm.score": None,
        "lifecycle_stage": None,
    }


@pytest.mark.parametrize(
    ("spend", "monetary"),
    [("99.99", 1), ("100.00", 2), ("249.99", 2), ("250.00", 3), ("500.00", 4), ("999.99", 4), ("1000.00", 5)],
)
def test_monetary_steps_up_at_100_250_500_and_1000_dollars(spend: str, monetary: int) -> None:
    assert profile([donation(BOUGHT, spend)], when=BOUGHT)["rfm.monetary"] == monetary


def test_rfm_thresholds_are_configurable() -> None:
    festival = RfmThresholds(monetary=(Decimal(20), Decimal(40), Decimal(60), Decimal(80)))

    assert profile([donation(BOUGHT, "65")], when=BOUGHT, rfm_thresholds=festival)["rfm.monetary"] == 4


def test_an_exchange_keeping_the_ticket_s_id_keeps_its_order_in_the_frequency() -> None:
    bought = [
        purchase(BOUGHT, BELLES_SOEURS, "T-1", order_id="O-1"),
        purchase(BOUGHT + days(1), BELLES_SOEURS, "T-2", order_id="O-2"),
    ]
    moved = exchange(BOUGHT + days(2), ["T-2"], MATINEE, ["T-2"])

    assert profile([*bought, moved], when=BOUGHT + days(3))["rfm.frequency"] == 2


def test_a_ticket_stored_before_purchases_were_kept_apart_from_exchanges_counts_its_order_after_an_exchange() -> None:
    state = fold(
        [
            purchase(BOUGHT, BELLES_SOEURS, "T-1", order_id="O-1"),
            purchase(BOUGHT + days(1), BELLES_SOEURS, "T-2", order_id="O-2"),
        ]
    )
    document = state.to_document()
    for ticket in document["tickets"]:
        del ticket["value"]["bought"]
    stored = ProfileState.from_document(document)
    assert view(stored, as_of=BOUGHT + days(2), seasons=THEATRE)["rfm.frequency"] == 2

    moved = apply(stored, exchange(BOUGHT + days(2), ["T-2"], MATINEE, ["T-2"]))

    # With the default thresholds, one order and none score alike: two tell them apart.
    assert view(moved, as_of=BOUGHT + days(3), seasons=THEATRE)["rfm.frequency"] == 2


def test_rfm_thresholds_must_increase() -> None:
    with pytest.raises(ValueError, match="increasing"):
        RfmThresholds(recency_days=(90, 60, 365, 730))


def test_someone_who_never_bought_or_gave_has_no_rfm() -> None:
    fields = profile([opened(BOUGHT), withdrawn(BOUGHT)])

    assert [fields[name] for name in ("rfm.recency", "rfm.frequency", "rfm.monetary", "rfm.score")] == [None] * 4


def test_a_subscriber_is_a_subscriber_before_anything_else() -> None:
    assert profile([subscription(BOUGHT), donation(BOUGHT)])["lifecycle_stage"] == "subscriber"


def test_a_gift_within_24_months_makes_a_donor() -> None:
    history = [purchase(BOUGHT - days(900), LAST_SEASON), donation(BOUGHT)]

    assert profile(history, when=datetime(2028, 9, 2, 18, 30, tzinfo=UTC))["lifecycle_stage"] == "donor"
    assert profile(history, when=datetime(2028, 9, 2, 18, 31, tzinfo=UTC))["lifecycle_stage"] == "lapsed"


@pytest.mark.parametrize(
    ("first_days_ago", "last_days_ago", "stage"),
    [
        (89, 89, "new"),
        (90, 90, "active"),
        (400, 20, "active"),
        (400, 182, "active"),
        (400, 184, "at_risk"),
        (700, 364, "at_risk"),
        (700, 366, "lapsed"),
    ],
)
def test_the_lifecycle_follows_the_first_and_last_purchase(first_days_ago: int, last_days_ago: int, stage: str) -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    history = [
        purchase(now - days(first_days_ago), BELLES_SOEURS, "T-1", order_id="O-1"),
        purchase(now - days(last_days_ago), MATINEE, "T-2", order_id="O-2"),
    ]

    assert profile(history, when=now)["lifecycle_stage"] == stage


LAST_BOUGHT = datetime(2025, 10, 1, 12, tzinfo=UTC)


def buyer_since_2024_last_buying_on(last: datetime) -> ProfileState:
    return fold(
        [
            purchase(datetime(2024, 3, 5, 12, tzinfo=UTC), BELLES_SOEURS, "T-1", order_id="O-1"),
            purchase(last, MATINEE, "T-2", order_id="O-2"),
        ]
    )


@pytest.mark.parametrize(
    ("when", "stage"),
    [
        (datetime(2026, 4, 1, 11, 59, 59, 999999, tzinfo=UTC), "active"),
        (datetime(2026, 4, 1, 12, tzinfo=UTC), "at_risk"),
        (datetime(2026, 10, 1, 11, 59, 59, 999999, tzinfo=UTC), "at_risk"),
        (datetime(2026, 10, 1, 12, tzinfo=UTC), "lapsed"),
    ],
)
def test_a_buyer_is_at_risk_6_months_after_the_last_purchase_and_lapsed_12_months_after(
    when: datetime, stage: str
) -> None:
    state = buyer_since_2024_last_buying_on(LAST_BOUGHT)

    assert view(state, as_of=when, seasons=THEATRE)["lifecycle_stage"] == stage


def test_the_sweep_is_due_when_a_buyer_becomes_at_risk_6_months_after_the_last_purchase() -> None:
    state = buyer_since_2024_last_buying_on(LAST_BOUGHT)
    # After the recency score's 180-day step, the stage is the next thing time changes.
    after_recency_step = LAST_BOUGHT + days(181)

    assert next_time_change(state, after_recency_step, seasons=THEATRE) == datetime(2026, 4, 1, 12, tzinfo=UTC)


def test_engagement_adds_opens_clicks_attendance_recency_and_social_points() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    history = [
        *(opened(now - days(index)) for index in range(3)),
        clicked(now - days(2)),
        purchase(datetime(2026, 9, 15, tzinfo=UTC), BELLES_SOEURS),
        scan(datetime(2026, 10, 17, 23, 41, tzinfo=UTC), BELLES_SOEURS),
        social(now - days(300)),
    ]

    # 3 opens × 2 + 1 click × 4 + 25 attended + recency 5 × 5 + 1 social.
    assert profile(history, when=now)["engagement_score"] == 6 + 4 + 25 + 25 + 1


def test_engagement_is_at_most_100() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    history = [
        *(opened(now - days(index)) for index in range(20)),
        *(clicked(now - days(index)) for index in range(20)),
        *(social(now - days(index)) for index in range(20)),
        purchase(now - days(30), BELLES_SOEURS),
        scan(now - days(20), BELLES_SOEURS),
    ]

    assert profile(history, when=now)["engagement_score"] == 100


def test_two_deliveries_of_one_event_id_that_differ_fold_alike_in_either_order() -> None:
    first = replace(purchase(BOUGHT, BELLES_SOEURS, "T-1", price="54.50"), event_id="evt-same")
    second = replace(purchase(BOUGHT, BELLES_SOEURS, "T-1", price="32.00"), event_id="evt-same")

    assert fold([first, second]) == fold([second, first])
