"""Every service answers a request refused for its parameters in one shape, and its OpenAPI document says so."""

from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.settings import NotifySettings


def test_a_body_refused_before_anything_is_read_is_answered_as_the_openapi_document_describes() -> None:
    app = create_app(NotifySettings())
    spec = app.openapi()
    documented = spec["paths"]["/v1/subscriptions"]["post"]["responses"]["422"]["content"]["application/json"]
    refusal = spec["components"]["schemas"][documented["schema"]["$ref"].rsplit("/", 1)[-1]]

    # Not JSON: refused before any token or store is looked at.
    answer = TestClient(app).post(
        "/v1/subscriptions", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert refusal["properties"]["detail"]["type"] == "object"
    assert set(refusal["properties"]["detail"]["required"]) <= set(detail)
    assert detail["code"] == "invalid_request"
    assert detail["message"]["fr"].startswith("La demande est refusée")
    [field] = detail["fields"]
    assert set(spec["components"]["schemas"]["FieldError"]["required"]) <= set(field)
    assert field["code"] == "json_invalid"
    assert field["reason_fr"] == "n'est pas du JSON valide"
