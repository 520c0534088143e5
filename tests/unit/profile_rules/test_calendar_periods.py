"""A trigger's calendar month or year, and its anniversaries, are the organisation's, not UTC's: an evening at the end
of a month in Montréal is already the next month in UTC."""

from datetime import UTC, datetime
from textwrap import dedent
from typing import Any
from zoneinfo import ZoneInfo

from services.profile.domain.rules import evaluate_triggers, load_triggers, time_conditions_due

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


ANNIVERSARY_RULES = load_triggers(
    dedent(
        """\
        triggers:
          monthly-since-first-purchase:
            title: {fr: Un mot par mois depuis le premier achat, en: A note a month since the first purchase}
            description: On each monthly anniversary of the first purchase.
            when: {field: tickets_bought, op: gt, value: 0}
            period: month
            counted_from: first_purchase_at
          gift-anniversary:
            title: {fr: Anniversaire du premier don, en: Anniversary of the first gift}
            description: On each anniversary of the first gift.
            when: {field: donations_count, op: gt, value: 0}
            period: year
            counted_from: first_donation_at
        """
    )
)


def anniversaries(profile: dict[str, Any], since: datetime, count: int) -> list[tuple[datetime, list[str]]]:
    """The next `count` moments the sweep visits `profile` after `since`, in Montréal, each with the periods fired."""
    visits = []
    as_of = since
    for _ in range(count):
        due = time_conditions_due([ANNIVERSARY_RULES], profile, as_of, MONTREAL)
        assert due is not None
        decisions = evaluate_triggers(
            ANNIVERSARY_RULES,
            profile,
            profile,
            as_of=due,
            cause_event_type=None,
            cause_event_id=None,
            person_id="per_1",
            zone=MONTREAL,
        )
        visits.append((due.astimezone(MONTREAL), [decision.dedupe_key.rsplit(":", 1)[1] for decision in decisions]))
        as_of = due
    return visits


def test_anniversaries_fall_on_the_organisation_s_days_at_the_hour_of_the_date_counted_from() -> None:
    # 20:00 on January 30 in Montréal is already January 31 in UTC: the months since end on February 28 and
    # April 30 there, not on the 27th and the 29th, and at 20:00 whether or not summer time has begun.
    first_purchase = datetime(2026, 1, 30, 20, tzinfo=MONTREAL).astimezone(UTC)
    buyer = {"tickets_bought": 1, "first_purchase_at": first_purchase}

    visits = anniversaries(buyer, datetime(2026, 2, 7, tzinfo=UTC), 6)

    fired = [(moment, keys) for moment, keys in visits if keys]
    # Each keyed by the anniversary's date in UTC, as before they were counted in Montréal: the evening's next day.
    assert fired == [
        (datetime(2026, 2, 28, 20, tzinfo=MONTREAL), ["2026-03-01"]),
        (datetime(2026, 3, 30, 20, tzinfo=MONTREAL), ["2026-03-31"]),
        (datetime(2026, 4, 30, 20, tzinfo=MONTREAL), ["2026-05-01"]),
    ]


def test_a_gift_on_the_evening_of_february_28_is_remembered_on_the_28th_in_a_leap_year() -> None:
    # March 1 in UTC: counted in UTC, the anniversary would fall on February 29 in Montréal.
    first_gift = datetime(2027, 2, 28, 20, tzinfo=MONTREAL).astimezone(UTC)
    donor = {"donations_count": 1, "first_donation_at": first_gift}

    [(moment, keys)] = anniversaries(donor, datetime(2028, 2, 1, tzinfo=UTC), 1)

    # Keyed by its date in UTC, as every anniversary is: the 29th there.
    assert (moment, keys) == (datetime(2028, 2, 28, 20, tzinfo=MONTREAL), ["2028-02-29"])


def test_an_evening_s_anniversary_keeps_the_key_it_had_when_anniversaries_were_counted_in_utc() -> None:
    # 20:00 on March 10 in Montréal, March 11 in UTC: the anniversary sent under `2027-03-11` must not be sent again
    # under another key by the version that counts it in Montréal.
    first_gift = datetime(2026, 3, 10, 20, tzinfo=MONTREAL).astimezone(UTC)
    donor = {"donations_count": 1, "first_donation_at": first_gift}

    [(moment, keys)] = anniversaries(donor, datetime(2027, 2, 1, tzinfo=UTC), 1)

    assert (moment, keys) == (datetime(2027, 3, 10, 20, tzinfo=MONTREAL), ["2027-03-11"])
