"""The condition language: what each test means, how a missing field counts, durations, and its laws."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from services.profile.domain.rule_conditions import ConditionSpec, Duration, TimeUnit
from services.profile.domain.rules import (
    BilingualDescription,
    BilingualTitle,
    Segment,
    SegmentDefinitions,
    evaluate_segments,
    load_segments,
)
from shared.bilingual import BilingualValueError

from .shipped import AS_OF

MONTREAL_WINTER = timezone(timedelta(hours=-5), "EST")


def segments_of(conditions: dict[str, Any]) -> SegmentDefinitions:
    """Segments named like `conditions`' keys, loaded through the real file loader."""
    document = {
        "segments": {
            name: {"title": {"fr": name, "en": name}, "description": {"fr": name, "en": name}, "when": condition}
            for name, condition in conditions.items()
        }
    }
    return load_segments(yaml.safe_dump(document, allow_unicode=True))


def validated_segments(conditions: dict[str, Any]) -> SegmentDefinitions:
    """Segments from conditions validated as a file's are, without writing and parsing YAML (faster for many)."""
    title = BilingualTitle(fr="s", en="s")
    description = BilingualDescription(fr="s", en="s")
    return SegmentDefinitions(
        tuple(
            Segment(name, title, description, ConditionSpec.model_validate(condition).compile())
            for name, condition in conditions.items()
        )
    )


def holds(condition: dict[str, Any], profile: dict[str, Any], as_of: datetime = AS_OF) -> bool:
    return evaluate_segments(segments_of({"it": condition}), profile, as_of) == {"it"}


# What each test means


@pytest.mark.parametrize(
    ("condition", "profile", "expected"),
    [
        ({"field": "tickets_bought", "op": "eq", "value": 3}, {"tickets_bought": 3}, True),
        ({"field": "tickets_bought", "op": "ne", "value": 3}, {"tickets_bought": 3}, False),
        ({"field": "tickets_bought", "op": "gt", "value": 3}, {"tickets_bought": 3}, False),
        ({"field": "tickets_bought", "op": "gte", "value": 3}, {"tickets_bought": 3}, True),
        ({"field": "tickets_bought", "op": "lt", "value": 3}, {"tickets_bought": 2}, True),
        ({"field": "tickets_bought", "op": "lte", "value": 3}, {"tickets_bought": 4}, False),
        ({"field": "ticket_spend", "op": "gte", "value": 99.99}, {"ticket_spend": Decimal("99.99")}, True),
        ({"field": "ticket_spend", "op": "eq", "value": 10}, {"ticket_spend": Decimal("10.00")}, True),
        ({"field": "is_subscriber", "op": "eq", "value": False}, {"is_subscriber": False}, True),
        ({"field": "preferred_language", "op": "in", "value": ["fr", "en"]}, {"preferred_language": "en"}, True),
        ({"field": "preferred_language", "op": "not_in", "value": ["fr"]}, {"preferred_language": "en"}, True),
        ({"field": "genres", "op": "contains", "value": "danse"}, {"genres": ["théâtre", "danse"]}, True),
        ({"field": "genres", "op": "contains", "value": "danse"}, {"genres": ["théâtre"]}, False),
        ({"field": "genres", "op": "in", "value": ["danse", "cirque"]}, {"genres": ["cirque", "jazz"]}, True),
        ({"field": "genres", "op": "in", "value": ["danse", "cirque"]}, {"genres": ["jazz"]}, False),
        ({"field": "genres", "op": "not_in", "value": ["danse"]}, {"genres": ["jazz"]}, True),
        ({"field": "emails", "op": "exists"}, {"emails": ["a@b.example"]}, True),
        ({"field": "emails", "op": "exists"}, {"emails": []}, False),
        ({"field": "city", "op": "missing"}, {"city": "  "}, True),
        ({"field": "is_subscriber", "op": "exists"}, {"is_subscriber": False}, True),
        ({"field": "donations_count", "op": "exists"}, {"donations_count": 0}, True),
        ({"sum": ["ticket_spend", "shop_spend"], "op": "gte", "value": 100}, {"ticket_spend": Decimal(60)}, False),
        (
            {"sum": ["ticket_spend", "shop_spend"], "op": "gte", "value": 100},
            {"ticket_spend": Decimal(60), "shop_spend": Decimal("40.00")},
            True,
        ),
        (
            {"all": [{"field": "opens_30d", "op": "gt", "value": 0}, {"field": "clicks_30d", "op": "gt", "value": 0}]},
            {"opens_30d": 2, "clicks_30d": 0},
            False,
        ),
        (
            {"any": [{"field": "opens_30d", "op": "gt", "value": 0}, {"field": "clicks_30d", "op": "gt", "value": 0}]},
            {"opens_30d": 2, "clicks_30d": 0},
            True,
        ),
        ({"not": {"field": "is_subscriber", "op": "eq", "value": True}}, {}, True),
    ],
)
def test_each_test_compares_the_field_as_documented(
    condition: dict[str, Any], profile: dict[str, Any], expected: bool
) -> None:
    assert holds(condition, profile) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 1, False),
        ("ne", 1, True),
        ("gt", 0, False),
        ("lte", 10, False),
        ("in", [1, 2], False),
        ("not_in", [1, 2], True),
        ("exists", None, False),
        ("missing", None, True),
    ],
)
def test_a_missing_field_fails_every_test_but_ne_not_in_and_missing(op: str, value: Any, expected: bool) -> None:
    condition = {"field": "tickets_bought", "op": op} | ({} if value is None else {"value": value})
    assert holds(condition, {}) is expected
    assert holds(condition, {"tickets_bought": None}) is expected


