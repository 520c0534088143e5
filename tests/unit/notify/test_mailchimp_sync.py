"""The audience sync against a Mailchimp that behaves as its API documents: who is subscribed, unsubscribed or
archived after each change of consent."""

import asyncio
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from services.notify.domain.contacts import (
    Contact,
    OptOut,
    Suppression,
    apply_change,
    check_send,
    record_opt_out,
)
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.mailchimp import subscriber_hash
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.subscriptions import MailchimpTarget, MessageKind
from services.notify.handlers import NotifyDeps, NotifyRules, _mailchimp_attempt
from services.notify.ports import Delivery, HttpAnswer, NotifyStore, Outbound
from shared.events.common import Channel, ConsentPurpose

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
TARGET = MailchimpTarget("https://us1.api.mailchimp.com/3.0", "key-us1", "list1")
PREFIX = "https://us1.api.mailchimp.com/3.0/lists/list1/members/"
HOME = (Channel.EMAIL, "home@example.com")


@dataclass
class Mailchimp:
    """Members by subscriber hash. `PUT` creates with `status_if_new` and leaves an existing member's status (an
    archived one stays archived); `PATCH` changes an existing member (404 otherwise), and moves it to the hash of a
    new `email_address` unless that address is a member already (400 `Member Exists`); `DELETE` archives one;
    `POST …/actions/delete-permanent` deletes one for good."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # The query of each call that had one, by method.
    queries: list[tuple[str, str]] = field(default_factory=list)

    async def request(self, method: str, url: str, *, body: bytes = b"", **_: Any) -> HttpAnswer:
        path, _mark, query = url.removeprefix(PREFIX).partition("?")
        member_hash, _slash, rest = path.partition("/")
        self.calls.append((method, member_hash))
        if query:
            self.queries.append((method, query))
        member = self.members.get(member_hash)
        if rest == "actions/delete-permanent" and method == "POST":
            return HttpAnswer(404 if self.members.pop(member_hash, None) is None else 204)
        if rest == "tags":
            return HttpAnswer(404 if member is None else 204)
        given = json.loads(body) if body else {}
        if method == "PUT" and member is None:
            member = self.members[member_hash] = {"email_address": given["email_address"], "status": "subscribed"}
        elif member is None:
            return HttpAnswer(404)
        elif method == "PATCH" and subscriber_hash(given.get("email_address", member["email_address"])) != member_hash:
            moved_to = subscriber_hash(given["email_address"])
            if moved_to in self.members:
                return HttpAnswer(400, json={"title": "Member Exists", "status": 400})
            member.update(given)
            self.members[moved_to] = self.members.pop(member_hash)
        elif method == "PATCH":
            member.update(given)
        elif method == "DELETE":
            member["status"] = "archived"
            return HttpAnswer(204)
        return HttpAnswer(200, json=dict(member))

    def status(self, email: str) -> str | None:
        member = self.members.get(subscriber_hash(email))
        return None if member is None else member["status"]


@dataclass
class Store:
    contact_now: Contact
    opt_outs: list[str] = field(default_factory=list)
    # The deliveries whose data was forgotten.
    forgotten: list[str] = field(default_factory=list)

    async def forget_person_in_delivery(
        self, delivery: Delivery, status: object | None, reason: str | None = None
    ) -> None:
        self.forgotten.append(delivery.delivery_id)

    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        return self.contact_now

    async def record_opt_out(self, organisation_id: str, person_id: str, opt_out: OptOut) -> None:
        self.opt_outs.append(opt_out.purpose)

    async def record_mailchimp_member(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str
    ) -> None:
        members = {**self.contact_now.mailchimp_members, subscription_id: email}
        self.contact_now = replace(self.contact_now, mailchimp_members=members)

    async def record_mailchimp_archived(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str, *, archived: bool
    ) -> None:
        marks = set(self.contact_now.mailchimp_archived.get(subscription_id, frozenset()))
        (marks.add if archived else marks.discard)(subscriber_hash(email))
        archived_by_sync = {**self.contact_now.mailchimp_archived, subscription_id: frozenset(marks)}
        self.contact_now = replace(self.contact_now, mailchimp_archived=archived_by_sync)


def sync(mailchimp: Mailchimp, store: Store) -> HttpAnswer | Suppression:
    rules = NotifyRules(RetrySchedule(), FrequencyCap(), timedelta(hours=24), timedelta(minutes=1))
    deps = NotifyDeps(store=cast(NotifyStore, store), clock=_Clock(), rules=rules)
    delivery = Delivery(
        "dlv_1",
        "org",
        "sub_mc",
        "msg_1",
        MessageKind.PROFILE_CHANGED.value,
        {"person_id": "per_1"},
        NOW,
        NOW,
        person_id="per_1",
    )
    return asyncio.run(_mailchimp_attempt(delivery, TARGET, deps, cast(Outbound, mailchimp)))


def delete_members(mailchimp: Mailchimp, store: Store, *addresses: str) -> HttpAnswer | Suppression:
    """The erasure's deletion of the members under `addresses`, as notify queues it for a Mailchimp audience."""
    rules = NotifyRules(RetrySchedule(), FrequencyCap(), timedelta(hours=24), timedelta(minutes=1))
    deps = NotifyDeps(store=cast(NotifyStore, store), clock=_Clock(), rules=rules)
    data = {"subscriber_hashes": [subscriber_hash(address) for address in addresses]}
    delivery = Delivery("dlv_erased", "org", "sub_mc", "msg_erased", MessageKind.PROFILE_ERASED.value, data, NOW, NOW)
    return asyncio.run(_mailchimp_attempt(delivery, TARGET, deps, cast(Outbound, mailchimp)))


