"""Persons stored by a release that kept an address with its domain in the DNS's form (`xn--…`) are linked and found
again by the address as written today, once `parterre identity rekey-identifiers` has run."""

from dataclasses import replace
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.mongo import MongoIdentityStore
from services.identity.domain.identifiers import (
    Identifier,
    IdentifierType,
    load_identifier_policy,
)
from services.identity.domain.matching import blocking_keys
from services.identity.domain.merges import ReviewStatus
from services.identity.domain.persons import Person, PersonStatus, review_id_for, suppression_hash
from services.identity.domain.resolution import MergePlan
from services.identity.handlers import (
    IdentityDeps,
    apply_merge,
    decide_review,
    erase_person,
    find_by_identifier,
    resolve_fact,
    unmerge,
)
from services.identity.ports import Decision, IdentityStore, JournalEntry
from services.identity.rekeying import REKEYING, Conflict, rekey_identifiers
from services.identity.settings import BUNDLED_POLICY
from services.identity.upgrades import ADDRESS_FORM, outdated
from shared.events.identity import MatchMethod, MergeDecider
from shared.mongo import Document
from shared.settings import ServiceSettings
from tests.integration.identity.conftest import ORGANISATION, START, details_fact, normalised, resolve
from tests.integration.terminal import run_from_terminal

# As releases before 2026-12 kept `Marie.Tremblay@xn--thtre-4qa2c.qc.ca`, and as they keep it now.
DNS_FORM = "marie.tremblay@xn--thtre-4qa2c.qc.ca"
ACCENTED = "marie.tremblay@théâtre.qc.ca"
AS_STORED = Identifier(IdentifierType.EMAIL, DNS_FORM)
AS_WRITTEN_TODAY = Identifier(IdentifierType.EMAIL, ACCENTED)
MARIE = {"first_name": "Marie", "last_name": "Tremblay", "postal_code": "H2J 2L1"}


async def store_as_before(
    store: IdentityStore,
    person_id: str,
    email: str = DNS_FORM,
    *,
    organisation_id: str = ORGANISATION,
    created_days_later: int = 0,
    **fields: str,
) -> None:
    """A person as a release before 2026-12 stored them: the address claimed and kept with its domain as given."""
    record = replace(normalised(**(fields or MARIE)), email=email)
    identifier = Identifier(IdentifierType.EMAIL, email)
    assert await store.claim(organisation_id, identifier, person_id) == person_id
    await store.insert_person(
        Person(
            person_id=person_id,
            organisation_id=organisation_id,
            created_at=START + timedelta(days=created_days_later),
            created_by_event=f"old-{person_id}",
            identifiers=frozenset({identifier}),
            records=(record,),
        )
    )
    await store.add_to_blocks(organisation_id, blocking_keys(record), person_id)


@pytest.mark.parametrize("rekeyed", [False, True], ids=["as stored", "rekeyed"])
async def test_a_fact_with_the_accented_address_links_the_person_stored_with_its_dns_form_once_rekeyed(
    deps: IdentityDeps, rekeyed: bool
) -> None:
    await store_as_before(deps.store, "per_marie")
    if rekeyed:
        report = await rekey_identifiers(deps, ORGANISATION)
        assert (report.persons, report.rekeyed, report.conflicts) == (1, 1, [])

    by_address = await find_by_identifier(ORGANISATION, AS_WRITTEN_TODAY, deps.store)
    found = await resolve(
        deps, "e-accented", first_name="Marie", last_name="Tremblay", email="Marie.Tremblay@Théâtre.qc.ca"
    )

    if rekeyed:
        assert (found.person_id, found.match.method) == ("per_marie", MatchMethod.EMAIL)
        assert by_address is not None
        assert by_address.person_id == "per_marie"
    else:
        assert (found.person_id, found.match.method) != ("per_marie", MatchMethod.EMAIL)
        assert by_address is None
    marie = await deps.store.person(ORGANISATION, "per_marie")
    assert marie is not None
    assert AS_STORED in marie.identifiers, "the address as stored is kept: records name it"


