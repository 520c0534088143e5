"""Replacing a Mailchimp subscription's API key by `PATCH`: never shown, and the one the next attempt and a replayed
delivery send with; its audience stays as it was. The store seals it: tests/integration/notify/test_store.py."""

import asyncio
import base64
import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast, get_args

import httpx
import pytest
from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.context import NotifyDep
from services.notify.domain.contacts import Contact, apply_change
from services.notify.domain.frequency import FrequencyCap
from services.notify.domain.retries import RetrySchedule
from services.notify.domain.subscriptions import MessageKind, Subscription
from services.notify.handlers import NotifyDeps, NotifyRules, attempt_delivery
from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus, HttpAnswer, NotifyStore, Outbound
from services.notify.settings import NotifySettings
from shared.access import SubscriptionsAdmin
from shared.tokens import Principal, Scope

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
REVOKED_KEY = "0123456789abcdef0123456789abcdef-us1"
NEW_KEY = "fedcba9876543210fedcba9876543210-us1"
AUDIENCE = {"api_url": "https://us1.api.mailchimp.com/3.0", "api_key": REVOKED_KEY, "list_id": "list1"}


class Clock:
    def now(self) -> datetime:
        return NOW


class AudienceStore:
    """Subscriptions as the store gives them back (their sealing is tested on the real store), one person, and
    their deliveries."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: dict[str, Delivery] = {}
        self.claims: dict[str, AttemptRecord] = {}
        self.contact_now = apply_change(
            Contact("per_1"),
            {
                "emails": ["elise@example.com"],
                "consent.marketing_email.status": "granted",
                "consent.marketing_email.allowed": True,
            },
            1,
            NOW,
        )

    async def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id)

    async def save_subscription(self, subscription: Subscription, fields: Collection[str] | None = None) -> None:
        if fields is None:
            self.subscriptions[subscription.subscription_id] = subscription
        else:
            kept = self.subscriptions[subscription.subscription_id]
            self.subscriptions[subscription.subscription_id] = replace(
                kept, **{field: getattr(subscription, field) for field in fields}
            )

    async def delivery(self, delivery_id: str) -> Delivery | None:
        return self.deliveries.get(delivery_id)

    async def update_delivery(self, delivery_id: str, changes: Mapping[str, Any]) -> None:
        self.deliveries[delivery_id] = replace(self.deliveries[delivery_id], **changes)

    async def claim_attempt(self, record: AttemptRecord) -> AttemptRecord | None:
        held = self.claims.get(record.attempt_id)
        self.claims.setdefault(record.attempt_id, record)
        return held

    async def finish_attempt(self, record: AttemptRecord) -> None:
        self.claims[record.attempt_id] = record

    async def enqueue(self, subscription_id: str, delivery_id: str, due_at: datetime, since: datetime) -> None:
        pass

    async def dequeue(self, subscription_id: str, delivery_id: str) -> None:
        pass

    async def expect_announcement(self, attempt_id_: str, at: datetime) -> None:
        pass

    async def is_erased(self, organisation_id: str, person_id: str) -> bool:
        return False

    async def contact(self, organisation_id: str, person_id: str) -> Contact | None:
        return self.contact_now

    async def record_mailchimp_member(
        self, organisation_id: str, person_id: str, subscription_id: str, email: str
    ) -> None:
        assert self.contact_now is not None
        members = {**self.contact_now.mailchimp_members, subscription_id: email}
        self.contact_now = replace(self.contact_now, mailchimp_members=members)


class MailchimpAccount:
    """Takes a member from a caller whose `Authorization` header carries the account's current key; 401 otherwise."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.authorizations: list[str] = []

    async def request(self, method: str, url: str, *, auth: tuple[str, str] | None = None, **_: Any) -> HttpAnswer:
        assert auth is not None
        # The header httpx sends for `auth`, as the outbound client passes it on.
        authorization = next(httpx.BasicAuth(*auth).auth_flow(httpx.Request(method, url))).headers["Authorization"]
        self.authorizations.append(authorization)
        if authorization != _basic("parterre", self.key):
            return HttpAnswer(401, error="Your API key may be invalid", json={"title": "API Key Invalid"})
        return HttpAnswer(200, json={"email_address": "elise@example.com", "status": "subscribed"})


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _deps(store: AudienceStore) -> NotifyDeps:
    rules = NotifyRules(RetrySchedule(), FrequencyCap(), timedelta(hours=24), timedelta(minutes=1))
    return NotifyDeps(store=cast(NotifyStore, store), clock=Clock(), rules=rules)


