"""The identity routes' OpenAPI document lists every status they answer and describes each 200 body property by
property, so a client can be generated from it."""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.entrypoints.http import router
from services.identity.handlers import IdentityDeps, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from tests.integration.identity.conftest import SteppingClock, details_fact
from tests.unit.identity.http_harness import identity_app

ROUTES = [
    ("get", "/v1/persons/{person_id}"),
    ("get", "/v1/persons/{person_id}/export"),
    ("get", "/v1/persons"),
    ("get", "/v1/review"),
    ("post", "/v1/review/{review_id}"),
    ("post", "/v1/persons/{person_id}/unmerge"),
    ("post", "/v1/persons/{person_id}/erase"),
]

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


@pytest.mark.parametrize(("method", "documented"), ROUTES)
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


def test_the_routes_listed_here_are_every_identity_route() -> None:
    documented = identity_app(InMemoryIdentityStore()).openapi()["paths"]

    routes = {(method, path) for path, operations in documented.items() for method in operations}
    assert {(method, path) for method, path in routes if path.startswith("/v1/")} == set(ROUTES)


def _resolved(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, dict[str, Any]] = spec["components"]["schemas"]
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _undescribed(schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    """Where under `schema` an object names no properties, or a property has no description."""
    schema = _resolved(schema, spec)
    found: list[str] = []
    for member in schema.get("anyOf", []):
        found += _undescribed(member, spec, where)
    if schema.get("type") == "array":
        found += _undescribed(schema["items"], spec, f"{where}[]")
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        if not properties and not isinstance(schema.get("additionalProperties"), dict):
            found.append(f"{where}: no properties named")
        for name, value in properties.items():
            if not value.get("description"):
                found.append(f"{where}.{name}: no description")
            found += _undescribed(value, spec, f"{where}.{name}")
        if isinstance(schema.get("additionalProperties"), dict):
            found += _undescribed(schema["additionalProperties"], spec, f"{where}.*")
    return found


def _answer_schema(spec: dict[str, Any], method: str, documented: str) -> dict[str, Any]:
    schema: dict[str, Any] = spec["paths"][documented][method]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    return schema


@pytest.mark.parametrize(("method", "documented"), ROUTES)
def test_every_identity_route_s_200_answer_names_and_describes_each_of_its_properties(
    method: str, documented: str
) -> None:
    spec = identity_app(InMemoryIdentityStore()).openapi()

    assert _undescribed(_answer_schema(spec, method, documented), spec, "body") == []


def _misfits(value: Any, schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[str]:
    """Where `value` does not hold to `schema`. Stricter than JSON Schema on one point: a property of an object whose
    schema does not say `additionalProperties` must be one it names, so nothing a body holds goes undocumented."""
    schema = _resolved(schema, spec)
    if "anyOf" in schema:
        each = [_misfits(value, member, spec, where) for member in schema["anyOf"]]
        return [] if any(not misfits for misfits in each) else [f"{where}: none of {schema['anyOf']}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    kinds: dict[str, Callable[[Any], bool]] = {
        "object": lambda found: isinstance(found, dict),
        "array": lambda found: isinstance(found, list),
        "string": lambda found: isinstance(found, str),
        "integer": lambda found: isinstance(found, int) and not isinstance(found, bool),
        "number": lambda found: isinstance(found, int | float) and not isinstance(found, bool),
        "boolean": lambda found: isinstance(found, bool),
        "null": lambda found: found is None,
    }
    kind = schema.get("type")
    if kind is None:
        return []
    if not kinds[kind](value):
        return [f"{where}: {value!r} is not of type {kind}"]
    found: list[str] = []
    if kind == "array":
        for index, item in enumerate(value):
            found += _misfits(item, schema["items"], spec, f"{where}[{index}]")
    if kind == "object":
        found += [f"{where}.{name}: missing" for name in schema.get("required", []) if name not in value]
        others = schema.get("additionalProperties", False)
        for name, item in value.items():
            if name in schema.get("properties", {}):
                found += _misfits(item, schema["properties"][name], spec, f"{where}.{name}")
            elif isinstance(others, dict):
                found += _misfits(item, others, spec, f"{where}.{name}")
            elif others is not True:
                found.append(f"{where}.{name}: not documented")
    return found


def _recording(built: list[tuple[str, str, Any]]) -> APIRouter:
    """The identity routes, each noting the body it built before its response model reads it."""

    def recorded(route: APIRoute) -> Callable[..., Awaitable[Any]]:
        assert route.methods is not None
        [method] = route.methods

        @functools.wraps(route.endpoint)
        async def endpoint(*args: Any, **kwargs: Any) -> Any:
            body = await route.endpoint(*args, **kwargs)
            built.append((method.lower(), route.path, jsonable_encoder(body)))
            return body

        return endpoint

    recording = APIRouter()
    for route in router.routes:
        assert isinstance(route, APIRoute)
        recording.add_api_route(
            route.path,
            recorded(route),
            methods=route.methods,
            response_model=route.response_model,
            status_code=route.status_code,
            responses=route.responses,
        )
    return recording


def test_every_identity_route_answers_the_whole_body_it_builds_as_its_openapi_document_describes_it() -> None:
    store = InMemoryIdentityStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    for event_id, person in [
        ("e1", {"email": "luc.roy@example.com", "first_name": "Luc", "last_name": "Roy", "postal_code": "H2J 2L1"}),
        # Likely Luc, not surely: a reviewer is asked.
        ("e2", {"first_name": "L", "last_name": "Roy", "postal_code": "H2J 2L1"}),
        # Marie shares Luc's email: a household.
        ("e3", {"email": "luc.roy@example.com", "first_name": "Marie", "external_id": "C-2"}),
        # Luc known to the shop by his phone, then by his email too: merged by rule.
        ("e4", {"source": "shopify-boutique", "external_id": "S-1", "phone": "514 555 0199", "first_name": "Luc"}),
        ("e5", {"source": "shopify-boutique", "external_id": "S-1", "email": "luc.roy@example.com"}),
    ]:
        asyncio.run(resolve_fact(details_fact(event_id, **person), deps))
    built: list[tuple[str, str, Any]] = []
    app = identity_app(store, routes=_recording(built))
    spec = app.openapi()
    client = TestClient(app)
    answered: list[tuple[str, str]] = []

    def ask(method: str, path: str, **options: Any) -> Any:
        answer = client.request(method.upper(), path, **options)
        assert answer.status_code == 200, (path, answer.text)
        method, documented, body = built.pop()
        assert answer.json() == body, path
        assert _misfits(answer.json(), _answer_schema(spec, method, documented), spec, "body") == [], path
        answered.append((method, documented))
        return answer.json()

    luc = ask("get", "/v1/persons", params={"email": "luc.roy@example.com"})["person_id"]
    ask("get", f"/v1/persons/{luc}")
    ask("get", f"/v1/persons/{luc}/export")
    assert ask("get", f"/v1/persons/{luc}/export")["earlier_exports"]
    [review] = ask("get", "/v1/review")["items"]
    ask("post", f"/v1/review/{review['review_id']}", json={"decision": "accept", "note": "Même personne."})
    ask("post", f"/v1/persons/{luc}/unmerge", json={})
    assert ask("get", f"/v1/persons/{luc}")["kept_apart_from"]
    ask("post", f"/v1/persons/{luc}/erase", json={"do_not_readd": True})
    assert ask("get", f"/v1/persons/{luc}")["status"] == "erased"

    assert set(answered) == set(ROUTES)


@pytest.mark.parametrize(("method", "documented"), ROUTES)
def test_every_query_parameter_of_an_identity_route_is_described(method: str, documented: str) -> None:
    operation = identity_app(InMemoryIdentityStore()).openapi()["paths"][documented][method]

    undescribed = [
        parameter["name"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and not parameter.get("description")
    ]
    assert undescribed == []
