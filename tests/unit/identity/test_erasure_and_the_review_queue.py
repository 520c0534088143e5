"""An erasure takes the erased person out of the review queue: a suggestion naming them, on either side, is
withdrawn, and no verdict on it can bring them back."""

import asyncio
import contextlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.merges import ReviewItem, ReviewStatus
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import IdentityDeps, erase_on_request, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from tests.integration.identity.conftest import ORGANISATION, SteppingClock, details_fact
from tests.unit.identity.http_harness import identity_app

LUC = {"email": "luc.roy@example.com", "first_name": "Luc", "last_name": "Roy", "postal_code": "H2J 2L1"}
# Likely Luc, not surely: a reviewer is asked.
L_ROY = {"first_name": "L", "last_name": "Roy", "postal_code": "H2J 2L1"}


class CrashError(Exception):
    """The process dies here."""


class CrashBeforeFilingReviewStore(InMemoryIdentityStore):
    """Dies once, just before filing a suggestion for review, when `armed`."""

    armed = False

    async def insert_review(self, item: ReviewItem) -> None:
        if self.armed:
            self.armed = False
            raise CrashError("before the review")
        await super().insert_review(item)


class StoreThatKeptReviewsThroughErasures(InMemoryIdentityStore):
    """Withdraws no suggestion until `withdraws`: as the erasures made before they were withdrawn with it."""

    withdraws = False

    async def withdraw_reviews_naming(self, organisation_id: str, person_id: str, **decided: Any) -> None:
        if self.withdraws:
            await super().withdraw_reviews_naming(organisation_id, person_id, **decided)


def _deps(store: InMemoryIdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


def _suggested_duplicate(store: InMemoryIdentityStore) -> ReviewItem:
    """Luc Roy known by his email, then an `L Roy` at his postal code: likely him, for a reviewer to say."""
    deps = _deps(store)
    asyncio.run(resolve_fact(details_fact("e1", **LUC), deps))
    asyncio.run(resolve_fact(details_fact("e2", **L_ROY), deps))
    [item] = asyncio.run(store.reviews(ORGANISATION, ReviewStatus.PENDING, 10))
    return item


def _named(item: ReviewItem, side: str) -> str:
    return item.person_id if side == "provisional" else item.candidate_id


def _pending(client: TestClient) -> list[dict[str, Any]]:
    answer = client.get("/v1/review", params={"status": "pending"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


SIDES = pytest.mark.parametrize("side", ["provisional", "candidate"])


@SIDES
def test_erasing_either_person_of_a_pending_suggestion_takes_it_off_the_pending_queue(side: str) -> None:
    store = InMemoryIdentityStore()
    item = _suggested_duplicate(store)
    client = TestClient(identity_app(store))
    assert [listed["review_id"] for listed in _pending(client)] == [item.review_id]

    erased = client.post(f"/v1/persons/{_named(item, side)}/erase", json={"do_not_readd": False})

    assert erased.status_code == 200, erased.text
    assert _pending(client) == []
    withdrawn = client.get("/v1/review", params={"status": "withdrawn"}).json()["items"]
    assert [(listed["review_id"], listed["decided_by"]) for listed in withdrawn] == [(item.review_id, "erasure")]


@SIDES
@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_verdict_on_a_suggestion_naming_a_person_erased_since_is_refused_and_brings_nobody_back(
    side: str, decision: str
) -> None:
    store = InMemoryIdentityStore()
    item = _suggested_duplicate(store)
    client = TestClient(identity_app(store))
    erased_id = _named(item, side)
    assert client.post(f"/v1/persons/{erased_id}/erase", json={}).status_code == 200

    answer = client.post(f"/v1/review/{item.review_id}", json={"decision": decision})

    assert answer.status_code == 409, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == "review_stale"
    assert detail["message"]["en"]
    assert detail["message"]["fr"]
    stored = asyncio.run(store.review(ORGANISATION, item.review_id))
    assert stored is not None
    assert (stored.status, stored.decided_by) == (ReviewStatus.WITHDRAWN, "erasure")
    erased = asyncio.run(store.person(ORGANISATION, erased_id))
    assert erased is not None
    assert (erased.status, erased.identifiers, erased.records) == (PersonStatus.ERASED, frozenset(), ())
    assert asyncio.run(store.merges_involving(ORGANISATION, erased_id)) == []


def test_an_erasure_asked_again_withdraws_a_suggestion_an_earlier_erasure_left_pending() -> None:
    store = StoreThatKeptReviewsThroughErasures()
    item = _suggested_duplicate(store)
    client = TestClient(identity_app(store))
    assert client.post(f"/v1/persons/{item.candidate_id}/erase", json={}).status_code == 200
    assert [listed["review_id"] for listed in _pending(client)] == [item.review_id]
    store.withdraws = True

    again = client.post(f"/v1/persons/{item.candidate_id}/erase", json={})

    assert again.status_code == 200, again.text
    assert _pending(client) == []


async def test_a_suggestion_filed_after_its_look_alike_was_erased_is_withdrawn_as_it_is_filed() -> None:
    store = CrashBeforeFilingReviewStore()
    deps = _deps(store)
    await resolve_fact(details_fact("e1", **LUC), deps)
    # `L Roy` is decided a likely Luc and made a provisional person; the process dies before filing the suggestion.
    late = details_fact("e2", **L_ROY)
    store.armed = True
    with contextlib.suppress(CrashError):
        await resolve_fact(late, deps)
    [luc] = [person.person_id async for person in store.active_persons(ORGANISATION) if person.identifiers]
    await erase_on_request(ORGANISATION, luc, deps, do_not_readd=False, requested_by="staff:marie")

    await resolve_fact(late, deps)

    assert await store.reviews(ORGANISATION, ReviewStatus.PENDING, 10) == []
    [withdrawn] = await store.reviews(ORGANISATION, ReviewStatus.WITHDRAWN, 10)
    assert withdrawn.candidate_id == luc
