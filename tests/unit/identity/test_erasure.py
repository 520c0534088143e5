"""An erasure leaves nothing of the person in any mapping of the store, even when it stops midway and is redone."""

import hashlib
from collections.abc import Collection
from typing import Any

import pytest

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.identifiers import Identifier, IdentifierDigest, IdentifierType
from services.identity.domain.matching import blocking_keys
from services.identity.domain.persons import Person, PersonStatus
from services.identity.handlers import IdentityDeps, erase_on_request, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, SteppingClock, details_fact, everything_stored

HELENE = {"first_name": "Hélène", "last_name": "Tremblay", "postal_code": "H2J 2L1", "birth_date": "1984-03-17"}
# What the store would hold of her identifiers, normalised: the box office's id, the shop's id, email and phone.
HELENE_IDENTIFIERS = ("HT-8841", "SH-5521", "helene.tremblay@videotron.ca", "+15145550199")


class CrashError(Exception):
    """The process dies here."""


class CrashingStore(InMemoryIdentityStore):
    """Dies right after its `crash_after`-th erasure step (that step done), once."""

    def __init__(self, crash_after: int | None = None) -> None:
        super().__init__()
        self.crash_after = crash_after
        self.steps = 0

    def _step(self) -> None:
        self.steps += 1
        if self.steps == self.crash_after:
            raise CrashError(f"after step {self.steps}")

    async def suppress(self, organisation_id: str, hashes: Any) -> None:
        await super().suppress(organisation_id, hashes)
        self._step()

    async def scrub_merges(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        await super().scrub_merges(organisation_id, person_id, digests)
        self._step()

    async def scrub_journal(self, organisation_id: str, person_id: str, digests: Collection[IdentifierDigest]) -> None:
        await super().scrub_journal(organisation_id, person_id, digests)
        self._step()

    async def release(self, organisation_id: str, identifier: Any, person_id: str) -> None:
        await super().release(organisation_id, identifier, person_id)
        self._step()

    async def replace_person(self, person: Person, *, expected_version: int) -> bool:
        replaced = await super().replace_person(person, expected_version=expected_version)
        self._step()
        return replaced

    async def leave_blocks(self, organisation_id: str, person_id: str) -> None:
        await super().leave_blocks(organisation_id, person_id)
        self._step()

    async def leave_households(self, organisation_id: str, person_id: str) -> None:
        await super().leave_households(organisation_id, person_id)
        self._step()


async def _resolve(deps: IdentityDeps, event_id: str, **person: Any) -> str:
    data = parse_data((await resolve_fact(details_fact(event_id, **person), deps)).outputs[-1])
    assert isinstance(data, PersonResolvedV1)
    return data.person_id


async def _helene_twice_merged_and_a_neighbour(deps: IdentityDeps) -> tuple[str, str, set[str]]:
    """Hélène known to the box office and to the shop, merged by a fact naming both; her neighbour Marc shares
    her family name and postal code. Returns her survivor's id, Marc's, and the block keys only she is under."""
    box_office = await _resolve(deps, "e1", external_id="HT-8841", email="helene.tremblay@videotron.ca", **HELENE)
    await _resolve(deps, "e2", source="shopify-boutique", external_id="SH-5521", phone="514-555-0199", **HELENE)
    merged = await _resolve(
        deps, "e3", source="shopify-boutique", external_id="SH-5521", email="helene.tremblay@videotron.ca", **HELENE
    )
    assert merged == box_office
    marc = await _resolve(
        deps, "e4", external_id="MT-1207", first_name="Marc", last_name="Tremblay", postal_code="H2J 2L1"
    )
    persons = [person async for person in deps.store.active_persons(ORGANISATION)]
    keys = {person.person_id: {key for r in person.records for key in blocking_keys(r)} for person in persons}
    assert keys[box_office] & keys[marc], "the scenario needs a block key they share"
    return box_office, marc, keys[box_office] - keys[marc]


def _deps(store: InMemoryIdentityStore) -> IdentityDeps:
    return IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


async def _assert_nothing_of_helene_left(store: InMemoryIdentityStore, helene: str, marc: str, hers: set[str]) -> None:
    stored = await everything_stored(store)
    everything = "\n".join(stored.values())
    assert [value for value in HELENE_IDENTIFIERS if value in everything] == []
    digests = [hashlib.sha256(value.encode()).hexdigest()[:12] for value in HELENE_IDENTIFIERS]
    assert [digest for digest in digests if digest in everything] == []
    assert sorted(key for key in hers if key in everything) == []
    assert helene not in stored["blocks"]
    assert marc in stored["blocks"]
    person = await store.person(ORGANISATION, helene)
    assert person is not None
    assert person.status is PersonStatus.ERASED


async def test_an_erasure_leaves_none_of_the_person_s_identifiers_block_keys_or_digests_in_any_mapping() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    helene, marc, hers = await _helene_twice_merged_and_a_neighbour(deps)

    await erase_on_request(ORGANISATION, helene, deps, do_not_readd=True, requested_by="staff:marie")

    await _assert_nothing_of_helene_left(store, helene, marc, hers)


@pytest.mark.parametrize("crash_after", range(1, 13))
async def test_an_erasure_stopped_after_any_step_is_finished_by_the_next_request(crash_after: int) -> None:
    store = CrashingStore()
    deps = _deps(store)
    helene, marc, hers = await _helene_twice_merged_and_a_neighbour(deps)
    store.crash_after = store.steps + crash_after

    try:
        await erase_on_request(ORGANISATION, helene, deps, do_not_readd=True, requested_by="staff:marie")
    except CrashError:
        await erase_on_request(ORGANISATION, helene, deps, do_not_readd=True, requested_by="staff:marie")

    await _assert_nothing_of_helene_left(store, helene, marc, hers)


async def test_an_identifier_claimed_for_the_person_after_their_erasure_is_let_go_when_it_is_asked_again() -> None:
    store = InMemoryIdentityStore()
    deps = _deps(store)
    helene, marc, hers = await _helene_twice_merged_and_a_neighbour(deps)
    await erase_on_request(ORGANISATION, helene, deps, do_not_readd=False, requested_by="staff:marie")
    # A resolver that decided before the erasure claims her new phone for her after it.
    phone = Identifier(IdentifierType.PHONE, "+15145550199")
    assert await store.claim(ORGANISATION, phone, helene) == helene

    await erase_on_request(ORGANISATION, helene, deps, do_not_readd=False, requested_by="staff:marie")

    assert await store.owner_of(ORGANISATION, phone) is None
    await _assert_nothing_of_helene_left(store, helene, marc, hers)