class _Clock:
    def now(self) -> datetime:
        return NOW


def changed(contact: Contact, version: int, **fields: Any) -> Contact:
    applied = apply_change(contact, fields, version, NOW)
    assert applied is not None
    return applied


GRANTED = {"consent.marketing_email.status": "granted", "consent.marketing_email.allowed": True}
# Implied by a purchase 800 days ago, which profile announced running a day more; then its lapse; then a purchase.
BOUGHT = NOW - timedelta(days=800)
IMPLIED = {
    **GRANTED,
    "consent.marketing_email.basis": "implied_purchase",
    "consent.marketing_email.captured_at": BOUGHT.isoformat(),
    "consent.marketing_email.expires_at": (NOW + timedelta(days=1)).isoformat(),
}
LAPSED = {"consent.marketing_email.allowed": False, "consent.marketing_email.expires_at": BOUGHT.isoformat()}
BOUGHT_AGAIN = {
    **IMPLIED,
    "consent.marketing_email.captured_at": NOW.isoformat(),
    "consent.marketing_email.expires_at": (NOW + timedelta(days=730)).isoformat(),
}


def test_a_withdrawal_unsubscribes_the_person_under_every_address_they_gave() -> None:
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["old@example.com"], **GRANTED))
    sync(mailchimp, store)
    store.contact_now = changed(store.contact_now, 2, emails=["new@example.com", "old@example.com"])
    store.contact_now = changed(
        store.contact_now,
        3,
        **{"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False},
    )

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    assert (mailchimp.status("old@example.com"), mailchimp.status("new@example.com")) == ("unsubscribed", None)


def test_a_person_whose_every_address_is_undeliverable_is_not_added_but_a_withdrawal_still_reaches_every_one() -> None:
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["old@example.com"], **GRANTED))
    sync(mailchimp, store)
    store.contact_now = changed(
        store.contact_now, 2, emails=["new@example.com", "old@example.com"], undeliverable_emails=["new@example.com"]
    )
    store.contact_now = changed(store.contact_now, 3, undeliverable_emails=["new@example.com", "old@example.com"])

    assert sync(mailchimp, store) is Suppression.NO_CONTACT_POINT
    assert mailchimp.status("new@example.com") is None

    store.contact_now = changed(
        store.contact_now,
        4,
        **{"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False},
    )
    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert mailchimp.status("old@example.com") == "unsubscribed"


def test_a_member_is_not_added_under_an_undeliverable_address_while_the_person_has_another() -> None:
    mailchimp = Mailchimp()
    store = Store(
        changed(
            Contact("per_1"),
            1,
            emails=["dead@example.com", "home@example.com"],
            undeliverable_emails=["dead@example.com"],
            **GRANTED,
        )
    )

    sync(mailchimp, store)

    assert (mailchimp.status("dead@example.com"), mailchimp.status("home@example.com")) == (None, "subscribed")


def test_an_implied_consent_past_its_term_archives_the_member_and_consent_given_again_brings_them_back() -> None:
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **IMPLIED))
    sync(mailchimp, store)
    assert mailchimp.status("elise@example.com") == "subscribed"
    store.contact_now = changed(store.contact_now, 2, **LAPSED)

    assert isinstance(sync(mailchimp, store), HttpAnswer)
    assert mailchimp.status("elise@example.com") == "archived"
    assert store.opt_outs == []

    store.contact_now = changed(store.contact_now, 3, **BOUGHT_AGAIN)
    sync(mailchimp, store)
    assert mailchimp.status("elise@example.com") == "subscribed"


