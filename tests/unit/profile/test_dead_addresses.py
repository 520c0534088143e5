"""An address that bounced or was cleaned is no sign the patron still uses it."""

from collections.abc import Callable
from datetime import datetime

import pytest

from services.profile.domain.history import ProfileEvent
from services.profile.domain.profile import fold, view
from shared.events import EmailBouncedV1, NewsletterCleanedV1, NewsletterCleanedV2
from tests.unit.profile.facts import THEATRE, at, days, details, fact, performance, person, purchase

SHOW = performance(at("2026-10-17T20:00:00-04:00"))
T0 = at("2026-09-10T10:00:00-04:00")
OLD, NEW = "ancienne.adresse@example.com", "elise.nouvelle@example.com"
DEAD = {"source": "mailchimp-principal", "email": OLD}


@pytest.mark.parametrize(
    "news",
    [
        lambda when: fact(EmailBouncedV1, when, person=DEAD, bounce_type="hard"),
        lambda when: fact(NewsletterCleanedV1, when, person=DEAD, list_id="a6b5da1054", reason="hard"),
        lambda when: fact(NewsletterCleanedV2, when, person=DEAD, list_id="a6b5da1054", reason="bounce-limit"),
        lambda when: fact(NewsletterCleanedV2, when, person=DEAD, list_id="a6b5da1054"),
    ],
    ids=["hard bounce", "cleaned", "cleaned for another reason", "cleaned for no reason"],
)
def test_a_dead_old_address_does_not_become_the_patron_s_first_email(news: Callable[[datetime], ProfileEvent]) -> None:
    events = [
        purchase(T0, SHOW, person=person(email=OLD)),
        details(T0 + days(5), ["email"], email=NEW),
        news(T0 + days(10)),
    ]

    fields = view(fold(events), as_of=T0 + days(11), seasons=THEATRE)

    assert fields["emails"] == [NEW, OLD]
