import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.console.context import load_catalog
from services.console.domain.i18n import (
    Catalog,
    CatalogError,
    Language,
    choose_language,
    format_date,
    format_datetime,
    format_money,
    format_number,
    format_period,
)
from services.identity.domain.identifiers import IdentifierType
from services.identity.domain.matching import Level
from services.notify.domain.retries import Verdict
from services.notify.domain.subscriptions import DisabledReason, MessageKind
from services.notify.ports import DeliveryStatus
from services.profile.domain.profile import NewsletterStatus
from services.profile.domain.scores import LifecycleStage
from shared.events.common import ConsentPurpose, LegalBasis
from shared.events.identity import MergeDecider
from shared.events.registry import all_event_types
from shared.topics import AUDIENCE_FACTS

TEMPLATES = Path("services/console/templates")
CATALOG = load_catalog()


def test_the_catalog_gives_every_message_in_french_and_in_english() -> None:
    for key, texts in CATALOG.texts.items():
        assert set(texts) == set(Language), key
        assert all(text.strip() for text in texts.values()), key


def test_every_key_a_template_names_literally_is_in_the_catalog() -> None:
    named = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        # Literal keys only: `t("stage." ~ value)` builds its key, checked by value below.
        named |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""", text))
        counted = re.findall(r"""\bcounted\(\s*["']([a-z0-9_.-]+)["']\s*,""", text)
        named |= {f"{key}{form}" for key in counted for form in (".one", ".other")}
    assert named, "the templates name messages"
    assert sorted(named - set(CATALOG.texts)) == []


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("stage.", [stage.value for stage in LifecycleStage]),
        ("purpose.", [purpose.value for purpose in ConsentPurpose]),
        ("basis.", [basis.value for basis in LegalBasis]),
        ("consent_status.", ["granted", "withdrawn", "none"]),
        ("newsletter.", [status.value for status in NewsletterStatus]),
        ("delivery_status.", [status.value for status in DeliveryStatus]),
        ("identifier.", [kind.value for kind in IdentifierType]),
        ("level.", [level.value for level in Level]),
        ("merge.decided_by.", [decider.value for decider in MergeDecider]),
        ("verdict.", ["agrees", "differs", "unknown"]),
        ("event.", [kind.value for kind in MessageKind]),
        # The outcomes the pipeline's counters and notify's deliveries are labelled with (their metrics' help).
        ("outcome.", ["accepted", "duplicate", "rejected", "awaiting_order"]),
        ("outcome.", ["new", "external_id", "email", "phone", "probabilistic", "review_pending", "erased"]),
        ("outcome.", ["suppressed", "applied", "republished", "ignored", "late", "merged", "unmerged"]),
        ("outcome.", ["erased_person", "unchanged", "swept", "cancelled", *[verdict.value for verdict in Verdict]]),
        ("language.", ["fr", "en"]),
        ("ops.disabled_reason.", [reason.value for reason in DisabledReason]),
        ("compare.", ["first_name", "last_name", "email", "phone", "address", "birth_date"]),
    ],
)
def test_every_value_a_template_builds_a_key_from_has_its_message(prefix: str, values: list[str]) -> None:
    assert sorted(f"{prefix}{value}" for value in values if not CATALOG.has(prefix + value)) == []


def test_every_upstream_fact_type_has_a_timeline_label() -> None:
    facts = [kind.name for kind in all_event_types() if kind.topic == AUDIENCE_FACTS]
    assert len(facts) > 10
    assert sorted(name for name in facts if not CATALOG.has(f"event.{name}")) == []


def test_a_catalog_entry_missing_a_language_is_refused_with_its_key() -> None:
    with pytest.raises(CatalogError, match="greeting"):
        Catalog.from_yaml("greeting: {fr: Bonjour}")


def test_a_catalog_entry_whose_languages_name_different_placeholders_is_refused() -> None:
    with pytest.raises(CatalogError, match="count"):
        Catalog.from_yaml("count: {fr: '{n} billets', en: '{count} tickets'}")


