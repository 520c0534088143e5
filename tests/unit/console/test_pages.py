from typing import Any
from urllib.parse import urlencode

import pytest

from services.console.domain.i18n import Language
from services.console.domain.pages import (
    PAGER_TRAIL,
    Pager,
    compare_for_review,
    consent_rows,
    email_today,
    event_summary,
    fired_triggers,
    localized,
    merge_rows,
    origin_of,
    pager,
    sources_of,
    tickets_by_season,
    titled,
    titles_by_name,
)


def _consented(**fields: Any) -> dict[str, Any]:
    return {
        "emails": ["helene.cote@example.org"],
        "consent.marketing_email.status": "granted",
        "consent.marketing_email.basis": "implied_purchase",
        "consent.marketing_email.captured_at": "2026-09-20T15:00:00+00:00",
        "consent.marketing_email.expires_at": "2028-09-20T15:00:00+00:00",
        "consent.marketing_email.allowed": True,
        **fields,
    }


def test_email_is_allowed_today_with_consent_valid_now_and_an_address() -> None:
    answer = email_today(_consented())
    assert answer.allowed
    assert answer.reason == "contact.implied"
    assert answer.until == "2028-09-20T15:00:00+00:00"
    express = email_today(_consented(**{"consent.marketing_email.basis": "express"}))
    assert express.allowed
    assert express.reason == "contact.express"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"emails": []}, "contact.no_email"),
        (
            {"consent.marketing_email.allowed": False, "consent.marketing_email.status": "withdrawn"},
            "contact.withdrawn",
        ),
        ({"consent.marketing_email.allowed": False}, "contact.expired"),
        (
            {
                "consent.marketing_email.allowed": False,
                "consent.marketing_email.status": "none",
                "consent.marketing_email.expires_at": None,
            },
            "contact.no_consent",
        ),
    ],
)
def test_email_is_refused_today_and_the_answer_says_why(changes: dict[str, Any], reason: str) -> None:
    answer = email_today(_consented(**changes))
    assert not answer.allowed
    assert answer.reason == reason


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"consent.marketing_email.basis": "express", "consent.marketing_email.captured_at": None}, "contact.express"),
        ({"consent.marketing_email.expires_at": None}, "contact.implied"),
        (
            {
                "consent.marketing_email.allowed": False,
                "consent.marketing_email.status": "withdrawn",
                "consent.marketing_email.captured_at": None,
            },
            "contact.withdrawn",
        ),
        ({"consent.marketing_email.allowed": False, "consent.marketing_email.expires_at": "soon"}, "contact.expired"),
    ],
)
def test_an_answer_whose_date_is_not_on_file_is_said_without_a_date(changes: dict[str, Any], reason: str) -> None:
    answer = email_today(_consented(**changes))
    assert answer.reason == f"{reason}_undated"


def test_a_profile_with_no_consent_fields_at_all_answers_no_consent() -> None:
    answer = email_today({"emails": ["a@example.org"]})
    assert (answer.allowed, answer.reason) == (False, "contact.no_consent")


def test_consents_are_listed_for_every_purpose_even_those_never_given() -> None:
    rows = consent_rows(_consented())
    assert [row.purpose for row in rows] == ["marketing_email", "sms", "postal", "survey"]
    assert rows[0].allowed
    assert rows[0].basis == "implied_purchase"
    assert rows[1].status == "none"
    assert not rows[1].allowed


def _merge(merge_id: str, survivor: str, merged: list[str], at: str, undone: str | None = None) -> dict[str, Any]:
    return {
        "merge_id": merge_id,
        "survivor_person_id": survivor,
        "merged_person_ids": merged,
        "reason": "…",
        "evidence": [{"identifier_type": "external_id:billetterie"}, {"identifier_type": "email"}],
        "decided_by": "rule",
        "merged_at": at,
        "undone_at": undone,
    }