@pytest.mark.parametrize("op", ["within_last", "older_than", "within_next"])
def test_a_missing_date_fails_every_time_test(op: str) -> None:
    assert not holds({"field": "last_purchase_at", "op": op, "value": "12 months"}, {})


def test_within_last_holds_from_the_moment_itself_until_the_span_has_passed() -> None:
    condition = {"field": "last_purchase_at", "op": "within_last", "value": "30 days"}
    bought = AS_OF - timedelta(days=30)
    assert holds(condition, {"last_purchase_at": AS_OF})
    assert holds(condition, {"last_purchase_at": bought + timedelta(microseconds=1)})
    assert not holds(condition, {"last_purchase_at": bought})
    assert not holds(condition, {"last_purchase_at": AS_OF + timedelta(hours=1)}), "a future date is not in the past"


def test_older_than_holds_from_the_moment_the_span_has_passed() -> None:
    condition = {"field": "last_purchase_at", "op": "older_than", "value": "12 mois"}
    assert holds(condition, {"last_purchase_at": datetime(2025, 11, 15, 19, 0, tzinfo=UTC)})
    assert not holds(condition, {"last_purchase_at": datetime(2025, 11, 15, 19, 0, 1, tzinfo=UTC)})


def test_within_next_holds_until_the_moment_itself() -> None:
    condition = {"field": "consent.marketing_email.expires_at", "op": "within_next", "value": "30 jours"}
    assert holds(condition, {"consent.marketing_email.expires_at": AS_OF + timedelta(days=30)})
    assert not holds(condition, {"consent.marketing_email.expires_at": AS_OF + timedelta(days=30, seconds=1)})
    assert holds(condition, {"consent.marketing_email.expires_at": AS_OF + timedelta(seconds=1)})
    assert not holds(condition, {"consent.marketing_email.expires_at": AS_OF}), "an expired consent is not expiring"


def test_dates_compare_as_moments_whatever_their_utc_offset() -> None:
    condition = {"field": "last_purchase_at", "op": "older_than", "value": "1 day"}
    bought = datetime(2026, 11, 14, 9, 0, tzinfo=MONTREAL_WINTER)
    assert holds(condition, {"last_purchase_at": bought}, as_of=datetime(2026, 11, 15, 14, 0, tzinfo=UTC))
    assert not holds(condition, {"last_purchase_at": bought}, as_of=datetime(2026, 11, 15, 13, 59, tzinfo=UTC))


