"""What staff and upstream systems get from the identity routes for identifiers written their own way, for
erasures naming a merged person, and for a body's options misspelt."""

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.domain.persons import suppression_hash
from services.identity.handlers import IdentityDeps, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, SteppingClock, details_fact
from tests.unit.identity.http_harness import identity_app


def _deps(store: InMemoryIdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


def _resolve(deps: IdentityDeps, event_id: str, **person: Any) -> str:
    outcome = asyncio.run(resolve_fact(details_fact(event_id, **person), deps))
    resolved = parse_data(outcome.outputs[-1])
    assert isinstance(resolved, PersonResolvedV1)
    return resolved.person_id


def _jean_known_twice_then_merged(deps: IdentityDeps) -> tuple[str, str]:
    """Jean known to the box office and to the shop, then one by a fact naming both: (survivor, merged)."""
    box_office = _resolve(deps, "e1", external_id="C-1", email="jean.roy@videotron.ca", first_name="Jean")
    shop = _resolve(deps, "e2", source="shopify-boutique", external_id="S-1", phone="514 555 0199", first_name="Jean")
    assert box_office != shop
    _resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="jean.roy@videotron.ca")
    survivor = asyncio.run(deps.store.person(ORGANISATION, shop))
    assert survivor is not None
    assert survivor.merged_into == box_office
    return box_office, shop


def test_an_erasure_asked_with_a_misspelt_option_is_refused_naming_it_and_erases_nothing() -> None:
    store = InMemoryIdentityStore()
    survivor, _merged = _jean_known_twice_then_merged(_deps(store))

    answer = TestClient(identity_app(store)).post(f"/v1/persons/{survivor}/erase", json={"do_not_re_add": True})

    assert answer.status_code == 422, answer.text
    assert [field["field"] for field in answer.json()["detail"]["fields"]] == ["body.do_not_re_add"]
    assert TestClient(identity_app(store)).get(f"/v1/persons/{survivor}").json()["status"] != "erased"


def test_an_unmerge_asked_with_a_misspelt_merge_id_is_refused_naming_it_and_undoes_no_merge() -> None:
    store = InMemoryIdentityStore()
    survivor, merged = _jean_known_twice_then_merged(_deps(store))
    [merge] = asyncio.run(store.merges_involving(ORGANISATION, merged))
    app = identity_app(store)

    answer = TestClient(app).post(f"/v1/persons/{survivor}/unmerge", json={"mergeId": merge.merge_id})

    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == "invalid_request"
    [field] = detail["fields"]
    assert (field["field"], field["code"]) == ("body.mergeId", "extra_forbidden")
    assert field["reason"]
    assert field["reason_fr"]
    assert app.openapi()["components"]["schemas"]["UnmergeRequest"]["additionalProperties"] is False
    still_merged = asyncio.run(store.person(ORGANISATION, merged))
    assert still_merged is not None
    assert still_merged.merged_into == survivor


def test_erasing_a_merged_person_s_id_says_it_erased_the_person_they_were_merged_into() -> None:
    store = InMemoryIdentityStore()
    survivor, merged = _jean_known_twice_then_merged(_deps(store))

    answer = TestClient(identity_app(store)).post(f"/v1/persons/{merged}/erase", json={"do_not_readd": True})

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == merged
    assert answer.json()["erased_person_id"] == survivor
    assert answer.json()["erased_person_ids"] == [survivor, merged]
    for person_id in (survivor, merged):
        assert TestClient(identity_app(store)).get(f"/v1/persons/{person_id}").json()["status"] == "erased"