def test_merges_are_listed_latest_first_and_only_standing_ones_on_the_survivor_s_page_can_be_undone() -> None:
    person = {
        "merges": [
            _merge("m1", "per_a", ["per_b"], "2026-09-01T00:00:00+00:00"),
            _merge("m2", "per_a", ["per_c"], "2026-10-01T00:00:00+00:00", undone="2026-10-02T00:00:00+00:00"),
            _merge("m3", "per_z", ["per_a"], "2026-11-01T00:00:00+00:00"),
        ]
    }
    rows = merge_rows(person, "per_a")
    assert [row.merge_id for row in rows] == ["m3", "m2", "m1"]
    assert [row.can_undo for row in rows] == [False, False, True]
    # An upstream id's kind names its source; a reviewer reads the kind.
    assert rows[0].evidence_kinds == ("email", "external_id")


def test_the_sources_of_a_patron_are_each_system_with_the_kinds_of_identifier_it_gave() -> None:
    person = {
        "identifiers": [
            {"type": "external_id", "source": "billetterie", "value": "C-1"},
            {"type": "email", "source": None, "value": "h@example.org"},
            {"type": "external_id", "source": "boutique", "value": "S-7"},
        ]
    }
    rows = sources_of(person, {"sources": ["infolettre", "billetterie", "boutique"]})
    assert [(row.source, row.kinds) for row in rows] == [
        ("billetterie", ("external_id",)),
        ("boutique", ("external_id",)),
        ("infolettre", ()),
    ]
    assert [row.source for row in sources_of(None, {})] == []


def _line(season: str, production: str, starts_at: str, tickets: int, attended: bool = False) -> dict[str, Any]:
    return {
        "season": season,
        "production_id": production,
        "title": {"fr": f"{production} (fr)", "en": None},
        "performance_id": f"{production}-{starts_at}",
        "starts_at": starts_at,
        "venue": "Salle",
        "tickets": tickets,
        "spend": "10.00",
        "attended": attended,
    }


def test_tickets_are_grouped_by_season_then_production_latest_first_with_their_totals() -> None:
    lines = [
        _line("2025-2026", "gala", "2026-03-01T20:00:00+00:00", 2, attended=True),
        _line("2026-2027", "belles", "2026-10-17T20:00:00+00:00", 1),
        _line("2026-2027", "belles", "2026-10-18T20:00:00+00:00", 3, attended=True),
        _line("2026-2027", "tartuffe", "2026-09-30T20:00:00+00:00", 1),
    ]
    seasons = tickets_by_season(lines, Language.EN)
    assert [(season.season, season.tickets) for season in seasons] == [("2026-2027", 5), ("2025-2026", 2)]
    belles, tartuffe = seasons[0].productions
    assert (belles.production_id, belles.tickets, belles.attended) == ("belles", 4, 1)
    # An English page shows the French title when the box office gave no English one.
    assert belles.title == "belles (fr)"
    assert [line["starts_at"][:10] for line in belles.performances] == ["2026-10-18", "2026-10-17"]
    assert tartuffe.production_id == "tartuffe"


def test_tickets_are_ordered_by_the_moment_of_the_performance_whatever_offset_it_was_written_with() -> None:
    # 20:00 in Montréal is midnight UTC on the 3rd: an hour after 23:00 UTC on the 2nd, though it reads earlier.
    local = {"season": "2026-2027", "production_id": "belles", "tickets": 1, "starts_at": "2026-10-02T20:00:00-04:00"}
    utc = {"season": "2026-2027", "production_id": "tartuffe", "tickets": 1, "starts_at": "2026-10-02T23:00:00+00:00"}
    [season] = tickets_by_season([utc, local], Language.FR)
    assert [production.production_id for production in season.productions] == ["belles", "tartuffe"]


def test_a_text_is_shown_in_the_page_language_else_in_the_other() -> None:
    assert localized({"fr": "Programme", "en": "Programme (en)"}, Language.EN) == "Programme (en)"
    assert localized({"fr": "Programme", "en": None}, Language.EN) == "Programme"
    assert localized({"en": "Gala"}, Language.FR) == "Gala"
    assert localized(None, Language.FR) is None


def test_fired_trigger_keys_read_as_rule_and_period() -> None:
    fired = fired_triggers(["welcome-first-purchase:per_a:once", "thank-you:per_a:2026-10-17", "odd-key"], "per_a", {})
    assert [(trigger.rule, trigger.period) for trigger in fired] == [
        ("odd-key", None),
        ("thank-you", "2026-10-17"),
        ("welcome-first-purchase", None),
    ]


