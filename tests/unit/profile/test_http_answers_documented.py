"""The profile routes' OpenAPI document lists every status they answer, so a client can be generated from it."""

import pytest
from fastapi.testclient import TestClient

from services.profile.bootstrap import create_app
from tests.unit.profile.http_harness import profile_app, profile_world

# (method, path as documented, path requested): each answered here with the status the route refuses it by.
REFUSALS = [
    ("get", "/v1/profiles/{person_id}", "/v1/profiles/nobody", 404),
    ("get", "/v1/profiles", "/v1/profiles", 422),
    ("get", "/v1/profiles/{person_id}/timeline", "/v1/profiles/nobody/timeline", 404),
    ("get", "/v1/profiles/{person_id}/timeline", "/v1/profiles/nobody/timeline?cursor=page-2", 422),
    ("get", "/v1/segments/{name}/members", "/v1/segments/nothing/members", 404),
    ("get", "/v1/persons/{person_id}/export", "/v1/persons/nobody/export", 404),
    ("post", "/v1/persons/{person_id}/erase", "/v1/persons/nobody/erase", 404),
    ("get", "/v1/overview", "/v1/overview?refresh=maybe", 422),
]

SCOPED_ROUTES = [
    ("get", "/v1/profiles/search"),
    ("get", "/v1/profiles/{person_id}"),
    ("get", "/v1/profiles"),
    ("get", "/v1/profiles/{person_id}/timeline"),
    ("get", "/v1/segments"),
    ("get", "/v1/definitions"),
    ("get", "/v1/segments/{name}/members"),
    ("get", "/v1/persons/{person_id}/export"),
    ("post", "/v1/persons/{person_id}/erase"),
    ("get", "/v1/persons/{person_id}/erasure"),
    ("get", "/v1/overview"),
]


@pytest.mark.parametrize(("method", "documented", "requested", "expected"), REFUSALS)
def test_each_refusal_a_profile_route_answers_is_a_status_its_openapi_document_lists(
    method: str, documented: str, requested: str, expected: int
) -> None:
    app = profile_app(profile_world())

    answer = TestClient(app).request(method.upper(), requested)

    assert answer.status_code == expected
    assert set(answer.json()["detail"]) >= {"code", "message"}
    assert str(expected) in app.openapi()["paths"][documented][method]["responses"]


@pytest.mark.parametrize(("method", "documented"), SCOPED_ROUTES)
def test_every_profile_route_documents_that_it_needs_a_token_with_its_scope(method: str, documented: str) -> None:
    # The app as the service runs it, every router included: the harness's app is for answers, not the document.
    operation = create_app().openapi()["paths"][documented][method]

    assert operation.get("security"), "the route reads no token"
    assert {"401", "403"} <= set(operation["responses"])


@pytest.mark.parametrize("documented", ["/v1/segments/{name}/members", "/v1/persons/{person_id}/export"])
def test_a_route_that_answers_csv_documents_it_beside_json(documented: str) -> None:
    answers = profile_app(profile_world()).openapi()["paths"][documented]["get"]["responses"]["200"]["content"]

    assert {"application/json", "text/csv"} <= set(answers)
