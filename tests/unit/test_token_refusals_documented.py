"""Every route of every service that takes an access token documents the 401 and 403 it answers without a valid one
with its scope, read from the app as each service's `create_app` builds it: a router added later is read too."""

from collections.abc import Callable

import pytest
from fastapi import FastAPI

from services.console.bootstrap import create_app as console_app
from services.identity.bootstrap import create_app as identity_app
from services.ingest.bootstrap import create_app as ingest_app
from services.notify.bootstrap import create_app as notify_app
from services.profile.bootstrap import create_app as profile_app

SERVICES: dict[str, Callable[[], FastAPI]] = {
    "console": console_app,
    "identity": identity_app,
    "ingest": ingest_app,
    "notify": notify_app,
    "profile": profile_app,
}


def _operations_taking_a_token() -> list[tuple[str, str, str, dict[str, object]]]:
    # An operation lists `security` when one of its dependencies reads the bearer token: `shared.access`'s scopes do.
    return [
        (service, method, path, operation)
        for service, build in SERVICES.items()
        for path, operations in build().openapi()["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    ]


OPERATIONS_TAKING_A_TOKEN = _operations_taking_a_token()


@pytest.mark.parametrize(
    ("service", "method", "documented", "operation"),
    OPERATIONS_TAKING_A_TOKEN,
    ids=[f"{service} {method.upper()} {path}" for service, method, path, _ in OPERATIONS_TAKING_A_TOKEN],
)
def test_every_route_that_takes_a_token_documents_that_it_refuses_a_missing_one_and_one_without_its_scope(
    service: str, method: str, documented: str, operation: dict[str, object]
) -> None:
    responses = operation["responses"]

    assert isinstance(responses, dict)
    assert {"401", "403"} <= set(responses)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_each_service_has_routes_the_document_marks_as_taking_a_token(service: str) -> None:
    # Were the `security` mark lost, the test above would pass on no route at all.
    assert any(taken_by == service for taken_by, *_ in OPERATIONS_TAKING_A_TOKEN)
