"""The audience overview, folded from concrete patrons' histories."""

import dataclasses
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.profile.domain.history import ProfileEvent
from services.profile.domain.overview import (
    OVERVIEW_STATE_FIELDS,
    STAGES,
    TOP_PRODUCTIONS,
    AudienceOverview,
    OverviewTally,
    ProductionAudience,
    SeasonPatrons,
    SubscriptionConversion,
    audience_overview,
)
from services.profile.domain.profile import ProfileState, fold, lifecycle_stage_of, view
from services.profile.domain.seasons import SeasonCalendar
from tests.unit.profile.facts import (
    THEATRE,
    days,
    donation,
    exchange,
    newsletter,
    performance,
    performance_id,
    purchase,
    refund,
    scan,
    shop_order,
    subscription,
)

MONTREAL = ZoneInfo("America/Montreal")
NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)  # in the 2026-2027 season


def show(year: int, month: int, day: int, production_id: str = "belles-soeurs") -> dict[str, Any]:
    return performance(datetime(year, month, day, 20, tzinfo=MONTREAL), production_id=production_id)


def bought(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 18, tzinfo=MONTREAL)


def patron(*events: ProfileEvent) -> ProfileState:
    return fold(events)


def ticket_for(performance_show: dict[str, Any], *, on: datetime | None = None, ticket: str = "T-1") -> ProfileEvent:
    """A ticket bought a month before the show (or `on`), in an order of its own."""
    starts_at = datetime.fromisoformat(str(performance_show["starts_at"]))
    when = on or starts_at - days(30)
    return purchase(when, performance_show, ticket, order_id=f"O-{ticket}-{performance_id(performance_show)}")


def pass_for(first_day: date, *, subscription_id: str = "ABO-1", kind: str = "season_pass") -> ProfileEvent:
    return subscription(
        datetime.combine(first_day, datetime.min.time(), tzinfo=MONTREAL) - days(60),
        starts_on=first_day,
        ends_on=date(first_day.year + 1, 6, 30),
        subscription_id=subscription_id,
        kind=kind,
    )


def overview_of(*patrons: ProfileState, as_of: datetime = NOW) -> AudienceOverview:
    return audience_overview(patrons, as_of=as_of, seasons=THEATRE)


def seasons_of(overview: AudienceOverview) -> list[tuple[str, int, int]]:
    return [(season.season, season.new, season.returning) for season in overview.seasons]


# ---------------------------------------------------------------------------------------------------------------
# New and returning patrons


def test_a_patron_is_new_in_their_first_season_and_returning_in_each_later_one_even_after_a_gap() -> None:
    loyal = patron(
        ticket_for(show(2024, 10, 5), ticket="T-1"),
        ticket_for(show(2025, 2, 5), ticket="T-2"),
        ticket_for(show(2026, 10, 5), ticket="T-3"),
    )
    newcomer = patron(ticket_for(show(2026, 10, 12)))

    overview = overview_of(loyal, newcomer)

    assert seasons_of(overview) == [("2024-2025", 1, 0), ("2026-2027", 1, 1)]
    assert (overview.patrons, overview.patrons_with_seasons) == (2, 2)


def test_a_ticket_counts_in_the_season_of_its_performance_not_of_its_purchase() -> None:
    bought_in_spring_for_the_fall = patron(ticket_for(show(2025, 10, 5), on=bought(2025, 5, 20)))

    assert seasons_of(overview_of(bought_in_spring_for_the_fall)) == [("2025-2026", 1, 0)]


def test_a_season_begins_at_midnight_in_the_organisations_time_zone() -> None:
    # 23:30 in Montréal on August 31 is already September 1 in UTC: the performance is still last season's.
    late_august = performance(datetime(2025, 8, 31, 23, 30, tzinfo=MONTREAL), production_id="fringe")

    assert seasons_of(overview_of(patron(ticket_for(late_august)))) == [("2024-2025", 1, 0)]


def test_a_refunded_ticket_leaves_no_season_and_an_exchange_counts_where_the_ticket_went() -> None:
    october, next_fall = show(2025, 10, 5), show(2026, 9, 20, "giselle")
    refunded = patron(ticket_for(october), refund(bought(2025, 9, 10), "T-1"))
    exchanged = patron(ticket_for(october), exchange(bought(2025, 9, 10), ["T-1"], next_fall, ["T-9"]))

    overview = overview_of(refunded, exchanged)

    assert seasons_of(overview) == [("2026-2027", 1, 0)]
    assert (overview.patrons, overview.patrons_with_seasons) == (2, 1)