def test_an_export_is_logged_by_digest_and_listed_by_the_next_one_until_the_person_is_erased() -> None:
    store = InMemoryIdentityStore()
    survivor, merged = _jean_known_twice_then_merged(_deps(store))
    client = TestClient(identity_app(store))

    first = client.get(f"/v1/persons/{survivor}/export")
    second = client.get(f"/v1/persons/{survivor}/export")

    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["earlier_exports"] == []
    assert first.json()["merges"][0]["merged_person_ids"] == [merged]
    assert second.json()["earlier_exports"] == [
        {"at": first.json()["exported_at"], "requested_by": "token:t1", "identifiers": 4, "merges": 1}
    ]
    assert client.get("/v1/persons/nobody/export").status_code == 404
    assert len(asyncio.run(store.exports_logged(ORGANISATION, "nobody"))) == 0
    assert client.post(f"/v1/persons/{survivor}/erase", json={}).status_code == 200
    erased = client.get(f"/v1/persons/{survivor}/export")
    assert erased.status_code == 404
    assert len(asyncio.run(store.exports_logged(ORGANISATION, survivor))) == 2


def test_an_email_looked_up_with_its_plus_tag_left_unescaped_in_the_url_finds_the_person() -> None:
    store = InMemoryIdentityStore()
    jean = _resolve(_deps(store), "e1", email="Jean.Roy+billets@videotron.ca", first_name="Jean")

    answer = TestClient(identity_app(store)).get("/v1/persons?email=jean.roy+infolettre@videotron.ca")

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == jean


def test_an_international_phone_looked_up_with_its_plus_left_unescaped_in_the_url_finds_the_person() -> None:
    store = InMemoryIdentityStore()
    jean = _resolve(_deps(store), "e1", phone="+33 1 42 68 53 00", first_name="Jean")

    answer = TestClient(identity_app(store)).get("/v1/persons?phone=+33142685300")

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == jean


def test_a_phone_whose_plus_is_left_unescaped_is_read_as_international_even_when_it_would_read_as_local() -> None:
    # Without its `+`, 431 234 5678 is a Winnipeg number as dialled from Canada: the caller asked for Vienna.
    store = InMemoryIdentityStore()
    deps = _deps(store)
    vienna = _resolve(deps, "e1", phone="+43 1 2345678", email="lukas.huber@example.at", first_name="Lukas")
    _resolve(deps, "e2", phone="(431) 234-5678", email="kyle.moore@example.ca", first_name="Kyle")

    answer = TestClient(identity_app(store)).get("/v1/persons?phone=+4312345678")

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == vienna


def test_a_phone_whose_spaces_are_written_as_plus_signs_in_the_url_finds_the_person() -> None:
    store = InMemoryIdentityStore()
    jean = _resolve(_deps(store), "e1", phone="+33 1 42 68 53 00", first_name="Jean")

    answer = TestClient(identity_app(store)).get("/v1/persons?phone=+33+1+42+68+53+00")

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == jean


