"""The profile API on the running service: look-ups, segments and their members, export and erasure requests."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from shared.events import parse_event
from shared.tokens import Scope
from shared.topics import AUDIENCE_FACTS
from tests.integration.kafka_support import TopicTail
from tests.integration.profile.support import ProfileHarness, context_of, running_profile
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def _client(app: FastAPI, organisation_id: str, *scopes: Scope) -> httpx.AsyncClient:
    token = await app.state.runtime.tokens.issue(organisation_id, set(scopes), "tests")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://profile",
        headers={"Authorization": f"Bearer {token.token}"},
    )


async def _two_patrons(harness: ProfileHarness, app: FastAPI) -> None:
    """Élise (per_elise) and, buying under the same box-office customer and email, her son (per_leo)."""
    bought_at = datetime.now(UTC) - timedelta(days=3)
    await harness.publish(
        [
            harness.resolved_purchase("sale-1", "per_elise", bought_at=bought_at),
            harness.resolved_purchase("sale-2", "per_leo", bought_at=bought_at + timedelta(hours=1)),
            harness.resolved_purchase("sale-3", "per_elise", bought_at=bought_at + timedelta(hours=2)),
        ]
    )
    store = context_of(app).deps.store

    async def applied() -> bool:
        elise = await store.profile(harness.organisation_id, "per_elise")
        leo = await store.profile(harness.organisation_id, "per_leo")
        return elise is not None and elise.applied == 2 and leo is not None

    assert await eventually(applied)


@pytest.fixture
async def app(harness: ProfileHarness) -> AsyncIterator[FastAPI]:
    async with running_profile(harness) as running:
        await _two_patrons(harness, running)
        yield running


async def test_a_profile_is_found_by_email_phone_or_upstream_id_and_a_bad_question_gets_422(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        by_email = await client.get("/v1/profiles", params={"email": "  Elise.Gagnon@EXAMPLE.com "})
        by_upstream = await client.get(
            "/v1/profiles", params={"external_id": "C-004521", "source": "billetterie-principale"}
        )
        nobody = await client.get("/v1/profiles", params={"email": "nobody@example.com"})
        nothing_asked = await client.get("/v1/profiles")
        two_asked = await client.get("/v1/profiles", params={"email": "a@example.com", "phone": "5145550199"})
        no_source = await client.get("/v1/profiles", params={"external_id": "C-004521"})
    assert by_email.status_code == 200, by_email.text
    assert [item["person_id"] for item in by_email.json()["items"]] == ["per_elise", "per_leo"]
    assert by_email.json()["items"][0]["fields"]["tickets_bought"] == 4
    assert [item["person_id"] for item in by_upstream.json()["items"]] == ["per_elise", "per_leo"]
    assert nobody.json() == {"items": []}
    for refused in (nothing_asked, two_asked, no_source):
        assert refused.status_code == 422
        assert set(refused.json()["detail"]["message"]) == {"en", "fr"}


async def test_an_address_typed_with_a_tag_finds_the_patrons_identity_links_it_to_its_dots_are_kept(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        tagged = await client.get("/v1/profiles", params={"email": "Elise.Gagnon+billets@example.com"})
        undotted = await client.get("/v1/profiles", params={"email": "elisegagnon@example.com"})
    assert tagged.status_code == 200, tagged.text
    assert [item["person_id"] for item in tagged.json()["items"]] == ["per_elise", "per_leo"]
    assert undotted.json() == {"items": []}


async def test_segments_list_their_sizes_and_members_page_by_person_id_or_as_csv(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.SEGMENTS_READ) as client:
        listing = await client.get("/v1/segments")
        first = await client.get("/v1/segments/francophones/members", params={"limit": 1})
        second = await client.get(
            "/v1/segments/francophones/members", params={"limit": 1, "cursor": first.json()["next_cursor"]}
        )
        as_csv = await client.get("/v1/segments/francophones/members", params={"format": "csv"})
        unknown = await client.get("/v1/segments/no-such-segment/members")
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        forbidden = await client.get("/v1/segments")
    sizes = {item["name"]: item["members"] for item in listing.json()["items"]}
    assert sizes["francophones"] == 2
    assert sizes["donors"] == 0
    assert [item["person_id"] for item in first.json()["items"]] == ["per_elise"]
    assert [item["person_id"] for item in second.json()["items"]] == ["per_leo"]
    assert first.json()["items"][0]["email"] == "elise.gagnon@example.com"
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert [(row["person_id"], row["preferred_language"]) for row in rows] == [("per_elise", "fr"), ("per_leo", "fr")]
    assert unknown.status_code == 404
    assert forbidden.status_code == 403


async def test_any_reader_of_profiles_reads_what_segments_and_triggers_are_called_in_both_languages(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        definitions = await client.get("/v1/definitions")
    assert definitions.status_code == 200, definitions.text
    segments = {item["name"]: item for item in definitions.json()["segments"]}
    assert segments["francophones"]["title"] == {"fr": "Francophones", "en": "French speakers"}
    triggers = {item["name"]: item for item in definitions.json()["triggers"]}
    assert triggers["welcome-first-purchase"] == {
        "name": "welcome-first-purchase",
        "title": {"fr": triggers["welcome-first-purchase"]["title"]["fr"], "en": "Welcome after a first purchase"},
        "period": "once",
    }
    assert triggers["welcome-first-purchase"]["title"]["fr"] != "Welcome after a first purchase"


async def test_an_export_holds_every_fact_and_is_logged(harness: ProfileHarness, app: FastAPI) -> None:
    async with await _client(app, harness.organisation_id, Scope.PRIVACY_EXPORT, Scope.PRIVACY_ERASE) as client:
        exported = await client.get("/v1/persons/per_elise/export")
        as_csv = await client.get("/v1/persons/per_elise/export", params={"format": "csv"})
        missing = await client.get("/v1/persons/per_nobody/export")
        log = await client.get("/v1/persons/per_elise/erasure")
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert sorted(fact["event"]["id"] for fact in body["facts"]) == ["sale-1", "sale-3"]
    assert body["profile"]["fields"]["tickets_bought"] == 4
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["part", "name", "value"]
    assert sum(1 for row in rows if row[0] == "fact") == 2
    assert missing.status_code == 404
    assert [entry["action"] for entry in log.json()["entries"]] == ["exported", "exported"]
    assert log.json()["erased"] is False


async def test_an_erasure_request_goes_to_identity_by_parterre_id_and_is_logged(
    harness: ProfileHarness, app: FastAPI
) -> None:
    facts = await TopicTail(harness.settings.kafka_bootstrap, AUDIENCE_FACTS.name, harness.organisation_id).start()
    try:
        async with await _client(app, harness.organisation_id, Scope.PRIVACY_ERASE) as client:
            accepted = await client.post("/v1/persons/per_leo/erase", json={"reason": "Demande par courriel"})
            missing = await client.post("/v1/persons/per_nobody/erase")
            log = await client.get("/v1/persons/per_leo/erasure")
        async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
            forbidden = await client.post("/v1/persons/per_elise/erase")
        [record] = await facts.read(1)
    finally:
        await facts.stop()
    envelope, request = parse_event(record.value)
    assert accepted.status_code == 202, accepted.text
    assert envelope.id == accepted.json()["request_id"]
    assert envelope.type == "parterre.privacy.erasure_requested.v1"
    assert request.model_dump()["person"] == {"source": "parterre-identity", "external_id": "per_leo"} | {
        key: None for key in request.model_dump()["person"] if key not in ("source", "external_id")
    }
    assert missing.status_code == 404
    assert forbidden.status_code == 403
    assert [entry["action"] for entry in log.json()["entries"]] == ["erasure_requested"]
    assert log.json()["entries"][0]["details"]["reason"] == "Demande par courriel"


async def test_a_request_refused_for_its_parameters_says_which_and_why_in_english_and_french(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.SEGMENTS_READ, Scope.PRIVACY_EXPORT) as client:
        members = await client.get("/v1/segments/lapsed-buyers/members", params={"limit": 0})
        export = await client.get("/v1/persons/per_elise/export", params={"format": "xlsx"})
    for answer, field in ((members, "query.limit"), (export, "query.format")):
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert detail["code"] == "invalid_request"
        assert detail["message"]["fr"]
        [refused] = detail["fields"]
        assert refused["field"] == field
        assert refused["reason_fr"]
        assert "valeur refusée" not in refused["reason_fr"]