def test_a_member_archived_in_mailchimp_by_someone_else_stays_archived_whatever_consent_parterre_holds() -> None:
    # Archived in Mailchimp's own screens (as people do after an unsubscribe, whose status archiving then hides).
    mailchimp = Mailchimp(
        {subscriber_hash("elise@example.com"): {"email_address": "elise@example.com", "status": "archived"}}
    )
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **GRANTED))

    sync(mailchimp, store)

    assert mailchimp.status("elise@example.com") == "archived"


def test_a_member_is_added_and_moved_without_the_merge_fields_an_audience_requires_and_the_person_has_not_given() -> (
    None
):
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["old@example.com"], **GRANTED))
    sync(mailchimp, store)
    store.contact_now = changed(store.contact_now, 2, emails=["new@example.com"])

    sync(mailchimp, store)

    assert ("PUT", "skip_merge_validation=true") in mailchimp.queries
    assert ("PATCH", "skip_merge_validation=true") in mailchimp.queries


def test_a_member_whose_consent_is_no_longer_known_leaves_the_audience_and_comes_back_with_consent_given_again() -> (
    None
):
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **GRANTED))
    sync(mailchimp, store)
    # An unmerge took the consent to the other profile: this one holds none now.
    store.contact_now = changed(
        store.contact_now, 2, **{"consent.marketing_email.status": "none", "consent.marketing_email.allowed": False}
    )

    sync(mailchimp, store)
    left = mailchimp.status("elise@example.com")
    store.contact_now = changed(store.contact_now, 3, **GRANTED)
    sync(mailchimp, store)

    assert left == "archived"
    assert mailchimp.status("elise@example.com") == "subscribed"
    assert store.opt_outs == []


def test_someone_never_a_member_without_consent_is_not_looked_for_in_the_audience() -> None:
    mailchimp = Mailchimp()
    store = Store(
        changed(
            Contact("per_1"),
            1,
            emails=["elise@example.com"],
            **{"consent.marketing_email.status": "none", "consent.marketing_email.allowed": False},
        )
    )

    assert sync(mailchimp, store) == Suppression.NO_CONSENT
    assert mailchimp.calls == []


def test_someone_who_unsubscribed_in_mailchimp_is_never_subscribed_again_by_a_sync() -> None:
    mailchimp = Mailchimp(
        {subscriber_hash("elise@example.com"): {"email_address": "elise@example.com", "status": "unsubscribed"}}
    )
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **GRANTED))

    sync(mailchimp, store)

    assert mailchimp.status("elise@example.com") == "unsubscribed"
    assert store.opt_outs == ["marketing_email"]


def test_someone_who_unsubscribed_in_mailchimp_before_a_lapse_stays_unsubscribed_after_a_purchase() -> None:
    mailchimp = Mailchimp()
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **IMPLIED))
    sync(mailchimp, store)
    # She unsubscribes from a campaign; no sync runs before her implied consent lapses.
    mailchimp.members[subscriber_hash("elise@example.com")]["status"] = "unsubscribed"
    store.contact_now = changed(store.contact_now, 2, **LAPSED)
    sync(mailchimp, store)
    store.contact_now = changed(store.contact_now, 3, **BOUGHT_AGAIN)

    sync(mailchimp, store)

    assert mailchimp.status("elise@example.com") == "unsubscribed"
    # Read before archiving: notify stops emailing her too (this fake store does not apply it to her contact).
    assert store.opt_outs[0] == "marketing_email"


@dataclass
class RefusingMailchimp(Mailchimp):
    """Answers 400 to any change of one member, as Mailchimp does for a `cleaned` one."""

    refused: str = ""

    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        if method in ("PATCH", "DELETE") and url.removeprefix(PREFIX) == subscriber_hash(self.refused):
            return HttpAnswer(400, json={"title": "Invalid Resource"})
        return await Mailchimp.request(self, method, url, body=body, **options)