def test_an_upstream_id_looked_up_with_spaces_around_it_finds_the_person() -> None:
    store = InMemoryIdentityStore()
    jean = _resolve(_deps(store), "e1", external_id="C-1", first_name="Jean")

    answer = TestClient(identity_app(store)).get(
        "/v1/persons", params={"source": "billetterie-principale", "external_id": " C-1 "}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == jean


@pytest.mark.parametrize(
    "query",
    ["email=jean.roy@videotron.ca&source=shopify-boutique", "phone=514-555-0199&source=shopify-boutique"],
    ids=["email", "phone"],
)
def test_a_source_given_with_an_email_or_a_phone_is_refused_naming_source_not_ignored(query: str) -> None:
    store = InMemoryIdentityStore()
    _resolve(_deps(store), "e1", email="jean.roy@videotron.ca", phone="514 555 0199", first_name="Jean")

    answer = TestClient(identity_app(store)).get(f"/v1/persons?{query}")

    assert answer.status_code == 422, answer.text
    [field] = answer.json()["detail"]["fields"]
    assert (field["field"], field["code"]) == ("query.source", "source_without_external_id")
    assert "external_id" in field["reason"]
    assert "external_id" in field["reason_fr"]


def test_an_upstream_id_of_a_person_erased_not_to_be_added_again_is_refused_when_sent_again_with_spaces() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    jean = _resolve(deps, "e1", external_id="C-1", first_name="Jean")
    assert TestClient(identity_app(store)).post(f"/v1/persons/{jean}/erase", json={"do_not_readd": True}).is_success

    for event_id, padded in (("e2", "C-1 "), ("e3", " C-1")):
        outcome = asyncio.run(resolve_fact(details_fact(event_id, external_id=padded, first_name="Jean"), deps))

        assert (outcome.outcome, outcome.outputs) == ("suppressed", ())


def test_a_padded_upstream_id_of_a_person_erased_not_to_be_added_again_is_refused_when_sent_again_without() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    jean = _resolve(deps, "e1", external_id=" C-1 ", first_name="Jean")
    assert TestClient(identity_app(store)).post(f"/v1/persons/{jean}/erase", json={"do_not_readd": True}).is_success

    outcome = asyncio.run(resolve_fact(details_fact("e2", external_id="C-1", first_name="Jean"), deps))

    assert (outcome.outcome, outcome.outputs) == ("suppressed", ())


def test_an_email_looked_up_with_a_space_escaped_as_such_is_not_read_as_a_plus_tag() -> None:
    # `%20` is a space the caller meant: no address holds one, and Anne is not Anne Marie.
    store = InMemoryIdentityStore()
    _resolve(_deps(store), "e1", email="anne@videotron.ca", first_name="Anne")

    answer = TestClient(identity_app(store)).get("/v1/persons?email=anne%20marie@videotron.ca")

    assert answer.status_code == 422, answer.text


def test_a_phone_looked_up_with_a_space_escaped_as_such_is_not_read_as_international() -> None:
    # 819 555 0142 mistyped (a 0 too many), pasted after a space: not a `+` the URL left unescaped.
    store = InMemoryIdentityStore()
    _resolve(_deps(store), "e1", phone="+81 955 500 142", first_name="Haruto")

    answer = TestClient(identity_app(store)).get("/v1/persons?phone=%2081955500142")

    assert answer.status_code == 422, answer.text


def test_erasing_a_merged_person_s_id_again_names_the_same_persons_as_the_first_time() -> None:
    # A caller whose first answer was lost tries again: the answer must still say whom the erasure took.
    store = InMemoryIdentityStore()
    survivor, merged = _jean_known_twice_then_merged(_deps(store))
    client = TestClient(identity_app(store))
    first = client.post(f"/v1/persons/{merged}/erase", json={"do_not_readd": True}).json()

    again = client.post(f"/v1/persons/{merged}/erase", json={"do_not_readd": True}).json()

    assert again["erased_person_ids"] == first["erased_person_ids"] == [survivor, merged]


def test_an_address_erased_not_to_be_added_again_as_a_release_before_2026_12_kept_it_is_refused_written_accented() -> (
    None
):
    # Such a release kept `xn--thtre-4qa2c.qc.ca` as given, and hashed the address so when Marie asked not to be
    # added again; today the address reads `théâtre.qc.ca`, however it is written.
    store = InMemoryIdentityStore()
    deps = _deps(store)
    as_kept_then = Identifier(IdentifierType.EMAIL, "marie@xn--thtre-4qa2c.qc.ca")
    asyncio.run(
        store.suppress(ORGANISATION, [suppression_hash(ORGANISATION, deps.rules.suppression_salt, as_kept_then)])
    )

    for event_id, written in (("e1", "Marie@Théâtre.qc.ca"), ("e2", "marie@xn--thtre-4qa2c.qc.ca")):
        outcome = asyncio.run(resolve_fact(details_fact(event_id, email=written, first_name="Marie"), deps))

        assert (outcome.outcome, outcome.outputs) == ("suppressed", ()), written


def test_a_review_decision_with_a_misspelt_field_is_refused_naming_it_before_any_review_is_looked_up() -> None:
    app = identity_app(InMemoryIdentityStore())

    answer = TestClient(app).post("/v1/review/rev_any", json={"decision": "reject", "notes": "not him"})

    assert answer.status_code == 422, answer.text
    [field] = answer.json()["detail"]["fields"]
    assert (field["field"], field["code"]) == ("body.notes", "extra_forbidden")
    assert field["reason_fr"]
    assert app.openapi()["components"]["schemas"]["ReviewVerdict"]["additionalProperties"] is False