def test_a_review_shows_each_compared_field_side_by_side_with_its_verdict() -> None:
    left = {"first_name": "Gabriel", "last_name": "Bouchart", "emails": ["g@autre.example"], "postal_code": "H3B 1A7"}
    right = {
        "first_name": "Gabriel",
        "last_name": "Bouchard",
        "emails": ["g@example.org"],
        "street": "1200, rue Peel",
        "city": "Montréal",
    }
    agreements = {"first_name": "exact", "last_name": "close", "email": "different", "address": "same_city"}
    rows = {row.name: row for row in compare_for_review(left, right, agreements)}
    assert (rows["last_name"].left, rows["last_name"].right, rows["last_name"].verdict) == (
        "Bouchart",
        "Bouchard",
        "agrees",
    )
    assert rows["email"].verdict == "differs"
    assert (rows["address"].left, rows["address"].right, rows["address"].verdict) == (
        "H3B 1A7",
        "1200, rue Peel, Montréal",
        "unknown",
    )
    assert (rows["phone"].left, rows["phone"].level, rows["phone"].verdict) == ("—", "missing", "unknown")


def test_a_review_of_two_apartments_at_one_civic_number_shows_each_unit() -> None:
    home = {"street": "4521, rue Saint-Denis", "city": "Montréal", "postal_code": "H2J 2L2"}
    left, right = {**home, "address_2": "App. 3"}, {**home, "address_2": "App. 12"}

    [address] = [row for row in compare_for_review(left, right, {"address": "same_street"}) if row.name == "address"]

    assert (address.left, address.right) == (
        "4521, rue Saint-Denis, App. 3, Montréal, H2J 2L2",
        "4521, rue Saint-Denis, App. 12, Montréal, H2J 2L2",
    )


def test_a_review_of_swapped_names_shows_each_name_beside_the_one_identity_compared_it_with() -> None:
    left = {"first_name": "Tremblay", "last_name": "Marie", "city": "Rimouski"}
    right = {"first_name": "Marie", "last_name": "Tremblay", "city": "Rimouski"}
    agreements = {"first_name": "exact", "last_name": "exact", "name_order": "swapped"}

    rows = {row.name: row for row in compare_for_review(left, right, agreements)}

    first, last = rows["first_name"], rows["last_name"]
    assert (first.left, first.right, first.verdict, first.crossed) == ("Tremblay", "Tremblay", "agrees", True)
    assert (last.left, last.right, last.verdict, last.crossed) == ("Marie", "Marie", "agrees", True)
    assert not rows["address"].crossed


def test_a_review_of_names_in_the_same_order_shows_them_straight_across() -> None:
    left, right = {"first_name": "Marie", "last_name": "Tremblay"}, {"first_name": "Mary", "last_name": "Tremblay"}
    agreements = {"first_name": "nickname_or_initial", "last_name": "exact", "name_order": "straight"}

    rows = {row.name: row for row in compare_for_review(left, right, agreements)}

    assert (rows["first_name"].left, rows["first_name"].right, rows["first_name"].crossed) == ("Marie", "Mary", False)
    assert (rows["last_name"].left, rows["last_name"].right) == ("Tremblay", "Tremblay")


@pytest.mark.parametrize(
    ("data", "summary"),
    [
        ({"performance": {"production_id": "b", "title": {"fr": "Les Belles-sœurs", "en": None}}}, "Les Belles-sœurs"),
        ({"to_performance": {"production_id": "b", "title": None}}, "b"),
        ({"total": {"amount": "12.00", "currency": "CAD"}}, "12,00\u00a0$"),
        ({"list_name": "Infolettre"}, "Infolettre"),
        ({"order_id": "450789469", "reason": "customer"}, "#450789469"),
        ({"order_id": "450789469", "amount": {"amount": "5.00", "currency": "CAD"}}, "5,00\u00a0$"),
        ({}, ""),
    ],
)
def test_a_timeline_entry_says_in_a_few_words_what_its_fact_is_about(data: dict[str, Any], summary: str) -> None:
    assert event_summary({"data": data}, Language.FR) == summary


def test_a_fact_s_origin_is_the_system_its_person_came_from_else_its_source_path() -> None:
    assert origin_of({"data": {"person": {"source": "boutique"}}, "source": "/orgs/x/sources/api"}) == "boutique"
    assert origin_of({"data": {}, "source": "/orgs/x/sources/billetterie"}) == "billetterie"


