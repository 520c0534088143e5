"""`parterre profile reindex-lookups` files profiles stored before the search box existed under their names' sounds,
their first letters and upstream ids, so the search finds them; a second run files nothing."""

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.profile.adapters.mongo import MongoProfileStore
from services.profile.domain.search import read_query
from services.profile.handlers import search_profiles
from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.profile.support import commands_reach
from tests.integration.terminal import run_from_terminal
from tests.unit.profile_handlers.scenarios import World, forget_search_keys, named_patron

pytestmark = [pytest.mark.mongo]


async def test_reindexing_by_hand_makes_profiles_stored_before_findable_by_name_and_is_idempotent(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = World(MongoProfileStore(database), _no_documents)
    other = World(world.store, _no_documents, organisation_id="festival-sud")
    await world.deliver(world.purchase("sale-h", "per_helene", person=named_patron("Hélène", "Côté", "C-1001")))
    await world.deliver(world.purchase("sale-m", "per_marc", person=named_patron("Marc", "Tremblay", "C-2001")))
    await other.deliver(other.purchase("sale-o", "per_olga", person=named_patron("Olga", "Côté", "F-1")))
    for person in ("per_helene", "per_marc"):
        await forget_search_keys(world, person)
    await forget_search_keys(other, "per_olga")
    commands_reach(monkeypatch, settings)

    async def search(organisation_id: str, text: str) -> list[str]:
        result = await search_profiles(world.deps, organisation_id, read_query(text), limit=20)
        return [found.candidate.person_id for found, _ in result.found]

    assert await search(world.organisation_id, "helene cote") == []
    assert await search(world.organisation_id, "Trem") == []

    first = await run_from_terminal(["profile", "reindex-lookups", "--organisation", world.organisation_id])
    first_output = capsys.readouterr().out
    again = await run_from_terminal(["profile", "reindex-lookups", "--organisation", world.organisation_id])
    again_output = capsys.readouterr().out

    assert (first, again) == (0, 0)
    assert "visited 2 profiles; filed 18 missing look-up keys" in first_output
    assert "visited 2 profiles; filed 0 missing look-up keys" in again_output
    assert await search(world.organisation_id, "helene cote") == ["per_helene"]
    assert await search(world.organisation_id, "Tremblai") == ["per_marc"]
    assert await search(world.organisation_id, "Trem") == ["per_marc"]
    assert await search(world.organisation_id, "c-2001") == ["per_marc"]
    assert await search("festival-sud", "cote") == [], "another organisation is left as it was"

    assert await run_from_terminal(["profile", "reindex-lookups"]) == 0
    assert "visited 3 profiles; filed 8 missing look-up keys" in capsys.readouterr().out
    assert await search("festival-sud", "cote") == ["per_olga"]


async def _no_documents() -> list[str]:
    return []
