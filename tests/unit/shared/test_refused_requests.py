"""Every service answers a request refused for its parameters in one shape, and its OpenAPI document says so."""

import importlib
from http import HTTPStatus

import pytest
from fastapi.testclient import TestClient

from services.notify.bootstrap import create_app
from services.notify.settings import NotifySettings
from tests.unit.profile.http_harness import profile_app, profile_world


def test_a_body_refused_before_anything_is_read_is_answered_as_the_openapi_document_describes() -> None:
    app = profile_app(profile_world())
    spec = app.openapi()
    documented = spec["paths"]["/v1/persons/{person_id}/erase"]["post"]["responses"]["422"]["content"]
    refusal = spec["components"]["schemas"][documented["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]]

    # Not JSON, from a caller whose token is good (the harness's): refused before the store is looked at.
    answer = TestClient(app).post(
        "/v1/persons/p1/erase", content=b"{not json", headers={"content-type": "application/json"}
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


def test_a_body_that_is_no_utf_8_text_is_refused_in_both_languages() -> None:
    answer = TestClient(profile_app(profile_world())).post(
        "/v1/persons/p1/erase", content=b'{"reason": "\xe9t\xe9"}', headers={"content-type": "application/json"}
    )

    assert answer.status_code == 400
    detail = answer.json()["detail"]
    assert detail["code"] == "unreadable_body"
    assert detail["message"] == {
        "en": "The request's body cannot be read: it is not in the format its content type names, or not UTF-8 text.",
        "fr": "Le corps de la demande est illisible : il n'est pas dans le format que nomme son type de contenu, "
        "ou pas en texte UTF-8.",
    }


@pytest.mark.parametrize("body", [b"{not json", b'{"reason": "\xe9t\xe9"}'], ids=["not JSON", "not UTF-8"])
@pytest.mark.parametrize("authorization", [None, "Basic bWFyaWU6c2VjcmV0"], ids=["no token", "no bearer token"])
def test_a_body_that_cannot_be_read_is_refused_for_its_missing_token_first(
    body: bytes, authorization: str | None
) -> None:
    # Told 422 or 400 first, a caller without a token would learn what a route accepts.
    app = create_app(NotifySettings())
    headers = {"content-type": "application/json"} | ({"authorization": authorization} if authorization else {})

    answer = TestClient(app).post("/v1/subscriptions", content=body, headers=headers)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["detail"]["code"] == "unauthenticated"


@pytest.mark.parametrize("service", ["ingest", "identity", "profile", "notify", "console"])
def test_every_refusal_a_route_lists_documents_the_body_every_refusal_has(service: str) -> None:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    spec = bootstrap.create_app().openapi()
    schemas = spec["components"]["schemas"]

    refusals = [
        (path, status, response)
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        for status, response in operation["responses"].items()
        if int(status) >= 400
    ]

    assert refusals
    for path, status, response in refusals:
        reference = response["content"]["application/json"]["schema"]["$ref"]
        body = schemas[reference.rsplit("/", 1)[-1]]
        # The error body, unless the route answers a body of its own (`POST /v1/events`: the result of each event).
        if "detail" in body["properties"]:
            assert {"code", "message"} <= set(body["properties"]["detail"]["required"]), (path, status)
        else:
            assert body["title"] != "ErrorBody", (path, status)
            assert body["required"], (path, status)
        assert response["description"] not in ("Additional Response", HTTPStatus(int(status)).phrase), (path, status)


def test_a_refusal_of_a_route_matches_the_body_its_document_lists() -> None:
    app = profile_app(profile_world())
    spec = app.openapi()
    listed = spec["paths"]["/v1/profiles/{person_id}"]["get"]["responses"]["404"]["content"]["application/json"]
    body = spec["components"]["schemas"][listed["schema"]["$ref"].rsplit("/", 1)[-1]]

    answer = TestClient(app).get("/v1/profiles/nobody")

    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert set(body["properties"]["detail"]["required"]) <= set(detail)
    assert set(detail["message"]) == {"en", "fr"}
    assert set(detail) <= set(body["properties"]["detail"]["properties"])


def test_the_documented_422_admits_the_codes_routes_refuse_with_themselves() -> None:
    # Notify answers `target_refused`, profile `bad_lookup`, the webhooks `invalid_payload`, in the same shape.
    refusal = create_app(NotifySettings()).openapi()["components"]["schemas"]["HTTPValidationError"]
    detail = refusal["properties"]["detail"]

    assert set(detail["required"]) == {"code", "message"}
    assert "const" not in detail["properties"]["code"]