@dataclass
class InComplianceState(Mailchimp):
    """Refuses to subscribe again an address unsubscribed, bounced or reported there, as Mailchimp does."""

    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        if method == "PUT":
            return HttpAnswer(400, json={"title": "Member In Compliance State", "status": 400})
        return await Mailchimp.request(self, method, url, body=body, **options)


def test_an_address_mailchimp_will_not_subscribe_again_is_noted_as_an_opt_out_so_the_refusal_is_met_once() -> None:
    mailchimp = InComplianceState()
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **GRANTED))

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 400
    assert store.opt_outs == ["marketing_email"]


def test_one_address_refused_does_not_leave_the_others_subscribed_after_a_withdrawal() -> None:
    mailchimp = RefusingMailchimp(refused="new@example.com")
    store = Store(changed(Contact("per_1"), 1, emails=["old@example.com"], **GRANTED))
    sync(mailchimp, store)
    mailchimp.members[subscriber_hash("new@example.com")] = {"email_address": "new@example.com", "status": "cleaned"}
    store.contact_now = changed(
        store.contact_now,
        2,
        emails=["new@example.com", "old@example.com"],
        **{"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False},
    )

    sync(mailchimp, store)

    assert mailchimp.status("old@example.com") == "unsubscribed"


@dataclass
class KeyRevokedMailchimp(Mailchimp):
    """Answers every call as Mailchimp does once the API key is revoked: 401 `API Key Invalid`."""

    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        return HttpAnswer(401, error="Your API key may be invalid", json={"title": "API Key Invalid", "status": 401})


WITHDRAWN = {"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False}


@pytest.mark.parametrize("consent", [WITHDRAWN, {**IMPLIED, **LAPSED}], ids=["withdrawn", "lapsed"])
def test_a_change_mailchimp_refuses_for_the_whole_account_is_the_attempts_answer_not_a_success(
    consent: dict[str, Any],
) -> None:
    store = Store(changed(Contact("per_1"), 1, emails=["elise@example.com"], **consent))

    answer = sync(KeyRevokedMailchimp(), store)

    # She is still in the audience as before: the delivery ends dead and replayable, not succeeded.
    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 401


@dataclass
class OptOutKeepingStore(Store):
    """Applies each opt-out to the contact, as the real store does, so the next sync sees it."""

    async def record_opt_out(self, organisation_id: str, person_id: str, opt_out: OptOut) -> None:
        await Store.record_opt_out(self, organisation_id, person_id, opt_out)
        self.contact_now = record_opt_out(
            self.contact_now,
            ConsentPurpose(opt_out.purpose),
            opt_out.at,
            changed_at=opt_out.changed_at,
            opted_in_at=opt_out.opted_in_at,
        )


def test_an_address_mailchimp_cleaned_is_not_an_opt_out_and_leaves_the_persons_other_addresses_subscribed() -> None:
    mailchimp = Mailchimp(
        {
            subscriber_hash("bounced@example.com"): {"email_address": "bounced@example.com", "status": "cleaned"},
            subscriber_hash("home@example.com"): {"email_address": "home@example.com", "status": "subscribed"},
        }
    )
    store = OptOutKeepingStore(
        changed(Contact("per_1"), 1, emails=["bounced@example.com", "home@example.com"], **GRANTED)
    )

    first, second = sync(mailchimp, store), sync(mailchimp, store)

    # Undeliverable is not a withdrawal of consent (CASL): the person is not stopped everywhere.
    assert store.opt_outs == []
    assert check_send(store.contact_now, ConsentPurpose.MARKETING_EMAIL, [HOME], erased=False, now=NOW).allowed
    assert isinstance(first, HttpAnswer)
    assert isinstance(second, HttpAnswer)
    assert (first.status_code, second.status_code) == (200, 200)
    assert (mailchimp.status("bounced@example.com"), mailchimp.status("home@example.com")) == ("cleaned", "subscribed")


def test_a_cleaned_member_is_left_cleaned_when_an_implied_consent_lapses_and_is_no_opt_out() -> None:
    mailchimp = Mailchimp(
        {subscriber_hash("elise@example.com"): {"email_address": "elise@example.com", "status": "cleaned"}}
    )
    store = Store(changed(changed(Contact("per_1"), 1, emails=["elise@example.com"], **IMPLIED), 2, **LAPSED))

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    assert store.opt_outs == []
    # Archived, the address would lose the mark that it bounces, and a later grant would bring it back subscribed.
    assert mailchimp.status("elise@example.com") == "cleaned"


def member(email: str, status: str = "subscribed") -> dict[str, dict[str, Any]]:
    return {subscriber_hash(email): {"email_address": email, "status": status}}


def moved_to_new_address(mailchimp: Mailchimp, **consent: Any) -> Store:
    """Élise joined under her old address; then a purchase gave a new one, now her latest."""
    store = OptOutKeepingStore(changed(Contact("per_1"), 1, emails=["old@example.com"], **(consent or GRANTED)))
    first = sync(mailchimp, store)
    assert isinstance(first, HttpAnswer)
    assert first.status_code == 200
    store.contact_now = changed(store.contact_now, 2, emails=["new@example.com", "old@example.com"])
    return store


def test_a_new_latest_address_moves_the_member_with_its_tags_rather_than_adding_a_second() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    mailchimp.members[subscriber_hash("old@example.com")]["tags"] = {"abonnes-2026-2027": "active"}

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    # One member, under the new address, with what it had: no campaign goes out twice.
    assert list(mailchimp.members) == [subscriber_hash("new@example.com")]
    assert mailchimp.members[subscriber_hash("new@example.com")]["tags"] == {"abonnes-2026-2027": "active"}
    assert store.contact_now.mailchimp_members == {"sub_mc": "new@example.com"}
    # Once moved, the next sync changes nothing more.
    mailchimp.calls.clear()
    sync(mailchimp, store)
    assert mailchimp.calls == [("PUT", subscriber_hash("new@example.com"))]


def test_the_old_member_is_archived_when_the_new_address_is_a_member_already() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    # She had joined under the new one herself, in Mailchimp's form.
    mailchimp.members.update(member("new@example.com"))

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    assert (mailchimp.status("old@example.com"), mailchimp.status("new@example.com")) == ("archived", "subscribed")
    assert store.contact_now.mailchimp_members == {"sub_mc": "new@example.com"}
    assert store.opt_outs == []


def test_an_old_member_unsubscribed_in_mailchimp_that_cannot_move_stops_the_person_and_adds_no_one() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    mailchimp.members[subscriber_hash("old@example.com")]["status"] = "unsubscribed"
    mailchimp.members.update(member("new@example.com", "pending"))

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert store.opt_outs == ["marketing_email"]
    assert (mailchimp.status("old@example.com"), mailchimp.status("new@example.com")) == ("unsubscribed", "pending")
    assert not check_send(store.contact_now, ConsentPurpose.MARKETING_EMAIL, [HOME], erased=False, now=NOW).allowed


def test_a_member_unsubscribed_in_mailchimp_stays_unsubscribed_under_the_address_it_moves_to() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    mailchimp.members[subscriber_hash("old@example.com")]["status"] = "unsubscribed"

    sync(mailchimp, store)

    assert list(mailchimp.members) == [subscriber_hash("new@example.com")]
    assert mailchimp.status("new@example.com") == "unsubscribed"
    assert store.opt_outs == ["marketing_email"]


def test_an_old_member_deleted_in_mailchimp_leaves_the_new_address_to_be_added() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    del mailchimp.members[subscriber_hash("old@example.com")]

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    assert list(mailchimp.members) == [subscriber_hash("new@example.com")]
    assert store.contact_now.mailchimp_members == {"sub_mc": "new@example.com"}


class UnavailableOnPatchMailchimp(Mailchimp):
    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        if method == "PATCH":
            return HttpAnswer(503, error="Service Unavailable")
        return await Mailchimp.request(self, method, url, body=body, **options)


def test_a_move_that_fails_is_the_attempts_answer_and_nothing_is_added_until_it_is_tried_again() -> None:
    mailchimp = UnavailableOnPatchMailchimp()
    store = moved_to_new_address(mailchimp)

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 503
    assert list(mailchimp.members) == [subscriber_hash("old@example.com")]
    assert store.contact_now.mailchimp_members == {"sub_mc": "old@example.com"}


def test_a_withdrawal_reaches_the_member_kept_under_an_address_the_person_no_longer_gives() -> None:
    mailchimp = Mailchimp(member("old@example.com"))
    contact = changed(Contact("per_1"), 1, emails=["new@example.com"], **WITHDRAWN)
    store = Store(replace(contact, mailchimp_members={"sub_mc": "old@example.com"}))

    sync(mailchimp, store)

    assert mailchimp.status("old@example.com") == "unsubscribed"


def test_a_member_mailchimp_cleaned_is_left_where_it_is_and_the_new_address_added() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    mailchimp.members[subscriber_hash("old@example.com")]["status"] = "cleaned"

    answer = sync(mailchimp, store)

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    # Moved, the mark that the old address bounces would stop mail to the new one.
    assert (mailchimp.status("old@example.com"), mailchimp.status("new@example.com")) == ("cleaned", "subscribed")
    assert store.contact_now.mailchimp_members == {"sub_mc": "new@example.com"}
    assert store.opt_outs == []


def test_a_withdrawal_reaches_the_kept_member_when_the_person_gives_no_address_any_more() -> None:
    mailchimp = Mailchimp(member("old@example.com"))
    contact = changed(Contact("per_1"), 1, emails=[], **WITHDRAWN)
    store = Store(replace(contact, mailchimp_members={"sub_mc": "old@example.com"}))

    sync(mailchimp, store)

    # Her address removed from her profile, then consent withdrawn: the member the sync kept must not stay subscribed.
    assert mailchimp.status("old@example.com") == "unsubscribed"


def test_the_old_member_is_not_archived_when_the_new_address_is_one_mailchimp_cleaned() -> None:
    mailchimp = Mailchimp()
    store = moved_to_new_address(mailchimp)
    # The new address bounces in Mailchimp, which Parterre has not heard yet.
    mailchimp.members.update(member("new@example.com", "cleaned"))

    sync(mailchimp, store)

    # Her consent stands and her old address works: archived, she would get no campaign at all.
    assert (mailchimp.status("old@example.com"), mailchimp.status("new@example.com")) == ("subscribed", "cleaned")
    assert store.opt_outs == []


class RefusingNewAddressMailchimp(Mailchimp):
    """Refuses every change of address with a 400 that is no `Member Exists` (an address Mailchimp takes for fake, or
    one it forgot on request), as the real API does."""

    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        if method in ("PATCH", "PUT") and body and "new@example.com" in body.decode():
            return HttpAnswer(400, json={"title": "Invalid Resource", "status": 400})
        return await Mailchimp.request(self, method, url, body=body, **options)


def test_a_move_refused_for_another_reason_than_the_new_address_being_a_member_leaves_the_old_member() -> None:
    mailchimp = RefusingNewAddressMailchimp()
    store = moved_to_new_address(mailchimp)

    sync(mailchimp, store)

    assert subscriber_hash("new@example.com") not in mailchimp.members
    assert mailchimp.status("old@example.com") == "subscribed"


def test_an_erasure_deletes_each_member_for_good_and_one_not_there_counts_as_gone() -> None:
    mailchimp = Mailchimp()
    mailchimp.members.update(member("old@example.com", "archived") | member("new@example.com", "subscribed"))
    mailchimp.members.update(member("neighbour@example.com", "subscribed"))
    store = Store(Contact("per_1"))

    answer = delete_members(mailchimp, store, "old@example.com", "NEW@example.com", "never@example.com")

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 200
    assert set(mailchimp.members) == {subscriber_hash("neighbour@example.com")}
    # Deleted, the members' hashes go from the delivery too.
    assert store.forgotten == ["dlv_erased"]


class FailingDeletionMailchimp(Mailchimp):
    """Answers 503 to the deletion of the member under `old@example.com`."""

    async def request(self, method: str, url: str, *, body: bytes = b"", **options: Any) -> HttpAnswer:
        if url.endswith(f"{subscriber_hash('old@example.com')}/actions/delete-permanent"):
            return HttpAnswer(503, error="Service Unavailable")
        return await Mailchimp.request(self, method, url, body=body, **options)


def test_an_erasure_mailchimp_fails_to_finish_is_tried_again_and_keeps_what_it_needs() -> None:
    mailchimp = FailingDeletionMailchimp()
    mailchimp.members.update(member("old@example.com", "subscribed") | member("new@example.com", "subscribed"))
    store = Store(Contact("per_1"))

    answer = delete_members(mailchimp, store, "old@example.com", "new@example.com")

    assert isinstance(answer, HttpAnswer)
    assert answer.status_code == 503
    # The other member is deleted all the same; the hashes stay for the next attempt.
    assert set(mailchimp.members) == {subscriber_hash("old@example.com")}
    assert store.forgotten == []
