"""An erasure leaves nothing of the person with anyone else, on both stores: not the hash of an identifier another
person's journal entry claimed while they were merged, not the other side of an undone merge filed under their
blocks, not a reviewer's note about them."""

import hashlib
from typing import Any

from services.identity.domain.merges import ReviewStatus
from services.identity.handlers import IdentityDeps, decide_review, erase_on_request, unmerge
from tests.integration.identity.conftest import ORGANISATION, everything_stored, resolve

ELISE = {"first_name": "Élise", "last_name": "Gagnon"}
REVIEWER, STAFF = "reviewer:marie", "staff:paul"


async def _person(deps: IdentityDeps, event_id: str, **person: Any) -> str:
    return (await resolve(deps, event_id, **person)).person_id


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def test_no_journal_entry_keeps_the_hash_of_an_identifier_claimed_for_the_survivor_while_merged(
    deps: IdentityDeps,
) -> None:
    anne = await _person(deps, "e1", external_id="C-1", email="anne@example.com", **ELISE)
    bea = await _person(deps, "e2", source="shopify-boutique", external_id="S-1", email="bea@example.com", **ELISE)
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    # While Béa is merged into Anne, her shop id with a new email: Anne's entry claims it, the unmerge gives it to Béa.
    await resolve(deps, "e4", source="shopify-boutique", external_id="S-1", email="bea.new@example.com")
    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    await erase_on_request(ORGANISATION, bea, deps, do_not_readd=False, requested_by=STAFF)

    everything = await everything_stored(deps.store)
    for value in ("bea.new@example.com", "bea@example.com"):
        assert [name for name, held in everything.items() if value in held or _sha256(value) in held] == []


async def test_the_other_side_of_an_undone_merge_leaves_the_blocks_of_the_erased_persons_phone_and_mailbox(
    deps: IdentityDeps,
) -> None:
    anne = await _person(deps, "e1", external_id="C-1", email="anne@example.com", **ELISE)
    bea = await _person(
        deps,
        "e2",
        source="shopify-boutique",
        external_id="S-1",
        email="bea@example.com",
        phone="438 555 0142",
        **ELISE,
    )
    await resolve(deps, "e3", source="shopify-boutique", external_id="S-1", email="anne@example.com")
    # While merged: Anne's box-office id with Béa's phone and email, a record Anne keeps when the merge is undone.
    await resolve(deps, "e4", external_id="C-1", email="bea@example.com", phone="438 555 0142")
    await unmerge(ORGANISATION, anne, deps, requested_by=REVIEWER)

    await erase_on_request(ORGANISATION, bea, deps, do_not_readd=False, requested_by=STAFF)

    blocks = await deps.store.block_members(ORGANISATION, ["ph:+14385550142", "el:bea"])
    assert blocks == {"ph:+14385550142": [], "el:bea": []}
    # The blocks her own records file her under keep her.
    assert anne in (await deps.store.block_members(ORGANISATION, ["el:anne"]))["el:anne"]


async def test_a_reviewers_note_on_a_decided_suggestion_naming_the_person_goes_with_the_erasure(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    luc = await _person(
        deps, "e1", email="luc.roy@example.com", first_name="Luc", last_name="Roy", postal_code="H2J 2L1"
    )
    await resolve(deps, "e2", first_name="L", last_name="Roy", postal_code="H2J 2L1")
    [item] = await store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    note = "Pas Luc Roy (514-555-0199) : c'est son fils Léo"
    await decide_review(ORGANISATION, item.review_id, deps, accept=False, reviewer=REVIEWER, note=note)

    await erase_on_request(ORGANISATION, luc, deps, do_not_readd=True, requested_by=STAFF)

    decided = await store.review(ORGANISATION, item.review_id)
    assert decided is not None
    assert (decided.status, decided.decided_by, decided.note) == (ReviewStatus.REJECTED, REVIEWER, None)
    assert [name for name, held in (await everything_stored(store)).items() if "son fils" in held] == []
