"""What staff read when a subscription is refused: the reason, in French as in English."""

from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.context import NotifyDep
from services.notify.settings import NotifySettings
from shared.access import Principal, Scope, SubscriptionsAdmin


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "https://crm.example/hook", "events": {}}, "events_empty"),
        ({"events": {"triggers": ["*"]}}, "webhook_url_missing"),
        ({"kind": "mailchimp", "events": {"segments_entered": ["*"]}}, "mailchimp_target_missing"),
    ],
    ids=["no-event", "webhook-without-url", "mailchimp-without-audience"],
)
def test_an_incomplete_subscription_is_refused_with_its_reason_in_french_too(body: dict[str, Any], code: str) -> None:
    app = create_app(NotifySettings())
    principal = Principal(token_id="t1", organisation_id="theatre", scopes=frozenset(Scope), name="marie")
    # Refused on its body alone, before the route or its store are reached.
    app.dependency_overrides[get_args(SubscriptionsAdmin)[1].dependency] = lambda: principal
    app.dependency_overrides[get_args(NotifyDep)[1].dependency] = lambda: None

    answer = TestClient(app).post("/v1/subscriptions", json=body)

    assert answer.status_code == 422
    [field] = answer.json()["detail"]["fields"]
    assert "valeur refusée" not in field["reason_fr"], "the French says only that something was refused"
    assert field["code"] == code
