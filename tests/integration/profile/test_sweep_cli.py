"""`parterre profile sweep` catches up on the slots of time not swept yet and publishes what time changed."""

from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import MongoProfileStore
from shared.events import parse_event
from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.profile.support import ProfileHarness, commands_reach
from tests.integration.terminal import run_from_terminal
from tests.unit.profile_handlers.scenarios import World

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_sweep_run_by_hand_catches_up_on_days_not_swept(
    harness: ProfileHarness,
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = MongoProfileStore(database)

    async def documents() -> list[str]:
        return []

    # Eleven days ago, at midnight, the service applied a purchase made a year before, in the evening: the buyer
    # lapsed that evening, and no sweep has run since. At midnight, not at this time of day: applied after the
    # purchase's hour, the buyer would have lapsed before it was applied, with nothing left to sweep.
    world = World(store, documents, organisation_id=harness.organisation_id)
    world.clock.at = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=11)
    evening = world.clock.at + timedelta(hours=19)
    try:
        a_year_before = evening.replace(year=evening.year - 1)
    except ValueError:
        # A 29 February: the first of March a year before lapses on the evening after it, still to be swept.
        a_year_before = evening.replace(year=evening.year - 1, month=3, day=1)
    await world.sweep()
    await world.deliver(world.purchase("sale-l", "per_lea", at=a_year_before))
    commands_reach(monkeypatch, settings)

    exit_code = await run_from_terminal(["profile", "sweep"])

    fired = [parse_event(record.value)[1].model_dump() for record in await harness.triggers.read(1)]
    assert exit_code == 0
    assert [(trigger["rule"], trigger["person_id"]) for trigger in fired] == [("lapsed-buyer", "per_lea")]
    assert "1 swept" in capsys.readouterr().out
    stored = await store.profile(harness.organisation_id, "per_lea")
    assert stored is not None
    assert "lapsed-buyers" in stored.segments
    position = await store.sweep_position()
    assert position is not None
    assert position > datetime.now(UTC) - timedelta(minutes=40)