def test_a_scan_counts_as_attendance_and_a_subscription_in_the_season_of_its_first_day() -> None:
    scanned_at_a_friends_ticket = patron(scan(datetime(2025, 10, 5, 19, 45, tzinfo=MONTREAL), show(2025, 10, 5)))
    subscriber = patron(pass_for(date(2026, 9, 1)))

    assert seasons_of(overview_of(scanned_at_a_friends_ticket, subscriber)) == [
        ("2025-2026", 1, 0),
        ("2026-2027", 1, 0),
    ]


def test_patrons_without_tickets_scans_or_subscriptions_are_counted_but_have_no_season() -> None:
    reader = patron(newsletter("subscribed", bought(2026, 1, 10)))
    donor = patron(donation(bought(2026, 3, 1)))

    overview = overview_of(reader, donor)

    assert (overview.patrons, overview.patrons_with_seasons) == (2, 0)
    assert overview.seasons == ()


def test_an_empty_organisation_has_zero_everywhere_and_knows_its_current_season() -> None:
    overview = overview_of()

    assert overview == AudienceOverview(
        computed_at=NOW,
        current_season="2026-2027",
        patrons=0,
        patrons_with_seasons=0,
        seasons=(),
        lifecycle_stages=dict.fromkeys(STAGES, 0),
        top_returning_productions=(),
        subscription_conversion=(),
    )


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle stages


def test_patrons_are_counted_by_the_lifecycle_stage_their_profile_shows_and_every_stage_is_listed() -> None:
    subscriber = patron(pass_for(date(2026, 9, 1)))
    donor = patron(donation(bought(2026, 3, 1)))
    new = patron(ticket_for(show(2026, 11, 20), on=bought(2026, 10, 20)))
    active = patron(ticket_for(show(2026, 7, 20), on=bought(2026, 6, 20)))
    at_risk = patron(shop_order(bought(2026, 2, 1)))
    lapsed = patron(ticket_for(show(2024, 10, 5), ticket="T-1"), ticket_for(show(2024, 11, 5), ticket="T-2"))
    reader = patron(newsletter("subscribed", bought(2026, 1, 10)))

    overview = overview_of(subscriber, donor, new, active, at_risk, lapsed, lapsed, reader)

    assert list(overview.lifecycle_stages.items()) == [
        ("subscriber", 1),
        ("donor", 1),
        ("new", 1),
        ("active", 1),
        ("at_risk", 1),
        ("lapsed", 2),
        ("none", 1),
    ]


def test_the_stage_is_read_after_an_event_stamped_ahead_of_the_clock_as_the_profile_api_reads_it() -> None:
    ahead = patron(ticket_for(show(2026, 12, 20), on=NOW + days(1)))

    assert overview_of(ahead).lifecycle_stages["new"] == 1


@pytest.mark.parametrize("as_of", [NOW, datetime(2027, 12, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)])
def test_the_stage_alone_is_the_stage_of_the_whole_view(as_of: datetime) -> None:
    for state in _histories():
        viewed = view(state, as_of=max(as_of, state.latest_event_at or as_of), seasons=THEATRE)["lifecycle_stage"]
        alone = lifecycle_stage_of(state, as_of=max(as_of, state.latest_event_at or as_of), seasons=THEATRE)
        assert (None if alone is None else alone.value) == viewed


def test_the_stage_alone_needs_a_moment_with_its_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        lifecycle_stage_of(ProfileState(), as_of=datetime(2026, 1, 1), seasons=THEATRE)


# ---------------------------------------------------------------------------------------------------------------
# Productions that bring audiences back


def test_a_productions_returning_patrons_had_a_season_before_the_one_they_saw_it_in() -> None:
    hamlet_then_giselle = patron(
        ticket_for(show(2025, 3, 5, "hamlet"), ticket="T-1"), ticket_for(show(2026, 10, 5, "giselle"), ticket="T-2")
    )
    giselle_only = patron(ticket_for(show(2026, 10, 5, "giselle")))
    # Both in the first season: Giselle brought nobody back here.
    hamlet_and_giselle_the_same_season = patron(
        ticket_for(show(2025, 3, 5, "hamlet"), ticket="T-1"), ticket_for(show(2025, 4, 5, "giselle"), ticket="T-2")
    )

    overview = overview_of(hamlet_then_giselle, giselle_only, hamlet_and_giselle_the_same_season)

    assert overview.top_returning_productions == (
        ProductionAudience("giselle", returning=1, patrons=3, title_fr="giselle"),
    )


def test_a_production_spanning_two_seasons_counts_the_patrons_first_performance_of_it() -> None:
    # A first-season patron who saw the August and the September performance is not returning for it.
    summer_run = patron(
        ticket_for(show(2025, 8, 20, "festival"), ticket="T-1"), ticket_for(show(2025, 9, 20, "festival"), ticket="T-2")
    )
    # Back in September for the run after a first season elsewhere.
    back_for_the_run = patron(
        ticket_for(show(2024, 10, 1, "hamlet"), ticket="T-1"), ticket_for(show(2025, 9, 20, "festival"), ticket="T-2")
    )

    overview = overview_of(summer_run, back_for_the_run)

    assert overview.top_returning_productions == (
        ProductionAudience("festival", returning=1, patrons=2, title_fr="festival"),
    )