def test_evaluating_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        holds({"field": "tickets_bought", "op": "gt", "value": 0}, {}, as_of=datetime(2026, 1, 1))


# Durations


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("12 months", Duration(12, TimeUnit.MONTHS)),
        ("18 mois", Duration(18, TimeUnit.MONTHS)),
        ("30 days", Duration(30, TimeUnit.DAYS)),
        ("30 jours", Duration(30, TimeUnit.DAYS)),
        ("2 years", Duration(2, TimeUnit.YEARS)),
        ("1 an", Duration(1, TimeUnit.YEARS)),
        ("2 années", Duration(2, TimeUnit.YEARS)),
        ("3 semaines", Duration(3, TimeUnit.WEEKS)),
        ("48 heures", Duration(48, TimeUnit.HOURS)),
        ("  6 Months ", Duration(6, TimeUnit.MONTHS)),
        ("1day", Duration(1, TimeUnit.DAYS)),
    ],
)
def test_durations_are_read_in_english_and_french(text: str, duration: Duration) -> None:
    assert Duration.parse(text) == duration


@pytest.mark.parametrize("text", ["12", "months", "12 moons", "-3 days", "1.5 years", "0 days", "101 years", "", "1 d"])
def test_what_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|unit of time|out of range"):
        Duration.parse(text)


def test_an_amount_of_thousands_of_digits_is_out_of_range_in_both_languages() -> None:
    # Python will not read an integer of over 4,300 digits; the refusal must still be the duration's own.
    with pytest.raises(BilingualValueError) as refused:
        Duration.parse("9" * 5000 + " days")

    assert refused.value.en.endswith("is out of range: from 1 to 36525 days")
    assert refused.value.fr.endswith("est hors limites : de 1 à 36525 jours")


def test_an_amount_written_with_leading_zeros_is_read_whatever_their_number() -> None:
    assert Duration.parse("0" * 5000 + "12 months") == Duration(12, TimeUnit.MONTHS)