def _service(store: AudienceStore) -> TestClient:
    app = create_app(NotifySettings())
    principal = Principal(token_id="t1", organisation_id="theatre", scopes=frozenset(Scope), name="marie")
    context = SimpleNamespace(
        settings=NotifySettings(),
        deps=_deps(store),
        subscriptions_changed=lambda: None,
        wake=lambda subscription_id: None,
    )
    app.dependency_overrides[get_args(SubscriptionsAdmin)[1].dependency] = lambda: principal
    app.dependency_overrides[get_args(NotifyDep)[1].dependency] = lambda: context
    return TestClient(app)


def _attempt(store: AudienceStore, subscription_id: str, mailchimp: MailchimpAccount) -> None:
    # As the worker does: the subscription is read again before each attempt.
    subscription = asyncio.run(store.subscription(subscription_id))
    assert subscription is not None
    outbound = cast(Outbound, mailchimp)
    asyncio.run(attempt_delivery("dlv_1", subscription, _deps(store), outbound, owner="w1", draw=0.5))


def _status(store: AudienceStore) -> DeliveryStatus:
    return store.deliveries["dlv_1"].status


def test_a_replaced_key_is_never_shown_and_is_sent_by_the_replay_of_a_delivery_the_old_one_left_dead(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = AudienceStore()
    service = _service(store)
    created = service.post(
        "/v1/subscriptions",
        json={"kind": "mailchimp", "mailchimp": AUDIENCE, "events": {"profile_fields": ["consent.*"]}},
    )
    assert created.status_code == 201, created.text
    subscription_id = created.json()["subscription_id"]
    store.deliveries["dlv_1"] = Delivery(
        "dlv_1",
        "theatre",
        subscription_id,
        "msg_1",
        MessageKind.PROFILE_CHANGED.value,
        {"person_id": "per_1"},
        NOW,
        NOW,
        person_id="per_1",
        next_attempt_at=NOW,
    )
    mailchimp = MailchimpAccount(NEW_KEY)  # the organisation revoked the key it gave, and made this one
    _attempt(store, subscription_id, mailchimp)
    assert _status(store) is DeliveryStatus.DEAD

    with caplog.at_level(logging.DEBUG):
        patched = service.patch(f"/v1/subscriptions/{subscription_id}", json={"mailchimp": {"api_key": NEW_KEY}})
        shown = service.get(f"/v1/subscriptions/{subscription_id}")

    assert patched.status_code == 200, patched.text
    assert patched.json()["mailchimp"] == {"api_url": AUDIENCE["api_url"], "list_id": "list1"}
    assert NEW_KEY not in patched.text + shown.text + caplog.text
    stored = store.subscriptions[subscription_id].mailchimp
    assert stored is not None
    assert (stored.api_url, stored.api_key, stored.list_id) == (AUDIENCE["api_url"], NEW_KEY, "list1")

    assert service.post("/v1/deliveries/dlv_1/replay").status_code == 202
    _attempt(store, subscription_id, mailchimp)

    assert mailchimp.authorizations[-1] == _basic("parterre", NEW_KEY)
    assert mailchimp.authorizations[0] != mailchimp.authorizations[-1]
    assert _status(store) is DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("audience", "field"),
    [
        ({"list_id": "list2"}, "mailchimp.list_id"),
        ({"api_url": "https://us6.api.mailchimp.com/3.0"}, "mailchimp.api_url"),
        ({"api_key": NEW_KEY, "list_id": "list2"}, "mailchimp.list_id"),
    ],
    ids=["another-list", "another-data-centre", "new-key-and-another-list"],
)
def test_a_mailchimp_subscription_keeps_its_audience_and_says_so_in_french_too(
    audience: dict[str, str], field: str
) -> None:
    store = AudienceStore()
    service = _service(store)
    created = service.post(
        "/v1/subscriptions", json={"kind": "mailchimp", "mailchimp": AUDIENCE, "events": {"triggers": ["*"]}}
    )
    subscription_id = created.json()["subscription_id"]
    before = store.subscriptions[subscription_id]

    refused = service.patch(f"/v1/subscriptions/{subscription_id}", json={"mailchimp": audience})

    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["code"] == "audience_not_changeable"
    assert field in detail["message"]["en"]
    assert field in detail["message"]["fr"]
    assert "nouvel abonnement" in detail["message"]["fr"]
    assert store.subscriptions[subscription_id] == before, "nothing of it was kept"