def test_a_catalog_key_outside_lower_case_letters_digits_and_dots_is_refused() -> None:
    with pytest.raises(CatalogError, match="Bad Key"):
        Catalog.from_yaml("Bad Key: {fr: a, en: b}")


def test_a_code_is_shown_by_its_message_and_a_code_the_catalog_does_not_know_as_itself() -> None:
    catalog = Catalog.from_yaml("outcome.accepted: {fr: Accepté, en: Accepted}")
    assert catalog.label("outcome.", "accepted", Language.FR) == "Accepté"
    assert catalog.label("outcome.", "accepted", Language.EN) == "Accepted"
    assert catalog.label("outcome.", "not_handled:x.v1", Language.FR) == "not_handled:x.v1"


def test_a_message_is_filled_with_its_values_in_the_language_asked() -> None:
    catalog = Catalog.from_yaml("seats: {fr: '{count} places', en: '{count} seats'}")
    assert catalog.text("seats", Language.FR, count=3) == "3 places"
    assert catalog.text("seats", Language.EN, count=3) == "3 seats"


@pytest.mark.parametrize(
    ("count", "french", "english"),
    [
        (0, "0 billet", "0 tickets"),
        (1, "1 billet", "1 ticket"),
        (2, "2 billets", "2 tickets"),
        (1234, "1\u202f234 billets", "1,234 tickets"),
        (None, "— billets", "— tickets"),
    ],
)
def test_a_count_is_said_in_the_form_each_language_uses_for_that_number(
    count: int | None, french: str, english: str
) -> None:
    catalog = Catalog.from_yaml(
        "tickets.one: {fr: '{count} billet', en: '{count} ticket'}\n"
        "tickets.other: {fr: '{count} billets', en: '{count} tickets'}"
    )
    assert catalog.counted("tickets", count, Language.FR) == french
    assert catalog.counted("tickets", count, Language.EN) == english


def test_a_count_message_missing_its_other_form_is_refused_with_its_key() -> None:
    with pytest.raises(CatalogError, match=r"tickets\.other"):
        Catalog.from_yaml("tickets.one: {fr: '{count} billet', en: '{count} ticket'}")


@pytest.mark.parametrize(
    ("period", "french", "english"),
    [
        ("2026-03", "mars 2026", "March 2026"),
        ("2026-12", "décembre 2026", "December 2026"),
        ("2026-03-15", "15 mars 2026", "March 15, 2026"),
        # A rule counted once from a moment: written in UTC, said in the organisation's time.
        ("2026-03-15T18:30:00Z", "15 mars 2026, 14 h 30", "March 15, 2026, 14:30"),
        ("2026", "2026", "2026"),
        ("2026-2027", "2026-2027", "2026-2027"),
        ("Saison 2026-27", "Saison 2026-27", "Saison 2026-27"),
        ("2026-13", "2026-13", "2026-13"),
        ("evt_01HZX", "evt_01HZX", "evt_01HZX"),
        # A performance's or an event's id that reads as a date is an id all the same.
        ("20261017-0001", "20261017-0001", "20261017-0001"),
        ("2026101712", "2026101712", "2026101712"),
        ("2026-10-17T20:00", "2026-10-17T20:00", "2026-10-17T20:00"),
        ("20261017T2000", "20261017T2000", "20261017T2000"),
    ],
)
def test_a_trigger_period_is_said_as_each_language_says_a_month_or_a_date_and_anything_else_as_it_is(
    period: str, french: str, english: str
) -> None:
    assert format_period(period, Language.FR) == french
    assert format_period(period, Language.EN) == english


