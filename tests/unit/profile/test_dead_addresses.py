"""An address that bounced or was cleaned is no sign the patron still uses it, and no place to write to."""

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import EMPTY_PROFILE, ProfileState, fold, merge, view
from services.profile.domain.rules import contact_points
from services.profile.domain.strategies import Stamp
from shared.events import EmailBouncedV1, NewsletterCleanedV1, NewsletterCleanedV2
from shared.events.common import Channel, ConsentPurpose
from tests.unit.profile.facts import THEATRE, at, days, details, fact, performance, person, purchase

SHOW = performance(at("2026-10-17T20:00:00-04:00"))
T0 = at("2026-09-10T10:00:00-04:00")
OLD, NEW = "ancienne.adresse@example.com", "elise.nouvelle@example.com"
DEAD = {"source": "mailchimp-principal", "email": OLD}
DeadNews = Callable[[datetime], ProfileEvent]


def _hard_bounce(when: datetime) -> ProfileEvent:
    return fact(EmailBouncedV1, when, person=DEAD, bounce_type="hard")


UNDELIVERABLE_NEWS = pytest.mark.parametrize(
    "news",
    [
        _hard_bounce,
        lambda when: fact(NewsletterCleanedV1, when, person=DEAD, list_id="a6b5da1054", reason="hard"),
        lambda when: fact(NewsletterCleanedV1, when, person=DEAD, list_id="a6b5da1054", reason="abuse"),
        lambda when: fact(NewsletterCleanedV2, when, person=DEAD, list_id="a6b5da1054", reason="bounce-limit"),
        lambda when: fact(NewsletterCleanedV2, when, person=DEAD, list_id="a6b5da1054"),
    ],
    ids=["hard bounce", "cleaned", "cleaned after a complaint", "cleaned for another reason", "cleaned for no reason"],
)


def _fields(events: list[ProfileEvent]) -> dict[str, object]:
    latest = max(event.time for event in events)
    return view(fold(events), as_of=latest + days(1), seasons=THEATRE)


def _email_points(events: list[ProfileEvent]) -> list[str]:
    fields = _fields(events)
    latest = max(event.time for event in events)
    points = contact_points(fields, ConsentPurpose.MARKETING_EMAIL, as_of=latest + days(1))
    return [value for channel, value in points if channel is Channel.EMAIL]


@UNDELIVERABLE_NEWS
def test_a_dead_old_address_does_not_become_the_patron_s_first_email(news: DeadNews) -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        details(T0 + days(5), ["email"], email=NEW),
        news(T0 + days(10)),
    ]

    fields = view(fold(events), as_of=T0 + days(11), seasons=THEATRE)

    assert fields["emails"] == [NEW, OLD]


@UNDELIVERABLE_NEWS
def test_an_address_known_from_an_earlier_purchase_that_died_since_is_no_contact_point(news: DeadNews) -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        details(T0 + days(5), ["email"], email=NEW),
        news(T0 + days(10)),
    ]

    assert _email_points(events) == [NEW]


@UNDELIVERABLE_NEWS
def test_the_view_lists_every_address_known_and_names_those_undeliverable(news: DeadNews) -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        details(T0 + days(5), ["email"], email=NEW),
        news(T0 + days(10)),
    ]

    fields = _fields(events)

    assert (fields["emails"], fields["undeliverable_emails"]) == ([NEW, OLD], [OLD])


def test_a_patron_whose_only_address_bounced_hard_gets_no_email_contact_point() -> None:
    events = [purchase(T0, SHOW, person=person(email=OLD)), _hard_bounce(T0 + days(10))]

    assert _fields(events)["consent.marketing_email.allowed"] is True
    assert _email_points(events) == []


def test_a_soft_bounce_leaves_the_address_a_contact_point() -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        fact(EmailBouncedV1, T0 + days(10), person=DEAD, bounce_type="soft"),
    ]

    assert _fields(events)["undeliverable_emails"] == []
    assert _email_points(events) == [OLD]


@UNDELIVERABLE_NEWS
def test_an_address_given_again_after_it_died_is_a_contact_point_again(news: DeadNews) -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        news(T0 + days(10)),
        purchase(T0 + days(20), SHOW, "T-2", order_id="O-2", person=person(email=OLD)),
    ]

    assert _fields(events)["undeliverable_emails"] == []
    assert _email_points(events) == [OLD]


def test_an_address_that_dies_again_after_it_was_given_again_is_undeliverable_again() -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        _hard_bounce(T0 + days(10)),
        details(T0 + days(20), ["email"], email=OLD),
        _hard_bounce(T0 + days(30)),
    ]

    assert _email_points(events) == []


def test_an_address_given_at_the_very_moment_it_bounced_stays_undeliverable() -> None:
    # Nothing tells which came first: the address is not written to on a guess.
    for bounce_id, purchase_id in (("evt-a", "evt-b"), ("evt-b", "evt-a")):
        events = [
            purchase(T0, SHOW, person=person(email=OLD), event_id=purchase_id),
            fact(EmailBouncedV1, T0, person=DEAD, bounce_type="hard", event_id=bounce_id),
        ]

        assert _fields(events)["undeliverable_emails"] == [OLD]
        assert _email_points(events) == []


def test_an_address_known_only_from_its_bounce_is_listed_nowhere() -> None:
    events = [purchase(T0, SHOW, person=person(email=NEW)), _hard_bounce(T0 + days(10))]

    fields = _fields(events)

    assert (fields["emails"], fields["undeliverable_emails"]) == ([NEW], [])
    assert _email_points(events) == [NEW]


def test_an_address_is_compared_as_profiles_keep_it_whatever_its_case() -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        fact(EmailBouncedV1, T0 + days(10), person=DEAD | {"email": OLD.upper()}, bounce_type="hard"),
    ]

    assert _email_points(events) == []


def test_the_same_facts_in_any_order_and_any_split_give_the_same_undeliverable_addresses() -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        _hard_bounce(T0 + days(10)),
        details(T0 + days(20), ["email"], email=OLD),
        _hard_bounce(T0 + days(30)),
        details(T0 + days(40), ["email"], email=NEW),
    ]
    whole = fold(events)

    assert fold(reversed(events)) == whole
    for cut in range(len(events) + 1):
        assert merge(fold(events[cut:]), fold(events[:cut])) == whole
    assert whole.emails_undeliverable_at == {OLD: Stamp(T0 + days(30), events[3].event_id)}


def test_the_undeliverable_moments_are_stored_and_read_back_unchanged() -> None:
    state = fold([purchase(T0, SHOW, person=person(email=OLD)), _hard_bounce(T0 + days(10))])

    document = json.loads(json.dumps(state.to_document()))

    assert document["emails_undeliverable_at"][0]["key"] == OLD
    assert ProfileState.from_document(document) == state
    assert ProfileState.from_document(document).emails_undeliverable_at == state.emails_undeliverable_at != {}


def test_a_profile_stored_before_undeliverable_addresses_were_kept_reads_with_none() -> None:
    state = fold([purchase(T0, SHOW, person=person(email=OLD))])
    document = json.loads(json.dumps(state.to_document()))
    document.pop("emails_undeliverable_at", None)

    read = ProfileState.from_document(document)

    assert read.emails_undeliverable_at == {}
    assert view(read, as_of=T0 + days(1), seasons=THEATRE)["undeliverable_emails"] == []
    assert view(EMPTY_PROFILE, as_of=T0, seasons=THEATRE)["undeliverable_emails"] == []
