"""The identity routes' OpenAPI document lists every status they answer, so a client can be generated from it."""

import pytest
from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from tests.unit.identity.http_harness import identity_app

# (method, path as documented, path requested, body): each answered here with the status the route refuses it by.
REFUSALS = [
    ("get", "/v1/persons/{person_id}", "/v1/persons/nobody", None, 404),
    ("get", "/v1/persons/{person_id}/export", "/v1/persons/nobody/export", None, 404),
    ("get", "/v1/persons", "/v1/persons?external_id=x", None, 422),
    ("get", "/v1/persons", "/v1/persons?email=nobody@example.com", None, 404),
    ("post", "/v1/review/{review_id}", "/v1/review/nothing", {"decision": "accept"}, 404),
    ("post", "/v1/persons/{person_id}/unmerge", "/v1/persons/nobody/unmerge", None, 404),
    ("post", "/v1/persons/{person_id}/erase", "/v1/persons/nobody/erase", None, 404),
]


@pytest.mark.parametrize(("method", "documented", "requested", "body", "expected"), REFUSALS)
def test_each_refusal_a_route_answers_is_a_status_its_openapi_document_lists(
    method: str, documented: str, requested: str, body: object, expected: int
) -> None:
    app = identity_app(InMemoryIdentityStore())

    answer = TestClient(app).request(method.upper(), requested, json=body)

    assert answer.status_code == expected
    assert set(answer.json()["detail"]) >= {"code", "message"}
    assert str(expected) in app.openapi()["paths"][documented][method]["responses"]


@pytest.mark.parametrize(
    ("method", "documented"),
    [
        ("get", "/v1/persons/{person_id}"),
        ("get", "/v1/persons/{person_id}/export"),
        ("get", "/v1/persons"),
        ("get", "/v1/review"),
        ("post", "/v1/review/{review_id}"),
        ("post", "/v1/persons/{person_id}/unmerge"),
        ("post", "/v1/persons/{person_id}/erase"),
    ],
)
def test_every_identity_route_documents_that_it_needs_a_token_with_its_scope(method: str, documented: str) -> None:
    responses = identity_app(InMemoryIdentityStore()).openapi()["paths"][documented][method]["responses"]

    assert {"401", "403"} <= set(responses)


@pytest.mark.parametrize(
    ("method", "requested", "status"),
    [
        # An id with a slash in it (`%2F`) is decoded before routing: no route has that many segments.
        ("GET", "/v1/persons/a%2Fb", 404),
        ("POST", "/v1/review/a%2Fb", 404),
        ("POST", "/v1/persons/per_1", 405),
        ("GET", "/v1/persons/per_1/erase", 405),
    ],
)
def test_a_path_or_method_no_route_takes_is_refused_in_the_bilingual_shape(
    method: str, requested: str, status: int
) -> None:
    answer = TestClient(identity_app(InMemoryIdentityStore())).request(method, requested, json={"decision": "accept"})

    assert answer.status_code == status
    detail = answer.json()["detail"]
    assert isinstance(detail, dict)
    assert detail["code"]
    assert detail["message"]["en"]
    assert detail["message"]["fr"]