@pytest.mark.parametrize(
    ("cookie", "header", "chosen"),
    [
        (None, None, Language.FR),
        (None, "en-CA,en;q=0.9", Language.EN),
        (None, "de-DE,fr;q=0.5", Language.FR),
        ("en", "fr-CA", Language.EN),
        ("fr", "en-US", Language.FR),
        ("xx", "en", Language.EN),
    ],
)
def test_the_language_is_the_one_chosen_else_the_browser_s_else_french(
    cookie: str | None, header: str | None, chosen: Language
) -> None:
    assert choose_language(cookie, header) is chosen


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("en;q=0.1, fr;q=0.9", Language.FR),
        ("fr;q=0.1, en;q=0.9", Language.EN),
        ("fr-CA;q=0.4, en-CA;q=0.6, en;q=0.2", Language.EN),
        ("de, fr;q=0.3, en;q=0.7", Language.EN),
        ("FR;Q=0.2 , EN ; q = 0.8", Language.EN),
        ("fr;q=0.999, en", Language.EN),
    ],
)
def test_the_browser_s_language_weighted_highest_is_chosen_whatever_the_order_it_is_named_in(
    header: str, chosen: Language
) -> None:
    assert choose_language(None, header) is chosen


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("de, en;q=0.5, fr;q=0.5", Language.EN),
        ("de, fr;q=0.5, en;q=0.500", Language.FR),
        ("en-GB;q=0.8, fr;q=0.8, en;q=0.1", Language.EN),
    ],
)
def test_languages_of_equal_weight_are_chosen_in_the_order_the_browser_names_them(
    header: str, chosen: Language
) -> None:
    assert choose_language(None, header) is chosen


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("fr;q=0, en;q=0.1", Language.EN),
        ("fr-CA;q=0.0, en", Language.EN),
        ("fr;q=0, *", Language.EN),
        ("en;q=0, *;q=0.1", Language.FR),
        ("en;q=0", Language.FR),
        ("en;q=0, fr;q=0", Language.FR),
    ],
)
def test_a_language_weighted_zero_is_never_chosen_unless_nothing_else_is_acceptable(
    header: str, chosen: Language
) -> None:
    assert choose_language(None, header) is chosen


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("*;q=0.5, en;q=0.1", Language.FR),
        ("de, *;q=0.5, fr;q=0.1", Language.EN),
        ("*", Language.FR),
    ],
)
def test_a_star_weighs_every_language_the_header_does_not_name(header: str, chosen: Language) -> None:
    assert choose_language(None, header) is chosen


@pytest.mark.parametrize("weight", ["q=abc", "q=", "q", "q=2", "q=1.5", "q=-1", "q=.5", "q=NaN", "q=inf", "q=1e-1"])
def test_a_language_with_an_unreadable_weight_stays_acceptable_but_below_any_weighted_properly(weight: str) -> None:
    assert choose_language(None, f"de, en;{weight}") is Language.EN
    assert choose_language(None, f"en;{weight}, fr;q=0.01") is Language.FR


@given(st.text(), st.none() | st.text(max_size=3))
def test_any_header_and_cookie_give_a_language_without_raising(header: str, cookie: str | None) -> None:
    assert choose_language(cookie, header) in set(Language)


def test_dates_are_written_the_way_each_language_writes_them_in_montreal_time() -> None:
    assert format_date(date(2026, 3, 1), Language.FR) == "1er mars 2026"
    assert format_date("2026-10-17", Language.EN) == "October 17, 2026"
    # 02:30 UTC on the 18th is still the evening of the 17th in Montréal.
    late = datetime(2026, 10, 18, 2, 30, tzinfo=UTC)
    assert format_datetime(late, Language.FR) == "17 octobre 2026, 22 h 30"
    assert format_datetime(late.isoformat(), Language.EN) == "October 17, 2026, 22:30"
    assert format_date(None, Language.FR) == "—"
    assert format_date("not a date", Language.EN) == "—"


def test_numbers_and_amounts_follow_french_and_english_conventions() -> None:
    assert format_number(1234567, Language.EN) == "1,234,567"
    assert format_number(1234567, Language.FR) == "1\u202f234\u202f567"
    assert format_money(Decimal("1234.5"), Language.FR) == "1\u202f234,50\u00a0$"
    assert format_money("1234.5", Language.EN) == "$1,234.50"
    assert format_money(None, Language.EN) == "—"
    assert format_number("n/a", Language.EN) == "—"
