"""A fact decided before an erasure and applied after it (redelivered once its first handling crashed) must not
bring the erased person back into blocks, households or ownership of an identifier."""

import contextlib
from collections.abc import Sequence
from typing import Any

import pytest

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.identifiers import Identifier
from services.identity.domain.persons import PersonStatus
from services.identity.handlers import IdentityDeps, erase_on_request, resolve_fact
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import parse_data
from shared.events.identity import PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, SteppingClock, details_fact, everything_stored

HELENE = {"first_name": "Hélène", "last_name": "Tremblay", "postal_code": "H2J 2L1", "birth_date": "1984-03-17"}


class CrashError(Exception):
    """The process dies here."""


class CrashBeforeClaimStore(InMemoryIdentityStore):
    """Dies once, just before claiming an identifier, when `armed`."""

    armed = False

    async def claim(self, organisation_id: str, identifier: Identifier, person_id: str) -> str:
        if self.armed:
            self.armed = False
            raise CrashError("before claim")
        return await super().claim(organisation_id, identifier, person_id)


async def _resolve(deps: IdentityDeps, event_id: str, **person: Any) -> str:
    data = parse_data((await resolve_fact(details_fact(event_id, **person), deps)).outputs[-1])
    assert isinstance(data, PersonResolvedV1)
    return data.person_id


async def test_a_fact_decided_before_an_erasure_and_redelivered_after_it_lists_the_erased_person_nowhere() -> None:
    store = CrashBeforeClaimStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    helene = await _resolve(deps, "e1", external_id="HT-8841", email="helene.tremblay@videotron.ca", **HELENE)
    # Her new phone is decided hers and journaled; the process dies before applying it.
    store.armed = True
    late = details_fact("e2", external_id="HT-8841", phone="514-555-0199", **HELENE)
    with contextlib.suppress(CrashError):
        await resolve_fact(late, deps)
    await erase_on_request(ORGANISATION, helene, deps, do_not_readd=True, requested_by="staff:marie")

    outcome = await resolve_fact(late, deps)

    person = await store.person(ORGANISATION, helene)
    assert person is not None
    assert person.status is PersonStatus.ERASED
    stored = await everything_stored(store)
    assert helene not in stored["blocks"]
    assert helene not in stored["owners"]
    # She asked not to be added again: the fact goes no further, and nothing is published about her.
    assert outcome.outputs == ()
    assert outcome.outcome == "suppressed"
    assert "+15145550199" not in "\n".join(stored.values())


class CrashBeforeBlocksStore(InMemoryIdentityStore):
    """Dies once, just before filing a person under blocking keys, when `armed`."""

    armed = False

    async def add_to_blocks(self, organisation_id: str, keys: Sequence[str], person_id: str) -> None:
        if self.armed:
            self.armed = False
            raise CrashError("before blocks")
        await super().add_to_blocks(organisation_id, keys, person_id)


@pytest.mark.parametrize("do_not_readd", [True, False], ids=["not to be added again", "may be added again"])
async def test_a_fact_that_created_a_person_and_is_redelivered_after_their_erasure_lists_them_nowhere(
    do_not_readd: bool,
) -> None:
    store = CrashBeforeBlocksStore()
    deps = IdentityDeps(store=store, rules=load_rules(IdentitySettings()), clock=SteppingClock())
    fact = details_fact("e1", external_id="HT-8841", email="helene.tremblay@videotron.ca", **HELENE)
    # Her first fact creates her; the process dies before it is applied whole.
    store.armed = True
    with contextlib.suppress(CrashError):
        await resolve_fact(fact, deps)
    [helene] = [person async for person in store.active_persons(ORGANISATION)]
    await erase_on_request(ORGANISATION, helene.person_id, deps, do_not_readd=do_not_readd, requested_by="staff:marie")

    outcome = await resolve_fact(fact, deps)

    person = await store.person(ORGANISATION, helene.person_id)
    assert person is not None
    assert person.status is PersonStatus.ERASED
    assert [person async for person in store.active_persons(ORGANISATION)] == [], "nobody was made of her fact"
    stored = await everything_stored(store)
    assert helene.person_id not in stored["blocks"]
    assert helene.person_id not in stored["owners"]
    assert "helene.tremblay" not in "\n".join(stored.values())
    assert {output.person_id for output in outcome.outputs} <= {helene.person_id}, (
        "anything published names only her erased id, which profile drops"
    )
