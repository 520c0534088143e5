"""What staff read when a subscription is refused: the reason, in French as in English."""

from types import SimpleNamespace
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.context import NotifyDep
from services.notify.settings import NotifySettings
from shared.access import SubscriptionsAdmin
from shared.tokens import Principal, Scope


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


@pytest.mark.parametrize(
    ("url", "french"),
    [
        ("http://crm.example/hook", "le schéma doit être https"),
        ("https://user:pass@crm.example/hook", "les identifiants n'ont pas leur place dans l'URL"),
        ("https://10.0.0.5/hook", "10.0.0.5 est une adresse privée"),
        ("https://2130706433/hook", "'2130706433' n'est ni un nom d'hôte ni une adresse IPv4"),
    ],
    ids=["plain-http", "credentials", "private-address", "numeric-host"],
)
def test_a_refused_target_gives_its_reason_in_french_in_the_french_message(url: str, french: str) -> None:
    app = create_app(NotifySettings())
    principal = Principal(token_id="t1", organisation_id="theatre", scopes=frozenset(Scope), name="marie")
    # Refused on its URL alone, before the store is reached.
    app.dependency_overrides[get_args(SubscriptionsAdmin)[1].dependency] = lambda: principal
    app.dependency_overrides[get_args(NotifyDep)[1].dependency] = lambda: SimpleNamespace(settings=NotifySettings())

    answer = TestClient(app).post("/v1/subscriptions", json={"url": url, "events": {"triggers": ["*"]}})

    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert detail["code"] == "target_refused"
    assert detail["message"]["fr"].startswith(f"Cette URL de destination est refusée : {french}")
    english_reason = detail["message"]["en"].removeprefix("This target URL is refused: ").rstrip(".")
    assert english_reason not in detail["message"]["fr"]
