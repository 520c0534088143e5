"""A person erased without `do_not_readd` has no identifiers left to hash: asking afterwards that they not be added
again cannot be done, and every way of erasing says so instead of answering as if it were."""

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.identity.adapters.documents import person_document, person_from
from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.handlers import IdentityActionError, IdentityDeps, erase_on_request, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import PersonRef, build_envelope, parse_data
from shared.events.audience import PARTERRE_PERSON_SOURCE, PersonErasureRequestedV1
from shared.events.identity import PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, START, SteppingClock, details_fact
from tests.unit.identity.http_harness import identity_app

JEAN = {"external_id": "C-1", "email": "jean.roy@videotron.ca", "first_name": "Jean", "last_name": "Roy"}


def _deps(store: InMemoryIdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


async def _resolve(deps: IdentityDeps, event_id: str, **person: Any) -> str:
    data = parse_data((await resolve_fact(details_fact(event_id, **person), deps)).outputs[-1])
    assert isinstance(data, PersonResolvedV1)
    return data.person_id


def test_asking_not_to_be_added_again_after_a_plain_erasure_is_refused_as_nothing_can_be_kept_out() -> None:
    store = InMemoryIdentityStore()
    jean = asyncio.run(_resolve(_deps(store), "e1", **JEAN))
    app = identity_app(store)
    client = TestClient(app)
    assert client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": False}).status_code == 200

    answer = client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": True})

    assert answer.status_code == 409, answer.text
    assert "409" in app.openapi()["paths"]["/v1/persons/{person_id}/erase"]["post"]["responses"]
    detail = answer.json()["detail"]
    assert detail["code"] == "nothing_to_suppress"
    assert "do_not_readd" in detail["message"]["en"]
    assert detail["message"]["fr"]
    # The answer is true: nothing keeps him out, his next fact makes a new person.
    again = asyncio.run(_resolve(_deps(store), "e2", **JEAN))
    assert again != jean


@pytest.mark.parametrize("first", [True, False], ids=["not to be added again", "may be added again"])
def test_an_erasure_asked_again_as_it_was_first_asked_is_answered_as_the_first_time(first: bool) -> None:
    store = InMemoryIdentityStore()
    jean = asyncio.run(_resolve(_deps(store), "e1", **JEAN))
    client = TestClient(identity_app(store))
    answered = client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": first})

    again = client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": first})

    assert answered.status_code == again.status_code == 200, again.text
    assert again.json() == answered.json()


def test_a_plain_erasure_asked_after_one_not_to_be_added_again_is_answered_as_done() -> None:
    store = InMemoryIdentityStore()
    jean = asyncio.run(_resolve(_deps(store), "e1", **JEAN))
    client = TestClient(identity_app(store))
    assert client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": True}).status_code == 200

    again = client.post(f"/v1/persons/{jean}/erase", json={"do_not_readd": False})

    assert again.status_code == 200, again.text
    # Still kept out: a plain erasure asked later lifts nothing.
    outcome = asyncio.run(resolve_fact(details_fact("e2", **JEAN), _deps(store)))
    assert outcome.outcome == "suppressed"


async def test_an_operator_s_erasure_not_to_be_added_again_after_a_plain_one_is_refused_with_its_reason() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    jean = await _resolve(deps, "e1", **JEAN)
    await erase_on_request(ORGANISATION, jean, deps, do_not_readd=False, requested_by="staff:marie")

    with pytest.raises(IdentityActionError) as refused:
        await erase_on_request(ORGANISATION, jean, deps, do_not_readd=True, requested_by="staff:marie")

    assert refused.value.code == "nothing_to_suppress"


async def test_an_erasure_by_id_from_another_service_after_a_plain_one_goes_no_further_and_says_why() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    jean = await _resolve(deps, "e1", **JEAN)
    await erase_on_request(ORGANISATION, jean, deps, do_not_readd=False, requested_by="staff:marie")
    request = build_envelope(
        PersonErasureRequestedV1(
            person=PersonRef(source=PARTERRE_PERSON_SOURCE, external_id=jean),
            requested_by="token:t1",
            do_not_readd=True,
        ),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/profile",
        id="erasure-2",
        time=START,
    )

    outcome = await resolve_fact(request, deps)

    assert (outcome.outputs, outcome.outcome) == ((), "nothing_to_suppress")


async def test_an_erasure_not_to_be_added_again_stored_before_persons_kept_it_is_asked_again_and_answered_done() -> (
    None
):
    # Erased by a release whose person documents had no `do_not_readd`: a request redelivered after the upgrade (the
    # first delivery died before Kafka had its events) must still publish them, or profile keeps the person's data.
    store = InMemoryIdentityStore()
    deps = _deps(store)
    jean = await _resolve(deps, "e1", **JEAN)
    first = await erase_on_request(ORGANISATION, jean, deps, do_not_readd=True, requested_by="staff:marie")
    erased = await store.person(ORGANISATION, jean)
    assert erased is not None
    document = person_document(erased)
    del document["do_not_readd"]
    await store.replace_person(person_from(document), expected_version=erased.version)

    again = await erase_on_request(ORGANISATION, jean, deps, do_not_readd=True, requested_by="staff:marie")

    assert [event.id for event in again] == [event.id for event in first]
