"""A trigger's calendar month or year is the organisation's, not UTC's: an evening at the end of a month in Montréal
is already the next month in UTC."""

from datetime import UTC, datetime
from textwrap import dedent
from zoneinfo import ZoneInfo

from services.profile.domain.rules import evaluate_triggers, load_triggers

MONTREAL = ZoneInfo("America/Montreal")
VANCOUVER = ZoneInfo("America/Vancouver")
CALENDAR_RULES = load_triggers(
    dedent(
        """\
        triggers:
          monthly-note:
            title: {fr: Un mot par mois, en: A note a month}
            description: At most once a calendar month.
            when: {field: tickets_bought, op: gt, value: 0}
            period: month
          yearly-note:
            title: {fr: Un mot par an, en: A note a year}
            description: At most once a calendar year.
            when: {field: tickets_bought, op: gt, value: 0}
            period: year
        """
    )
)


def period_keys(as_of: datetime, zone: ZoneInfo = MONTREAL) -> dict[str, str]:
    decisions = evaluate_triggers(
        CALENDAR_RULES,
        {},
        {"tickets_bought": 1},
        as_of=as_of,
        cause_event_type=None,
        cause_event_id=None,
        person_id="per_1",
        zone=zone,
    )
    return {decision.rule: decision.dedupe_key.rsplit(":", 1)[1] for decision in decisions}


def test_an_evening_at_the_end_of_a_month_or_year_in_montreal_keys_that_month_and_year() -> None:
    # The service's clock gives UTC: 20:00 in Montréal on October 31 is 00:00 on November 1 in UTC.
    october_evening = datetime(2026, 10, 31, 20, tzinfo=MONTREAL).astimezone(UTC)
    new_year_s_eve = datetime(2026, 12, 31, 20, tzinfo=MONTREAL).astimezone(UTC)

    assert period_keys(october_evening) == {"monthly-note": "2026-10", "yearly-note": "2026"}
    assert period_keys(new_year_s_eve) == {"monthly-note": "2026-12", "yearly-note": "2026"}


def test_another_organisation_s_zone_keys_by_its_own_calendar() -> None:
    # 22:30 on October 31 in Vancouver is November 1 in Montréal already.
    halloween = datetime(2026, 10, 31, 22, 30, tzinfo=VANCOUVER)

    assert period_keys(halloween, zone=VANCOUVER)["monthly-note"] == "2026-10"
    assert period_keys(halloween, zone=MONTREAL)["monthly-note"] == "2026-11"
