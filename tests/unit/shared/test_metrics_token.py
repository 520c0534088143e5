"""The metrics name the organisations a service serves: with a metrics token set, only a scraper bearing it reads
them."""

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings

TOKEN = "mt_0123456789abcdef0123"


def _client(**settings: object) -> TestClient:
    # No lifespan: /metrics needs neither Kafka nor the store.
    return TestClient(create_service_app(ServiceSettings(**settings), ServiceParts(title="t", description="d")))  # type: ignore[arg-type]


def test_with_a_metrics_token_only_a_request_bearing_it_reads_the_metrics() -> None:
    client = _client(metrics_token=TOKEN)

    anonymous = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer mt_not_the_one_at_all"})
    bearing = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    # As the API reads a token: the scheme in any case, spaces around the credentials.
    spaced = client.get("/metrics", headers={"Authorization": f"bearer  {TOKEN} "})
    scheme_alone = client.get("/metrics", headers={"Authorization": TOKEN})

    assert (anonymous.status_code, wrong.status_code, bearing.status_code) == (401, 401, 200)
    assert (spaced.status_code, scheme_alone.status_code) == (200, 401)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["code"] == "metrics_token_required"
    assert set(anonymous.json()["message"]) == {"en", "fr"}
    assert "parterre_http_requests" in bearing.text
    assert "parterre_http_requests" not in anonymous.text


def test_without_a_metrics_token_the_metrics_answer_whoever_reaches_the_port() -> None:
    assert _client().get("/metrics").status_code == 200


def test_a_metrics_token_too_short_to_be_a_secret_is_refused_and_never_shown() -> None:
    with pytest.raises(ValidationError) as refused:
        ServiceSettings(metrics_token="mt_tiny")

    assert "metrics_token" in str(refused.value)
    assert "mt_tiny" not in str(refused.value)