async def test_rekeying_again_changes_nothing_and_leaves_other_organisations_and_addresses_alone(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    await store_as_before(store, "per_marie")
    await store_as_before(store, "per_plain", "luc.roy@videotron.ca", first_name="Luc", last_name="Roy")
    await store_as_before(store, "per_elsewhere", organisation_id="festival-sud")
    plain_before = await store.person(ORGANISATION, "per_plain")
    seen: list[int] = []

    first = await rekey_identifiers(deps, ORGANISATION, progress=lambda report: seen.append(report.persons))
    after_first = {person_id: await store.person(ORGANISATION, person_id) for person_id in ("per_marie", "per_plain")}
    again = await rekey_identifiers(deps, ORGANISATION)
    elsewhere = await rekey_identifiers(deps, None)
    after_all = {person_id: await store.person(ORGANISATION, person_id) for person_id in ("per_marie", "per_plain")}

    assert (first.persons, first.rekeyed, first.blocked, first.suggested, first.conflicts) == (2, 1, 0, 0, [])
    assert seen == [2]
    assert (again.persons, again.rekeyed, again.suggested, again.conflicts) == (2, 0, 0, [])
    assert (elsewhere.persons, elsewhere.rekeyed) == (3, 1), "festival-sud's waited for a run of every organisation"
    assert after_all == after_first, "no new version of anyone"
    marie = after_first["per_marie"]
    assert marie is not None
    assert marie.identifiers == {AS_STORED, AS_WRITTEN_TODAY}
    assert after_first["per_plain"] == plain_before
    assert await store.owner_of("festival-sud", AS_WRITTEN_TODAY) == "per_elsewhere"
    assert await store.reviews(ORGANISATION, ReviewStatus.PENDING, 10) == []


@pytest.mark.parametrize("verdict", ["accepted", "rejected"])
async def test_an_address_someone_else_holds_as_written_today_merges_no_one_and_is_left_for_review(
    deps: IdentityDeps, verdict: str
) -> None:
    store = deps.store
    # Stored since the release, when the same address came written with its accents.
    await store_as_before(store, "per_marie")
    await store_as_before(store, "per_since", ACCENTED, created_days_later=90, first_name="M", last_name="Tremblay")
    review_id = review_id_for(ORGANISATION, "per_since", "per_marie")
    conflict = Conflict(ORGANISATION, "per_marie", "per_since", review_id)

    first = await rekey_identifiers(deps, None)
    again = await rekey_identifiers(deps, None)

    assert (first.rekeyed, first.suggested, first.conflicts) == (0, 1, [conflict])
    assert (again.rekeyed, again.suggested, again.conflicts) == (0, 0, [conflict])
    assert await store.owner_of(ORGANISATION, AS_WRITTEN_TODAY) == "per_since"
    for person_id, held in (("per_marie", AS_STORED), ("per_since", AS_WRITTEN_TODAY)):
        person = await store.person(ORGANISATION, person_id)
        assert person is not None
        assert (person.status, person.identifiers) == (PersonStatus.ACTIVE, frozenset({held}))
    (suggestion,) = await store.reviews(ORGANISATION, ReviewStatus.PENDING, 10)
    assert (suggestion.person_id, suggestion.candidate_id, suggestion.review_id) == (
        "per_since",
        "per_marie",
        review_id,
    )
    assert (suggestion.probability, dict(suggestion.agreements), suggestion.event_id) == (
        1.0,
        {"email": "exact"},
        REKEYING,
    )
    assert (await resolve(deps, "e-accented", email=ACCENTED)).person_id == "per_since"

    await decide_review(ORGANISATION, review_id, deps, accept=verdict == "accepted", reviewer="reviewer:paul")
    decided = await rekey_identifiers(deps, None)

    if verdict == "accepted":
        # The earliest created survives: the address, either way, finds Marie.
        assert (decided.rekeyed, decided.suggested, decided.conflicts) == (0, 0, [])
        assert (await resolve(deps, "e-accented-again", email=ACCENTED)).person_id == "per_marie"
    else:
        assert (decided.rekeyed, decided.suggested) == (0, 0)
        assert decided.conflicts == [replace(conflict, review_id=None, kept_apart=True)]
        assert (await resolve(deps, "e-accented-again", email=ACCENTED)).person_id == "per_since"


async def test_an_address_of_a_person_merged_into_another_is_claimed_for_the_one_who_claimed_it(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    await store_as_before(store, "per_survivor", "luc.roy@videotron.ca", first_name="Luc", last_name="Roy")
    await store_as_before(store, "per_marie", created_days_later=1)
    survivor, marie = [await store.person(ORGANISATION, person_id) for person_id in ("per_survivor", "per_marie")]
    assert survivor is not None
    assert marie is not None
    await apply_merge(
        store,
        MergePlan(survivor=survivor, merged=(marie,), evidence=()),
        cause="rev_test",
        decided_by=MergeDecider.REVIEWER,
        at=START,
    )

    report = await rekey_identifiers(deps, ORGANISATION)

    assert (report.persons, report.rekeyed, report.conflicts) == (1, 1, [])
    assert await store.owner_of(ORGANISATION, AS_WRITTEN_TODAY) == "per_marie"
    merged = await store.person(ORGANISATION, "per_marie")
    assert merged is not None
    assert AS_WRITTEN_TODAY in merged.identifiers
    assert (await resolve(deps, "e-accented", email=ACCENTED)).person_id == "per_survivor"
    assert (await rekey_identifiers(deps, ORGANISATION)).rekeyed == 0


async def test_an_address_the_policy_blocks_as_written_today_is_not_claimed(deps: IdentityDeps) -> None:
    policy = load_identifier_policy(
        BUNDLED_POLICY.read_text(encoding="utf-8")
        + f"organisations:\n  {ORGANISATION}:\n    emails: ['boutique@théâtre.qc.ca']\n"
    )
    deps = replace(deps, rules=replace(deps.rules, policy=policy))
    await store_as_before(deps.store, "per_shop", "boutique@xn--thtre-4qa2c.qc.ca")

    report = await rekey_identifiers(deps, ORGANISATION)

    assert (report.rekeyed, report.blocked, report.conflicts) == (0, 1, [])
    blocked = Identifier(IdentifierType.EMAIL, "boutique@théâtre.qc.ca")
    assert await deps.store.owner_of(ORGANISATION, blocked) is None


async def _three_persons_for_the_command(
    settings: ServiceSettings, database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> str:
    """Marie, and Luc stored twice under one address written two ways, for the command the environment points at
    this store; returns the id of the review the command leaves for the two Lucs."""
    store = MongoIdentityStore(database)
    await store_as_before(store, "per_marie")
    await store_as_before(store, "per_luc", "luc.roy@xn--thtre-4qa2c.qc.ca", first_name="Luc", last_name="Roy")
    await store_as_before(store, "per_since", "luc.roy@théâtre.qc.ca", created_days_later=90, first_name="L")
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    monkeypatch.delenv("PARTERRE_IDENTITY_POLICY_FILE", raising=False)
    return review_id_for(ORGANISATION, "per_since", "per_luc")


@pytest.mark.mongo
async def test_the_rekey_command_shows_what_it_did_and_each_address_left_for_review(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review_id = await _three_persons_for_the_command(settings, database, monkeypatch)

    first = await run_from_terminal(["identity", "rekey-identifiers", "--organisation", ORGANISATION])
    first_output = capsys.readouterr().out
    again = await run_from_terminal(["identity", "rekey-identifiers"])
    again_output = capsys.readouterr().out
    refused = await run_from_terminal(["identity", "rekey-identifiers", "--organisation", "Not An Org!"])

    assert (first, again, refused) == (0, 0, 2)
    left = f"{ORGANISATION}: per_luc and per_since hold one address written two ways: left for review as {review_id}"
    assert left in first_output
    assert (
        "visited 3 persons; linked 1 address again as written today; 1 held by another person, named above; "
        "1 suggestion filed for review"
    ) in first_output
    assert left in again_output
    assert (
        "visited 3 persons; linked 0 addresses again as written today; 1 held by another person, named above; "
        "0 suggestions filed for review"
    ) in again_output
    assert "--organisation" in capsys.readouterr().err


@pytest.mark.mongo
@pytest.mark.usefixtures("french_locale")
async def test_the_rekey_command_says_in_french_what_it_did_and_each_address_left_for_review(
    settings: ServiceSettings,
    database: AsyncDatabase[Document],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review_id = await _three_persons_for_the_command(settings, database, monkeypatch)

    first = await run_from_terminal(["identity", "rekey-identifiers"])
    said = capsys.readouterr()
    refused = await run_from_terminal(["identity", "rekey-identifiers", "--organisation", "Not An Org!"])

    assert (first, refused) == (0, 2)
    assert said.out.splitlines() == [
        f"{ORGANISATION} : per_luc et per_since détiennent une même adresse écrite de deux façons : laissées à "
        f"vérifier sous {review_id}",
        "3 personnes visitées ; 1 adresse reliée de nouveau telle qu'écrite aujourd'hui ; 1 détenue par une autre "
        "personne, nommée plus haut ; 1 suggestion à vérifier",
    ]
    assert "3 personnes" in said.err
    assert capsys.readouterr().err == (
        "erreur : --organisation : l'identifiant d'organisation « Not An Org! » doit compter de 2 à 63 lettres "
        "minuscules, chiffres ou tirets\n"
    )


async def test_an_address_someone_erased_not_to_be_added_again_gave_as_written_today_is_not_claimed(
    deps: IdentityDeps,
) -> None:
    # A release before 2026-12 erased Marie, who gave the accented form, and hashed it so; someone else's record
    # kept the DNS form, which that release did not check.
    store = deps.store
    await store.suppress(ORGANISATION, [suppression_hash(ORGANISATION, deps.rules.suppression_salt, AS_WRITTEN_TODAY)])
    await store_as_before(store, "per_other")

    report = await rekey_identifiers(deps, ORGANISATION)
    refused = await resolve_fact(details_fact("e-accented", email="Marie.Tremblay@Théâtre.qc.ca"), deps)

    assert (report.rekeyed, report.suppressed) == (0, 1)
    assert await store.owner_of(ORGANISATION, AS_WRITTEN_TODAY) is None
    assert refused.outcome == "suppressed"


async def test_an_unmerge_gives_back_an_address_in_both_its_forms_and_erasing_its_owner_then_refuses_it(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    anne = (await resolve(deps, "e1", external_id="C-1", email="anne@example.com", first_name="Anne")).person_id
    bea = (await resolve(deps, "e2", source="shopify-boutique", external_id="207", email="bea@example.com")).person_id
    await resolve(deps, "e3", source="shopify-boutique", external_id="207", email="anne@example.com")
    # While Béa was merged into Anne, a release before 2026-12 resolved a fact naming Béa's shop id and a new address
    # written in its DNS form: Anne claimed it so, and the journal keeps that claim.
    survivor = await store.person(ORGANISATION, anne)
    assert survivor is not None
    shop_record = next(record for record in survivor.records if record.external_id == "207")
    decision = Decision(
        person_id=anne,
        created=False,
        method=MatchMethod.EXTERNAL_ID,
        confidence=1.0,
        matched=("external_id",),
        claim_digests=(AS_STORED.digest.key,),
        merge=None,
        household_with=None,
        review=None,
        erasure=None,
    )
    await store.write_journal(JournalEntry(ORGANISATION, "e4", decision, START + timedelta(hours=1)))
    assert await store.claim(ORGANISATION, AS_STORED, anne) == anne
    await store.add_to_person(
        ORGANISATION, anne, identifiers=[AS_STORED], records=[replace(shop_record, email=DNS_FORM)]
    )
    await store.mark_applied(ORGANISATION, "e4")
    await rekey_identifiers(deps, ORGANISATION)

    await unmerge(ORGANISATION, anne, deps, requested_by="reviewer:marie")
    owners = [await store.owner_of(ORGANISATION, form) for form in (AS_STORED, AS_WRITTEN_TODAY)]
    await erase_person(ORGANISATION, bea, deps, do_not_readd=True)
    later = await resolve_fact(details_fact("e5", email="Marie.Tremblay@Théâtre.qc.ca"), deps)

    assert owners == [bea, bea], "both forms go back to Béa"
    kept = await store.person(ORGANISATION, anne)
    assert kept is not None
    assert not {AS_STORED, AS_WRITTEN_TODAY} & kept.identifiers
    assert later.outcome == "suppressed"


async def test_a_rekeying_leaving_an_address_to_a_person_not_stored_yet_is_not_recorded_as_done(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    await store_as_before(store, "per_marie")
    # A fact naming the address accented is being resolved: its new person claimed it, and is not stored yet.
    assert await store.claim(ORGANISATION, AS_WRITTEN_TODAY, "per_being_created") == "per_being_created"

    report = await rekey_identifiers(deps, None)

    assert report.conflicts == [Conflict(ORGANISATION, "per_marie", "per_being_created", None)]
    # The command says to run it again; until a run settles it, the store still says so too.
    assert await outdated(store, ADDRESS_FORM)


async def test_an_address_claimed_for_someone_as_they_were_erased_is_freed_and_claimed_for_its_owner(
    deps: IdentityDeps,
) -> None:
    store = deps.store
    await store_as_before(store, "per_marie")
    await store_as_before(store, "per_gone", "gone@example.com", first_name="Paul", last_name="Roy")
    await erase_person(ORGANISATION, "per_gone", deps, do_not_readd=False)
    # A fact decided while the erasure released Paul's identifiers claimed the address for him again: nobody frees
    # such a claim but a fact naming the address, or this command.
    assert await store.claim(ORGANISATION, AS_WRITTEN_TODAY, "per_gone") == "per_gone"

    report = await rekey_identifiers(deps, None)

    assert (report.rekeyed, report.conflicts) == (1, [])
    assert await store.owner_of(ORGANISATION, AS_WRITTEN_TODAY) == "per_marie"
    assert not await outdated(store, ADDRESS_FORM)