def test_months_and_years_follow_the_calendar_and_clamp_to_the_month_end() -> None:
    assert Duration(1, TimeUnit.MONTHS).after(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert Duration(1, TimeUnit.YEARS).after(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2025, 2, 28, tzinfo=UTC)
    assert Duration(18, TimeUnit.MONTHS).before(datetime(2026, 8, 31, tzinfo=UTC)) == datetime(2025, 2, 28, tzinfo=UTC)


def test_a_span_past_the_calendar_end_saturates_instead_of_failing() -> None:
    assert Duration(100, TimeUnit.YEARS).after(datetime(9950, 1, 1, tzinfo=UTC)) == datetime.max.replace(tzinfo=UTC)


UNIT_SPELLINGS = {
    TimeUnit.HOURS: ["hour", "hours", "heure", "heures"],
    TimeUnit.DAYS: ["day", "days", "jour", "jours"],
    TimeUnit.WEEKS: ["week", "weeks", "semaine", "semaines"],
    TimeUnit.MONTHS: ["month", "months", "mois"],
    TimeUnit.YEARS: ["year", "years", "an", "ans", "année", "années"],
}


@st.composite
def spelt_durations(draw: st.DrawFn) -> tuple[str, Duration]:
    unit = draw(st.sampled_from(list(TimeUnit)))
    amount = draw(st.integers(min_value=1, max_value=100))
    word = draw(st.sampled_from(UNIT_SPELLINGS[unit]))
    word = draw(st.sampled_from([word, word.upper(), word.capitalize()]))
    space = draw(st.sampled_from(["", " ", "  "]))
    return f"{space}{amount}{space or ' '}{word}{space}", Duration(amount, unit)


@given(spelt_durations())
def test_a_duration_written_any_accepted_way_reads_back_from_its_own_text(spelt: tuple[str, Duration]) -> None:
    text, duration = spelt
    assert Duration.parse(text) == duration
    assert Duration.parse(str(duration)) == duration
    assert str(Duration.parse(str(duration))) == str(duration)


def test_a_duration_prints_in_singular_for_one() -> None:
    assert str(Duration.parse("1 mois")) == "1 month"
    assert str(Duration.parse("12 mois")) == "12 months"


# Laws, over generated conditions and profiles
dates = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
durations = st.builds(
    lambda amount, unit: f"{amount} {unit}", st.integers(1, 24), st.sampled_from(["days", "mois", "years", "weeks"])
)
leaves = st.one_of(
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["tickets_bought", "productions", "opens_30d"]),
            "op": st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]),
            "value": st.integers(0, 5),
        }
    ),
    st.fixed_dictionaries(
        {"field": st.just("ticket_spend"), "op": st.sampled_from(["gt", "lte", "eq"]), "value": st.integers(0, 300)}
    ),
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["preferred_language"]),
            "op": st.sampled_from(["in", "not_in"]),
            "value": st.lists(st.sampled_from(["fr", "en"]), min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"field": st.just("genres"), "op": st.just("contains"), "value": st.sampled_from(["danse", "théâtre"])}
    ),
    st.fixed_dictionaries(
        {
            "field": st.just("genres"),
            "op": st.sampled_from(["in", "not_in"]),
            "value": st.lists(st.sampled_from(["danse", "cirque"]), min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries({"field": st.just("is_subscriber"), "op": st.just("eq"), "value": st.booleans()}),
    st.fixed_dictionaries(
        {
            "field": st.sampled_from(["last_purchase_at", "consent.sms.expires_at"]),
            "op": st.sampled_from(["within_last", "older_than", "within_next"]),
            "value": durations,
        }
    ),
    st.fixed_dictionaries(
        {"field": st.sampled_from(["emails", "city", "is_subscriber"]), "op": st.sampled_from(["exists", "missing"])}
    ),
    st.fixed_dictionaries(
        {
            "sum": st.just(["ticket_spend", "shop_spend", "donations_total"]),
            "op": st.sampled_from(["gte", "lt", "ne"]),
            "value": st.integers(0, 600),
        }
    ),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(lambda parts: {"all": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda parts: {"any": parts}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda part: {"not": part}, inner),
    ),
    max_leaves=8,
)
money = st.decimals(min_value=0, max_value=400, places=2)
profiles = st.fixed_dictionaries(
    {},
    optional={
        "tickets_bought": st.none() | st.integers(0, 6),
        "productions": st.integers(0, 6),
        "opens_30d": st.integers(0, 6),
        "ticket_spend": st.none() | money,
        "shop_spend": money,
        "donations_total": money,
        "preferred_language": st.none() | st.sampled_from(["fr", "en"]),
        "genres": st.lists(st.sampled_from(["danse", "théâtre", "cirque", "jazz"]), max_size=3, unique=True),
        "is_subscriber": st.none() | st.booleans(),
        "last_purchase_at": st.none() | dates,
        "consent.sms.expires_at": dates,
        "emails": st.lists(st.just("a@b.example"), max_size=1),
        "city": st.sampled_from(["", "Québec", "Montréal"]),
    },
)


@settings(max_examples=200)
@given(conditions, profiles, dates)
def test_a_condition_and_its_not_never_both_hold_and_one_always_does(
    condition: dict[str, Any], profile: dict[str, Any], as_of: datetime
) -> None:
    definitions = validated_segments({"it": condition, "its-negation": {"not": condition}})
    assert len(evaluate_segments(definitions, profile, as_of)) == 1


@settings(max_examples=200)
@given(st.lists(conditions, min_size=1, max_size=4), profiles, dates)
def test_evaluation_is_deterministic_whatever_the_order_of_the_profile_fields(
    condition_list: list[dict[str, Any]], profile: dict[str, Any], as_of: datetime
) -> None:
    definitions = validated_segments({f"s{index}": condition for index, condition in enumerate(condition_list)})
    first = evaluate_segments(definitions, profile, as_of)
    assert evaluate_segments(definitions, profile, as_of) == first
    assert evaluate_segments(definitions, dict(reversed(profile.items())), as_of) == first
    assert evaluate_segments(definitions, profile, as_of.astimezone(MONTREAL_WINTER)) == first
