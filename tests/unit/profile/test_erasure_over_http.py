"""What a program asking for a person's erasure gets back: an erasure cannot be undone, so its request is read whole."""

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
