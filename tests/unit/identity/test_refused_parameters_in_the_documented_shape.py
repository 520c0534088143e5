"""Parameters the identity routes refuse (a lookup naming no usable identifier, or a source without the upstream id
it qualifies; a cursor naming no review) are answered as every refused parameter of every Parterre API is (README):
`422`, `invalid_request`, and `fields` naming each parameter with its reason in English and French."""

import pytest
from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from tests.unit.identity.http_harness import identity_app

# (path as documented, path requested, the parameters `fields` names, the reason's code)
REFUSED = [
    ("/v1/review", "/v1/review?cursor=rev_nobody", ["query.cursor"], "unknown_cursor"),
    ("/v1/persons", "/v1/persons?external_id=C-1", ["query.source"], "lookup_needs_one_identifier"),
    (
        "/v1/persons",
        "/v1/persons?email=anne@videotron.ca&phone=5145550199",
        ["query.email", "query.phone"],
        "lookup_needs_one_identifier",
    ),
    (
        "/v1/persons",
        "/v1/persons",
        ["query.email", "query.phone", "query.external_id"],
        "lookup_needs_one_identifier",
    ),
    (
        "/v1/persons",
        "/v1/persons?email=anne@videotron.ca&source=shopify",
        ["query.source"],
        "source_without_external_id",
    ),
    ("/v1/persons", "/v1/persons?phone=5145550199&source=shopify", ["query.source"], "source_without_external_id"),
    ("/v1/persons", "/v1/persons?email=anne%20marie@videotron.ca", ["query.email"], "identifier_invalid"),
    ("/v1/persons", "/v1/persons?phone=12", ["query.phone"], "identifier_invalid"),
    # A value made only of spaces is given, and finds no one: refused naming it, whichever parameter it is.
    ("/v1/persons", "/v1/persons?email=%20", ["query.email"], "identifier_invalid"),
    ("/v1/persons", "/v1/persons?phone=%20%20", ["query.phone"], "identifier_invalid"),
    (
        "/v1/persons",
        "/v1/persons?external_id=%20&source=%20",
        ["query.external_id", "query.source"],
        "identifier_invalid",
    ),
    ("/v1/persons", "/v1/persons?external_id=C-1&source=%20", ["query.source"], "identifier_invalid"),
    ("/v1/persons", "/v1/persons?external_id=%20&source=shopify", ["query.external_id"], "identifier_invalid"),
]


@pytest.mark.parametrize(("documented", "requested", "named", "reason"), REFUSED)
def test_a_refused_parameter_is_answered_422_naming_it_in_both_languages_as_documented(
    documented: str, requested: str, named: list[str], reason: str
) -> None:
    app = identity_app(InMemoryIdentityStore())

    answer = TestClient(app).get(requested)

    assert answer.status_code == 422, answer.text
    assert "422" in app.openapi()["paths"][documented]["get"]["responses"]
    detail = answer.json()["detail"]
    assert detail["code"] == "invalid_request"
    assert detail["message"]["en"]
    assert detail["message"]["fr"]
    assert [field["field"] for field in detail["fields"]] == named
    for field in detail["fields"]:
        assert field["code"] == reason
        assert field["reason"]
        assert field["reason_fr"]
