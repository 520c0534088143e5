"""What a program asking for a person's erasure gets back: an erasure cannot be undone, so its request is read whole."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.unit.profile.http_harness import RecordingPublisher, profile_app, profile_world


async def test_an_erasure_asked_with_a_misspelt_option_is_refused_naming_it_rather_than_done_without_it() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()

    answer = TestClient(profile_app(world, publisher)).post(
        "/v1/persons/per_elise/erase", json={"do_not_re_add": True, "reason": "Demande de la patronne"}
    )

    assert answer.status_code == 422, answer.text
    assert [field["field"] for field in answer.json()["detail"]["fields"]] == ["body.do_not_re_add"]
    assert publisher.published == []


async def test_an_erasure_asked_with_the_options_the_console_sends_is_requested() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()

    answer = TestClient(profile_app(world, publisher)).post(
        "/v1/persons/per_elise/erase", json={"reason": None, "do_not_readd": True}
    )

    assert answer.status_code == 202, answer.text
    assert len(publisher.published) == 1


async def test_an_erasure_asked_again_while_under_way_answers_with_the_request_under_way() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()
    client = TestClient(profile_app(world, publisher))

    first = client.post("/v1/persons/per_elise/erase", json={"reason": "Demande au guichet"})
    again = client.post("/v1/persons/per_elise/erase", json={"reason": "Demande au guichet"})
    world.clock.at += timedelta(hours=1)
    an_hour_on = client.post("/v1/persons/per_elise/erase", json={"reason": "Demande au guichet"})

    assert (first.status_code, again.status_code, an_hour_on.status_code) == (202, 202, 202)
    assert again.json() == first.json()
    # Not done an hour on: the request may have been lost on the way, and asking again sends another.
    assert an_hour_on.json()["request_id"] != first.json()["request_id"]
    assert len(publisher.published) == 2


async def test_an_erasure_asked_again_once_done_is_answered_done_not_unknown() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()
    client = TestClient(profile_app(world, publisher))
    client.post("/v1/persons/per_elise/erase")
    await world.deliver(world.erasure("per_elise"))

    again = client.post("/v1/persons/per_elise/erase")
    never = client.post("/v1/persons/per_nobody/erase")

    assert again.status_code == 200, again.text
    assert again.json() == {"person_id": "per_elise", "status": "erased"}
    assert never.status_code == 404
    assert len(publisher.published) == 1


async def test_a_reason_giving_the_person_s_own_email_is_refused_as_the_log_would_keep_it() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()

    answer = TestClient(profile_app(world, publisher)).post(
        "/v1/persons/per_elise/erase", json={"reason": "Demandé par PER_ELISE@example.com au téléphone"}
    )

    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert detail["code"] == "reason_names_the_person"
    assert [field["field"] for field in detail["fields"]] == ["body.reason"]
    assert "per_elise@example.com" in detail["message"]["en"]
    assert detail["message"]["fr"].startswith("La raison donne per_elise@example.com")
    assert publisher.published == []


@pytest.mark.parametrize(
    ("reason", "named"),
    [
        ("Asked by phone from 514-555-0199", "+15145550199"),
        ("Au téléphone : +1 514 555 0199, poste 3", "+15145550199"),
        ("Appel du (514) 555.0199", "+15145550199"),
        ("Client C-004521 in the box office asked", "C-004521"),
        ("client c-004521 au guichet", "C-004521"),
        ("Rappel 2026-12-07 514-555-0199", "+15145550199"),
        ("Commande 4521 514 555 0199", "+15145550199"),
        ("Fiche billetterie-principale:C-004521", "C-004521"),
    ],
)
async def test_a_reason_giving_the_person_s_phone_or_upstream_id_as_staff_type_them_is_refused(
    reason: str, named: str
) -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", phone="(514) 555-0199"))
    publisher = RecordingPublisher()

    answer = TestClient(profile_app(world, publisher)).post("/v1/persons/per_elise/erase", json={"reason": reason})

    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]["code"] == "reason_names_the_person"
    assert named in answer.json()["detail"]["message"]["en"]
    assert publisher.published == []


async def test_a_reason_giving_a_short_upstream_id_with_its_source_is_refused() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", person={"external_id": "C42"}))

    answer = TestClient(profile_app(world)).post(
        "/v1/persons/per_elise/erase", json={"reason": "Fiche billetterie-principale:C42 au guichet"}
    )
    alone = TestClient(profile_app(world)).post("/v1/persons/per_elise/erase", json={"reason": "Guichet C42"})

    assert answer.status_code == 422, answer.text
    assert "C42" in answer.json()["detail"]["message"]["en"]
    # Alone, an id this short is no sure sign of the person: a seat, a room, a date may read so.
    assert alone.status_code == 202, alone.text


@pytest.mark.parametrize(
    "reason",
    ["Demande reçue le 2026-12-07 au 514-555-0100", "Commande C-0045210 remboursée", "Demande no 4521 du guichet"],
)
async def test_a_reason_giving_numbers_that_are_not_the_person_s_is_taken(reason: str) -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise", phone="(514) 555-0199"))

    answer = TestClient(profile_app(world)).post("/v1/persons/per_elise/erase", json={"reason": reason})

    assert answer.status_code == 202, answer.text


async def test_do_not_readd_asked_while_an_erasure_without_it_is_under_way_is_refused_not_dropped() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    publisher = RecordingPublisher()
    client = TestClient(profile_app(world, publisher))
    first = client.post("/v1/persons/per_elise/erase", json={"reason": "Demande au guichet"})

    stricter = client.post("/v1/persons/per_elise/erase", json={"do_not_readd": True})
    same = client.post("/v1/persons/per_elise/erase", json={"reason": "Demande au guichet, encore"})

    assert stricter.status_code == 409, stricter.text
    assert stricter.json()["detail"]["code"] == "nothing_to_suppress"
    assert "do_not_readd" in stricter.json()["detail"]["message"]["fr"]
    assert same.status_code == 202
    assert same.json()["request_id"] == first.json()["request_id"]
    assert len(publisher.published) == 1


async def test_an_erasure_under_way_with_do_not_readd_answers_a_request_without_it_with_itself() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    client = TestClient(profile_app(world))
    first = client.post("/v1/persons/per_elise/erase", json={"do_not_readd": True})

    again = [client.post("/v1/persons/per_elise/erase", json={"do_not_readd": keep_out}) for keep_out in (True, False)]

    assert [answer.status_code for answer in again] == [202, 202]
    assert {answer.json()["request_id"] for answer in again} == {first.json()["request_id"]}


async def test_do_not_readd_asked_once_erased_without_it_is_refused_and_with_it_answered_done() -> None:
    world = profile_world()
    await world.deliver(world.purchase("e1", "per_elise"))
    await world.deliver(world.purchase("e2", "per_luc"))
    client = TestClient(profile_app(world))
    client.post("/v1/persons/per_elise/erase")
    client.post("/v1/persons/per_luc/erase", json={"do_not_readd": True})
    await world.deliver(world.erasure("per_elise"))
    await world.deliver(world.erasure("per_luc"))

    elise = client.post("/v1/persons/per_elise/erase", json={"do_not_readd": True})
    luc = client.post("/v1/persons/per_luc/erase", json={"do_not_readd": True})

    assert elise.status_code == 409, elise.text
    assert elise.json()["detail"]["code"] == "nothing_to_suppress"
    assert (luc.status_code, luc.json()) == (200, {"person_id": "per_luc", "status": "erased"})
