"""The staff search box on the running service, real Kafka and the real store: patrons found by their names (without
accents, with a typo, in any order), their email, phone or an upstream id, each once, and no longer after an
erasure."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.tokens import Scope
from tests.integration.profile.support import ProfileHarness, context_of, running_profile
from tests.integration.waiting import eventually
from tests.unit.profile_handlers.scenarios import IdentityEvents

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

ITEM_FIELDS = {
    "person_id",
    "first_name",
    "last_name",
    "emails",
    "undeliverable_emails",
    "phones",
    "city",
    "lifecycle_stage",
    "last_event_at",
    "score",
    "matched_by",
}


def patron(first_name: str, last_name: str, **details: str) -> dict[str, str]:
    return {"first_name": first_name, "last_name": last_name, **details}


async def audience(harness: ProfileHarness, app: FastAPI) -> None:
    """Hélène Côté, who also bought at the door as `Helene Cote` (identity merged the two), Marc Tremblay, who
    bought at the shop, and two Gagnons."""
    identity, organisation = IdentityEvents(harness.organisation_id), harness.organisation_id
    await harness.publish(
        [
            identity.purchase(
                "sale-h", "per_helene", phone="514 555 0101", person=patron("Hélène", "Côté", external_id="C-1001")
            ),
            identity.purchase("sale-w", "per_walkup", person=patron("Helene", "Cote", external_id="C-1002")),
            identity.purchase(
                "sale-m",
                "per_marc",
                phone="+1 (514) 555-0202",
                person=patron("Marc", "Tremblay", source="shopify-boutique", external_id="7231459876543"),
            ),
            identity.purchase("sale-e", "per_elise", person=patron("Élise", "Gagnon", external_id="C-3001")),
            identity.purchase("sale-a", "per_anne", person=patron("Anne", "Gagnon", external_id="C-3002")),
        ]
    )
    store = context_of(app).deps.store

    async def applied() -> bool:
        found = await store.profiles_of(organisation, ["per_helene", "per_walkup", "per_marc", "per_elise", "per_anne"])
        return len(found) == 5

    assert await eventually(applied)
    await harness.publish([identity.merged("mrg_1", "per_helene", "per_walkup")])

    async def merged() -> bool:
        survivor = await store.profile(organisation, "per_helene")
        return survivor is not None and survivor.merge_in_force("mrg_1") is not None

    assert await eventually(merged)


@pytest.fixture
async def app(harness: ProfileHarness) -> AsyncIterator[FastAPI]:
    async with running_profile(harness) as running:
        await audience(harness, running)
        yield running


async def _client(app: FastAPI, organisation_id: str, *scopes: Scope) -> httpx.AsyncClient:
    token = await app.state.runtime.tokens.issue(organisation_id, set(scopes), "tests")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://profile",
        headers={"Authorization": f"Bearer {token.token}"},
    )


async def search(client: httpx.AsyncClient, text: str, **params: Any) -> dict[str, Any]:
    answer = await client.get("/v1/profiles/search", params={"q": text, **params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def found(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["person_id"], item["matched_by"]) for item in body["items"]]


async def test_staff_find_patrons_by_name_without_accents_in_any_order_with_a_typo_or_typed_halfway(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        plain = await search(client, "Helene Cote")
        crossed = await search(client, "côté hélène")
        typo = await search(client, "Tremblai")
        family = await search(client, "Gagnon")
        one = await search(client, "Gagnon", limit=1)
        halfway = await search(client, "Trem")
        first_letters = await search(client, "gag")

    assert found(plain) == [("per_helene", "name")], "the walk-up merged into her is found as her, once"
    [helene] = plain["items"]
    assert set(helene) == ITEM_FIELDS
    assert helene["first_name"] in ("Hélène", "Helene")
    assert "per_helene@example.com" in helene["emails"]
    assert "per_walkup@example.com" in helene["emails"]
    assert helene["phones"] == ["+15145550101"]
    assert helene["score"] == 1.0
    assert helene["last_event_at"] is not None
    assert plain["kind"] == "name"
    assert plain["truncated"] is False
    assert found(crossed) == [("per_helene", "name")]
    assert found(typo) == [("per_marc", "name")]
    assert 0.88 <= typo["items"][0]["score"] < 1.0
    assert found(family) == [("per_anne", "name"), ("per_elise", "name")]
    assert found(one) == [("per_anne", "name")]
    assert one["truncated"] is True
    assert found(halfway) == [("per_marc", "name")]
    assert found(first_letters) == [("per_anne", "name"), ("per_elise", "name")]


async def test_staff_find_a_patron_by_email_phone_or_an_upstream_id_typed_alone(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        by_email = await search(client, " PER_MARC@Example.com ")
        by_phone = await search(client, "514.555.0202")
        by_shop_id = await search(client, "7231459876543")
        by_merged_walkup_id = await search(client, "c-1002")
        nobody = await search(client, "nobody@example.com")

    assert (by_email["kind"], found(by_email)) == ("email", [("per_marc", "email")])
    assert (by_phone["kind"], found(by_phone)) == ("phone", [("per_marc", "phone")])
    assert found(by_shop_id) == [("per_marc", "upstream_id")]
    assert (by_merged_walkup_id["kind"], found(by_merged_walkup_id)) == ("upstream_id", [("per_helene", "upstream_id")])
    assert nobody == {"kind": "email", "items": [], "truncated": False}


async def test_a_text_too_short_or_bare_is_refused_in_both_languages_and_search_is_not_taken_for_a_person_id(
    harness: ProfileHarness, app: FastAPI
) -> None:
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        refused = [
            await client.get("/v1/profiles/search", params=params)
            for params in ({"q": "a"}, {"q": " - ; "}, {}, {"q": "x" * 201})
        ]
        too_many = await client.get("/v1/profiles/search", params={"q": "Gagnon", "limit": 101})
    async with await _client(app, harness.organisation_id, Scope.SEGMENTS_READ) as client:
        forbidden = await client.get("/v1/profiles/search", params={"q": "Gagnon"})

    for answer in refused:
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"]["code"] == "bad_search"
        assert set(answer.json()["detail"]["message"]) == {"en", "fr"}
        assert answer.json()["detail"]["fields"][0]["field"] == "query.q"
        assert answer.json()["detail"]["fields"][0]["reason_fr"]
    assert [answer.json()["detail"]["fields"][0]["code"] for answer in refused] == [
        "too_short",
        "no_letters_or_digits",
        "too_short",
        "too_long",
    ]
    assert too_many.status_code == 422
    assert forbidden.status_code == 403


async def test_an_erased_patron_is_found_no_more(harness: ProfileHarness, app: FastAPI) -> None:
    identity = IdentityEvents(harness.organisation_id)
    async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
        assert found(await search(client, "Marc Tremblay")) == [("per_marc", "name")]

        await harness.publish([identity.erasure("per_marc")])

        async def erased() -> bool:
            return await context_of(app).deps.store.profile(harness.organisation_id, "per_marc") is None

        assert await eventually(erased)
        answers = [
            await search(client, text) for text in ("Marc Tremblay", "tremblay", "per_marc@example.com", "514 555 0202")
        ]
        by_id = await search(client, "7231459876543")
        others = await search(client, "Gagnon")

    assert [found(answer) for answer in answers] == [[], [], [], []]
    assert found(by_id) == []
    assert found(others) == [("per_anne", "name"), ("per_elise", "name")]