def test_the_top_productions_are_the_ten_that_brought_most_patrons_back() -> None:
    patrons: list[ProfileState] = []
    # Production p00 brings back 12 patrons, p01 11, …, p11 1.
    for rank in range(12):
        patrons += [
            patron(
                ticket_for(show(2024, 10, 1, "first-visit"), ticket="T-1"),
                ticket_for(show(2025, 10, 1, f"p{rank:02d}"), ticket="T-2"),
            )
            for _ in range(12 - rank)
        ]
    # Seen only by first-timers: brings nobody back, so never among the top however large its audience.
    patrons += [patron(ticket_for(show(2025, 10, 1, "only-new"))) for _ in range(20)]

    top = overview_of(*patrons).top_returning_productions

    assert [(production.production_id, production.returning) for production in top] == [
        (f"p{rank:02d}", 12 - rank) for rank in range(TOP_PRODUCTIONS)
    ]


def test_productions_that_tie_on_returning_patrons_are_ordered_by_audience_then_by_id() -> None:
    returning_to = [
        patron(ticket_for(show(2024, 10, 1, "first"), ticket="T-1"), ticket_for(show(2025, 10, 1, name), ticket="T-2"))
        for name in ("zola", "amadeus", "bach")
    ]
    newcomers_at_bach = [patron(ticket_for(show(2025, 10, 1, "bach")))]

    top = overview_of(*returning_to, *newcomers_at_bach).top_returning_productions

    assert [production.production_id for production in top] == ["bach", "amadeus", "zola"]


# ---------------------------------------------------------------------------------------------------------------
# Subscription conversion


def test_single_ticket_buyers_of_a_season_who_subscribe_the_next_are_converted_in_that_next_season() -> None:
    converted = patron(ticket_for(show(2025, 10, 5)), pass_for(date(2026, 9, 1)))
    not_yet = patron(ticket_for(show(2025, 11, 5)))
    also_a_member = patron(ticket_for(show(2025, 12, 5)), pass_for(date(2026, 9, 15), kind="membership"))

    overview = overview_of(converted, not_yet, also_a_member)

    assert overview.subscription_conversion == (SubscriptionConversion("2026-2027", 3, 2),)
    assert overview.subscription_conversion[0].rate == 0.6667


def test_a_patron_who_held_a_subscription_before_is_not_a_single_ticket_buyer() -> None:
    renewing = patron(
        pass_for(date(2025, 9, 1), subscription_id="ABO-1"),
        ticket_for(show(2025, 10, 5)),
        pass_for(date(2026, 9, 1), subscription_id="ABO-2"),
    )
    # Tickets and a subscription in the same season: no earlier season to convert from.
    same_season = patron(ticket_for(show(2025, 10, 5)), pass_for(date(2026, 3, 1)))

    assert overview_of(renewing, same_season).subscription_conversion == ()


def test_conversion_compares_consecutive_seasons_only() -> None:
    skipped_a_season = patron(ticket_for(show(2024, 10, 5)), pass_for(date(2026, 9, 1)))
    two_seasons_of_tickets = patron(
        ticket_for(show(2024, 10, 5), ticket="T-1"),
        ticket_for(show(2025, 10, 5), ticket="T-2"),
        pass_for(date(2026, 9, 1)),
    )

    overview = overview_of(skipped_a_season, two_seasons_of_tickets)

    assert overview.subscription_conversion == (
        SubscriptionConversion("2025-2026", 2, 0),
        SubscriptionConversion("2026-2027", 1, 1),
    )


def test_single_ticket_buyers_of_this_season_are_counted_toward_next_seasons_conversion_so_far() -> None:
    this_season = patron(ticket_for(show(2026, 10, 5)))

    assert overview_of(this_season).subscription_conversion == (SubscriptionConversion("2027-2028", 1, 0),)


def test_a_calendar_year_festival_counts_its_seasons_by_year() -> None:
    festival = SeasonCalendar(start_month=1)
    returning = patron(ticket_for(show(2025, 7, 5), ticket="T-1"), ticket_for(show(2026, 7, 5), ticket="T-2"))

    overview = audience_overview([returning], as_of=NOW, seasons=festival)

    assert [(season.season, season.new, season.returning) for season in overview.seasons] == [
        ("2025", 1, 0),
        ("2026", 0, 1),
    ]
    assert overview.current_season == "2026"


# ---------------------------------------------------------------------------------------------------------------
# The fold itself


def test_the_overview_does_not_depend_on_the_order_profiles_come_in() -> None:
    histories = _histories()

    assert overview_of(*histories) == overview_of(*reversed(histories))


