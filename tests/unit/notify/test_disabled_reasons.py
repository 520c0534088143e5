"""Why a subscription is disabled: said in English as before, and by a code the console puts in staff's words."""

from dataclasses import replace

from services.notify.domain.subscriptions import Subscription
from services.notify.handlers import attempt_delivery
from services.notify.ports import HttpAnswer
from tests.unit.notify.test_delivery_lanes import SUBSCRIPTION, LaneStore, _deps
from tests.unit.notify.test_mailchimp_key_replacement import AudienceStore, _service


class RetiredReceiver:
    async def request(self, method: str, url: str, **_: object) -> HttpAnswer:
        return HttpAnswer(410, error="Gone")


async def test_a_receiver_answering_410_disables_its_subscription_with_the_receiver_gone_code() -> None:
    store = LaneStore()
    store.add("dlv_1")

    await attempt_delivery("dlv_1", SUBSCRIPTION, _deps(store), RetiredReceiver(), owner="worker_a", draw=0.5)

    disabled = store.subscription_now
    assert not disabled.enabled
    assert disabled.disabled_reason_code == "receiver_gone"
    assert (disabled.disabled_reason or "").startswith("410 Gone: the receiver retired this endpoint")


def test_an_administrator_disabling_a_subscription_gives_the_code_with_the_reason_and_re_enabling_clears_both() -> None:
    store = AudienceStore()
    service = _service(store)
    created = service.post("/v1/subscriptions", json={"url": "https://crm.example/hook", "events": {"triggers": ["*"]}})
    assert created.status_code == 201, created.text
    subscription_id = created.json()["subscription_id"]
    assert created.json()["disabled_reason_code"] is None

    disabled = service.patch(f"/v1/subscriptions/{subscription_id}", json={"enabled": False})
    shown = service.get(f"/v1/subscriptions/{subscription_id}")
    enabled = service.patch(f"/v1/subscriptions/{subscription_id}", json={"enabled": True})

    assert disabled.status_code == 200, disabled.text
    said = ("disabled by an administrator", "disabled_by_administrator")
    assert (disabled.json()["disabled_reason"], disabled.json()["disabled_reason_code"]) == said
    assert (shown.json()["disabled_reason"], shown.json()["disabled_reason_code"]) == said
    assert (enabled.json()["disabled_reason"], enabled.json()["disabled_reason_code"]) == (None, None)


def test_a_subscription_disabled_before_codes_were_kept_still_shows_its_reason_and_no_code() -> None:
    store = AudienceStore()
    older: Subscription = replace(
        SUBSCRIPTION, organisation_id="theatre", enabled=False, disabled_reason="410 Gone", disabled_reason_code=None
    )
    store.subscriptions[older.subscription_id] = older

    shown = _service(store).get(f"/v1/subscriptions/{older.subscription_id}")

    assert shown.status_code == 200, shown.text
    assert (shown.json()["disabled_reason"], shown.json()["disabled_reason_code"]) == ("410 Gone", None)
