"""The shipped segments: who is in each, and which segments a change enters and exits."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from services.profile.domain.rules import SegmentChanges, evaluate_segments, segment_changes

from .shipped import AS_OF, SEGMENTS


def segments_of(profile: dict[str, Any]) -> frozenset[str]:
    return evaluate_segments(SEGMENTS, profile, AS_OF)


def buyer(months_since_last_purchase: int, **fields: Any) -> dict[str, Any]:
    return {"tickets_bought": 4, "last_purchase_at": AS_OF - timedelta(days=30.5 * months_since_last_purchase)} | fields


def test_a_loyal_francophone_subscriber_who_gives_is_in_the_segments_she_earned() -> None:
    elise = {
        "preferred_language": "fr",
        "is_subscriber": True,
        "donations_count": 3,
        "donations_total": Decimal(1200),
        "ticket_spend": Decimal("1350.50"),
        "newsletter_status": "subscribed",
        "tickets_bought": 22,
        "last_purchase_at": AS_OF - timedelta(days=12),
    }
    assert segments_of(elise) == {"francophones", "subscribers", "donors", "high-value", "newsletter-subscribers"}


def test_a_profile_with_nothing_known_is_in_no_segment() -> None:
    assert segments_of({}) == frozenset()


def test_a_buyer_drifts_from_active_to_at_risk_to_lapsed() -> None:
    assert {"at-risk", "lapsed-buyers"}.isdisjoint(segments_of(buyer(3)))
    assert segments_of(buyer(7)) >= {"at-risk"}
    assert "lapsed-buyers" not in segments_of(buyer(7))
    assert "lapsed-buyers" in segments_of(buyer(13))
    assert "at-risk" not in segments_of(buyer(13))


def test_a_subscriber_who_has_not_bought_for_months_is_not_at_risk() -> None:
    assert "at-risk" not in segments_of(buyer(7, is_subscriber=True))


def test_only_first_time_buyers_of_this_season_are_new_this_season() -> None:
    newcomer = {"season.current.tickets": 2, "first_purchase_at": AS_OF - timedelta(days=60)}
    assert "new-this-season" in segments_of(newcomer)
    assert "new-this-season" not in segments_of(newcomer | {"season.previous.tickets": 3})
    returning = newcomer | {"first_purchase_at": AS_OF - timedelta(days=3 * 365)}
    assert "new-this-season" not in segments_of(returning)


def test_high_value_adds_tickets_passes_shop_and_gifts_with_missing_ones_as_nothing() -> None:
    assert "high-value" in segments_of({"ticket_spend": Decimal(2000), "shop_spend": Decimal(500)})
    assert "high-value" not in segments_of({"ticket_spend": Decimal("2499.99")})
    assert "high-value" in segments_of({"subscription_spend": Decimal(2600)})
    assert "high-value" in segments_of({"ticket_spend": Decimal(400), "subscription_spend": Decimal(2100)})


def test_a_patron_whose_language_is_unknown_is_in_neither_language_segment() -> None:
    assert segments_of({"preferred_language": "en"}) == {"anglophones"}
    assert {"francophones", "anglophones"}.isdisjoint(segments_of({"preferred_language": None}))


def test_segment_changes_list_the_segments_entered_and_exited_in_name_order() -> None:
    before = frozenset({"donors", "at-risk", "francophones"})
    after = frozenset({"donors", "subscribers", "francophones", "high-value"})
    assert segment_changes(before, after) == SegmentChanges(entered=("high-value", "subscribers"), exited=("at-risk",))
    assert segment_changes(after, after) == SegmentChanges(entered=(), exited=())
