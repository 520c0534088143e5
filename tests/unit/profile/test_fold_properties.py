"""A profile is a fold: any order, any duplication, any split of a history, and any merge give the same profile."""

import dataclasses
import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.profile.domain.consent import CASL, ConsentPolicy, consents, current_consent
from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import (
    EMPTY_PROFILE,
    ProfileState,
    apply,
    contribution,
    fold,
    merge,
    next_time_change,
    view,
)
from services.profile.domain.rules import contact_points
from shared.events import (
    DonationMadeV1,
    EmailBouncedV1,
    NewsletterCleanedV1,
    NewsletterCleanedV2,
    SubscriptionPurchasedV1,
    TicketPurchasedV1,
    TicketRefundedV1,
)
from shared.events.common import ConsentPurpose
from tests.unit.profile.facts import (
    THEATRE,
    bounced,
    clicked,
    details,
    donation,
    exchange,
    form,
    granted,
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

START = datetime(2025, 6, 1, tzinfo=UTC)
SHOWS = [
    performance(datetime(2025, 8, 30, 20, tzinfo=UTC), production_id="ete-2025", genre="humour", venue="Agora"),
    performance(datetime(2025, 10, 17, 0, tzinfo=UTC)),
    performance(datetime(2026, 2, 1, 19, tzinfo=UTC), production_id="giselle", genre="danse", venue=None),
    performance(datetime(2026, 9, 1, 4, tzinfo=UTC), production_id="rentree", genre=None, venue="Agora"),
]
TICKETS = st.sampled_from(["T-1", "T-2", "T-3", "T-4"])
PRICES = st.sampled_from(["0.00", "32.00", "54.50", "120.00"])
PURPOSES = st.sampled_from(["marketing_email", "sms", "postal", "survey"])
BASES = st.sampled_from(["express", "implied_purchase", "implied_donation", "implied_inquiry", "implied_membership"])
# Hours rather than seconds, so that facts often share an instant and ties must be broken by event id.
MOMENTS = st.integers(min_value=0, max_value=24 * 900).map(lambda hours: START + timedelta(hours=hours))
# How much later a fact is told again: within its two years of implied consent, and past them.
LATER = st.integers(min_value=1, max_value=900)
FactDraw = Callable[[st.DrawFn, datetime], ProfileEvent]


ADDRESSES = st.sampled_from(["elise@example.com", "ELISE@example.com", "e.gagnon@example.ca"])


def _who(draw: st.DrawFn) -> dict[str, Any]:
    return person(
        first_name=draw(st.sampled_from(["Élise", "Elise", "Lili"])),
        email=draw(st.sampled_from(["elise@example.com", "ELISE@example.com", "e.gagnon@example.ca", None])),
        phone=draw(st.sampled_from([None, "514 555 0199", "+1 438 555 0100"])),
        locale=draw(st.sampled_from(["fr-CA", "en", None])),
    )


def _purchase(draw: st.DrawFn, when: datetime) -> ProfileEvent:
    return purchase(
        when,
        draw(st.sampled_from(SHOWS)),
        *draw(st.lists(TICKETS, min_size=1, max_size=2, unique=True)),
        price=draw(PRICES),
        order_id=draw(st.sampled_from(["O-1", "O-2", "O-3"])),
        person=_who(draw),
    )


# Bounces and cleanings of the addresses purchases give, so that the latest of each may come before or after.
def _bounce(draw: st.DrawFn, when: datetime) -> ProfileEvent:
    return bounced(
        when,
        person={"source": "mailchimp-principal", "email": draw(ADDRESSES)},
        bounce_type=draw(st.sampled_from(["hard", "soft"])),
    )


def _cleaning(draw: st.DrawFn, when: datetime) -> ProfileEvent:
    return newsletter(
        draw(st.sampled_from(["cleaned", "cleaned for another reason"])),
        when,
        person={"source": "mailchimp-principal", "email": draw(ADDRESSES)},
    )


KINDS: list[FactDraw] = [
    _purchase,
    lambda draw, when: refund(when, *draw(st.lists(TICKETS, min_size=1, max_size=2, unique=True)), amount=draw(PRICES)),
    lambda draw, when: exchange(
        when,
        draw(st.lists(TICKETS, min_size=1, max_size=2, unique=True)),
        draw(st.sampled_from(SHOWS)),
        draw(st.lists(st.sampled_from(["T-3", "T-5", "T-6"]), min_size=1, max_size=2, unique=True)),
    ),
    lambda draw, when: scan(when, draw(st.sampled_from(SHOWS)), draw(TICKETS)),
    lambda draw, when: subscription(
        when,
        kind=draw(st.sampled_from(["season_pass", "membership"])),
        starts_on=date(2025, 9, 1),
        ends_on=draw(st.sampled_from([None, date(2026, 6, 30), date(2027, 6, 30)])),
        renews_on=draw(st.sampled_from([None, date(2026, 9, 1)])),
        price=draw(PRICES),
        subscription_id=draw(st.sampled_from(["ABO-1", "ABO-2"])),
    ),
    lambda draw, when: shop_order(
        when,
        order_id=draw(st.sampled_from(["S-1", "S-2"])),
        total=draw(st.sampled_from(["12.00", "38.59"])),
        categories=tuple(draw(st.lists(st.sampled_from(["livres", "affiches"]), max_size=2, unique=True))),
    ),
    lambda draw, when: shop_refund(when, order_id=draw(st.sampled_from(["S-1", "S-2"])), amount=draw(PRICES)),
    lambda draw, when: shop_cancellation(when, order_id=draw(st.sampled_from(["S-1", "S-2"]))),
    # Few donation ids, so that one gift is often told twice, at other moments or for other amounts.
    lambda draw, when: donation(
        when, draw(PRICES).replace("0.00", "5.00"), donation_id=draw(st.sampled_from(["DON-1", "DON-2", "DON-3"]))
    ),
    lambda draw, when: newsletter(
        draw(st.sampled_from(["subscribed", "unsubscribed", "cleaned"])),
        when,
        list_id=draw(st.sampled_from(["a", "b"])),
    ),
    lambda draw, when: opened(when),
    lambda draw, when: clicked(when),
    lambda draw, when: bounced(when),
    _bounce,
    _cleaning,
    lambda draw, when: social(when),
    lambda draw, when: form(when, draw(st.sampled_from(["inquiry", "contest"]))),
    lambda draw, when: granted(
        when, draw(PURPOSES), draw(BASES), captured_at=when - timedelta(hours=draw(st.integers(0, 48)))
    ),
    lambda draw, when: withdrawn(when, draw(PURPOSES), draw(st.one_of(st.none(), BASES))),
    lambda draw, when: details(
        when, ["locale", "first_name"], first_name=draw(st.sampled_from(["Élise", "Lili"])), locale="en"
    ),
]


@st.composite
def histories(draw: st.DrawFn, max_size: int = 18, kinds_drawn: list[FactDraw] = KINDS) -> list[ProfileEvent]:
    """A history of distinct events (distinct ids) about one person, of `kinds_drawn`."""
    kinds = draw(st.lists(st.sampled_from(kinds_drawn), max_size=max_size))
    events = [kind(draw, draw(MOMENTS)) for kind in kinds]
    return [dataclasses.replace(event, event_id=f"evt-{index:03d}") for index, event in enumerate(events)]


@st.composite
def split_histories(draw: st.DrawFn) -> tuple[list[ProfileEvent], list[ProfileEvent]]:
    events = draw(histories())
    in_first = draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    return (
        [event for event, first in zip(events, in_first, strict=True) if first],
        [event for event, first in zip(events, in_first, strict=True) if not first],
    )


properties = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@properties
@given(st.data())
def test_folding_any_permutation_with_any_duplicates_gives_the_same_profile(data: st.DataObject) -> None:
    events = data.draw(histories())
    shuffled = data.draw(st.permutations(events))
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []

    assert fold([*shuffled, *repeated]) == fold(events)
    assert fold([*repeated, *shuffled]).to_document() == fold(events).to_document()


@properties
@given(st.data())
def test_an_order_a_refund_or_a_gift_told_again_under_other_event_ids_changes_no_field_of_the_profile(
    data: st.DataObject,
) -> None:
    events = data.draw(histories())
    told_again = [
        event for event in events if isinstance(event.data, TicketPurchasedV1 | TicketRefundedV1 | DonationMadeV1)
    ]
    resent = [
        dataclasses.replace(event, event_id=f"{event.event_id}-again-{copy}")
        for copy, event in enumerate(data.draw(st.lists(st.sampled_from(told_again), max_size=6)) if told_again else [])
    ]
    as_of = max((event.time for event in events), default=START) + timedelta(days=1)

    assert view(fold([*events, *resent]), as_of=as_of, seasons=THEATRE) == view(
        fold(events), as_of=as_of, seasons=THEATRE
    )


def _told_as_one_kind(event: ProfileEvent, events: list[ProfileEvent]) -> bool:
    """Whether no other event of `events` tells `event`'s pass as the other kind (season pass or membership): a pass
    told as both is two stories, not one told again."""
    if not isinstance(event.data, SubscriptionPurchasedV1):
        return True
    subscription_id, kind = event.data.subscription_id, event.data.kind
    return all(
        other.data.kind is kind
        for other in events
        if isinstance(other.data, SubscriptionPurchasedV1) and other.data.subscription_id == subscription_id
    )


@properties
@given(st.data())
def test_a_purchase_a_pass_payment_or_a_gift_told_again_later_implies_consent_from_its_first_report(
    data: st.DataObject,
) -> None:
    events = data.draw(histories())
    told_again = [
        event
        for event in events
        if isinstance(event.data, TicketPurchasedV1 | SubscriptionPurchasedV1 | DonationMadeV1)
        and _told_as_one_kind(event, events)
    ]
    resent = [
        dataclasses.replace(
            event, event_id=f"{event.event_id}-again-{copy}", time=event.time + timedelta(days=data.draw(LATER))
        )
        for copy, event in enumerate(data.draw(st.lists(st.sampled_from(told_again), max_size=6)) if told_again else [])
    ]

    assert consents(fold([*events, *resent])) == consents(fold(events))


@properties
@given(split_histories())
def test_merging_two_folded_histories_equals_folding_them_together(
    halves: tuple[list[ProfileEvent], list[ProfileEvent]],
) -> None:
    first, second = halves

    assert merge(fold(first), fold(second)) == fold(first + second)
    assert merge(fold(first), fold(second)) == merge(fold(second), fold(first))


@properties
@given(split_histories())
def test_applying_a_second_batch_to_the_fold_of_the_first_equals_folding_all_at_once(
    halves: tuple[list[ProfileEvent], list[ProfileEvent]],
) -> None:
    first, second = halves

    assert functools.reduce(apply, second, fold(first)) == fold(first + second)


@properties
@given(split_histories())
def test_applying_an_event_is_merging_in_what_it_alone_tells(
    halves: tuple[list[ProfileEvent], list[ProfileEvent]],
) -> None:
    first, second = halves
    state = fold(first)

    for event in second:
        assert apply(state, event) == merge(state, contribution(event))
        state = apply(state, event)


@properties
@given(histories())
def test_the_empty_profile_changes_nothing_in_a_merge(events: list[ProfileEvent]) -> None:
    state = fold(events)

    assert merge(EMPTY_PROFILE, state) == state == merge(state, EMPTY_PROFILE)


@properties
@given(histories())
def test_a_profile_document_is_json_and_reads_back_unchanged(events: list[ProfileEvent]) -> None:
    state = fold(events)

    document = json.loads(json.dumps(state.to_document()))

    assert ProfileState.from_document(document) == state
    assert ProfileState.from_document(document).to_document() == document


def _latest_moments(events: list[ProfileEvent]) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """When each address was last given, and when it last bounced hard or was cleaned, read from the facts alone."""
    given: dict[str, datetime] = {}
    dead: dict[str, datetime] = {}
    for event in events:
        if event.data.person.email is None:
            continue
        address = event.data.person.email.strip().lower()
        data = event.data
        if isinstance(data, NewsletterCleanedV1 | NewsletterCleanedV2) or (
            isinstance(data, EmailBouncedV1) and data.bounce_type == "hard"
        ):
            dead[address] = max(dead.get(address, event.time), event.time)
        elif not isinstance(data, EmailBouncedV1):
            given[address] = max(given.get(address, event.time), event.time)
    return given, dead


# Purchases giving addresses, and bounces and cleanings of the same ones: each address's latest giving and latest
# failure fall in either order far more often than among every kind of fact.
ADDRESS_KINDS: list[FactDraw] = [_purchase, _bounce, _cleaning]


@properties
@given(st.data())
def test_addresses_given_and_found_undeliverable_fold_alike_in_any_order_and_any_split(data: st.DataObject) -> None:
    events = data.draw(histories(max_size=10, kinds_drawn=ADDRESS_KINDS))
    shuffled = data.draw(st.permutations(events))
    cut = data.draw(st.integers(min_value=0, max_value=len(events)))
    as_of = max((event.time for event in events), default=START) + timedelta(days=1)
    whole = fold(events)

    assert fold(shuffled) == whole
    assert merge(fold(shuffled[:cut]), fold(shuffled[cut:])) == whole
    assert functools.reduce(apply, shuffled[cut:], fold(shuffled[:cut])) == whole
    assert (
        view(fold(shuffled), as_of=as_of, seasons=THEATRE)["undeliverable_emails"]
        == view(whole, as_of=as_of, seasons=THEATRE)["undeliverable_emails"]
    )


@properties
@given(histories(max_size=10, kinds_drawn=ADDRESS_KINDS))
def test_an_address_is_undeliverable_when_it_last_died_no_earlier_than_it_was_last_given(
    events: list[ProfileEvent],
) -> None:
    as_of = max((event.time for event in events), default=START) + timedelta(days=1)
    fields = view(fold(events), as_of=as_of, seasons=THEATRE)
    given, dead = _latest_moments(events)

    assert set(fields["undeliverable_emails"]) == {
        address for address, moment in given.items() if address in dead and dead[address] >= moment
    }
    # Among the addresses the view lists, in their order.
    undeliverable = set(fields["undeliverable_emails"])
    assert fields["undeliverable_emails"] == [email for email in fields["emails"] if email in undeliverable]
    reached = {value for _, value in contact_points(fields, ConsentPurpose.MARKETING_EMAIL, as_of=as_of)}
    assert reached.isdisjoint(fields["undeliverable_emails"])


@properties
@given(histories(max_size=12), st.integers(min_value=0, max_value=24 * 400))
def test_the_view_does_not_change_before_the_next_time_change_and_does_at_it(
    events: list[ProfileEvent], hours_later: int
) -> None:
    state = fold(events)
    latest = max((event.time for event in events), default=START)
    as_of = latest + timedelta(hours=hours_later)
    now = view(state, as_of=as_of, seasons=THEATRE)

    change = next_time_change(state, as_of, seasons=THEATRE)

    assert change is not None, "a season always ends"
    assert change <= THEATRE.current(as_of).ends_at
    for moment in (as_of + (change - as_of) / 3, as_of + (change - as_of) * 2 / 3, change - timedelta(microseconds=1)):
        assert view(state, as_of=moment, seasons=THEATRE) == now, f"changed at {moment} before {change}"
    assert view(state, as_of=change, seasons=THEATRE) != now


@properties
@given(histories(max_size=12), st.integers(min_value=0, max_value=24 * 400))
def test_a_household_does_not_move_the_next_time_change(events: list[ProfileEvent], hours_later: int) -> None:
    state = fold(events)
    as_of = max((event.time for event in events), default=START) + timedelta(hours=hours_later)
    in_a_household = view(state, as_of=as_of, seasons=THEATRE, household_id="hh_roy")

    assert next_time_change(state, as_of, seasons=THEATRE, viewed=in_a_household) == next_time_change(
        state, as_of, seasons=THEATRE
    )


@properties
@given(
    histories(),
    st.sampled_from([UTC, ZoneInfo("America/Montreal"), ZoneInfo("Pacific/Kiritimati")]),
    st.sampled_from([CASL, ConsentPolicy(implied_purposes=frozenset({ConsentPurpose.MARKETING_EMAIL}))]),
)
def test_every_purpose_s_consent_worked_out_at_once_is_each_one_s_worked_out_alone(
    events: list[ProfileEvent], zone: tzinfo, policy: ConsentPolicy
) -> None:
    state = fold(events)

    assert consents(state, policy=policy, zone=zone) == {
        purpose: current_consent(state, purpose, policy=policy, zone=zone) for purpose in ConsentPurpose
    }
