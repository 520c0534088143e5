"""A household member keeps being resolved after a relative sharing their phone asked not to be added again, on
both stores and both paths (a consumer batch, one fact at a time): the shared phone is left out, never claimed."""

from collections.abc import Sequence

from services.identity.domain.identifiers import Identifier, IdentifierType
from services.identity.handlers import (
    FactOutcome,
    IdentityDeps,
    erase_on_request,
    resolve_fact,
    resolve_facts,
)
from shared.events import Envelope, parse_data
from shared.events.identity import PersonResolvedV1
from tests.integration.identity.conftest import ORGANISATION, details_fact, last_resolution, resolve

SHARED_PHONE = Identifier(IdentifierType.PHONE, "+15145550199")
STAFF = "staff:paul"


async def _jean_erased_beside_marie(deps: IdentityDeps) -> tuple[str, str]:
    jean = await resolve(
        deps,
        "e1",
        external_id="C-1",
        email="jean@example.com",
        phone="514 555 0199",
        first_name="Jean",
        last_name="Tremblay",
    )
    marie = await resolve(
        deps,
        "e2",
        external_id="C-2",
        email="marie@example.com",
        phone="514 555 0199",
        first_name="Marie",
        last_name="Tremblay",
    )
    assert jean.person_id != marie.person_id
    await erase_on_request(ORGANISATION, jean.person_id, deps, do_not_readd=True, requested_by=STAFF)
    return jean.person_id, marie.person_id


def _maries_later_fact(event_id: str) -> Envelope:
    return details_fact(
        event_id,
        external_id="C-2",
        email="marie@example.com",
        phone="514 555 0199",
        first_name="Marie",
        last_name="Tremblay",
    )


async def _one_at_a_time(envelopes: Sequence[Envelope], deps: IdentityDeps) -> list[FactOutcome]:
    return [await resolve_fact(envelope, deps) for envelope in envelopes]


async def _as_a_consumer_batch(envelopes: Sequence[Envelope], deps: IdentityDeps) -> list[FactOutcome]:
    outcomes = await resolve_facts(envelopes, [envelope.id for envelope in envelopes], deps)
    return [
        outcome if outcome is not None else await resolve_fact(envelope, deps)
        for envelope, outcome in zip(envelopes, outcomes, strict=True)
    ]


def _resolved_to(outcome: FactOutcome) -> str:
    data = parse_data(last_resolution(outcome.outputs))
    assert isinstance(data, PersonResolvedV1)
    return data.person_id


async def _check_marie_resolved_without_the_shared_phone(deps: IdentityDeps, batch: bool) -> None:
    _jean, marie = await _jean_erased_beside_marie(deps)
    facts = [_maries_later_fact("e3"), details_fact("e4", external_id="C-2", first_name="Marie", last_name="Tremblay")]

    outcomes = await (_as_a_consumer_batch if batch else _one_at_a_time)(facts, deps)

    assert [outcome.filtered for outcome in outcomes] == [None, None]
    assert [_resolved_to(outcome) for outcome in outcomes] == [marie, marie]
    store = deps.store
    assert await store.owner_of(ORGANISATION, SHARED_PHONE) is None
    stored = await store.person(ORGANISATION, marie)
    assert stored is not None
    assert SHARED_PHONE not in stored.identifiers
    # Only the record she gave before the erasure names it: the later facts are kept without it.
    assert [record.phone for record in stored.records] == ["+15145550199", None, None]


async def test_a_household_members_later_fact_naming_the_phone_an_erased_relative_shared_still_resolves_to_them(
    deps: IdentityDeps,
) -> None:
    await _check_marie_resolved_without_the_shared_phone(deps, batch=False)


async def test_a_consumer_batch_resolves_the_household_members_later_fact_as_one_fact_at_a_time_does(
    deps: IdentityDeps,
) -> None:
    await _check_marie_resolved_without_the_shared_phone(deps, batch=True)


async def test_a_fact_that_would_make_a_new_person_with_the_erased_persons_phone_is_still_kept_out(
    deps: IdentityDeps,
) -> None:
    await _jean_erased_beside_marie(deps)
    # Jean again, with his old phone and a new address: no one known, so it would add him again.
    outcome = await resolve_fact(
        details_fact(
            "e3", email="jean.nouveau@example.com", phone="514 555 0199", first_name="Jean", last_name="Tremblay"
        ),
        deps,
    )

    assert (outcome.outputs, outcome.filtered) == ((), "suppressed")
    assert await deps.store.owner_of(ORGANISATION, Identifier(IdentifierType.EMAIL, "jean.nouveau@example.com")) is None