def test_the_fields_the_overview_reads_are_enough_to_compute_it() -> None:
    histories = _histories()
    kept = [ProfileState(**{name: getattr(state, name) for name in OVERVIEW_STATE_FIELDS}) for state in histories]

    assert overview_of(*kept) == overview_of(*histories)
    assert {field.name for field in dataclasses.fields(ProfileState)} >= OVERVIEW_STATE_FIELDS


def test_the_fields_the_overview_reads_give_the_stage_of_a_renewed_pass_bought_with_an_order_since_refunded() -> None:
    # A box-office import dates the pass and the ticket order alike; the order is refunded, the pass renewed since.
    first_paid = bought(2025, 8, 20)
    history = patron(
        purchase(first_paid, show(2025, 10, 1), "T-1", order_id="O-1"),
        refund(first_paid + days(2), "T-1"),
        subscription(first_paid, starts_on=date(2025, 9, 1), ends_on=date(2026, 6, 30)),
        subscription(bought(2026, 9, 24), starts_on=date(2026, 9, 1), ends_on=date(2026, 10, 31)),
    )
    kept = ProfileState(**{name: getattr(history, name) for name in OVERVIEW_STATE_FIELDS})

    assert view(history, as_of=NOW, seasons=THEATRE)["lifecycle_stage"] == "active"
    assert overview_of(kept).lifecycle_stages == overview_of(history).lifecycle_stages


def test_a_tally_fed_one_profile_at_a_time_gives_the_overview_of_them_all() -> None:
    tally = OverviewTally(as_of=NOW, seasons=THEATRE)
    for state in _histories():
        tally.add(state)

    assert tally.result() == overview_of(*_histories())


def test_the_overview_needs_a_moment_with_its_time_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OverviewTally(as_of=datetime(2026, 1, 1), seasons=THEATRE)


def test_a_small_audience_adds_up_exactly() -> None:
    overview = overview_of(*_histories())

    assert seasons_of(overview) == [("2024-2025", 2, 0), ("2025-2026", 2, 1), ("2026-2027", 1, 2)]
    assert overview.top_returning_productions == (
        ProductionAudience("giselle", returning=2, patrons=2, title_fr="giselle"),
        ProductionAudience("hamlet", returning=1, patrons=2, title_fr="hamlet"),
    )
    assert overview.subscription_conversion == (
        SubscriptionConversion("2025-2026", 2, 0),
        SubscriptionConversion("2026-2027", 2, 1),
        SubscriptionConversion("2027-2028", 2, 0),
    )
    assert (overview.patrons, overview.patrons_with_seasons) == (6, 5)
    assert sum(overview.lifecycle_stages.values()) == 6
    assert overview.seasons == (
        SeasonPatrons("2024-2025", 2, 0),
        SeasonPatrons("2025-2026", 2, 1),
        SeasonPatrons("2026-2027", 1, 2),
    )


def _histories() -> list[ProfileState]:
    """Six patrons over three seasons: every kind of activity the overview counts, and some it does not."""
    return [
        # Since 2024-2025, every season; subscribed for 2026-2027.
        patron(
            ticket_for(show(2024, 10, 5, "belles-soeurs"), ticket="T-1"),
            ticket_for(show(2025, 10, 5, "hamlet"), ticket="T-2"),
            scan(datetime(2025, 10, 5, 19, 45, tzinfo=MONTREAL), show(2025, 10, 5, "hamlet"), "T-2"),
            pass_for(date(2026, 9, 1)),
            ticket_for(show(2026, 10, 5, "giselle"), ticket="T-3"),
        ),
        # 2024-2025, then back in 2026-2027 without subscribing.
        patron(
            ticket_for(show(2024, 11, 5, "belles-soeurs"), ticket="T-1"),
            ticket_for(show(2026, 11, 5, "giselle"), ticket="T-2"),
        ),
        # New in 2025-2026, also saw Hamlet; a refunded ticket for 2026-2027 counts for nothing.
        patron(
            ticket_for(show(2025, 10, 6, "hamlet"), ticket="T-1"),
            ticket_for(show(2026, 10, 6, "giselle"), ticket="T-2"),
            refund(bought(2026, 9, 30), "T-2"),
            donation(bought(2026, 1, 15)),
        ),
        # New in 2025-2026 by a subscription; a single ticket the same season.
        patron(pass_for(date(2025, 9, 1)), ticket_for(show(2025, 11, 1, "lear"))),
        # New in 2026-2027.
        patron(ticket_for(show(2026, 12, 1, "nutcracker"))),
        # Reads the newsletter, buys in the shop: no season.
        patron(newsletter("subscribed", bought(2026, 1, 10)), shop_order(bought(2026, 2, 1))),
    ]
