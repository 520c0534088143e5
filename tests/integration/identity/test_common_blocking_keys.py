"""A blocking key too many persons share is no way to find candidates, in the in-memory store and the real one
alike: the batch command and the service must decide a record the same way."""

from datetime import date
from typing import Any

from services.identity.domain.matching import BLOCK_CAPACITY, blocking_keys
from services.identity.domain.normalise import normalise_record
from services.identity.domain.records import PersonRecord
from services.identity.handlers import IdentityDeps, resolve_fact
from shared.events import parse_data
from shared.events.identity import MatchMethod, PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, details_fact, last_resolution

# A walk-up buyer: a name and a street address, no postal code, so the address's key (`sa:`) is the only one a later
# record of hers can share with this one.
MARIE = {"first_name": "Marie", "last_name": "Côté", "street": "100, rue Principale", "city": "Rimouski"}


async def _resolve(deps: IdentityDeps, event_id: str, **person: Any) -> PersonResolvedV1:
    data = parse_data(last_resolution((await resolve_fact(details_fact(event_id, **person), deps)).outputs))
    assert isinstance(data, PersonResolvedV1)
    return data


def _address_key() -> str:
    record = normalise_record(PersonRecord(**MARIE), today=date(2026, 12, 3))
    (key,) = [key for key in blocking_keys(record) if key.startswith("sa:")]
    return key


async def test_a_record_sharing_only_a_key_below_capacity_is_linked_through_it(deps: IdentityDeps) -> None:
    first = await _resolve(deps, "fact-1", **MARIE)
    await deps.store.add_to_blocks_all(
        ORGANISATION, [([_address_key()], f"per_neighbour_{n}") for n in range(BLOCK_CAPACITY - 2)]
    )

    again = await _resolve(deps, "fact-2", **MARIE)

    assert again.person_id == first.person_id
    assert again.match.method is MatchMethod.PROBABILISTIC


async def test_a_full_block_is_not_searched_and_takes_no_one_more(deps: IdentityDeps) -> None:
    first = await _resolve(deps, "fact-1", **MARIE)
    key = _address_key()
    await deps.store.add_to_blocks_all(ORGANISATION, [([key], f"per_neighbour_{n}") for n in range(BLOCK_CAPACITY)])

    again = await _resolve(deps, "fact-2", **MARIE)

    # The key is as common as a family name in a city: the one person it could have found is not compared.
    assert again.person_id != first.person_id
    assert again.match.method is MatchMethod.NEW
    members = (await deps.store.block_members(ORGANISATION, [key]))[key]
    assert len(members) == BLOCK_CAPACITY
    assert first.person_id in members
    assert again.person_id not in members
