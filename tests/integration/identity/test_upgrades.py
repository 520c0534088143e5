"""A store says whether its persons may be written in an older form than this release's (blocking keys, addresses),
until the command bringing them up to date has run over every organisation."""

from collections.abc import Awaitable, Callable

import pytest

from services.identity.handlers import IdentityDeps
from services.identity.ports import IdentityStore
from services.identity.refiling import refile_blocks
from services.identity.rekeying import rekey_identifiers
from services.identity.upgrades import ADDRESS_FORM, BLOCK_FILING, StoredForm, outdated
from tests.integration.identity import test_refiling, test_rekeying
from tests.integration.identity.conftest import ORGANISATION, normalised


async def _frederic_filed_under_older_keys(store: IdentityStore) -> None:
    await test_refiling.store_as_before(store, "per_frederic", normalised(**test_refiling.FREDERIC))


async def _marie_with_an_address_in_its_dns_form(store: IdentityStore) -> None:
    await test_rekeying.store_as_before(store, "per_marie")


async def _refile(deps: IdentityDeps, organisation_id: str | None) -> None:
    await refile_blocks(deps.store, organisation_id)


async def _rekey(deps: IdentityDeps, organisation_id: str | None) -> None:
    await rekey_identifiers(deps, organisation_id)


@pytest.mark.parametrize(
    ("form", "other", "stored_before", "bring_up_to_date"),
    [
        (BLOCK_FILING, ADDRESS_FORM, _frederic_filed_under_older_keys, _refile),
        (ADDRESS_FORM, BLOCK_FILING, _marie_with_an_address_in_its_dns_form, _rekey),
    ],
    ids=["blocking keys", "addresses' written form"],
)
async def test_a_store_is_outdated_while_it_holds_persons_and_no_run_over_every_organisation_since_the_form_changed(
    deps: IdentityDeps,
    form: StoredForm,
    other: StoredForm,
    stored_before: Callable[[IdentityStore], Awaitable[None]],
    bring_up_to_date: Callable[[IdentityDeps, str | None], Awaitable[None]],
) -> None:
    store = deps.store
    # Empty: every person it will hold is written in the current form.
    assert not await outdated(store, form)
    assert await form.recorded(store) == form.current
    # A store an older release filled: persons, and an older form recorded.
    await form.record(store, form.current - 1)
    await stored_before(store)
    assert await outdated(store, form)

    await bring_up_to_date(deps, ORGANISATION)
    # One organisation brought up to date: others may still hold persons stored so.
    assert await outdated(store, form)
    await bring_up_to_date(deps, None)
    assert not await outdated(store, form)
    assert await form.recorded(store) == form.current
    # Each form is recorded apart: bringing one up to date says nothing of the other.
    assert await other.recorded(store) is None
