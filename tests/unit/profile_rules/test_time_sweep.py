"""When the time sweep must next visit a profile: the earliest moment time alone can change a segment or a trigger."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from services.profile.domain.rules import evaluate_segments, load_triggers, time_conditions_due

from .shipped import AS_OF, SEGMENTS, TRIGGERS, swept

LAST_PURCHASE = datetime(2026, 5, 31, 20, 0, tzinfo=UTC)


def test_a_profile_without_dates_is_never_due() -> None:
    profile = {"tickets_bought": 3, "ticket_spend": Decimal(90), "preferred_language": "fr"}
    assert time_conditions_due([SEGMENTS, TRIGGERS], profile, AS_OF) is None


def test_a_buyer_is_due_when_the_lapsed_rule_turns_12_months_after_the_last_purchase() -> None:
    profile = {"tickets_bought": 3, "last_purchase_at": LAST_PURCHASE}
    assert time_conditions_due([TRIGGERS], profile, AS_OF) == datetime(2027, 5, 31, 20, 0, tzinfo=UTC)


def test_segments_can_make_a_profile_due_sooner_than_triggers() -> None:
    profile = {"tickets_bought": 3, "last_purchase_at": LAST_PURCHASE}
    # Bought at 16:00 on May 31 in Montréal (summer time); 16:00 on November 30 there is 21:00 UTC in winter.
    assert time_conditions_due([SEGMENTS, TRIGGERS], profile, LAST_PURCHASE) == datetime(
        2026, 11, 30, 21, 0, tzinfo=UTC
    ), "at-risk begins 6 months after the purchase (May 31 + 6 months is clamped to November 30)"


MONTREAL = ZoneInfo("America/Montreal")


def test_months_are_counted_on_the_organisation_s_calendar_across_a_change_of_summer_time() -> None:
    # Bought at 23:30 on March 8, 2025 in Montréal (winter time, 04:30 UTC on the 9th); 12 months later summer time
    # has begun: lapsed at 23:30 on March 8, 2026 there, not an hour later on the 9th as UTC's calendar would say.
    bought = datetime(2025, 3, 8, 23, 30, tzinfo=MONTREAL)
    profile = {"tickets_bought": 2, "last_purchase_at": bought.astimezone(UTC)}
    lapsed = datetime(2026, 3, 8, 23, 30, tzinfo=MONTREAL)
    assert time_conditions_due([SEGMENTS], profile, bought + timedelta(days=200)) == lapsed
    assert "lapsed-buyers" in evaluate_segments(SEGMENTS, profile, lapsed)
    assert "lapsed-buyers" not in evaluate_segments(SEGMENTS, profile, lapsed - timedelta(minutes=1))


def test_months_are_counted_on_the_organisation_s_calendar_where_utc_s_month_ends_elsewhere() -> None:
    # Bought at 22:00 on August 30 in Montréal, already August 31 in UTC: six months later is February 28 at 22:00
    # there, not February 27 at 21:00 (August 31 clamped to February 28 in UTC).
    bought = datetime(2025, 8, 30, 22, 0, tzinfo=MONTREAL)
    profile = {"tickets_bought": 2, "last_purchase_at": bought.astimezone(UTC)}
    at_risk = datetime(2026, 2, 28, 22, 0, tzinfo=MONTREAL)
    assert "at-risk" not in evaluate_segments(SEGMENTS, profile, at_risk - timedelta(minutes=1))
    assert "at-risk" in evaluate_segments(SEGMENTS, profile, at_risk)


def test_boundaries_already_passed_are_not_due_again() -> None:
    profile = {"tickets_bought": 3, "last_purchase_at": LAST_PURCHASE}
    # Lapsed on May 31, 2027; a lapse over a month old is not asked about, and nothing changes after June 30.
    assert time_conditions_due([TRIGGERS], profile, datetime(2027, 6, 1, tzinfo=UTC)) == datetime(
        2027, 6, 30, 20, 0, tzinfo=UTC
    )
    assert time_conditions_due([TRIGGERS], profile, datetime(2027, 7, 1, tzinfo=UTC)) is None


def test_implied_consent_is_due_30_days_before_it_ends_then_when_it_ends() -> None:
    ends = AS_OF + timedelta(days=90)
    profile = {
        "consent.marketing_email.status": "granted",
        "consent.marketing_email.basis": "implied_purchase",
        "consent.marketing_email.expires_at": ends,
    }
    assert time_conditions_due([TRIGGERS], profile, AS_OF) == ends - timedelta(days=30)
    assert time_conditions_due([TRIGGERS], profile, ends - timedelta(days=30)) == ends


def test_a_donor_is_due_on_each_anniversary_of_the_first_gift() -> None:
    profile = {"donations_count": 1, "first_donation_at": datetime(2025, 3, 10, 15, 0, tzinfo=UTC)}
    assert time_conditions_due([TRIGGERS], profile, datetime(2025, 6, 1, tzinfo=UTC)) == datetime(
        2026, 3, 10, 15, 0, tzinfo=UTC
    )
    # On the anniversary, the next change is when it stops being marked, a week later; then the next anniversary.
    assert time_conditions_due([TRIGGERS], profile, datetime(2026, 3, 10, 15, 0, tzinfo=UTC)) == datetime(
        2026, 3, 17, 15, 0, tzinfo=UTC
    )
    # At 11:00 in Montréal, the hour of the gift there: in 2027, March 10 comes before summer time.
    assert time_conditions_due([TRIGGERS], profile, datetime(2026, 3, 17, 15, 0, tzinfo=UTC)) == datetime(
        2027, 3, 10, 16, 0, tzinfo=UTC
    )


def test_rules_only_events_fire_never_make_a_profile_due() -> None:
    profile = {"performances_attended": 2, "last_performance_at": AS_OF - timedelta(hours=3)}
    assert time_conditions_due([TRIGGERS], profile, AS_OF) is None


def test_a_time_based_rule_with_a_calendar_period_is_due_when_the_next_period_begins() -> None:
    rules = load_triggers(
        dedent("""\
            triggers:
              monthly-lapsed-reminder:
                title: {fr: Remind lapsed buyers every month., en: Remind lapsed buyers every month.}
                description: Remind lapsed buyers every month.
                when: {field: last_purchase_at, op: older_than, value: 12 months}
                period: month
              yearly-lapsed-reminder:
                title: {fr: Remind lapsed buyers every year., en: Remind lapsed buyers every year.}
                description: Remind lapsed buyers every year.
                when: {field: last_purchase_at, op: older_than, value: 12 months}
                period: year
            """)
    )
    lapsed = {"last_purchase_at": datetime(2024, 1, 1, tzinfo=UTC)}
    # Midnight on the first of the organisation's next month and year, not UTC's.
    montreal = ZoneInfo("America/Montreal")
    assert time_conditions_due([rules], lapsed, AS_OF) == datetime(2026, 12, 1, tzinfo=montreal)
    yearly = rules.__class__(rules.rules[1:])
    assert time_conditions_due([yearly], lapsed, AS_OF) == datetime(2027, 1, 1, tzinfo=montreal)
    vancouver = ZoneInfo("America/Vancouver")
    assert time_conditions_due([yearly], lapsed, AS_OF, vancouver) == datetime(2027, 1, 1, tzinfo=vancouver)


OPTIONAL_DATES = ("first_purchase_at", "last_purchase_at", "first_donation_at", "consent.marketing_email.expires_at")
# Offsets near the shipped spans (30 days, 6 and 12 months, a year) as well as anywhere, so boundaries are often close.
offsets = st.one_of(
    st.integers(-400, 400).map(lambda days: timedelta(days=days)),
    st.sampled_from([-365, -180, -30, 30]).flatmap(
        lambda days: st.integers(-3 * 86_400, 3 * 86_400).map(lambda seconds: timedelta(days=days, seconds=seconds))
    ),
)


@st.composite
def dated_profiles(draw: st.DrawFn) -> tuple[dict[str, Any], datetime]:
    as_of = draw(st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)))
    profile: dict[str, Any] = {
        "tickets_bought": draw(st.integers(0, 3)),
        "season.current.tickets": draw(st.integers(0, 2)),
        "season.current.label": "2026-2027",
        "donations_count": draw(st.integers(0, 2)),
        "consent.marketing_email.status": draw(st.sampled_from(["granted", "withdrawn"])),
        "consent.marketing_email.basis": draw(st.sampled_from(["express", "implied_purchase", "implied_donation"])),
    }
    for name in OPTIONAL_DATES:
        offset = draw(st.none() | offsets)
        if offset is not None:
            profile[name] = as_of + offset
    return profile, as_of


def sweep_result(profile: dict[str, Any], as_of: datetime) -> tuple[frozenset[str], frozenset[str]]:
    """What the sweep would see at `as_of`: the segments, and the dedupe keys of the triggers it would fire."""
    return evaluate_segments(SEGMENTS, profile, as_of), frozenset(
        d.dedupe_key for d in swept(profile, as_of=as_of).values()
    )


@settings(max_examples=300)
@given(dated_profiles(), st.floats(min_value=0, max_value=1, exclude_max=True))
def test_nothing_the_sweep_sees_changes_before_the_due_moment(
    profile_at: tuple[dict[str, Any], datetime], fraction: float
) -> None:
    profile, as_of = profile_at
    due = time_conditions_due([SEGMENTS, TRIGGERS], profile, as_of)
    horizon = due if due is not None else as_of + timedelta(days=3 * 365)
    assert due is None or due > as_of
    now = sweep_result(profile, as_of)
    just_before = horizon - timedelta(microseconds=1)
    # A float fraction of a span rounds to whole microseconds, possibly up to the horizon itself.
    for later in (min(as_of + (horizon - as_of) * fraction, just_before), just_before):
        assert sweep_result(profile, later) == now, f"changed at {later} before {due}"
