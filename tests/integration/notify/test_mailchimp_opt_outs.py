"""An unsubscribe the audience sync reads in Mailchimp, on the real store: it stops email until express consent is
given after it, however often a later sync reads it again, and an unsubscribe after that consent stops it again."""

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.adapters.mongo import MongoNotifyStore
from services.notify.adapters.secrets import SecretBox, new_key
from services.notify.domain.contacts import Suppression, check_send
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.subscriptions import MailchimpTarget, MessageKind
from services.notify.handlers import NotifyDeps, NotifyRules, _mailchimp_attempt, accept_profile_change
from services.notify.ports import Delivery, HttpAnswer
from shared.events import build_envelope
from shared.events.common import Channel, ConsentPurpose
from shared.events.profile import ProfileChangedV1
from shared.mongo import Document

pytestmark = [pytest.mark.mongo]

ORGANISATION = "theatre-du-nord"
T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
TARGET = MailchimpTarget("https://us21.api.mailchimp.com/3.0", "0123456789abcdef0123456789abcdef-us21", "a6b5da1054")
EMAIL = ConsentPurpose.MARKETING_EMAIL
ELISE = (Channel.EMAIL, "elise@example.com")


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at


@dataclass
class Audience:
    """Élise's member, as Mailchimp answers every call about it: its status, and `last_changed` and `timestamp_opt`
    if they are given. As Mailchimp's, its `last_changed` moves with any update, the sync's own too."""

    clock: "Clock"
    status: str = "unsubscribed"
    last_changed: datetime | None = None
    opted_in: datetime | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)

    async def request(self, method: str, url: str, *, body: bytes | None = None, **_: Any) -> HttpAnswer:
        self.calls.append((method, url))
        if body:
            json.loads(body)
        if method != "GET" and self.last_changed is not None:
            self.last_changed = self.clock.now()
        member: dict[str, Any] = {"email_address": "elise@example.com", "status": self.status}
        if self.last_changed is not None:
            member["last_changed"] = self.last_changed.isoformat()
        member["timestamp_opt"] = "" if self.opted_in is None else self.opted_in.isoformat()
        return HttpAnswer(200, json=member)


def _deps(database: AsyncDatabase[Document], clock: Clock) -> NotifyDeps:
    rules = NotifyRules(RetrySchedule(jitter=0), FrequencyCap(limit=100), timedelta(hours=24), timedelta(minutes=1))
    return NotifyDeps(store=MongoNotifyStore(database, SecretBox([new_key()])), clock=clock, rules=rules)


async def _announce(deps: NotifyDeps, version: int, **changed: Any) -> None:
    change = ProfileChangedV1(person_id="per_elise", changed=changed, profile_version=version)
    envelope = build_envelope(
        change,
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/profile",
        id=f"changed-{version}",
        time=deps.clock.now(),
        person_id="per_elise",
    )
    await accept_profile_change(envelope, change, deps)


async def _express_consent(deps: NotifyDeps, version: int) -> None:
    await _announce(
        deps,
        version,
        **{
            "consent.marketing_email.status": "granted",
            "consent.marketing_email.allowed": True,
            "consent.marketing_email.basis": "express",
            "consent.marketing_email.captured_at": deps.clock.now().isoformat(),
        },
    )


async def _sync(deps: NotifyDeps, audience: Audience, number: int) -> None:
    delivery = Delivery(
        f"dlv_{number}",
        ORGANISATION,
        "sub_mc",
        f"msg_{number}",
        MessageKind.PROFILE_CHANGED.value,
        {"person_id": "per_elise"},
        deps.clock.now(),
        deps.clock.now(),
        person_id="per_elise",
    )
    await _mailchimp_attempt(delivery, TARGET, deps, audience)


async def _suppressed(deps: NotifyDeps) -> Suppression | None:
    contact = await deps.store.contact(ORGANISATION, "per_elise")
    return check_send(contact, EMAIL, [ELISE], erased=False, now=deps.clock.now()).suppressed


async def _opted_out_at(deps: NotifyDeps) -> datetime | None:
    contact = await deps.store.contact(ORGANISATION, "per_elise")
    assert contact is not None
    return contact.opt_outs.get(EMAIL.value)


@pytest.mark.parametrize("dated", [False, True], ids=["undated", "dated-by-last-changed"])
async def test_express_consent_given_after_an_unsubscribe_outlives_the_syncs_that_read_the_unsubscribe_again(
    database: AsyncDatabase[Document], dated: bool
) -> None:
    clock = Clock()
    deps = _deps(database, clock)
    unsubscribed = T0 - timedelta(days=3)
    audience = Audience(clock, last_changed=unsubscribed if dated else None, opted_in=T0 - timedelta(days=300))
    await _announce(deps, 1, emails=["elise@example.com"])
    await _express_consent(deps, 2)
    clock.at = T0 + timedelta(minutes=1)
    await _sync(deps, audience, 1)
    first = await _opted_out_at(deps)
    # A day later she ticks the newsletter box on the theatre's site; Mailchimp keeps her member unsubscribed.
    clock.at = T0 + timedelta(days=1)
    await _express_consent(deps, 3)
    clock.at += timedelta(minutes=1)
    await _sync(deps, audience, 2)
    clock.at += timedelta(days=1)
    await _sync(deps, audience, 3)

    # The sync updates the member, which moves its `last_changed` to then: the earliest date notify can know.
    assert first == T0 + timedelta(minutes=1)
    assert await _opted_out_at(deps) == first
    assert await _suppressed(deps) is None


async def test_an_unsubscribe_mailchimp_dates_after_the_express_consent_stops_email_again(
    database: AsyncDatabase[Document],
) -> None:
    clock = Clock()
    deps = _deps(database, clock)
    audience = Audience(clock, last_changed=T0 - timedelta(days=3), opted_in=T0 - timedelta(days=300))
    await _announce(deps, 1, emails=["elise@example.com"])
    await _express_consent(deps, 2)
    await _sync(deps, audience, 1)
    clock.at = T0 + timedelta(days=1)
    await _express_consent(deps, 3)
    # She subscribes again through the audience's form, then unsubscribes from a campaign two days later.
    audience.opted_in = T0 + timedelta(days=1, hours=2)
    audience.last_changed = T0 + timedelta(days=2)
    clock.at = T0 + timedelta(days=2, hours=1)
    await _sync(deps, audience, 2)

    opted_out_at = await _opted_out_at(deps)
    assert opted_out_at is not None
    assert T0 + timedelta(days=1, hours=2) < opted_out_at <= clock.at
    assert await _suppressed(deps) is Suppression.OPTED_OUT