def test_the_audience_given_back_as_it_is_beside_a_new_key_is_accepted() -> None:
    store = AudienceStore()
    service = _service(store)
    created = service.post(
        "/v1/subscriptions", json={"kind": "mailchimp", "mailchimp": AUDIENCE, "events": {"triggers": ["*"]}}
    )
    subscription_id = created.json()["subscription_id"]

    patched = service.patch(
        f"/v1/subscriptions/{subscription_id}", json={"mailchimp": {**AUDIENCE, "api_key": NEW_KEY}}
    )

    assert patched.status_code == 200, patched.text
    subscription = asyncio.run(store.subscription(subscription_id))
    assert subscription is not None
    assert subscription.mailchimp is not None
    assert subscription.mailchimp.api_key == NEW_KEY


def test_a_webhook_subscription_has_no_mailchimp_key_to_replace() -> None:
    store = AudienceStore()
    service = _service(store)
    created = service.post("/v1/subscriptions", json={"url": "https://crm.example/hook", "events": {"triggers": ["*"]}})
    subscription_id = created.json()["subscription_id"]

    refused = service.patch(f"/v1/subscriptions/{subscription_id}", json={"mailchimp": {"api_key": NEW_KEY}})

    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["code"] == "not_a_mailchimp_subscription"
    assert "Mailchimp" in detail["message"]["fr"]


def test_a_key_of_another_data_centre_than_the_audience_s_url_is_refused_when_given_and_changes_nothing() -> None:
    store = AudienceStore()
    service = _service(store)
    other_centre_key = "fedcba9876543210fedcba9876543210-us6"

    created_wrong = service.post(
        "/v1/subscriptions",
        json={
            "kind": "mailchimp",
            "mailchimp": {**AUDIENCE, "api_key": other_centre_key},
            "events": {"triggers": ["*"]},
        },
    )
    created = service.post(
        "/v1/subscriptions", json={"kind": "mailchimp", "mailchimp": AUDIENCE, "events": {"triggers": ["*"]}}
    )
    subscription_id = created.json()["subscription_id"]
    patched_wrong = service.patch(
        f"/v1/subscriptions/{subscription_id}", json={"mailchimp": {"api_key": other_centre_key}}
    )

    for refused in (created_wrong, patched_wrong):
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert detail["code"] == "api_key_of_another_data_centre"
        assert "`us6`" in detail["message"]["en"]
        assert "`us1`" in detail["message"]["fr"]
    assert list(store.subscriptions) == [subscription_id]
    kept = store.subscriptions[subscription_id].mailchimp
    assert kept is not None
    assert kept.api_key == REVOKED_KEY


def test_a_key_is_not_checked_against_an_api_url_that_is_not_mailchimp_s() -> None:
    store = AudienceStore()
    service = _service(store)

    created = service.post(
        "/v1/subscriptions",
        json={
            "kind": "mailchimp",
            "mailchimp": {**AUDIENCE, "api_url": "https://mailchimp-relay.example/3.0"},
            "events": {"triggers": ["*"]},
        },
    )

    assert created.status_code == 201, created.text


def test_a_key_not_ending_with_a_data_centre_is_not_quoted_back_in_any_answer() -> None:
    store = AudienceStore()
    service = _service(store)
    transactional_key = "md-Ab3xYz_SECRETsecretTAIL9"

    created = service.post(
        "/v1/subscriptions",
        json={
            "kind": "mailchimp",
            "mailchimp": {**AUDIENCE, "api_key": transactional_key},
            "events": {"triggers": ["*"]},
        },
    )

    assert created.status_code == 201, created.text
    assert "ab3xyz" not in created.text.lower()
    assert "tail9" not in created.text.lower()