def test_an_amount_in_the_timeline_is_written_as_the_page_s_language_writes_money() -> None:
    bought = {"data": {"total": {"amount": "1234.5", "currency": "CAD"}}}
    assert event_summary(bought, Language.FR) == "1\u202f234,50\u00a0$"
    assert event_summary(bought, Language.EN) == "$1,234.50"
    # Another currency keeps its code rather than pass for Canadian dollars.
    assert event_summary({"data": {"amount": {"amount": "12", "currency": "EUR"}}}, Language.FR) == "12,00\u00a0EUR"


def test_a_fired_trigger_shows_its_rule_s_title_and_a_rule_fired_once_ever_has_no_period_to_show() -> None:
    titles = {"welcome-first-purchase": "Bienvenue après un premier achat", "donor-anniversary": "Anniversaire"}
    fired = fired_triggers(
        ["welcome-first-purchase:per_a:once", "donor-anniversary:per_a:2026-10-17", "retired-rule:per_a:2026"],
        "per_a",
        titles,
    )
    assert [(trigger.rule, trigger.title, trigger.period) for trigger in fired] == [
        ("donor-anniversary", "Anniversaire", "2026-10-17"),
        ("welcome-first-purchase", "Bienvenue après un premier achat", None),
        # A rule profile no longer defines keeps its name.
        ("retired-rule", "retired-rule", "2026"),
    ]


def test_segments_and_triggers_are_named_by_their_titles_in_the_page_language() -> None:
    definitions = [
        {"name": "francophones", "title": {"fr": "Francophones", "en": "French speakers"}},
        {"name": "donors", "title": {"fr": "Donateurs", "en": "Donors"}},
    ]
    english = titles_by_name(definitions, Language.EN)
    assert english == {"francophones": "French speakers", "donors": "Donors"}
    shown = titled(["francophones", "donors", "since-defined"], english)
    assert [(item.name, item.title) for item in shown] == [
        ("donors", "Donors"),
        ("francophones", "French speakers"),
        ("since-defined", "since-defined"),
    ]


def test_the_first_page_of_members_links_only_forward() -> None:
    links = pager("/segments/donors", None, [], "per_b")
    assert (links.first, links.previous, links.next) == (None, None, "/segments/donors?cursor=per_b")
    assert pager("/segments/donors", None, [], None) == Pager(None, None, None)


def test_the_second_page_of_members_links_back_to_the_first_and_on_to_the_third() -> None:
    links = pager("/segments/donors", "per_b", [], "per_d")
    assert links.previous == "/segments/donors"
    # On the second page the previous page is the first: one link says so.
    assert links.first is None
    assert links.next == "/segments/donors?cursor=per_d&previous=per_b"


def test_a_later_page_of_members_links_back_one_page_through_the_trail_of_cursors() -> None:
    third = pager("/segments/donors", "per_d", ["per_b"], "per_f")
    assert third.previous == "/segments/donors?cursor=per_b"
    assert third.first == "/segments/donors"
    assert third.next == "/segments/donors?cursor=per_f&previous=per_b&previous=per_d"
    fourth = pager("/segments/donors", "per_f", ["per_b", "per_d"], None)
    assert fourth.previous == "/segments/donors?cursor=per_d&previous=per_b"
    assert fourth.next is None


def test_a_page_far_into_a_list_links_back_through_the_last_pages_only_then_to_the_first() -> None:
    trail = [f"per_{number:03d}" for number in range(1, PAGER_TRAIL + 5)]
    links = pager("/segments/donors", "per_900", trail, "per_901")
    kept = trail[-PAGER_TRAIL:]
    assert links.next == "/segments/donors?" + urlencode(
        [("cursor", "per_901"), *(("previous", cursor) for cursor in [*kept[1:], "per_900"]), ("cut", "1")]
    )
    assert links.previous == "/segments/donors?" + urlencode(
        [("cursor", kept[-1]), *(("previous", cursor) for cursor in kept[:-1]), ("cut", "1")]
    )
    # At the start of a cut trail the page before is forgotten: no link claims to lead to it.
    oldest = pager("/segments/donors", kept[0], [], kept[1], trail_cut=True)
    assert (oldest.first, oldest.previous) == ("/segments/donors", None)
