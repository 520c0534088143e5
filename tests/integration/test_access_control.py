"""Every HTTP API shares one access control: 401 without a live token, 403 without the scope."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from pymongo import AsyncMongoClient

from shared.access import ProfilesReader
from shared.service import ServiceParts, create_service_app
from shared.settings import ServiceSettings
from shared.tokens import Scope, TokenStore
from tests.conftest import Servers

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

KNOWN_PERSONS = {("theatre-du-nord", "p-1")}


def probe_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/persons/{person_id}")
    async def read_person(person_id: str, principal: ProfilesReader) -> dict[str, str]:
        if (principal.organisation_id, person_id) not in KNOWN_PERSONS:
            raise HTTPException(404)
        return {"person_id": person_id, "organisation_id": principal.organisation_id}

    return router


@pytest.fixture
async def app(settings: ServiceSettings) -> AsyncIterator[FastAPI]:
    app = create_service_app(settings, ServiceParts(title="probe", description="probe", routers=[probe_router()]))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def tokens(app: FastAPI) -> TokenStore:
    store: TokenStore = app.state.runtime.tokens
    return store


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_a_request_without_a_token_gets_401_whether_or_not_the_person_exists(
    client: httpx.AsyncClient,
) -> None:
    existing = await client.get("/v1/persons/p-1")
    missing = await client.get("/v1/persons/nobody")

    assert existing.status_code == missing.status_code == 401
    assert existing.json() == missing.json()
    assert existing.headers["WWW-Authenticate"] == "Bearer"
    assert set(existing.json()["detail"]["message"]) == {"en", "fr"}


async def test_a_token_without_the_scope_gets_403_whether_or_not_the_person_exists(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    issued = await tokens(app).issue("theatre-du-nord", {Scope.EVENTS_WRITE}, "box office")

    existing = await client.get("/v1/persons/p-1", headers=bearer(issued.token))
    missing = await client.get("/v1/persons/nobody", headers=bearer(issued.token))

    assert existing.status_code == missing.status_code == 403
    assert existing.json() == missing.json()


async def test_a_token_with_the_scope_reads_only_its_own_organisation(app: FastAPI, client: httpx.AsyncClient) -> None:
    theatre = await tokens(app).issue("theatre-du-nord", {Scope.PROFILES_READ}, "marketing")
    festival = await tokens(app).issue("festival-sud", {Scope.PROFILES_READ}, "marketing")

    own = await client.get("/v1/persons/p-1", headers=bearer(theatre.token))
    other = await client.get("/v1/persons/p-1", headers=bearer(festival.token))

    assert own.status_code == 200
    assert own.json() == {"person_id": "p-1", "organisation_id": "theatre-du-nord"}
    assert other.status_code == 404


async def test_a_revoked_or_forged_token_gets_401(app: FastAPI, client: httpx.AsyncClient) -> None:
    issued = await tokens(app).issue("theatre-du-nord", {Scope.PROFILES_READ}, "temp")
    forged = issued.token[:-4] + ("aaaa" if not issued.token.endswith("aaaa") else "bbbb")

    assert (await client.get("/v1/persons/p-1", headers=bearer(forged))).status_code == 401
    assert await tokens(app).revoke(issued.token_id)
    assert (await client.get("/v1/persons/p-1", headers=bearer(issued.token))).status_code == 401


async def test_tokens_are_stored_hashed(app: FastAPI) -> None:
    issued = await tokens(app).issue("theatre-du-nord", {Scope.PROFILES_READ}, "audit")
    stored = await app.state.runtime.database["access_tokens"].find_one({"_id": issued.token_id})

    assert stored is not None
    assert issued.token not in str(stored)


async def test_health_readiness_and_metrics_answer(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["checks"] == {"kafka": "ok", "store": "ok"}
    issued = await tokens(app).issue("theatre-du-nord", {Scope.PROFILES_READ}, "metrics")
    await client.get("/v1/persons/p-1")
    await client.get("/v1/persons/p-1", headers=bearer(issued.token))
    exposed = (await client.get("/metrics")).text
    registry = app.state.runtime.registry
    route = {"method": "GET", "route": "/v1/persons/{person_id}"}

    assert "parterre_http_requests_total" in exposed
    assert (
        registry.get_sample_value("parterre_http_requests_total", {**route, "status": "401", "organisation": "none"})
        == 1
    )
    assert (
        registry.get_sample_value(
            "parterre_http_requests_total", {**route, "status": "200", "organisation": "theatre-du-nord"}
        )
        == 1
    )


async def test_readiness_reports_an_unreachable_store_with_503(servers: Servers) -> None:
    unreachable = ServiceSettings(
        kafka_bootstrap=servers.kafka_bootstrap,
        mongo_url="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300",
        readiness_timeout_seconds=1,
    )
    app = create_service_app(unreachable, ServiceParts(title="probe", description="probe"))
    app.state.runtime.mongo = AsyncMongoClient(unreachable.mongo_url)
    await app.state.runtime.broker.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            ready = await client.get("/readyz")
    finally:
        await app.state.runtime.broker.stop()
        await app.state.runtime.mongo.close()

    assert ready.status_code == 503
    assert ready.json()["checks"]["kafka"] == "ok"
    assert ready.json()["checks"]["store"].startswith("unreachable")
